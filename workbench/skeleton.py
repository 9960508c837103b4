"""The SKEL 46-DoF registry: names, joints, sides, parents, limits, primary DoFs and mirroring.

Everything in the project that needs to know what index 6 of a pose vector means imports it from here.
The facts follow SKEL (Keller et al., TOG 2023) and HSMR (Xia et al., CVPR 2025) as summarised in the
project's SKEL_DOFS.md; the registry is written from those facts, not copied from SKEL's code.

Conventions: radians; q = 0 is SKEL's T-pose (arms horizontal); positive hip/knee/elbow = flexion;
positive ankle = dorsiflexion; positive lumbar/thorax/head extension tilts the upper segment backwards.
Our reading of the shoulder DoFs (the names only say "x, y, z"): shoulder_*_x elevates the arm in the
frontal plane (arm hanging at the side ≈ −90° right, +90° left, which is where SKEL's limits stop),
shoulder_*_y turns the humerus about its long axis, shoulder_*_z swings it forwards in the horizontal plane.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

import numpy as np
from numpy.typing import NDArray

Side = Literal["right", "left", "center"]

DOF_NAMES: tuple[str, ...] = (
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
)
N_DOFS = len(DOF_NAMES)

JOINT_NAMES: tuple[str, ...] = (
    "pelvis",
    "femur_r",
    "tibia_r",
    "talus_r",
    "calcn_r",
    "toes_r",
    "femur_l",
    "tibia_l",
    "talus_l",
    "calcn_l",
    "toes_l",
    "lumbar_body",
    "thorax",
    "head",
    "scapula_r",
    "humerus_r",
    "ulna_r",
    "radius_r",
    "hand_r",
    "scapula_l",
    "humerus_l",
    "ulna_l",
    "radius_l",
    "hand_l",
)
N_JOINTS = len(JOINT_NAMES)

_DOFS_PER_JOINT = (3, 3, 1, 1, 1, 1, 3, 1, 1, 1, 1, 3, 3, 3, 3, 3, 1, 1, 2, 3, 3, 1, 1, 2)
_PARENTS = (-1, 0, 1, 2, 3, 4, 0, 6, 7, 8, 9, 0, 11, 12, 12, 14, 15, 16, 17, 12, 19, 20, 21, 22)

# What a coach calls each joint ("right knee"), keyed by the side-free joint name.
_JOINT_WORDS = {
    "pelvis": "pelvis",
    "femur": "hip",
    "tibia": "knee",
    "talus": "ankle",
    "calcn": "subtalar joint",
    "toes": "toes",
    "lumbar_body": "lumbar spine",
    "thorax": "thorax",
    "head": "head",
    "scapula": "shoulder blade",
    "humerus": "shoulder",
    "ulna": "elbow",
    "radius": "forearm",
    "hand": "wrist",
}

# The DoF that stands for the joint in pose-state text and cycle detection (paper Eq. 7: d(j)).
_PRIMARY = {
    "pelvis": "pelvis_tilt",
    "femur": "hip_flexion",
    "tibia": "knee_angle",
    "talus": "ankle_angle",
    "calcn": "subtalar_angle",
    "toes": "mtp_angle",
    "lumbar_body": "lumbar_extension",
    "thorax": "thorax_extension",
    "head": "head_extension",
    "scapula": "scapula_abduction",
    "humerus": "shoulder_{s}_x",
    "ulna": "elbow_flexion",
    "radius": "pro_sup",
    "hand": "wrist_flexion",
}

# What each DoF measures, in words (side added in front).
_DOF_WORDS = {
    "pelvis_tilt": "pelvis tilt",
    "pelvis_list": "pelvis list",
    "pelvis_rotation": "pelvis rotation",
    "hip_flexion": "hip flexion",
    "hip_adduction": "hip adduction",
    "hip_rotation": "hip rotation",
    "knee_angle": "knee flexion",
    "ankle_angle": "ankle dorsiflexion",
    "subtalar_angle": "subtalar inversion",
    "mtp_angle": "toe extension",
    "lumbar_bending": "lumbar side bending",
    "lumbar_extension": "lumbar extension",
    "lumbar_twist": "lumbar twist",
    "thorax_bending": "thorax side bending",
    "thorax_extension": "thorax extension",
    "thorax_twist": "thorax twist",
    "head_bending": "head side bending",
    "head_extension": "head extension",
    "head_twist": "head twist",
    "scapula_abduction": "scapula abduction",
    "scapula_elevation": "scapula elevation",
    "scapula_upward_rot": "scapula upward rotation",
    "shoulder_x": "shoulder elevation",
    "shoulder_y": "shoulder axial rotation",
    "shoulder_z": "shoulder horizontal flexion",
    "elbow_flexion": "elbow flexion",
    "pro_sup": "forearm pronation",
    "wrist_flexion": "wrist flexion",
    "wrist_deviation": "wrist deviation",
}

# Soft plausibility limits in degrees (SKEL_DOFS.md). SKEL does not clamp; neither do we: the limits flag
# implausible estimates. scapula_elevation is listed once there and applied to both sides as written.
_LIMITS_DEG: dict[str, tuple[float, float]] = {
    "scapula_abduction": (-36.0, 36.0),
    "scapula_elevation": (-22.9, -5.7),
    "scapula_upward_rot_r": (-10.9, 18.3),
    "scapula_upward_rot_l": (-12.0, 12.5),
    "elbow_flexion": (0.0, 135.0),
    "pro_sup_r": (-67.5, 67.5),
    "pro_sup_l": (-90.0, 90.0),
    "wrist_flexion": (-90.0, 90.0),
    "wrist_deviation": (-45.0, 45.0),
    "lumbar_bending": (-30.0, 30.0),
    "lumbar_extension": (-45.0, 45.0),
    "lumbar_twist": (-45.0, 45.0),
    "thorax_bending": (-45.0, 45.0),
    "thorax_extension": (-45.0, 45.0),
    "thorax_twist": (-45.0, 45.0),
    "head_bending": (-45.0, 45.0),
    "head_extension": (-45.0, 45.0),
    "head_twist": (-45.0, 45.0),
    "ankle_angle": (-45.0, 45.0),
    "subtalar_angle": (-45.0, 45.0),
    "mtp_angle": (-45.0, 45.0),
    "knee_angle": (0.0, 135.0),
    "hip_flexion": (-45.0, 135.0),
    "hip_adduction": (-45.0, 30.0),
    "hip_rotation": (-45.0, 45.0),
    "shoulder_r_x": (-90.0, 175.9),
    "shoulder_l_x": (-175.9, 90.0),
    "shoulder_y": (-90.0, 90.0),
    "shoulder_z": (-90.0, 90.0),
}

# Mirroring left<->right negates these (by side-free DoF name); every other DoF keeps its sign.
_MIRROR_NEGATES = frozenset(
    {
        "pelvis_list",
        "pelvis_rotation",
        "lumbar_bending",
        "lumbar_twist",
        "thorax_bending",
        "thorax_twist",
        "head_bending",
        "head_twist",
        "scapula_abduction",
        "scapula_elevation",
        "shoulder_x",
        "shoulder_y",
    }
)


@dataclass(frozen=True)
class Dof:
    """One degree of freedom of the SKEL pose vector."""

    index: int
    name: str
    joint: str
    side: Side
    generic: str  # side-free name ("knee_angle", "shoulder_x"), used for rules that hold on both sides
    label: str  # "right knee flexion"
    limits_deg: tuple[float, float] | None
    mirror: str  # name of the DoF on the other side (itself for central DoFs)
    mirror_sign: int  # +1 keeps the sign when mirrored, -1 negates it


@dataclass(frozen=True)
class Joint:
    """One of SKEL's 24 joints with the DoFs it owns."""

    id: int
    name: str
    side: Side
    parent: int  # -1 for the root
    dofs: tuple[int, ...]
    primary_dof: int
    label: str  # "right knee"
    mirror: str


