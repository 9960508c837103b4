"""Clean landmark (or angle) tracks before inverse kinematics: lost frames, left/right swaps, smoothing.

Order matters and ``clean_landmarks`` applies it: (1) frames without a person, or with too little
visibility, keep the last valid pose (paper supplement §11.3); (2) frames whose left and right landmarks
MediaPipe swapped are swapped back; (3) a low-pass filter smooths what is left. Each step returns
what it changed (counts and frame ranges) so the caller can say so in warnings.

Smoothing is a zero-phase 4th-order Butterworth low-pass at 3.5 Hz (forward and backward, so no lag), the
usual filter for human-motion marker data. Its flat pass band keeps a repetition's range of motion: a 2 Hz
sinusoid keeps 98.6 % of its amplitude (1 Hz: 99.4 %, 3 Hz: 75 %) while white noise loses 57 % of its
spread at 30 fps (66 % at 60 fps, about half at 25 fps). A Savitzky–Golay filter cannot do both at 30 fps
(2 Hz is 15 samples per cycle): at the window that halves the noise it keeps only ~92 % of a 2 Hz peak.

Swap detection compares, between consecutive frames, the distance of each landmark group to itself
("same") with its distance to the mirrored group ("cross", MediaPipe's left and right exchanged). A
two-state Viterbi path over the whole track chooses, per frame, the labelling with the smallest total
movement plus ``swap_penalty_m`` for every frame it swaps: a few frames are swapped back only when that
makes the track markedly more continuous; the track's majority labelling is taken as correct. Legs, arms and
the torso (face, shoulders, hips) are judged separately, since MediaPipe often swaps only the legs of a
person seen from the side.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np
from numpy.typing import NDArray
from scipy.signal import butter, sosfiltfilt

from workbench.pose.landmarks import MP_INDEX, MP_MIRROR, MP_NAMES, LandmarkTrack

FloatArray = NDArray[np.float64]
BoolArray = NDArray[np.bool_]
Range = tuple[int, int]  # first and last frame, inclusive

_MIRROR = np.array(MP_MIRROR)
_CORE = np.array(
    [MP_INDEX[f"{s}_{j}"] for s in ("left", "right") for j in ("shoulder", "elbow", "wrist", "hip", "knee", "ankle")]
)
SWAP_GROUPS: dict[str, tuple[str, ...]] = {
    "legs": ("knee", "ankle", "heel", "foot_index"),
    "arms": ("elbow", "wrist", "pinky", "index", "thumb"),
    "torso": ("shoulder", "hip", "eye", "ear", "mouth"),
}


def _group_indices(parts: tuple[str, ...]) -> NDArray[np.intp]:
    def part(name: str) -> str:  # "left_eye_inner" -> "eye_inner", "mouth_left" -> "mouth"
        return "_".join(t for t in name.split("_") if t not in ("left", "right"))

    names = [n for n in MP_NAMES if n != part(n) and any(part(n) == p or part(n).startswith(p + "_") for p in parts)]
    return np.array([MP_INDEX[n] for n in names], dtype=np.intp)


_GROUPS = {name: _group_indices(parts) for name, parts in SWAP_GROUPS.items()}


@dataclass(frozen=True)
class FilterOptions:
    """How landmark tracks are cleaned (see the module docstring)."""

    smooth_cutoff_hz: float = 3.5  # low-pass cutoff; 0 switches smoothing off
    smooth_order: int = 4
    # A frame is lost without a detection, or when fewer than ``min_visible_core`` of the 12 core landmarks
    # (shoulders, elbows, wrists, hips, knees, ankles) reach ``min_visibility``: an upper body in view is kept.
    min_visibility: float = 0.3
    min_visible_core: int = 4
    swap_penalty_m: float = 0.08  # mean landmark movement (metres) one swapped frame must save
    repair_swaps: bool = True


@dataclass
class FilterReport:
    """What cleaning changed. Frame ranges are inclusive, in frame indices of the track."""

    swapped: dict[str, list[Range]] = field(default_factory=dict)  # group -> frame ranges swapped back
    n_swapped: int = 0  # frames in which any group was swapped back
    lost: list[Range] = field(default_factory=list)  # frames that kept the last valid pose
    n_lost: int = 0
    n_leading_lost: int = 0  # lost frames before the first valid one (no pose to keep)

    def warnings(self, t: FloatArray | None = None) -> list[str]:
        """Human-readable lines, with times when ``t`` is given."""
        out = []
        if self.n_leading_lost:
            out.append(f"{self.n_leading_lost} leading frame(s) before the person was first found have no pose")
        if self.n_lost:
            out.append(
                f"{self.n_lost} lost frame(s) (no person or low visibility) kept the last valid pose: "
                + describe_ranges(self.lost, t)
            )
        for group, ranges in self.swapped.items():
            if ranges:
                count = sum(b - a + 1 for a, b in ranges)
                out.append(
                    f"{count} frame(s) with left/right {group} swapped by the pose model were swapped "
                    f"back: {describe_ranges(ranges, t)}"
                )
        return out


def frame_ranges(mask: BoolArray) -> list[Range]:
    """Runs of True as inclusive (first, last) frame pairs."""
    m = np.asarray(mask, dtype=bool)
    if not m.any():
        return []
    edges = np.diff(np.concatenate([[0], m.astype(np.int8), [0]]))
    starts, ends = np.flatnonzero(edges == 1), np.flatnonzero(edges == -1) - 1
    return [(int(a), int(b)) for a, b in zip(starts, ends, strict=True)]


def describe_ranges(ranges: list[Range], t: FloatArray | None = None, limit: int = 5) -> str:
    """'frames 3-7 (0.10-0.23 s), frame 12 and 2 more'."""

    def one(a: int, b: int) -> str:
        text = f"frame {a}" if a == b else f"frames {a}-{b}"
        if t is not None:
            text += f" ({t[a]:.2f} s)" if a == b else f" ({t[a]:.2f}-{t[b]:.2f} s)"
        return text

    parts = [one(a, b) for a, b in ranges[:limit]]
    more = f" and {len(ranges) - limit} more" if len(ranges) > limit else ""
    return ", ".join(parts) + more


# ------------------------------------------------------------------------------------------ smoothing


def lowpass(x: FloatArray, fps: float, cutoff_hz: float = 3.5, order: int = 4) -> FloatArray:
    """Zero-phase Butterworth low-pass along axis 0 (time) of any (T, ...) array without NaN.

    Landmark or angle tracks alike (angles must not wrap within the track). Tracks too short for the
    filter's edge padding, or a cutoff at or above the Nyquist rate, are returned unchanged.
    """
    arr = np.asarray(x, dtype=np.float64)
    if not np.isfinite(fps) or fps <= 0:
        raise ValueError(f"fps: expected a positive number, got {fps}")
    if cutoff_hz <= 0 or cutoff_hz >= 0.5 * fps:
        return arr.copy()
    sos = butter(order, cutoff_hz, fs=fps, output="sos")
    if arr.shape[0] <= 3 * (2 * sos.shape[0] + 1):  # sosfiltfilt's default edge padding
        return arr.copy()
    return np.asarray(sosfiltfilt(sos, arr, axis=0))


# -------------------------------------------------------------------------------------------- swaps


def detect_swaps(
    world: FloatArray, penalty_m: float = 0.08, groups: dict[str, NDArray[np.intp]] | None = None
) -> dict[str, BoolArray]:
    """Per group, the frames (T,) whose left and right landmarks should be exchanged. NaN frames are never
    swapped and break the chain (the next valid frame starts afresh)."""
    out: dict[str, BoolArray] = {}
    for name, idx in (groups or _GROUPS).items():
        same, cross = _step_distances(world, idx)
        out[name] = _viterbi(same, cross, penalty_m)
    return out


def _step_distances(world: FloatArray, idx: NDArray[np.intp]) -> tuple[FloatArray, FloatArray]:
    """Mean landmark distance from frame t−1 to frame t as labelled (same) and with t mirrored (cross)."""
    prev, cur = world[:-1, idx], world[1:, idx]
    same = np.linalg.norm(cur - prev, axis=-1).mean(axis=-1)
    cross = np.linalg.norm(world[1:][:, _MIRROR][:, idx] - prev, axis=-1).mean(axis=-1)
    gap = ~(np.isfinite(same) & np.isfinite(cross))
    return np.where(gap, 0.0, same), np.where(gap, 0.0, cross)  # a gap costs nothing either way


def _viterbi(same: FloatArray, cross: FloatArray, penalty: float) -> BoolArray:
    """Two-state path (0 = as labelled, 1 = swapped) minimising movement + penalty per swapped frame."""
    n = same.shape[0] + 1
    back = np.zeros((n, 2), dtype=bool)  # back[t, s]: was frame t−1 swapped on the best path to state s
    c0, c1 = 0.0, penalty
    for t, (s, x) in enumerate(zip(same.tolist(), cross.tolist(), strict=True), start=1):
        stay0, flip0 = c0 + s, c1 + x
        flip1, stay1 = c0 + x, c1 + s
        back[t, 0], back[t, 1] = flip0 < stay0, stay1 <= flip1
        c0, c1 = min(stay0, flip0), min(flip1, stay1) + penalty
    path = np.zeros(n, dtype=bool)
    state = c1 < c0
    for t in range(n - 1, -1, -1):
        path[t] = state
        state = bool(back[t, int(state)])
    return path


def apply_swaps(
    array: FloatArray, swaps: dict[str, BoolArray], groups: dict[str, NDArray[np.intp]] | None = None
) -> FloatArray:
    """Exchange left and right landmarks of each group in its swapped frames (landmarks on axis 1)."""
    out = np.array(array, dtype=np.float64, copy=True)
    for name, frames in swaps.items():
        idx = (groups or _GROUPS)[name]
        if frames.any():
            rows = np.flatnonzero(frames)
            out[np.ix_(rows, idx)] = array[np.ix_(rows, _MIRROR[idx])]
    return out


# -------------------------------------------------------------------------------------- lost frames


def lost_frames(
    world: FloatArray, visibility: FloatArray, min_visibility: float = 0.3, min_visible_core: int = 4
) -> BoolArray:
    """Frames with no detection, or with fewer than ``min_visible_core`` core landmarks (shoulders, elbows,
    wrists, hips, knees, ankles) at ``min_visibility`` or more."""
    undetected = np.isnan(world).any(axis=(1, 2))
    visible = (np.nan_to_num(visibility[:, _CORE]) >= min_visibility).sum(axis=1)
    return np.asarray(undetected | (visible < min_visible_core))


def hold_last_valid(array: FloatArray, lost: BoolArray) -> FloatArray:
    """Lost frames take the last valid frame's values; lost frames before the first valid one become NaN."""
    n = array.shape[0]
    last = np.maximum.accumulate(np.where(~lost, np.arange(n), -1)) if n else np.zeros(0, dtype=int)
    out = np.asarray(array, dtype=np.float64)[np.maximum(last, 0)].copy()
    out[last < 0] = np.nan
    return out


