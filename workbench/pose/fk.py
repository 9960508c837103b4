"""A small SKEL-like forward-kinematics chain of our own: SKEL angles → the 33 MediaPipe landmarks.

It exists so that inverse kinematics (``pose.ik``) can be tested against a known answer, and so that demos
can draw a stick figure from a pose track. It is not SKEL: no mesh, no bone shapes, no SKEL code; only
SKEL's angle conventions (SKEL_DOFS.md, ``workbench.skeleton``) on a chain of straight segments.

Frames
  SKEL world (used inside): metres, y up, the body faces +z, x points to the subject's LEFT; origin at the
  hip centre (MediaPipe's world origin). q = 0 is SKEL's T-pose: standing, arms horizontal along ±x,
  palms down, thumbs forward, feet pointing forward.
  MediaPipe world (what ``forward_kinematics`` returns): metres, origin mid-hip, x image-right, y down,
  z away from the camera. Camera placement: in front of the subject, level, looking at them (the subject
  faces the camera), so p_mp = diag(1, −1, −1) · p_skel (a 180° turn about x, no mirror). ``view_yaw``
  turns the subject about the vertical before viewing (the same as adding it to pelvis_rotation): at +90°
  the camera sees the subject's right side and the subject faces image-right (a side view).

Composition (SKEL): every multi-DoF joint is R = R_n ⋯ R_2 · R_1 over its DoFs in the registry's order,
each R_k = rotation about a fixed axis of the parent segment by sign_k · q_k; a segment's world rotation
is its parent's times its joint's. Axes below are given in the T-pose (x left, y up, z forward) and for
the RIGHT side; the left side uses the mirror image (see "Mirror").

  joint (DoFs in order)           axis, sign: what a positive angle does
  pelvis: tilt, list, rotation    −x: top of the pelvis tips backwards (posterior tilt; prone plank ≈ −90°)
                                  +z: tips to the subject's right;  +y: turns to the subject's left
  hip: flexion, adduction, rot.   −x: thigh forwards;  +z: thigh towards the midline;  +y: internal rotation
  knee                            +x: shank backwards (flexion)
  ankle                           −x: toes up (dorsiflexion)
  subtalar                        +z (foot's long axis): sole turns inwards (inversion)
  mtp                             −x: toes up (extension) — moves no landmark (see below)
  lumbar/thorax/head: bending,    +z: upper segment bends to the right;  −x: upper segment tips backwards
    extension, twist              (extension);  +y: upper segment turns to the left
  shoulder: x, y, z               −z: arm rises in the frontal plane (hanging ≈ −90°, overhead ≈ +90°);
                                  +x: axial rotation (internal: with the elbow bent forwards, the forearm
                                  turns down);  +y: arm swings forwards in the horizontal plane
  elbow                           ≈ +y, tilted (see "Carrying angle"): forearm swings forwards (flexion)
  pro_sup                         +x (forearm's long axis): pronation (thumb turns down, palm backwards)
  wrist: flexion, deviation       +z: hand bends palm-wards (down);  −y: ulnar deviation (towards the pinky)

  Because R_1 is applied first, the shoulder is: horizontal flexion (z) about the vertical, then axial
  rotation (y) about the arm, then elevation (x) — read intrinsically. With y = 0, x is the arm's elevation
  above the horizontal whatever its direction, and z its azimuth from the side towards the front.

Carrying angle: the elbow is not a hinge perpendicular to the humerus. In the anatomical position
(arms hanging, palms forwards) the extended forearm deviates laterally from the humerus's long axis, away
from the midline (valgus), by ``Segments.carrying_angle_deg`` (α), and flexion brings it onto the humerus.
In the T-pose the humerus is that hanging arm abducted 90° in the frontal plane (its flexion axis is
vertical: flexion swings the forearm forwards; the palms-down hand is forearm pronation, which turns the
radius, not the ulna), so anatomical lateral is UP for both arms: at elbow_flexion = 0 the forearm points
outwards and up by α (right: (−cos α, sin α, 0) in the humerus's T-pose frame; left: the mirror image).
The flexion axis is the vertical tilted by α/2 towards the body (the bisector model), so the flexing
forearm sweeps a cone that comes onto the humerus (at 180° it would lie exactly on it). In the chain,
ulna = T · R_axis(sign · θ) · T with T = R_z(sx · α/2), sx = −1 right, +1 left (``elbow_rotation``); the
forearm frame's x axis is the forearm (elbow → wrist), so pro_sup turns about the tilted forearm and the
hand follows it. The angle ψ between upper arm and forearm is then
cos(θ/2) = cos(ψ/2) / cos(α/2): ψ = α at θ = 0, ψ = 180° at θ = 180° (IK inverts this).

Mirror: the sagittal mirror M = diag(−1, 1, 1) turns a rotation about x by θ into the same rotation and
one about y or z into its inverse. Each left DoF's sign is derived from its right twin and the registry's
mirror sign, so FK(mirror_pose(q)) is exactly FK(q) mirrored (x → −x) with left and right landmarks
exchanged. Central joints already satisfy this (their mirror signs match their axes).

Simplifications (documented because IK relies on them):
  - The lumbar and thorax joints pivot at the hip centre, so the shoulders, head and arms ride on one
    trunk rotation R_pelvis · R_lumbar · R_thorax; 33 landmarks cannot place the spine's pivots anyway.
  - Scapula DoFs move nothing (the shoulder centre is fixed on the thorax), and the toes are not a segment
    (foot_index is fixed on the foot), so scapula_* and mtp_* move no landmark.
  - NaN angles are read as 0, the neutral value of a DoF the source does not observe.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import cache

import numpy as np
from numpy.typing import NDArray

from workbench.pose.landmarks import MP_INDEX, N_LANDMARKS
from workbench.skeleton import DOFS, N_DOFS, dof_index, joint

FloatArray = NDArray[np.float64]

# p_mediapipe = SKEL_TO_MEDIAPIPE @ p_skel: subject facing a level camera (180° about x; its own inverse).
SKEL_TO_MEDIAPIPE: FloatArray = np.diag([1.0, -1.0, -1.0])

# M R_axis(θ) M = R_axis(c θ) for the sagittal mirror M = diag(−1, 1, 1).
_AXIS_MIRROR = (1.0, -1.0, -1.0)

# (axis, sign) of each DoF for the right side and the centre, by side-free name (x=0, y=1, z=2).
_RIGHT_AXES: dict[str, tuple[int, float]] = {
    "pelvis_tilt": (0, -1.0),
    "pelvis_list": (2, 1.0),
    "pelvis_rotation": (1, 1.0),
    "hip_flexion": (0, -1.0),
    "hip_adduction": (2, 1.0),
    "hip_rotation": (1, 1.0),
    "knee_angle": (0, 1.0),
    "ankle_angle": (0, -1.0),
    "subtalar_angle": (2, 1.0),
    "mtp_angle": (0, -1.0),
    "lumbar_bending": (2, 1.0),
    "lumbar_extension": (0, -1.0),
    "lumbar_twist": (1, 1.0),
    "thorax_bending": (2, 1.0),
    "thorax_extension": (0, -1.0),
    "thorax_twist": (1, 1.0),
    "head_bending": (2, 1.0),
    "head_extension": (0, -1.0),
    "head_twist": (1, 1.0),
    "shoulder_x": (2, -1.0),
    "shoulder_y": (0, 1.0),
    "shoulder_z": (1, 1.0),
    "elbow_flexion": (1, 1.0),
    "pro_sup": (0, 1.0),
    "wrist_flexion": (2, 1.0),
    "wrist_deviation": (1, -1.0),
}


def _build_axes() -> dict[int, tuple[int, float]]:
    out: dict[int, tuple[int, float]] = {}
    for d in DOFS:
        spec = _RIGHT_AXES.get(d.generic)
        if spec is None:  # scapula: moves no landmark in this chain
            continue
        axis, sign = spec
        if d.side == "left":
            sign = sign * _AXIS_MIRROR[axis] * d.mirror_sign
        out[d.index] = (axis, sign)
    return out


# DoF index -> (axis in the parent segment's T-pose frame, sign).
DOF_AXES: dict[int, tuple[int, float]] = _build_axes()


# The elbow's carrying angle (degrees): the extended, supinated forearm's lateral deviation from the
# humerus's long axis. Van Roy et al., "Arthro-kinematics of the elbow: study of the carrying angle",
# Ergonomics 48(11-14), 2005: 11.6 ± 3.2° in men, 16.7 ± 2.6° in women. 12°: about the men's mean (HSMR
# fits SKEL's male model); a person's own value can be given per Segments.
CARRYING_ANGLE_DEG = 12.0


@dataclass(frozen=True)
class Segments:
    """Segment lengths in metres (adult defaults, rounded anthropometric proportions for ~1.75 m), and the
    elbow's carrying angle in degrees (``CARRYING_ANGLE_DEG``; module docstring, "Carrying angle").

    Only the shape of the face and hand templates and the carrying angle matter to IK (it reads directions,
    not lengths).
    """

    hip_half_width: float = 0.09  # hip centre to each hip joint
    trunk: float = 0.50  # hip centre to mid-shoulder
    shoulder_half_width: float = 0.18
    neck: float = 0.06  # mid-shoulder to the head joint
    upper_arm: float = 0.30
    forearm: float = 0.26
    hand: float = 0.08  # wrist to the index knuckle
    thigh: float = 0.43
    shank: float = 0.42
    ankle_height: float = 0.07  # ankle centre above the heel-toe line
    heel_back: float = 0.05  # heel behind the ankle
    foot_front: float = 0.17  # toe tip (foot_index) in front of the ankle
    carrying_angle_deg: float = CARRYING_ANGLE_DEG  # not a length: see ``lengths``

    def lengths(self) -> dict[str, float]:
        """The segment lengths (metres) by name, without the carrying angle."""
        return {k: v for k, v in vars(self).items() if k != "carrying_angle_deg"}


ADULT = Segments()

# Face landmarks in the head frame (T-pose orientation, metres from the head joint), left side +x.
_FACE: dict[str, tuple[float, float, float]] = {
    "nose": (0.0, 0.10, 0.11),
    "left_eye_inner": (0.015, 0.13, 0.095),
    "left_eye": (0.032, 0.132, 0.09),
    "left_eye_outer": (0.045, 0.13, 0.085),
    "right_eye_inner": (-0.015, 0.13, 0.095),
    "right_eye": (-0.032, 0.132, 0.09),
    "right_eye_outer": (-0.045, 0.13, 0.085),
    "left_ear": (0.075, 0.11, 0.0),
    "right_ear": (-0.075, 0.11, 0.0),
    "mouth_left": (0.025, 0.06, 0.095),
    "mouth_right": (-0.025, 0.06, 0.095),
}

# Hand landmarks of the RIGHT hand in its T-pose frame, in units of Segments.hand: palm down, thumb forward.
_HAND: dict[str, tuple[float, float, float]] = {
    "index": (-1.0, 0.0, 0.3),
    "pinky": (-0.9, 0.0, -0.45),
    "thumb": (-0.45, -0.12, 0.55),
}


def axis_rotation(axis: int, angle: FloatArray) -> FloatArray:
    """Rotation matrices (..., 3, 3) about a coordinate axis (0 = x, 1 = y, 2 = z), right-handed."""
    angle = np.asarray(angle, dtype=np.float64)
    c, s = np.cos(angle), np.sin(angle)
    out = np.zeros((*angle.shape, 3, 3))
    i, j = (axis + 1) % 3, (axis + 2) % 3
    out[..., axis, axis] = 1.0
    out[..., i, i] = c
    out[..., j, j] = c
    out[..., i, j] = -s
    out[..., j, i] = s
    return out


def euler_angles(rot: FloatArray, axes: tuple[int, int, int]) -> FloatArray:
    """Angles (..., 3) with rot = R_a(θ1) · R_b(θ2) · R_c(θ3) for distinct axes (a, b, c).

    The middle angle is taken in [−90°, 90°]; it is singular (gimbal lock) at ±90°.
    """
    a, b, c = axes
    eps = 1.0 if (a, b, c) in ((0, 1, 2), (1, 2, 0), (2, 0, 1)) else -1.0
    t2 = np.arcsin(np.clip(eps * rot[..., a, c], -1.0, 1.0))
    t1 = np.arctan2(-eps * rot[..., b, c], rot[..., c, c])
    t3 = np.arctan2(-eps * rot[..., a, b], rot[..., a, a])
    return np.stack([t1, t2, t3], axis=-1)


def joint_rotation(q: FloatArray, joint_name: str) -> FloatArray:
    """(T, 3, 3) rotation of a joint relative to its parent: R_n ⋯ R_1 over the joint's DoFs."""
    rot = np.broadcast_to(np.eye(3), (q.shape[0], 3, 3))
    for i in joint(joint_name).dofs:
        axis, sign = DOF_AXES[i]
        rot = axis_rotation(axis, sign * q[:, i]) @ rot
    return rot


