"""Real video into prediction and training (issue 19 part 5): QEVD segments without a pose sidecar get their
pose from the video, cached in the store; training windows of a video session carry its frames."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pytest
import torch

from workbench.coach.session_frames import SessionVideo, step_frame_times
from workbench.coach.sessions import CoachingSession
from workbench.data import miniature as mini
from workbench.data.qevd import load_split, read_records
from workbench.data.video_poses import (
    POSE_BACKEND,
    QevdPoseWarning,
    VideoPoseError,
    VideoPoses,
    estimate_video_track,
    video_pose_params,
)
from workbench.io.video import write_video
from workbench.pose.posefile import load_npz
from workbench.pose.track import PoseTrack
from workbench.store import Database, sha256_file

SPLIT = mini.TRAIN_SPLIT  # one session, 0003 (stored rotated), two segments
RED, BLUE = (230, 20, 20), (20, 20, 230)
SWITCH_S = 6.0  # the video turns from red to blue here (seconds from its first frame)


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, PoseTrack]]:
    """The miniature train split with the pose sidecars moved away (kept, to play the estimator) and the video
    replaced by flat red frames, then blue from SWITCH_S on: a known colour at a known time."""
    root = mini.build_miniature(tmp_path_factory.mktemp("qevd"), splits=(SPLIT,))
    folder = root / SPLIT
    poses = {}
    for record in read_records(folder):
        sidecar = record.video.with_name(f"{record.video_id}_pose.npz")
        poses[record.video_id] = load_npz(sidecar)
        sidecar.unlink()
        t = record.times_s - record.times_s[0]
        _coloured_video(record.video, t)
    return folder, poses


def _coloured_video(path: Path, t: np.ndarray) -> None:
    """One flat frame per time stamp, stored as the miniature stores it (64×36, on its side for id ≤ 145)."""
    frames = (np.full((mini.FRAME_H, mini.FRAME_W, 3), RED if ti < SWITCH_S else BLUE, np.uint8) for ti in t)
    write_video(path, frames, mini.FPS, crf=18)


class CountingEstimator:
    """Stands in for MediaPipe: the sidecar's track, and a count of the videos it was asked about."""

    def __init__(self, poses: dict[str, PoseTrack]):
        self.poses = poses
        self.calls: list[Path] = []

    def __call__(self, video: SessionVideo, fps: float) -> tuple[PoseTrack, list[str]]:
        self.calls.append(video.path)
        return self.poses[video.path.stem], ["estimated by the test"]


# ------------------------------------------------------------------------------------------ prediction
def test_poses_estimated_once_stored_and_read_back(built: tuple[Path, dict[str, PoseTrack]], tmp_path: Path) -> None:
    folder, poses = built
    db = Database(tmp_path / "store.duckdb")
    estimator = CountingEstimator(poses)

    first = VideoPoses(db=db, estimator=estimator)
    sessions = load_split(folder, video_poses=first)
    assert len(sessions) == 2 and all(s.track is not None for s in sessions)
    assert len(estimator.calls) == 1 and first.estimated == 1 and first.cached == 0  # one video, two segments
    assert not first.skipped
    video = SessionVideo.of(sessions[0])
    assert video is not None
    with db.store() as store:  # the row the cache reads: content hash + backend + the pose method's versions
        row = store.poses.get_pose(sha256_file(sessions[0].video), POSE_BACKEND, video_pose_params(video))
        assert row is not None and row.n_frames == poses["0003"].n_frames
        assert store.clips.get(sha256_file(sessions[0].video)) is not None  # registered with its pose

    second = VideoPoses(db=db, estimator=estimator)
    again = load_split(folder, video_poses=second)
    assert len(estimator.calls) == 1 and second.cached == 1 and second.estimated == 0  # the cache, not MediaPipe
    for a, b in zip(sessions, again, strict=True):
        assert a.track is not None and b.track is not None
        np.testing.assert_array_equal(a.track.q, b.track.q)
        np.testing.assert_allclose(a.track.t, b.track.t)
    # each segment is its slice of the session's track, as a sidecar would give it
    s = sessions[1]
    assert s.track is not None and s.track.t[0] >= -1e-9 and s.track.t[-1] <= s.duration_s + 1e-9


