"""Analytic inverse kinematics: MediaPipe-layout 3-D landmarks → the SKEL DoFs that 33 landmarks determine.

The landmark path (``landmark_files.landmarks_to_track``) feeds it the image + depth points of ``pose.fusion``
(image-plane x, y, world depth) when the landmarks have image coordinates, else MediaPipe's world landmarks.

Vectorised over frames; the exact inverse of ``pose.fk`` for every observable DoF (tests/unit/test_fk_ik.py).
Conventions are SKEL's as written in ``pose.fk`` (axes, signs, composition R = R3·R2·R1, mirror rules).
Landmarks are read in MediaPipe's world frame (x image-right, y down, z away from the camera) and turned
into SKEL's (y up) by p = diag(1, −1, −1) · p_mp, which assumes a level camera: gravity is MediaPipe's +y.
Yaw relative to the room is unknowable from one camera: pelvis_rotation is measured relative to the
camera (0 = facing it, ±90° = side views) and unwrapped over time so that it has no ±180° jumps.

Observability (what each DoF is computed from; '—' = unobserved, returned as NaN, never invented)

  pelvis_tilt          trunk (hip centre → mid-shoulder, shoulder line) tilt about the hip line: the
                       whole sagittal lean of the trunk is given to the pelvis (see "Trunk split")
  pelvis_list/rotation direction of the hip line (left_hip − right_hip)
  lumbar_bending       side-bend of the trunk frame relative to the pelvis (all of it, see "Trunk split")
  thorax_twist         twist of the shoulder line relative to the hip line (all of it)
  lumbar_extension, lumbar_twist, thorax_bending, thorax_extension   —
  hip_flexion/adduction the femur frame in the pelvis frame: thigh direction (hip → knee) and its twist
  hip_rotation         (the plane of the bent knee: hip, knee, ankle), see "Twists"
  knee_angle           angle between thigh and shank
  ankle_angle          foot's long axis (heel → foot_index) against the shank, in the plane they span
  subtalar_angle       tilt of the foot plane (heel, foot_index, ankle) about the foot's long axis
  mtp_angle            — (foot_index is the toe tip; no landmark separates the toes from the foot)
  head_bending/extension/twist   face frame (ears, eyes, nose, mouth) relative to the trunk frame
  scapula_* (6)        — (no landmark on the scapula; the shoulder landmark rides on the thorax)
  shoulder_*_x/y/z     upper arm direction; axial rotation (y) from the forearm when the elbow is bent
  elbow_flexion        the rotation about the elbow's tilted axis (``pose.fk``, "Carrying angle") that
                       gives the angle ψ between upper arm and forearm: cos(θ/2) = cos(ψ/2) / cos(α/2),
                       α the carrying angle. An arm 'straighter than straight' (ψ ≤ α) reads 0, not a
                       hyperextension: no flexion about that axis, of either sign, brings the segments
                       closer than α, so such a reading is landmark noise or a smaller carrying angle
  pro_sup, wrist_flexion, wrist_deviation   hand frame (wrist, index, pinky) relative to the forearm
                       frame, where the hand triangle is well formed; else the last well-formed value

Trunk split (fixed, documented): landmarks see only the hips and shoulders, i.e. the hip line and one
trunk frame. Its rotation is split by anatomical plane: flexion/extension → pelvis_tilt (so hip flexion
is the thigh's angle to the trunk, and a straight prone plank reads pelvis_tilt ≈ −90° with hips ≈ 0),
side-bending → lumbar_bending, twist → thorax_twist. The spine's own flexion/extension cannot be told
from the pelvis's, so lumbar_extension and thorax_extension are unobserved rather than a guessed share
of the trunk's lean (a share of a gravity-referenced angle would read a plank as a 45° flexed spine).

Twists (the axial rotation of a limb cannot be seen along a straight limb): each limb's frame is the
twist-free (smallest) rotation from its T-pose direction to its direction now, turned about the limb by
its twist; the twist is measured from the plane of the bent knee or elbow. Flexion weights blend between
"unseen" below ``twist_bend_deg[0]`` and "measured" above ``twist_bend_deg[1]``; the three Euler angles
are then read from the whole frame, not from the limb's direction alone, which would lose the adduction at
90° hip flexion (there SKEL's hip_adduction, applied before the rotation about the vertical, twists the
thigh instead of moving the knee, and a knee moving sideways reads as hip_rotation).
  Hip: with a nearly straight knee the thigh keeps the last well-determined twist (before the first: the
  first one, or ``hold`` when chunks are solved one after another); standing, that twist is the hip
  rotation. The frame's confidence is lowered by up to ``1 − held_confidence`` per held hip. A knee that
  never bends leaves hip_rotation unobserved; flexion and adduction then take the twist-free frame.
  Shoulder: the humerus's z axis is the forearm's direction across the upper arm turned back about the arm
  by the carrying angle's share (tan β = sin(α/2) / tan(θ/2), β → 0 as the elbow flexes fully), so the
  twist is exact at any measured flexion. With a straight elbow the twist is taken as none (the twist-free
  frame) rather than held, so that arm movements in the frontal or the horizontal plane read y = 0 and x is
  the arm's elevation (hanging arms x = ∓90°, y = z = 0; overhead ±90°), which is what the exercise rules
  expect of a straight arm. pro_sup absorbs the forearm's twist when the elbow is straight. (The carrying
  angle shows a straight arm's twist in principle, but its deviation, α, is too small to read it reliably.)
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cache

import numpy as np
from numpy.typing import NDArray

from workbench.pose.fk import (
    ADULT,
    DOF_AXES,
    Segments,
    axis_rotation,
    elbow_rotation,
    euler_angles,
    face_template,
    hand_template,
    joint_angles,
    joint_rotation,
    mediapipe_to_skel,
)
from workbench.pose.landmarks import MP_INDEX, N_LANDMARKS, LandmarkTrack
from workbench.skeleton import DOF_NAMES, N_DOFS, dof_index, joint

FloatArray = NDArray[np.float64]
BoolArray = NDArray[np.bool_]

UNOBSERVED_DOFS: tuple[str, ...] = (
    "lumbar_extension",
    "lumbar_twist",
    "thorax_bending",
    "thorax_extension",
    "mtp_angle_r",
    "mtp_angle_l",
    "scapula_abduction_r",
    "scapula_elevation_r",
    "scapula_upward_rot_r",
    "scapula_abduction_l",
    "scapula_elevation_l",
    "scapula_upward_rot_l",
)
OBSERVED: BoolArray = np.array([n not in UNOBSERVED_DOFS for n in DOF_NAMES])

# The landmarks whose visibility makes a frame's confidence: the limbs' and trunk's joint centres.
CORE_LANDMARKS: tuple[str, ...] = tuple(
    f"{s}_{j}" for s in ("left", "right") for j in ("shoulder", "elbow", "wrist", "hip", "knee", "ankle")
)
_CORE = np.array([MP_INDEX[n] for n in CORE_LANDMARKS])
_SIDES = (("r", "right", -1.0), ("l", "left", 1.0))  # SKEL suffix, MediaPipe word, T-pose arm direction


@dataclass(frozen=True)
class IKOptions:
    """Tuning of the IK. Angles in degrees."""

    # Knee/elbow flexion below which a limb's axial twist is unseen, and above which it is fully measured.
    twist_bend_deg: tuple[float, float] = (10.0, 25.0)
    # Confidence factor for a frame whose thigh twist is fully held (per hip, scaled by how much is held).
    held_confidence: float = 0.95
    # The hand triangle counts as well formed when |index − pinky| ≥ this × |knuckles − wrist| and the two
    # directions are at least ``hand_min_angle_deg`` apart.
    hand_min_spread: float = 0.25
    hand_min_angle_deg: float = 20.0
    # Templates of the face and hand frames (only their shape matters, not their size).
    segments: Segments = ADULT


@dataclass(frozen=True)
class IKResult:
    """q: (T, 46) radians (NaN = unobserved DoF or lost frame); observed: (46,); confidence: (T,) in [0, 1];
    held: (T, 2) share of the right and left thigh twist that was held rather than measured (0 … 1);
    hold: last well-determined values of the held quantities (thigh twists, hand angles), to continue
    with the next chunk."""

    q: FloatArray
    observed: BoolArray
    confidence: FloatArray
    held: FloatArray
    hold: dict[str, float] = field(default_factory=dict)


def landmarks_ik(track: LandmarkTrack, options: IKOptions | None = None) -> IKResult:
    """IK of a whole landmark track (world landmarks and visibility)."""
    return solve_ik(track.world, track.visibility, options=options)


def solve_ik(
    world: FloatArray,
    visibility: FloatArray | None = None,
    *,
    options: IKOptions | None = None,
    hold: dict[str, float] | None = None,
) -> IKResult:
    """SKEL angles from MediaPipe world landmarks (T, 33, 3); NaN frames give NaN angles and confidence 0."""
    opts = options or IKOptions()
    world = _check_world(world)
    p = mediapipe_to_skel(world)
    n = p.shape[0]
    q = np.full((n, N_DOFS), np.nan)
    state = dict(hold or {})
    pelvis, trunk = _trunk(p, q)
    held = np.zeros((n, 2))
    for k, (side, word, sx) in enumerate(_SIDES):
        held[:, k] = _leg(p, q, pelvis, side, word, opts, state)
        forearm = _arm(p, q, trunk, side, word, sx, opts)
        _hand(p, q, forearm, side, word, opts, state)
    _head(p, q, trunk)
    _unwrap(q, dof_index("pelvis_rotation"))
    q[:, ~OBSERVED] = np.nan
    q[np.isnan(world).any(axis=(1, 2))] = np.nan  # held values must not fill frames without a detection
    observed = OBSERVED & ~np.isnan(q).all(axis=0) if n else OBSERVED.copy()
    confidence = _confidence(world, visibility) * (1.0 - (1.0 - opts.held_confidence) * held.sum(axis=1))
    return IKResult(q=q, observed=observed, confidence=np.clip(confidence, 0.0, 1.0), held=held, hold=state)


# ----------------------------------------------------------------------------------------------- trunk


def _trunk(p: FloatArray, q: FloatArray) -> tuple[FloatArray, FloatArray]:
    """Pelvis list/rotation from the hip line; the trunk frame split into pelvis tilt, lumbar bending and
    thorax twist (module docstring). Returns the pelvis and trunk world rotations."""
    hip_axis = _unit(_pt(p, "left_hip") - _pt(p, "right_hip"))
    list_ = np.arcsin(np.clip(hip_axis[:, 1], -1.0, 1.0))
    rotation = np.arctan2(-hip_axis[:, 2], hip_axis[:, 0])
    mid_hip = 0.5 * (_pt(p, "left_hip") + _pt(p, "right_hip"))
    mid_shoulder = 0.5 * (_pt(p, "left_shoulder") + _pt(p, "right_shoulder"))
    trunk = _basis_xy(_pt(p, "left_shoulder") - _pt(p, "right_shoulder"), mid_shoulder - mid_hip)
    _set(q, "pelvis_list", _sign("pelvis_list") * list_)
    _set(q, "pelvis_rotation", _sign("pelvis_rotation") * rotation)
    # What the pelvis's list and rotation leave: R_tilt · R_lumbar_bending · R_thorax_twist (fixed split).
    names = ("pelvis_tilt", "lumbar_bending", "thorax_twist")
    rest = axis_rotation(_axis("pelvis_list"), -list_) @ axis_rotation(_axis("pelvis_rotation"), -rotation) @ trunk
    _set_euler(q, names, rest)
    return joint_rotation(q, "pelvis"), trunk


# ------------------------------------------------------------------------------------------------ legs


def _leg(
    p: FloatArray, q: FloatArray, pelvis: FloatArray, side: str, word: str, opts: IKOptions, state: dict[str, float]
) -> FloatArray:
    """Hip, knee, ankle and subtalar of one leg; returns the share of the thigh's twist held per frame."""
    hip, knee, ankle = (_pt(p, f"{word}_{j}") for j in ("hip", "knee", "ankle"))
    thigh, shank = _unit(knee - hip), _unit(ankle - knee)
    knee_angle = _angle_between(thigh, shank)
    _set(q, f"knee_angle_{side}", knee_angle)
    to_pelvis = _transpose(pelvis)
    thigh_p = (to_pelvis @ thigh[..., None])[..., 0]
    shank_p = (to_pelvis @ shank[..., None])[..., 0]
    # The femur's z axis points forwards, opposite to where the shank swings as the knee flexes.
    swing, measured = _swing_twist(_DOWN, thigh_p, -_unit(_reject(shank_p, thigh_p)))
    weight = _bend_weight(knee_angle, opts.twist_bend_deg)
    twist = _held_blend(measured, weight, state, f"thigh_twist_{side}")
    femur = _axis_angle(thigh_p, np.nan_to_num(twist)) @ swing  # unknown twist: the twist-free frame
    angles = joint_angles(femur, f"femur_{side}")
    _set(q, f"hip_flexion_{side}", angles[:, 0])
    _set(q, f"hip_adduction_{side}", angles[:, 1])
    _set(q, f"hip_rotation_{side}", np.where(np.isnan(twist), np.nan, angles[:, 2]))
    _foot(p, q, shank, side, word)
    return np.where(np.isnan(weight), 0.0, 1.0 - weight)


