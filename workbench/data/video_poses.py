"""Pose tracks for QEVD segments without a pose sidecar: estimated from the video, cached in the store.

Real QEVD ships videos, not poses. A segment whose session has no ``NNNN_pose.npz`` gets its track from the
whole session video, estimated once with the project's CPU pose path (MediaPipe →
``pose.landmark_files.landmarks_to_track``, as ``biocoach analyze`` does) and sliced into the session's
segments like a sidecar would be. The frames are read as the QEVD loader reads them
(``workbench.coach.session_frames``): timed by the session's time stamps file, turned upright for ids ≤ 145,
one per 1 / 30 s tick at most.

The track is kept in the store's pose cache (``pose_tracks``, ``store.poses``) under the video's content hash,
the backend and parameters holding the pose method's versions (``pose.backends.pose_cache_params``) plus the
frame timing (a digest of the time stamps) and the rotation: a second run reads it back, and a changed video,
time stamps file or pose method estimates again. The clip is registered with its pose, in one transaction.

A video that cannot be read, or in which no person is found, leaves its segments without a track: each gets a
message, in :attr:`VideoPoses.skipped` and in its ``metadata["skipped"]``, and a ``QevdPoseWarning``.
"""

from __future__ import annotations

import hashlib
import time
import warnings
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from workbench.coach.session_frames import SessionVideo
from workbench.coach.sessions import CoachingSession
from workbench.errors import WorkbenchError
from workbench.pose.backends import ANALYSIS_FPS, pose_cache_params
from workbench.pose.track import PoseTrack
from workbench.store import Database, sha256_file

POSE_BACKEND = "mediapipe"
FRAMES_METHOD = "qevd-time-stamps/1"  # how frames are timed and turned for the pose stage: bump when it changes


class VideoPoseError(WorkbenchError):
    """No pose track could be had from a video (unreadable, no frames, no person)."""


class QevdPoseWarning(UserWarning):
    """A segment skipped because its video gave no pose track."""


Estimator = Callable[[SessionVideo, float], tuple[PoseTrack, list[str]]]


@dataclass
class _Frame:
    t_s: float
    rgb: NDArray[np.uint8]


def estimate_video_track(video: SessionVideo, fps: float = ANALYSIS_FPS) -> tuple[PoseTrack, list[str]]:
    """The pose track of a whole video (t from its first frame) and the estimation's warnings."""
    from workbench.pose.landmark_files import landmarks_to_track
    from workbench.pose.mediapipe_backend import track_video_frames

    if video.n_frames == 0:  # reads the frame index: an unreadable video fails here, before MediaPipe loads
        raise VideoPoseError(f"{video.path.name}: no frames")
    frames = (_Frame(t, rgb) for _, t, rgb in video.iter_frames(max_fps=fps))
    landmarks, seen = track_video_frames(frames)
    if landmarks.n_frames == 0:
        raise VideoPoseError(f"{video.path.name}: no frames decoded")
    if not landmarks.detected.any():
        raise VideoPoseError(f"{video.path.name}: no person detected in any of its {landmarks.n_frames} frames")
    track, ik_warnings = landmarks_to_track(landmarks)
    return track, seen + ik_warnings


def video_pose_params(video: SessionVideo, fps: float = ANALYSIS_FPS) -> dict[str, Any]:
    """What the cached track depends on besides the video's bytes."""
    times = video.frame_times_s
    digest = (
        hashlib.sha256(np.ascontiguousarray(times, dtype=np.float64).tobytes()).hexdigest()[:16]
        if times is not None
        else "container"
    )
    return {
        **pose_cache_params(fps),
        "frames": FRAMES_METHOD,
        "frame_times": digest,
        "rotate_90_cw": bool(video.rotate_90_cw),
    }