def elbow_rotation(flexion: FloatArray, side: str, carrying_angle_deg: float = CARRYING_ANGLE_DEG) -> FloatArray:
    """(T, 3, 3) rotation of the forearm (ulna) relative to the humerus for elbow flexion (T,) radians on side
    'r' or 'l': T · R_axis(sign · θ) · T with T = R_z(sx · α / 2) (module docstring, "Carrying angle").

    With α = 0 it is ``joint_rotation(q, "ulna_<side>")``, the plain rotation about the registry's axis."""
    axis, sign = DOF_AXES[dof_index(f"elbow_flexion_{side}")]
    sx = -1.0 if side == "r" else 1.0
    half = axis_rotation(2, np.asarray(sx * math.radians(carrying_angle_deg) / 2.0))
    return np.asarray(half @ axis_rotation(axis, sign * np.asarray(flexion, dtype=np.float64)) @ half)


def joint_axes(joint_name: str) -> tuple[tuple[int, ...], tuple[float, ...]]:
    """Axes and signs of a joint's DoFs, outermost first (the order ``euler_angles`` reads them)."""
    specs = [DOF_AXES[i] for i in reversed(joint(joint_name).dofs)]
    return tuple(a for a, _ in specs), tuple(s for _, s in specs)


def joint_angles(rot: FloatArray, joint_name: str) -> FloatArray:
    """The inverse of ``joint_rotation`` for a 3-DoF joint: (T, 3) angles in the registry's DoF order."""
    axes, signs = joint_axes(joint_name)
    if len(axes) != 3:
        raise ValueError(f"Expected a 3-DoF joint, got {joint_name!r} with {len(axes)}")
    theta = euler_angles(rot, (axes[0], axes[1], axes[2]))  # outermost first
    return theta[..., ::-1] * np.asarray(signs[::-1])


