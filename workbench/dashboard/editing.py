"""What the editor and runs pages do, as plain functions testable without a browser.

    before, after = preview(state, "squat", "knee_depth", {"bounds_deg": (160.0, None)})  # nothing saved
    saved = save_threshold(db, "squat", "knee_depth", base_version=1, author="alice", note="deeper",
                           bounds_deg=(100.0, None))
    revert_threshold(db, "squat", "knee_depth", 1, author="alice")
    diff = compare_runs(db, run_a, run_b)

The pages only lay these out; every number they show comes from here, the store or the analysis.
"""

from __future__ import annotations

import re
import threading
import weakref
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

# The Runs page reruns clips through the batch machinery (resumable, recorded per clip with its own exercise).
from workbench.batch.driver import Driver, JobReport
from workbench.batch.engines import Engine, make_engine
from workbench.batch.jobs import STAGE_ORDER, ClipRef, JobSpec, StageSpec
from workbench.batch.select import from_store
from workbench.batch.stages import BatchError as BatchError
from workbench.batch.stages import StagePlan, frame_progress, parse_stages
from workbench.dashboard.state import EXAMPLE_CLIP
from workbench.exercises.catalogue import Reference
from workbench.motion.analysis import analyze

# The reference edits are array maths (workbench.motion.reference_edits); the pages reach them through here.
from workbench.motion.reference_edits import ReferencePair, copy_pair, dof_row, reference_from_cycle_stack, rep_cycles
from workbench.motion.reference_edits import key_point_index as key_point_index
from workbench.motion.reference_edits import offset_reference as offset_reference
from workbench.motion.reference_edits import reference_from_cycles as reference_from_cycles
from workbench.motion.reference_edits import scale_reference as scale_reference
from workbench.motion.reference_edits import set_key_point as set_key_point
from workbench.motion.reference_edits import smooth_reference as smooth_reference
from workbench.pipeline import analyze_clip, resolve
from workbench.progress import Progress
from workbench.skeleton import dof_index
from workbench.store.batches import BatchRepository

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
        {
            "version": v.version,
            "current": v.version == current,
            "author": v.author,
            "note": v.note,
            "created_at": str(v.created_at)[:19],
            "bounds": format_bounds(v.spec.bounds_deg),
            "max_std_deg": v.spec.max_std_deg,
            "max_diff_deg": v.spec.max_diff_deg,
        }
        for v in versions
    ]


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
    db: Database,
    exercise: str,
    constraint_id: str,
    to_version: int,
    *,
    author: str,
    note: str = "",
    base_version: int | None = None,
) -> ThresholdVersion:
    with db.store() as store:
        return store.thresholds.revert(
            exercise, constraint_id, to_version, author=author or "anonymous", note=note, base_version=base_version
        )


def format_bounds(pair: tuple[float | None, float | None] | None) -> str:
    if pair is None:
        return "—"
    lo, hi = pair
    return f"[{'open' if lo is None else f'{lo:g}'}, {'open' if hi is None else f'{hi:g}'}]"


def threshold_details(spec: Any) -> str:
    """What a check is held to, in words: only the limits its kind uses, an open end as 'open', never 'None'."""
    if spec.kind == "stability":
        return f"Max std {_degrees(spec.max_std_deg)}"
    if spec.kind == "symmetry":
        return f"Max difference {_degrees(spec.max_diff_deg)}"
    parts = []
    if spec.bounds_deg is not None:
        parts.append(f"Bounds {format_bounds(spec.bounds_deg)}")
    if spec.tolerance_deg is not None:
        parts.append(f"tolerance around the reference {format_bounds(spec.tolerance_deg)}")
    return ", ".join(parts) or "No bounds (the check is never violated)"


def _degrees(x: float | None) -> str:
    return "open" if x is None else f"{x:g}°"


REP_TAG = re.compile(r"\brep (\d+)")


