"""The fitted skeleton back in the image (pose.reprojection): a perfect fit reprojects with ~0 error.

Ground truth: landmarks made by forward kinematics of known angles with known, non-default segment lengths,
seen through a known weak-perspective camera (300 px/m, hip centre at (640, 380) px in a 1280×720 frame):
the measured segment lengths are those lengths, the skeleton projects onto the image landmarks (error 0 with
the true angles and camera; under 0.5 px through filtering, IK and the fitted camera), and the body height in
pixels is the skeleton's stature times 300.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from tests.camera_support import side_view_squat
from workbench.body.measurements import EYE_HEIGHT_RATIO
from workbench.body.reprojection import fit_skeleton, project_skeleton, stature
from workbench.pose.camera import WeakPerspective
from workbench.pose.fk import ADULT, forward_kinematics
from workbench.pose.landmark_files import landmarks_to_track
from workbench.pose.landmarks import N_LANDMARKS, LandmarkTrack

SIZE = (1280, 720)
SCALE = 300.0
OFFSET = (640.0, 380.0)
PERSON = replace(
    ADULT,
    thigh=0.47,
    shank=0.45,
    upper_arm=0.33,
    forearm=0.27,
    trunk=0.54,
    hip_half_width=0.1,
    shoulder_half_width=0.2,
    ankle_height=0.08,
    heel_back=0.06,
    foot_front=0.19,
)


def exact_landmarks() -> tuple[np.ndarray, LandmarkTrack, WeakPerspective]:
    view = side_view_squat(seconds=3.0)
    world = forward_kinematics(view.q, PERSON)
    n = view.t.size
    camera = WeakPerspective(scale=np.full(n, SCALE), offset=np.tile(OFFSET, (n, 1)), size=SIZE)
    track = LandmarkTrack(
        world=world, visibility=np.ones((n, N_LANDMARKS)), t=view.t, image=camera.project(world), image_size=SIZE
    )
    return view.q, track, camera


def test_true_angles_and_camera_reproject_exactly() -> None:
    q, track, camera = exact_landmarks()
    fit = project_skeleton(q, track.t, PERSON, camera, track)
    assert np.nanmax(fit.error_px) < 1e-6
    np.testing.assert_allclose(fit.height_px, SCALE * stature(PERSON))


def test_fitted_skeleton_of_exact_landmarks_lies_on_them() -> None:
    _, track, _ = exact_landmarks()
    pose, _ = landmarks_to_track(track)
    fit = fit_skeleton(pose, track)
    assert fit is not None and fit.pixels
    for name in (
        "thigh",
        "shank",
        "upper_arm",
        "forearm",
        "trunk",
        "hip_half_width",
        "shoulder_half_width",
        "ankle_height",
        "heel_back",
        "foot_front",
    ):
        assert getattr(fit.segments, name) == pytest.approx(getattr(PERSON, name), rel=0.01), name
    assert np.nanmedian(fit.error_px) < 0.5 and np.nanmax(fit.error_pct) < 0.2
    summary = fit.summary()
    assert summary["error_pct_height"]["median"] < 0.1 and summary["frames_measured"] == track.n_frames
    assert len(summary["per_frame_pct"]) == track.n_frames and summary["height_px"] == pytest.approx(
        SCALE * stature(PERSON), rel=0.01
    )


def test_stature_is_heel_to_eye_over_eye_level() -> None:
    """Heel → ankle → knee → hip → shoulders → head joint, plus the face template's eye height (0.132 m)."""
    assert stature(ADULT) == pytest.approx((0.07 + 0.42 + 0.43 + 0.50 + 0.06 + 0.132) / EYE_HEIGHT_RATIO)
    bigger = replace(ADULT, **{k: 1.1 * v for k, v in vars(ADULT).items()})
    assert stature(bigger) == pytest.approx((1.1 * (0.07 + 0.42 + 0.43 + 0.50 + 0.06) + 0.132) / EYE_HEIGHT_RATIO)


def test_unseen_landmarks_and_missing_image_are_not_measured() -> None:
    q, track, camera = exact_landmarks()
    dim = replace(track, visibility=np.zeros_like(track.visibility))
    assert np.isnan(project_skeleton(q, track.t, PERSON, camera, dim).error_px).all()
    pose, _ = landmarks_to_track(track)
    assert fit_skeleton(pose, replace(track, image=None, image_size=None)) is None
    no_size = fit_skeleton(pose, replace(track, image_size=None))  # pixels unknown: only the percentage
    assert no_size is not None and not no_size.pixels and no_size.summary()["error_px"] is None
    assert no_size.summary()["error_pct_height"]["median"] < 0.1


def test_pipeline_reports_pose_fit_in_the_json(tmp_path: Path) -> None:
    from workbench.pipeline import analyze_clip

    _, track, _ = exact_landmarks()
    path = tmp_path / "clip.npz"
    np.savez(
        path,
        landmarks_world=track.world,
        visibility=track.visibility,
        fps=30.0,
        landmarks_image=track.image,
        image_size=np.array(SIZE),
    )
    result = analyze_clip(path, "squat", db=None)
    doc = result.analysis.to_json()
    assert result.fit is not None
    assert doc["pose_fit"]["error_pct_height"]["median"] < 0.1 and doc["pose_fit"]["error_px"]["median"] < 0.5
    pose_file = tmp_path / "pose.npz"
    np.savez(pose_file, q=np.zeros((40, 46)), fps=30.0)
    assert analyze_clip(pose_file, "squat", db=None).analysis.to_json()["pose_fit"] is None
