"""Acclaim AMC motion files (the CMU Graphics Lab mocap database) → PoseTrack in SKEL's convention.

An AMC file holds, per frame, the frame number and then one ``bone value …`` line per bone; which DoFs a
bone's values are (``rx ry rz``…) is fixed by the skeleton's ASF file. The CMU skeletons all share the bone
names and DoF lists in :data:`CMU_BONE_DOFS` (``SkeletonJoints.key``), which this importer uses; no ASF is
needed. Angles are Euler angles in degrees (``:DEGREES``; a ``:RADIANS`` header is honoured), relative to the
bone's rest orientation in the ASF base pose, in the bone's axis frame C: the bone's rotation is
C·Rz·Ry·Rx·C⁻¹ (x applied first).

CMU axes: +x = subject's left, +y up, +z forwards (SMPL's). The ASF base pose stands with straight knees and
elbows, arms horizontal, and each leg splayed 20° outwards (femur and tibia direction (±0.342, −0.940, 0),
axis frame C = Rz(±20°)). That geometry was checked on the data: with C·Rz·Ry·Rx the feet of forward
kinematics stay planted (within ~1–2 ASF units) through every labelled squat while the pelvis drops ~11
units; the other Euler order moves them 3–7 units.

The mapping (degrees; radians in the track):

================  =============================================  ==============================================
SKEL DoF          from                                           sign, offset, and how it was checked
================  =============================================  ==============================================
knee_angle_r/_l   ``rtibia.rx`` / ``ltibia.rx``                  +rx swings the shank backwards (flexion); the
                                                                 base pose's knee is straight, so no offset.
                                                                 Squat bottoms read 139–158°, standing 20–35°.
hip_flexion_r/_l  femur rotation F = C·Rz·Ry·Rx, C = Rz(−20°)   F = Ry(rotation)·Rz(adduction)·Rx(flexion),
hip_adduction_r   right / Rz(+20°) left (the 20° splay removed:  SKEL's order. Flexion = −(x angle): +x swings
hip_adduction_l   F = I is a vertical thigh), re-decomposed      the thigh backwards; squats read up to ~110°,
                  in SKEL's order                                knee raises ~105°. Adduction = +(z angle)
                                                                 right, −(z angle) left: +z swings a leg towards
                                                                 the subject's left. Feet-together standing ≈ 0°;
                                                                 jumping-jack leg spreads −13…−24° on both sides,
                                                                 and adduction correlates at −0.97…−0.996 with
                                                                 the forward-kinematics ankle separation.
elbow_flexion     ``rradius.rx`` / ``lradius.rx``                the elbow's only DoF, 0° = straight arm (base
                                                                 pose); median 20–36° in arm circles, 96–117°
                                                                 while jogging with bent arms.
lumbar_extension  ``lowerback`` rotation in SKEL's order         −(x angle): +x tips the trunk forwards; toe
                  (Ry·Rx·Rz), ≈ −``lowerback.rx``               touches read down to −38…−53°.
thorax_extension  ``upperback``·``thorax`` rotations, the same   CMU's two upper spine joints stand for SKEL's
                                                                 one thorax joint.
================  =============================================  ==============================================

Why the hips are re-decomposed rather than read as ``−rx`` and ``rz − 20``: the AMC applies rz last, about
the pelvis's forward axis, so with the thigh flexed towards horizontal rz spins the thigh instead of
adducting it. At the bottom of the 14_14 squats ``rz − 20`` reads −50° (right) and −135° (left) while the
thighs point forwards-outwards with the knees wide; in SKEL's order the same poses read about −15° of
adduction and −80…−90° of (external) rotation. For single-plane moves (standing, jumping jacks) both
readings agree within a few degrees.

Not mapped (left unobserved): pelvis (the root carries the subject's heading, not a pelvis angle the rules
use); hip rotation, lumbar/thorax bending and twist (computed in the same decomposition, but SKEL_DOFS.md
states no sign convention for them to check against); shoulders (the humerus axis frame is not in the data:
arms hanging read rz ≈ −85° right / +85° left, matching SKEL's sign, but arms overhead in a jumping jack read
rz ≈ −15° with rx ≈ +45°, so rz alone is not elevation); ankles, wrists, head, scapulae.

Offsets: none is subtracted from knee flexion. The CMU fits read 20–35° of knee flexion in quiet standing;
that is the mocap calibration, not a convention of the format, nothing in the skeleton states it, and a
per-file "standing" value would need a standing detector and shift every depth check by a data-dependent
amount. The only offset is the hip's 20°, which is the ASF's own geometry.

The files are 120 Hz. :func:`read_amc` resamples to ``target_fps`` (default 30): by averaging blocks of
frames when the ratio is an integer (``method="average"``; each block stamped at its mean time), else, or
with ``method="interp"``, by linear interpolation onto a grid from the first frame's time. Frame ``n`` is
at ``(n − first) / fps`` seconds, so times match the mocap6 label files, whose 0.1 s blocks start at frame 1.

The CMU ``mocap6`` label files (``truelabels/<seq>.txt``: one integer per 0.1 s block of 12 frames) are
read by :func:`read_labels` and turned into ``(label, start_s, end_s)`` segments by :func:`label_segments`
and :func:`segments`; :func:`cut` takes such a segment out of a track.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Literal, NamedTuple, NoReturn

import numpy as np
from numpy.typing import NDArray

from workbench.errors import PoseFileError
from workbench.pose.track import PoseTrack
from workbench.skeleton import N_DOFS, dof_index

CMU_FPS = 120.0
LABEL_BLOCK_S = 0.1  # mocap6 labels: one per 12 AMC frames at 120 Hz

# DoFs of each bone in the CMU skeletons, in file order (SkeletonJoints.key; every CMU ASF has these).
CMU_BONE_DOFS: dict[str, tuple[str, ...]] = {
    "root": ("tx", "ty", "tz", "rx", "ry", "rz"),
    "lowerback": ("rx", "ry", "rz"),
    "upperback": ("rx", "ry", "rz"),
    "thorax": ("rx", "ry", "rz"),
    "lowerneck": ("rx", "ry", "rz"),
    "upperneck": ("rx", "ry", "rz"),
    "head": ("rx", "ry", "rz"),
    "rclavicle": ("ry", "rz"),
    "rhumerus": ("rx", "ry", "rz"),
    "rradius": ("rx",),
    "rwrist": ("ry",),
    "rhand": ("rx", "rz"),
    "rfingers": ("rx",),
    "rthumb": ("rx", "rz"),
    "lclavicle": ("ry", "rz"),
    "lhumerus": ("rx", "ry", "rz"),
    "lradius": ("rx",),
    "lwrist": ("ry",),
    "lhand": ("rx", "rz"),
    "lfingers": ("rx",),
    "lthumb": ("rx", "rz"),
    "rfemur": ("rx", "ry", "rz"),
    "rtibia": ("rx",),
    "rfoot": ("rx", "rz"),
    "rtoes": ("rx",),
    "lfemur": ("rx", "ry", "rz"),
    "ltibia": ("rx",),
    "lfoot": ("rx", "rz"),
    "ltoes": ("rx",),
}

# mocap6 action codes (truelabels/*.txt, mocap6.mat ActionNames).
ACTION_NAMES: dict[int, str] = {
    1: "JumpJack",
    2: "Jog",
    3: "Squat",
    4: "KneeRaise",
    5: "ArmCircle",
    6: "Twist",
    7: "SideReach",
    8: "Box",
    9: "UpDown",
    10: "ToeTouchOneHand",
    11: "SideBend",
    12: "ToeTouchTwoHands",
}


# ------------------------------------------------------------------------------------------ the mapping

# SKEL DoFs this importer fills (all others are unobserved); see the module docstring for each one.
MAPPED_DOFS: tuple[str, ...] = (
    "hip_flexion_r",
    "hip_adduction_r",
    "knee_angle_r",
    "hip_flexion_l",
    "hip_adduction_l",
    "knee_angle_l",
    "lumbar_extension",
    "thorax_extension",
    "elbow_flexion_r",
    "elbow_flexion_l",
)

_MAPPED_BONES = ("rfemur", "lfemur", "rtibia", "ltibia", "rradius", "lradius", "lowerback", "upperback", "thorax")

# The CMU ASF turns each femur's axis frame about z ("axis 0 0 20" left, "0 0 -20" right) so that its
# y axis runs along the bone, whose base-pose direction is (±0.342, −0.940, 0): legs splayed 20° outwards.
FEMUR_AXIS_Z_DEG: dict[str, float] = {"r": -20.0, "l": 20.0}


def _rotations(axis: str, degrees: NDArray[np.float64]) -> NDArray[np.float64]:
    """(N, 3, 3) right-handed rotations by ``degrees`` about the x, y or z axis."""
    a = np.radians(degrees)
    c, s = np.cos(a), np.sin(a)
    out = np.zeros((a.shape[0], 3, 3))
    i, j = {"x": (1, 2), "y": (2, 0), "z": (0, 1)}[axis]
    k = 3 - i - j
    out[:, k, k] = 1.0
    out[:, i, i] = c
    out[:, j, j] = c
    out[:, i, j] = -s
    out[:, j, i] = s
    return out


def amc_rotation(rx: NDArray[np.float64], ry: NDArray[np.float64], rz: NDArray[np.float64]) -> NDArray[np.float64]:
    """A bone's rotation from AMC Euler angles (degrees): Rz·Ry·Rx, x applied first (Acclaim "XYZ")."""
    return _rotations("z", rz) @ _rotations("y", ry) @ _rotations("x", rx)