def rep_from_one(text: str) -> str:
    """An evidence tag as stored with a run ('rep 2: knee_depth', reps counted from 0) as a person reads it, the
    rep counted from 1 ('rep 3: knee_depth')."""
    return REP_TAG.sub(lambda m: f"rep {int(m.group(1)) + 1}", text)


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
        raise KeyError(
            f"Expected a constraint of {ex.key} among {', '.join(c.id for c in ex.constraints)}, got {constraint_id!r}"
        )
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
    """The preview's rows, reps numbered from 1 as everywhere a person reads them (``Violation.rep`` is 0-based)."""
    return [
        {
            "rep": v.rep + 1,
            "check": v.check,
            "dof": v.dof,
            "value_deg": round(v.value_deg, 1),
            "bounds": format_bounds(v.bounds_deg),
            "message": v.message,
        }
        for v in violations
    ]


# ------------------------------------------------------------------------------------------- references


@dataclass
class ReferenceCurve:
    version: int
    current: bool
    mean_deg: np.ndarray  # (n_samples,)
    sd_deg: np.ndarray  # (n_samples,)


def reference_curves(db: Database, exercise: str, dof_name: str) -> list[ReferenceCurve]:
    """Every stored version of the exercise's reference for one DoF, in degrees."""
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
    return [
        {
            "version": v.version,
            "current": v.version == now,
            "author": v.author,
            "note": v.note,
            "created_at": str(v.created_at)[:19],
            "samples": int(v.mean.shape[1]),
        }
        for v in versions
    ]


def reference_diff_rows(db: Database, exercise: str, v1: int, v2: int, top: int = 12) -> list[str]:
    """The DoFs whose reference changed most between two versions, one line each (degrees)."""
    with db.store() as store:
        d = store.references.diff(exercise, v1, v2)
    worst = sorted(d.mean_max_abs_deg.items(), key=lambda kv: -kv[1])[:top]
    lines = [
        f"`{name}`: mean max |Δ| {delta:.1f}°, SD max |Δ| {d.sd_max_abs_deg.get(name, 0.0):.1f}°"
        for name, delta in worst
    ]
    sd_only = sorted(set(d.sd_max_abs_deg) - set(d.mean_max_abs_deg))
    lines += [f"`{name}`: SD max |Δ| {d.sd_max_abs_deg[name]:.1f}°" for name in sd_only[:top]]
    if d.n_samples[0] != d.n_samples[1]:
        lines.insert(0, f"cycle length {d.n_samples[0]} → {d.n_samples[1]} samples")
    return lines


# ------------------------------------------------------------------------------------------- other clips
#
# The editor overlays the cycles of other clips on the reference. The pipeline registers only the cached
# backends' inputs (videos, landmark files) in the store's ``clips`` table, not pose .npz files, so the choice
# is the registered clips still on disk and allowed, plus the example and the files under the data folders.

# One cache per browser session (its AppState), dropped with the session: a session never sees what another
# analysed, and the ClipResult objects it holds (which the pages may mutate) are never shared.
_CLIP_CACHES: weakref.WeakKeyDictionary[AppState, dict[tuple[str, ...], Any]] = weakref.WeakKeyDictionary()
_CLIP_CACHE_MAX = 32


def session_clip_cache(state: AppState) -> dict[tuple[str, ...], Any]:
    """The clip analyses cached for this session (``state``), oldest first."""
    return _CLIP_CACHES.setdefault(state, {})


def overlay_clip_choices(state: AppState) -> list[str]:
    """Clips whose cycles may be overlaid: the bundled example, the clip files under the data folders and the
    clips registered in the store (when still on disk and inside the allowed folders)."""
    found = candidate_clips(state)
    with state.database().store() as store:
        registered = store.clips.paths()
    found += [p for p in registered if p and Path(p).is_file() and state.allowed(p)]
    return list(dict.fromkeys(found))


def analyse_clip_cached(state: AppState, exercise: str, path: str) -> Any:
    """workbench.pipeline.analyze_clip on the session's store, cached per file content and rule versions
    (so the overlay does not re-analyse, nor record a new run, on every redraw)."""
    import json

    p = Path(path)
    if not state.allowed(p):
        raise ValueError(f"Expected a clip inside the data folders, got {path}")
    db = state.database()
    _, versions = resolve(exercise, db)
    stat = p.stat()
    key = (
        str(db.path),
        str(p.resolve()),
        str(stat.st_mtime_ns),
        str(stat.st_size),
        exercise,
        json.dumps(versions, sort_keys=True, default=str),
    )
    cache = session_clip_cache(state)
    if key not in cache:
        if len(cache) >= _CLIP_CACHE_MAX:
            cache.pop(next(iter(cache)))
        cache[key] = analyze_clip(p, exercise, db=db)
    return cache[key]