_DOWN = np.array([0.0, -1.0, 0.0])  # the thigh's direction at q = 0


def _foot(p: FloatArray, q: FloatArray, shank: FloatArray, side: str, word: str) -> None:
    """Ankle and subtalar in the plane of the shank and the foot's long axis, which in SKEL's chain is the
    tibia's sagittal plane whatever the hip's rotation (the ankle turns about the tibia's lateral axis and
    the subtalar about the foot's long axis), so no held value enters."""
    heel, toe, ankle = (_pt(p, f"{word}_{j}") for j in ("heel", "foot_index", "ankle"))
    up = -shank
    long_axis = _unit(toe - heel)
    tibia = _basis_xy(_cross(up, long_axis), up)  # columns: lateral, up, forward
    foot = _basis_yz(ankle - heel, long_axis)
    rel = _transpose(tibia) @ foot  # = R_ankle · R_subtalar
    axis_a, s_a = DOF_AXES[dof_index(f"ankle_angle_{side}")]
    axis_s, s_s = DOF_AXES[dof_index(f"subtalar_angle_{side}")]
    third = 3 - axis_a - axis_s
    theta = euler_angles(rel, (axis_a, axis_s, third))  # the third angle is 0 in the model, noise in data
    _set(q, f"ankle_angle_{side}", s_a * theta[:, 0])
    _set(q, f"subtalar_angle_{side}", s_s * theta[:, 1])


