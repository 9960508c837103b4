"""The 3D skeleton's geometry (workbench.render.skeleton3d) against known answers, and its figure."""

from __future__ import annotations

import math
from types import SimpleNamespace

import numpy as np
import pytest

from workbench.pose.fk import ADULT, Segments
from workbench.render.skeleton3d import (
    BONES,
    POINT_INDEX,
    SKEL_TO_DISPLAY,
    VIOLATION_COLOR,
    bone_lines,
    clip_skeleton_figure,
    joint_positions,
    reference_pose,
    reference_sample,
    rep_at,
    skeleton_figure,
    standing_height,
    violated_points,
)
from workbench.skeleton import N_DOFS, dof_index, mirror_pose


def _at(points: np.ndarray, name: str) -> np.ndarray:
    return points[POINT_INDEX[name]]


def test_display_frame_is_a_rotation_not_a_mirror() -> None:
    assert np.allclose(SKEL_TO_DISPLAY @ SKEL_TO_DISPLAY.T, np.eye(3))
    assert math.isclose(float(np.linalg.det(SKEL_TO_DISPLAY)), 1.0)


@pytest.mark.parametrize("seg", [ADULT, Segments(thigh=0.5, shank=0.47, trunk=0.6, neck=0.08, ankle_height=0.08)])
def test_zero_angles_stand_on_the_floor_as_tall_as_the_segments(seg: Segments) -> None:
    p = joint_positions(np.zeros(N_DOFS), seg)
    h = seg.ankle_height + seg.shank + seg.thigh + seg.trunk + seg.neck
    assert math.isclose(standing_height(seg), h)
    assert math.isclose(_at(p, "head")[2], h, abs_tol=1e-9)
    for side in ("left", "right"):
        assert math.isclose(_at(p, f"{side}_heel")[2], 0.0, abs_tol=1e-9)
        assert math.isclose(_at(p, f"{side}_foot_index")[2], 0.0, abs_tol=1e-9)
        assert math.isclose(_at(p, f"{side}_ankle")[2], seg.ankle_height, abs_tol=1e-9)
        assert math.isclose(_at(p, f"{side}_knee")[2], seg.ankle_height + seg.shank, abs_tol=1e-9)
        assert math.isclose(_at(p, f"{side}_hip")[2], seg.ankle_height + seg.shank + seg.thigh, abs_tol=1e-9)
        assert math.isclose(
            _at(p, f"{side}_shoulder")[2], seg.ankle_height + seg.shank + seg.thigh + seg.trunk, abs_tol=1e-9
        )
    # x is the subject's right, y forward: the right hip on +x, the toes in front of the heels
    assert _at(p, "right_hip")[0] == pytest.approx(seg.hip_half_width)
    assert _at(p, "left_hip")[0] == pytest.approx(-seg.hip_half_width)
    assert _at(p, "right_foot_index")[1] > 0 > _at(p, "right_heel")[1]
    assert _at(p, "nose")[1] > 0  # the face looks forward


def test_90_degrees_of_knee_flexion_put_the_ankle_behind_the_knee() -> None:
    q = np.zeros(N_DOFS)
    q[dof_index("knee_angle_r")] = math.pi / 2
    p = joint_positions(q)
    knee, ankle = _at(p, "right_knee"), _at(p, "right_ankle")
    # level with the knee, one shank behind it
    assert np.allclose(ankle, knee + np.array([0.0, -ADULT.shank, 0.0]), atol=1e-9)
    assert np.allclose(_at(p, "left_ankle"), [-ADULT.hip_half_width, 0.0, ADULT.ankle_height], atol=1e-9)


def test_90_degrees_of_hip_flexion_put_the_knee_in_front_of_the_hip() -> None:
    q = np.zeros(N_DOFS)
    q[dof_index("hip_flexion_l")] = math.pi / 2
    p = joint_positions(q)
    assert np.allclose(_at(p, "left_knee"), _at(p, "left_hip") + np.array([0.0, ADULT.thigh, 0.0]), atol=1e-9)


def test_a_track_gives_one_pose_per_frame_and_nan_reads_as_zero() -> None:
    q = np.zeros((3, N_DOFS))
    q[1, dof_index("knee_angle_l")] = 1.0
    q[2, :] = np.nan
    p = joint_positions(q)
    assert p.shape == (3, len(POINT_INDEX), 3)
    assert np.allclose(p[2], p[0]) and not np.allclose(p[1], p[0])


def test_bone_lines_separate_each_bone() -> None:
    p = joint_positions(np.zeros(N_DOFS))
    xs, ys, zs = bone_lines(p)
    assert len(xs) == len(ys) == len(zs) == 3 * len(BONES)
    assert xs[2::3] == [None] * len(BONES)
    a, b = BONES[0]
    assert (xs[0], zs[1]) == (pytest.approx(_at(p, a)[0]), pytest.approx(_at(p, b)[2]))


