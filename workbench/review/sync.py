"""Push proposals to Label Studio as tasks with predictions; pull the experts' annotations back as labels.

Push is idempotent: every task carries its proposal id in its data, and the server's own task list is
checked before anything is created, so pushing twice (or after the local push record was lost) creates no
duplicates. Pull is idempotent and resumable: each pulled annotation leaves a cursor (its ``updated_at``);
an unchanged annotation is skipped, a changed one becomes a new label version, and each task's labels and
cursors are written in one transaction, page by page, so an interruption (server stopped, network gone)
leaves whole tasks or nothing, and the next pull carries on.
"""

from __future__ import annotations

import csv
import math
import shutil
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from workbench.review.client import LabelStudioClient
from workbench.skeleton import JOINT_NAMES, joint
from workbench.store.repositories import JointClassRepository
from workbench.store.reviews import LabelStatus, ProposalRow, PulledLabel, ReviewRepository

if TYPE_CHECKING:
    from workbench.store.database import Database, Session

PROJECT_ROOT = Path(__file__).resolve().parents[2]
LABEL_CONFIG_DIR = PROJECT_ROOT / "annotations" / "label_configs"
PROJECTS = {  # proposal kind → (project title, label config file)
    "salient": ("BioCoach salient joints", "salient_joints.xml"),
    "roles": ("BioCoach static-dynamic joints", "joint_roles.xml"),
}


def label_config(kind: str) -> str:
    return (LABEL_CONFIG_DIR / PROJECTS[kind][1]).read_text(encoding="utf-8")


# ---------------------------------------------------------------------------------------------- decisions


def _choices(result: Sequence[dict[str, Any]], name: str) -> list[str]:
    out: list[str] = []
    for item in result:
        if item.get("from_name") == name:
            out += [str(c) for c in item.get("value", {}).get("choices", [])]
    return out


def _comment(result: Sequence[dict[str, Any]]) -> str:
    texts: list[str] = []
    for item in result:
        if item.get("from_name") == "comment":
            value = item.get("value", {}).get("text", [])
            texts += [str(value)] if isinstance(value, str) else [str(t) for t in value]
    return "\n".join(t.strip() for t in texts if t.strip())


def decide_salient(result: Sequence[dict[str, Any]], proposed: Sequence[str]) -> tuple[LabelStatus, list[str], str]:
    """An annotation as a decision: 'rejected' when the reviewer marked the proposal unusable, 'accepted'
    when the chosen joints are the proposed ones, else 'corrected' (with the reviewer's joints)."""
    chosen = set(_choices(result, "joints"))
    joints = [j for j in JOINT_NAMES if j in chosen]
    comment = _comment(result)
    if "reject" in _choices(result, "verdict"):
        return "rejected", joints, comment
    return ("accepted" if set(joints) == set(proposed) else "corrected"), joints, comment


def decide_roles(result: Sequence[dict[str, Any]], proposed: dict[str, str]) -> tuple[LabelStatus, dict[str, str], str]:
    """As :func:`decide_salient`, per joint; a joint the reviewer left empty keeps the proposed role."""
    roles = {}
    for j in JOINT_NAMES:
        picked = _choices(result, f"role_{j}")
        roles[j] = picked[0] if picked else proposed.get(j, "static")
    comment = _comment(result)
    if "reject" in _choices(result, "verdict"):
        return "rejected", roles, comment
    same = all(roles[j] == proposed.get(j) for j in JOINT_NAMES)
    return ("accepted" if same else "corrected"), roles, comment


def salient_result(joints: Sequence[str]) -> list[dict[str, Any]]:
    """The Label Studio result that ticks these joints (used for predictions, and by reviewers' scripts)."""
    return [{"from_name": "joints", "to_name": "video", "type": "choices", "value": {"choices": list(joints)}}]


def roles_result(roles: dict[str, str]) -> list[dict[str, Any]]:
    return [{"from_name": f"role_{j}", "to_name": "exercise", "type": "choices", "value": {"choices": [roles[j]]}}
            for j in JOINT_NAMES if j in roles]  # fmt: skip


# ---------------------------------------------------------------------------------------------- push


@dataclass
class PushReport:
    created: dict[str, int] = field(default_factory=dict)  # per project title
    existing: dict[str, int] = field(default_factory=dict)
    projects: dict[str, int] = field(default_factory=dict)  # title → project id
    media_files: int = 0  # media written this time (videos copied, angle CSVs)

    def line(self) -> str:
        parts = [f"{t}: {self.created.get(t, 0)} created, {self.existing.get(t, 0)} already there"
                 for t in self.projects]  # fmt: skip
        return "; ".join(parts) + f"; {self.media_files} media file(s) written"


