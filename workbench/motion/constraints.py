"""Static and dynamic constraint checks of one cycle (paper §3.4.2 Eq. 6, supplement §9).

Only DoFs the source observes are judged, and only for joints in the salient set (supplement §9: the
checks apply to the intersection with the selected joints).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from workbench.exercises.catalogue import Constraint, Exercise, KeyFrame
from workbench.motion.context import violation_message
from workbench.motion.cycles import Cycle
from workbench.motion.results import Violation
from workbench.skeleton import dof, dof_index


@dataclass(frozen=True)
class CycleView:
    """What the checks see of one cycle: smoothed angles of its frames and where things are."""

    cycle: Cycle
    q: NDArray[np.float64]  # (frames of the cycle, 46) smoothed radians
    raw: NDArray[np.float64]  # (frames of the cycle, 46) repaired but unsmoothed radians
    t: NDArray[np.float64]  # (frames of the cycle,) seconds
    signal: NDArray[np.float64]  # (frames,) representative signal, oriented so work = max
    reference: NDArray[np.float64] | None  # (46, n_ref) radians, already mirrored to the working side


def key_frame_index(view: CycleView, kf: KeyFrame) -> int:
    """Index within the cycle of a key frame (the representative signal's or a DoF's extreme)."""
    n = view.q.shape[0]
    if kf.at == "start":
        return 0
    if kf.at == "end":
        return n - 1
    lo, hi = 0, n - 1
    if kf.phase is not None:
        for p in view.cycle.phases:
            if p.name == kf.phase:
                lo, hi = p.start - view.cycle.start, p.end - view.cycle.start
    series = view.signal if kf.dof is None else view.q[:, dof_index(kf.dof)]
    window = series[lo : hi + 1]
    pick = np.argmax(window) if kf.extreme == "max" else np.argmin(window)
    return lo + int(pick)


def evaluate(
    ex: Exercise,
    constraints: Sequence[Constraint],
    view: CycleView,
    rep: int,
    observed: NDArray[np.bool_],
    salient: set[str],
    skipped: set[str] | None = None,
    values: dict[str, float] | None = None,
    bounds: dict[str, tuple[float | None, float | None]] | None = None,
) -> list[Violation]:
    """Violations of one cycle. Checks whose DoF must take part in the movement (``requires_motion_deg``)
    but stayed still are added to ``skipped`` instead of being judged. ``values`` receives every judged
    check's measured value by constraint id, violated or not (calibration and assessment read them), and
    ``bounds`` the bounds each was held to."""
    out: list[Violation] = []
    for c in constraints:
        i = dof_index(c.dof)
        if not observed[i] or c.joint not in salient:
            continue
        if c.requires_motion_deg is not None and np.ptp(np.degrees(view.q[:, i])) < c.requires_motion_deg:
            if skipped is not None:
                skipped.add(c.id)
            continue
        value, held_to, at = measure(ex, c, view, i)
        if values is not None:
            values[c.id] = value
        if bounds is not None:
            bounds[c.id] = held_to
        v = _violation(c, view, rep, value, held_to, at)
        if v is not None:
            out.append(v)
    return out


Bounds = tuple[float | None, float | None]


def measure(ex: Exercise, c: Constraint, view: CycleView, i: int) -> tuple[float, Bounds, int]:
    """What a check measures in one cycle: the value (degrees), the bounds it is held to, and the frame."""
    series = np.degrees(view.q[:, i])
    bounds: tuple[float | None, float | None]
    if c.kind == "stability":
        assert c.max_std_deg is not None
        # Raw angles: a fast exercise's wobble is at a few Hz, which the detection smoothing would remove.
        raw = np.degrees(view.raw[:, i])
        value, bounds, at = unexplained_std(raw, view.signal), (None, c.max_std_deg), view.q.shape[0] // 2
    elif c.kind == "symmetry":
        assert c.max_diff_deg is not None
        other = np.degrees(view.q[:, dof_index(dof(c.dof).mirror)]) * dof(c.dof).mirror_sign
        gap = np.abs(series - other)
        at = int(np.argmax(gap))
        value, bounds = float(gap[at]), (None, c.max_diff_deg)
    elif c.kind == "posture":
        assert c.bounds_deg is not None
        value, bounds, at = float(series.mean()), c.bounds_deg, view.q.shape[0] // 2
    else:
        at = key_frame_index(view, ex.key_frame(str(c.key_frame)))
        value = _value_at(view.raw[:, i], at)
        bounds = _dynamic_bounds(c, view, i, at)
    return value, bounds, at


def _violation(
    c: Constraint, view: CycleView, rep: int, value: float, bounds: tuple[float | None, float | None], at: int
) -> Violation | None:
    lo, hi = bounds
    if lo is not None and value < lo:
        target, low = lo, True
    elif hi is not None and value > hi:
        target, low = hi, False
    else:
        return None
    issue = c.issue_low if low else c.issue_high
    return Violation(
        rep=rep,
        check=c.id,
        joint=c.joint,
        dof=c.dof,
        type=c.kind,
        value_deg=value,
        target_deg=target,
        bounds_deg=bounds,
        deviation_deg=abs(value - target),
        message=violation_message(dof(c.dof).label, issue, value, target, c.kind, low),
        cue=c.cue_low if low else c.cue_high,
        phase=_phase_at(view, at),
        t_s=float(view.t[at]),
        source=c.source,
    )


def unexplained_std(series: NDArray[np.float64], signal: NDArray[np.float64]) -> float:
    """Standard deviation of ``series`` left after a least-squares line on the representative signal."""
    s = signal - signal.mean()
    x = series - series.mean()
    denom = float(s @ s)
    if denom > 0:
        x = x - (float(s @ x) / denom) * s
    return float(np.sqrt(np.mean(x * x)))


def _value_at(raw: NDArray[np.float64], at: int) -> float:
    """Degrees at a key frame: the mean of the raw angle over the frame and its neighbours. Raw, because the
    smoothing that steadies cycle detection would blunt a 0.5 s rep's peak by a third; three frames, to
    average out sensor noise."""
    lo, hi = max(0, at - 1), min(raw.shape[0], at + 2)
    total = float(raw[lo])
    for j in range(lo + 1, hi):
        total = total + float(raw[j])
    return math.degrees(total / (hi - lo))


def _dynamic_bounds(c: Constraint, view: CycleView, i: int, at: int) -> tuple[float | None, float | None]:
    if c.bounds_deg is not None:
        return c.bounds_deg
    assert c.tolerance_deg is not None
    if view.reference is None:
        return (None, None)
    n_ref = view.reference.shape[1]
    k = round(at / max(1, view.q.shape[0] - 1) * (n_ref - 1))
    ref = math.degrees(view.reference[i, k])
    lo, hi = c.tolerance_deg
    return (None if lo is None else ref + lo, None if hi is None else ref + hi)


def _phase_at(view: CycleView, at: int) -> str:
    frame = view.cycle.start + at
    for p in view.cycle.phases:
        if p.start <= frame <= p.end:
            return p.name
    return view.cycle.phases[-1].name if view.cycle.phases else ""
