"""The review loop against a real Label Studio server (its own venv, a temp data folder, a free port).

Proposals come from a scripted client (its replies are fixed, so the proposed joints are known); the reviewers
annotate through Label Studio's REST API as the UI would save them: reviewer A accepts one segment, corrects one
and rejects one; reviewer B labels the first two segments too (for Cohen's kappa); A corrects the exercise's
static/dynamic table. Then: labels, versions, agreement, idempotence, an interrupted pull, and the analysis
using the accepted joints.

Hand-computed agreement. Proposed salient set P = the model's {hips, knees, thorax} ∪ the catalogue's squat
salient joints {pelvis, ankles, lumbar} = 9 joints of 24.
  segment 1: A = P, B = P − {thorax, talus_r, talus_l}     → 21 of 24 decisions agree; A yes 9, B yes 6
  segment 2: A = P − {thorax} + {head}, B = P               → 22 agree; A yes 9, B yes 9
  pooled: n = 48, p_o = 43/48, p_A = 18/48, p_B = 15/48, p_e = (18·15 + 30·33)/48² = 1260/2304
  kappa = (2064 − 1260) / (2304 − 1260) = 804/1044 = 0.7701
Proposal vs expert (A1, A2, B1, B2; A3 is rejected), on the model's own joints M = {hips, knees, thorax} (5; the
catalogue's 4 fill-ins are counted apart): tp 5+4+4+5 = 18, fp 0+1+1+0 = 2, fn 4+5+2+4 = 15.
"""

from __future__ import annotations

import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from workbench.llm.client import Completion
from workbench.review.agreement import agreement
from workbench.review.client import LabelStudioClient, LabelStudioUnavailable
from workbench.review.proposals import propose_roles, propose_salient
from workbench.review.server import LABEL_STUDIO_BIN, LabelStudioServer, free_port, start_server
from workbench.review.sync import PROJECTS, project_spec, pull, push, roles_result, salient_result
from workbench.skeleton import JOINT_NAMES
from workbench.store.database import Database
from workbench.store.review_labels import accepted_joint_roles, accepted_salient_labels
from workbench.store.reviews import ReviewRepository
from workbench.store.seed import init_from_references

pytestmark = [pytest.mark.server, pytest.mark.slow]
REPO = Path(__file__).resolve().parents[2]

P = ("pelvis", "femur_r", "tibia_r", "talus_r", "femur_l", "tibia_l", "talus_l", "lumbar_body", "thorax")
A2 = (*(j for j in P if j != "thorax"), "head")
B1 = tuple(j for j in P if j not in ("thorax", "talus_r", "talus_l"))
SALIENT = project_spec("salient", "squat").title  # a synthetic squat observes every channel
ROLES = PROJECTS["roles"][0]


class ScriptedLLM:
    """A chat client with fixed replies: the proposals are known exactly."""

    model_name = "scripted-test-model"

    def complete(self, messages: list[Any], *, max_new_tokens: int = 64, **_: Any) -> Completion:
        asks_roles = "dynamic" in str(messages[-1]["content"])
        text = "Dynamic: hips, knees, ankles\nStatic: pelvis, lumbar spine" if asks_roles else "Knees, hips and thorax."
        return Completion(text=text, model=self.model_name, prompt=list(messages))


def _write_video(path: Path, seconds: float = 2.0) -> Path:
    import av

    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=30)
        stream.width, stream.height, stream.pix_fmt = 64, 48, "yuv420p"
        for i in range(int(seconds * 30)):
            img = np.zeros((48, 64, 3), np.uint8)
            img[:, i % 64] = 255
            for packet in stream.encode(av.VideoFrame.from_ndarray(img, format="rgb24")):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return path


@pytest.fixture(scope="module")
def ls(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LabelStudioServer]:
    if not LABEL_STUDIO_BIN.is_file():
        pytest.skip(f"{LABEL_STUDIO_BIN} is missing (`make setup` makes .venv-labelstudio)")
    data = tmp_path_factory.mktemp("labelstudio")
    server = start_server(data, port=free_port(), timeout_s=240.0)
    try:
        yield server
    finally:
        server.stop()  # the test may have restarted it: process is then the new one


