"""Synthetic landmarks from known SKEL angles seen through a known camera, with MediaPipe's known errors.

Ground truth: a side-view squat with hanging arms bending at the elbow, 6 s at 30 fps (two 3 s cycles):
knees 5° → 115°, hips 10° → 100°, ankles 0° → 25° of dorsiflexion, elbows 5° → 90°, pelvis turned 80° from
the camera (``yaw_deg``; the subject's right side nearer), trunk leaning 10° → 40°.

Image landmarks: ``fk.forward_kinematics`` of the true angles (MediaPipe's world frame, hip-centred), placed
3.5 m in front of a pinhole camera (focal length 1000 px, 1280×720 frame, hip centre 0.1 m right of and
0.15 m below the optical axis) and projected, normalised by the frame size.

World landmarks, as MediaPipe errs: the foot follows the shank (ankle angle 0 throughout), the elbow is
smoothed halfway towards its mean, and every landmark's depth gets Gaussian noise (σ 2 cm, seeded).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from workbench.pose.fk import ADULT, Segments, forward_kinematics
from workbench.pose.landmarks import N_LANDMARKS, LandmarkTrack
from workbench.skeleton import N_DOFS, dof_index

FPS = 30.0
SIZE = (1280, 720)
FOCAL_PX = 1000.0
HIP_CENTRE_M = np.array([0.1, 0.15, 3.5])  # camera frame: x right, y down, z away
DEPTH_NOISE_M = 0.02


@dataclass(frozen=True)
class SideView:
    q: np.ndarray  # (T, 46) true angles, radians
    t: np.ndarray
    world: np.ndarray  # (T, 33, 3) MediaPipe-like world landmarks, with the errors above
    image: np.ndarray  # (T, 33, 2) normalised image landmarks of the true pose
    segments: Segments

    def track(self, *, with_image: bool = True, visibility: np.ndarray | None = None) -> LandmarkTrack:
        vis = np.ones((self.t.size, N_LANDMARKS)) if visibility is None else visibility
        return LandmarkTrack(
            world=self.world,
            visibility=vis,
            t=self.t,
            image=self.image if with_image else None,
            image_size=SIZE if with_image else None,
            source="synthetic side view",
        )


def side_view_squat(seconds: float = 6.0, seed: int = 0, segments: Segments = ADULT, yaw_deg: float = 80.0) -> SideView:
    t = np.arange(round(seconds * FPS)) / FPS
    phase = 0.5 - 0.5 * np.cos(2 * np.pi * t / 3.0)  # 0 standing, 1 at the bottom
    q = np.zeros((t.size, N_DOFS))

    def put(name: str, deg: np.ndarray | float) -> None:
        q[:, dof_index(name)] = np.radians(deg)

    put("pelvis_rotation", yaw_deg)
    put("pelvis_tilt", -10 - 30 * phase)
    for s in ("r", "l"):
        put(f"hip_flexion_{s}", 10 + 90 * phase)
        put(f"knee_angle_{s}", 5 + 110 * phase)
        put(f"ankle_angle_{s}", 25 * phase)
        put(f"elbow_flexion_{s}", 5 + 85 * phase)
        put(f"shoulder_{s}_z", 10.0)
    put("shoulder_r_x", -85.0)
    put("shoulder_l_x", 85.0)
    camera = forward_kinematics(q, segments) + HIP_CENTRE_M
    pixels = FOCAL_PX * camera[..., :2] / camera[..., 2:] + 0.5 * np.asarray(SIZE)
    seen_as = q.copy()
    for s in ("r", "l"):
        seen_as[:, dof_index(f"ankle_angle_{s}")] = 0.0  # the foot follows the shank
        elbow = seen_as[:, dof_index(f"elbow_flexion_{s}")]
        seen_as[:, dof_index(f"elbow_flexion_{s}")] = 0.5 * elbow + 0.5 * elbow.mean()  # smoothed elbow
    world = forward_kinematics(seen_as, segments)
    world[..., 2] += np.random.default_rng(seed).normal(0.0, DEPTH_NOISE_M, world.shape[:2])
    return SideView(q=q, t=t, world=world, image=pixels / np.asarray(SIZE), segments=segments)