def _bone_rotation(motion: AmcMotion, bone: str) -> NDArray[np.float64]:
    return amc_rotation(motion.channel(bone, "rx"), motion.channel(bone, "ry"), motion.channel(bone, "rz"))


def _wrap(degrees: NDArray[np.float64], low: float) -> NDArray[np.float64]:
    """Angles into [low, low + 360)."""
    return np.asarray((degrees - low) % 360.0 + low, dtype=np.float64)


def skel_angles_deg(motion: AmcMotion) -> dict[str, NDArray[np.float64]]:
    """The SKEL DoFs of :data:`MAPPED_DOFS` in degrees, for those whose CMU bones the motion has.

    Hips and spine are re-decomposed into SKEL's Euler order (R = R_rotation·R_adduction·R_flexion for the
    hip, R_twist·R_extension·R_bending for the spine; in CMU axes Ry·Rz·Rx and Ry·Rx·Rz) so that the
    angles mean what SKEL's mean even when several rotations combine (a deep squat)."""
    out: dict[str, NDArray[np.float64]] = {}
    n = motion.n_frames
    for side, adduction_sign in (("r", 1.0), ("l", -1.0)):
        if f"{side}femur" in motion.bones:
            # Femur relative to the pelvis with the base pose's 20° splay removed: F = C·M, C = Rz(±20°).
            f = _rotations("z", np.full(n, FEMUR_AXIS_Z_DEG[side])) @ _bone_rotation(motion, f"{side}femur")
            # F = Ry(rotation)·Rz(adduction)·Rx(flexion). +x swings the thigh backwards (extension); +z swings
            # the leg towards the subject's left (adduction on the right, abduction on the left).
            flexion_x = np.degrees(np.arctan2(-f[:, 1, 2], f[:, 1, 1]))
            adduction_z = np.degrees(np.arcsin(np.clip(f[:, 1, 0], -1.0, 1.0)))
            out[f"hip_flexion_{side}"] = _wrap(-flexion_x, -90.0)
            out[f"hip_adduction_{side}"] = adduction_sign * adduction_z
        if f"{side}tibia" in motion.bones:
            out[f"knee_angle_{side}"] = motion.channel(f"{side}tibia", "rx").astype(np.float64)
        if f"{side}radius" in motion.bones:
            out[f"elbow_flexion_{side}"] = motion.channel(f"{side}radius", "rx").astype(np.float64)
    # Spine: R = Ry(twist)·Rx(extension axis)·Rz(bending); +x tips the upper body forwards (flexion).
    spine: list[tuple[str, tuple[str, ...]]] = [
        ("lumbar_extension", ("lowerback",)),
        ("thorax_extension", ("upperback", "thorax")),
    ]
    for dof_name, bones in spine:
        if all(b in motion.bones for b in bones):
            rotation = _bone_rotation(motion, bones[0])
            for b in bones[1:]:
                rotation = rotation @ _bone_rotation(motion, b)
            out[dof_name] = -np.degrees(np.arcsin(np.clip(-rotation[:, 1, 2], -1.0, 1.0)))
    return out


