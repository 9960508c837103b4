"""The default CPU pose backend: MediaPipe Pose (legacy solution, model shipped inside the 0.10.21 wheel).

Frames in, a LandmarkTrack out (world landmarks in metres, image landmarks, visibility). MediaPipe follows
one person; when its detection jumps to someone else (the box moves by more than its own size and changes
scale between consecutive frames), those frames count as lost until the original subject is back, or until
the new one has stayed for a second, which then becomes the subject (with a warning).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import NDArray

from workbench.pose.landmarks import N_LANDMARKS, LandmarkTrack
from workbench.progress import ProgressCallback, ProgressMeter

MODEL_COMPLEXITY = 1  # the only model inside the wheel; 0 and 2 would try to download theirs
SWITCH_CONFIRM_S = 1.0


@dataclass
class _Subject:
    """Image-space box of the followed person: centre and size (normalised units)."""

    centre: NDArray[np.float64] | None = None
    size: float = 0.0
    candidate_since: float | None = None
    switches: int = 0
    rejected: int = 0


@dataclass
class MediaPipeRun:
    world: list[NDArray[np.float64]] = field(default_factory=list)
    image: list[NDArray[np.float64]] = field(default_factory=list)
    visibility: list[NDArray[np.float64]] = field(default_factory=list)
    t: list[float] = field(default_factory=list)
    size: tuple[int, int] | None = None


def open_pose() -> Any:
    """A MediaPipe Pose graph in video mode (tracking between frames)."""
    import mediapipe as mp

    return mp.solutions.pose.Pose(
        static_image_mode=False,
        model_complexity=MODEL_COMPLEXITY,
        smooth_landmarks=False,
        enable_segmentation=False,
        min_detection_confidence=0.5,
        min_tracking_confidence=0.5,
    )


def detect(
    pose: Any, rgb: NDArray[np.uint8]
) -> tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.float64]] | None:
    """World (33, 3), image (33, 2) and visibility (33,) for one RGB frame, or None without a person."""
    result = pose.process(np.ascontiguousarray(rgb))
    if result.pose_world_landmarks is None or result.pose_landmarks is None:
        return None
    world = np.array([(p.x, p.y, p.z) for p in result.pose_world_landmarks.landmark], dtype=np.float64)
    image = np.array([(p.x, p.y) for p in result.pose_landmarks.landmark], dtype=np.float64)
    vis = np.array([p.visibility for p in result.pose_landmarks.landmark], dtype=np.float64)
    return world, image, vis


def track_video_frames(
    frames: Iterable[Any], total: int | None = None, progress: ProgressCallback | None = None
) -> tuple[LandmarkTrack, list[str]]:
    """Run MediaPipe over frames (objects with ``t_s`` and ``rgb``); returns the landmark track and warnings.

    ``progress`` is told the frames done, the expected ``total``, the rate and the time left as the frames go
    by, and once more at the end with the true total (workbench.progress)."""
    pose = open_pose()
    run, subject = MediaPipeRun(), _Subject()
    missing = np.full((N_LANDMARKS, 3), np.nan)
    meter = ProgressMeter(progress, total=total, stage="pose")
    try:
        for frame in frames:
            run.size = (frame.rgb.shape[1], frame.rgb.shape[0])
            found = detect(pose, frame.rgb)
            if found is not None and not _same_subject(subject, found[1], frame.t_s):
                found = None
            world, image, vis = found if found is not None else (missing, missing[:, :2], np.zeros(N_LANDMARKS))
            run.world.append(world)
            run.image.append(image)
            run.visibility.append(vis)
            run.t.append(frame.t_s)
            meter.step()
    finally:
        pose.close()
    meter.close()
    return _to_track(run), _warnings(run, subject)


def _same_subject(subject: _Subject, image: NDArray[np.float64], t: float) -> bool:
    """Follow the main subject: accept detections near the last box; a jump is accepted after it persists."""
    pts = image[[11, 12, 23, 24]]  # shoulders and hips: the torso box
    centre, size = pts.mean(axis=0), float(np.ptp(pts, axis=0).max())
    if subject.centre is None:
        subject.centre, subject.size = centre, size
        return True
    jump = float(np.linalg.norm(centre - subject.centre)) / max(subject.size, 1e-3)
    rescale = abs(np.log(max(size, 1e-3) / max(subject.size, 1e-3)))
    if jump <= 1.0 or rescale < 0.4:
        subject.centre, subject.size, subject.candidate_since = centre, size, None
        return True
    if subject.candidate_since is None:
        subject.candidate_since = t
    if t - subject.candidate_since >= SWITCH_CONFIRM_S:
        subject.centre, subject.size, subject.candidate_since = centre, size, None
        subject.switches += 1
        return True
    subject.rejected += 1
    return False


def _to_track(run: MediaPipeRun) -> LandmarkTrack:
    n = len(run.t)
    return LandmarkTrack(
        world=np.asarray(run.world).reshape(n, N_LANDMARKS, 3),
        visibility=np.asarray(run.visibility).reshape(n, -1),
        t=np.asarray(run.t, dtype=np.float64),
        image=np.asarray(run.image).reshape(n, N_LANDMARKS, 2),
        image_size=run.size,
        source="mediapipe-pose-0.10.21-full",
    )


def _warnings(run: MediaPipeRun, subject: _Subject) -> list[str]:
    out = []
    if subject.rejected:
        out.append(f"{subject.rejected} frame(s) showed another person than the one followed; treated as lost")
    if subject.switches:
        out.append(
            f"the followed person changed {subject.switches} time(s) (another person stayed in view "
            f"for over {SWITCH_CONFIRM_S:.0f} s)"
        )
    return out
