"""Per-rep measures: what a rep did, clean or not (issue 17, part 3).

Pure functions over the angles of a rep's frames, its smoothed representative signal and its phases. They read
the rep's whole excursion, from the valley before its working extreme to the valley after it (``Cycle.span``):
the rep's counted bounds are trimmed to where the signal leaves and regains rest, which would cut the start and
end of the movement off the range of motion.

- DoFs: the peak (maximum) and minimum of each observed DoF of the salient joints, and their difference, the
  range of motion. Each frame's angle is the mean of the repaired angle over it and its neighbours, as a check's
  key-frame value is (``constraints._value_at``), so a rep's peak knee flexion is its depth check's value: the
  detection smoothing would blunt a 2 s squat's peak by a degree, a fast rep's by far more. A DoF the source does
  not observe is left out, never given as zero.
- Tempo of a rep: ``hold_s`` is how long the representative signal stays at its working extreme (moving under
  ``HOLD_SPEED`` of the rep's peak speed, around the extreme); ``descent_s`` and ``ascent_s`` are timed on the
  signal's mid-level crossing, which neither the trimming of the ends nor a pause at rest moves: twice the time
  from the crossing to the hold (the half-way point of a movement that starts and ends at rest), and never less
  than the time the trimmed phase itself took. Other cycles (alternating sides, holds) give each phase's length.
- Checks: every judged check's value against the bounds it was held to (violated or not).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np
from numpy.typing import NDArray

from workbench.motion.cycles import Cycle
from workbench.motion.results import CheckMeasure, DofMeasure, Rep, RepMeasures
from workbench.skeleton import DOF_NAMES

HOLD_SPEED = 0.05  # fraction of a rep's peak speed under which the signal counts as held at its extreme

Bounds = tuple[float | None, float | None]


def three_frame_mean(x: NDArray[np.float64]) -> NDArray[np.float64]:
    """Each frame's mean over it and its neighbours (two frames at the ends), along the first axis."""
    if x.shape[0] < 2:
        return x.astype(np.float64)
    total = x.astype(np.float64).copy()
    count = np.ones(x.shape[0])
    total[1:] += x[:-1]
    total[:-1] += x[1:]
    count[1:] += 1
    count[:-1] += 1
    return np.asarray(total / count.reshape((-1,) + (1,) * (x.ndim - 1)))


def dof_measures(raw: NDArray[np.float64], dofs: Iterable[int]) -> dict[str, DofMeasure]:
    """Peak and minimum (degrees) of each DoF (column of ``raw``, radians) over the frames given, each frame's
    angle averaged with its neighbours'."""
    out: dict[str, DofMeasure] = {}
    if raw.shape[0] == 0:
        return out
    dofs = list(dofs)
    q = three_frame_mean(raw[:, dofs])
    for k, i in enumerate(dofs):
        column = np.degrees(q[:, k])
        if np.isnan(column).all():
            continue
        out[DOF_NAMES[i]] = DofMeasure(peak_deg=float(np.nanmax(column)), min_deg=float(np.nanmin(column)))
    return out


def _crossing(t: NDArray[np.float64], s: NDArray[np.float64], level: float, a: int, b: int) -> float:
    """Time at which ``s`` first reaches ``level`` going from frame ``a`` towards frame ``b`` (either way),
    linearly interpolated between frames; the time of ``b`` when it never does."""
    step = 1 if b >= a else -1
    above = s[a] >= level
    for k in range(a + step, b + step, step):
        if (s[k] >= level) != above:
            j = k - step
            ds = s[k] - s[j]
            frac = 0.0 if ds == 0 else (level - s[j]) / ds
            return float(t[j] + frac * (t[k] - t[j]))
    return float(t[b])


def rep_tempo(t: NDArray[np.float64], signal: NDArray[np.float64], peak: int, start: int, end: int) -> dict[str, float]:
    """``descent_s``, ``hold_s`` and ``ascent_s`` of one rep (module docstring). ``t`` and ``signal`` (smoothed,
    work a maximum) cover the whole excursion, valley to valley; ``peak``, ``start`` and ``end`` (the trimmed
    bounds) index into them."""
    n = signal.shape[0]
    if n < 3 or not 0 <= peak < n:
        return {}
    speed = np.abs(np.gradient(signal, t))
    slow = HOLD_SPEED * float(speed.max())
    h0 = peak
    while h0 > 0 and speed[h0 - 1] <= slow:
        h0 -= 1
    h1 = peak
    while h1 < n - 1 and speed[h1 + 1] <= slow:
        h1 += 1
    mid_down = 0.5 * (float(signal[0]) + float(signal[peak]))
    mid_up = 0.5 * (float(signal[-1]) + float(signal[peak]))
    t_down = _crossing(t, signal, mid_down, h0, 0)
    t_up = _crossing(t, signal, mid_up, h1, n - 1)
    descent = max(2.0 * (float(t[h0]) - t_down), float(t[h0] - t[min(start, h0)]))
    ascent = max(2.0 * (t_up - float(t[h1])), float(t[max(end, h1)] - t[h1]))
    return {"descent_s": descent, "hold_s": float(t[h1] - t[h0]), "ascent_s": ascent}