def _side_of(name: str) -> Side:
    if name.endswith("_r") or "_r_" in name:
        return "right"
    if name.endswith("_l") or "_l_" in name:
        return "left"
    return "center"


def _generic(name: str) -> str:
    for tag in ("_r_", "_l_"):
        if tag in name:
            return name.replace(tag, "_")
    return name[:-2] if name.endswith(("_r", "_l")) else name


def _swap_side(name: str) -> str:
    side = _side_of(name)
    if side == "center":
        return name
    a, b = ("_r", "_l") if side == "right" else ("_l", "_r")
    if name.endswith(a):
        return name[: -len(a)] + b
    return name.replace(a + "_", b + "_")


def _words(side: Side, what: str) -> str:
    return what if side == "center" else f"{side} {what}"


def _build() -> tuple[tuple[Dof, ...], tuple[Joint, ...]]:
    dofs: list[Dof] = []
    joints: list[Joint] = []
    start = 0
    for jid, (jname, count, parent) in enumerate(zip(JOINT_NAMES, _DOFS_PER_JOINT, _PARENTS, strict=True)):
        jside = _side_of(jname)
        jgeneric = _generic(jname)
        indices = tuple(range(start, start + count))
        for i in indices:
            name = DOF_NAMES[i]
            generic = _generic(name)
            limits = _LIMITS_DEG.get(name) or _LIMITS_DEG.get(generic)
            dofs.append(
                Dof(
                    index=i,
                    name=name,
                    joint=jname,
                    side=_side_of(name),
                    generic=generic,
                    label=_words(_side_of(name), _DOF_WORDS[generic]),
                    limits_deg=limits,
                    mirror=_swap_side(name),
                    mirror_sign=-1 if generic in _MIRROR_NEGATES else 1,
                )
            )
        primary = _PRIMARY[jgeneric].format(s=jname[-1]) if jside != "center" else _PRIMARY[jgeneric]
        if jside != "center" and not primary.endswith(("_r", "_l")) and "_r_" not in primary and "_l_" not in primary:
            primary = f"{primary}_{jname[-1]}"
        joints.append(
            Joint(
                id=jid,
                name=jname,
                side=jside,
                parent=parent,
                dofs=indices,
                primary_dof=DOF_NAMES.index(primary),
                label=_words(jside, _JOINT_WORDS[jgeneric]),
                mirror=_swap_side(jname),
            )
        )
        start += count
    return tuple(dofs), tuple(joints)


