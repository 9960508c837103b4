"""One call from an input file to a pose track, whatever the source: the pose-backend interface.

    estimate = estimate_pose("clip.mp4")                      # MediaPipe + IK on the CPU
    estimate = estimate_pose("clip.mp4", backend="hsmr")      # HSMR + SKEL on a GPU (user-supplied weights)
    estimate = estimate_pose("tool_output.landmarks.csv.gz")  # landmarks from another tool, + IK
    estimate = estimate_pose("hsmr_out.npz", backend="hsmr")  # HSMR's own output files
    estimate = estimate_pose("track.npz")                     # a pose track already in SKEL angles

``estimate.track`` is the PoseTrack every later stage takes; ``estimate.landmarks`` keeps the landmarks
(for the overlay); ``estimate.warnings`` says what was repaired or guessed. The fitted SKEL skeleton in the
image with its reprojection error is ``workbench.pipeline.ClipResult.fit`` (``body.reprojection``).
"""

from __future__ import annotations

import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import numpy as np

from workbench import __version__
from workbench.config import load_config
from workbench.errors import PoseFileError
from workbench.io.inputs import check_input_file
from workbench.io.video import iter_frames, probe, read_ahead
from workbench.pose.hsmr import import_hsmr_outputs, run_hsmr
from workbench.pose.landmark_files import landmarks_to_track, read_landmarks
from workbench.pose.landmarks import LandmarkTrack
from workbench.pose.mediapipe_backend import track_video_frames
from workbench.pose.posefile import load_npz
from workbench.pose.track import PoseTrack
from workbench.progress import ProgressCallback

Backend = Literal["auto", "mediapipe", "landmarks", "hsmr", "pose"]
VIDEO_SUFFIXES = frozenset(
    {".mp4", ".mov", ".m4v", ".avi", ".mkv", ".webm", ".mpg", ".mpeg", ".wmv", ".flv", ".3gp", ".ts", ".mts"}
)
ANALYSIS_FPS = 30.0  # the paper's skeleton rate
# The landmarks → angles method (pose.landmark_files.landmarks_to_track: filtering, image + depth fusion, IK,
# per-DoF confidence): part of the key of the store's pose cache (workbench.pipeline), so that tracks made by
# an older method are not reused. Bump it whenever that method changes. 2: image + depth (issue 14);
# 3: the elbow's carrying angle in FK and IK.
LANDMARK_ANGLES_VERSION = 3


def pose_cache_params(fps: float = ANALYSIS_FPS) -> dict[str, object]:
    """The parameters the store's pose cache is keyed by, the same for `biocoach analyze` and the batch."""
    return {"fps": fps, "code_version": __version__, "landmark_angles": LANDMARK_ANGLES_VERSION}


@dataclass
class PoseEstimate:
    track: PoseTrack
    backend: str
    landmarks: LandmarkTrack | None = None
    warnings: list[str] = field(default_factory=list)
    video: Path | None = None


def is_video(path: Path) -> bool:
    return path.suffix.lower() in VIDEO_SUFFIXES


def detect_backend(path: Path) -> Backend:
    """What a file is, from its name and, for .npz, its keys."""
    name = path.name.lower()
    if is_video(path):
        return "mediapipe"
    if name.endswith((".csv", ".csv.gz")):
        return "landmarks"
    if path.suffix.lower() == ".npz" and path.is_file():  # not a FIFO or device: reading one never ends
        try:
            loaded = np.load(path, allow_pickle=False)
        except (OSError, ValueError, EOFError, zipfile.BadZipFile):  # unreadable: the pose reader says precisely why
            return "pose"
        if not isinstance(loaded, np.lib.npyio.NpzFile):  # a bare array named .npz: the pose reader names it
            return "pose"
        with loaded as data:
            keys = set(data.files)
        if "landmarks_world" in keys:
            return "landmarks"
        if "poses" in keys and "q" not in keys:
            return "hsmr"
    if path.is_dir():
        return "hsmr"
    return "pose"


def estimate_pose(
    path: str | Path,
    backend: Backend = "auto",
    *,
    fps: float = ANALYSIS_FPS,
    progress: ProgressCallback | None = None,
    config_path: str | Path | None = None,
) -> PoseEstimate:
    """Pose track of one person from a video, a landmark file, HSMR outputs or a pose .npz.

    ``progress`` follows the frames of a video through MediaPipe (workbench.progress); other inputs are
    read in one go and report nothing."""
    path = Path(path)
    if not path.is_dir():  # a folder holds HSMR outputs; anything else must be a regular file within the limits
        check_input_file(path)
    kind = detect_backend(path) if backend == "auto" else backend
    if kind == "pose":
        return PoseEstimate(track=load_npz(path), backend="pose")
    if kind == "landmarks" and not is_video(path):
        return _from_landmark_file(path)
    if kind == "hsmr":
        return _hsmr(path, fps, config_path)
    if kind in ("mediapipe", "landmarks"):
        return _mediapipe(path, fps, progress)
    raise PoseFileError(f"{path}: unknown backend {backend!r}; expected auto, mediapipe, landmarks, hsmr or pose")


def _mediapipe(path: Path, fps: float, progress: ProgressCallback | None) -> PoseEstimate:
    info = probe(path)  # a broken file fails here, before MediaPipe is loaded

    warnings: list[str] = []
    frames = read_ahead(iter_frames(path, fps=fps, warnings_out=warnings))  # decoding overlaps inference
    total = round(info.duration_s * fps) if info.duration_s > 0 else None
    landmarks, seen = track_video_frames(frames, total=total, progress=progress)
    warnings += seen
    if not landmarks.detected.any():
        raise PoseFileError(f"{path}: no person detected in any of its {landmarks.n_frames} frames")
    track, ik_warnings = landmarks_to_track(landmarks)
    notes = [
        f"{path.name}: {info.width}x{info.height}, {info.fps:.2f} fps"
        + (" (variable)" if info.is_vfr else "")
        + (f", rotated {info.rotation}°" if info.rotation else "")
        + f"; analysed at {fps:g} fps"
    ]
    return PoseEstimate(
        track=track, backend="mediapipe", landmarks=landmarks, warnings=notes + warnings + ik_warnings, video=path
    )


def _from_landmark_file(path: Path) -> PoseEstimate:
    landmarks = read_landmarks(path)
    if not landmarks.detected.any():
        raise PoseFileError(f"{path}: no frame with a detected person")
    track, warnings = landmarks_to_track(landmarks)
    return PoseEstimate(track=track, backend="landmarks", landmarks=landmarks, warnings=warnings)


def _hsmr(path: Path, fps: float, config_path: str | Path | None) -> PoseEstimate:
    if is_video(path):
        track, warnings = run_hsmr(path, load_config(config_path), fps=fps)
        return PoseEstimate(track=track, backend="hsmr", warnings=warnings, video=path)
    track, warnings = import_hsmr_outputs(path, fps=fps)
    return PoseEstimate(track=track, backend="hsmr", warnings=warnings)
