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


# ------------------------------------------------------------------------------------------- runs


def candidate_clips(state: AppState) -> list[str]:
    """The bundled example and the clip files under the session's data folders."""
    from workbench.dashboard.state import EXAMPLE_CLIP

    found = [str(EXAMPLE_CLIP)]
    for d in state.data_dirs:
        root = Path(d)
        if root.is_dir():
            found += sorted(str(p) for p in root.rglob("*") if p.is_file() and p.name.lower().endswith(CLIP_SUFFIXES))
    return list(dict.fromkeys(found))


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
