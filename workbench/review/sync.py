"""Push proposals to Label Studio as tasks with predictions; pull the experts' annotations back as labels.

Push is idempotent: every task carries its proposal id in its data, and the server's own task list is
checked before anything is created, so pushing twice (or after the local push record was lost) creates no
duplicates. Pull is idempotent and resumable: each pulled annotation leaves a cursor (its ``updated_at``);
an unchanged annotation is skipped, a changed one becomes a new label version, and each task's labels and
cursors are written in one transaction, page by page, so an interruption (server stopped, network gone)
leaves whole tasks or nothing, and the next pull carries on.

A salient-joints task shows the clip's joint angles as a time series, one channel per joint the pose source
observed: a DoF marked unobserved in the PoseTrack's ``observed`` mask (MediaPipe sees neither the head twist nor
the subtalar joint), or NaN on every frame, has no column in the angle CSV. Label Studio 1.23's TimeSeries draws
exactly the channels of the project's label config (a column the config names but the CSV lacks throws
``TypeError … setChannelRangeWithScaling``; an empty column draws NaN paths), so the config cannot be one for all:
each exercise × observed-channel set has its own project, its config generated from
``annotations/label_configs/salient_joints.xml`` with only those channels, its title naming the exercise and,
where some are left out, how many channels it has and a digest of the set (titles are at most 50 characters;
the description lists what was left out). Push creates a project when its first task comes; push and pull read
every project whose title starts with "BioCoach salient" (the single project of earlier versions included).
"""

from __future__ import annotations

import csv
import hashlib
import math
import re
import shutil
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from workbench.pipeline import analyze_clip
from workbench.pose.backends import detect_backend
from workbench.pose.posefile import load_npz
from workbench.review.client import LabelStudioClient
from workbench.review.proposals import describe
from workbench.skeleton import JOINT_NAMES, joint
from workbench.store.repositories import JointClassRepository
from workbench.store.reviews import LabelStatus, ProposalRow, PulledLabel, ReviewRepository

if TYPE_CHECKING:
    from workbench.store.database import Database, Session

PROJECT_ROOT = Path(__file__).resolve().parents[2]
LABEL_CONFIG_DIR = PROJECT_ROOT / "annotations" / "label_configs"
PROJECTS = {  # proposal kind → (project title, or for salient the start of its projects' titles; label config file)
    "salient": ("BioCoach salient", "salient_joints.xml"),
    "roles": ("BioCoach static-dynamic joints", "joint_roles.xml"),
}
TITLE_MAX = 50  # Label Studio's PROJECT_TITLE_MAX_LEN


def label_config(kind: str) -> str:
    """The label config file of a kind (for salient: the template, with every channel)."""
    return (LABEL_CONFIG_DIR / PROJECTS[kind][1]).read_text(encoding="utf-8")


@dataclass(frozen=True)
class ProjectSpec:
    """What a Label Studio project of ours is: its title (how push and pull find it), config and description."""

    kind: str
    title: str
    label_config: str
    description: str


def salient_config(channels: Sequence[str]) -> str:
    """The salient-joints config whose TimeSeries draws these channels only (the template when all 24 are there;
    no TimeSeries, and a Video synced to nothing, when none is)."""
    template = label_config("salient")
    keep = [j for j in JOINT_NAMES if j in set(channels)]
    if keep == list(JOINT_NAMES):
        return template
    if not keep:
        config = re.sub(r'\n[ \t]*<Header value="Joint angles[^>]*/>', "", template)
        config = re.sub(r"\n[ \t]*<TimeSeries\b.*?</TimeSeries>", "", config, flags=re.DOTALL)
        return config.replace(' sync="angles"', "", 1)
    config = re.sub(
        r'\n[ \t]*<Channel column="([^"]+)"[^>]*/>', lambda m: m.group(0) if m.group(1) in keep else "", template
    )

    def overview(m: re.Match[str]) -> str:
        shown = [c for c in m.group(1).split(",") if c in keep] or keep[:1]
        return f'overviewChannels="{",".join(shown)}"'

    return re.sub(r'overviewChannels="([^"]*)"', overview, config, count=1)


