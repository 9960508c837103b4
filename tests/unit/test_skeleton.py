"""The SKEL registry against the facts in SKEL_DOFS.md."""

import numpy as np
import pytest

from workbench import skeleton as sk

EXPECTED_NAMES = [  # SKEL_DOFS.md, index 0 to 45
    "pelvis_tilt",
    "pelvis_list",
    "pelvis_rotation",
    "hip_flexion_r",
    "hip_adduction_r",
    "hip_rotation_r",
    "knee_angle_r",
    "ankle_angle_r",
    "subtalar_angle_r",
    "mtp_angle_r",
    "hip_flexion_l",
    "hip_adduction_l",
    "hip_rotation_l",
    "knee_angle_l",
    "ankle_angle_l",
    "subtalar_angle_l",
    "mtp_angle_l",
    "lumbar_bending",
    "lumbar_extension",
    "lumbar_twist",
    "thorax_bending",
    "thorax_extension",
    "thorax_twist",
    "head_bending",
    "head_extension",
    "head_twist",
    "scapula_abduction_r",
    "scapula_elevation_r",
    "scapula_upward_rot_r",
    "shoulder_r_x",
    "shoulder_r_y",
    "shoulder_r_z",
    "elbow_flexion_r",
    "pro_sup_r",
    "wrist_flexion_r",
    "wrist_deviation_r",
    "scapula_abduction_l",
    "scapula_elevation_l",
    "scapula_upward_rot_l",
    "shoulder_l_x",
    "shoulder_l_y",
    "shoulder_l_z",
    "elbow_flexion_l",
    "pro_sup_l",
    "wrist_flexion_l",
    "wrist_deviation_l",
]


def test_dof_names_in_skel_order() -> None:
    assert list(sk.DOF_NAMES) == EXPECTED_NAMES
    assert sk.dof_index("knee_angle_r") == 6  # not the paper's "7": SKEL's order wins
    assert sk.dof_index("ankle_angle_r") == 7


def test_joints_dof_counts_and_parents() -> None:
    assert [len(j.dofs) for j in sk.JOINTS] == [3, 3, 1, 1, 1, 1, 3, 1, 1, 1, 1, 3, 3, 3, 3, 3, 1, 1, 2, 3, 3, 1, 1, 2]
    assert [j.parent for j in sk.JOINTS] == [
        -1,
        0,
        1,
        2,
        3,
        4,
        0,
        6,
        7,
        8,
        9,
        0,
        11,
        12,
        12,
        14,
        15,
        16,
        17,
        12,
        19,
        20,
        21,
        22,
    ]
    # every DoF belongs to exactly one joint, in order
    assert [i for j in sk.JOINTS for i in j.dofs] == list(range(46))


def test_primary_dofs_and_labels() -> None:
    assert sk.DOF_NAMES[sk.joint("tibia_r").primary_dof] == "knee_angle_r"
    assert sk.DOF_NAMES[sk.joint("ulna_l").primary_dof] == "elbow_flexion_l"
    assert sk.DOF_NAMES[sk.joint("humerus_l").primary_dof] == "shoulder_l_x"
    assert sk.joint("tibia_r").label == "right knee"
    assert sk.dof("knee_angle_l").label == "left knee flexion"


def test_limits_from_the_design_page() -> None:
    assert sk.dof("knee_angle_r").limits_deg == (0.0, 135.0)
    assert sk.dof("shoulder_l_x").limits_deg == (-175.9, 90.0)
    assert sk.dof("pro_sup_r").limits_deg == (-67.5, 67.5)
    assert sk.dof("pelvis_tilt").limits_deg is None
    lim = sk.limits_rad("hip_flexion_r")
    assert lim is not None and lim[1] == pytest.approx(np.radians(135))


def test_mirror_signs() -> None:
    q = np.zeros(46)
    q[sk.dof_index("knee_angle_r")] = 1.0
    q[sk.dof_index("shoulder_r_x")] = 0.5
    q[sk.dof_index("shoulder_r_z")] = 0.25
    q[sk.dof_index("pelvis_list")] = 0.1
    q[sk.dof_index("lumbar_extension")] = 0.2
    m = sk.mirror_pose(q)
    assert m[sk.dof_index("knee_angle_l")] == 1.0 and m[sk.dof_index("knee_angle_r")] == 0.0
    assert m[sk.dof_index("shoulder_l_x")] == -0.5  # shoulder_x negates
    assert m[sk.dof_index("shoulder_l_z")] == 0.25  # shoulder_z keeps
    assert m[sk.dof_index("pelvis_list")] == -0.1
    assert m[sk.dof_index("lumbar_extension")] == 0.2


def test_mirror_is_an_involution() -> None:
    q = np.random.default_rng(0).normal(size=(7, 46))
    np.testing.assert_array_equal(sk.mirror_pose(sk.mirror_pose(q)), q)


def test_mirrored_limits_agree_for_shoulder_x() -> None:
    r, left = sk.dof("shoulder_r_x").limits_deg, sk.dof("shoulder_l_x").limits_deg
    assert r is not None and left is not None
    assert (-r[1], -r[0]) == left


def test_unknown_names_raise_with_the_choices() -> None:
    with pytest.raises(KeyError, match="Expected a SKEL DoF name"):
        sk.dof_index("knee")
    with pytest.raises(KeyError, match="tibia_r"):
        sk.joint("knee_r")
