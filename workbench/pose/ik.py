"""Analytic inverse kinematics: MediaPipe world landmarks → the SKEL DoFs that 33 landmarks determine.

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
  hip_flexion/adduction thigh direction (hip → knee) in the pelvis frame, given hip_rotation
  hip_rotation         the plane of the bent knee (hip, knee, ankle); needs knee flexion (see "Twists")
  knee_angle           angle between thigh and shank
  ankle_angle          foot's long axis (heel → foot_index) against the shank, in the plane they span
  subtalar_angle       tilt of the foot plane (heel, foot_index, ankle) about the foot's long axis
  mtp_angle            — (foot_index is the toe tip; no landmark separates the toes from the foot)
  head_bending/extension/twist   face frame (ears, eyes, nose, mouth) relative to the trunk frame
  scapula_* (6)        — (no landmark on the scapula; the shoulder landmark rides on the thorax)
  shoulder_*_x/y/z     upper arm direction; axial rotation (y) from the forearm when the elbow is bent
  elbow_flexion        angle between upper arm and forearm
  pro_sup, wrist_flexion, wrist_deviation   hand frame (wrist, index, pinky) relative to the forearm
                       frame, where the hand triangle is well formed; else the last well-formed value

Trunk split (fixed, documented): landmarks see only the hips and shoulders, i.e. the hip line and one
trunk frame. Its rotation is split by anatomical plane: flexion/extension → pelvis_tilt (so hip flexion
is the thigh's angle to the trunk, and a straight prone plank reads pelvis_tilt ≈ −90° with hips ≈ 0),
side-bending → lumbar_bending, twist → thorax_twist. The spine's own flexion/extension cannot be told
from the pelvis's, so lumbar_extension and thorax_extension are unobserved rather than a guessed share
of the trunk's lean (a share of a gravity-referenced angle would read a plank as a 45° flexed spine).

Twists (the axial rotation of a limb cannot be seen along a straight limb):
  hip_rotation needs a bent knee. Above ``twist_bend_deg[1]`` knee flexion it is measured; below
  ``twist_bend_deg[0]`` the last well-determined value is held (before the first one: the first one,
  or ``hold`` when chunks are solved one after another); in between the two are blended. Flexion and
  adduction are then solved from the thigh direction under that rotation, and the frame's confidence is
  lowered by up to ``1 − held_confidence`` per held hip.
  The shoulder uses the same bend weights on the elbow, but with a straight elbow it takes the twist-free
  (minimal) rotation from the T-pose arm instead of a held value: SKEL's shoulder order (x innermost, y
  about the T-pose arm axis) cannot reach every arm direction under an arbitrary held y, while the
  twist-free choice gives y = 0 for arm movements in the frontal or horizontal plane (hanging arms read
  x = ∓90°, y = z = 0). pro_sup absorbs the forearm's twist when the elbow is straight.
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
    euler_angles,
    face_template,
    hand_template,
    joint_angles,
    joint_rotation,
    mediapipe_to_skel,
)
from workbench.pose.landmarks import MP_INDEX, N_LANDMARKS, LandmarkTrack
from workbench.skeleton import DOF_NAMES, N_DOFS, dof_index

FloatArray = NDArray[np.float64]
BoolArray = NDArray[np.bool_]

UNOBSERVED_DOFS: tuple[str, ...] = (
    "lumbar_extension", "lumbar_twist", "thorax_bending", "thorax_extension", "mtp_angle_r", "mtp_angle_l",
    "scapula_abduction_r", "scapula_elevation_r", "scapula_upward_rot_r",
    "scapula_abduction_l", "scapula_elevation_l", "scapula_upward_rot_l",
)  # fmt: skip
OBSERVED: BoolArray = np.array([n not in UNOBSERVED_DOFS for n in DOF_NAMES])

# The landmarks whose visibility makes a frame's confidence: the limbs' and trunk's joint centres.
CORE_LANDMARKS: tuple[str, ...] = tuple(
    f"{s}_{j}" for s in ("left", "right") for j in ("shoulder", "elbow", "wrist", "hip", "knee", "ankle")
)
_CORE = np.array([MP_INDEX[n] for n in CORE_LANDMARKS])
_SIDES = (("r", "right", -1.0), ("l", "left", 1.0))  # SKEL suffix, MediaPipe word, T-pose arm direction
_HAND_DOFS = ("pro_sup", "wrist_flexion", "wrist_deviation")


@dataclass(frozen=True)
class IKOptions:
    """Tuning of the IK. Angles in degrees."""

    # Knee/elbow flexion below which a limb's axial twist is unseen, and above which it is fully measured.
    twist_bend_deg: tuple[float, float] = (10.0, 25.0)
    # Confidence factor for a frame whose hip rotation is fully held (per hip, scaled by how much is held).
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
    held: (T,) fraction of the hips' rotation that was held rather than measured (0 = none, 2 = both);
    hold: last well-determined values of the held DoFs, to continue with the next chunk."""

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
    held = np.zeros(n)
    for side, word, sx in _SIDES:
        held += _leg(p, q, pelvis, side, word, opts, state)
        forearm = _arm(p, q, trunk, side, word, sx, opts)
        _hand(p, q, forearm, side, word, opts, state)
    _head(p, q, trunk)
    _unwrap(q, dof_index("pelvis_rotation"))
    q[:, ~OBSERVED] = np.nan
    observed = OBSERVED & ~np.isnan(q).all(axis=0) if n else OBSERVED.copy()
    confidence = _confidence(world, visibility) * (1.0 - (1.0 - opts.held_confidence) * held)
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
    _set(q, "pelvis_list", list_)
    _set(q, "pelvis_rotation", rotation)
    # What the pelvis's list and rotation leave: R_tilt · R_lumbar_bending · R_thorax_twist (fixed split).
    names = ("pelvis_tilt", "lumbar_bending", "thorax_twist")
    rest = _rot("pelvis_list", -list_) @ _rot("pelvis_rotation", -rotation) @ trunk
    _set_euler(q, names, rest)
    return joint_rotation(q, "pelvis"), trunk


