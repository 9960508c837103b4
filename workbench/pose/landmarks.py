"""LandmarkTrack: MediaPipe-layout body landmarks over time, the input of inverse kinematics.

World landmarks are in MediaPipe's world frame: metres, origin between the hips, x towards the image's
right, y down, z away from the camera's image plane (MediaPipe's convention; IK rotates into SKEL's
y-up frame). Image landmarks are normalised image coordinates (x right, y down, in [0, 1]).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

# MediaPipe Pose landmark order (33).
MP_NAMES: tuple[str, ...] = (
    "nose",
    "left_eye_inner",
    "left_eye",
    "left_eye_outer",
    "right_eye_inner",
    "right_eye",
    "right_eye_outer",
    "left_ear",
    "right_ear",
    "mouth_left",
    "mouth_right",
    "left_shoulder",
    "right_shoulder",
    "left_elbow",
    "right_elbow",
    "left_wrist",
    "right_wrist",
    "left_pinky",
    "right_pinky",
    "left_index",
    "right_index",
    "left_thumb",
    "right_thumb",
    "left_hip",
    "right_hip",
    "left_knee",
    "right_knee",
    "left_ankle",
    "right_ankle",
    "left_heel",
    "right_heel",
    "left_foot_index",
    "right_foot_index",
)
N_LANDMARKS = len(MP_NAMES)
MP_INDEX = {name: i for i, name in enumerate(MP_NAMES)}
# Skeleton edges for drawing (pairs of landmark names).
MP_EDGES: tuple[tuple[str, str], ...] = (
    ("left_shoulder", "right_shoulder"),
    ("left_hip", "right_hip"),
    ("left_shoulder", "left_hip"),
    ("right_shoulder", "right_hip"),
    ("left_shoulder", "left_elbow"),
    ("left_elbow", "left_wrist"),
    ("right_shoulder", "right_elbow"),
    ("right_elbow", "right_wrist"),
    ("left_hip", "left_knee"),
    ("left_knee", "left_ankle"),
    ("right_hip", "right_knee"),
    ("right_knee", "right_ankle"),
    ("left_ankle", "left_heel"),
    ("left_heel", "left_foot_index"),
    ("left_ankle", "left_foot_index"),
    ("right_ankle", "right_heel"),
    ("right_heel", "right_foot_index"),
    ("right_ankle", "right_foot_index"),
    ("left_wrist", "left_index"),
    ("right_wrist", "right_index"),
    ("nose", "left_eye"),
    ("nose", "right_eye"),
    ("left_eye", "left_ear"),
    ("right_eye", "right_ear"),
)
# Left/right swap of the landmark order (for swap detection and mirroring).
MP_MIRROR: tuple[int, ...] = tuple(
    MP_INDEX[n.replace("left", "#").replace("right", "left").replace("#", "right")] for n in MP_NAMES
)


@dataclass(frozen=True, eq=False)
class LandmarkTrack:
    """Landmarks of one person over time.

    world: (T, 33, 3) metres, MediaPipe world frame; NaN where the frame has no detection.
    visibility: (T, 33) in [0, 1].
    t: (T,) seconds, strictly increasing.
    image: optional (T, 33, 2) normalised image coordinates, for drawing the overlay.
    image_size: (width, height) of the frames the image coordinates refer to, when known.
    """

    world: NDArray[np.float64]
    visibility: NDArray[np.float64]
    t: NDArray[np.float64]
    image: NDArray[np.float64] | None = None
    image_size: tuple[int, int] | None = None
    source: str = "unknown"

    def __post_init__(self) -> None:
        n = self.world.shape[0]
        if self.world.shape != (n, N_LANDMARKS, 3):
            raise ValueError(f"landmarks_world: expected shape (T, {N_LANDMARKS}, 3), got {self.world.shape}")
        if self.visibility.shape != (n, N_LANDMARKS):
            raise ValueError(f"visibility: expected shape ({n}, {N_LANDMARKS}), got {self.visibility.shape}")
        if self.t.shape != (n,):
            raise ValueError(f"t: expected shape ({n},), got {self.t.shape}")
        if n > 1 and not (np.diff(self.t) > 0).all():
            raise ValueError("t: expected strictly increasing times")
        if self.image is not None and self.image.shape != (n, N_LANDMARKS, 2):
            raise ValueError(f"image landmarks: expected shape ({n}, {N_LANDMARKS}, 2), got {self.image.shape}")

    @property
    def n_frames(self) -> int:
        return int(self.world.shape[0])

    @property
    def detected(self) -> NDArray[np.bool_]:
        """Frames with a detection (no NaN in the world landmarks)."""
        return np.asarray(~np.isnan(self.world).any(axis=(1, 2)))

    def point(self, name: str) -> NDArray[np.float64]:
        """(T, 3) world positions of one landmark."""
        return self.world[:, MP_INDEX[name]]
