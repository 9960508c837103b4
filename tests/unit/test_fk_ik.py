"""Forward kinematics (our SKEL-like chain) and analytic IK: exact inverse, signs, mirror rules, holds, speed.

Ground truth: FK places the 33 MediaPipe landmarks from known SKEL angles; IK must give them back. The random
poses stay inside the registry's limits except where a decomposition is singular or a DoF is unobservable:
  - pelvis_list within ±80° (pelvis Euler order: ±90° is gimbal lock, lying on one side);
  - shoulder_*_y within ±80° (the humerus order x, y, z is in gimbal lock at y = ±90°, the limit itself);
  - knee and elbow flexion ≥ 30° (a straight limb hides its axial twist: hip rotation is held and the
    shoulder takes the twist-free choice; tested separately below, with the elbow's carrying angle);
  - the DoFs that IK does not observe are 0 (scapula, mtp, and the trunk split's lumbar_extension,
    lumbar_twist, thorax_bending, thorax_extension).
"""

from __future__ import annotations

import math
import time

import numpy as np
import pytest

from workbench.pose.fk import (
    ADULT,
    CARRYING_ANGLE_DEG,
    DOF_AXES,
    Segments,
    axis_rotation,
    elbow_rotation,
    euler_angles,
    forward_kinematics,
    joint_angles,
    joint_rotation,
    skel_landmarks,
)
from workbench.pose.ik import OBSERVED, UNOBSERVED_DOFS, IKOptions, elbow_flexion_from_angle, solve_ik
from workbench.pose.landmark_files import landmarks_to_track
from workbench.pose.landmarks import MP_INDEX, MP_MIRROR, LandmarkTrack
from workbench.skeleton import DOF_NAMES, DOFS, N_DOFS, dof_index, joint, limits_rad, mirror_pose

TOLERANCE_DEG = 2.0


def random_poses(n: int, seed: int = 0) -> np.ndarray:
    """Poses inside the registry limits, restricted as the module docstring says."""
    rng = np.random.default_rng(seed)
    q = np.zeros((n, N_DOFS))
    for i, name in enumerate(DOF_NAMES):
        lo, hi = limits_rad(name) or (-math.pi, math.pi)
        q[:, i] = rng.uniform(lo, hi, n)
    narrow = {
        "pelvis_list": (-80, 80),
        "shoulder_r_y": (-80, 80),
        "shoulder_l_y": (-80, 80),
        "knee_angle_r": (30, 135),
        "knee_angle_l": (30, 135),
        "elbow_flexion_r": (30, 135),
        "elbow_flexion_l": (30, 135),
    }
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
def test_positive_angles_move_landmarks_as_skel_says(
    dofs: dict[str, float], landmark: str, direction: tuple[int, int, int]
) -> None:
    moved = skel_point(pose(**dofs), landmark) - skel_point(pose(), landmark)
    assert float(moved @ np.array(direction)) > 0.5 * np.linalg.norm(moved)


def test_arms_hang_at_minus_90_right_and_plus_90_left() -> None:
    """The upper arms hang straight down; the extended forearms deviate laterally (away from the midline) by
    the carrying angle, as in the anatomical position."""
    q = pose(shoulder_r_x=-90, shoulder_l_x=90)
    alpha = math.radians(ADULT.carrying_angle_deg)
    for side, lateral in (("right", -1.0), ("left", 1.0)):
        arm = skel_point(q, f"{side}_elbow") - skel_point(q, f"{side}_shoulder")
        np.testing.assert_allclose(arm / np.linalg.norm(arm), [0, -1, 0], atol=1e-12)
        fore = skel_point(q, f"{side}_wrist") - skel_point(q, f"{side}_elbow")
        np.testing.assert_allclose(
            fore / np.linalg.norm(fore), [lateral * math.sin(alpha), -math.cos(alpha), 0], atol=1e-12
        )


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
        points = {
            "hip": (x, 0, 0),
            "knee": (x, 0, 0.45),
            "ankle": (x, -0.45, 0.45),
            "heel": (x, -0.52, 0.40),
            "foot_index": (x, -0.52, 0.62),
        }
        for name, p in points.items():
            world[MP_INDEX[f"{side}_{name}"]] = p
    q = solve_ik((world * np.array([1.0, -1.0, -1.0]))[None]).q[0]
    got = {
        n: math.degrees(q[dof_index(n)])
        for n in (
            "knee_angle_r",
            "knee_angle_l",
            "hip_flexion_r",
            "hip_flexion_l",
            "pelvis_tilt",
            "ankle_angle_r",
            "hip_adduction_l",
            "hip_rotation_r",
        )
    }
    expected = {
        "knee_angle_r": 90,
        "knee_angle_l": 90,
        "hip_flexion_r": 120,
        "hip_flexion_l": 120,
        "pelvis_tilt": -30,
        "ankle_angle_r": 0,
        "hip_adduction_l": 0,
        "hip_rotation_r": 0,
    }
    for name, value in expected.items():
        assert got[name] == pytest.approx(value, abs=0.5), (name, got[name])