# ------------------------------------------------------------------------------------------------ legs


def _leg(p: FloatArray, q: FloatArray, pelvis: FloatArray, side: str, word: str, opts: IKOptions,
         state: dict[str, float]) -> FloatArray:  # fmt: skip
    """Hip, knee, ankle and subtalar of one leg; returns the fraction of the hip rotation held per frame."""
    hip, knee, ankle = (_pt(p, f"{word}_{j}") for j in ("hip", "knee", "ankle"))
    thigh, shank = _unit(knee - hip), _unit(ankle - knee)
    knee_angle = _angle_between(thigh, shank)
    _set(q, f"knee_angle_{side}", knee_angle)
    weight = _bend_weight(knee_angle, opts.twist_bend_deg)
    rotation = _held_blend(_hip_rotation_from_bend(pelvis, thigh, shank, side), weight,
                           state, f"hip_rotation_{side}")  # fmt: skip
    _set(q, f"hip_rotation_{side}", rotation)
    _hip_flexion_adduction(q, pelvis, thigh, rotation, side)
    _foot(p, q, shank, side, word)
    return np.where(np.isnan(weight), 0.0, 1.0 - weight)


def _hip_rotation_from_bend(pelvis: FloatArray, thigh: FloatArray, shank: FloatArray, side: str) -> FloatArray:
    """The femur frame from the knee's bend plane (the shank swings backwards, −z, as the knee flexes)."""
    y_axis = -thigh
    z_axis = -_unit(_reject(shank, thigh))
    femur = np.stack([np.cross(y_axis, z_axis), y_axis, z_axis], axis=-1)
    hip = _transpose(pelvis) @ femur
    return joint_angles(hip, f"femur_{side}")[:, 2]


def _hip_flexion_adduction(q: FloatArray, pelvis: FloatArray, thigh: FloatArray, rotation: FloatArray,
                           side: str) -> None:  # fmt: skip
    """Solve v = R_add · R_flex · (0, −1, 0) for the thigh direction v once the hip rotation is removed."""
    v = _rot(f"hip_rotation_{side}", -rotation) @ (_transpose(pelvis) @ thigh[..., None])
    v = v[..., 0]
    (_, s_add), (_, s_flex) = DOF_AXES[dof_index(f"hip_adduction_{side}")], DOF_AXES[dof_index(f"hip_flexion_{side}")]
    # v = (c·sin φ, −c·cos φ, −sin(s_flex·f)) with φ = s_add·a, c = cos f; |a| < 90° so cos φ > 0.
    down = -v[:, 1]
    phi = np.arctan2(v[:, 0] * np.sign(down), np.abs(down))
    c = np.hypot(v[:, 0], v[:, 1]) * np.where(down < 0, -1.0, 1.0)
    _set(q, f"hip_adduction_{side}", s_add * phi)
    _set(q, f"hip_flexion_{side}", s_flex * np.arctan2(-v[:, 2], c))