def _client(server: LabelStudioServer, **kw: Any) -> LabelStudioClient:
    return LabelStudioClient(server.url, server.credentials.token, **kw)


def _tasks(client: LabelStudioClient, kind: str) -> list[dict[str, Any]]:
    project = client.find_project(SALIENT if kind == "salient" else ROLES)
    assert project is not None
    return sorted(client.tasks(int(project["id"])), key=lambda t: float(t["data"].get("start_s") or 0))


def _served(server: LabelStudioServer, url: str) -> bytes:
    """What Label Studio's local-files storage serves for a task's media URL (its #t= fragment stays in the
    browser); a plain GET with the token, as the labeling page's own requests are (no SDK call serves media)."""
    import httpx

    assert url.startswith("/data/local-files/?d=")
    reply = httpx.get(server.url + url.split("#", 1)[0], headers={"Authorization": f"Token {server.credentials.token}"})
    assert reply.status_code == 200
    return reply.content


def _label_rows(db: Database) -> list[tuple[Any, ...]]:
    with db.session() as s:
        return s.all(
            "SELECT proposal_id, reviewer, version, status, content_json, parent_version FROM review_labels "
            "ORDER BY ALL"
        )


def test_review_loop(ls: LabelStudioServer, tmp_path: Path) -> None:
    from workbench.exercises import load_catalogue
    from workbench.pose.posefile import save_npz
    from workbench.pose.synthetic import synthesize

    db = Database(tmp_path / "review.duckdb")
    init_from_references(db)
    track, truth = synthesize(load_catalogue().get("squat"), 3, fps=30.0, seed=1)
    clip = save_npz(track, tmp_path / "squat.npz")
    video = _write_video(tmp_path / "squat.mp4")
    export = tmp_path / "proposals"
    llm = ScriptedLLM()

    # --- proposals
    report = propose_salient(db, clip, "squat", llm, video=video, export_dir=export)
    roles = propose_roles(db, "squat", llm, export_dir=export)
    assert len(report.created) == truth.n_reps == 3
    assert all(p.joints == P and p.parse_status == "parsed" for p in report.created)
    assert {c["joint"]: c["source"] for c in report.created[0].content}["thorax"] == "llm"
    assert {c["joint"]: c["source"] for c in report.created[0].content}["pelvis"] == "catalogue"
    assert roles.created[0].parse_status == "partial"  # 10 of 24 joints named; the rest from the catalogue
    assert sorted(f.name for f in export.iterdir()) == sorted(f"{p.id}.json" for p in report.created + roles.created)

    # --- push, twice: no duplicates
    client = _client(ls)
    first = push(db, client, ls.data_dir)
    second = push(db, client, ls.data_dir)
    assert first.created == {SALIENT: 3, ROLES: 1}
    assert second.created == {SALIENT: 0, ROLES: 0}
    assert second.existing == {SALIENT: 3, ROLES: 1}
    with db.session() as s:
        assert s.all("SELECT count(*), count(DISTINCT task_id) FROM review_tasks") == [(4, 4)]
    tasks, role_tasks = _tasks(client, "salient"), _tasks(client, "roles")
    assert len(tasks) == 3 and len(role_tasks) == 1
    assert [t["data"]["proposal_id"] for t in tasks] == [p.id for p in report.created]
    assert tasks[0]["predictions"][0]["result"] == salient_result(P)
    first = tasks[0]["data"]
    assert first["fps"] == 30.0 and first["video"].endswith(f"#t={first['start_s']:.3f}")  # its rate, its segment
    # media the server itself serves: the video bytes and the angle CSV (time + the 24 joints)
    assert _served(ls, tasks[0]["data"]["video"]) == video.read_bytes()
    csv_lines = _served(ls, tasks[0]["data"]["angles"]).decode().splitlines()
    assert csv_lines[0].split(",") == ["time_s", *JOINT_NAMES]
    assert len(csv_lines) == track.q.shape[0] + 1

    # --- reviewers annotate through the API
    a_id = int(client.whoami()["id"])
    a_email = str(client.whoami()["email"])
    b = client.create_user("expert.b@example.com", "expert_b")
    b_id = int(b["id"])
    t1, t2, t3 = (int(t["id"]) for t in tasks)
    ann_a1 = client.create_annotation(t1, salient_result(P), completed_by=a_id)
    comment = {
        "from_name": "comment",
        "to_name": "video",
        "type": "textarea",
        "value": {"text": ["no trunk lean; head drops"]},
    }
    reject = {"from_name": "verdict", "to_name": "video", "type": "choices", "value": {"choices": ["reject"]}}
    ann_a2 = client.create_annotation(t2, [*salient_result(A2), comment], completed_by=a_id)
    client.create_annotation(t3, [*salient_result(P), reject], completed_by=a_id)
    client.create_annotation(t1, salient_result(B1), completed_by=b_id)
    ann_b2 = client.create_annotation(t2, salient_result(P), completed_by=b_id)
    proposed_roles = roles.created[0].roles
    corrected_roles = dict(proposed_roles, humerus_r="dynamic", humerus_l="dynamic")
    client.create_annotation(int(role_tasks[0]["id"]), roles_result(corrected_roles), completed_by=a_id)

    # --- pull, twice
    pulled = pull(db, client)
    assert (pulled.tasks, pulled.annotations, pulled.new_versions) == (4, 6, 6)
    again = pull(db, client)
    assert (again.new_versions, again.unchanged) == (0, 6)
    rows = _label_rows(db)
    assert len(rows) == 6 and all(r[2] == 1 and r[5] is None for r in rows)
    by = {(r[0], r[1]): r[3] for r in rows}
    ids = [p.id for p in report.created]
    assert by[(ids[0], a_email)] == "accepted" and by[(ids[1], a_email)] == "corrected"
    assert by[(ids[2], a_email)] == "rejected" and by[(ids[0], "expert.b@example.com")] == "corrected"
    assert by[(ids[1], "expert.b@example.com")] == "accepted"
    assert by[(roles.created[0].id, a_email)] == "corrected"
    with db.session() as s:
        a2 = ReviewRepository(s).current_label(ids[1], a_email)
        statuses = {p.id: p.status for p in ReviewRepository(s).proposals()}
    assert a2 is not None and a2.comment == "no trunk lean; head drops" and tuple(a2.content) == _ordered(A2)
    assert statuses == {**{i: "reviewed" for i in ids}, roles.created[0].id: "reviewed"}

    labels = accepted_salient_labels(db, "squat")
    b_email = "expert.b@example.com"
    assert sorted((lab.reviewer, lab.joints, lab.status) for lab in labels) == sorted(
        [
            (a_email, _ordered(P), "accepted"),
            (a_email, _ordered(A2), "corrected"),
            (b_email, _ordered(B1), "corrected"),
            (b_email, _ordered(P), "accepted"),
        ]
    )
    assert accepted_joint_roles(db, "squat") == corrected_roles
    with db.store() as store:  # the expert's classes are now the exercise's joint classes, authored by them
        dynamic, static = store.joint_classes.current("squat")
        latest = store.joint_classes.history("squat")[-1]
    assert set(dynamic) == {j for j, r in corrected_roles.items() if r == "dynamic"} >= {"humerus_r", "humerus_l"}
    assert set(static) == {j for j, r in corrected_roles.items() if r == "static"}
    assert latest.source == "expert" and latest.who == a_email

    # --- agreement
    figures = agreement(db)
    assert figures.kappa_salient.n_tasks == 2 and figures.kappa_salient.n_decisions == 48
    assert figures.kappa_salient.value == pytest.approx(804 / 1044)
    assert (figures.overall.tp, figures.overall.fp, figures.overall.fn) == (18, 2, 15)
    assert figures.per_exercise["squat"].precision == pytest.approx(18 / 20)
    assert figures.per_joint["thorax"].precision == pytest.approx(2 / 4)  # A1, B2 kept it; A2, B1 dropped it
    assert figures.per_joint["talus_r"].precision is None  # a catalogue fill-in: not the model's proposal
    assert (figures.catalogue_filled, figures.catalogue_kept) == (16, 14)  # B1 dropped both ankles
    assert figures.per_joint["head"].recall == 0.0
    assert figures.roles_kept["squat"] == pytest.approx(8 / 8)  # the model's 8 roles; A changed 2 catalogue ones
    assert figures.roles_catalogue_kept["squat"] == pytest.approx(14 / 16)
    assert figures.status_counts == {"accepted": 2, "corrected": 3, "rejected": 1}

    # --- a reviewer changes their mind: a new version, history kept
    client.update_annotation(int(ann_a2["id"]), salient_result(tuple(j for j in P if j != "thorax")))
    changed = pull(db, client)
    assert changed.new_versions == 1
    with db.session() as s:
        history = [h for h in ReviewRepository(s).history(ids[1]) if h.reviewer == a_email]
    assert [(h.version, h.parent_version, tuple(h.content)) for h in history] == [
        (1, None, _ordered(A2)),
        (2, 1, _ordered(tuple(j for j in P if j != "thorax"))),
    ]

    # --- the server goes away in the middle of a pull: whole tasks or nothing, then the next pull completes
    client.update_annotation(int(ann_a1["id"]), salient_result((*P, "head")))
    client.update_annotation(int(ann_b2["id"]), salient_result(tuple(j for j in P if j != "lumbar_body")))
    before = _label_rows(db)
    flaky = _client(ls, retries=2, backoff_s=0.1)
    seen: list[int] = []

    def stop_after_first(task: dict[str, Any]) -> None:
        seen.append(int(task["id"]))
        if len(seen) == 1:
            ls.stop()

    with pytest.raises(LabelStudioUnavailable, match=r"no answer after 3 attempts.*biocoach review serve"):
        pull(db, flaky, page_size=1, on_task=stop_after_first)
    assert seen == [t1]
    middle = _label_rows(db)
    new_rows = [r for r in middle if r not in before]
    assert [(r[0], r[1], r[2]) for r in new_rows] == [(ids[0], a_email, 2)]  # task 1 whole, task 2 not started
    with db.session() as s:  # every cursor points at a label version that exists
        dangling = s.scalar(
            "SELECT count(*) FROM review_sync c WHERE NOT EXISTS (SELECT 1 FROM review_labels l "
            "WHERE l.proposal_id = c.proposal_id AND l.reviewer = c.reviewer "
            "AND l.version = c.label_version)"
        )
    assert dangling == 0
    # restarted the way a user does it: `biocoach review serve` on the same data folder (Ctrl-C stops it)
    command = [
        sys.executable,
        "-m",
        "workbench.cli",
        "review",
        "serve",
        "--port",
        ls.url.rsplit(":")[-1],
        "--data-dir",
        str(ls.data_dir),
        "--timeout",
        "240",
    ]
    # started with SIGINT ignored, as a background job of a non-interactive shell is (CI): the command must still
    # stop on it
    serve = subprocess.Popen(
        command,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        cwd=REPO,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_IGN),
    )
    try:
        LabelStudioServer(ls.url, ls.data_dir, ls.credentials).wait_healthy(240.0)
        resumed = pull(db, _client(ls))
        assert resumed.new_versions == 1  # B's change on task 2; task 1 was already in
        assert len(_label_rows(db)) == len(before) + 2
        assert pull(db, _client(ls)).new_versions == 0
    finally:
        serve.send_signal(signal.SIGINT)
        printed = serve.communicate(timeout=60)[0]
    assert serve.returncode == 0 and "Label Studio is up at" in printed, printed
    assert not ls.healthy()  # Ctrl-C on the command stopped the server too
    # the token and password are never printed, nor in the server's log
    log = (ls.data_dir / "server.log").read_text(errors="replace")
    for secret in (ls.credentials.token, ls.credentials.password):
        assert secret not in printed and secret not in log

    # --- the analysis uses the accepted labels of this clip
    from workbench.pipeline import analyze_clip

    result = analyze_clip(clip, "squat", db=db)
    assert result.analysis.provenance["salient_joints_from"].startswith("expert review (4 label(s)")
    assert set(result.analysis.salient_joints) == set(P) | {"head"}


def _ordered(joints: tuple[str, ...]) -> tuple[str, ...]:
    return tuple(j for j in JOINT_NAMES if j in set(joints))
