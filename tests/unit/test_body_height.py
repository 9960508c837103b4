"""Height from landmarks, against people of known stature made by our forward kinematics.

The synthetic person has exactly the stature fractions the estimate assumes (Drillis & Contini 1966, in
Winter 2009): ankle 0.039 H above the floor, shank 0.246 H, thigh 0.245 H, trunk (hip to shoulder level)
0.288 H, upper arm 0.186 H, forearm 0.146 H, eyes at 0.936 H standing, heels on the floor. A stature H is
the template (built for 1.75 m) scaled by H / 1.75, so the estimate must return H, within the landmark
noise, whatever H is: it may not pull anybody towards an average. A height the user gives replaces the
estimate and rescales every length by the same factor.
"""

from __future__ import annotations

import math
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from workbench.body import MeasurementError, Measurements, estimate_body, measure_landmarks
from workbench.body.measurements import LANDMARK_SCALE_REL_SD, STATURE_FRACTIONS, combine_heights, with_given_height
from workbench.pose.fk import Segments, face_template, forward_kinematics
from workbench.pose.landmarks import MP_INDEX, LandmarkTrack
from workbench.skeleton import N_DOFS, dof_index

H0 = 1.75
FPS = 30.0
EYE_ABOVE_HEAD_JOINT = float(face_template()["left_eye"][1])  # the face template is in metres, unscaled


def template(h: float = H0) -> Segments:
    """Segments of a person of stature ``h`` with the tables' fractions (eyes at 0.936 h via the neck)."""
    neck = (0.936 - 0.818) * h - EYE_ABOVE_HEAD_JOINT
    return Segments(
        ankle_height=0.039 * h,
        shank=0.246 * h,
        thigh=0.245 * h,
        trunk=0.288 * h,
        neck=neck,
        upper_arm=0.186 * h,
        forearm=0.146 * h,
    )


def squats(n: int, knee_min_deg: float, knee_max_deg: float) -> np.ndarray:
    """(n, 46) slow squats between two knee angles, arms hanging, hips following the knees."""
    u = 0.5 - 0.5 * np.cos(2 * math.pi * np.arange(n) / (2.5 * FPS))
    q = np.zeros((n, N_DOFS))
    knee = np.radians(knee_min_deg + (knee_max_deg - knee_min_deg) * u)
    for s in "rl":
        q[:, dof_index(f"knee_angle_{s}")] = knee
        q[:, dof_index(f"hip_flexion_{s}")] = 0.9 * knee
        q[:, dof_index(f"ankle_angle_{s}")] = 0.3 * knee
    q[:, dof_index("shoulder_r_x")], q[:, dof_index("shoulder_l_x")] = -math.radians(80), math.radians(80)
    q[:, dof_index("elbow_flexion_r")] = q[:, dof_index("elbow_flexion_l")] = math.radians(20)
    return q


def person(
    stature: float,
    *,
    n: int = 150,
    knee_min_deg: float = 0.0,
    knee_max_deg: float = 95.0,
    view_yaw_deg: float = 30.0,
    noise_m: float = 0.005,
    seed: int = 0,
) -> LandmarkTrack:
    """Landmarks of a person of ``stature`` squatting (standing straight at the top when knee_min is ~0),
    seen turned by ``view_yaw_deg``; in a side view (|yaw| > 60°) the far side is marked poorly visible."""
    q = squats(n, knee_min_deg, knee_max_deg)
    world = forward_kinematics(q, template(), scale=stature / H0, view_yaw=math.radians(view_yaw_deg))
    world = world + np.random.default_rng(seed).normal(0.0, noise_m, world.shape)
    vis = np.full(world.shape[:2], 0.95)
    if abs(view_yaw_deg) > 60:
        far = "right" if view_yaw_deg > 0 else "left"
        vis[:, [i for name, i in MP_INDEX.items() if name.startswith(far)]] = 0.3
    return LandmarkTrack(world=world, visibility=vis, t=np.arange(n) / FPS, source=f"fk {stature} m")