@dataclass
class VideoPoses:
    """Pose tracks from videos for segments that have none; ``db`` (or ``open_db()``, called at the first video)
    None: no cache (estimated every time)."""

    db: Database | None = None
    estimator: Estimator = estimate_video_track
    open_db: Callable[[], Database] | None = None  # the store, opened only when a segment needs a pose
    fps: float = ANALYSIS_FPS
    estimated: int = 0  # videos run through the estimator
    cached: int = 0  # videos read from the store
    skipped: list[str] = field(default_factory=list)  # one message per segment left without a track
    notes: list[str] = field(default_factory=list)  # the estimations' warnings, per video

    def track(self, video: SessionVideo) -> PoseTrack:
        """The whole video's track, from the store when it has it; raises VideoPoseError."""
        if not video.path.is_file():
            raise VideoPoseError(f"{video.path.name}: video missing ({video.path})")
        params = video_pose_params(video, self.fps)
        clip_hash = sha256_file(video.path)
        if self.db is None and self.open_db is not None:
            self.db = self.open_db()
        if self.db is not None:
            with self.db.store() as store:
                cached = store.poses.get_pose(clip_hash, POSE_BACKEND, params)
            if cached is not None:
                self.cached += 1
                return cached
        t0 = time.perf_counter()
        try:
            track, notes = self.estimator(video, self.fps)
        except VideoPoseError:
            raise
        except WorkbenchError as exc:  # unreadable video (SessionVideoError, VideoError), pose file errors
            raise VideoPoseError(str(exc)) from None
        extract_s = time.perf_counter() - t0
        self.estimated += 1
        self.notes += [f"{video.path.name}: {n}" for n in notes]
        if self.db is not None:
            with self.db.store() as store, store.transaction():  # the clip appears with its pose, or not at all
                store.clips.register(video.path)
                store.poses.put_pose(clip_hash, POSE_BACKEND, params, track, extract_s=extract_s)
        return track

    def attach(self, sessions: Iterable[CoachingSession]) -> None:
        """Give every session without a track one from its video (sliced to the session); the others are
        listed in ``skipped`` with the reason."""
        groups: dict[Path, list[CoachingSession]] = {}
        for s in sessions:
            if s.track is not None:
                continue
            if s.video is None:
                self._skip([s], "no pose track and no video to estimate one from")
                continue
            groups.setdefault(Path(s.video), []).append(s)
        for path, group in groups.items():
            video = SessionVideo.of(group[0])
            assert video is not None
            video.start_s = 0.0  # the whole video: each segment is sliced from it
            try:
                full = self.track(video)
            except VideoPoseError as exc:
                self._skip(group, f"no pose from its video: {exc}")
                continue
            for s in group:
                s.track = slice_track(full, s.video_start_s, s.video_start_s + s.duration_s)
                s.metadata["pose_from"] = f"video ({POSE_BACKEND})"
                if s.track.n_frames == 0:
                    s.track = None
                    self._skip([s], f"no pose from its video: {path.name} has no frames in this segment")

    def _skip(self, group: list[CoachingSession], why: str) -> None:
        for s in group:
            msg = f"{s.session_id}: skipped, {why}"
            s.metadata["skipped"] = msg
            self.skipped.append(msg)
            warnings.warn(msg, QevdPoseWarning, stacklevel=3)


def slice_track(track: PoseTrack, start_s: float, end_s: float) -> PoseTrack:
    """Frames of ``track`` in [start_s, end_s], re-timed from start_s."""
    keep = (track.t >= start_s - 1e-9) & (track.t <= end_s + 1e-9)
    return PoseTrack(
        q=track.q[keep],
        t=track.t[keep] - start_s,
        confidence=track.confidence[keep],
        observed=track.observed,
        betas=None if track.betas is None else track.betas[keep],
        source=f"{track.source}[{start_s:.3f}:{end_s:.3f}]",
        nominal_fps=track.nominal_fps,
        meta=dict(track.meta),
        dof_confidence=None if track.dof_confidence is None else track.dof_confidence[keep],
    )