def phase_tempo(cycle: Cycle, t: NDArray[np.float64], offset: int) -> dict[str, float]:
    """Each phase's length in seconds (``<name>_s``); ``t`` starts at frame ``offset`` of the track."""
    return {f"{p.name}_s": float(t[p.end - offset] - t[p.start - offset]) for p in cycle.phases}


def check_measures(values: Mapping[str, float], bounds: Mapping[str, Bounds]) -> dict[str, CheckMeasure]:
    """Every judged check's value against its bounds (both by constraint id)."""
    return {k: CheckMeasure(float(v), bounds.get(k, (None, None))) for k, v in values.items()}


def rep_measures(
    cycle: Cycle,
    raw: NDArray[np.float64],
    t: NDArray[np.float64],
    signal: NDArray[np.float64],
    dofs: Iterable[int],
    *,
    quality: float | None = None,
    values: Mapping[str, float] | None = None,
    bounds: Mapping[str, Bounds] | None = None,
) -> RepMeasures:
    """The measures of one rep. ``raw`` (repaired angles, radians), ``t`` and ``signal`` (the smoothed
    representative signal) cover the rep's whole excursion, ``cycle.span``; ``dofs`` are the columns to measure
    (observed, of the salient joints)."""
    a, _ = cycle.span
    if cycle.kind == "rep":
        tempo = rep_tempo(t, signal, cycle.work - a, cycle.start - a, cycle.end - a)
    else:
        tempo = phase_tempo(cycle, t, a)
    return RepMeasures(
        dofs=dof_measures(raw, dofs), tempo=tempo, quality=quality, checks=check_measures(values or {}, bounds or {})
    )


# ---------------------------------------------------------------------------------------------- tables


def rep_rows(reps: Sequence[Rep]) -> list[dict[str, Any]]:
    """One row per rep, clean or not (``biocoach export``'s reps table): the rep numbered from 1, its times,
    quality, violations, tempo, each measured DoF's peak, minimum and range, each check's value, bounds (empty:
    open) and whether it passed, and the violations' messages in full."""
    rows = []
    for r in reps:
        m = r.measures
        row: dict[str, Any] = {
            "rep": r.index + 1,
            "start_s": round(r.start_s, 3),
            "end_s": round(r.end_s, 3),
            "kind": r.kind,
            "side": r.side,
            "quality": None if m.quality is None else round(m.quality, 4),
            "score": None if r.score is None else round(r.score, 4),
            "n_violations": len(r.violations),
            "severity_deg": round(r.severity_deg, 2),
        }
        row.update({k: round(v, 3) for k, v in m.tempo.items()})
        for name, d in m.dofs.items():
            row[f"{name}_peak_deg"] = round(d.peak_deg, 2)
            row[f"{name}_min_deg"] = round(d.min_deg, 2)
            row[f"{name}_range_deg"] = round(d.range_deg, 2)
        for cid, c in m.checks.items():
            lo, hi = c.bounds_deg
            row[f"{cid}_value_deg"] = round(c.value_deg, 2)
            row[f"{cid}_low_deg"] = None if lo is None else round(lo, 2)
            row[f"{cid}_high_deg"] = None if hi is None else round(hi, 2)
            row[f"{cid}_passed"] = c.passed
        row["messages"] = "; ".join(v.message for v in r.violations)
        rows.append(row)
    return rows


def angle_rows(
    t: NDArray[np.float64], q: NDArray[np.float64], observed: NDArray[np.bool_], reps: Sequence[Rep]
) -> list[dict[str, Any]]:
    """One row per frame of a track (``biocoach export``'s angles table): frame, time, the rep it falls in
    (numbered from 1; None between reps) and each observed DoF's angle in degrees (None where not estimated)."""
    number = np.zeros(t.shape[0], dtype=np.int64)
    for r in reps:
        number[(t >= r.start_s - 1e-9) & (t <= r.end_s + 1e-9)] = r.index + 1
    dofs = [i for i in range(q.shape[1]) if observed[i]]
    deg = np.round(np.degrees(q[:, dofs]), 3)
    rows = []
    for k in range(t.shape[0]):
        row: dict[str, Any] = {"frame": k, "t_s": round(float(t[k]), 4), "rep": int(number[k]) or None}
        for j, i in enumerate(dofs):
            x = float(deg[k, j])
            row[f"{DOF_NAMES[i]}_deg"] = None if math.isnan(x) else x
        rows.append(row)
    return rows
