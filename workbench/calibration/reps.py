"""Labelled repetitions analysed with one exercise's rules: the rows calibration and assessment work on.

Each manifest row is analysed by the normal engine (cycles, checks, score). A labelled file is meant to
hold one repetition; when the engine finds exactly one, that rep is the row's; otherwise (none, or the
file split into several) the whole file is judged as one cycle by the same evaluator, and the row says
so (``n_reps_found`` and a warning), so nothing is silently dropped.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from workbench.data.labelled import ManifestRow
from workbench.exercises.catalogue import Constraint, Exercise
from workbench.motion.analysis import analyze, whole_track_rep
from workbench.motion.results import Rep
from workbench.pose.backends import estimate_pose
from workbench.pose.track import PoseTrack
from workbench.skeleton import dof

FloatArray = NDArray[np.float64]


@dataclass
class LabelledRep:
    row: ManifestRow
    rep: Rep | None  # the row's repetition (see the module doc); None when the file has no usable frame
    n_reps_found: int
    warnings: list[str] = field(default_factory=list)

    @property
    def incorrect(self) -> bool:
        return self.row.incorrect

    @property
    def score(self) -> float | None:
        return None if self.rep is None else self.rep.score


def load_track(path: Path) -> PoseTrack:
    """Any input the pipeline reads, as a pose track (pose files directly; others through their backend)."""
    return estimate_pose(path).track


def analyse_rows(
    rows: Sequence[ManifestRow],
    exercise: Exercise,
    *,
    tracks: dict[Path, PoseTrack] | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> list[LabelledRep]:
    """Analyse each row with ``exercise`` (already resolved: store or catalogue). ``tracks`` caches inputs
    between calls (calibration analyses the same files twice: before and after the new reference)."""
    cache = tracks if tracks is not None else {}
    out = []
    for k, row in enumerate(rows):
        if row.path not in cache:
            cache[row.path] = load_track(row.path)
        out.append(analyse_one(row, cache[row.path], exercise))
        if progress is not None:
            progress(k + 1, len(rows))
    return out


def analyse_one(row: ManifestRow, track: PoseTrack, exercise: Exercise) -> LabelledRep:
    analysis = analyze(track, exercise)
    n = len(analysis.reps)
    if n == 1:
        return LabelledRep(row, analysis.reps[0], 1)
    what = "no repetition" if n == 0 else f"{n} repetitions"
    rep = whole_track_rep(track, exercise)
    note = f"{row.file}: {what} found where one was expected; the whole file is judged as one repetition"
    return LabelledRep(row, rep, n, [note])


# ---------------------------------------------------------------------------------------- check values


def base_id(check_id: str) -> str:
    """The rule file's constraint id of a check (mirrored copies are ``id@other_dof``)."""
    return check_id.split("@", 1)[0]


def base_value(c: Constraint, value: float, spec_dof: str) -> float:
    """A mirrored copy's value in the sign convention of the constraint as written (``spec_dof``)."""
    if c.dof == spec_dof or c.kind in ("stability", "symmetry"):
        return value
    return value * dof(c.dof).mirror_sign


def check_margins(reps: Sequence[LabelledRep], exercise: Exercise) -> dict[str, FloatArray]:
    """Per rule-file check: each rep's worst margin past its bounds (degrees; > 0 = violated, < 0 = inside
    by that much; NaN = not judged in that rep). Both sides of a ``both_sides`` check and both working
    sides of a unilateral move are the same rule-file check; a rep counts its worse side."""
    out: dict[str, FloatArray] = {}
    for c in exercise.constraints:
        key = base_id(c.id)
        out.setdefault(key, np.full(len(reps), np.nan))
    for k, lrep in enumerate(reps):
        if lrep.rep is None:
            continue
        for cid, value in lrep.rep.check_values.items():
            found = constraint_for(exercise, cid)
            if found is None:
                continue
            margin = check_margin(found, value)
            key = base_id(cid)
            if key in out and np.isfinite(margin):
                prev = out[key][k]
                out[key][k] = margin if np.isnan(prev) else max(prev, margin)
    return out


def check_values(reps: Sequence[LabelledRep], exercise: Exercise, check: str) -> list[list[float]]:
    """Per rep, the values of one rule-file check in its written convention (one per side judged)."""
    spec = next(c for c in exercise.constraints if c.id == check)
    out: list[list[float]] = []
    for lrep in reps:
        vals = []
        if lrep.rep is not None:
            for cid, value in lrep.rep.check_values.items():
                if base_id(cid) != check:
                    continue
                c = constraint_for(exercise, cid)
                if c is not None:
                    vals.append(base_value(c, value, spec.dof))
        out.append(vals)
    return out


def constraint_for(exercise: Exercise, cid: str) -> Constraint | None:
    """The check a rep's value was measured by: one of the exercise's, or a unilateral move's left-side copy
    (``id@dof``) as the evaluator built it."""
    for c in exercise.constraints:
        if c.id == cid:
            return c
    for c in exercise.constraints:
        m = c.mirrored()
        if m.id == cid:
            return m
    return None


def check_margin(c: Constraint, value: float) -> float:
    """How far ``value`` lies past the check's bound (degrees; > 0 = violated; NaN for reference-relative
    checks, whose bound moves with the reference)."""
    if c.kind == "stability":
        return value - (c.max_std_deg or 0.0)
    if c.kind == "symmetry":
        return value - (c.max_diff_deg or 0.0)
    if c.bounds_deg is None:
        return float("nan")
    lo, hi = c.bounds_deg
    parts = [lo - value] if lo is not None else []
    parts += [value - hi] if hi is not None else []
    return max(parts) if parts else float("nan")