def mediapipe_to_skel(points: FloatArray) -> FloatArray:
    """MediaPipe world (x right, y down, z away) → SKEL world (x left, y up, z forward), camera in front."""
    return np.asarray(points, dtype=np.float64) * np.array([1.0, -1.0, -1.0])


def skel_to_mediapipe(points: FloatArray, view_yaw: float = 0.0) -> FloatArray:
    """SKEL world → MediaPipe world, the subject first turned by ``view_yaw`` (radians) about the vertical."""
    rot = SKEL_TO_MEDIAPIPE @ axis_rotation(1, np.asarray(view_yaw))
    return np.asarray(points, dtype=np.float64) @ rot.T


def forward_kinematics(
    q: FloatArray,
    segments: Segments = ADULT,
    *,
    scale: float | FloatArray = 1.0,
    view_yaw: float = 0.0,
) -> FloatArray:
    """(T, 33, 3) MediaPipe world landmarks (metres) of SKEL poses ``q`` (T, 46) radians, or one pose (46,).

    ``scale`` multiplies every segment length (a number or one per frame); ``view_yaw`` turns the subject
    about the vertical before the camera looks (0: facing the camera).
    """
    return skel_to_mediapipe(skel_landmarks(q, segments, scale=scale), view_yaw)


def skel_landmarks(q: FloatArray, segments: Segments = ADULT, *, scale: float | FloatArray = 1.0) -> FloatArray:
    """(T, 33, 3) landmarks in the SKEL world frame (y up, facing +z, x left), origin at the hip centre."""
    q2 = _as_poses(q)
    points, _ = _chain(np.nan_to_num(q2), segments)
    s = np.broadcast_to(np.asarray(scale, dtype=np.float64), (q2.shape[0],))
    return points * s[:, None, None]