def reference_length(state: AppState, exercise: str, default: int = 100) -> int:
    cur = current_reference(state.database(), exercise)
    return default if cur is None else int(cur.mean.shape[1])


def clip_cycles(
    state: AppState, exercise: str, paths: Sequence[str], n_ref: int | None = None, *, accepted_only: bool = True
) -> dict[str, np.ndarray]:
    """Each clip's rep cycles (all 46 DoFs) time-normalised to ``n_ref`` samples (default: the current
    reference's length), mirrored to the reference's side: path → (n_reps, 46, n_ref) radians. With
    ``accepted_only`` only the reps without violations."""
    n = n_ref or reference_length(state, exercise)
    ex, _ = resolve(exercise, state.database())
    out: dict[str, np.ndarray] = {}
    for path in dict.fromkeys(str(p) for p in paths):
        result = analyse_clip_cached(state, exercise, path)
        reps = accepted_reps(result.analysis) if accepted_only else list(result.analysis.reps)
        out[path] = rep_cycles(result.estimate.track.q, reps, n, mirror_to=ex.reference_side)
    return out


def cycles_of_clips(
    state: AppState,
    exercise: str,
    paths: Sequence[str],
    dof: str | int,
    n_ref: int | None = None,
    *,
    accepted_only: bool = True,
) -> dict[str, list[np.ndarray]]:
    """One DoF's time-normalised cycles per clip: path → [(n_ref,) radians, one per rep]."""
    i = dof_row(dof)
    return {
        p: [c[i] for c in cyc]
        for p, cyc in clip_cycles(state, exercise, paths, n_ref, accepted_only=accepted_only).items()
    }


def reference_from_clips(
    state: AppState,
    exercise: str,
    paths: Sequence[str],
    n_ref: int | None = None,
    *,
    extra: np.ndarray | None = None,
    fallback: ReferencePair | None = None,
) -> ReferencePair:
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
        return [
            {
                "rep": i + 1,
                "quality_before": r(self.quality_before[i]),
                "quality_after": r(self.quality_after.get(i)),
                "violations_before": before_n.get(i, 0),
                "violations_after": after_n.get(i, 0),
            }
            for i in sorted(self.quality_before)
        ]


def _count_by_rep(violations: Sequence[Violation]) -> dict[int, int]:
    out: dict[int, int] = {}
    for v in violations:
        out[v.rep] = out.get(v.rep, 0) + 1
    return out


def preview_reference(state: AppState, exercise: str, mean: np.ndarray, sd: np.ndarray) -> ReferencePreview:
    """Re-analyse the open clip with the edited reference (the Exercise's Reference replaced), saving nothing."""
    result = state.result
    if result is None:
        raise ValueError("Expected an open clip to preview on, got none (open one on the Clip page)")
    if state.exercise != exercise:
        raise ValueError(f"Expected the open clip's exercise {state.exercise!r}, got {exercise!r}")
    m, s = copy_pair(mean, sd)
    ex, _ = resolve(exercise, state.database())
    base = ex.reference.version if ex.reference is not None else "none"
    edited = replace(ex, reference=Reference(mean=m, sd=s, version=f"{base}+edit (unsaved)"))
    before = analyze(result.estimate.track, ex)
    after = analyze(result.estimate.track, edited)
    return ReferencePreview(
        before=all_violations(before),
        after=all_violations(after),
        quality_before={r.index: r.quality for r in before.reps},
        quality_after={r.index: r.quality for r in after.reps},
    )


def save_reference(
    db: Database, exercise: str, mean: np.ndarray, sd: np.ndarray, *, base_version: int | None, author: str, note: str
) -> Any:
    """A new reference version (ReferenceVersion); ConflictError (nothing written) when ``base_version`` is not
    current, ValidationError when the arrays are implausible. Arrays equal to the current ones return it."""
    with db.store() as store:
        return store.references.save(
            exercise,
            np.asarray(mean, dtype=np.float64),
            np.asarray(sd, dtype=np.float64),
            base_version=base_version,
            author=author or "anonymous",
            note=note,
        )


# ------------------------------------------------------------------------------------------- runs