def salient_title(exercise: str, channels: Sequence[str]) -> str:
    """``BioCoach salient · squat`` for a full set; ``BioCoach salient · squat · 22 angles #3fa2`` for another
    (the digest, of the exercise and the set, keeps two sets of one size apart; a long exercise key is cut)."""
    keep = [j for j in JOINT_NAMES if j in set(channels)]
    digest = hashlib.sha1(f"{exercise}|{','.join(keep)}".encode()).hexdigest()[:4]
    head = f"{PROJECTS['salient'][0]} · "
    tail = "" if keep == list(JOINT_NAMES) else f" · {len(keep)} angles #{digest}"
    room = TITLE_MAX - len(head) - len(tail)
    if len(exercise) > room:  # cut, and a digest where there was none: titles stay apart
        tail = tail or f" #{digest}"
        room = TITLE_MAX - len(head) - len(tail)
        exercise = exercise[: room - 1] + "…"
    return head + exercise + tail


def project_spec(kind: str, exercise: str = "", channels: Sequence[str] = JOINT_NAMES) -> ProjectSpec:
    """The project a task of this kind goes to: salient, per exercise and set of angle channels; roles, one."""
    if kind != "salient":
        return ProjectSpec(kind, PROJECTS[kind][0], label_config(kind), f"BioCoach Workbench review ({kind})")
    keep = [j for j in JOINT_NAMES if j in set(channels)]
    left_out = [j for j in JOINT_NAMES if j not in set(keep)]
    description = (
        f"BioCoach Workbench review (salient) of {exercise}: {len(keep)} of {len(JOINT_NAMES)} joint-angle "
        "channels" + (f"; left out, never observed by the pose source: {', '.join(left_out)}" if left_out else "")
    )
    return ProjectSpec(kind, salient_title(exercise, keep), salient_config(keep), description)


def kind_projects(client: LabelStudioClient, kind: str) -> list[dict[str, Any]]:
    """The server's projects of a kind: for salient, every one whose title starts with "BioCoach salient"."""
    title = PROJECTS[kind][0]
    found = client.projects(title_contains=title)
    if kind == "salient":
        return [p for p in found if str(p.get("title") or "").startswith(title)]
    return [p for p in found if p.get("title") == title]


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
    return [
        {"from_name": f"role_{j}", "to_name": "exercise", "type": "choices", "value": {"choices": [roles[j]]}}
        for j in JOINT_NAMES
        if j in roles
    ]


# ---------------------------------------------------------------------------------------------- push


@dataclass
class PushReport:
    created: dict[str, int] = field(default_factory=dict)  # per project title
    existing: dict[str, int] = field(default_factory=dict)
    projects: dict[str, int] = field(default_factory=dict)  # title → project id
    media_files: int = 0  # media written this time (videos copied, angle CSVs)

    def line(self) -> str:
        parts = [
            f"{t}: {self.created.get(t, 0)} created, {self.existing.get(t, 0)} already there" for t in self.projects
        ]
        return "; ".join(parts) + f"; {self.media_files} media file(s) written"


