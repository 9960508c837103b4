"""What the editor and runs pages do, as plain functions testable without a browser.

    before, after = preview(state, "squat", "knee_depth", {"bounds_deg": (160.0, None)})  # nothing saved
    saved = save_threshold(db, "squat", "knee_depth", base_version=1, author="alice", note="deeper",
                           bounds_deg=(100.0, None))
    revert_threshold(db, "squat", "knee_depth", 1, author="alice")
    diff = compare_runs(db, run_a, run_b)

The pages only lay these out; every number they show comes from here, the store or the analysis.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from workbench.dashboard.state import AppState
    from workbench.exercises.catalogue import Exercise
    from workbench.motion.results import Analysis, Violation
    from workbench.store.database import Database
    from workbench.store.repositories import ThresholdVersion

EDITABLE_FIELDS = ("bounds_deg", "tolerance_deg", "max_std_deg", "max_diff_deg")
CLIP_SUFFIXES = (".npz", ".mp4", ".mov", ".avi", ".webm", ".mkv", ".csv", ".csv.gz")


# ------------------------------------------------------------------------------------------- thresholds


def exercise_keys(db: Database) -> list[str]:
    with db.store() as store:
        return store.exercises.all_keys()


def current_thresholds(db: Database, exercise: str) -> list[ThresholdVersion]:
    with db.store() as store:
        return store.thresholds.current(exercise)


def get_threshold(db: Database, exercise: str, constraint_id: str, version: int | None = None) -> ThresholdVersion:
    with db.store() as store:
        return store.thresholds.get(exercise, constraint_id, version)


def threshold_history(db: Database, exercise: str, constraint_id: str) -> list[dict[str, Any]]:
    """One row per version, oldest first, with the current one marked."""
    with db.store() as store:
        versions = store.thresholds.history(exercise, constraint_id)
        current = store.thresholds.get(exercise, constraint_id).version
    return [
        {"version": v.version, "current": v.version == current, "author": v.author, "note": v.note,
         "created_at": str(v.created_at)[:19], "bounds": format_bounds(v.spec.bounds_deg),
         "max_std_deg": v.spec.max_std_deg, "max_diff_deg": v.spec.max_diff_deg}
        for v in versions
    ]  # fmt: skip


def threshold_diff(db: Database, exercise: str, constraint_id: str, v1: int, v2: int) -> dict[str, tuple[Any, Any]]:
    with db.store() as store:
        return store.thresholds.diff(exercise, constraint_id, v1, v2)


def save_threshold(
    db: Database, exercise: str, constraint_id: str, *, base_version: int, author: str, note: str, **changes: Any
) -> ThresholdVersion:
    """A new version of the constraint; ConflictError (nothing written) when ``base_version`` is not current."""
    _check_changes(changes)
    with db.store() as store:
        return store.thresholds.edit(
            exercise, constraint_id, base_version=base_version, author=author or "anonymous", note=note, **changes
        )


def revert_threshold(
    db: Database, exercise: str, constraint_id: str, to_version: int, *, author: str, note: str = "",
    base_version: int | None = None,
) -> ThresholdVersion:  # fmt: skip
    with db.store() as store:
        return store.thresholds.revert(
            exercise, constraint_id, to_version, author=author or "anonymous", note=note, base_version=base_version
        )


def format_bounds(pair: tuple[float | None, float | None] | None) -> str:
    if pair is None:
        return "—"
    lo, hi = pair
    return f"[{'open' if lo is None else f'{lo:g}'}, {'open' if hi is None else f'{hi:g}'}]"


def _check_changes(changes: Mapping[str, Any]) -> None:
    unknown = sorted(set(changes) - set(EDITABLE_FIELDS))
    if unknown:
        raise ValueError(f"Expected changes among {', '.join(EDITABLE_FIELDS)}, got {', '.join(unknown)}")


# ------------------------------------------------------------------------------------------- preview


def edited_exercise(ex: Exercise, constraint_id: str, changes: Mapping[str, Any]) -> Exercise:
    """The exercise with one written constraint changed, and its both_sides mirror changed to match."""
    _check_changes(changes)
    written = next((c for c in ex.constraints if c.id == constraint_id), None)
    if written is None:
        raise KeyError(f"Expected a constraint of {ex.key} among {', '.join(c.id for c in ex.constraints)}, "
                       f"got {constraint_id!r}")  # fmt: skip
    new = replace(written, **changes)
    mirror = new.mirrored()
    constraints = []
    for c in ex.constraints:
        if c.id == constraint_id:
            c = new
        elif c.id.startswith(constraint_id + "@"):  # keep the mirror's own key frame, take the new values
            c = replace(c, **{name: getattr(mirror, name) for name in EDITABLE_FIELDS})
        constraints.append(c)
    return replace(ex, constraints=tuple(constraints))


def all_violations(analysis: Analysis) -> list[Violation]:
    return [v for rep in analysis.reps for v in rep.violations]


@dataclass
class Preview:
    """The open clip's violations under the store's current rules and under the edit (nothing saved)."""

    before: list[Violation]
    after: list[Violation]

    @property
    def changed(self) -> bool:
        return violation_keys(self.before) != violation_keys(self.after)


def preview(state: AppState, exercise: str, constraint_id: str, changes: Mapping[str, Any]) -> Preview:
    """Re-analyse the open clip with the edited threshold, without saving anything."""
    from workbench.motion.analysis import analyze
    from workbench.pipeline import resolve

    result = state.result
    if result is None:
        raise ValueError("Expected an open clip to preview on, got none (open one on the Clip page)")
    if state.exercise != exercise:
        raise ValueError(f"Expected the open clip's exercise {state.exercise!r}, got {exercise!r}")
    ex, _ = resolve(exercise, state.database())
    before = analyze(result.estimate.track, ex)
    after = analyze(result.estimate.track, edited_exercise(ex, constraint_id, changes))
    return Preview(before=all_violations(before), after=all_violations(after))


def violation_keys(violations: Sequence[Violation]) -> set[tuple[int, str]]:
    return {(v.rep, v.check) for v in violations}


def violation_rows(violations: Sequence[Violation]) -> list[dict[str, Any]]:
    return [{"rep": v.rep, "check": v.check, "dof": v.dof, "value_deg": round(v.value_deg, 1),
             "bounds": format_bounds(v.bounds_deg), "message": v.message} for v in violations]  # fmt: skip


# ------------------------------------------------------------------------------------------- references


@dataclass
class ReferenceCurve:
    version: int
    current: bool
    mean_deg: np.ndarray  # (n_samples,)
    sd_deg: np.ndarray  # (n_samples,)


def reference_curves(db: Database, exercise: str, dof_name: str) -> list[ReferenceCurve]:
    """Every stored version of the exercise's reference for one DoF, in degrees."""
    from workbench.skeleton import dof_index

    i = dof_index(dof_name)
    with db.store() as store:
        versions = store.references.history(exercise)
        current = store.references.current(exercise)
    now = None if current is None else current.version
    return [ReferenceCurve(v.version, v.version == now, np.degrees(v.mean[i]), np.degrees(v.sd[i])) for v in versions]