DOFS, JOINTS = _build()
_DOF_INDEX = {d.name: d.index for d in DOFS}
_JOINT_INDEX = {j.name: j.id for j in JOINTS}
DOF_TO_JOINT: tuple[int, ...] = tuple(_JOINT_INDEX[d.joint] for d in DOFS)

# Permutation and signs that mirror a pose: q_mirrored[i] = MIRROR_SIGNS[i] * q[MIRROR_PERMUTATION[i]].
MIRROR_PERMUTATION: NDArray[np.intp] = np.array([_DOF_INDEX[d.mirror] for d in DOFS], dtype=np.intp)
MIRROR_SIGNS: NDArray[np.float64] = np.array([d.mirror_sign for d in DOFS], dtype=np.float64)


def dof_index(name: str) -> int:
    """Index of a DoF in the 46-vector; raises KeyError naming the valid choices."""
    try:
        return _DOF_INDEX[name]
    except KeyError:
        raise KeyError(f"Expected a SKEL DoF name (e.g. 'knee_angle_r'), got {name!r}") from None


def joint(name: str) -> Joint:
    """A joint by SKEL name ('tibia_r')."""
    try:
        return JOINTS[_JOINT_INDEX[name]]
    except KeyError:
        raise KeyError(f"Expected a SKEL joint name (one of {', '.join(JOINT_NAMES)}), got {name!r}") from None


def dof(name: str) -> Dof:
    """A DoF by name."""
    return DOFS[dof_index(name)]


def mirror_pose(q: NDArray[np.float64]) -> NDArray[np.float64]:
    """Mirror poses left<->right: swap sides and apply SKEL's sign rules. Works on (..., 46) arrays."""
    if q.shape[-1] != N_DOFS:
        raise ValueError(f"Expected a last axis of {N_DOFS} DoFs, got shape {q.shape}")
    return q[..., MIRROR_PERMUTATION] * MIRROR_SIGNS


def mirror_dof_name(name: str) -> str:
    """The same DoF on the other side ('knee_angle_r' -> 'knee_angle_l'); central DoFs map to themselves."""
    return dof(name).mirror


def mirror_joint_name(name: str) -> str:
    """The same joint on the other side ('tibia_r' -> 'tibia_l')."""
    return joint(name).mirror


def limits_rad(name: str) -> tuple[float, float] | None:
    """Soft plausibility limits of a DoF in radians, None where SKEL gives none (the pelvis)."""
    lim = dof(name).limits_deg
    return None if lim is None else (math.radians(lim[0]), math.radians(lim[1]))