@dataclass(frozen=True)
class AmcMotion:
    """The raw content of an AMC file: frame numbers and each bone's values per frame (degrees)."""

    name: str
    frames: NDArray[np.int64]  # (T,) frame numbers as written
    bones: dict[str, NDArray[np.float64]]  # bone -> (T, n_values), degrees (root translation as written)
    bone_dofs: dict[str, tuple[str, ...]]  # bone -> DoF names of its values
    header: tuple[str, ...] = ()

    @property
    def n_frames(self) -> int:
        return int(self.frames.shape[0])

    def channel(self, bone: str, dof: str) -> NDArray[np.float64]:
        """One channel over time, e.g. ``channel("rtibia", "rx")``, degrees."""
        if bone not in self.bones:
            raise PoseFileError(f"{self.name}: expected bone {bone!r} in every frame, got bones {sorted(self.bones)}")
        dofs = self.bone_dofs.get(bone, ())
        if dof not in dofs:
            raise PoseFileError(f"{self.name}: bone {bone!r}: expected DoF {dof!r}, got DoFs {list(dofs)}")
        return self.bones[bone][:, dofs.index(dof)]


class LabelSegment(NamedTuple):
    """One contiguous run of a label: ``(label, start_s, end_s)``, end exclusive."""

    label: str
    start_s: float
    end_s: float