def revert_reference(db: Database, exercise: str, to_version: int, *, author: str, note: str = "") -> int:
    with db.store() as store:
        return store.references.revert(exercise, to_version, author=author or "anonymous", note=note).version


def reference_history(db: Database, exercise: str) -> list[dict[str, Any]]:
    """One row per reference version, oldest first, with the current one marked."""
    with db.store() as store:
        versions = store.references.history(exercise)
        current = store.references.current(exercise)
    now = None if current is None else current.version
    return [{"version": v.version, "current": v.version == now, "author": v.author, "note": v.note,
             "created_at": str(v.created_at)[:19], "samples": int(v.mean.shape[1])} for v in versions]  # fmt: skip


def reference_diff_rows(db: Database, exercise: str, v1: int, v2: int, top: int = 12) -> list[str]:
    """The DoFs whose reference changed most between two versions, one line each (degrees)."""
    with db.store() as store:
        d = store.references.diff(exercise, v1, v2)
    worst = sorted(d.mean_max_abs_deg.items(), key=lambda kv: -kv[1])[:top]
    lines = [f"`{name}`: mean max |Δ| {delta:.1f}°, SD max |Δ| {d.sd_max_abs_deg.get(name, 0.0):.1f}°"
             for name, delta in worst]  # fmt: skip
    sd_only = sorted(set(d.sd_max_abs_deg) - set(d.mean_max_abs_deg))
    lines += [f"`{name}`: SD max |Δ| {d.sd_max_abs_deg[name]:.1f}°" for name in sd_only[:top]]
    if d.n_samples[0] != d.n_samples[1]:
        lines.insert(0, f"cycle length {d.n_samples[0]} → {d.n_samples[1]} samples")
    return lines