def push(
    db: Database,
    client: LabelStudioClient,
    document_root: Path,
    *,
    kinds: Sequence[str] = ("salient", "roles"),
) -> PushReport:
    """Add a task for every stored proposal that no project of its kind on the server holds, creating (or
    bringing up to date) the project each one goes to; every proposal's task is recorded in the store."""
    media = document_root / "media"
    report = PushReport()
    with db.session() as s:
        proposals = ReviewRepository(s).proposals()
    for kind in kinds:
        mine = [p for p in proposals if p.kind == kind]
        if kind != "salient":  # the one roles project is there even before its first proposal
            report.projects[PROJECTS[kind][0]] = ensure_project(client, project_spec(kind), None)
        titles: dict[int, str] = {}
        on_server: dict[str, tuple[int, int]] = {}  # proposal id → (project id, task id), all projects of the kind
        for project in kind_projects(client, kind):
            titles[int(project["id"])] = str(project.get("title"))
            on_server.update(_task_ids(client, int(project["id"])))
        new: dict[ProjectSpec, list[dict[str, Any]]] = {}
        for p in mine:
            if p.id in on_server:
                title = titles[on_server[p.id][0]]
                report.projects[title] = on_server[p.id][0]
                report.existing[title] = report.existing.get(title, 0) + 1
                continue
            data, written = _task_data(db, p, media, document_root)
            report.media_files += written
            spec = project_spec(kind, p.exercise, data.get("channels", JOINT_NAMES))
            new.setdefault(spec, []).append({"data": data, "predictions": [_prediction(p)]})
        for spec, tasks in new.items():
            project_id = ensure_project(client, spec, media if kind == "salient" else None)
            client.import_tasks(project_id, tasks)
            on_server.update(_task_ids(client, project_id))
            report.projects[spec.title] = project_id
            report.created[spec.title] = report.created.get(spec.title, 0) + len(tasks)
        with db.session() as s:
            ReviewRepository(s).record_pushed(client.url, [(p.id, *on_server[p.id]) for p in mine if p.id in on_server])
    for title in report.projects:
        report.created.setdefault(title, 0)
        report.existing.setdefault(title, 0)
    return report


def _task_ids(client: LabelStudioClient, project_id: int) -> dict[str, tuple[int, int]]:
    return {str(t["data"].get("proposal_id")): (project_id, int(t["id"])) for t in client.tasks(project_id)}


def ensure_project(client: LabelStudioClient, spec: ProjectSpec, media: Path | None) -> int:
    """The project of ``spec``, created, or brought up to its label config; with ``media``, the local-files
    storage that serves the tasks' videos and angle CSVs."""
    project = client.find_project(spec.title)
    if project is None:
        project = client.create_project(spec.title, spec.label_config, description=spec.description)
    elif (project.get("label_config") or "").strip() != spec.label_config.strip():
        client.update_project(int(project["id"]), label_config=spec.label_config)
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
    data: dict[str, Any] = {
        "proposal_id": p.id,
        "kind": p.kind,
        "exercise": p.exercise,
        "model": p.model,
        "parse_status": p.parse_status,
        "reply": p.reply,
    }
    if p.kind == "roles":
        # what the model itself said, apart from the catalogue's fill-ins; an unparsable reply says so
        description = f"Exercise {p.exercise}. Proposed by {p.model}: {describe(p)}. Model reply: {p.reply}"
        data.update(title=f"{p.exercise}: static or dynamic, per joint (proposal {p.id})", description=description)
        return data, 0
    written = 0
    video_url, fps = "", None
    if p.video_path and Path(p.video_path).is_file():
        src = Path(p.video_path)
        target = media / "videos" / f"{p.clip_hash}{src.suffix.lower()}"
        if not target.is_file():
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(src, target)
            written += 1
        # The player opens at the segment (a media fragment; the file stays whole, so the time series' time axis,
        # which starts at the clip's first frame, stays in step with it) and counts frames at the video's own rate
        # (the Video tag's frameRate="$fps"; Label Studio assumes 24 fps without it).
        video_url = _url(target, document_root) + f"#t={max(p.start_s or 0.0, 0.0):.3f}"
        fps = video_fps(target)
    angles = media / "angles" / f"{p.clip_hash}.csv"
    if not angles.is_file() and p.clip_path:
        write_angle_csv(_track(db, Path(p.clip_path), p.exercise), angles)
        written += 1
    data.update(
        title=f"{p.exercise} — {p.segment} ({p.start_s:.2f}–{p.end_s:.2f} s) — proposal {p.id}",
        context=f"Segment {p.segment}: {p.start_s:.2f}–{p.end_s:.2f} s. Proposed by {p.model} ({p.parse_status}): "
        f"{sources}. Model reply: {p.reply}",
        video=video_url,
        angles=_url(angles, document_root) if angles.is_file() else "",
        clip_hash=p.clip_hash,
        segment=p.segment,
        start_s=p.start_s,
        end_s=p.end_s,
        channels=csv_channels(angles) if angles.is_file() else [],  # the project's TimeSeries draws these only
    )
    if fps is not None:
        data["fps"] = fps
    return data, written