# ------------------------------------------------------------------------------------------------ parsing


def read_amc_motion(path: str | Path, bone_dofs: dict[str, tuple[str, ...]] | None = None) -> AmcMotion:
    """Parse an AMC file into raw channels (no mapping, no resampling)."""
    path = Path(path)
    try:
        text = path.read_text(encoding="ascii", errors="replace")
    except OSError as exc:
        raise PoseFileError(f"{path}: cannot read the AMC file ({exc.strerror or exc})") from None
    return parse_amc(text, name=str(path), bone_dofs=bone_dofs)


def parse_amc(text: str, name: str = "<amc>", bone_dofs: dict[str, tuple[str, ...]] | None = None) -> AmcMotion:
    """Parse AMC text. Every frame must list the same bones with the same number of values as the first
    frame; with ``bone_dofs`` (default: the CMU skeleton) each known bone must have that many values.
    Malformed input raises PoseFileError naming ``name`` and the 1-based line."""
    known = CMU_BONE_DOFS if bone_dofs is None else bone_dofs
    lines = text.splitlines()
    header: list[str] = []
    radians = False
    i = 0
    n_lines = len(lines)
    # Header: ':KEYWORD' and '#' comment lines up to the first frame number.
    while i < n_lines:
        s = lines[i].strip()
        if not s or s.startswith("#"):
            i += 1
            continue
        if s.startswith(":"):
            header.append(s)
            radians = radians or s.upper() == ":RADIANS"
            i += 1
            continue
        break
    if i >= n_lines:
        raise PoseFileError(f"{name}: expected AMC frames (a frame number, then one line per bone), got none")

    frames: list[int] = []
    frame_lines: list[int] = []  # line number of each frame-number line (0-based index)
    values: dict[str, list[str]] = {}
    counts: dict[str, int] = {}
    order: list[str] = []  # bones of the first frame, in order
    seen: set[str] = set()
    for j in range(i, n_lines):
        parts = lines[j].split()
        if not parts:
            continue
        head = parts[0]
        if len(parts) == 1 and head.isdigit():
            if frames:
                _check_frame_complete(seen, order, name, frame_lines[-1], frames[-1])
                if int(head) <= frames[-1]:
                    raise PoseFileError(f"{name}:{j + 1}: expected a frame number above {frames[-1]}, got {head}")
            frames.append(int(head))
            frame_lines.append(j)
            seen = set()
            continue
        if head.startswith("#"):
            continue
        if not frames:
            raise PoseFileError(f"{name}:{j + 1}: expected a frame number, got {lines[j].strip()[:60]!r}")
        if head[0].isdigit() or head[0] in "+-.":
            raise PoseFileError(
                f"{name}:{j + 1}: expected a frame number alone or 'bone value …', got {lines[j].strip()[:60]!r}"
            )
        n = len(parts) - 1
        if head in seen:
            raise PoseFileError(f"{name}:{j + 1}: bone {head!r} appears twice in frame {frames[-1]}")
        seen.add(head)
        if len(frames) == 1:
            if n == 0:
                raise PoseFileError(f"{name}:{j + 1}: bone {head!r}: expected at least one value, got none")
            if head in known and len(known[head]) != n:
                raise PoseFileError(
                    f"{name}:{j + 1}: bone {head!r}: expected {len(known[head])} values "
                    f"({' '.join(known[head])}), got {n}"
                )
            counts[head] = n
            order.append(head)
            values[head] = []
        elif head not in counts:
            raise PoseFileError(f"{name}:{j + 1}: bone {head!r} is not in the first frame (bones: {', '.join(order)})")
        elif counts[head] != n:
            raise PoseFileError(f"{name}:{j + 1}: bone {head!r}: expected {counts[head]} values, got {n}")
        values[head].extend(parts[1:])
    if not frames:
        raise PoseFileError(f"{name}: expected AMC frames (a frame number, then one line per bone), got none")
    _check_frame_complete(seen, order, name, frame_lines[-1], frames[-1])

    t_count = len(frames)
    bones: dict[str, NDArray[np.float64]] = {}
    for bone in order:
        try:
            arr = np.array(values[bone], dtype=np.float64)
        except ValueError:
            _raise_bad_number(lines, i, bone, name)
        arr = arr.reshape(t_count, counts[bone])
        if not np.isfinite(arr).all():
            frame_at = int(np.flatnonzero(~np.isfinite(arr).all(axis=1))[0])
            line = _bone_line(lines, frame_lines[frame_at], bone)
            raise PoseFileError(f"{name}:{line}: bone {bone!r}: expected finite numbers, got NaN or inf")
        if radians and bone != "root":
            arr = np.degrees(arr)
        elif radians:
            arr[:, 3:] = np.degrees(arr[:, 3:])
        bones[bone] = arr
    dof_names = {b: known.get(b, tuple(f"v{k}" for k in range(counts[b]))) for b in order}
    return AmcMotion(
        name=name, frames=np.asarray(frames, dtype=np.int64), bones=bones, bone_dofs=dof_names, header=tuple(header)
    )