# ------------------------------------------------------------------------------------------- reference edits
#
# Every edit takes and returns a (mean, sd) pair of (46, N_ref) radians and never saves anything; the arrays
# passed in are not modified. ``dof`` is a DoF name ("knee_angle_r") or its index.

ReferencePair = tuple[np.ndarray, np.ndarray]


def _dof_row(dof: str | int) -> int:
    from workbench.skeleton import dof_index

    return int(dof) if isinstance(dof, int | np.integer) else dof_index(dof)


def _copy_pair(mean: np.ndarray, sd: np.ndarray) -> ReferencePair:
    m, s = np.array(mean, dtype=np.float64, copy=True), np.array(sd, dtype=np.float64, copy=True)
    if m.ndim != 2 or s.shape != m.shape:
        raise ValueError(f"Expected mean and sd of the same (46, N_ref) shape, got {m.shape} and {s.shape}")
    return m, s


def scale_reference(mean: np.ndarray, sd: np.ndarray, dof: str | int, factor: float,
                    about: str | float = "rest") -> ReferencePair:  # fmt: skip
    """Scale one DoF's excursion by ``factor`` about its rest value (the cycle's first sample), or about
    ``"mean"`` (the curve's average) or a given value in radians. The SD envelope scales with the excursion
    (its magnitude: an SD stays non-negative)."""
    m, s = _copy_pair(mean, sd)
    i = _dof_row(dof)
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
    m, s = _copy_pair(mean, sd)
    m[_dof_row(dof)] += np.radians(deg)
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


def set_key_point(mean: np.ndarray, sd: np.ndarray, dof: str | int, index_or_fraction: int | float,
                  value_deg: float, width: float = 0.1) -> ReferencePair:  # fmt: skip
    """Move one DoF's curve so it passes through ``value_deg`` at a cycle position, smoothly.

    The change is a raised-cosine bump ``delta * 0.5 (1 + cos(pi d / h))`` for ``|d| < h`` (zero beyond), where
    d is the distance in samples from the key point and h = ``width`` × (N_ref - 1) (``width`` a fraction of the
    cycle, or a number of samples when ≥ 1). The curve hits the value exactly at the key point, keeps its slope
    continuous, and samples farther than h are left unchanged. Distances do not wrap around the cycle's ends.
    """
    m, s = _copy_pair(mean, sd)
    i = _dof_row(dof)
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