def _foot(p: FloatArray, q: FloatArray, shank: FloatArray, side: str, word: str) -> None:
    """Ankle and subtalar in the plane of the shank and the foot's long axis, which in SKEL's chain is the
    tibia's sagittal plane whatever the hip's rotation (the ankle turns about the tibia's lateral axis and
    the subtalar about the foot's long axis), so no held value enters."""
    heel, toe, ankle = (_pt(p, f"{word}_{j}") for j in ("heel", "foot_index", "ankle"))
    up = -shank
    long_axis = _unit(toe - heel)
    tibia = _basis_xy(np.cross(up, long_axis), up)  # columns: lateral, up, forward
    foot = _basis_yz(ankle - heel, long_axis)
    rel = _transpose(tibia) @ foot  # = R_ankle · R_subtalar
    axis_a, s_a = DOF_AXES[dof_index(f"ankle_angle_{side}")]
    axis_s, s_s = DOF_AXES[dof_index(f"subtalar_angle_{side}")]
    third = 3 - axis_a - axis_s
    theta = euler_angles(rel, (axis_a, axis_s, third))  # the third angle is 0 in the model, noise in data
    _set(q, f"ankle_angle_{side}", s_a * theta[:, 0])
    _set(q, f"subtalar_angle_{side}", s_s * theta[:, 1])


# ------------------------------------------------------------------------------------------------ arms


def _arm(p: FloatArray, q: FloatArray, trunk: FloatArray, side: str, word: str, sx: float,
         opts: IKOptions) -> FloatArray:  # fmt: skip
    """Shoulder and elbow of one arm; returns the forearm frame in trunk coordinates (for the hand)."""
    shoulder, elbow, wrist = (_pt(p, f"{word}_{j}") for j in ("shoulder", "elbow", "wrist"))
    to_trunk = _transpose(trunk)
    upper = (to_trunk @ _unit(elbow - shoulder)[..., None])[..., 0]
    fore = (to_trunk @ _unit(wrist - elbow)[..., None])[..., 0]
    flexion = _angle_between(upper, fore)
    _set(q, f"elbow_flexion_{side}", flexion)
    swing = _min_rotation(np.array([sx, 0.0, 0.0]), upper)
    # The measured frame differs from the twist-free one by a turn about the arm; apply the bend's share.
    measured_z = _unit(_reject(fore, upper))
    twist = np.arctan2(np.einsum("ti,ti->t", upper, np.cross(swing[..., 2], measured_z)),
                       np.einsum("ti,ti->t", swing[..., 2], measured_z))  # fmt: skip
    weight = np.nan_to_num(_bend_weight(flexion, opts.twist_bend_deg))
    humerus = _axis_angle(upper, weight * twist) @ swing
    _set_joint(q, f"humerus_{side}", humerus)
    x_axis = sx * fore
    return np.stack([x_axis, *_complete(x_axis, humerus[..., 1])], axis=-1)


def _hand(p: FloatArray, q: FloatArray, forearm: FloatArray, side: str, word: str, opts: IKOptions,
          state: dict[str, float]) -> None:  # fmt: skip
    """pro_sup and the wrist from the hand triangle (wrist, index, pinky) against the forearm frame."""
    wrist, index, pinky = (_pt(p, f"{word}_{j}") for j in ("wrist", "index", "pinky"))
    formed = _well_formed(wrist, index, pinky, opts)
    template = _hand_basis_template(opts.segments, side)
    world_hand = _hand_basis(wrist, index, pinky) @ template.T
    trunk = _trunk_only(p)
    rel = _transpose(forearm) @ _transpose(trunk) @ world_hand  # = R_pro_sup · R_deviation · R_flexion
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
    sine = np.linalg.norm(np.cross(_unit(across), _unit(along)), axis=-1)
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
    vis = np.nan_to_num(np.asarray(visibility, dtype=np.float64)[:, _CORE])
    return np.where(detected, vis.mean(axis=1), 0.0)


def _pt(p: FloatArray, name: str) -> FloatArray:
    return p[:, MP_INDEX[name]]


def _trunk_only(p: FloatArray) -> FloatArray:
    mid_hip = 0.5 * (_pt(p, "left_hip") + _pt(p, "right_hip"))
    mid_shoulder = 0.5 * (_pt(p, "left_shoulder") + _pt(p, "right_shoulder"))
    return _basis_xy(_pt(p, "left_shoulder") - _pt(p, "right_shoulder"), mid_shoulder - mid_hip)


