"""The review tables, agreement figures, proposals with a scripted model and with a served vision model, the
analysis using accepted labels, and the client's behaviour when Label Studio is down."""

from __future__ import annotations

import base64
import http.server
import json
import shutil
import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import pytest

from tests.review_support import A2, B1, CLIP, KAPPA, A, B, P, seed_reviews
from workbench.llm.client import Completion, OpenAICompatibleClient
from workbench.review.agreement import agreement, cohen_kappa
from workbench.review.client import LabelStudioClient, LabelStudioUnavailable
from workbench.review.proposals import propose_roles, propose_salient
from workbench.review.server import credentials, free_port
from workbench.review.sync import pull
from workbench.store.database import Database
from workbench.store.review_labels import accepted_joint_roles, accepted_salient_labels, salient_joints_for_clip
from workbench.store.reviews import ProposalRow, PulledLabel, ReviewRepository
from workbench.store.seed import init_from_references


@pytest.fixture(scope="module")
def seeded_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A store seeded from references/ once per module (seeding takes seconds); each test gets a copy."""
    path = tmp_path_factory.mktemp("review-template") / "review.duckdb"
    init_from_references(Database(path))
    return path


@pytest.fixture
def db(seeded_file: Path, tmp_path: Path) -> Database:
    shutil.copyfile(seeded_file, tmp_path / "review.duckdb")
    return Database(tmp_path / "review.duckdb")


def test_cohen_kappa_hand_computed() -> None:
    # 10 decisions: both yes 3, both no 4, A only 2, B only 1 → p_o = 0.7; p_A = 0.5, p_B = 0.4
    # p_e = 0.5·0.4 + 0.5·0.6 = 0.5 → kappa = (0.7 − 0.5) / 0.5 = 0.4
    a = [True] * 3 + [False] * 4 + [True] * 2 + [False]
    b = [True] * 3 + [False] * 4 + [False] * 2 + [True]
    k = cohen_kappa(a, b, n_tasks=1)
    assert (k.observed, k.expected, k.n_decisions) == (pytest.approx(0.7), pytest.approx(0.5), 10)
    assert k.value == pytest.approx(0.4)
    assert cohen_kappa([True, False], [True, False]).value == pytest.approx(1.0)
    assert cohen_kappa([True, True], [True, True]).value is None  # no variation: undefined, not 1
    assert cohen_kappa([], []).value is None


def test_agreement_figures_from_the_store(db: Database) -> None:
    seed_reviews(db)
    report = agreement(db)
    assert report.kappa_salient.value == pytest.approx(KAPPA)
    assert (report.kappa_salient.n_tasks, report.kappa_salient.n_decisions) == (2, 48)
    # measured on the model's own joints (femur_r, thorax), not the 7 the catalogue filled in (review_support)
    assert (report.overall.tp, report.overall.fp, report.overall.fn) == (6, 2, 27)
    assert report.overall.precision == pytest.approx(6 / 8) and report.overall.recall == pytest.approx(6 / 33)
    assert (report.catalogue_filled, report.catalogue_kept) == (28, 26)
    assert report.per_joint["head"].precision is None and report.per_joint["head"].recall == 0.0
    assert report.per_joint["thorax"].precision == pytest.approx(0.5)
    assert report.per_joint["pelvis"].precision is None  # a catalogue fill-in
    assert "ulna_r" not in report.per_joint  # never proposed nor chosen
    assert report.status_counts == {"accepted": 2, "corrected": 2, "rejected": 1}
    text = "\n".join(report.lines())
    assert "Cohen's kappa, salient joints: 0.770 (2 task(s)" in text and "precision 0.750, recall 0.182" in text


def test_labels_versions_and_accepted(db: Database) -> None:
    ids = seed_reviews(db)
    labels = accepted_salient_labels(db, "squat")
    assert sorted((lab.reviewer, lab.joints) for lab in labels) == sorted(
        [(A, _ordered(P)), (A, _ordered(A2)), (B, _ordered(B1)), (B, _ordered(P))]
    )
    assert all(lab.version == 1 and lab.clip_hash == CLIP for lab in labels)
    assert accepted_salient_labels(db, "lunge") == []
    joints, used = salient_joints_for_clip(db, CLIP, "squat")
    assert set(joints) == set(P) | {"head"} and len(used) == 4
    # the same annotation pulled again changes nothing; a changed one is version 2 with its parent
    with db.session() as s:
        repo = ReviewRepository(s)
        same = PulledLabel(ids[0], A, "accepted", list(P), "", datetime(2026, 1, 6, tzinfo=UTC), 0, 1, "later")
        assert repo.record_pulled("http://ls.test", [same]) == 0
        changed = PulledLabel(
            ids[0], A, "corrected", ["pelvis"], "only the pelvis", datetime(2026, 1, 7, tzinfo=UTC), 0, 1, "even later"
        )
        assert repo.record_pulled("http://ls.test", [changed]) == 1
        history = [h for h in repo.history(ids[0]) if h.reviewer == A]
        assert [(h.version, h.parent_version, h.status) for h in history] == [
            (1, None, "accepted"),
            (2, 1, "corrected"),
        ]
        assert repo.cursor("http://ls.test", 1) == "even later"
    now = {lab.proposal_id: lab for lab in accepted_salient_labels(db) if lab.reviewer == A}
    assert now[ids[0]].joints == ("pelvis",) and now[ids[0]].version == 2


def test_a_failing_write_leaves_nothing(db: Database) -> None:
    ids = seed_reviews(db)
    with db.session() as s:
        before = s.scalar("SELECT count(*) FROM review_labels"), s.scalar("SELECT count(*) FROM review_sync")
        good = PulledLabel(ids[2], B, "accepted", list(P), "", datetime(2026, 1, 8, tzinfo=UTC), 2, 10, "x")
        bad = PulledLabel(ids[2], B, "maybe", list(P), "", datetime(2026, 1, 8, tzinfo=UTC), 2, 11, "y")  # type: ignore[arg-type]
        with pytest.raises(Exception, match=r"(?i)constraint"):
            ReviewRepository(s).record_pulled("http://ls.test", [good, bad])
        after = s.scalar("SELECT count(*) FROM review_labels"), s.scalar("SELECT count(*) FROM review_sync")
    assert after == before


def test_joint_roles_latest_accepted(db: Database) -> None:
    with db.session() as s:
        repo = ReviewRepository(s)
        repo.add_proposal(
            ProposalRow(
                id="roles-x",
                kind="roles",
                exercise="squat",
                model="m",
                prompt=[],
                reply="",
                parse_status="unparsable",
                content={"tibia_r": {"role": "dynamic", "source": "catalogue"}},
            )
        )
        t = datetime(2026, 1, 5, tzinfo=UTC)
        repo.record_pulled("s", [PulledLabel("roles-x", A, "corrected", {"tibia_r": "static"}, "", t, 1, 1, "1")])
        repo.record_pulled(
            "s", [PulledLabel("roles-x", B, "rejected", {"tibia_r": "dynamic"}, "", t.replace(day=6), 1, 2, "2")]
        )
    assert accepted_joint_roles(db, "squat") == {"tibia_r": "static"}  # B's later decision is a rejection
    assert accepted_joint_roles(db, "plank") == {}


class Scripted:
    model_name = "scripted"

    def __init__(self, reply: str):
        self.reply, self.calls = reply, 0

    def complete(self, messages: list[Any], **_: Any) -> Completion:
        self.calls += 1
        return Completion(text=self.reply, model="scripted", prompt=list(messages))


def _squat_clip(tmp_path: Path, reps: int = 2) -> tuple[Path, Any]:
    from workbench.exercises import load_catalogue
    from workbench.pose.posefile import save_npz
    from workbench.pose.synthetic import synthesize

    track, truth = synthesize(load_catalogue().get("squat"), reps, fps=30.0, seed=3)
    return save_npz(track, tmp_path / "squat.npz"), truth


def test_propose_stores_exports_and_is_idempotent(db: Database, tmp_path: Path) -> None:
    clip, truth = _squat_clip(tmp_path)
    export = tmp_path / "proposals"
    llm = Scripted("The model says: nothing useful here.")
    report = propose_salient(db, clip, "squat", llm, export_dir=export)
    assert len(report.created) == truth.n_reps == 2 and llm.calls == 2
    row = report.created[0]
    assert row.parse_status == "unparsable" and {c["source"] for c in row.content} == {"catalogue"}
    assert (row.start_s, row.end_s) == pytest.approx(truth.rep_bounds_s[0], abs=0.5)
    saved = json.loads((export / f"{row.id}.json").read_text())
    assert saved["reply"] == "The model says: nothing useful here." and saved["status"] == "proposed"
    asked = saved["prompt"][1]["content"]
    assert "Exercise: Bodyweight squat" in asked and "Motion analysis:\nCurrent pose:" in asked
    again = propose_salient(db, clip, "squat", llm, export_dir=export)
    assert again.created == [] and len(again.existing) == 2 and llm.calls == 2
    with db.session() as s:
        stored = ReviewRepository(s).proposals("salient")
    assert [p.id for p in stored] == [p.id for p in report.created] and stored[0].status == "proposed"
    roles = propose_roles(db, "squat", Scripted("Dynamic: knees\nStatic: head"), export_dir=None).created[0]
    assert roles.parse_status == "partial" and roles.content["head"] == {"role": "static", "source": "llm"}


def test_analysis_uses_accepted_labels_of_the_clip(db: Database, tmp_path: Path) -> None:
    from workbench.pipeline import analyze_clip

    clip, _ = _squat_clip(tmp_path)
    before = analyze_clip(clip, "squat", db=db).analysis
    assert before.provenance["salient_joints_from"] == "catalogue default"
    report = propose_salient(db, clip, "squat", Scripted("knees"), export_dir=None)
    with db.session() as s:
        ReviewRepository(s).record_pulled(
            "s",
            [
                PulledLabel(
                    report.created[0].id,
                    A,
                    "corrected",
                    ["tibia_r", "tibia_l", "thorax"],
                    "",
                    datetime(2026, 1, 5, tzinfo=UTC),
                    1,
                    1,
                    "1",
                )
            ],
        )
    after = analyze_clip(clip, "squat", db=db).analysis
    assert set(after.salient_joints) == {"tibia_r", "tibia_l", "thorax"}
    assert after.provenance["salient_joints_from"] == (
        f"expert review (1 label(s): {report.created[0].id} v1 by {A}; per segment: rep 1: tibia_r, tibia_l, thorax)"
    )
    explicit = analyze_clip(clip, "squat", db=db, salient=["pelvis"]).analysis
    assert explicit.salient_joints == ["pelvis"] and explicit.provenance["salient_joints_from"] == "caller"


# ------------------------------------------------------------------------------------ a served vision model


class _ChatHandler(http.server.BaseHTTPRequestHandler):
    bodies: ClassVar[list[dict[str, Any]]] = []

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        type(self).bodies.append(body)
        reply = json.dumps({"model": "vlm-test", "choices": [{"message": {"content": "right knee, thorax"}}]})
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(reply.encode())

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def vlm() -> Iterator[str]:
    _ChatHandler.bodies = []
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _ChatHandler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}/v1"
    httpd.shutdown()
    httpd.server_close()


def _video(path: Path, seconds: float) -> Path:
    import av

    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=30)
        stream.width, stream.height, stream.pix_fmt = 64, 48, "yuv420p"
        for i in range(int(seconds * 30)):
            img = np.full((48, 64, 3), i % 255, np.uint8)
            for packet in stream.encode(av.VideoFrame.from_ndarray(img, format="rgb24")):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return path


def test_frames_go_to_a_vision_endpoint_as_image_parts(db: Database, tmp_path: Path, vlm: str) -> None:
    clip, truth = _squat_clip(tmp_path, reps=1)
    video = _video(tmp_path / "squat.mp4", seconds=truth.rep_bounds_s[-1][1] + 0.5)
    client = OpenAICompatibleClient(vlm, "vlm-test", retries=0)
    report = propose_salient(db, clip, "squat", client, video=video, n_frames=2, export_dir=None)
    assert len(_ChatHandler.bodies) == 1
    parts = _ChatHandler.bodies[0]["messages"][1]["content"]
    images = [p for p in parts if p["type"] == "image_url"]
    assert len(images) == 2
    for image in images:
        header, payload = image["image_url"]["url"].split(",", 1)
        assert header == "data:image/jpeg;base64" and base64.b64decode(payload)[:2] == b"\xff\xd8"  # a JPEG
    row = report.created[0]
    assert {c["joint"]: c["source"] for c in row.content}["thorax"] == "llm"
    assert row.model == f"vlm-test @ {vlm}" and row.video_path == str(video.resolve())
    stored_images = [p for p in row.prompt[1]["content"] if p["type"] == "image_url"]
    assert all(p["image_url"]["url"].startswith("<jpeg ") for p in stored_images)  # no base64 in the store


# ------------------------------------------------------------------------------------ server down


def test_unreachable_server_is_a_clear_error_after_retries(db: Database) -> None:
    client = LabelStudioClient(f"http://127.0.0.1:{free_port()}", "0" * 40, retries=2, backoff_s=0.05)
    with pytest.raises(LabelStudioUnavailable, match=r"127\.0\.0\.1:\d+.*no answer after 3 attempts.*review serve"):
        pull(db, client)
    assert client.attempts == 3
    with db.session() as s:
        assert s.scalar("SELECT count(*) FROM review_labels") == 0
    assert "0000" not in repr(client)


def test_credentials_are_generated_once_in_private_files(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("BIOCOACH_LS_TOKEN", "BIOCOACH_LS_PASSWORD", "BIOCOACH_LS_USERNAME"):
        monkeypatch.delenv(name, raising=False)
    first = credentials(tmp_path)
    assert len(first.token) == 40 and int(first.token, 16) >= 0
    assert (tmp_path / "token").stat().st_mode & 0o777 == 0o600
    assert credentials(tmp_path) == first
    assert first.token not in repr(first) and first.password not in repr(first)
    monkeypatch.setenv("BIOCOACH_LS_TOKEN", "f" * 40)
    assert credentials(tmp_path).token == "f" * 40


def _ordered(joints: tuple[str, ...]) -> tuple[str, ...]:
    from workbench.skeleton import JOINT_NAMES

    return tuple(j for j in JOINT_NAMES if j in set(joints))


def test_cli_status_and_a_clear_error_when_the_server_is_down(
    db: Database, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from workbench.cli import main

    seed_reviews(db)
    monkeypatch.setenv("BIOCOACH_LS_TOKEN", "a" * 40)
    down = f"http://127.0.0.1:{free_port()}"
    assert main(["review", "status", "--db", str(db.path), "--url", down, "--data-dir", str(tmp_path / "ls")]) == 0
    out = capsys.readouterr().out
    assert "Cohen's kappa, salient joints: 0.770" in out and "salient proposals reviewed: 3" in out
    assert f"Label Studio at {down}: not answering" in out
    assert main(["review", "pull", "--db", str(db.path), "--url", down, "--data-dir", str(tmp_path / "ls")]) == 2
    err = capsys.readouterr().err
    assert f"Label Studio at {down}" in err and "no answer after 5 attempts" in err and "a" * 40 not in err
    monkeypatch.delenv("BIOCOACH_LS_TOKEN")
    assert main(["review", "push", "--db", str(db.path), "--url", down, "--data-dir", str(tmp_path / "ls")]) == 2
    assert "no Label Studio API token: expected $BIOCOACH_LS_TOKEN or the file" in capsys.readouterr().err
    assert not (tmp_path / "ls").exists()  # push/pull/status never make credentials up