def smooth_reference(mean: np.ndarray, sd: np.ndarray, sigma_samples: float,
                     dofs: Sequence[str | int] | None = None) -> ReferencePair:  # fmt: skip
    """Gaussian-smooth the curves (all DoFs, or ``dofs``) along the cycle, ``sigma_samples`` in samples.

    Edges use 'reflect' padding (workbench.motion.smoothing.smooth), not wrap-around: a cycle starts and ends
    at rest but its first and last samples need not be equal, and a circular filter would pull one end
    towards the other. A constant curve is unchanged; the SD envelope is smoothed the same way.
    """
    from workbench.motion.smoothing import smooth

    m, s = _copy_pair(mean, sd)
    if sigma_samples <= 0:
        return m, s
    rows = list(range(m.shape[0])) if dofs is None else [_dof_row(d) for d in dofs]
    m[rows] = smooth(m[rows].T, float(sigma_samples)).T
    s[rows] = np.maximum(smooth(s[rows].T, float(sigma_samples)).T, 0.0)
    return m, s


def rep_cycles(track_q: np.ndarray, reps: Sequence[Any], n_ref: int,
               mirror_to: str | None = None) -> np.ndarray:  # fmt: skip
    """Each rep's frames [start_frame, end_frame] resampled to ``n_ref`` samples: (n_reps, 46, n_ref) radians.

    With ``mirror_to`` ("right"/"left") a rep whose working side is the other one is mirrored, as the analysis
    mirrors the reference for it. Reps without frames are skipped.
    """
    from workbench.motion.align import resample_cycle
    from workbench.skeleton import mirror_pose

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
    track_q: np.ndarray, reps: Sequence[Any], n_ref: int, *, fallback: ReferencePair | None = None,
    mirror_to: str | None = None,
) -> ReferencePair:  # fmt: skip
    """The mean ± SD (population SD, ddof 0) of the reps' time-normalised cycles, all 46 DoFs.

    NaN-safe: a sample is averaged over the reps that have it; where no rep has it (an unobserved DoF) the
    value comes from ``fallback`` (e.g. the current reference) or is 0 (mean) and 0 (SD).
    """
    return reference_from_cycle_stack(rep_cycles(track_q, reps, n_ref, mirror_to), n_ref, fallback=fallback)


def reference_from_cycle_stack(cycles: np.ndarray, n_ref: int, *, fallback: ReferencePair | None = None
                               ) -> ReferencePair:  # fmt: skip
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
            fm = _on_samples(np.asarray(fallback[0], dtype=np.float64), n_ref)
            fs = _on_samples(np.asarray(fallback[1], dtype=np.float64), n_ref)
            mean[missing], sd[missing] = fm[missing], fs[missing]
        else:
            mean[missing], sd[missing] = 0.0, 0.0
    return mean, sd


def _on_samples(x: np.ndarray, n: int) -> np.ndarray:
    from workbench.motion.align import resample_cycle

    return x if x.shape[1] == n else resample_cycle(x.T, n).T


# ------------------------------------------------------------------------------------------- other clips
#
# The editor overlays the cycles of other clips on the reference. The pipeline registers only the cached
# backends' inputs (videos, landmark files) in the store's ``clips`` table, not pose .npz files, so the choice
# is the registered clips still on disk and allowed, plus the example and the files under the data folders.

_CLIP_CACHE: dict[tuple[str, ...], Any] = {}
_CLIP_CACHE_MAX = 32


def overlay_clip_choices(state: AppState) -> list[str]:
    """Clips whose cycles may be overlaid: the bundled example, the clip files under the data folders and the
    clips registered in the store (when still on disk and inside the allowed folders)."""
    found = candidate_clips(state)
    with state.database().store() as store:
        registered = [str(r[0]) for r in store.session.all("SELECT path FROM clips ORDER BY path")]
    found += [p for p in registered if p and Path(p).is_file() and state.allowed(p)]
    return list(dict.fromkeys(found))