def test_changed_video_estimates_again(built: tuple[Path, dict[str, PoseTrack]], tmp_path: Path) -> None:
    src, poses = built
    import shutil

    folder = tmp_path / SPLIT
    shutil.copytree(src, folder)
    db = Database(tmp_path / "store.duckdb")
    estimator = CountingEstimator(poses)
    load_split(folder, video_poses=VideoPoses(db=db, estimator=estimator))
    record = read_records(folder)[0]
    _coloured_video(record.video, (record.times_s - record.times_s[0]) + 100.0)  # all red: other bytes
    third = VideoPoses(db=db, estimator=estimator)
    load_split(folder, video_poses=third)
    assert len(estimator.calls) == 2 and third.estimated == 1


def test_unreadable_video_skips_its_segments_with_a_message(
    built: tuple[Path, dict[str, PoseTrack]], tmp_path: Path
) -> None:
    src, _ = built
    import shutil

    folder = tmp_path / SPLIT
    shutil.copytree(src, folder)
    record = read_records(folder)[0]
    record.video.write_bytes(b"this is not a video" * 10)
    poses = VideoPoses(db=Database(tmp_path / "store.duckdb"))  # the real estimator: fails before MediaPipe
    with pytest.warns(QevdPoseWarning, match="skipped"):
        sessions = load_split(folder, video_poses=poses)
    assert all(s.track is None for s in sessions)
    assert len(poses.skipped) == 2
    for s, msg in zip(sessions, poses.skipped, strict=True):
        assert msg.startswith(f"{s.session_id}: skipped, no pose from its video:") and "0003.mp4" in msg
        assert "not a readable video" in msg or "no video" in msg
        assert s.metadata["skipped"] == msg
    with Database(tmp_path / "store.duckdb").store() as store:
        assert store.status().counts.get("pose_tracks", 0) == 0  # nothing cached for a failure


def test_video_without_a_person_is_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "empty_room.mp4"
    write_video(path, (np.full((96, 128, 3), 90, np.uint8) for _ in range(12)), 30.0)
    with pytest.raises(VideoPoseError, match="no person detected in any of its 12 frames"):
        estimate_video_track(SessionVideo(path))


# --------------------------------------------------------------------------------------------- frames
def test_frames_by_time_are_the_videos(built: tuple[Path, dict[str, PoseTrack]]) -> None:
    folder, _ = built
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        sessions = load_split(folder, with_tracks=False)
    video = SessionVideo.of(sessions[0])
    assert video is not None
    video.start_s = 0.0
    idx = video.indices(np.array([0.0, SWITCH_S - 0.2, SWITCH_S + 0.2, 1e6]))
    rgb = video.frames(idx)
    assert rgb.shape[1:] == (mini.FRAME_W, mini.FRAME_H, 3)  # turned upright: portrait
    np.testing.assert_allclose(rgb[0, 10, 10], RED, atol=12)
    np.testing.assert_allclose(rgb[1, 10, 10], RED, atol=12)
    np.testing.assert_allclose(rgb[2, 10, 10], BLUE, atol=12)
    assert idx[-1] == video.n_frames - 1


def _dataset(sessions: list[CoachingSession]) -> object:
    from tests.coach_support import tiny_model, tokenizer
    from workbench.coach.training_data import prepare
    from workbench.exercises import load_catalogue

    model = tiny_model()
    return model, prepare(sessions, tokenizer(), model.config, 16, load_catalogue())