def segment_frames(q: FloatArray) -> dict[str, FloatArray]:
    """World rotations (T, 3, 3) of the chain's segments: pelvis, trunk, head, femur_r, tibia_r, foot_r,
    humerus_r, forearm_r, hand_r and the same for _l (columns = the segment's x, y, z axes; the forearm's x
    is its long axis, elbow → wrist, which the carrying angle tilts from the humerus's)."""
    _, frames = _chain(np.nan_to_num(_as_poses(q)), ADULT)
    return frames


def _as_poses(q: FloatArray) -> FloatArray:
    arr = np.asarray(q, dtype=np.float64)
    if arr.ndim == 1:
        arr = arr[None, :]
    if arr.ndim != 2 or arr.shape[1] != N_DOFS:
        raise ValueError(f"q: expected shape (T, {N_DOFS}) or ({N_DOFS},), got {np.shape(q)}")
    return arr


def _chain(q: FloatArray, seg: Segments) -> tuple[FloatArray, dict[str, FloatArray]]:
    points = np.zeros((q.shape[0], N_LANDMARKS, 3))
    frames: dict[str, FloatArray] = {}
    pelvis = joint_rotation(q, "pelvis")
    trunk = pelvis @ joint_rotation(q, "lumbar_body") @ joint_rotation(q, "thorax")
    head = trunk @ joint_rotation(q, "head")
    frames.update(pelvis=pelvis, trunk=trunk, head=head)
    head_joint = trunk @ np.array([0.0, seg.trunk + seg.neck, 0.0])
    for name, offset in _FACE.items():
        points[:, MP_INDEX[name]] = head_joint + head @ np.array(offset)
    for side, word, sx in (("r", "right", -1.0), ("l", "left", 1.0)):
        _leg(q, seg, pelvis, side, word, sx, points, frames)
        _arm(q, seg, trunk, side, word, sx, points, frames)
    return points, frames