def _check_frame_complete(seen: set[str], order: list[str], name: str, line_index: int, frame: int) -> None:
    if len(seen) != len(order):
        missing = [b for b in order if b not in seen]
        raise PoseFileError(
            f"{name}:{line_index + 1}: frame {frame}: expected a line for every bone of the "
            f"first frame, missing {', '.join(missing)}"
        )


def _bone_line(lines: list[str], start: int, bone: str) -> int:
    """1-based line of ``bone`` in the frame whose number is on line index ``start``."""
    for j in range(start + 1, len(lines)):
        parts = lines[j].split()
        if parts and parts[0] == bone:
            return j + 1
    return start + 1


def _raise_bad_number(lines: list[str], first: int, bone: str, name: str) -> NoReturn:
    """Slow path, only after a failed bulk conversion: find the line with the bad number."""
    for j in range(first, len(lines)):
        parts = lines[j].split()
        if not parts or parts[0] != bone:
            continue
        for token in parts[1:]:
            try:
                float(token)
            except ValueError:
                raise PoseFileError(f"{name}:{j + 1}: bone {bone!r}: expected a number, got {token!r}") from None
    raise PoseFileError(f"{name}: bone {bone!r}: expected numbers, got a value that is not one")


# ------------------------------------------------------------------------------------------ to PoseTrack