# ------------------------------------------------------------------------------------------ pipeline


def clean_landmarks(track: LandmarkTrack, options: FilterOptions | None = None) -> tuple[LandmarkTrack, FilterReport]:
    """Hold lost frames, repair swaps, smooth; lost frames get visibility 0 so that IK gives them
    confidence 0 (their pose is the held one)."""
    opts = options or FilterOptions()
    report = FilterReport()
    lost = lost_frames(track.world, track.visibility, opts.min_visibility, opts.min_visible_core)
    world = hold_last_valid(track.world, lost)
    image = None if track.image is None else hold_last_valid(track.image, lost)
    valid = ~np.isnan(world).any(axis=(1, 2))
    report.n_leading_lost = int((~valid).sum())
    report.lost = [r for r in frame_ranges(lost) if r[0] >= report.n_leading_lost]
    report.n_lost = int(sum(b - a + 1 for a, b in report.lost))
    visibility = np.where(lost[:, None], 0.0, track.visibility)
    if opts.repair_swaps and valid.sum() > 1:
        swaps = {k: v & valid for k, v in detect_swaps(world, opts.swap_penalty_m).items()}
        world, visibility = apply_swaps(world, swaps), apply_swaps(visibility[..., None], swaps)[..., 0]
        image = None if image is None else apply_swaps(image, swaps)
        report.swapped = {k: frame_ranges(v) for k, v in swaps.items()}
        report.n_swapped = int(np.logical_or.reduce(list(swaps.values())).sum())
    if opts.smooth_cutoff_hz > 0 and valid.any():
        world[valid] = lowpass(world[valid], _fps(track.t), opts.smooth_cutoff_hz, opts.smooth_order)
        world = hold_last_valid(world, lost)  # lost frames keep the last valid pose as smoothed
    return replace(track, world=world, visibility=visibility, image=image), report


def _fps(t: FloatArray) -> float:
    return float(1.0 / np.median(np.diff(t))) if t.shape[0] > 1 else 30.0
