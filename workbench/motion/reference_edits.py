"""Edits of a reference cycle and references built from reps: plain array maths, nothing saved.

Every edit takes and returns a (mean, sd) pair of (46, N_ref) radians; the arrays passed in are not modified.
``dof`` is a DoF name ("knee_angle_r") or its index. The editor page (``workbench.dashboard.editing``) lays
these out; the store versions what is saved.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from workbench.motion.align import resample_cycle
from workbench.motion.smoothing import smooth
from workbench.skeleton import dof_index, mirror_pose

ReferencePair = tuple[np.ndarray, np.ndarray]


def dof_row(dof: str | int) -> int:
    return int(dof) if isinstance(dof, int | np.integer) else dof_index(dof)


def copy_pair(mean: np.ndarray, sd: np.ndarray) -> ReferencePair:
    m, s = np.array(mean, dtype=np.float64, copy=True), np.array(sd, dtype=np.float64, copy=True)
    if m.ndim != 2 or s.shape != m.shape:
        raise ValueError(f"Expected mean and sd of the same (46, N_ref) shape, got {m.shape} and {s.shape}")
    return m, s


def scale_reference(
    mean: np.ndarray, sd: np.ndarray, dof: str | int, factor: float, about: str | float = "rest"
) -> ReferencePair:
    """Scale one DoF's excursion by ``factor`` about its rest value (the cycle's first sample), or about
    ``"mean"`` (the curve's average) or a given value in radians. The SD envelope scales with the excursion
    (its magnitude: an SD stays non-negative)."""
    m, s = copy_pair(mean, sd)
    i = dof_row(dof)
    if about == "rest":
        pivot = float(m[i, 0])
    elif about == "mean":
        pivot = float(np.mean(m[i]))
    elif isinstance(about, int | float):
        pivot = float(about)
    else:
        raise ValueError(f"Expected about = 'rest', 'mean' or a value in radians, got {about!r}")
    m[i] = pivot + factor * (m[i] - pivot)
    s[i] = abs(factor) * s[i]
    return m, s


def offset_reference(mean: np.ndarray, sd: np.ndarray, dof: str | int, deg: float) -> ReferencePair:
    """Shift one DoF's whole curve by ``deg`` degrees (the SD is unchanged)."""
    m, s = copy_pair(mean, sd)
    m[dof_row(dof)] += np.radians(deg)
    return m, s


def key_point_index(n_samples: int, index_or_fraction: int | float) -> int:
    """A sample index from an index (int) or a cycle fraction in [0, 1] (float)."""
    if isinstance(index_or_fraction, int | np.integer) and not isinstance(index_or_fraction, bool):
        k = int(index_or_fraction)
    else:
        f = float(index_or_fraction)
        if not 0.0 <= f <= 1.0:
            raise ValueError(f"Expected a cycle fraction in [0, 1], got {f}")
        k = round(f * (n_samples - 1))
    if not 0 <= k < n_samples:
        raise ValueError(f"Expected a sample index in [0, {n_samples - 1}], got {k}")
    return k


def set_key_point(
    mean: np.ndarray,
    sd: np.ndarray,
    dof: str | int,
    index_or_fraction: int | float,
    value_deg: float,
    width: float = 0.1,
) -> ReferencePair:
    """Move one DoF's curve so it passes through ``value_deg`` at a cycle position, smoothly.

    The change is a raised-cosine bump ``delta * 0.5 (1 + cos(pi d / h))`` for ``|d| < h`` (zero beyond), where
    d is the distance in samples from the key point and h = ``width`` × (N_ref - 1) (``width`` a fraction of the
    cycle, or a number of samples when ≥ 1). The curve hits the value exactly at the key point, keeps its slope
    continuous, and samples farther than h are left unchanged. Distances do not wrap around the cycle's ends.
    """
    m, s = copy_pair(mean, sd)
    i = dof_row(dof)
    n = m.shape[1]
    k = key_point_index(n, index_or_fraction)
    half = float(width) if width >= 1 else float(width) * (n - 1)
    half = max(half, 1.0)
    d = np.abs(np.arange(n) - k)
    bump = np.where(d < half, 0.5 * (1.0 + np.cos(np.pi * d / half)), 0.0)
    delta = np.radians(value_deg) - m[i, k]
    m[i] = m[i] + delta * bump
    m[i, k] = np.radians(value_deg)  # exactly, whatever the rounding of the bump
    return m, s


def smooth_reference(
    mean: np.ndarray, sd: np.ndarray, sigma_samples: float, dofs: Sequence[str | int] | None = None
) -> ReferencePair:
    """Gaussian-smooth the curves (all DoFs, or ``dofs``) along the cycle, ``sigma_samples`` in samples.

    Edges use 'reflect' padding (workbench.motion.smoothing.smooth), not wrap-around: a cycle starts and ends
    at rest but its first and last samples need not be equal, and a circular filter would pull one end
    towards the other. A constant curve is unchanged; the SD envelope is smoothed the same way.
    """
    m, s = copy_pair(mean, sd)
    if sigma_samples <= 0:
        return m, s
    rows = list(range(m.shape[0])) if dofs is None else [dof_row(d) for d in dofs]
    m[rows] = smooth(m[rows].T, float(sigma_samples)).T
    s[rows] = np.maximum(smooth(s[rows].T, float(sigma_samples)).T, 0.0)
    return m, s


def rep_cycles(track_q: np.ndarray, reps: Sequence[Any], n_ref: int, mirror_to: str | None = None) -> np.ndarray:
    """Each rep's frames [start_frame, end_frame] resampled to ``n_ref`` samples: (n_reps, 46, n_ref) radians.

    With ``mirror_to`` ("right"/"left") a rep whose working side is the other one is mirrored, as the analysis
    mirrors the reference for it. Reps without frames are skipped.
    """
    q = np.asarray(track_q, dtype=np.float64)
    out = []
    for r in reps:
        if r.end_frame <= r.start_frame:
            continue
        seg = q[r.start_frame : r.end_frame + 1]
        if mirror_to is not None and r.side is not None and r.side != mirror_to:
            seg = mirror_pose(seg)
        out.append(resample_cycle(seg, n_ref).T)
    return np.stack(out) if out else np.empty((0, q.shape[1], n_ref))


def reference_from_cycles(
    track_q: np.ndarray,
    reps: Sequence[Any],
    n_ref: int,
    *,
    fallback: ReferencePair | None = None,
    mirror_to: str | None = None,
) -> ReferencePair:
    """The mean ± SD (population SD, ddof 0) of the reps' time-normalised cycles, all 46 DoFs.

    NaN-safe: a sample is averaged over the reps that have it; where no rep has it (an unobserved DoF) the
    value comes from ``fallback`` (e.g. the current reference) or is 0 (mean) and 0 (SD).
    """
    return reference_from_cycle_stack(rep_cycles(track_q, reps, n_ref, mirror_to), n_ref, fallback=fallback)


def reference_from_cycle_stack(
    cycles: np.ndarray, n_ref: int, *, fallback: ReferencePair | None = None
) -> ReferencePair:
    """reference_from_cycles on cycles already time-normalised: (n_cycles, 46, n_ref) radians, from any clips."""
    cycles = np.asarray(cycles, dtype=np.float64)
    if cycles.ndim != 3 or cycles.shape[0] == 0:
        raise ValueError("Expected at least one rep with frames to build a reference from, got none")
    have = np.isfinite(cycles)
    count = have.sum(axis=0)
    filled = np.where(have, cycles, 0.0)
    mean = np.divide(filled.sum(axis=0), count, out=np.full(count.shape, np.nan), where=count > 0)
    dev = np.where(have, cycles - mean, 0.0)
    sd = np.sqrt(np.divide((dev**2).sum(axis=0), count, out=np.full(count.shape, np.nan), where=count > 0))
    missing = count == 0
    if missing.any():
        if fallback is not None:
            fm = on_samples(np.asarray(fallback[0], dtype=np.float64), n_ref)
            fs = on_samples(np.asarray(fallback[1], dtype=np.float64), n_ref)
            mean[missing], sd[missing] = fm[missing], fs[missing]
        else:
            mean[missing], sd[missing] = 0.0, 0.0
    return mean, sd


def on_samples(x: np.ndarray, n: int) -> np.ndarray:
    return x if x.shape[1] == n else resample_cycle(x.T, n).T


__all__ = [
    "ReferencePair",
    "copy_pair",
    "dof_row",
    "key_point_index",
    "offset_reference",
    "on_samples",
    "reference_from_cycle_stack",
    "reference_from_cycles",
    "rep_cycles",
    "scale_reference",
    "set_key_point",
    "smooth_reference",
]
