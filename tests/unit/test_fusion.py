"""Angles from image + depth (pose.fusion, pose.camera) on synthetic landmarks with known answers.

Ground truth: tests/camera_support.py (known SKEL angles, forward kinematics, a pinhole camera 3.5 m away,
world landmarks with MediaPipe's errors: the foot follows the shank, the elbow is smoothed, depth is noisy).
Tolerance: 4°. The fused path models the camera as weak perspective; the pinhole's perspective (the camera
looks down on the feet from hip height) tilts the foot by up to 3° of that, the depth noise the rest.
"""

from __future__ import annotations

import numpy as np
import pytest

from tests.camera_support import FOCAL_PX, HIP_CENTRE_M, SIZE, side_view_squat
from workbench.pose.camera import COMMON_ASPECTS, WeakPerspective, fit_camera
from workbench.pose.fk import forward_kinematics
from workbench.pose.fusion import prepare_landmarks
from workbench.pose.landmark_files import landmarks_to_track
from workbench.pose.landmarks import N_LANDMARKS, LandmarkTrack
from workbench.skeleton import N_DOFS, dof_index

TOLERANCE_DEG = 4.0
NEAR = (
    "ankle_angle_r",
    "ankle_angle_l",
    "elbow_flexion_r",
    "knee_angle_r",
    "knee_angle_l",
    "hip_flexion_r",
    "hip_flexion_l",
    "pelvis_tilt",
)


def errors_deg(track_q: np.ndarray, truth: np.ndarray, name: str) -> np.ndarray:
    i = dof_index(name)
    return np.degrees(np.abs(track_q[:, i] - truth[:, i]))


def test_image_and_depth_recover_ankle_and_elbow_where_world_landmarks_do_not() -> None:
    view = side_view_squat()
    fused, _ = landmarks_to_track(view.track())
    world_only, _ = landmarks_to_track(view.track(with_image=False))
    assert fused.meta["angles_from"] == "image+depth" and world_only.meta["angles_from"] == "world"
    straight = np.degrees(view.q[:, dof_index("elbow_flexion_r")]) < 20
    for name in NEAR:  # the near side (right) and both feet, which a side view shows in the image plane
        error = errors_deg(fused.q, view.q, name)
        if name == "elbow_flexion_r":  # near straight, see below
            error = error[~straight]
        assert error.max() < TOLERANCE_DEG, name
    # A nearly straight elbow's flexion hangs on the carrying angle (pose.fk): the extended forearm deviates
    # by it laterally, which a side view sees in depth, and cos(θ/2) = cos(ψ/2) / cos(α/2) magnifies the
    # depth noise there (θ ≈ √(ψ² − α²)). Unbiased, with a wider spread than in the image plane.
    elbow = dof_index("elbow_flexion_r")
    signed = np.degrees(fused.q[straight, elbow] - view.q[straight, elbow])
    rms = float(np.sqrt(np.mean(signed**2)))
    assert abs(signed.mean()) < 2.0 and rms < 5.0, (signed.mean(), rms)
    bottom = np.argmax(view.q[:, dof_index("knee_angle_r")])
    top = np.argmin(view.q[:, dof_index("elbow_flexion_r")])
    for name in ("ankle_angle_r", "ankle_angle_l"):  # 25° of dorsiflexion at the bottom reads about 0
        assert errors_deg(world_only.q, view.q, name)[bottom] > 20, name
    assert errors_deg(world_only.q, view.q, "elbow_flexion_r")[top] > 15  # a locked elbow reads bent
    assert errors_deg(world_only.q, view.q, "elbow_flexion_r")[bottom] > 15  # and the bottom too shallow


def test_camera_recovers_a_weak_perspective_exactly() -> None:
    """Image = s_t · world_xy + o_t exactly: the fit gives s_t and o_t back (the scale's low-pass keeps a
    slow change), and projecting the fused points gives the image landmarks."""
    view = side_view_squat(seconds=3.0)
    n = view.t.size
    scale = 300.0 + 20.0 * np.sin(2 * np.pi * view.t / 3.0)  # walking towards the camera and back
    offset = np.column_stack([640 + 30 * view.t, np.full(n, 400.0)])
    world = forward_kinematics(view.q)
    pixels = scale[:, None, None] * world[..., :2] + offset[:, None]
    track = LandmarkTrack(
        world=world, visibility=np.ones((n, N_LANDMARKS)), t=view.t, image=pixels / np.asarray(SIZE), image_size=SIZE
    )
    camera = fit_camera(track)
    assert camera is not None and camera.pixels
    np.testing.assert_allclose(camera.scale, scale, rtol=5e-3)
    np.testing.assert_allclose(camera.offset, offset, atol=2.0)
    prepared = prepare_landmarks(track)
    assert prepared.camera is not None
    np.testing.assert_allclose(prepared.camera.project(prepared.fused.world), prepared.clean.image, atol=1e-9)
    np.testing.assert_allclose(prepared.fused.world, world - world[:, [23, 24]].mean(axis=1, keepdims=True), atol=5e-3)


def test_pinhole_scale_is_focal_length_over_distance() -> None:
    camera = fit_camera(side_view_squat().track())
    assert camera is not None
    assert np.median(camera.scale) == pytest.approx(FOCAL_PX / HIP_CENTRE_M[2], rel=0.03)


def test_aspect_ratio_estimated_without_the_frame_size() -> None:
    """A landmark CSV has no frame size: the aspect comes from the landmarks, rounded to a video format."""
    view = side_view_squat()
    track = view.track()
    no_size = LandmarkTrack(world=track.world, visibility=track.visibility, t=track.t, image=track.image)
    camera = fit_camera(no_size)
    assert camera is not None and not camera.pixels
    assert camera.size == (pytest.approx(16 / 9), 1.0) and 16 / 9 in COMMON_ASPECTS
    with_size, _ = landmarks_to_track(track)
    without, _ = landmarks_to_track(no_size)
    np.testing.assert_allclose(without.q, with_size.q, atol=1e-6, equal_nan=True)


def test_without_image_landmarks_the_world_landmarks_are_used_unchanged() -> None:
    view = side_view_squat(seconds=2.0)
    prepared = prepare_landmarks(view.track(with_image=False))
    assert prepared.camera is None and prepared.fused is prepared.clean
    np.testing.assert_array_equal(landmarks_to_track(view.track(with_image=False))[0].q.shape, (view.t.size, N_DOFS))


def test_projection_round_trip() -> None:
    camera = WeakPerspective(
        scale=np.array([200.0, 250.0]), offset=np.array([[100.0, 50.0], [120.0, 60.0]]), size=(640.0, 480.0)
    )
    points = np.random.default_rng(1).normal(size=(2, 5, 3))
    np.testing.assert_allclose(camera.unproject(camera.project(points)), points[..., :2])