def candidate_clips(state: AppState) -> list[str]:
    """The bundled example and the clip files under the session's data folders (a link that leads out of them is
    left out: ``state.allowed``)."""
    found = [str(EXAMPLE_CLIP)]
    for d in state.data_dirs:
        root = Path(d)
        if root.is_dir():
            found += sorted(str(p) for p in root.rglob("*") if p.is_file() and p.name.lower().endswith(CLIP_SUFFIXES))
    return [p for p in dict.fromkeys(found) if state.allowed(p)]


def list_runs(db: Database, limit: int = 200) -> list[dict[str, Any]]:
    """The latest runs, newest first, with their provenance (the clip by its registered path when known)."""
    with db.store() as store:
        ids = store.runs.recent_ids(limit)
        runs = [store.runs.get(i) for i in ids]
        paths = {r.clip_hash: store.clips.get(r.clip_hash) for r in runs if r.clip_hash}
    rows = []
    for r in runs:
        clip = paths.get(r.clip_hash) if r.clip_hash else None
        rows.append(
            {
                "id": r.id,
                "started_at": str(r.started_at)[:19],
                "exercise": r.exercise or "",
                "clip": Path(clip.path).name if clip else (r.clip_hash or "")[:12],
                "status": r.status,
                "code_version": r.code_version,
                "reference_version": r.reference_version,
                "threshold_versions": ", ".join(f"{k}@v{v}" for k, v in sorted(r.threshold_versions.items())),
                "total_s": round(float(r.timings.get("total_s", r.timings.get("analysis_s", float("nan")))), 3),
                "author": str(r.config.get("author") or ""),
                "batch_job": r.config.get("batch_job"),
                "clip_hash": r.clip_hash or "",
            }
        )
    return rows


def filter_runs(
    rows: Sequence[Mapping[str, Any]],
    *,
    clip: str = "",
    exercise: str = "",
    author: str = "",
    since: Any = None,
    until: Any = None,
) -> list[dict[str, Any]]:
    """The rows of :func:`list_runs` that match: ``clip`` and ``author`` as case-insensitive parts of the name,
    ``exercise`` exactly ('' = any), ``since``/``until`` dates (``datetime.date`` or 'YYYY-MM-DD', both ends
    included) on the day the run started."""
    lo, hi = (None if d in (None, "") else str(d)[:10] for d in (since, until))
    out = []
    for r in rows:
        day = str(r.get("started_at", ""))[:10]
        if clip and clip.lower() not in str(r.get("clip", "")).lower():
            continue
        if exercise and r.get("exercise") != exercise:
            continue
        if author and author.lower() not in str(r.get("author", "")).lower():
            continue
        if (lo is not None and day < lo) or (hi is not None and day > hi):
            continue
        out.append(dict(r))
    return out


def same_clip_runs(rows: Sequence[Mapping[str, Any]], run_id: Any) -> list[int]:
    """The ids of the runs (among ``rows``) of the same clip (same content) as run ``run_id``, itself included."""
    chosen = next((r for r in rows if r["id"] == run_id), None)
    if chosen is None:
        return []
    key = chosen.get("clip_hash") or f"name:{chosen.get('clip')}"
    return [int(r["id"]) for r in rows if (r.get("clip_hash") or f"name:{r.get('clip')}") == key]


# ------------------------------------------------------------------------------------------- runs: rerun clips

RERUN_STAGES: tuple[str, ...] = STAGE_ORDER
ENGINES = {"in the app (frame progress)": "inline", "local process pool": "local", "Ray": "ray"}


def guess_exercise(path: str | Path, keys: Sequence[str]) -> str | None:
    """The exercise a clip's file name names ('lunge_003.npz' → 'lunge'; the longest key that is a whole part of
    the name), None when it names none."""
    name = Path(path).name.lower()
    for key in sorted(keys, key=len, reverse=True):
        if re.search(rf"(^|[^a-z]){re.escape(key)}([^a-z]|$)", name):
            return key
    return None


def registered_exercises(db: Database) -> dict[str, str]:
    """Each registered clip's exercise (resolved path → key), for the clips the store knows one of."""
    with db.store() as store:
        rows = store.session.all("SELECT path, exercise FROM clips WHERE exercise IS NOT NULL", [])
    out: dict[str, str] = {}
    for path, ex in rows:
        try:
            out[str(Path(path).resolve())] = str(ex)
        except (OSError, RuntimeError):
            continue
    return out


