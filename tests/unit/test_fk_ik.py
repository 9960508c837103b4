"""Forward kinematics (our SKEL-like chain) and analytic IK: exact inverse, signs, mirror rules, holds, speed.

Ground truth: FK places the 33 MediaPipe landmarks from known SKEL angles; IK must give them back. The random
poses stay inside the registry's limits except where a decomposition is singular or a DoF is unobservable:
  - pelvis_list within ±80° (pelvis Euler order: ±90° is gimbal lock, lying on one side);
  - shoulder_*_y within ±80° (the humerus order x, y, z is in gimbal lock at y = ±90°, the limit itself);
  - knee and elbow flexion ≥ 30° (a straight limb hides its axial twist: hip rotation is held and the
    shoulder takes the twist-free choice; tested separately below);
  - the DoFs that IK does not observe are 0 (scapula, mtp, and the trunk split's lumbar_extension,
    lumbar_twist, thorax_bending, thorax_extension).
"""

from __future__ import annotations

import math
import time

import numpy as np
import pytest

from workbench.pose.fk import (
    DOF_AXES,
    axis_rotation,
    euler_angles,
    forward_kinematics,
    joint_angles,
    joint_rotation,
    skel_landmarks,
)
from workbench.pose.ik import OBSERVED, UNOBSERVED_DOFS, solve_ik
from workbench.pose.landmark_files import landmarks_to_track
from workbench.pose.landmarks import MP_INDEX, MP_MIRROR, LandmarkTrack
from workbench.skeleton import DOF_NAMES, DOFS, N_DOFS, dof_index, limits_rad, mirror_pose

TOLERANCE_DEG = 2.0


def random_poses(n: int, seed: int = 0) -> np.ndarray:
    """Poses inside the registry limits, restricted as the module docstring says."""
    rng = np.random.default_rng(seed)
    q = np.zeros((n, N_DOFS))
    for i, name in enumerate(DOF_NAMES):
        lo, hi = limits_rad(name) or (-math.pi, math.pi)
        q[:, i] = rng.uniform(lo, hi, n)
    narrow = {"pelvis_list": (-80, 80), "shoulder_r_y": (-80, 80), "shoulder_l_y": (-80, 80),
              "knee_angle_r": (30, 135), "knee_angle_l": (30, 135),
              "elbow_flexion_r": (30, 135), "elbow_flexion_l": (30, 135)}  # fmt: skip
    for name, (lo, hi) in narrow.items():
        q[:, dof_index(name)] = np.radians(rng.uniform(lo, hi, n))
    q[:, ~OBSERVED] = 0.0
    return q