def test_the_synthetic_person_has_the_tables_fractions() -> None:
    """Ground truth of the fixtures: standing straight, heel-to-eye = 0.936 H and heels on the floor."""
    q = squats(1, 0.0, 0.0)
    p = forward_kinematics(q, template(), scale=1.6 / H0)[0]
    up = -p[:, 1]  # MediaPipe's y points down
    assert up[MP_INDEX["left_eye"]] - up[MP_INDEX["left_heel"]] == pytest.approx(0.936 * 1.6, abs=1e-9)
    assert np.linalg.norm(p[MP_INDEX["left_hip"]] - p[MP_INDEX["left_knee"]]) == pytest.approx(0.245 * 1.6)
    assert up[MP_INDEX["left_foot_index"]] == pytest.approx(up[MP_INDEX["left_heel"]], abs=1e-9)


@pytest.mark.parametrize("stature", [1.52, 1.75, 1.98])
@pytest.mark.parametrize("yaw", [0.0, 80.0])
def test_height_of_a_known_stature_comes_back(stature: float, yaw: float) -> None:
    m = measure_landmarks(person(stature, view_yaw_deg=yaw))
    assert m.height_m == pytest.approx(stature, rel=0.015)  # any stature: nobody is pulled towards an average
    assert m.height_from == "landmarks" and m.n_frames > 10
    assert "standing height" in m.height_basis
    # the sd keeps MediaPipe's ±5 % scale: one camera does not know absolute size
    assert LANDMARK_SCALE_REL_SD * stature < m.height_sd_m < 0.08 * stature  # type: ignore[operator]
    assert {e.dimension for e in m.height_estimates} == set(STATURE_FRACTIONS)
    assert all(e.height_m == pytest.approx(stature, rel=0.03) for e in m.height_estimates)
    assert m.to_context().startswith(f"User body: height {m.height_m:.2f} m (± {m.height_sd_m:.2f} m, estimated ")
    body = m.to_json()
    assert body["height_source"] == "landmarks" and set(body["height_estimates"]) == set(STATURE_FRACTIONS)
    assert "cannot measure absolute size" in body["uncertainty"] and "--height" in body["uncertainty"]


def test_no_standing_frame_uses_segment_lengths_and_warns_once() -> None:
    track = person(1.68, knee_min_deg=40.0, view_yaw_deg=85.0)  # a lunge-like clip: never straight
    m, warnings = estimate_body(landmarks=track)
    assert m is not None and m.height_m == pytest.approx(1.68, rel=0.02) and m.n_frames == 0
    assert m.height_basis == "estimated from segment lengths"
    assert "standing" not in {e.dimension for e in m.height_estimates}
    assert m.warnings == ("no frame where the person stands straight: height from segment lengths",)
    assert warnings == []  # the measurement carries its own warning; estimate_body does not repeat it


def _short_forearms(track: LandmarkTrack, factor: float) -> LandmarkTrack:
    world = track.world.copy()
    for s in ("left", "right"):
        e, w = MP_INDEX[f"{s}_elbow"], MP_INDEX[f"{s}_wrist"]
        world[:, w] = world[:, e] + factor * (world[:, w] - world[:, e])
    return replace(track, world=world)


def test_a_dimension_that_disagrees_loses_weight_or_is_left_out() -> None:
    """MediaPipe misplacing the wrists in every frame (a held pose: a forearm plank): 12 % short, the forearm
    still counts, with its weight cut; 30 % short, it is left out and the height stays right."""
    track = person(1.75)
    mild = measure_landmarks(_short_forearms(track, 0.88))
    forearm = {e.dimension: e for e in mild.height_estimates}["forearm"]
    assert forearm.weight > 0 and "weight cut" in mild.uncertainty
    assert mild.height_m == pytest.approx(1.75, rel=0.015)
    bad = measure_landmarks(_short_forearms(track, 0.7))
    forearm = {e.dimension: e for e in bad.height_estimates}["forearm"]
    assert forearm.height_m == pytest.approx(0.7 * 1.75, rel=0.03) and forearm.weight == 0.0
    assert bad.height_m == pytest.approx(1.75, rel=0.015) and "forearm" in bad.uncertainty
    assert "left out" in bad.uncertainty


