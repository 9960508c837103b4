"""``biocoach calibrate``: fit an exercise's reference, bounds and score to labelled repetitions and store them
as new versions (one transaction), with the provenance; and undo a calibration exactly.

Every version a calibration writes carries the note ``calibration <id>: …``; the rules version holds the
whole provenance under ``scoring.calibration`` (data set, subjects, repetitions, method, parameters,
cross-validated AUC). ``revert_calibration`` puts each of those items back to the version it replaced, as new
versions (history is never rewritten), so the judgments read exactly as before.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from workbench.calibration.fit import (
    ALPHAS,
    DEFAULT_ALPHA,
    BoundSide,
    ScoreFit,
    fit_reference,
    fit_score,
    quantile_bounds,
    youden,
)
from workbench.calibration.reps import LabelledRep, analyse_rows, check_margin, check_values
from workbench.data.labelled import ManifestRow
from workbench.errors import WorkbenchError
from workbench.exercises.catalogue import Constraint, Exercise, Reference
from workbench.exercises.scoring import scoring_to_rule
from workbench.skeleton import DOF_NAMES
from workbench.store.database import Database
from workbench.store.rules import MAX_SD_DEG, plausible_range_deg
from workbench.store.seed import load_store_catalogue

METHOD = (
    "workbench.calibration.fit: reference = mean/SD of correct reps; bounds = false-alarm quantile on correct "
    "reps, alpha by leave-one-subject-out; score = L2 logistic weights on standardised features, feature set "
    "and regularisation by leave-one-subject-out"
)
MIN_CORRECT = 3


class CalibrationError(WorkbenchError):
    """Labelled data that cannot calibrate an exercise (too few reps, unknown exercise, nothing stored)."""


@dataclass
class BoundChange:
    check: str
    field: str  # bounds_deg / max_std_deg / max_diff_deg
    before: Any
    after: Any
    false_alarm: float  # share of correct reps flagged at the new bound
    detection: float | None  # share of incorrect reps flagged


@dataclass
class CalibrationReport:
    exercise: str
    calibration_id: str
    n_correct: int
    n_incorrect: int
    subjects: list[str]
    alpha: float
    score: ScoreFit
    bounds: list[BoundChange]
    versions: dict[str, int] = field(default_factory=dict)  # item → new version
    warnings: list[str] = field(default_factory=list)
    provenance: dict[str, Any] = field(default_factory=dict)

    def message(self) -> str:
        lines = [
            f"calibrated {self.exercise} ({self.calibration_id}) on {self.n_correct} correct and "
            f"{self.n_incorrect} incorrect repetitions of subjects {', '.join(self.subjects)}"
        ]
        if self.score.scoring is not None:
            feats = ", ".join(f"{f.name} {f.direction} {f.weight:.2f}" for f in self.score.scoring.features[:6])
            cv = "n/a" if self.score.cv_auc is None else f"{self.score.cv_auc:.3f}"
            lines.append(
                f"  score: {self.score.n_features} features ({self.score.feature_set}, "
                f"C={self.score.regularisation:g}); "
                f"leave-one-subject-out AUC {cv}"
            )
            lines.append(f"    heaviest: {feats}")
        else:
            lines.append("  score: distance from the new reference (no incorrect repetitions to refine it)")
        lines.append(f"  bounds at a false-alarm rate of {self.alpha:g} on correct repetitions:")
        for b in self.bounds:
            det = "" if b.detection is None else f", flags {b.detection:.0%} of incorrect"
            lines.append(
                f"    {b.check:26s} {b.field} {_fmt(b.before)} -> {_fmt(b.after)} "
                f"(flags {b.false_alarm:.0%} of correct{det})"
            )
        lines.append("  new versions: " + ", ".join(f"{k} v{v}" for k, v in sorted(self.versions.items())))
        lines += [f"  warning: {w}" for w in self.warnings]
        return "\n".join(lines)


def _fmt(value: Any) -> str:
    if isinstance(value, tuple | list):
        return "[" + ", ".join("open" if v is None else f"{v:g}" for v in value) + "]"
    return "none" if value is None else f"{value:g}"


# -------------------------------------------------------------------------------------------- fitting


def rows_for(
    rows: Sequence[ManifestRow], exercise: Exercise, catalogue_get: Callable[[str], Exercise]
) -> list[ManifestRow]:
    """The manifest rows whose exercise resolves to ``exercise`` (aliases and side variants included)."""
    out = []
    for r in rows:
        try:
            if catalogue_get(r.exercise).rule_file.stem == exercise.rule_file.stem:
                out.append(r)
        except WorkbenchError:
            continue
    return out


Fitted = tuple[Reference, ScoreFit, float, list[BoundChange], list[Constraint], list[str]]


def fit(exercise: Exercise, reps: Sequence[LabelledRep], *, alpha: float | None = None) -> Fitted:
    """Reference, score, alpha and bounds from analysed labelled reps (calibration.fit's method)."""
    usable = [r for r in reps if r.rep is not None and r.rep.cycle is not None]
    positive = np.array([r.incorrect for r in usable])
    if int((~positive).sum()) < MIN_CORRECT:
        raise CalibrationError(
            f"{exercise.key}: expected at least {MIN_CORRECT} correct repetitions with a usable "
            f"cycle, got {int((~positive).sum())}"
        )
    cycles = np.stack([_cycle_of(r) for r in usable])
    prev = exercise.reference
    mean, sd = fit_reference(cycles[~positive], None if prev is None else prev.mean, None if prev is None else prev.sd)
    subjects = [r.row.subject for r in usable]
    score = fit_score(cycles, positive, subjects, mean, sd)
    chosen = alpha if alpha is not None else choose_alpha(exercise, usable)
    changes, constraints = fit_bounds(exercise, usable, chosen)
    mean, sd, notes = storable_reference(mean, sd)
    reference = Reference(mean=mean, sd=sd, version="calibrated")
    return reference, score, chosen, changes, constraints, notes


def storable_reference(mean: np.ndarray, sd: np.ndarray) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """The fitted reference within what the store accepts: an SD over MAX_SD_DEG (a DoF the sensor does not
    determine well, e.g. a shoulder's Euler angles with the arm overhead) is capped there, a mean outside the
    DoF's plausible range is clipped into it; each with a note naming the DoF."""
    notes = []
    cap = np.radians(MAX_SD_DEG)
    for i, name in enumerate(DOF_NAMES):
        if sd[i].max() > cap:
            notes.append(
                f"reference {name}: spread up to {np.degrees(sd[i].max()):.0f}° over correct reps (poorly "
                f"determined by this data), capped at {MAX_SD_DEG:.0f}°"
            )
        lo, hi = plausible_range_deg(name)
        if np.degrees(mean[i]).min() < lo or np.degrees(mean[i]).max() > hi:
            notes.append(f"reference {name}: mean outside the plausible range [{lo:.0f}, {hi:.0f}]°, clipped into it")
    sd = np.minimum(sd, cap)
    lows = np.radians([plausible_range_deg(n)[0] for n in DOF_NAMES])[:, None]
    highs = np.radians([plausible_range_deg(n)[1] for n in DOF_NAMES])[:, None]
    return np.clip(mean, lows, highs), sd, notes


def _cycle_of(r: LabelledRep) -> np.ndarray:
    assert r.rep is not None and r.rep.cycle is not None
    return r.rep.cycle


def choose_alpha(exercise: Exercise, reps: Sequence[LabelledRep]) -> float:
    """The false-alarm rate whose bounds best separate held-out subjects' reps (Youden's J of "any
    violation"); DEFAULT_ALPHA without incorrect reps or with a single subject."""
    positive = np.array([r.incorrect for r in reps])
    subjects = np.array([r.row.subject for r in reps])
    if not positive.any() or positive.all() or len(set(subjects.tolist())) < 2:
        return DEFAULT_ALPHA
    best, best_j = DEFAULT_ALPHA, -np.inf
    # Ties go to the rate nearest the default, so an uninformative split does not push the bounds to an extreme.
    for alpha in sorted(ALPHAS, key=lambda a: (abs(np.log(a / DEFAULT_ALPHA)), a)):
        flags = np.zeros(len(reps), dtype=bool)
        for held in sorted(set(subjects.tolist())):
            train = [r for r, s in zip(reps, subjects, strict=True) if s != held]
            _, constraints = fit_bounds(exercise, train, alpha)
            test = [k for k, s in enumerate(subjects) if s == held]
            flags[test] = [_flagged(constraints, exercise, reps[k]) for k in test]
        j = youden(flags, positive)
        if j > best_j + 1e-9:
            best, best_j = alpha, j
    return best


def _flagged(constraints: Sequence[Constraint], exercise: Exercise, rep: LabelledRep) -> bool:
    """Whether a rep would have a violation under ``constraints`` (rule-file checks with new bounds)."""
    probe = replace(exercise, constraints=tuple(constraints))
    for c in constraints:
        for v in check_values([rep], probe, c.id)[0]:
            if _violates(c, v):
                return True
    return False


def _violates(c: Constraint, v: float) -> bool:
    return bool(check_margin(c, v) > 0)  # NaN (a reference-relative check) is no violation here


def fit_bounds(
    exercise: Exercise, reps: Sequence[LabelledRep], alpha: float
) -> tuple[list[BoundChange], list[Constraint]]:
    """New bounds of the rule-file checks (written side only, before ``both_sides`` mirroring)."""
    written = _written_checks(exercise)
    positive = np.array([r.incorrect for r in reps])
    changes, out = [], []
    for c in written:
        per_rep = check_values(reps, exercise, c.id)
        new_c, change = _fit_one(c, per_rep, positive, alpha)
        out.append(new_c)
        if change is not None:
            changes.append(change)
    return changes, out


def _written_checks(exercise: Exercise) -> list[Constraint]:
    """The checks as the rule file writes them: mirrored copies (``id@dof``) left out."""
    return [c for c in exercise.constraints if "@" not in c.id]


def _fit_one(
    c: Constraint, per_rep: list[list[float]], positive: np.ndarray, alpha: float
) -> tuple[Constraint, BoundChange | None]:
    judged = np.array([bool(v) for v in per_rep])
    if c.kind in ("dynamic", "posture") and c.bounds_deg is None:
        return c, None  # relative to the reference: moves with it
    if judged[~positive].sum() < MIN_CORRECT:
        return c, None
    before: Any
    after: Any
    if c.kind in ("stability", "symmetry"):
        worst = np.array([max(v) if v else np.nan for v in per_rep])
        _, hi = quantile_bounds(worst[judged & ~positive], BoundSide(False, True), alpha)
        limit = max(hi or 0.0, 0.1)
        if c.kind == "stability":
            field_name, before, new_c = "max_std_deg", c.max_std_deg, replace(c, max_std_deg=limit)
        else:
            field_name, before, new_c = "max_diff_deg", c.max_diff_deg, replace(c, max_diff_deg=limit)
        after = limit
    else:
        assert c.bounds_deg is not None
        side = BoundSide(c.bounds_deg[0] is not None, c.bounds_deg[1] is not None)
        lows = np.array([min(v) if v else np.nan for v in per_rep])
        highs = np.array([max(v) if v else np.nan for v in per_rep])
        lo, _ = quantile_bounds(lows[judged & ~positive], side, alpha)
        _, hi = quantile_bounds(highs[judged & ~positive], side, alpha)
        if lo is not None and hi is not None and lo > hi:
            lo, hi = hi, lo
        new_c = replace(c, bounds_deg=(lo, hi))
        field_name, before, after = "bounds_deg", c.bounds_deg, new_c.bounds_deg
    flags = np.array([any(_violates(new_c, x) for x in v) for v in per_rep])
    fa = float(flags[judged & ~positive].mean())
    det = float(flags[judged & positive].mean()) if (judged & positive).any() else None
    return new_c, BoundChange(c.id, field_name, before, after, fa, det)


# ------------------------------------------------------------------------------------------ the store


def calibrate(
    db: Database,
    exercise_key: str,
    rows: Sequence[ManifestRow],
    *,
    author: str,
    note: str = "",
    alpha: float | None = None,
    dataset: str = "",
    manifest: str = "",
    progress: Callable[[int, int], None] | None = None,
) -> CalibrationReport:
    """Analyse the rows with the store's current rules, fit, and store the result as new versions."""
    store_cat = load_store_catalogue(db)
    exercise = store_cat.catalogue.get(exercise_key)
    key = exercise.rule_file.stem
    exercise = store_cat.catalogue.get(key)
    mine = rows_for(rows, exercise, store_cat.catalogue.get)
    if not mine:
        raise CalibrationError(f"{manifest or 'manifest'}: no row is labelled with exercise {key!r}")
    reps = analyse_rows(mine, exercise, progress=progress)
    warnings = [w for r in reps for w in r.warnings]
    reference, score, chosen, changes, constraints, notes = fit(exercise, reps, alpha=alpha)
    warnings += notes
    usable = [r for r in reps if r.rep is not None]
    subjects = sorted({r.row.subject for r in usable})
    n_inc = sum(r.incorrect for r in usable)
    cal_id = (
        "cal-"
        + hashlib.sha256(
            json.dumps([key, manifest, [r.file for r in mine], author, note, chosen], sort_keys=True).encode()
        ).hexdigest()[:10]
    )
    provenance = {
        "id": cal_id,
        "dataset": dataset,
        "manifest": manifest,
        "subjects": subjects,
        "n_correct": len(usable) - n_inc,
        "n_incorrect": n_inc,
        "method": METHOD,
        "parameters": {
            "alpha": chosen,
            "alphas_tried": list(ALPHAS) if alpha is None else [alpha],
            "feature_set": score.feature_set,
            "regularisation_C": score.regularisation,
            "n_features": score.n_features,
        },
        "cv_auc": None if score.cv_auc is None else round(score.cv_auc, 4),
        "cv_auc_by_setting": score.cv_auc_by_setting,
        "author": author,
        "note": note,
    }
    report = CalibrationReport(
        key,
        cal_id,
        len(usable) - n_inc,
        n_inc,
        subjects,
        chosen,
        score,
        changes,
        warnings=warnings,
        provenance=provenance,
    )
    _store(db, key, reference, score, constraints, provenance, report, author, note)
    return report


def _store(
    db: Database,
    key: str,
    reference: Reference,
    score: ScoreFit,
    constraints: Sequence[Constraint],
    provenance: dict[str, Any],
    report: CalibrationReport,
    author: str,
    note: str,
) -> None:
    text = f"calibration {provenance['id']}: {note or 'calibrated from labelled repetitions'}"
    with db.store() as store, store.transaction():
        current_ref = store.references.current(key)
        ref = store.references.save(
            key,
            reference.mean,
            reference.sd,
            author=author,
            note=text,
            base_version=None if current_ref is None else current_ref.version,
        )
        report.versions["reference"] = ref.version
        by_id = {t.spec.id: t for t in store.thresholds.current(key)}
        for c in constraints:
            stored = by_id.get(c.id)
            if stored is None:
                continue
            changes = {"bounds_deg": c.bounds_deg, "max_std_deg": c.max_std_deg, "max_diff_deg": c.max_diff_deg}
            changes = {k: v for k, v in changes.items() if getattr(stored.spec, k) != v}
            if changes:
                new = store.thresholds.edit(key, c.id, base_version=stored.version, author=author, note=text, **changes)
                report.versions[f"threshold {c.id}"] = new.version
        rules = store.rules.get(key)
        body = dict(rules.body)
        if score.scoring is not None:
            body["scoring"] = scoring_to_rule(replace(score.scoring, calibration=provenance))
        else:
            body.pop("scoring", None)
        new_rules = store.rules.save(key, body, base_version=rules.version, author=author, note=text)
        report.versions["rules"] = new_rules.version


@dataclass
class RevertReport:
    exercise: str
    calibration_id: str
    reverted: dict[str, tuple[int, int]]  # item → (version restored, new version number)

    def message(self) -> str:
        items = ", ".join(f"{k} back to v{a} (as v{b})" for k, (a, b) in sorted(self.reverted.items()))
        return f"reverted calibration {self.calibration_id} of {self.exercise}: {items}"


def revert_calibration(
    db: Database, exercise_key: str, *, author: str, calibration_id: str | None = None
) -> RevertReport:
    """Put every item a calibration changed back to the version it replaced (module doc)."""
    key = load_store_catalogue(db).catalogue.get(exercise_key).rule_file.stem
    with db.store() as store, store.transaction():
        cal_id = calibration_id or _current_calibration(store.rules.get(key).body)
        if cal_id is None:
            raise CalibrationError(
                f"{key}: the current rules were not written by a calibration; name one with "
                f"--calibration ID (see `biocoach db history {key}`)"
            )
        tag = f"calibration {cal_id}:"
        reverted: dict[str, tuple[int, int]] = {}
        note = f"revert calibration {cal_id}"
        ref = next((v for v in store.references.history(key) if v.note.startswith(tag)), None)
        if ref is not None and ref.parent_version is not None:
            new = store.references.revert(key, ref.parent_version, author=author, note=note)
            reverted["reference"] = (ref.parent_version, new.version)
        for t in store.thresholds.current(key, include_removed=True):
            hit = next((v for v in store.thresholds.history(key, t.spec.id) if v.note.startswith(tag)), None)
            if hit is not None and hit.parent_version is not None:
                new_t = store.thresholds.revert(key, t.spec.id, hit.parent_version, author=author, note=note)
                reverted[f"threshold {t.spec.id}"] = (hit.parent_version, new_t.version)
        rules = next((v for v in store.rules.history(key) if v.note.startswith(tag)), None)
        if rules is not None and rules.parent_version is not None:
            new_r = store.rules.revert(key, rules.parent_version, author=author, note=note)
            reverted["rules"] = (rules.parent_version, new_r.version)
    if not reverted:
        raise CalibrationError(f"{key}: no version carries calibration {cal_id}")
    return RevertReport(key, cal_id, reverted)


def _current_calibration(body: dict[str, Any]) -> str | None:
    scoring = body.get("scoring") or {}
    cal = scoring.get("calibration") or {}
    value = cal.get("id")
    return str(value) if value else None