def test_training_batch_carries_the_videos_frames(built: tuple[Path, dict[str, PoseTrack]], tmp_path: Path) -> None:
    from workbench.coach.training_data import VideoDataset

    folder, poses = built
    sessions = load_split(folder, video_poses=VideoPoses(db=None, estimator=CountingEstimator(poses)))
    s = sessions[0]  # the first segment: red until SWITCH_S (video clock)
    model, ds = _dataset([s])
    assert isinstance(ds, VideoDataset) and ds.n_video_windows == len(ds) > 1
    c = model.config
    switch_step = None
    for w in range(len(ds)):
        batch = ds.batch([w])
        frames = batch.frames
        assert frames is not None
        assert frames.shape == (1, batch.n_steps * c.frames_per_token, 3, c.frame_height, c.frame_width)
        src = ds.frames[w]
        assert src is not None
        times = step_frame_times(src.first_step, src.n_steps, c, t0_s=src.t0_s) + s.video_start_s
        colour = frames[0, :, :, c.frame_height // 2, c.frame_width // 2] * 255  # (T, 3)
        for t, px in zip(times, colour, strict=True):
            want = RED if t < SWITCH_S - 0.05 else BLUE if t > SWITCH_S + 0.05 else None
            if want is not None:
                np.testing.assert_allclose(px.numpy(), want, atol=14)
            if want == BLUE and switch_step is None:
                switch_step = w
    assert switch_step is not None  # the segment runs past the switch: both colours were seen
    vis = model.visual_features(ds.batch([0]).frames, 1, ds.batch([0]).n_steps)
    black = model.visual_features(None, 1, ds.batch([0]).n_steps)
    assert not torch.allclose(vis, black)  # the backbone sees the video, not black frames


def test_pose_only_batches_have_no_frames(built: tuple[Path, dict[str, PoseTrack]]) -> None:
    folder, poses = built
    sessions = load_split(folder, video_poses=VideoPoses(db=None, estimator=CountingEstimator(poses)))
    pose_only = CoachingSession("p0", sessions[0].exercise, sessions[0].duration_s, [], track=sessions[0].track)
    _, ds = _dataset([pose_only, sessions[0]])
    n_pose = sum(1 for src in ds.sources if src == "p0")
    assert n_pose > 0 and ds.frames[:n_pose] == [None] * n_pose
    assert ds.batch(list(range(n_pose))).frames is None  # pose-only: black frames inside the model
    mixed = ds.batch([0, n_pose])  # a pose-only window next to a video one: its row is black
    assert mixed.frames is not None
    assert float(mixed.frames[0].abs().sum()) == 0.0 and float(mixed.frames[1].abs().sum()) > 0.0


def test_batches_decode_lazily(built: tuple[Path, dict[str, PoseTrack]]) -> None:
    folder, poses = built
    sessions = load_split(folder, video_poses=VideoPoses(db=None, estimator=CountingEstimator(poses)))
    _, ds = _dataset(sessions)
    videos = {id(f.video): f.video for f in ds.frames if f is not None}
    assert sum(v.decoded for v in videos.values()) == 0  # nothing decoded up front
    ds.batch([0])
    first = ds.frames[0]
    assert first is not None
    assert 0 < first.video.decoded <= first.n_steps * 4  # only that window's frames


def test_predict_lists_a_segment_skipped_for_an_unreadable_video(
    built: tuple[Path, dict[str, PoseTrack]], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`biocoach data predict` on a split whose video is broken and has no sidecar: the segments are reported
    as skipped, with the reason, and predicted empty (the rule coach)."""
    import json
    import shutil

    from workbench.cli import main

    folder = tmp_path / SPLIT
    shutil.copytree(built[0], folder)
    read_records(folder)[0].video.write_bytes(b"\x00garbage" * 64)
    out = tmp_path / "pred.json"
    assert main(["data", "predict", str(folder), str(out), "--db", str(tmp_path / "s.duckdb"), "--create"]) == 0
    printed = capsys.readouterr().out
    for seg in ("0003_0", "0003_1"):
        assert f"note: {seg}: skipped, no pose from its video: " in printed
    assert "0003.mp4" in printed and "not a readable video" in printed
    items = json.loads(out.read_text())
    assert [i["pred_feedbacks"] for i in items] == [[], []]


def test_training_sessions_get_poses_from_the_video(
    built: tuple[Path, dict[str, PoseTrack]], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`biocoach train --data FOLDER` loads through ``qevd.load_sessions``: sidecar-less segments get their pose
    from the video (cached in the store); by default the store is $BIOCOACH_DB's, and a video that gives none
    is warned about per segment."""
    import shutil

    from workbench.data.qevd import load_sessions

    folder, poses = built
    db = Database(tmp_path / "a.duckdb")
    estimator = CountingEstimator(poses)
    sessions = load_sessions(folder, video_poses=VideoPoses(db=db, estimator=estimator))
    assert all(s.track is not None and s.metadata["pose_from"] == "video (mediapipe)" for s in sessions)
    assert len(estimator.calls) == 1

    broken = tmp_path / "broken" / SPLIT
    shutil.copytree(folder, broken)
    read_records(broken)[0].video.write_bytes(b"not a video")
    monkeypatch.setenv("BIOCOACH_DB", str(tmp_path / "default.duckdb"))
    with pytest.warns(QevdPoseWarning) as caught:
        sessions = load_sessions(broken)
    said = [str(w.message) for w in caught]
    assert [m.split(":")[0] for m in said] == ["0003_0", "0003_1"]
    assert all("skipped, no pose from its video: " in m and "not a readable video" in m for m in said)
    assert all(s.track is None for s in sessions)
    assert (tmp_path / "default.duckdb").is_file()  # the store named by $BIOCOACH_DB was the one asked
