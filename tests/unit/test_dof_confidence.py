"""Per-DoF confidence (pose.dof_confidence): the far side of a side view is trusted less than the near side.

Ground truth: tests/camera_support.py, a squat seen with the pelvis turned 80° (the right side nearer the
camera). With every landmark reported fully visible, the far (left) side's limb DoFs get 1 − 0.5 · sin 80°
≈ 0.51 and the near side's 1; with MediaPipe-like visibility (the far limbs at 0.3) the far side drops to
about 0.15. Facing the camera both sides are equal. On the real side-view squat the far knee sits well under
the near one.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from tests.camera_support import SIZE, side_view_squat
from workbench.pose.dof_confidence import DOF_LANDMARKS, FAR_SIDE_WEIGHT, farness
from workbench.pose.landmark_files import landmarks_to_track, read_landmarks
from workbench.pose.landmarks import MP_INDEX, N_LANDMARKS, LandmarkTrack
from workbench.skeleton import DOFS, dof_index

LIMBS = ("knee_angle", "ankle_angle", "elbow_flexion", "hip_flexion")
REAL = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "real_landmarks_dev"


def confidence(yaw_deg: float = 80.0, far_visibility: float = 1.0) -> tuple[np.ndarray, np.ndarray]:
    view = side_view_squat(seconds=3.0, yaw_deg=yaw_deg)
    vis = np.ones((view.t.size, N_LANDMARKS))
    far = [
        i for name, i in MP_INDEX.items() if name.startswith("left_") and "hip" not in name and "shoulder" not in name
    ]
    vis[:, far] = far_visibility
    track, _ = landmarks_to_track(view.track(visibility=vis))
    assert track.dof_confidence is not None
    return track.dof_confidence, track.q


def test_side_view_near_side_high_far_side_low() -> None:
    conf, _ = confidence()
    expected_far = 1.0 - FAR_SIDE_WEIGHT * math.sin(math.radians(80))
    for generic in LIMBS:
        near, far = conf[:, dof_index(f"{generic}_r")], conf[:, dof_index(f"{generic}_l")]
        assert near.min() > 0.97, generic
        assert far.max() == pytest.approx(expected_far, abs=0.04), generic
    assert conf[:, dof_index("pelvis_tilt")].min() == pytest.approx(1.0)  # central: no side to hide


def test_far_side_visibility_lowers_it_further() -> None:
    conf, _ = confidence(far_visibility=0.3)
    for generic in LIMBS[:3]:
        assert conf[:, dof_index(f"{generic}_l")].max() < 0.2
        assert conf[:, dof_index(f"{generic}_r")].min() > 0.97


def test_facing_the_camera_both_sides_alike() -> None:
    conf, _ = confidence(yaw_deg=0.0)
    for generic in LIMBS:
        np.testing.assert_allclose(conf[:, dof_index(f"{generic}_r")], conf[:, dof_index(f"{generic}_l")], atol=0.05)


def test_unobserved_and_lost_frames_have_none() -> None:
    view = side_view_squat(seconds=2.0)
    world = view.world.copy()
    world[10:14] = np.nan  # no detection
    lost = LandmarkTrack(world=world, visibility=np.ones(world.shape[:2]), t=view.t, image=view.image, image_size=SIZE)
    track, _ = landmarks_to_track(lost)
    assert track.dof_confidence is not None
    assert (track.dof_confidence[10:14] == 0).all()
    assert (track.dof_confidence[:, ~track.observed] == 0).all()
    assert set(DOF_LANDMARKS) <= {d.generic for d in DOFS}


def test_farness_follows_the_depth_of_the_hips_and_shoulders() -> None:
    view = side_view_squat(seconds=1.0)
    track = view.track()
    assert farness(track, "left").min() > 0.95 and farness(track, "right").max() == 0.0


@pytest.mark.realdata
@pytest.mark.skipif(not REAL.is_dir(), reason=f"real landmark tracks not present at {REAL}")
def test_real_side_view_squat_far_knee_trusted_less() -> None:
    """squat_side_home_man_yuyoujiang: the camera sees the man's right side; his left knee is behind."""
    track, _ = landmarks_to_track(read_landmarks(REAL / "squat_side_home_man_yuyoujiang.landmarks.csv.gz"))
    assert track.dof_confidence is not None
    seen = track.confidence > 0
    near = np.median(track.dof_confidence[seen][:, [dof_index(n) for n in ("knee_angle_r", "elbow_flexion_r")]], 0)
    far = np.median(track.dof_confidence[seen][:, [dof_index(n) for n in ("knee_angle_l", "elbow_flexion_l")]], 0)
    assert (near > 0.8).all() and (far < 0.3).all(), (near, far)