def clip_rows(
    db: Database, paths: Sequence[str], keys: Sequence[str], known: Mapping[str, str | None] | None = None
) -> list[dict[str, Any]]:
    """The table of clips to run: one row per clip with its own exercise — ``known`` (e.g. a store query's),
    else the store's registration of the clip, else the one its file name names, else '' (to be chosen)."""
    registered = registered_exercises(db)
    rows = []
    for p in dict.fromkeys(str(x) for x in paths):
        given = (known or {}).get(p)
        reg = registered.get(str(Path(p).resolve()))
        guess = guess_exercise(p, keys)
        exercise, source = (
            (given, "store query")
            if given in keys
            else (reg, "store")
            if reg in keys
            else (guess, "file name")
            if guess
            else ("", "choose one")
        )
        rows.append({"run": True, "clip": Path(p).name, "exercise": exercise, "exercise_from": source, "path": p})
    return rows


def store_query_clips(
    db: Database, where: str, allowed: Callable[[str], bool], limit: int = 500
) -> tuple[dict[str, str | None], list[str]]:
    """The registered clips matching ``where`` (an SQL condition over the clips table, as ``biocoach batch run
    --where``) that are on disk and readable by the session: ({path: exercise}, [refused or missing names]).
    BatchError when the condition is refused."""
    found: dict[str, str | None] = {}
    left_out: list[str] = []
    for ref in from_store(db, where):
        p = str(ref.path)
        if not ref.path.is_file() or not allowed(p):
            left_out.append(ref.path.name)
        else:
            found[p] = ref.exercise
        if len(found) >= limit:
            break
    return found, left_out


def clips_to_run(rows: Sequence[Mapping[str, Any]], keys: Sequence[str]) -> list[ClipRef]:
    """The ticked rows as the batch's clips, each with its own exercise. ValueError naming the clips whose
    exercise is missing or unknown (nothing is run then: no clip is analysed as another exercise)."""
    chosen = [r for r in rows if r.get("run", True)]
    if not chosen:
        raise ValueError("Choose at least one clip.")
    bad = [f"{r['clip']} ({r.get('exercise') or 'none'})" for r in chosen if r.get("exercise") not in keys]
    if bad:
        raise ValueError(f"Choose an exercise for: {', '.join(bad)}; nothing was run.")
    return [ClipRef(path=Path(str(r["path"])), exercise=str(r["exercise"]), source="app") for r in chosen]


def cuda_available() -> bool:
    """Whether torch sees a CUDA device (HSMR pose and the neural coach can use it); False without torch."""
    try:
        import torch
    except ImportError:
        return False
    return bool(torch.cuda.is_available())