def angle_error_deg(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """|a − b| in degrees, wrapped to [0, 180] (pelvis_rotation is unwrapped over time by IK)."""
    return np.degrees(np.abs(np.angle(np.exp(1j * (a - b)))))


def pose(**deg: float) -> np.ndarray:
    q = np.zeros((1, N_DOFS))
    for name, value in deg.items():
        q[0, dof_index(name)] = math.radians(value)
    return q


def skel_point(q: np.ndarray, name: str) -> np.ndarray:
    """One landmark in the SKEL frame (x left, y up, z forward)."""
    return skel_landmarks(q)[0, MP_INDEX[name]]


# ------------------------------------------------------------------------------------- rotations


@pytest.mark.parametrize("axes", [(0, 1, 2), (0, 2, 1), (1, 0, 2), (1, 2, 0), (2, 0, 1), (2, 1, 0)])
def test_euler_angles_invert_every_axis_order(axes: tuple[int, int, int]) -> None:
    theta = np.random.default_rng(1).uniform(-1.5, 1.5, (200, 3))
    a, b, c = (axis_rotation(axis, theta[:, k]) for k, axis in enumerate(axes))
    rot = a @ b @ c
    np.testing.assert_allclose(euler_angles(rot, axes), theta, atol=1e-12)


def test_joint_rotation_composes_by_left_multiplying_in_dof_order() -> None:
    """SKEL: R = R3 · R2 · R1 for a joint's DoFs in the registry's order."""
    q = random_poses(5, seed=2)
    for name in ("pelvis", "femur_r", "humerus_l", "head"):
        from workbench.skeleton import joint

        d1, d2, d3 = joint(name).dofs
        parts = [axis_rotation(DOF_AXES[i][0], DOF_AXES[i][1] * q[:, i]) for i in (d1, d2, d3)]
        np.testing.assert_allclose(joint_rotation(q, name), parts[2] @ parts[1] @ parts[0], atol=1e-12)
        np.testing.assert_allclose(joint_angles(joint_rotation(q, name), name), q[:, [d1, d2, d3]], atol=1e-9)


def test_left_axes_are_the_mirror_of_the_right() -> None:
    """A left DoF turns about the same axis as its right twin; its sign follows SKEL's mirror rule."""
    for d in DOFS:
        if d.side != "left" or d.index not in DOF_AXES:
            continue
        axis_l, sign_l = DOF_AXES[d.index]
        axis_r, sign_r = DOF_AXES[dof_index(d.mirror)]
        assert axis_l == axis_r, d.name
        assert sign_l == sign_r * (1 if axis_r == 0 else -1) * d.mirror_sign, d.name


# ----------------------------------------------------------------------------------- FK semantics


@pytest.mark.parametrize(
    ("dofs", "landmark", "direction"),
    [
        ({"hip_flexion_r": 60}, "right_knee", (0, 0, 1)),  # thigh forwards
        ({"hip_adduction_r": 20}, "right_knee", (1, 0, 0)),  # right knee towards the midline (+x)
        ({"hip_adduction_l": 20}, "left_knee", (-1, 0, 0)),
        ({"knee_angle_l": 60}, "left_ankle", (0, 0, -1)),  # shank backwards
        ({"ankle_angle_r": 30}, "right_foot_index", (0, 1, 0)),  # toes up
        ({"elbow_flexion_r": 60}, "right_wrist", (0, 0, 1)),  # forearm forwards
        ({"elbow_flexion_l": 60}, "left_wrist", (0, 0, 1)),
        ({"shoulder_r_x": 40}, "right_elbow", (0, 1, 0)),  # arm rises
        ({"shoulder_l_x": -40}, "left_elbow", (0, 1, 0)),  # the mirror negates shoulder_x
        ({"shoulder_r_z": 40}, "right_elbow", (0, 0, 1)),  # horizontal flexion forwards
        ({"shoulder_l_z": 40}, "left_elbow", (0, 0, 1)),
        ({"lumbar_extension": 20}, "nose", (0, 0, -1)),  # trunk tips backwards
        ({"pelvis_tilt": 20}, "nose", (0, 0, -1)),  # posterior tilt: the top goes backwards
        ({"lumbar_bending": 20}, "nose", (-1, 0, 0)),  # bends to the right
        ({"head_extension": 30}, "nose", (0, 1, 0)),  # chin up: the nose rises
        ({"wrist_flexion_r": 40}, "right_index", (0, -1, 0)),  # palm (down) side
    ],
)
def test_positive_angles_move_landmarks_as_skel_says(dofs: dict[str, float], landmark: str,
                                                     direction: tuple[int, int, int]) -> None:  # fmt: skip
    moved = skel_point(pose(**dofs), landmark) - skel_point(pose(), landmark)
    assert float(moved @ np.array(direction)) > 0.5 * np.linalg.norm(moved)


def test_arms_hang_at_minus_90_right_and_plus_90_left() -> None:
    q = pose(shoulder_r_x=-90, shoulder_l_x=90)
    for side in ("right", "left"):
        arm = skel_point(q, f"{side}_wrist") - skel_point(q, f"{side}_shoulder")
        np.testing.assert_allclose(arm / np.linalg.norm(arm), [0, -1, 0], atol=1e-12)


def test_prone_plank_is_pelvis_tilt_minus_90() -> None:
    q = pose(pelvis_tilt=-90)
    trunk = skel_point(q, "nose") - skel_point(q, "left_hip")
    assert trunk[2] > 0.5 and abs(trunk[1]) < 0.15  # head forwards, body horizontal
    assert skel_point(q, "left_foot_index")[1] < skel_point(q, "left_heel")[1]  # toes point down


def test_camera_in_front_maps_skel_to_mediapipe_axes() -> None:
    """Subject facing the camera: their left is image-right (+x), up is −y, their front is nearer (−z)."""
    world = forward_kinematics(np.zeros(N_DOFS))[0]
    assert world[MP_INDEX["left_shoulder"], 0] > world[MP_INDEX["right_shoulder"], 0]
    assert world[MP_INDEX["nose"], 1] < world[MP_INDEX["left_hip"], 1]
    assert world[MP_INDEX["nose"], 2] < world[MP_INDEX["left_ear"], 2]
    side = forward_kinematics(np.zeros(N_DOFS), view_yaw=math.pi / 2)[0]
    assert side[MP_INDEX["nose"], 0] > side[MP_INDEX["left_ear"], 0]  # faces image-right


def test_fk_of_mirrored_pose_is_the_mirror_image() -> None:
    q = random_poses(300, seed=3)
    mirrored = skel_landmarks(mirror_pose(q))
    expected = skel_landmarks(q)[:, list(MP_MIRROR)] * np.array([-1.0, 1.0, 1.0])
    np.testing.assert_allclose(mirrored, expected, atol=1e-12)


# ------------------------------------------------------------------------------------- IK = FK⁻¹


def test_zero_pose_gives_zeros() -> None:
    """T-pose: every observed DoF reads 0. The hip rotation of a straight knee is not seen at all in a
    one-frame track, so it is NaN and unobserved (never invented)."""
    result = solve_ik(forward_kinematics(np.zeros((1, N_DOFS))))
    seen = result.observed
    np.testing.assert_allclose(result.q[0, seen], 0.0, atol=1e-12)
    assert not seen[dof_index("hip_rotation_r")] and not seen[dof_index("hip_rotation_l")]
    assert np.isnan(result.q[0, ~seen]).all()


def test_ik_recovers_every_observable_dof_within_2_degrees_over_random_poses() -> None:
    q = random_poses(2000, seed=4)
    yaw = np.random.default_rng(5).uniform(-math.pi, math.pi)
    world = forward_kinematics(q, scale=1.1, view_yaw=yaw)
    result = solve_ik(world)
    expected = q.copy()
    expected[:, dof_index("pelvis_rotation")] += yaw  # the camera sees the heading relative to itself
    error = angle_error_deg(result.q, expected)
    np.testing.assert_array_equal(result.observed, OBSERVED)
    worst = {DOF_NAMES[i]: float(error[:, i].max()) for i in np.flatnonzero(OBSERVED)}
    print("max IK error per observed DoF (deg):", {k: round(v, 6) for k, v in worst.items()})
    assert max(worst.values()) < TOLERANCE_DEG, worst
    assert np.isnan(result.q[:, ~OBSERVED]).all()


def test_ik_of_mirrored_poses_is_the_mirror_of_ik() -> None:
    q = random_poses(500, seed=6)
    direct = solve_ik(forward_kinematics(q)).q
    mirrored = solve_ik(forward_kinematics(mirror_pose(q))).q
    seen = OBSERVED
    assert angle_error_deg(mirrored[:, seen], mirror_pose(q)[:, seen]).max() < TOLERANCE_DEG
    assert angle_error_deg(mirror_pose(np.nan_to_num(direct))[:, seen], mirrored[:, seen]).max() < TOLERANCE_DEG


def test_unobserved_dofs_are_named_and_nan() -> None:
    assert {DOF_NAMES[i] for i in np.flatnonzero(~OBSERVED)} == set(UNOBSERVED_DOFS)
    assert any("scapula" in n for n in UNOBSERVED_DOFS) and "mtp_angle_r" in UNOBSERVED_DOFS


def test_known_squat_pose_built_by_hand() -> None:
    """Not through FK: thighs horizontal, shanks vertical, feet flat, trunk leaning 30° forwards, in SKEL's
    frame (x left, y up, z forward). Expected: knees 90°, hips 120° (thigh against the trunk), pelvis tilt
    −30°, ankles 0°, no adduction."""
    world = skel_landmarks(pose(pelvis_tilt=-30))[0]  # face, shoulders and arms ride on the leaning trunk
    for side, x in (("right", -0.1), ("left", 0.1)):
        points = {"hip": (x, 0, 0), "knee": (x, 0, 0.45), "ankle": (x, -0.45, 0.45),
                  "heel": (x, -0.52, 0.40), "foot_index": (x, -0.52, 0.62)}  # fmt: skip
        for name, p in points.items():
            world[MP_INDEX[f"{side}_{name}"]] = p
    q = solve_ik((world * np.array([1.0, -1.0, -1.0]))[None]).q[0]
    got = {n: math.degrees(q[dof_index(n)]) for n in ("knee_angle_r", "knee_angle_l", "hip_flexion_r",
                                                       "hip_flexion_l", "pelvis_tilt", "ankle_angle_r",
                                                       "hip_adduction_l", "hip_rotation_r")}  # fmt: skip
    expected = {"knee_angle_r": 90, "knee_angle_l": 90, "hip_flexion_r": 120, "hip_flexion_l": 120,
                "pelvis_tilt": -30, "ankle_angle_r": 0, "hip_adduction_l": 0, "hip_rotation_r": 0}  # fmt: skip
    for name, value in expected.items():
        assert got[name] == pytest.approx(value, abs=0.5), (name, got[name])


def test_pushup_prone_body_reads_as_pelvis_tilt_not_hip_flexion() -> None:
    q = pose(pelvis_tilt=-85, shoulder_r_z=80, shoulder_l_z=80, elbow_flexion_r=40, elbow_flexion_l=40,
             knee_angle_r=5, knee_angle_l=5)  # fmt: skip
    got = solve_ik(forward_kinematics(q)).q[0]
    assert math.degrees(got[dof_index("pelvis_tilt")]) == pytest.approx(-85, abs=1e-6)
    assert math.degrees(got[dof_index("hip_flexion_r")]) == pytest.approx(0, abs=1e-6)


# -------------------------------------------------------------------------- twists of straight limbs


def _squat_then_stand(n: int = 40) -> np.ndarray:
    """Frames 0-9 standing straight (rotation 0, unseen), 10-19 knees at 60° with hip rotation 20°,
    20-39 standing straight again with a true rotation of 5° (unseen)."""
    q = np.zeros((n, N_DOFS))
    for s in "rl":
        q[10:20, dof_index(f"knee_angle_{s}")] = math.radians(60)
        q[10:20, dof_index(f"hip_flexion_{s}")] = math.radians(50)
        q[10:20, dof_index(f"hip_rotation_{s}")] = math.radians(20)
        q[20:, dof_index(f"hip_rotation_{s}")] = math.radians(5)
        q[:, dof_index(f"knee_angle_{s}")] += math.radians(2)
    return q


def test_straight_knee_holds_the_thighs_last_bent_knee_twist_and_lowers_confidence() -> None:
    """Standing, the thigh's twist is the hip rotation: it keeps the bent-knee value (20°)."""
    q = _squat_then_stand()
    result = solve_ik(forward_kinematics(q))
    rotation = np.degrees(result.q[:, dof_index("hip_rotation_r")])
    np.testing.assert_allclose(rotation, 20.0, atol=1e-6)  # before the bend: the first bent value
    flexion = np.degrees(result.q[:, dof_index("hip_flexion_r")])
    np.testing.assert_allclose(flexion[10:20], 50.0, atol=1e-6)
    assert (result.confidence[:10] < 1).all() and (result.confidence[10:20] == 1).all()
    assert "thigh_twist_r" in result.hold
    # The next chunk continues from the held twist.
    later = solve_ik(forward_kinematics(q[25:]), hold=result.hold)
    np.testing.assert_allclose(np.degrees(later.q[:, dof_index("hip_rotation_l")]), 20.0, atol=1e-6)


def test_hip_at_exactly_90_degrees_flexion_keeps_its_adduction() -> None:
    """At 90° hip flexion SKEL's adduction (about the pelvis's forward axis, applied before the rotation
    about the vertical) no longer moves the knee: it twists the thigh. IK reads it from the whole femur
    frame (the bent knee's plane), so it is exact there too, not lost to the thigh's direction."""
    q = pose(hip_flexion_r=90, hip_adduction_r=7, hip_rotation_r=-12, knee_angle_r=100,
             hip_flexion_l=90, hip_adduction_l=-9, hip_rotation_l=15, knee_angle_l=70)  # fmt: skip
    got = solve_ik(forward_kinematics(q)).q
    assert angle_error_deg(got[:, OBSERVED], q[:, OBSERVED]).max() < 1e-6


def test_hip_angles_degrade_gracefully_with_landmark_noise() -> None:
    """Deep flexion (80-120°), 2 mm landmark noise: 95 % of hip and knee angles within 2.5°."""
    rng = np.random.default_rng(11)
    q = np.zeros((400, N_DOFS))
    for s in "rl":
        q[:, dof_index(f"hip_flexion_{s}")] = np.radians(rng.uniform(80, 120, 400))
        q[:, dof_index(f"hip_adduction_{s}")] = np.radians(rng.uniform(-10, 10, 400))
        q[:, dof_index(f"hip_rotation_{s}")] = np.radians(rng.uniform(-15, 15, 400))
        q[:, dof_index(f"knee_angle_{s}")] = np.radians(rng.uniform(80, 120, 400))
    got = solve_ik(forward_kinematics(q) + 0.002 * rng.standard_normal((400, 33, 3))).q
    for name in ("hip_flexion_r", "hip_adduction_r", "hip_rotation_l", "knee_angle_l"):
        error = angle_error_deg(got[:, dof_index(name)], q[:, dof_index(name)])
        assert np.percentile(error, 95) < 2.5, (name, np.percentile(error, 95))


def test_a_knee_that_never_bends_leaves_hip_rotation_unobserved_but_solves_flexion() -> None:
    q = np.zeros((10, N_DOFS))
    q[:, dof_index("hip_flexion_r")] = np.radians(np.linspace(0, 60, 10))
    q[:, dof_index("hip_adduction_l")] = math.radians(-15)
    result = solve_ik(forward_kinematics(q))
    assert not result.observed[dof_index("hip_rotation_r")]
    np.testing.assert_allclose(result.q[:, dof_index("hip_flexion_r")], q[:, dof_index("hip_flexion_r")], atol=1e-9)
    np.testing.assert_allclose(result.q[:, dof_index("hip_adduction_l")], math.radians(-15), atol=1e-9)


def test_straight_arms_take_the_twist_free_shoulder_angles() -> None:
    """A straight arm does not show its twist: IK takes the smallest rotation from the T-pose arm. Arms
    moved in the frontal or the horizontal plane read y = 0 whatever twist FK was given (for a hanging arm
    the twist is z, a turn about the vertical); any straight arm keeps its direction."""
    cases = [({"shoulder_r_x": -90, "shoulder_l_x": 90, "shoulder_r_z": 30}, (-90, 0, 0)),
             ({"shoulder_r_x": 60, "shoulder_l_x": -60}, (60, 0, 0)),
             ({"shoulder_r_z": 70, "shoulder_r_y": 25, "shoulder_l_z": 70}, (0, 0, 70))]  # fmt: skip
    for dofs, (x, y, z) in cases:
        got = np.degrees(solve_ik(forward_kinematics(pose(**dofs))).q[0])
        assert got[dof_index("shoulder_r_x")] == pytest.approx(x, abs=1e-6)
        assert got[dof_index("shoulder_r_y")] == pytest.approx(y, abs=1e-6)
        assert got[dof_index("shoulder_r_z")] == pytest.approx(z, abs=1e-6)
    q = random_poses(200, seed=10)
    q[:, dof_index("elbow_flexion_r")] = 0.0
    back = solve_ik(forward_kinematics(q)).q
    for qq in (q, back):
        qq[:, ~OBSERVED] = 0.0
    arm = [skel_landmarks(x)[:, MP_INDEX["right_elbow"]] - skel_landmarks(x)[:, MP_INDEX["right_shoulder"]]
           for x in (q, back)]  # fmt: skip
    np.testing.assert_allclose(arm[1], arm[0], atol=1e-9)


# ------------------------------------------------------------------------ frames, confidence, speed


def test_lost_frames_give_nan_and_zero_confidence() -> None:
    world = forward_kinematics(random_poses(6, seed=7))
    world[2] = np.nan
    vis = np.full((6, 33), 0.8)
    result = solve_ik(world, vis)
    assert np.isnan(result.q[2]).all() and result.confidence[2] == 0
    np.testing.assert_allclose(result.confidence[[0, 1, 3]], 0.8)


def test_scale_and_camera_yaw_change_nothing_but_the_heading() -> None:
    q = random_poses(50, seed=8)
    a = solve_ik(forward_kinematics(q)).q
    b = solve_ik(forward_kinematics(q, scale=0.6, view_yaw=0.7)).q
    b[:, dof_index("pelvis_rotation")] -= 0.7
    assert angle_error_deg(a[:, OBSERVED], b[:, OBSERVED]).max() < 1e-6


def test_filtering_and_ik_run_at_3000_frames_per_second_or_more() -> None:
    n = 3000
    q = random_poses(n, seed=9) * 0.0 + np.sin(np.linspace(0, 40, n))[:, None] * 0.3
    track = LandmarkTrack(world=forward_kinematics(q), visibility=np.ones((n, 33)), t=np.arange(n) / 30.0)
    landmarks_to_track(track)  # warm-up (imports, caches)
    best = min(_timed(lambda: landmarks_to_track(track)) for _ in range(3))
    print(f"filtering + IK: {n / best:,.0f} frames/s")
    assert n / best >= 3000


def _timed(fn: object) -> float:
    start = time.perf_counter()
    fn()  # type: ignore[operator]
    return time.perf_counter() - start