def push(
    db: Database,
    client: LabelStudioClient,
    document_root: Path,
    *,
    kinds: Sequence[str] = ("salient", "roles"),
) -> PushReport:
    """Create or update the projects and add a task for every stored proposal the server lacks."""
    media = document_root / "media"
    report = PushReport()
    with db.session() as s:
        proposals = ReviewRepository(s).proposals()
    for kind in kinds:
        mine = [p for p in proposals if p.kind == kind]
        title, _ = PROJECTS[kind]
        project_id = ensure_project(client, kind, media if kind == "salient" else None)
        report.projects[title] = project_id
        on_server = {str(t["data"].get("proposal_id")): int(t["id"]) for t in client.tasks(project_id)}
        new = [p for p in mine if p.id not in on_server]
        tasks = []
        for p in new:
            data, written = _task_data(db, p, media, document_root)
            report.media_files += written
            tasks.append({"data": data, "predictions": [_prediction(p)]})
        if tasks:
            client.import_tasks(project_id, tasks)
            on_server = {str(t["data"].get("proposal_id")): int(t["id"]) for t in client.tasks(project_id)}
        report.created[title] = len(new)
        report.existing[title] = len(mine) - len(new)
        with db.session() as s:
            ReviewRepository(s).record_pushed(client.url, [(p.id, project_id, on_server[p.id]) for p in mine
                                                           if p.id in on_server])  # fmt: skip
    return report


def ensure_project(client: LabelStudioClient, kind: str, media: Path | None) -> int:
    """The project for a kind of proposal, created or brought up to the label config in annotations/."""
    title, _ = PROJECTS[kind]
    config = label_config(kind)
    project = client.find_project(title)
    if project is None:
        project = client.create_project(title, config, description=f"BioCoach Workbench review ({kind})")
    elif project.get("label_config", "").strip() != config.strip():
        client.update_project(int(project["id"]), label_config=config)
    project_id = int(project["id"])
    if media is not None:
        media.mkdir(parents=True, exist_ok=True)
        if not any(Path(st.get("path", "")) == media.resolve() for st in client.local_storages(project_id)):
            client.add_local_storage(project_id, str(media.resolve()), "BioCoach media")
    return project_id


def _prediction(p: ProposalRow) -> dict[str, Any]:
    result = salient_result(p.joints) if p.kind == "salient" else roles_result(p.roles)
    return {"model_version": p.model[:200], "result": result}


def _url(path: Path, document_root: Path) -> str:
    return "/data/local-files/?d=" + path.resolve().relative_to(document_root.resolve()).as_posix()


def _task_data(db: Database, p: ProposalRow, media: Path, document_root: Path) -> tuple[dict[str, Any], int]:
    """The task's data and how many media files were written for it."""
    sources = ", ".join(f"{c['joint']} ({c['source']})" for c in p.content) if p.kind == "salient" else ""
    data: dict[str, Any] = {"proposal_id": p.id, "kind": p.kind, "exercise": p.exercise, "model": p.model,
                            "parse_status": p.parse_status, "reply": p.reply}  # fmt: skip
    if p.kind == "roles":
        from_llm = sum(1 for v in p.content.values() if v["source"] == "llm")
        description = (f"Exercise {p.exercise}. Proposed by {p.model} ({p.parse_status}; {from_llm} of 24 joints "
                       f"from the model, the rest from the catalogue). Model reply: {p.reply}")  # fmt: skip
        data.update(title=f"{p.exercise}: static or dynamic, per joint (proposal {p.id})", description=description)
        return data, 0
    written = 0
    video_url = ""
    if p.video_path and Path(p.video_path).is_file():
        src = Path(p.video_path)
        target = media / "videos" / f"{p.clip_hash}{src.suffix.lower()}"
        if not target.is_file():
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(src, target)
            written += 1
        video_url = _url(target, document_root)
    angles = media / "angles" / f"{p.clip_hash}.csv"
    if not angles.is_file() and p.clip_path:
        write_angle_csv(_track(db, Path(p.clip_path), p.exercise), angles)
        written += 1
    data.update(
        title=f"{p.exercise} — {p.segment} ({p.start_s:.2f}–{p.end_s:.2f} s) — proposal {p.id}",
        context=f"Segment {p.segment}: {p.start_s:.2f}–{p.end_s:.2f} s. Proposed by {p.model} ({p.parse_status}): "
                f"{sources}. Model reply: {p.reply}",
        video=video_url, angles=_url(angles, document_root) if angles.is_file() else "", clip_hash=p.clip_hash,
        segment=p.segment, start_s=p.start_s, end_s=p.end_s,
    )  # fmt: skip
    return data, written


def _track(db: Database, clip: Path, exercise: str) -> Any:
    from workbench.pose.backends import detect_backend

    if detect_backend(clip) == "pose":
        from workbench.io.posefile import load_npz

        return load_npz(clip)
    from workbench.pipeline import analyze_clip

    return analyze_clip(clip, exercise, db=db).estimate.track  # the pose comes from the store's cache