def test_pushup_prone_body_reads_as_pelvis_tilt_not_hip_flexion() -> None:
    q = pose(
        pelvis_tilt=-85,
        shoulder_r_z=80,
        shoulder_l_z=80,
        elbow_flexion_r=40,
        elbow_flexion_l=40,
        knee_angle_r=5,
        knee_angle_l=5,
    )
    got = solve_ik(forward_kinematics(q)).q[0]
    assert math.degrees(got[dof_index("pelvis_tilt")]) == pytest.approx(-85, abs=1e-6)
    assert math.degrees(got[dof_index("hip_flexion_r")]) == pytest.approx(0, abs=1e-6)


# ------------------------------------------------------------------------------ elbow carrying angle

ALPHA = math.radians(CARRYING_ANGLE_DEG)
ELBOWS = (dof_index("elbow_flexion_r"), dof_index("elbow_flexion_l"))
ARM_DOFS = {
    i
    for s in "rl"
    for i in joint(f"humerus_{s}").dofs + joint(f"ulna_{s}").dofs + joint(f"radius_{s}").dofs + joint(f"hand_{s}").dofs
}


def unit(v: np.ndarray) -> np.ndarray:
    return np.asarray(v / np.linalg.norm(v, axis=-1, keepdims=True))


def arm_vectors(q: np.ndarray, side: str, segments: Segments = ADULT) -> tuple[np.ndarray, np.ndarray]:
    """Unit upper arm (shoulder → elbow) and forearm (elbow → wrist) directions, SKEL frame, (T, 3) each."""
    p = skel_landmarks(q, segments)
    shoulder, elbow, wrist = (p[:, MP_INDEX[f"{side}_{j}"]] for j in ("shoulder", "elbow", "wrist"))
    return unit(elbow - shoulder), unit(wrist - elbow)


def test_carrying_angle_is_a_documented_adult_value_and_not_a_length() -> None:
    assert 11.0 <= ADULT.carrying_angle_deg == CARRYING_ANGLE_DEG <= 17.0  # Van Roy et al. 2005: men 11.6, women 16.7
    assert "carrying_angle_deg" not in ADULT.lengths() and ADULT.lengths()["forearm"] == ADULT.forearm


def test_extended_forearm_deviates_up_by_the_carrying_angle_in_the_t_pose() -> None:
    """T-pose = the hanging, palms-forward arm abducted 90°, so anatomical lateral (valgus) is up for both arms."""
    for side, sx in (("right", -1.0), ("left", 1.0)):
        upper, fore = arm_vectors(pose(), side)
        np.testing.assert_allclose(upper[0], [sx, 0, 0], atol=1e-12)
        np.testing.assert_allclose(fore[0], [sx * math.cos(ALPHA), math.sin(ALPHA), 0], atol=1e-12)