def amc_to_track(
    motion: AmcMotion,
    *,
    fps: float = CMU_FPS,
    target_fps: float | None = 30.0,
    method: Literal["average", "interp"] = "average",
    source: str | None = None,
) -> PoseTrack:
    """Map raw AMC channels to SKEL DoFs (radians; only mapped DoFs observed) and resample.

    ``fps`` is the file's capture rate; ``target_fps=None`` keeps it. Frame ``n`` is at
    ``(n − first frame) / fps`` seconds."""
    if not (math.isfinite(fps) and fps > 0):
        raise ValueError(f"fps: expected a positive number, got {fps}")
    if target_fps is not None and not (math.isfinite(target_fps) and target_fps > 0):
        raise ValueError(f"target_fps: expected a positive number or None, got {target_fps}")
    if method not in ("average", "interp"):
        raise ValueError(f"method: expected 'average' or 'interp', got {method!r}")
    q = np.full((motion.n_frames, N_DOFS), np.nan)
    observed = np.zeros(N_DOFS, dtype=bool)
    angles = skel_angles_deg(motion)
    if not angles:
        raise PoseFileError(
            f"{motion.name}: expected bones of the CMU skeleton ({', '.join(_MAPPED_BONES)}), "
            f"got {', '.join(motion.bones) or 'none'}"
        )
    for name, degrees in angles.items():
        k = dof_index(name)
        q[:, k] = np.radians(degrees)
        observed[k] = True
    t = (motion.frames - motion.frames[0]).astype(np.float64) / fps
    source = source or f"amc:{Path(motion.name).name}"
    if target_fps is None or (math.isclose(target_fps, fps) and _consecutive(motion.frames)):
        track = PoseTrack(
            q=q,
            t=t,
            confidence=np.ones(len(t)),
            observed=observed,
            source=source,
            nominal_fps=fps if _consecutive(motion.frames) else None,
        )
        return track
    ratio = fps / target_fps
    step = round(ratio)
    if method == "average" and step >= 1 and math.isclose(ratio, step) and _consecutive(motion.frames):
        n_blocks = motion.n_frames // step
        if n_blocks == 0:
            raise PoseFileError(
                f"{motion.name}: expected at least {step} frames to average to {target_fps:g} fps, "
                f"got {motion.n_frames}"
            )
        used = n_blocks * step
        q_new = q[:used].reshape(n_blocks, step, N_DOFS).mean(axis=1)
        t_new = t[:used].reshape(n_blocks, step).mean(axis=1)
    else:
        n_new = math.floor((t[-1] - t[0]) * target_fps + 1e-9) + 1
        t_new = t[0] + np.arange(n_new) / target_fps
        q_new = np.full((n_new, N_DOFS), np.nan)
        for k in np.flatnonzero(observed):
            q_new[:, k] = np.interp(t_new, t, q[:, k])
    return PoseTrack(
        q=q_new,
        t=t_new,
        confidence=np.ones(len(t_new)),
        observed=observed,
        source=source,
        nominal_fps=float(target_fps),
    )