# ------------------------------------------------------------------------------------------------ arms


def _arm(
    p: FloatArray, q: FloatArray, trunk: FloatArray, side: str, word: str, sx: float, opts: IKOptions
) -> FloatArray:
    """Shoulder and elbow of one arm; returns the forearm's world frame (for the hand)."""
    shoulder, elbow, wrist = (_pt(p, f"{word}_{j}") for j in ("shoulder", "elbow", "wrist"))
    to_trunk = _transpose(trunk)
    upper = (to_trunk @ _unit(elbow - shoulder)[..., None])[..., 0]
    fore = (to_trunk @ _unit(wrist - elbow)[..., None])[..., 0]
    carrying = np.radians(opts.segments.carrying_angle_deg)
    flexion = elbow_flexion_from_angle(_angle_between(upper, fore), carrying)
    _set(q, f"elbow_flexion_{side}", flexion)
    # The humerus's z axis points where the forearm swings as the elbow flexes (forwards at the T-pose); the
    # forearm's part across the upper arm leans from it towards the humerus's y axis (up at the T-pose) by
    # β, the carrying angle's share, so turn it back by β about the humerus's x axis (sx · upper).
    across = _unit(_reject(fore, upper))
    half = 0.5 * flexion
    beta = np.arctan2(np.sin(0.5 * carrying) * np.cos(half), np.sin(half))
    humerus_x = sx * upper
    z_measured = np.cos(beta)[:, None] * across + np.sin(beta)[:, None] * _cross(humerus_x, across)
    swing, twist = _swing_twist(np.array([sx, 0.0, 0.0]), upper, z_measured)
    weight = np.nan_to_num(_bend_weight(flexion, opts.twist_bend_deg))
    humerus = _axis_angle(upper, np.where(weight > 0, weight * twist, 0.0)) @ swing  # twist is NaN if straight
    _set_joint(q, f"humerus_{side}", humerus)
    # The forearm frame: x along the measured forearm, y as the model's forearm (humerus · elbow) has it.
    model = humerus @ elbow_rotation(np.nan_to_num(flexion), side, opts.segments.carrying_angle_deg)
    x_axis = sx * fore
    return trunk @ np.stack([x_axis, *_complete(x_axis, model[..., 1])], axis=-1)


