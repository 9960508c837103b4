"""Acclaim AMC motion files (the CMU Graphics Lab mocap database) → PoseTrack in SKEL's convention.

An AMC file holds, per frame, the frame number and then one ``bone value …`` line per bone; which DoFs a
bone's values are (``rx ry rz``…) is fixed by the skeleton's ASF file. The CMU skeletons all share the
bone names and DoF lists in :data:`CMU_BONE_DOFS` (their ``SkeletonJoints.key``), which this importer uses
when no ASF is given. Angles are Euler angles in degrees (``:DEGREES``; ``:RADIANS`` is honoured), each
relative to the bone's rest orientation in the ASF base pose, composed as Rz·Ry·Rx in the bone's local
axis frame.

What the CMU skeleton's geometry implies (``+x`` = subject's left, ``+y`` up, ``+z`` forward; femur and
tibia local frames turned ±20° about z so that their y axis runs along the leg; the ASF base pose stands
with straight knees and each leg splayed 20° outwards), and how each mapped DoF was checked against
labelled segments of the ``cmu_mocap6`` exercise routines:

==================  ===================================  =================================================
SKEL DoF            from (degrees)                       why this sign / offset
==================  ===================================  =================================================
knee_angle_r / _l   ``+rtibia.rx`` / ``+ltibia.rx``      +rx swings the shank backwards (flexion). Squat
                                                         bottoms read 140–158°, standing 20–30°; the base
                                                         pose has a straight knee, so no offset exists in
                                                         the skeleton to subtract (see below).
hip_flexion_r / _l  ``−rfemur.rx`` / ``−lfemur.rx``      +rx swings the thigh backwards (extension); in
                                                         squats and knee raises rx goes strongly negative.
hip_adduction_r     ``+rfemur.rz − 20``                  +rz turns the leg towards the subject's left: for
hip_adduction_l     ``−lfemur.rz − 20``                  the right leg that is adduction, for the left one
                                                         abduction. The base pose is 20° abducted (ASF
                                                         femur direction (±0.342, −0.940, 0)), so 20° is
                                                         subtracted: standing reads about 0°, jumping-jack
                                                         leg spreads read −20…−30° on both sides.
elbow_flexion_r/_l  ``+rradius.rx`` / ``+lradius.rx``    rx is the elbow's only DoF, 0° = straight arm
                                                         (base pose); it stays ≥ 0 and reaches ~90–120°
                                                         while jogging with bent arms.
lumbar_extension    ``−lowerback.rx``                    +rx tips the trunk forwards (flexion); toe
                                                         touches drive it strongly positive.
thorax_extension    ``−(upperback.rx + thorax.rx)``      the same axis for CMU's two upper spine joints,
                                                         which SKEL's single thorax joint stands for.
shoulder_r_x / _l_x ``+rhumerus.rz`` / ``+lhumerus.rz``  frontal-plane elevation from the T-pose (both
                                                         zero = arms horizontal): arms hanging read about
                                                         −80° right / +80° left, arms overhead in a
                                                         jumping jack about +60…+90° / −60…−90°, which is
                                                         SKEL's sign (hanging ≈ −90° right, +90° left).
==================  ===================================  =================================================

Every other SKEL DoF is marked unobserved (pelvis: the root holds the global heading, not a pelvis-to-world
angle the rules could use; hip rotation, spine bending and twist, scapulae, wrists, ankles: their sign or
axis conventions cannot be checked without the subject's ASF). Single-plane motions map exactly;
combined rotations only approximately, since SKEL composes its Euler angles in another order.

Knee offset: the CMU fits read 20–30° of knee flexion in quiet standing. That is the mocap's calibration,
not a convention of the file format, and nothing in the skeleton states it, so the importer does not
subtract it: a per-file "standing" value would need a standing detector, and would shift every depth check
by a data-dependent amount. Rules that look at absolute knee angles see the data as CMU recorded it.

The files are 120 Hz. :func:`read_amc` resamples to ``target_fps`` (default 30): by averaging blocks of
frames when the ratio is an integer (``method="average"``, each block stamped at its mean time), else, or
with ``method="interp"``, by linear interpolation onto a grid starting at the first frame's time. Frame
``n`` is at ``(n − first) / fps`` seconds, so times match the label files, whose 0.1 s blocks start at
frame 1.

The CMU ``mocap6`` label files (``truelabels/<seq>.txt``: one integer per 0.1 s block of 12 frames) are
read by :func:`read_labels` and turned into ``(label, start_s, end_s)`` segments by :func:`label_segments`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Literal, NamedTuple

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
    "lowerback": ("rx", "ry", "rz"), "upperback": ("rx", "ry", "rz"), "thorax": ("rx", "ry", "rz"),
    "lowerneck": ("rx", "ry", "rz"), "upperneck": ("rx", "ry", "rz"), "head": ("rx", "ry", "rz"),
    "rclavicle": ("ry", "rz"), "rhumerus": ("rx", "ry", "rz"), "rradius": ("rx",), "rwrist": ("ry",),
    "rhand": ("rx", "rz"), "rfingers": ("rx",), "rthumb": ("rx", "rz"),
    "lclavicle": ("ry", "rz"), "lhumerus": ("rx", "ry", "rz"), "lradius": ("rx",), "lwrist": ("ry",),
    "lhand": ("rx", "rz"), "lfingers": ("rx",), "lthumb": ("rx", "rz"),
    "rfemur": ("rx", "ry", "rz"), "rtibia": ("rx",), "rfoot": ("rx", "rz"), "rtoes": ("rx",),
    "lfemur": ("rx", "ry", "rz"), "ltibia": ("rx",), "lfoot": ("rx", "rz"), "ltoes": ("rx",),
}  # fmt: skip

# mocap6 action codes (truelabels/*.txt, mocap6.mat ActionNames).
ACTION_NAMES: dict[int, str] = {
    1: "JumpJack", 2: "Jog", 3: "Squat", 4: "KneeRaise", 5: "ArmCircle", 6: "Twist", 7: "SideReach",
    8: "Box", 9: "UpDown", 10: "ToeTouchOneHand", 11: "SideBend", 12: "ToeTouchTwoHands",
}  # fmt: skip


@dataclass(frozen=True)
class ChannelMap:
    """One SKEL DoF as a signed sum of AMC channels plus an offset, all in degrees."""

    dof: str
    terms: tuple[tuple[str, str, float], ...]  # (bone, channel, sign)
    offset_deg: float = 0.0

    def degrees(self, motion: AmcMotion) -> NDArray[np.float64]:
        total = np.full(motion.n_frames, self.offset_deg)
        for bone, channel, sign in self.terms:
            total = total + sign * motion.channel(bone, channel)
        return total


# The mapping documented in the module docstring (signs checked on labelled cmu_mocap6 segments).
CMU_TO_SKEL: tuple[ChannelMap, ...] = (
    ChannelMap("knee_angle_r", (("rtibia", "rx", 1.0),)),
    ChannelMap("knee_angle_l", (("ltibia", "rx", 1.0),)),
    ChannelMap("hip_flexion_r", (("rfemur", "rx", -1.0),)),
    ChannelMap("hip_flexion_l", (("lfemur", "rx", -1.0),)),
    ChannelMap("hip_adduction_r", (("rfemur", "rz", 1.0),), offset_deg=-20.0),
    ChannelMap("hip_adduction_l", (("lfemur", "rz", -1.0),), offset_deg=-20.0),
    ChannelMap("elbow_flexion_r", (("rradius", "rx", 1.0),)),
    ChannelMap("elbow_flexion_l", (("lradius", "rx", 1.0),)),
    ChannelMap("lumbar_extension", (("lowerback", "rx", -1.0),)),
    ChannelMap("thorax_extension", (("upperback", "rx", -1.0), ("thorax", "rx", -1.0))),
    ChannelMap("shoulder_r_x", (("rhumerus", "rz", 1.0),)),
    ChannelMap("shoulder_l_x", (("lhumerus", "rz", 1.0),)),
)


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
            raise PoseFileError(f"{name}:{j + 1}: expected a frame number alone or 'bone value …', "
                                f"got {lines[j].strip()[:60]!r}")  # fmt: skip
        n = len(parts) - 1
        if head in seen:
            raise PoseFileError(f"{name}:{j + 1}: bone {head!r} appears twice in frame {frames[-1]}")
        seen.add(head)
        if len(frames) == 1:
            if n == 0:
                raise PoseFileError(f"{name}:{j + 1}: bone {head!r}: expected at least one value, got none")
            if head in known and len(known[head]) != n:
                raise PoseFileError(f"{name}:{j + 1}: bone {head!r}: expected {len(known[head])} values "
                                    f"({' '.join(known[head])}), got {n}")  # fmt: skip
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
            raise  # unreachable: _raise_bad_number always raises
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
    return AmcMotion(name=name, frames=np.asarray(frames, dtype=np.int64), bones=bones, bone_dofs=dof_names,
                     header=tuple(header))  # fmt: skip


def _check_frame_complete(seen: set[str], order: list[str], name: str, line_index: int, frame: int) -> None:
    if len(seen) != len(order):
        missing = [b for b in order if b not in seen]
        raise PoseFileError(f"{name}:{line_index + 1}: frame {frame}: expected a line for every bone of the "
                            f"first frame, missing {', '.join(missing)}")  # fmt: skip


def _bone_line(lines: list[str], start: int, bone: str) -> int:
    """1-based line of ``bone`` in the frame whose number is on line index ``start``."""
    for j in range(start + 1, len(lines)):
        parts = lines[j].split()
        if parts and parts[0] == bone:
            return j + 1
    return start + 1


def _raise_bad_number(lines: list[str], first: int, bone: str, name: str) -> None:
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
    mapping: tuple[ChannelMap, ...] = CMU_TO_SKEL,
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
    for m in mapping:
        k = dof_index(m.dof)
        q[:, k] = np.radians(m.degrees(motion))
        observed[k] = True
    t = (motion.frames - motion.frames[0]).astype(np.float64) / fps
    source = source or f"amc:{Path(motion.name).name}"
    if target_fps is None or (math.isclose(target_fps, fps) and _consecutive(motion.frames)):
        track = PoseTrack(q=q, t=t, confidence=np.ones(len(t)), observed=observed, source=source,
                          nominal_fps=fps if _consecutive(motion.frames) else None)  # fmt: skip
        return track
    ratio = fps / target_fps
    step = int(round(ratio))
    if method == "average" and step >= 1 and math.isclose(ratio, step) and _consecutive(motion.frames):
        n_blocks = motion.n_frames // step
        if n_blocks == 0:
            raise PoseFileError(f"{motion.name}: expected at least {step} frames to average to {target_fps:g} fps, "
                                f"got {motion.n_frames}")  # fmt: skip
        used = n_blocks * step
        q_new = q[:used].reshape(n_blocks, step, N_DOFS).mean(axis=1)
        t_new = t[:used].reshape(n_blocks, step).mean(axis=1)
    else:
        n_new = int(math.floor((t[-1] - t[0]) * target_fps + 1e-9)) + 1
        t_new = t[0] + np.arange(n_new) / target_fps
        q_new = np.full((n_new, N_DOFS), np.nan)
        for k in np.flatnonzero(observed):
            q_new[:, k] = np.interp(t_new, t, q[:, k])
    return PoseTrack(q=q_new, t=t_new, confidence=np.ones(len(t_new)), observed=observed, source=source,
                     nominal_fps=float(target_fps))  # fmt: skip


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