def write_angle_csv(track: Any, path: Path) -> Path:
    """time_s and each joint's primary DoF in degrees (the TimeSeries channels); empty where unknown."""
    path.parent.mkdir(parents=True, exist_ok=True)
    columns = [joint(j).primary_dof for j in JOINT_NAMES]
    tmp = path.with_suffix(".tmp")
    with tmp.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["time_s", *JOINT_NAMES])
        for t, row in zip(track.t, track.q, strict=True):
            values = [row[c] for c in columns]
            writer.writerow([f"{t:.4f}", *("" if not math.isfinite(v) else f"{math.degrees(v):.2f}" for v in values)])
    tmp.replace(path)  # a half-written CSV is never served
    return path


# ---------------------------------------------------------------------------------------------- pull


@dataclass
class PullReport:
    tasks: int = 0  # tasks of ours seen
    annotations: int = 0  # annotations read
    new_versions: int = 0  # label versions written
    unchanged: int = 0  # annotations skipped (cursor unchanged)
    foreign: int = 0  # tasks without a proposal of this store

    def line(self) -> str:
        return (f"{self.tasks} task(s), {self.annotations} annotation(s): {self.new_versions} new label version(s), "
                f"{self.unchanged} unchanged, {self.foreign} task(s) not from this store")  # fmt: skip


def pull(
    db: Database,
    client: LabelStudioClient,
    *,
    page_size: int = 50,
    on_task: Callable[[dict[str, Any]], None] | None = None,
) -> PullReport:
    """Bring completed annotations back as label versions (see the module docstring)."""
    report = PullReport()
    users = {int(u["id"]): str(u.get("email") or u.get("username") or u["id"]) for u in client.users()}
    with db.session() as s:
        proposals = {p.id: p for p in ReviewRepository(s).proposals()}
    for kind in PROJECTS:
        project = client.find_project(PROJECTS[kind][0])
        if project is None:
            continue
        for page in client.task_pages(int(project["id"]), page_size=page_size):
            for task in page:
                p = proposals.get(str(task.get("data", {}).get("proposal_id")))
                if p is None:
                    report.foreign += 1
                    continue
                report.tasks += 1
                _pull_task(db, client.url, task, p, users, report)
                if on_task is not None:
                    on_task(task)
    return report


def _pull_task(db: Database, server: str, task: dict[str, Any], p: ProposalRow, users: dict[int, str],
               report: PullReport) -> None:  # fmt: skip
    annotations = [a for a in task.get("annotations", []) if not a.get("was_cancelled") and a.get("result")]
    with db.session() as s:
        repo = ReviewRepository(s)
        todo = []
        for a in annotations:
            report.annotations += 1
            updated = str(a.get("updated_at") or a.get("created_at"))
            if repo.cursor(server, int(a["id"])) == updated:
                report.unchanged += 1
                continue
            if p.kind == "salient":
                status, content, comment = decide_salient(a["result"], p.joints)
            else:
                status, content, comment = decide_roles(a["result"], p.roles)  # type: ignore[assignment]
            who = a.get("completed_by")
            who_id = int(who["id"] if isinstance(who, dict) else who) if who is not None else -1
            todo.append(PulledLabel(
                proposal_id=p.id, reviewer=users.get(who_id, f"user {who_id}"), status=status, content=content,
                comment=comment, reviewed_at=datetime.fromisoformat(updated.replace("Z", "+00:00")),
                ls_task_id=int(task["id"]), ls_annotation_id=int(a["id"]), ls_updated_at=updated,
            ))  # fmt: skip
        if todo:
            with s.transaction():  # the labels, their cursors and the joint classes they decide: all or nothing
                report.new_versions += repo.record_pulled(server, todo)
                if p.kind == "roles":
                    _apply_roles(s, p, todo)


def _apply_roles(s: Session, p: ProposalRow, pulled: Sequence[PulledLabel]) -> None:
    """An accepted or corrected static/dynamic review becomes the exercise's joint classes, a new decision in
    the versioned joint_classes table (which the analysis reads), authored by the expert. Joints the reviewer
    left out keep their class; a rejection changes nothing."""
    decided = [lab for lab in pulled if lab.status in ("accepted", "corrected")]
    if not decided:
        return
    latest = max(decided, key=lambda lab: lab.reviewed_at)
    classes = JointClassRepository(s)
    dynamic, static = classes.current(p.exercise)
    roles = {**{j: "dynamic" for j in dynamic}, **{j: "static" for j in static}, **latest.content}
    classes.set_lists(
        p.exercise,
        [j for j in JOINT_NAMES if roles.get(j) == "dynamic"],
        [j for j in JOINT_NAMES if roles.get(j) == "static"],
        source="expert",
        who=latest.reviewer,
        note=f"Label Studio review (task {latest.ls_task_id}, proposal {p.id})",
    )