def elbow_flexion_from_angle(segment_angle: FloatArray, carrying_angle: float) -> FloatArray:
    """Elbow flexion θ (radians) about the carrying-angle model's tilted axis from the angle ψ between upper
    arm and forearm: cos(θ/2) = cos(ψ/2) / cos(α/2) (``pose.fk``, "Carrying angle"), so θ = ψ for α = 0.
    ψ ≤ α (straighter than the model's straight arm) reads 0; the range is 0 … 180°. NaN stays NaN."""
    psi = np.asarray(segment_angle, dtype=np.float64)
    a = 0.5 * carrying_angle
    # cos²(α/2) · sin²(θ/2) = sin((ψ + α)/2) · sin((ψ − α)/2) and cos²(α/2) · cos²(θ/2) = cos²(ψ/2).
    with np.errstate(invalid="ignore"):
        sine = np.sqrt(np.maximum(np.sin(0.5 * psi + a) * np.sin(0.5 * psi - a), 0.0))
    theta = 2.0 * np.arctan2(sine, np.abs(np.cos(0.5 * psi)))
    return np.asarray(np.where(np.isnan(psi), np.nan, theta))


def _hand(
    p: FloatArray, q: FloatArray, forearm: FloatArray, side: str, word: str, opts: IKOptions, state: dict[str, float]
) -> None:
    """pro_sup and the wrist from the hand triangle (wrist, index, pinky) against the forearm frame."""
    wrist, index, pinky = (_pt(p, f"{word}_{j}") for j in ("wrist", "index", "pinky"))
    formed = _well_formed(wrist, index, pinky, opts)
    template = _hand_basis_template(opts.segments, side)
    world_hand = _hand_basis(wrist, index, pinky) @ template.T
    rel = _transpose(forearm) @ world_hand  # = R_pro_sup · R_deviation · R_flexion
    names = (f"pro_sup_{side}", f"wrist_deviation_{side}", f"wrist_flexion_{side}")
    axes = tuple(DOF_AXES[dof_index(n)][0] for n in names)
    theta = euler_angles(rel, (axes[0], axes[1], axes[2]))
    for k, name in enumerate(names):
        value = theta[:, k] * DOF_AXES[dof_index(name)][1]
        _set(q, name, _held_blend(value, formed.astype(float), state, name))


