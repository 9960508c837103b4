"""What a salient-joints task gives Label Studio (issue 18): the clip's own frame rate for the Video tag (a 322-frame
30 fps clip shows 322 frames, not the 258 Label Studio's 24 fps default makes of it), a player that opens at the
segment, and a server started with the feature flag whose default breaks the Video/TimeSeries sync.

Ground truth: the test writes the video itself (322 frames at 30 fps) and the proposal's segment (4.5–7.0 s).

Unobserved channels (issue 18 part 5): a track whose ``observed`` mask leaves out the head and both subtalar
joints, and whose right forearm pronation is NaN on every frame, gives an angle CSV, a task and a project config
with the other 20 channels only, in a project of its own (exercise × channel set); a fully observed track keeps
all 24 in the template's config. A fake server (in memory) checks push and pull over several projects.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from workbench.pose.posefile import save_npz
from workbench.pose.track import PoseTrack
from workbench.review import server as ls_server
from workbench.review.sync import (
    PROJECTS,
    _task_data,
    angle_channels,
    csv_channels,
    label_config,
    project_spec,
    pull,
    push,
    salient_result,
    salient_title,
    video_fps,
    write_angle_csv,
)
from workbench.skeleton import DOF_NAMES, JOINT_NAMES, joint
from workbench.store.database import Database
from workbench.store.reviews import ProposalRow, ReviewRepository

UNOBSERVED = ("calcn_r", "calcn_l", "head")  # MediaPipe: no subtalar angle, no head twist
ALL_NAN = "radius_r"  # observed, but NaN on every frame


def _write_video(path: Path, frames: int, fps: int) -> Path:
    import av

    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=fps)
        stream.width, stream.height, stream.pix_fmt = 64, 48, "yuv420p"
        for i in range(frames):
            img = np.zeros((48, 64, 3), np.uint8)
            img[:, i % 64] = 255
            for packet in stream.encode(av.VideoFrame.from_ndarray(img, format="rgb24")):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return path


def test_the_video_tag_takes_its_frame_rate_from_the_task() -> None:
    video = ET.fromstring(label_config("salient")).find("Video")
    assert video is not None and video.get("frameRate") == "$fps"


def test_a_task_carries_the_clip_frame_rate_and_opens_at_its_segment(tmp_path: Path) -> None:
    clip = _write_video(tmp_path / "squat.mp4", 322, 30)
    root = tmp_path / "ls"
    media = root / "media"
    (media / "angles").mkdir(parents=True)
    (media / "angles" / f"{'c' * 64}.csv").write_text("time_s\n0.0\n")  # already written: no pose needed
    p = ProposalRow(
        id="sal-x",
        kind="salient",
        exercise="squat",
        content=[{"joint": "femur_r", "source": "llm"}],
        model="scripted",
        prompt=[],
        reply="hips",
        parse_status="parsed",
        clip_hash="c" * 64,
        clip_path=str(tmp_path / "squat.npz"),
        video_path=str(clip),
        start_s=4.5,
        end_s=7.0,
        segment="rep 2",
    )
    data, written = _task_data(None, p, media, root)  # type: ignore[arg-type]
    assert written == 1 and (media / "videos" / f"{'c' * 64}.mp4").is_file()
    assert data["fps"] == 30.0 and video_fps(clip) == 30.0
    assert data["video"] == f"/data/local-files/?d=media/videos/{'c' * 64}.mp4#t=4.500"
    assert data["start_s"] == 4.5


def test_a_file_that_is_not_a_video_has_no_frame_rate(tmp_path: Path) -> None:
    (tmp_path / "x.mp4").write_bytes(b"not a video")
    assert video_fps(tmp_path / "x.mp4") is None


def test_label_studio_runs_without_the_flag_that_breaks_video_time_series_sync(tmp_path: Path) -> None:
    env = ls_server.server_environment(tmp_path, ls_server.Credentials("u", "p", "t" * 40))
    assert env["fflag_fix_front_dev_3391_interactive_view_all"] == "false"


# ------------------------------------------------------------------------------------------ unobserved channels


def _track(unobserved: tuple[str, ...] = (), all_nan: tuple[str, ...] = (), frames: int = 90) -> PoseTrack:
    t = np.arange(frames) / 30.0
    q = np.zeros((frames, len(DOF_NAMES)))
    for j in JOINT_NAMES:
        q[:, joint(j).primary_dof] = np.radians(20.0) * np.sin(2 * np.pi * t / 3.0)
    observed = np.ones(len(DOF_NAMES), bool)
    for j in unobserved:
        observed[joint(j).primary_dof] = False
        q[:, joint(j).primary_dof] = np.nan
    for j in all_nan:
        q[:, joint(j).primary_dof] = np.nan
    q[10:13, joint("femur_r").primary_dof] = np.nan  # a few lost frames of an observed channel: it stays
    return PoseTrack.from_arrays(q, fps=30.0, observed=observed, source="test")


def _proposal(pid: str, clip: Path, clip_hash: str, exercise: str = "squat") -> ProposalRow:
    return ProposalRow(
        id=pid,
        kind="salient",
        exercise=exercise,
        content=[{"joint": "femur_r", "source": "llm"}],
        model="scripted",
        prompt=[],
        reply="hips",
        parse_status="parsed",
        clip_hash=clip_hash,
        clip_path=str(clip),
        start_s=0.5,
        end_s=2.5,
        segment="rep 1",
    )


def _series(config: str) -> tuple[list[str | None], str | None]:
    series = ET.fromstring(config).find("TimeSeries")
    assert series is not None
    return [c.get("column") for c in series.findall("Channel")], series.get("overviewChannels")


def test_a_track_with_unobserved_dofs_gives_a_task_and_config_without_their_channels(tmp_path: Path) -> None:
    left_out = {*UNOBSERVED, ALL_NAN}
    kept = [j for j in JOINT_NAMES if j not in left_out]
    track = _track(UNOBSERVED, (ALL_NAN,))
    assert angle_channels(track) == kept
    clip = save_npz(track, tmp_path / "mediapipe.npz")
    root = tmp_path / "ls"
    data, written = _task_data(None, _proposal("sal-mp", clip, "m" * 64), root / "media", root)  # type: ignore[arg-type]
    assert written == 1 and data["channels"] == kept
    header, *rows = (root / "media" / "angles" / f"{'m' * 64}.csv").read_text().splitlines()
    assert header.split(",") == ["time_s", *kept] and len(rows) == 90
    assert rows[11].split(",")[1 + kept.index("femur_r")] == ""  # a lost frame is empty, its channel stays
    spec = project_spec("salient", "squat", data["channels"])
    columns, overview = _series(spec.label_config)
    assert columns == kept  # the joints stay choosable (below); only their curves are gone
    assert overview == "femur_r,tibia_r,lumbar_body"
    assert spec.title == salient_title("squat", kept)
    assert spec.title.startswith("BioCoach salient · squat · 20 angles #")
    assert all(j in spec.description for j in left_out)
    # the rest of the config is the template's: the joints to choose from, the synced video
    full = ET.fromstring(label_config("salient"))
    mine = ET.fromstring(spec.label_config)
    assert [c.get("value") for c in mine.iter("Choice")] == [c.get("value") for c in full.iter("Choice")]
    assert mine.find("Video").attrib == full.find("Video").attrib  # type: ignore[union-attr]


def test_a_fully_observed_track_keeps_every_channel_and_the_template(tmp_path: Path) -> None:
    track = _track()
    assert angle_channels(track) == list(JOINT_NAMES)
    path = write_angle_csv(track, tmp_path / "full.csv")
    assert csv_channels(path) == list(JOINT_NAMES)
    spec = project_spec("salient", "squat", csv_channels(path))
    assert spec.label_config == label_config("salient") and spec.title == "BioCoach salient · squat"
    assert _series(spec.label_config)[0] == list(JOINT_NAMES)


def test_an_angle_csv_of_an_earlier_push_with_empty_columns_gives_only_its_filled_ones(tmp_path: Path) -> None:
    path = tmp_path / "old.csv"
    rows = ["0.0000," + ",".join("" if j in UNOBSERVED else "1.00" for j in JOINT_NAMES)] * 3
    path.write_text("\n".join(["time_s," + ",".join(JOINT_NAMES), *rows]) + "\n")
    assert csv_channels(path) == [j for j in JOINT_NAMES if j not in UNOBSERVED]


def test_overview_channels_and_titles_stay_valid_for_any_set() -> None:
    columns, overview = _series(project_spec("salient", "squat", ["tibia_l", "hand_r"]).label_config)
    assert columns == ["tibia_l", "hand_r"] and overview == "tibia_l"  # none of the usual three: the first
    bare = ET.fromstring(project_spec("salient", "squat", []).label_config)  # no angles at all: no time series
    assert bare.find("TimeSeries") is None and bare.find("Video").get("sync") is None  # type: ignore[union-attr]
    long = "walking_lunges_right_with_a_very_long_key"
    titles = {
        salient_title(long, JOINT_NAMES),
        salient_title(long, JOINT_NAMES[:20]),
        salient_title(long, JOINT_NAMES[:21]),
        salient_title(long + "_2", JOINT_NAMES),
        salient_title("squat", JOINT_NAMES[:20]),
    }
    assert len(titles) == 5 and all(len(t) <= 50 and t.startswith(PROJECTS["salient"][0]) for t in titles)


class FakeLabelStudio:
    """The calls push and pull make, kept in memory (one server)."""

    url = "http://ls.fake"

    def __init__(self) -> None:
        self.store: dict[int, dict[str, Any]] = {}  # project id → project, its tasks under "tasks"
        self.next_id = 1

    def _id(self) -> int:
        self.next_id += 1
        return self.next_id - 1

    def projects(self, title_contains: str = "") -> list[dict[str, Any]]:
        return [
            {k: v for k, v in p.items() if k != "tasks"}
            for p in self.store.values()
            if title_contains.lower() in p["title"].lower()
        ]

    def find_project(self, title: str) -> dict[str, Any] | None:
        return next((p for p in self.projects(title) if p["title"] == title), None)

    def create_project(self, title: str, label_config: str, description: str = "") -> dict[str, Any]:
        assert 3 <= len(title) <= 50 and self.find_project(title) is None
        pid = self._id()
        self.store[pid] = {
            "id": pid,
            "title": title,
            "label_config": label_config,
            "description": description,
            "tasks": [],
            "storages": [],
        }
        return self.projects(title)[0]

    def update_project(self, project_id: int, **fields: Any) -> dict[str, Any]:
        self.store[project_id].update(fields)
        return self.store[project_id]

    def local_storages(self, project_id: int) -> list[dict[str, Any]]:
        return [{"path": path} for path in self.store[project_id]["storages"]]

    def add_local_storage(self, project_id: int, path: str, title: str) -> dict[str, Any]:
        self.store[project_id]["storages"].append(path)
        return {"path": path}

    def import_tasks(self, project_id: int, tasks: list[dict[str, Any]]) -> dict[str, Any]:
        for task in tasks:
            self.store[project_id]["tasks"].append({**task, "id": self._id(), "annotations": []})
        return {"task_count": len(tasks)}

    def tasks(self, project_id: int) -> list[dict[str, Any]]:
        return list(self.store[project_id]["tasks"])

    def task_pages(self, project_id: int, page_size: int = 50) -> Iterator[list[dict[str, Any]]]:
        tasks = self.tasks(project_id)
        for k in range(0, len(tasks), page_size):
            yield tasks[k : k + page_size]

    def users(self) -> list[dict[str, Any]]:
        return [{"id": 1, "email": "a@example.com"}]


def test_push_makes_a_project_per_exercise_and_channel_set_once_and_pull_reads_them_all(tmp_path: Path) -> None:
    db = Database(tmp_path / "review.duckdb")
    full = save_npz(_track(), tmp_path / "full.npz")
    partial = save_npz(_track(UNOBSERVED), tmp_path / "partial.npz")
    proposals = [
        _proposal("sal-full", full, "f" * 64),
        _proposal("sal-part1", partial, "p" * 64),
        _proposal("sal-part2", partial, "p" * 64),
        _proposal("sal-lunge", partial, "p" * 64, "lunge"),
    ]
    with db.session() as s:
        for p in proposals:
            ReviewRepository(s).add_proposal(p)
    ls = FakeLabelStudio()
    legacy = ls.create_project("BioCoach salient joints", label_config("salient"))  # an earlier version's project
    ls.import_tasks(legacy["id"], [{"data": {"proposal_id": "sal-full"}}])
    root = tmp_path / "ls"
    first = push(db, ls, root)  # type: ignore[arg-type]
    kept = [j for j in JOINT_NAMES if j not in UNOBSERVED]
    squat_part, lunge_part = salient_title("squat", kept), salient_title("lunge", kept)
    assert first.created == {squat_part: 2, lunge_part: 1, "BioCoach salient joints": 0, PROJECTS["roles"][0]: 0}
    assert first.existing == {squat_part: 0, lunge_part: 0, "BioCoach salient joints": 1, PROJECTS["roles"][0]: 0}
    by_title = {p["title"]: p for p in ls.store.values()}
    assert _series(by_title[squat_part]["label_config"])[0] == kept
    assert by_title[squat_part]["storages"] == [str((root / "media").resolve())]
    second = push(db, ls, root)  # type: ignore[arg-type]
    assert sum(second.created.values()) == 0 and sum(second.existing.values()) == 4
    assert sum(len(p["tasks"]) for p in ls.store.values()) == 4  # no duplicates
    with db.session() as s:
        pushed = ReviewRepository(s).pushed(ls.url)
    assert set(pushed) == {p.id for p in proposals}
    assert pushed["sal-part2"][0] == by_title[squat_part]["id"] and pushed["sal-full"][0] == legacy["id"]
    for project in ls.store.values():  # one annotation per task, in every project
        for task in project["tasks"]:
            task["annotations"] = [
                {
                    "id": task["id"],
                    "result": salient_result(["femur_r"]),
                    "completed_by": 1,
                    "updated_at": "2026-01-05T09:00:00Z",
                }
            ]
    report = pull(db, ls)  # type: ignore[arg-type]
    assert (report.tasks, report.new_versions, report.foreign) == (4, 4, 0)
    assert pull(db, ls).unchanged == 4  # type: ignore[arg-type]