@dataclass
class BatchRerun:
    """Clips rerun through the batch driver (workbench.batch) in a background thread of the app: each clip with
    its own exercise, the chosen stages, coach, device and engine. Resumable like ``biocoach batch run``: what
    is already done with the same inputs and versions is not redone, and a cancelled job's clips are picked up by
    the next run. ``frames`` is the current clip's pose progress (the in-app engine only)."""

    clips: list[ClipRef]
    db: Database
    stages: list[str] = field(default_factory=lambda: ["pose", "analysis"])
    coach: str = "rule"
    device: str = "cpu"
    backend: str = "auto"
    engine: str = "inline"  # inline (in this process), local (process pool) or ray
    workers: int = 2
    address: str | None = None
    author: str = ""
    job_id: int | None = None
    done: int = 0  # clips finished (succeeded or not)
    current: str | None = None
    frames: Progress | None = None
    report: JobReport | None = None
    error: str | None = None
    finished: bool = False
    cancelled: bool = False
    _cancel: threading.Event = field(default_factory=threading.Event)
    _driver: Driver | None = None

    @property
    def percent(self) -> int:
        if not self.clips or self.finished:
            return 100
        part = (self.frames.fraction or 0.0) if self.frames is not None and not self.frames.finished else 0.0
        return min(99, round(100 * (self.done + part) / len(self.clips)))

    def cancel(self) -> None:
        self._cancel.set()

    def plan(self) -> tuple[JobSpec, StagePlan]:
        stages = parse_stages(",".join(self.stages))
        plan = StagePlan(stages=stages, backend=self.backend, coach=self.coach, coach_device=self.device, db=self.db)
        selection = {"clips": [str(c.path) for c in self.clips], "author": self.author or "anonymous"}
        inline = self.engine == "inline"
        spec = JobSpec(
            name=f"app: {len(self.clips)} clip(s)",
            selection=selection,
            stages=[StageSpec(s) for s in stages],  # type: ignore[arg-type]
            engine="local" if inline else self.engine,  # type: ignore[arg-type]
            workers=0 if inline else self.workers,
            address=self.address or None,
        )
        return spec, plan

    def _frame(self, path: str, progress: Progress) -> None:
        self.current, self.frames = path, progress

    def run(self) -> None:
        engine: Engine | None = None
        try:
            spec, plan = self.plan()
            engine = _Watched(make_engine(spec.engine, spec.workers, spec.address), self)
            self._driver = Driver(spec, plan, self.db, cancel=self._cancel)
            with frame_progress(self._frame):
                self.report = self._driver.run(iter(self.clips), engine)
            self.job_id = self.report.job.id
            self.cancelled = self._cancel.is_set() and self.report.job.status != "finished"
        except Exception as exc:  # shown on the page in one line, never a traceback
            self.error = " ".join(f"{type(exc).__name__}: {exc}".split())[:300]
            if self._driver is not None and self._driver.job_id:
                self.job_id = self._driver.job_id
        finally:
            if engine is not None:
                engine.close()
            self.finished = True

    def start(self) -> threading.Thread:
        thread = threading.Thread(target=self.run, name="biocoach-rerun", daemon=True)
        thread.start()
        return thread

    def results(self) -> list[dict[str, Any]]:
        """One row per clip of the job: its exercise, the analysis's status, the run recorded (or found done
        before, by an earlier job) and the error."""
        if self.job_id is None:
            return []
        with self.db.store() as store:
            repo = BatchRepository(store.session)
            items = repo.items(self.job_id)
        rows: dict[str, dict[str, Any]] = {}
        for it in items:
            row = rows.setdefault(
                it.path,
                {"clip": Path(it.path).name, "exercise": it.exercise or "", "status": "done", "run": None, "error": ""},
            )
            if it.status != "done" and row["status"] == "done":
                row["status"] = it.status
            if it.error and not row["error"]:
                row["error"] = f"{it.stage}: {' '.join(it.error.split())[:200]}"
            # the coached run when coaching ran (it holds the coach's lines), else the analysis's run
            coached_already = row.get("run_stage") == "coaching"
            if it.result_kind == "run" and it.result_ref and (it.stage == "coaching" or not coached_already):
                row["run"], row["run_stage"] = int(it.result_ref), it.stage
        for row in rows.values():
            row.pop("run_stage", None)
        return list(rows.values())


class _Watched:
    """An engine that tells its BatchRerun which clip runs now and how many have finished."""

    def __init__(self, inner: Engine, job: BatchRerun):
        self.inner, self.job, self.name = inner, job, inner.name

    def submit(self, task: Any) -> Any:
        self.job.current, self.job.frames = str(task.clip.path), None
        return self.inner.submit(task)

    def wait_some(self, handles: list[Any], timeout_s: float | None) -> list[tuple[Any, Any]]:
        finished = self.inner.wait_some(handles, timeout_s)
        self.job.done += len(finished)
        return finished

    def close(self) -> None:
        self.inner.close()


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

    ev_a, ev_b = [tag for e in fb_a for tag in e.evidence], [tag for e in fb_b for tag in e.evidence]
    msg_a, msg_b = [e.text for e in fb_a], [e.text for e in fb_b]
    return RunComparison(
        a=a,
        b=b,
        provenance=provenance,
        violations_only_a=[rep_from_one(e) for e in ev_a if e not in ev_b],
        violations_only_b=[rep_from_one(e) for e in ev_b if e not in ev_a],
        feedback_only_a=[m for m in msg_a if m not in msg_b],
        feedback_only_b=[m for m in msg_b if m not in msg_a],
    )


@dataclass
class BackgroundBatch:
    """A batch of clips analysed one after another in a background thread of the dashboard; cancel is checked
    between clips. (A batch job of the batch driver, recorded in the store, is workbench.store.batches.BatchJob.)"""

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