def analyse_clip_cached(state: AppState, exercise: str, path: str) -> Any:
    """workbench.pipeline.analyze_clip on the session's store, cached per file content and rule versions
    (so the overlay does not re-analyse, nor record a new run, on every redraw)."""
    import json

    from workbench.pipeline import analyze_clip, resolve

    p = Path(path)
    if not state.allowed(p):
        raise ValueError(f"Expected a clip inside the data folders, got {path}")
    db = state.database()
    _, versions = resolve(exercise, db)
    stat = p.stat()
    key = (str(db.path), str(p.resolve()), str(stat.st_mtime_ns),
           str(stat.st_size), exercise, json.dumps(versions, sort_keys=True, default=str))  # fmt: skip
    if key not in _CLIP_CACHE:
        if len(_CLIP_CACHE) >= _CLIP_CACHE_MAX:
            _CLIP_CACHE.pop(next(iter(_CLIP_CACHE)))
        _CLIP_CACHE[key] = analyze_clip(p, exercise, db=db)
    return _CLIP_CACHE[key]


def reference_length(state: AppState, exercise: str, default: int = 100) -> int:
    cur = current_reference(state.database(), exercise)
    return default if cur is None else int(cur.mean.shape[1])


def clip_cycles(state: AppState, exercise: str, paths: Sequence[str], n_ref: int | None = None, *,
                accepted_only: bool = True) -> dict[str, np.ndarray]:  # fmt: skip
    """Each clip's rep cycles (all 46 DoFs) time-normalised to ``n_ref`` samples (default: the current
    reference's length), mirrored to the reference's side: path → (n_reps, 46, n_ref) radians. With
    ``accepted_only`` only the reps without violations."""
    from workbench.pipeline import resolve

    n = n_ref or reference_length(state, exercise)
    ex, _ = resolve(exercise, state.database())
    out: dict[str, np.ndarray] = {}
    for path in dict.fromkeys(str(p) for p in paths):
        result = analyse_clip_cached(state, exercise, path)
        reps = accepted_reps(result.analysis) if accepted_only else list(result.analysis.reps)
        out[path] = rep_cycles(result.estimate.track.q, reps, n, mirror_to=ex.reference_side)
    return out


def cycles_of_clips(state: AppState, exercise: str, paths: Sequence[str], dof: str | int, n_ref: int | None = None,
                    *, accepted_only: bool = True) -> dict[str, list[np.ndarray]]:  # fmt: skip
    """One DoF's time-normalised cycles per clip: path → [(n_ref,) radians, one per rep]."""
    i = _dof_row(dof)
    return {p: [c[i] for c in cyc] for p, cyc in clip_cycles(state, exercise, paths, n_ref,
                                                               accepted_only=accepted_only).items()}  # fmt: skip


def reference_from_clips(
    state: AppState, exercise: str, paths: Sequence[str], n_ref: int | None = None, *,
    extra: np.ndarray | None = None, fallback: ReferencePair | None = None,
) -> ReferencePair:  # fmt: skip
    """The mean ± SD over the accepted cycles of the clips (and ``extra`` cycles, e.g. the open clip's)."""
    n = n_ref or reference_length(state, exercise)
    stacks = [c for c in clip_cycles(state, exercise, paths, n).values() if c.shape[0]]
    if extra is not None and np.asarray(extra).shape[0]:
        stacks.insert(0, np.asarray(extra, dtype=np.float64))
    if not stacks:
        raise ValueError("Expected at least one accepted rep among the clips to build a reference from, got none")
    return reference_from_cycle_stack(np.concatenate(stacks), n, fallback=fallback)


def accepted_reps(analysis: Analysis, selected: Sequence[int] | None = None) -> list[Any]:
    """The reps to build a reference from: those with the given indices, else those with no violation."""
    if selected:
        wanted = set(int(i) for i in selected)
        return [r for r in analysis.reps if r.index in wanted]
    return [r for r in analysis.reps if not r.violations]


def current_reference(db: Database, exercise: str) -> Any:
    """The store's current ReferenceVersion of the exercise (None when it has none)."""
    with db.store() as store:
        return store.references.current(exercise)