def _well_formed(wrist: FloatArray, index: FloatArray, pinky: FloatArray, opts: IKOptions) -> BoolArray:
    across = index - pinky
    along = 0.5 * (index + pinky) - wrist
    spread = np.linalg.norm(across, axis=-1) >= opts.hand_min_spread * np.linalg.norm(along, axis=-1)
    sine = np.linalg.norm(_cross(_unit(across), _unit(along)), axis=-1)
    return np.asarray(spread & (sine >= np.sin(np.radians(opts.hand_min_angle_deg))))


def _hand_basis(wrist: FloatArray, index: FloatArray, pinky: FloatArray) -> FloatArray:
    return _basis_xz(0.5 * (index + pinky) - wrist, index - pinky)


@cache
def _hand_basis_template(segments: Segments, side: str) -> FloatArray:
    t = hand_template(segments, side)
    return _hand_basis(np.zeros((1, 3)), t["index"][None], t["pinky"][None])[0]


# ------------------------------------------------------------------------------------------------ head


def _head(p: FloatArray, q: FloatArray, trunk: FloatArray) -> None:
    """The head's rotation = the face frame now against the face frame of the template at q = 0."""
    points = {n: _pt(p, n) for n in _FACE_POINTS}
    world_head = _face_basis(points) @ _face_basis_template().T
    _set_joint(q, "head", _transpose(trunk) @ world_head)


_FACE_POINTS = ("left_ear", "right_ear", "left_eye", "right_eye", "nose", "mouth_left", "mouth_right")


def _face_basis(pts: dict[str, FloatArray]) -> FloatArray:
    lateral = (pts["left_ear"] - pts["right_ear"]) + (pts["left_eye"] - pts["right_eye"])
    front = (pts["nose"] + pts["mouth_left"] + pts["mouth_right"]) / 3.0 - 0.5 * (pts["left_ear"] + pts["right_ear"])
    return _basis_xz(lateral, front)


