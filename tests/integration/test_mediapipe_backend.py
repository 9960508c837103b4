"""MediaPipe Pose, really run on a clip of a real person (the photo that ships with matplotlib), through the
video reader, the backend, IK and the analysis; and the main-subject rule on its own."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

from workbench.pose.mediapipe_backend import _same_subject, _Subject

pytestmark = pytest.mark.slow


def _photo() -> np.ndarray:
    import cv2
    import matplotlib

    path = os.path.join(os.path.dirname(matplotlib.__file__), "mpl-data/sample_data/grace_hopper.jpg")
    return cv2.cvtColor(cv2.resize(cv2.imread(path), (270, 360)), cv2.COLOR_BGR2RGB)


def _clip(path: Path, seconds: float = 2.0, portrait: bool = False) -> Path:
    from workbench.io.video import write_video

    photo = _photo()
    frames = []
    for k in range(round(seconds * 30)):
        canvas = np.full((360, 640, 3), 40, np.uint8)
        x = 185 + int(30 * np.sin(2 * np.pi * k / 30))
        canvas[:, x : x + 270] = photo
        frames.append(np.ascontiguousarray(np.rot90(canvas)) if portrait else canvas)
    return write_video(path, frames, 30.0)


def test_a_real_person_is_found_and_turned_into_angles(tmp_path: Path) -> None:
    from workbench.pose.backends import estimate_pose
    from workbench.skeleton import dof_index

    estimate = estimate_pose(_clip(tmp_path / "c.mp4"))
    assert estimate.backend == "mediapipe" and estimate.landmarks is not None
    assert estimate.track.n_frames == 60 and estimate.track.fps == 30.0
    assert estimate.landmarks.detected.mean() > 0.9
    # upper body in view: shoulders and elbows observed with finite angles
    for name in ("elbow_flexion_r", "elbow_flexion_l"):
        i = dof_index(name)
        assert estimate.track.observed[i] and np.isfinite(estimate.track.q[:, i]).mean() > 0.9
    assert any("640x360" in w for w in estimate.warnings)


def test_portrait_clip_is_read_upright(tmp_path: Path) -> None:
    from workbench.io.video import probe
    from workbench.pose.backends import estimate_pose

    path = _clip(tmp_path / "p.mp4", portrait=True)
    assert probe(path).portrait
    estimate = estimate_pose(path)
    assert estimate.landmarks is not None and estimate.landmarks.image_size == (360, 640)


def _torso(cx: float, cy: float, size: float) -> np.ndarray:
    image = np.zeros((33, 2))
    image[[11, 12, 23, 24]] = [
        [cx - size / 2, cy - size / 2],
        [cx + size / 2, cy - size / 2],
        [cx - size / 2, cy + size / 2],
        [cx + size / 2, cy + size / 2],
    ]
    return image


def test_another_person_is_ignored_unless_they_stay() -> None:
    subject = _Subject()
    assert _same_subject(subject, _torso(0.3, 0.5, 0.2), 0.0)
    assert _same_subject(subject, _torso(0.32, 0.5, 0.2), 0.033)  # small move: same person
    assert not _same_subject(subject, _torso(0.8, 0.4, 0.08), 0.066)  # far and much smaller: someone else
    assert _same_subject(subject, _torso(0.33, 0.5, 0.2), 0.1)  # the subject is back
    for k in range(40):  # the other person stays for over a second: they become the subject
        accepted = _same_subject(subject, _torso(0.8, 0.4, 0.08), 0.2 + k / 30)
    assert accepted and subject.switches == 1


def test_progress_follows_the_frames_and_ends_with_the_true_total(tmp_path: Path) -> None:
    from workbench.pose.backends import estimate_pose
    from workbench.progress import Progress

    calls: list[Progress] = []
    estimate = estimate_pose(_clip(tmp_path / "c.mp4", seconds=3.0), progress=calls.append)
    done = [p.done for p in calls]
    assert done == sorted(done) and len(calls) >= 2  # at least one report on the way and the last one
    assert all(p.stage == "pose" and p.total == 90 for p in calls)
    last = calls[-1]
    assert last.finished and last.done == estimate.track.n_frames == 90 and last.fps > 0
    assert not any(p.finished for p in calls[:-1])