def _rep(start: float, end: float, side: str | None = None, violations: tuple = ()) -> SimpleNamespace:
    return SimpleNamespace(start_s=start, end_s=end, side=side, violations=violations, index=0)


def test_the_cursor_phase_maps_to_the_reference_sample() -> None:
    rep = _rep(2.0, 4.0)
    assert reference_sample(rep, 2.0, 101) == 0  # type: ignore[arg-type]
    assert reference_sample(rep, 3.0, 101) == 50  # type: ignore[arg-type]
    assert reference_sample(rep, 4.0, 101) == 100  # type: ignore[arg-type]
    assert reference_sample(rep, 9.0, 101) == 100  # type: ignore[arg-type]
    assert rep_at([rep], 3.0) is rep and rep_at([rep], 4.5) is None  # type: ignore[list-item]


def test_the_reference_is_mirrored_for_a_rep_of_the_other_side() -> None:
    mean = np.random.default_rng(0).normal(size=(N_DOFS, 11))
    ex = SimpleNamespace(reference=SimpleNamespace(mean=mean, n_samples=11), reference_side="right")
    assert np.allclose(reference_pose(ex, _rep(0.0, 1.0, "right"), 0.5), mean[:, 5])  # type: ignore[arg-type]
    assert np.allclose(reference_pose(ex, _rep(0.0, 1.0, "left"), 0.5), mirror_pose(mean[:, 5]))  # type: ignore[arg-type]
    assert reference_pose(SimpleNamespace(reference=None), _rep(0.0, 1.0), 0.5) is None  # type: ignore[arg-type]


def test_violations_colour_their_joints_and_the_ghost_is_grey() -> None:
    assert violated_points(["tibia_r"]) == {"right_knee"}
    fig = skeleton_figure(np.zeros(N_DOFS), violated={"right_knee"}, ghost=np.zeros(N_DOFS), title="t")
    names = [d["name"] for d in fig["data"]]
    assert names[0] == "reference" and "rgba(120, 120, 120" in fig["data"][0]["line"]["color"]
    red = next(d for d in fig["data"] if d["name"] == "in violation")
    assert red["line"]["color"] == VIOLATION_COLOR and len(red["x"]) == 3 * 2  # hip–knee and knee–ankle
    joints = fig["data"][-1]
    assert joints["marker"]["color"][joints["text"].index("right knee")] == VIOLATION_COLOR
    assert fig["layout"]["uirevision"] == "skeleton3d"  # the user's camera survives a new pose


def test_clip_figure_follows_the_cursor_with_the_example() -> None:
    from workbench.dashboard.state import EXAMPLE_CLIP, EXAMPLE_EXERCISE
    from workbench.exercises import load_catalogue
    from workbench.motion.analysis import analyze
    from workbench.pose.posefile import load_npz

    track = load_npz(EXAMPLE_CLIP)
    analysis = analyze(track, EXAMPLE_EXERCISE)
    result = SimpleNamespace(estimate=SimpleNamespace(track=track), analysis=analysis, fit=None)
    exercise = load_catalogue().get(EXAMPLE_EXERCISE)
    rep = analysis.reps[0]
    mid = 0.5 * (rep.start_s + rep.end_s)
    fig = clip_skeleton_figure(result, mid, exercise)
    assert "rep 1" in fig["layout"]["title"]["text"]
    assert (fig["data"][0]["name"] == "reference") == (exercise.reference is not None)
    outside = clip_skeleton_figure(result, 0.0, exercise)
    assert "between reps" in outside["layout"]["title"]["text"] and outside["data"][0]["name"] != "reference"


def test_the_notebook_inspector_shows_the_3d_view_and_moves_it() -> None:
    from workbench.dashboard import notebook as nbv
    from workbench.dashboard.state import EXAMPLE_CLIP, EXAMPLE_EXERCISE
    from workbench.exercises import load_catalogue
    from workbench.motion.analysis import analyze
    from workbench.pose.backends import PoseEstimate
    from workbench.pose.posefile import load_npz

    track = load_npz(EXAMPLE_CLIP)
    result = SimpleNamespace(
        estimate=PoseEstimate(track=track, backend="pose"), analysis=analyze(track, EXAMPLE_EXERCISE), fit=None
    )
    exercise = load_catalogue().get(EXAMPLE_EXERCISE)
    pane = nbv.skeleton_3d(result, 9.5, exercise)
    assert pane.object["layout"]["title"]["text"].startswith("9.51 s")
    inspector = nbv.ClipInspector(result, exercise, t_s=9.0)
    inspector.at(11.0)
    assert inspector.skeleton3d.object["layout"]["title"]["text"].startswith("11.01 s")