@cache
def _face_basis_template() -> FloatArray:
    t = face_template()
    return _face_basis({n: t[n][None] for n in _FACE_POINTS})[0]


# ------------------------------------------------------------------------------------------- helpers


def _check_world(world: FloatArray) -> FloatArray:
    arr = np.asarray(world, dtype=np.float64)
    if arr.ndim != 3 or arr.shape[1:] != (N_LANDMARKS, 3):
        raise ValueError(f"world: expected shape (T, {N_LANDMARKS}, 3), got {arr.shape}")
    return arr


def _confidence(world: FloatArray, visibility: FloatArray | None) -> FloatArray:
    detected = ~np.isnan(world).any(axis=(1, 2))
    if visibility is None:
        return detected.astype(float)
    visibility = np.asarray(visibility, dtype=np.float64)
    if visibility.shape != world.shape[:2]:
        raise ValueError(f"visibility: expected shape {world.shape[:2]}, got {visibility.shape}")
    vis = np.nan_to_num(visibility[:, _CORE])
    return np.where(detected, vis.mean(axis=1), 0.0)


def _pt(p: FloatArray, name: str) -> FloatArray:
    return p[:, MP_INDEX[name]]


def _axis(name: str) -> int:
    return DOF_AXES[dof_index(name)][0]


def _sign(name: str) -> float:
    return DOF_AXES[dof_index(name)][1]


def _set(q: FloatArray, name: str, values: FloatArray) -> None:
    q[:, dof_index(name)] = values


def _set_euler(q: FloatArray, names: tuple[str, str, str], rot: FloatArray) -> None:
    """rot = R(names[0]) · R(names[1]) · R(names[2]); write the three angles."""
    specs = [DOF_AXES[dof_index(n)] for n in names]
    theta = euler_angles(rot, (specs[0][0], specs[1][0], specs[2][0]))
    for k, (name, (_, sign)) in enumerate(zip(names, specs, strict=True)):
        _set(q, name, sign * theta[:, k])


def _set_joint(q: FloatArray, joint_name: str, rot: FloatArray) -> None:
    q[:, list(joint(joint_name).dofs)] = joint_angles(rot, joint_name)


def _unit(v: FloatArray) -> FloatArray:
    norm = np.linalg.norm(v, axis=-1, keepdims=True)
    with np.errstate(invalid="ignore", divide="ignore"):
        return v / norm


def _cross(a: FloatArray, b: FloatArray) -> FloatArray:
    return np.asarray(np.cross(a, b), dtype=np.float64)


def _reject(v: FloatArray, axis: FloatArray) -> FloatArray:
    """The part of v perpendicular to the unit vector ``axis``."""
    return v - np.einsum("...i,...i->...", v, axis)[..., None] * axis


def _angle_between(a: FloatArray, b: FloatArray) -> FloatArray:
    """Angle between unit vectors, accurate near 0 and 180° (atan2 of sine and cosine)."""
    return np.arctan2(np.linalg.norm(_cross(a, b), axis=-1), np.einsum("...i,...i->...", a, b))


def _basis_xy(x_hint: FloatArray, y: FloatArray) -> FloatArray:
    """Right-handed frame (columns) whose y is ``y`` and whose x is ``x_hint`` made perpendicular to it."""
    y_axis = _unit(y)
    x_axis = _unit(_reject(x_hint, y_axis))
    return np.stack([x_axis, y_axis, _cross(x_axis, y_axis)], axis=-1)


def _basis_xz(x: FloatArray, z_hint: FloatArray) -> FloatArray:
    """Right-handed frame whose x is ``x`` and whose z is ``z_hint`` made perpendicular to it."""
    x_axis = _unit(x)
    z_axis = _unit(_reject(z_hint, x_axis))
    return np.stack([x_axis, _cross(z_axis, x_axis), z_axis], axis=-1)


def _basis_yz(y_hint: FloatArray, z: FloatArray) -> FloatArray:
    """Right-handed frame whose z is ``z`` and whose y is ``y_hint`` made perpendicular to it."""
    z_axis = _unit(z)
    y_axis = _unit(_reject(y_hint, z_axis))
    return np.stack([_cross(y_axis, z_axis), y_axis, z_axis], axis=-1)


def _complete(x_axis: FloatArray, y_hint: FloatArray) -> tuple[FloatArray, FloatArray]:
    """The y and z columns of a right-handed frame with the given x axis and y near ``y_hint``."""
    y_axis = _unit(_reject(y_hint, x_axis))
    return y_axis, _cross(x_axis, y_axis)