@pytest.mark.parametrize("side", ["r", "l"])
def test_flexion_turns_the_forearm_about_the_tilted_axis_onto_the_humerus(side: str) -> None:
    """The flexion axis is the vertical tilted by α/2 towards the body: the forearm keeps its angle to it
    (a cone), comes forwards, and at 180° lies on the humerus; cos(θ/2) = cos(ψ/2) / cos(α/2)."""
    word, sx = ("right", -1.0) if side == "r" else ("left", 1.0)
    theta = np.radians(np.arange(0.0, 181.0, 5.0))
    q = np.zeros((theta.size, N_DOFS))
    q[:, dof_index(f"elbow_flexion_{side}")] = theta
    upper, fore = arm_vectors(q, word)
    axis = np.array([-sx * math.sin(ALPHA / 2), math.cos(ALPHA / 2), 0.0])
    np.testing.assert_allclose(fore @ axis, math.sin(ALPHA / 2), atol=1e-12)
    np.testing.assert_allclose(upper @ axis, -math.sin(ALPHA / 2), atol=1e-12)  # humerus and forearm symmetric
    psi = np.arccos(np.clip(np.einsum("ti,ti->t", upper, fore), -1, 1))
    np.testing.assert_allclose(np.cos(theta / 2), np.cos(psi / 2) / math.cos(ALPHA / 2), atol=1e-12)
    np.testing.assert_allclose(fore[-1], -upper[-1], atol=1e-12)
    assert fore[18, 2] > 0.99  # 90°: forwards
    rot = elbow_rotation(theta, side) @ elbow_rotation(np.zeros(1), side)[0].T  # a pure turn about the axis
    np.testing.assert_allclose(rot @ axis, np.broadcast_to(axis, (theta.size, 3)), atol=1e-12)


def test_zero_carrying_angle_is_the_plain_hinge() -> None:
    theta = np.radians(np.linspace(0, 150, 7))
    q = np.zeros((theta.size, N_DOFS))
    for side in "rl":
        q[:, dof_index(f"elbow_flexion_{side}")] = theta
        np.testing.assert_allclose(elbow_rotation(theta, side, 0.0), joint_rotation(q, f"ulna_{side}"), atol=1e-15)
    hinge = Segments(carrying_angle_deg=0.0)
    np.testing.assert_allclose(elbow_flexion_from_angle(theta, 0.0), theta, atol=1e-15)
    got = solve_ik(forward_kinematics(q, hinge), options=IKOptions(segments=hinge)).q
    np.testing.assert_allclose(got[:, list(ELBOWS)], q[:, list(ELBOWS)], atol=1e-9)


def test_flexion_from_segment_angle_closed_form() -> None:
    psi = np.array([0.0, ALPHA / 2, ALPHA, math.pi, np.nan])
    got = elbow_flexion_from_angle(psi, ALPHA)
    np.testing.assert_allclose(got[:3], 0.0, atol=1e-7)  # straighter than straight reads 0, not hyperextension
    assert got[3] == pytest.approx(math.pi) and np.isnan(got[4])
    theta = np.radians(np.linspace(0.0, 180.0, 181))
    psi = 2 * np.arccos(np.cos(theta / 2) * math.cos(ALPHA / 2))
    np.testing.assert_allclose(elbow_flexion_from_angle(psi, ALPHA), theta, atol=1e-6)
    assert (np.diff(elbow_flexion_from_angle(np.linspace(0, math.pi, 500), ALPHA)) >= 0).all()


@pytest.mark.parametrize("flexion_deg", [0, 5, 15, 30, 60, 90, 120, 135, 150])
def test_round_trip_at_fixed_elbow_flexions_with_the_carrying_angle(flexion_deg: float) -> None:
    """FK with the carrying angle → IK: the elbow exactly at every flexion. From 25° (the twist fully seen)
    every observable DoF within the tolerance; straighter, the shoulder twist is not seen (twist-free choice),
    so the arm's other DoFs are not compared, but the upper arm's direction is kept."""
    q = random_poses(300, seed=20 + flexion_deg)
    q[:, list(ELBOWS)] = math.radians(flexion_deg)
    yaw = 0.4
    result = solve_ik(forward_kinematics(q, scale=0.9, view_yaw=yaw))
    expected = q.copy()
    expected[:, dof_index("pelvis_rotation")] += yaw
    error = angle_error_deg(result.q, expected)
    assert error[:, list(ELBOWS)].max() < 1e-5
    compared = [i for i in np.flatnonzero(OBSERVED) if flexion_deg >= 25 or i not in ARM_DOFS]
    worst = {DOF_NAMES[i]: float(error[:, i].max()) for i in compared}
    assert max(worst.values()) < TOLERANCE_DEG, worst
    back = result.q.copy()
    back[:, dof_index("pelvis_rotation")] -= yaw
    back[:, ~OBSERVED] = 0.0
    for word in ("right", "left"):
        np.testing.assert_allclose(arm_vectors(back, word)[0], arm_vectors(q, word)[0], atol=1e-9)