def test_combination_inflates_its_error_when_dimensions_disagree() -> None:
    from workbench.body.measurements import HeightEstimate

    agree = [HeightEstimate(d, 0.0, 1.70, 0.05, 100) for d in ("leg", "trunk", "forearm")]
    spread = [replace(e, height_m=h) for e, h in zip(agree, (1.60, 1.70, 1.80), strict=True)]
    h1, se1, w1 = combine_heights(agree)
    h2, se2, _ = combine_heights(spread)
    assert h1 == pytest.approx(1.70) and se1 == pytest.approx(0.05 / math.sqrt(3))
    assert h2 == pytest.approx(1.70) and se2 > se1
    assert sum(e.weight for e in w1) == pytest.approx(1.0)
    with pytest.raises(MeasurementError, match="no body dimension seen"):
        combine_heights([])


def test_given_height_replaces_the_estimate_and_rescales_every_length() -> None:
    track = person(1.60)
    estimated = measure_landmarks(track)
    told = measure_landmarks(track, height_m=1.84)
    s = 1.84 / estimated.height_m
    assert told.height_m == 1.84 and told.height_sd_m is None and told.height_from == "given"
    assert told.estimated_height_m == pytest.approx(estimated.height_m) and told.scale == pytest.approx(s)
    assert told.segments_m["thigh"] == pytest.approx(estimated.segments_m["thigh"] * s)
    assert told.segments_m["thigh"] == pytest.approx(0.245 * 1.84, rel=0.02)  # the person's true proportion
    assert told.to_context().startswith("User body: height 1.84 m (given), mass not measured")
    body = told.to_json()
    assert body["height_source"] == "given" and body["height_m"] == 1.84 and body["height_sd_m"] is None
    assert body["estimated_height_m"] == pytest.approx(estimated.height_m, abs=1e-4)
    assert "given by the user" in body["uncertainty"]


def test_given_height_on_the_mesh_scales_girths_and_volume_mass() -> None:
    mesh = Measurements(
        height_m=1.70,
        mass_kg=70.0,
        chest_m=1.0,
        waist_m=0.8,
        hips_m=0.95,
        method="mesh",
        source="t",
        mass_source="volume",
    )
    told = with_given_height(mesh, 1.87)
    assert told.chest_m == pytest.approx(1.1) and told.waist_m == pytest.approx(0.88)
    assert told.mass_kg == pytest.approx(70.0 * 1.1**3)
    assert told.to_context() == (
        "User body: height 1.87 m (given), mass 93.17kg, chest 1.10m, waist 0.88m, hips 1.04m."
    )
    weighed = with_given_height(replace(mesh, mass_source="user"), 1.87)
    assert weighed.mass_kg == 70.0  # a mass the user gave is not rescaled


def test_given_height_without_anything_to_measure() -> None:
    m, warnings = estimate_body(height_m=1.71)
    assert m is not None and m.method == "given" and m.height_m == 1.71 and not warnings
    assert m.to_context().startswith("User body: height 1.71 m (given), mass not measured, chest, waist")


@pytest.mark.parametrize("height", [0.0, -1.7, 178.0, float("nan")])
def test_a_height_that_is_not_a_persons_is_refused(height: float) -> None:
    with pytest.raises(MeasurementError, match="expected the person's height in metres"):
        estimate_body(landmarks=person(1.7, n=20), height_m=height)


def test_the_warning_is_listed_once_in_the_analysis(tmp_path: Path) -> None:
    """Issue 14: 'no frame where the person stands straight' was printed twice (the pipeline listed the
    warnings estimate_body returned, and the analysis listed the measurement's own again)."""
    from workbench.pipeline import analyze_clip

    track = person(1.7, n=240, knee_min_deg=40.0)
    path = tmp_path / "bent.npz"
    np.savez(path, landmarks_world=track.world, visibility=track.visibility, fps=FPS)
    result = analyze_clip(path, "squat", db=None).analysis
    assert sum("stands straight" in w for w in result.warnings) == 1
    assert result.body is not None and result.body["height_source"] == "landmarks"
    told = analyze_clip(path, "squat", db=None, height_m=1.9).analysis
    assert told.body is not None and told.body["height_m"] == 1.9 and "height 1.90 m (given)" in told.context_morph