def _transpose(rot: FloatArray) -> FloatArray:
    return np.swapaxes(rot, -1, -2)


def _axis_angle(axis: FloatArray, angle: FloatArray) -> FloatArray:
    """Rotations (T, 3, 3) about unit axes (T, 3) by angles (T,) (Rodrigues)."""
    k = _skew(axis)
    s, c = np.sin(angle)[:, None, None], np.cos(angle)[:, None, None]
    return np.eye(3) + s * k + (1.0 - c) * (k @ k)


def _min_rotation(a: FloatArray, b: FloatArray) -> FloatArray:
    """The smallest rotation taking unit vector ``a`` (3,) to each unit vector ``b`` (T, 3); for b = −a
    (an arm pointing straight across the body), the half turn about the vertical."""
    k = _skew(_cross(a, b))
    c = np.einsum("i,ti->t", a, b)
    with np.errstate(invalid="ignore", divide="ignore"):
        rot = np.eye(3) + k + (k @ k) / (1.0 + c)[:, None, None]
    opposite = 1.0 + c < 1e-9
    if opposite.any():
        rot[opposite] = axis_rotation(1, np.array(np.pi))
    return rot


def _swing_twist(neutral: FloatArray, direction: FloatArray, z_measured: FloatArray) -> tuple[FloatArray, FloatArray]:
    """The twist-free (smallest) rotation taking a limb from its T-pose direction ``neutral`` to
    ``direction`` (T, 3), and the turn about ``direction`` that brings that frame's z axis onto
    ``z_measured`` (the limb's twist as its bent joint shows it; NaN for a straight limb)."""
    swing = _min_rotation(neutral, direction)
    z_swing = swing[..., 2]
    twist = np.arctan2(
        np.einsum("ti,ti->t", direction, _cross(z_swing, z_measured)), np.einsum("ti,ti->t", z_swing, z_measured)
    )
    return swing, twist


def _skew(v: FloatArray) -> FloatArray:
    out = np.zeros((*v.shape[:-1], 3, 3))
    out[..., 0, 1], out[..., 0, 2], out[..., 1, 2] = -v[..., 2], v[..., 1], -v[..., 0]
    out[..., 1, 0], out[..., 2, 0], out[..., 2, 1] = v[..., 2], -v[..., 1], v[..., 0]
    return out


def _bend_weight(angle: FloatArray, band_deg: tuple[float, float]) -> FloatArray:
    """0 below the band, 1 above it, a smooth step in between (NaN stays NaN)."""
    lo, hi = np.radians(band_deg[0]), np.radians(band_deg[1])
    x = np.clip((angle - lo) / max(hi - lo, 1e-9), 0.0, 1.0)
    return x * x * (3.0 - 2.0 * x)


def _held_blend(measured: FloatArray, weight: FloatArray, state: dict[str, float], key: str) -> FloatArray:
    """Angles (T,) where ``weight`` (0…1) says how well each frame measures them: at weight 1 the
    measurement, at 0 the last value measured with weight 1, in between a blend along the shorter arc.
    Before the first fully measured frame the held value is ``state[key]`` (continuing a previous chunk),
    else that first value; with no such frame at all, NaN. Updates ``state``."""
    n = measured.shape[0]
    good = (weight >= 1.0) & np.isfinite(measured)
    last = np.maximum.accumulate(np.where(good, np.arange(n), -1)) if n else np.zeros(0, dtype=int)
    if key in state:
        before = state[key]
    elif good.any():
        before = float(measured[np.argmax(good)])
    else:
        before = np.nan
    held = np.where(last >= 0, measured[np.maximum(last, 0)], before)
    if good.any():
        state[key] = float(measured[np.flatnonzero(good)[-1]])
    w = np.where(np.isfinite(weight) & np.isfinite(measured), weight, 0.0)
    step = np.angle(np.exp(1j * (np.nan_to_num(measured) - held)))  # shorter arc
    return np.where(w >= 1.0, measured, held + w * step)


def _unwrap(q: FloatArray, column: int) -> None:
    values = q[:, column]
    finite = np.isfinite(values)
    if finite.any():
        values[finite] = np.unwrap(values[finite])