def _set(q: FloatArray, name: str, values: FloatArray) -> None:
    q[:, dof_index(name)] = values


def _rot(name: str, angle: FloatArray) -> FloatArray:
    """The rotation of one DoF by ``angle`` (its sign convention applied)."""
    axis, sign = DOF_AXES[dof_index(name)]
    return axis_rotation(axis, sign * angle)


def _set_euler(q: FloatArray, names: tuple[str, str, str], rot: FloatArray) -> None:
    """rot = R(names[0]) · R(names[1]) · R(names[2]); write the three angles."""
    specs = [DOF_AXES[dof_index(n)] for n in names]
    theta = euler_angles(rot, (specs[0][0], specs[1][0], specs[2][0]))
    for k, (name, (_, sign)) in enumerate(zip(names, specs, strict=True)):
        _set(q, name, sign * theta[:, k])


def _set_joint(q: FloatArray, joint_name: str, rot: FloatArray) -> None:
    from workbench.skeleton import joint

    q[:, list(joint(joint_name).dofs)] = joint_angles(rot, joint_name)


def _unit(v: FloatArray) -> FloatArray:
    norm = np.linalg.norm(v, axis=-1, keepdims=True)
    with np.errstate(invalid="ignore", divide="ignore"):
        return v / norm


def _reject(v: FloatArray, axis: FloatArray) -> FloatArray:
    """The part of v perpendicular to the unit vector ``axis``."""
    return v - np.einsum("...i,...i->...", v, axis)[..., None] * axis


def _angle_between(a: FloatArray, b: FloatArray) -> FloatArray:
    """Angle between unit vectors, accurate near 0 and 180° (atan2 of sine and cosine)."""
    return np.arctan2(np.linalg.norm(np.cross(a, b), axis=-1), np.einsum("...i,...i->...", a, b))


def _basis_xy(x_hint: FloatArray, y: FloatArray) -> FloatArray:
    """Right-handed frame (columns) whose y is ``y`` and whose x is ``x_hint`` made perpendicular to it."""
    y_axis = _unit(y)
    x_axis = _unit(_reject(x_hint, y_axis))
    return np.stack([x_axis, y_axis, np.cross(x_axis, y_axis)], axis=-1)


def _basis_xz(x: FloatArray, z_hint: FloatArray) -> FloatArray:
    """Right-handed frame whose x is ``x`` and whose z is ``z_hint`` made perpendicular to it."""
    x_axis = _unit(x)
    z_axis = _unit(_reject(z_hint, x_axis))
    return np.stack([x_axis, np.cross(z_axis, x_axis), z_axis], axis=-1)


def _basis_yz(y_hint: FloatArray, z: FloatArray) -> FloatArray:
    """Right-handed frame whose z is ``z`` and whose y is ``y_hint`` made perpendicular to it."""
    z_axis = _unit(z)
    y_axis = _unit(_reject(y_hint, z_axis))
    return np.stack([np.cross(y_axis, z_axis), y_axis, z_axis], axis=-1)


def _complete(x_axis: FloatArray, y_hint: FloatArray) -> tuple[FloatArray, FloatArray]:
    """The y and z columns of a right-handed frame with the given x axis and y near ``y_hint``."""
    y_axis = _unit(_reject(y_hint, x_axis))
    return y_axis, np.cross(x_axis, y_axis)


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
    k = _skew(np.cross(a, b))
    c = np.einsum("i,ti->t", a, b)
    with np.errstate(invalid="ignore", divide="ignore"):
        rot = np.eye(3) + k + (k @ k) / (1.0 + c)[:, None, None]
    opposite = 1.0 + c < 1e-9
    if opposite.any():
        rot[opposite] = axis_rotation(1, np.array(np.pi))
    return rot


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
    """weight · measured + (1 − weight) · (the last value measured with weight 1). Before the first such
    frame: ``state[key]`` when continuing a previous chunk, else the first such value. Updates ``state``."""
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
    w = np.where(np.isfinite(weight), weight, 0.0)
    return np.where(w >= 1.0, measured, w * np.nan_to_num(measured) + (1.0 - w) * held)


def _unwrap(q: FloatArray, column: int) -> None:
    values = q[:, column]
    finite = np.isfinite(values)
    if finite.any():
        values[finite] = np.unwrap(values[finite])