def _leg(
    q: FloatArray,
    seg: Segments,
    pelvis: FloatArray,
    side: str,
    word: str,
    sx: float,
    points: FloatArray,
    frames: dict[str, FloatArray],
) -> None:
    hip = pelvis @ np.array([sx * seg.hip_half_width, 0.0, 0.0])
    femur = pelvis @ joint_rotation(q, f"femur_{side}")
    knee = hip + femur @ np.array([0.0, -seg.thigh, 0.0])
    tibia = femur @ joint_rotation(q, f"tibia_{side}")
    ankle = knee + tibia @ np.array([0.0, -seg.shank, 0.0])
    foot = tibia @ joint_rotation(q, f"talus_{side}") @ joint_rotation(q, f"calcn_{side}")
    heel = ankle + foot @ np.array([0.0, -seg.ankle_height, -seg.heel_back])
    toe = ankle + foot @ np.array([0.0, -seg.ankle_height, seg.foot_front])
    for name, p in (("hip", hip), ("knee", knee), ("ankle", ankle), ("heel", heel), ("foot_index", toe)):
        points[:, MP_INDEX[f"{word}_{name}"]] = p
    frames.update({f"femur_{side}": femur, f"tibia_{side}": tibia, f"foot_{side}": foot})


def _arm(
    q: FloatArray,
    seg: Segments,
    trunk: FloatArray,
    side: str,
    word: str,
    sx: float,
    points: FloatArray,
    frames: dict[str, FloatArray],
) -> None:
    shoulder = trunk @ np.array([sx * seg.shoulder_half_width, seg.trunk, 0.0])
    humerus = trunk @ joint_rotation(q, f"humerus_{side}")
    elbow = shoulder + humerus @ np.array([sx * seg.upper_arm, 0.0, 0.0])
    forearm = humerus @ elbow_rotation(q[:, dof_index(f"elbow_flexion_{side}")], side, seg.carrying_angle_deg)
    wrist = elbow + forearm @ np.array([sx * seg.forearm, 0.0, 0.0])
    hand = forearm @ joint_rotation(q, f"radius_{side}") @ joint_rotation(q, f"hand_{side}")
    for name, p in (("shoulder", shoulder), ("elbow", elbow), ("wrist", wrist)):
        points[:, MP_INDEX[f"{word}_{name}"]] = p
    for name, offset in hand_template(seg, side).items():
        points[:, MP_INDEX[f"{word}_{name}"]] = wrist + hand @ offset
    frames.update({f"humerus_{side}": humerus, f"forearm_{side}": forearm, f"hand_{side}": hand})


@cache
def _hand_offsets(seg: Segments, side: str) -> tuple[tuple[str, tuple[float, float, float]], ...]:
    sx = 1.0 if side == "r" else -1.0  # the left hand is the mirror image (x → −x)
    return tuple((n, (sx * x * seg.hand, y * seg.hand, z * seg.hand)) for n, (x, y, z) in _HAND.items())


def hand_template(seg: Segments, side: str) -> dict[str, FloatArray]:
    """Index, pinky and thumb relative to the wrist in the hand's T-pose frame ('r' or 'l')."""
    return {n: np.array(v) for n, v in _hand_offsets(seg, side)}


def face_template() -> dict[str, FloatArray]:
    """The 11 face landmarks in the head's T-pose frame, relative to the head joint."""
    return {n: np.array(v) for n, v in _FACE.items()}