def video_fps(path: Path) -> float | None:
    """The video's average frame rate (frames per second), None when it cannot be read."""
    import av

    try:
        with av.open(str(path)) as container:
            rate = container.streams.video[0].average_rate
    except (av.error.FFmpegError, IndexError, OSError):
        return None
    return round(float(rate), 3) if rate else None


def _track(db: Database, clip: Path, exercise: str) -> Any:
    if detect_backend(clip) == "pose":
        return load_npz(clip)

    return analyze_clip(clip, exercise, db=db).estimate.track  # the pose comes from the store's cache


def angle_channels(track: Any) -> list[str]:
    """The joints whose primary DoF the track observed: marked so in its ``observed`` mask and finite on at
    least one frame (JOINT_NAMES order)."""
    q = np.asarray(track.q, dtype=float)
    observed = np.asarray(getattr(track, "observed", np.ones(q.shape[1], bool)), dtype=bool)
    return [j for j in JOINT_NAMES if observed[joint(j).primary_dof] and np.isfinite(q[:, joint(j).primary_dof]).any()]


def write_angle_csv(track: Any, path: Path) -> Path:
    """time_s and, in degrees, the primary DoF of each joint the track observed (:func:`angle_channels`; the
    TimeSeries channels); a DoF never observed has no column, and a frame where an observed one is unknown
    is empty."""
    path.parent.mkdir(parents=True, exist_ok=True)
    channels = angle_channels(track)
    columns = [joint(j).primary_dof for j in channels]
    tmp = path.with_suffix(".tmp")
    with tmp.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["time_s", *channels])
        for t, row in zip(track.t, track.q, strict=True):
            values = [row[c] for c in columns]
            writer.writerow([f"{t:.4f}", *("" if not math.isfinite(v) else f"{math.degrees(v):.2f}" for v in values)])
    tmp.replace(path)  # a half-written CSV is never served
    return path


def csv_channels(path: Path) -> list[str]:
    """The joint channels of an angle CSV that hold a value: its columns, less any left empty on every row (a
    CSV written before unobserved DoFs were left out has all 24 columns)."""
    with path.open(newline="", encoding="utf-8") as handle:
        reader = csv.reader(handle)
        header = next(reader, [])
        filled = [False] * len(header)
        for row in reader:
            for i, value in enumerate(row[: len(header)]):
                filled[i] = filled[i] or bool(value.strip())
    present = {name for name, full in zip(header, filled, strict=True) if full}
    return [j for j in JOINT_NAMES if j in present]


# ---------------------------------------------------------------------------------------------- pull


@dataclass
class PullReport:
    tasks: int = 0  # tasks of ours seen
    annotations: int = 0  # annotations read
    new_versions: int = 0  # label versions written
    unchanged: int = 0  # annotations skipped (cursor unchanged)
    foreign: int = 0  # tasks without a proposal of this store

    def line(self) -> str:
        return (
            f"{self.tasks} task(s), {self.annotations} annotation(s): {self.new_versions} new label version(s), "
            f"{self.unchanged} unchanged, {self.foreign} task(s) not from this store"
        )


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
    projects = [pr for kind in PROJECTS for pr in sorted(kind_projects(client, kind), key=lambda pr: int(pr["id"]))]
    for project in projects:  # the salient projects, oldest first, then the roles project
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


def _pull_task(
    db: Database, server: str, task: dict[str, Any], p: ProposalRow, users: dict[int, str], report: PullReport
) -> None:
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
            todo.append(
                PulledLabel(
                    proposal_id=p.id,
                    reviewer=users.get(who_id, f"user {who_id}"),
                    status=status,
                    content=content,
                    comment=comment,
                    reviewed_at=datetime.fromisoformat(updated.replace("Z", "+00:00")),
                    ls_task_id=int(task["id"]),
                    ls_annotation_id=int(a["id"]),
                    ls_updated_at=updated,
                )
            )
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