def _consecutive(frames: NDArray[np.int64]) -> bool:
    return bool(frames.shape[0] < 2 or (np.diff(frames) == 1).all())


def read_amc(
    path: str | Path,
    *,
    fps: float = CMU_FPS,
    target_fps: float | None = 30.0,
    method: Literal["average", "interp"] = "average",
    source: str | None = None,
) -> PoseTrack:
    """Read a CMU AMC file as a SKEL PoseTrack at ``target_fps`` (see the module docstring for the mapping)."""
    motion = read_amc_motion(path)
    return amc_to_track(motion, fps=fps, target_fps=target_fps, method=method, source=source)


def cut(track: PoseTrack, start_s: float, end_s: float, pad_s: float = 0.0) -> PoseTrack:
    """The frames with ``start_s − pad_s <= t < end_s + pad_s`` (times kept as they are)."""
    keep = (track.t >= start_s - pad_s - 1e-9) & (track.t < end_s + pad_s - 1e-9)
    if not keep.any():
        raise ValueError(f"cut: no frame of {track.source} lies in [{start_s - pad_s:.3f}, {end_s + pad_s:.3f}) s")
    betas = None if track.betas is None else track.betas[keep]
    return replace(track, q=track.q[keep], t=track.t[keep], confidence=track.confidence[keep], betas=betas)


# ----------------------------------------------------------------------------------------------- labels


def read_labels(path: str | Path) -> NDArray[np.int64]:
    """A mocap6 ``truelabels`` file: whitespace-separated integer action codes, one per 0.1 s block."""
    path = Path(path)
    try:
        tokens = path.read_text(encoding="ascii").split()
    except (OSError, UnicodeDecodeError) as exc:
        raise PoseFileError(f"{path}: cannot read the label file ({exc})") from None
    if not tokens:
        raise PoseFileError(f"{path}: expected integer action codes, got an empty file")
    try:
        codes = np.array([int(tok) for tok in tokens], dtype=np.int64)
    except ValueError:
        bad = next(tok for tok in tokens if not tok.lstrip("-").isdigit())
        raise PoseFileError(f"{path}: expected integer action codes, got {bad!r}") from None
    unknown = sorted(set(codes.tolist()) - set(ACTION_NAMES))
    if unknown:
        raise PoseFileError(f"{path}: expected action codes 1–12, got {unknown}")
    return codes


def label_segments(labels: NDArray[np.integer] | list[int], block_s: float = LABEL_BLOCK_S) -> list[LabelSegment]:
    """Contiguous runs of one label as ``(label_name, start_s, end_s)``; block ``b`` covers
    ``[b·block_s, (b+1)·block_s)``, i.e. AMC frames ``12b+1 … 12b+12`` at 120 Hz."""
    codes = np.asarray(labels, dtype=np.int64)
    if codes.size == 0:
        return []
    edges = np.flatnonzero(np.diff(codes)) + 1
    starts = np.concatenate([[0], edges])
    ends = np.concatenate([edges, [codes.size]])
    return [
        LabelSegment(ACTION_NAMES.get(int(codes[a]), str(int(codes[a]))), round(a * block_s, 6), round(b * block_s, 6))
        for a, b in zip(starts.tolist(), ends.tolist(), strict=True)
    ]


def segments(labels_path: str | Path, label: str | None = None) -> list[LabelSegment]:
    """The labelled segments of one mocap6 sequence, optionally only those named ``label`` ('Squat')."""
    found = label_segments(read_labels(labels_path))
    if label is not None and label not in ACTION_NAMES.values():
        raise ValueError(f"label: expected one of {', '.join(ACTION_NAMES.values())}, got {label!r}")
    return [s for s in found if label is None or s.label == label]