def test_a_straight_arm_reads_at_most_1_degree_where_its_segments_meet_at_the_carrying_angle() -> None:
    """Built by hand, not through FK: T-pose landmarks with each forearm turned to make ψ with the upper arm,
    towards eight directions around it. ψ = α (the model's straight arm) reads ≤ 1° of flexion (the plain
    hinge read 12°); straighter (ψ = 0, α/2) reads 0."""
    base = skel_landmarks(pose())[0]
    for psi in (0.0, ALPHA / 2, ALPHA):
        for phi in np.radians(np.arange(0, 360, 45)):
            world = base.copy()
            for word, sx in (("right", -1.0), ("left", 1.0)):
                elbow, wrist = world[MP_INDEX[f"{word}_elbow"]], world[MP_INDEX[f"{word}_wrist"]]
                across = np.array([0.0, math.cos(phi), math.sin(phi)])
                moved = elbow + ADULT.forearm * (math.cos(psi) * np.array([sx, 0, 0]) + math.sin(psi) * across)
                for name in ("wrist", "index", "pinky", "thumb"):
                    world[MP_INDEX[f"{word}_{name}"]] += moved - wrist
            got = np.degrees(solve_ik((world * np.array([1.0, -1.0, -1.0]))[None]).q[0, list(ELBOWS)])
            assert (got >= 0).all() and (got <= 1.0).all(), (math.degrees(psi), math.degrees(phi), got)
            if psi < ALPHA:
                np.testing.assert_allclose(got, 0.0, atol=1e-9)


def test_carrying_angle_is_mirror_symmetric() -> None:
    """Left is the mirror image of right at every flexion, straight arms included: FK exactly, and IK
    reads the mirrored pose's elbows (and every observed DoF of the bent ones) as the mirror of its own."""
    q = random_poses(400, seed=31)
    rng = np.random.default_rng(32)
    q[:, list(ELBOWS)] = np.radians(rng.uniform(0, 150, (400, 2)))
    mirrored = skel_landmarks(mirror_pose(q))
    np.testing.assert_allclose(mirrored, skel_landmarks(q)[:, list(MP_MIRROR)] * np.array([-1.0, 1.0, 1.0]), atol=1e-12)
    direct = solve_ik(forward_kinematics(q)).q
    flipped = solve_ik(forward_kinematics(mirror_pose(q))).q
    np.testing.assert_allclose(flipped[:, ELBOWS[0]], direct[:, ELBOWS[1]], atol=1e-9)
    np.testing.assert_allclose(flipped[:, ELBOWS[1]], direct[:, ELBOWS[0]], atol=1e-9)
    bent = (q[:, list(ELBOWS)] >= math.radians(25)).all(axis=1)
    seen = OBSERVED
    assert angle_error_deg(mirror_pose(np.nan_to_num(direct[bent]))[:, seen], flipped[bent][:, seen]).max() < 1e-6


def test_ik_uses_the_carrying_angle_it_is_given() -> None:
    """A person's own carrying angle (here Van Roy's female mean, 16.7°) round-trips when FK and IK share it."""
    seg = Segments(carrying_angle_deg=16.7)
    q = random_poses(300, seed=33)
    got = solve_ik(forward_kinematics(q, seg), options=IKOptions(segments=seg)).q
    assert angle_error_deg(got[:, OBSERVED], q[:, OBSERVED]).max() < 1e-6
    straight = pose()
    assert solve_ik(forward_kinematics(straight, seg), options=IKOptions(segments=seg)).q[0, ELBOWS[0]] < 1e-6


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
    q = pose(
        hip_flexion_r=90,
        hip_adduction_r=7,
        hip_rotation_r=-12,
        knee_angle_r=100,
        hip_flexion_l=90,
        hip_adduction_l=-9,
        hip_rotation_l=15,
        knee_angle_l=70,
    )
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
    cases = [
        ({"shoulder_r_x": -90, "shoulder_l_x": 90, "shoulder_r_z": 30}, (-90, 0, 0)),
        ({"shoulder_r_x": 60, "shoulder_l_x": -60}, (60, 0, 0)),
        ({"shoulder_r_z": 70, "shoulder_r_y": 25, "shoulder_l_z": 70}, (0, 0, 70)),
    ]
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
    arm = [
        skel_landmarks(x)[:, MP_INDEX["right_elbow"]] - skel_landmarks(x)[:, MP_INDEX["right_shoulder"]]
        for x in (q, back)
    ]
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