@dataclass
class ReferencePreview:
    """The open clip re-analysed with an edited reference (nothing saved)."""

    before: list[Violation]
    after: list[Violation]
    quality_before: dict[int, float | None]  # rep index → s_cycle
    quality_after: dict[int, float | None]

    @property
    def changed(self) -> bool:
        return violation_keys(self.before) != violation_keys(self.after) or self.quality_before != self.quality_after

    def rows(self) -> list[dict[str, Any]]:
        def r(x: float | None) -> float | None:
            return None if x is None else round(x, 3)

        before_n = _count_by_rep(self.before)
        after_n = _count_by_rep(self.after)
        return [{"rep": i + 1, "quality_before": r(self.quality_before[i]),
                 "quality_after": r(self.quality_after.get(i)), "violations_before": before_n.get(i, 0),
                 "violations_after": after_n.get(i, 0)}
                for i in sorted(self.quality_before)]  # fmt: skip


def _count_by_rep(violations: Sequence[Violation]) -> dict[int, int]:
    out: dict[int, int] = {}
    for v in violations:
        out[v.rep] = out.get(v.rep, 0) + 1
    return out


def preview_reference(state: AppState, exercise: str, mean: np.ndarray, sd: np.ndarray) -> ReferencePreview:
    """Re-analyse the open clip with the edited reference (the Exercise's Reference replaced), saving nothing."""
    from workbench.exercises.catalogue import Reference
    from workbench.motion.analysis import analyze
    from workbench.pipeline import resolve

    result = state.result
    if result is None:
        raise ValueError("Expected an open clip to preview on, got none (open one on the Clip page)")
    if state.exercise != exercise:
        raise ValueError(f"Expected the open clip's exercise {state.exercise!r}, got {exercise!r}")
    m, s = _copy_pair(mean, sd)
    ex, _ = resolve(exercise, state.database())
    base = ex.reference.version if ex.reference is not None else "none"
    edited = replace(ex, reference=Reference(mean=m, sd=s, version=f"{base}+edit (unsaved)"))
    before = analyze(result.estimate.track, ex)
    after = analyze(result.estimate.track, edited)
    return ReferencePreview(
        before=all_violations(before), after=all_violations(after),
        quality_before={r.index: r.quality for r in before.reps},
        quality_after={r.index: r.quality for r in after.reps},
    )  # fmt: skip


def save_reference(db: Database, exercise: str, mean: np.ndarray, sd: np.ndarray, *, base_version: int | None,
                   author: str, note: str) -> Any:  # fmt: skip
    """A new reference version (ReferenceVersion); ConflictError (nothing written) when ``base_version`` is not
    current, ValidationError when the arrays are implausible. Arrays equal to the current ones return it."""
    with db.store() as store:
        return store.references.save(exercise, np.asarray(mean, dtype=np.float64), np.asarray(sd, dtype=np.float64),
                                     base_version=base_version, author=author or "anonymous", note=note)  # fmt: skip


# ------------------------------------------------------------------------------------------- runs


def candidate_clips(state: AppState) -> list[str]:
    """The bundled example and the clip files under the session's data folders (a link that leads out of them is
    left out: ``state.allowed``)."""
    from workbench.dashboard.state import EXAMPLE_CLIP

    found = [str(EXAMPLE_CLIP)]
    for d in state.data_dirs:
        root = Path(d)
        if root.is_dir():
            found += sorted(str(p) for p in root.rglob("*") if p.is_file() and p.name.lower().endswith(CLIP_SUFFIXES))
    return [p for p in dict.fromkeys(found) if state.allowed(p)]


def list_runs(db: Database, limit: int = 200) -> list[dict[str, Any]]:
    """The latest runs, newest first, with their provenance (the clip by its registered path when known)."""
    with db.store() as store:
        ids = [int(r[0]) for r in store.session.all("SELECT id FROM runs ORDER BY id DESC LIMIT ?", [limit])]
        runs = [store.runs.get(i) for i in ids]
        paths = {r.clip_hash: store.clips.get(r.clip_hash) for r in runs if r.clip_hash}
    rows = []
    for r in runs:
        clip = paths.get(r.clip_hash) if r.clip_hash else None
        rows.append({
            "id": r.id, "started_at": str(r.started_at)[:19], "exercise": r.exercise or "",
            "clip": Path(clip.path).name if clip else (r.clip_hash or "")[:12], "status": r.status,
            "code_version": r.code_version, "reference_version": r.reference_version,
            "threshold_versions": ", ".join(f"{k}@v{v}" for k, v in sorted(r.threshold_versions.items())),
            "total_s": round(float(r.timings.get("total_s", float("nan"))), 3),
        })  # fmt: skip
    return rows


@dataclass
class RunComparison:
    a: int
    b: int
    provenance: dict[str, tuple[Any, Any]]  # field: (in a, in b), only those that differ
    violations_only_a: list[str]
    violations_only_b: list[str]
    feedback_only_a: list[str]
    feedback_only_b: list[str]

    @property
    def same(self) -> bool:
        return not (self.violations_only_a or self.violations_only_b or self.feedback_only_a or self.feedback_only_b)


def compare_runs(db: Database, a: int, b: int) -> RunComparison:
    """What changed between two runs: their provenance, the flagged violations and the feedback lines."""
    with db.store() as store:
        run_a, run_b = store.runs.get(a), store.runs.get(b)
        fb_a, fb_b = store.runs.feedback(a), store.runs.feedback(b)
    provenance: dict[str, tuple[Any, Any]] = {}
    for name in ("exercise", "clip_hash", "code_version", "model", "reference_version", "rules_version"):
        va, vb = getattr(run_a, name), getattr(run_b, name)
        if va != vb:
            provenance[name] = (va, vb)
    for key in sorted(set(run_a.threshold_versions) | set(run_b.threshold_versions)):
        va, vb = run_a.threshold_versions.get(key), run_b.threshold_versions.get(key)
        if va != vb:
            provenance[f"threshold {key}"] = (va, vb)

    def evidence(events: Sequence[Any]) -> list[str]:
        return [str(e) for ev in events for e in (ev.payload or {}).get("evidence", [])]

    ev_a, ev_b = evidence(fb_a), evidence(fb_b)
    msg_a, msg_b = [e.message for e in fb_a], [e.message for e in fb_b]
    return RunComparison(
        a=a, b=b, provenance=provenance,
        violations_only_a=[e for e in ev_a if e not in ev_b], violations_only_b=[e for e in ev_b if e not in ev_a],
        feedback_only_a=[m for m in msg_a if m not in msg_b], feedback_only_b=[m for m in msg_b if m not in msg_a],
    )  # fmt: skip


@dataclass
class BatchJob:
    """A batch of clips analysed one after another in a background thread; cancel is checked between clips."""

    paths: list[str]
    exercise: str
    db: Database
    done: int = 0
    run_ids: list[int] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    finished: bool = False
    cancelled: bool = False
    _cancel: threading.Event = field(default_factory=threading.Event)

    @property
    def percent(self) -> int:
        return 100 if not self.paths else round(100 * self.done / len(self.paths))

    def cancel(self) -> None:
        self._cancel.set()

    def run(self, analyze: Callable[..., Any] | None = None) -> None:
        """Analyse each clip (``analyze`` defaults to workbench.pipeline.analyze_clip)."""
        from workbench.pipeline import analyze_clip

        analyze = analyze or analyze_clip
        try:
            for path in self.paths:
                if self._cancel.is_set():
                    self.cancelled = True
                    break
                try:
                    result = analyze(path, self.exercise, db=self.db)
                    run_id = result.analysis.provenance.get("run_id")
                    if run_id is not None:
                        self.run_ids.append(int(run_id))
                except Exception as exc:  # one bad clip does not stop the batch; its error is shown
                    self.errors.append(f"{Path(path).name}: {exc}")
                self.done += 1
        finally:
            self.finished = True

    def start(self) -> threading.Thread:
        thread = threading.Thread(target=self.run, name="biocoach-batch", daemon=True)
        thread.start()
        return thread
