"""``biocoach assess``: how well the store's current judgments separate incorrect from correct repetitions.

Per exercise: the ROC AUC of the per-rep score (incorrect = positive) and of ``severity_deg``, the
sensitivity and specificity of "the rep has a violation" at the stored bounds, and per check the AUC of its
margin past its bound (how far past, or inside, each rep is) with its own sensitivity and specificity; the
repetitions that drive the errors (incorrect reps with no violation, correct reps flagged) ranked by score.
JSON schema ``biocoach.assessment/1`` (README). ROC maths: scikit-learn.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from sklearn.metrics import roc_auc_score, roc_curve

from workbench.calibration.reps import LabelledRep, analyse_rows, check_margins
from workbench.data.labelled import ManifestRow
from workbench.errors import UnknownExerciseError
from workbench.exercises.catalogue import Catalogue, Exercise

SCHEMA = "biocoach.assessment/1"
N_DRIVERS = 5  # repetitions listed per kind of error


@dataclass
class Assessment:
    exercises: dict[str, dict[str, Any]]
    reps: list[dict[str, Any]]
    warnings: list[str]
    provenance: dict[str, Any]

    def to_json(self) -> dict[str, Any]:
        return {
            "schema": SCHEMA,
            "provenance": self.provenance,
            "exercises": self.exercises,
            "reps": self.reps,
            "warnings": self.warnings,
        }


def auc(y: Sequence[bool], s: Sequence[float | None]) -> float | None:
    """ROC AUC with incorrect = positive over reps with a finite value; None when a class is missing."""
    pairs = [(bool(a), float(b)) for a, b in zip(y, s, strict=True) if b is not None and np.isfinite(b)]
    labels = [a for a, _ in pairs]
    if not pairs or all(labels) or not any(labels):
        return None
    return float(roc_auc_score(labels, [b for _, b in pairs]))


def roc_points(y: Sequence[bool], s: Sequence[float | None]) -> dict[str, list[float]] | None:
    pairs = [(bool(a), float(b)) for a, b in zip(y, s, strict=True) if b is not None and np.isfinite(b)]
    labels = [a for a, _ in pairs]
    if not pairs or all(labels) or not any(labels):
        return None
    fpr, tpr, _ = roc_curve(labels, [b for _, b in pairs])
    return {"fpr": [round(float(x), 4) for x in fpr], "tpr": [round(float(x), 4) for x in tpr]}


def assess(
    rows: Sequence[ManifestRow],
    catalogue: Catalogue,
    *,
    provenance: dict[str, Any] | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> Assessment:
    """Analyse every row with ``catalogue`` (the store's current versions) and measure the separation."""
    groups: dict[str, list[ManifestRow]] = {}
    exercises: dict[str, Exercise] = {}
    warnings: list[str] = []
    for r in rows:
        try:
            ex = catalogue.get(r.exercise)
        except UnknownExerciseError as exc:
            raise UnknownExerciseError(f"{r.path}: {exc}") from None
        exercises.setdefault(ex.key, ex)
        groups.setdefault(ex.key, []).append(r)
    done, total = 0, len(rows)
    out_ex: dict[str, dict[str, Any]] = {}
    out_reps: list[dict[str, Any]] = []

    def tick(k: int, n: int) -> None:
        if progress is not None:
            progress(done + k, total)

    for key in sorted(groups):
        reps = analyse_rows(groups[key], exercises[key], progress=tick)
        done += len(reps)
        warnings += [w for r in reps for w in r.warnings]
        out_ex[key] = exercise_summary(exercises[key], reps)
        out_reps += [rep_row(r) for r in reps]
    order = {id(r): k for k, r in enumerate(rows)}
    out_reps.sort(key=lambda d: order.get(d.pop("_row"), 0))
    return Assessment(out_ex, out_reps, warnings, provenance or {})


def rep_row(r: LabelledRep) -> dict[str, Any]:
    rep = r.rep
    return {
        "_row": id(r.row),
        "file": r.row.file,
        "exercise": r.row.exercise,
        "label": r.row.label,
        "subject": r.row.subject,
        "episode": r.row.episode,
        "score": None if rep is None or rep.score is None else round(rep.score, 4),
        "severity_deg": None if rep is None else round(rep.severity_deg, 2),
        "n_reps_found": r.n_reps_found,
        "n_violations": 0 if rep is None else len(rep.violations),
        "violations": [] if rep is None else sorted({v.check for v in rep.violations}),
        "side": None if rep is None else rep.side,
        "warnings": r.warnings,
    }


def exercise_summary(ex: Exercise, reps: Sequence[LabelledRep]) -> dict[str, Any]:
    y = [r.incorrect for r in reps]
    scores = [None if r.rep is None else r.rep.score for r in reps]
    severity = [None if r.rep is None else r.rep.severity_deg for r in reps]
    flagged = np.array([r.rep is not None and bool(r.rep.violations) for r in reps])
    pos = np.array(y, dtype=bool)
    checks = {}
    for check, margins in check_margins(reps, ex).items():
        judged = np.isfinite(margins)
        flags = judged & (margins > 0)
        checks[check] = {
            "auc": auc(list(pos[judged]), list(margins[judged])),
            "n_judged": int(judged.sum()),
            "sensitivity": _rate(flags[pos & judged]),
            "specificity": _rate(~flags[~pos & judged]),
        }
    return {
        "auc": auc(y, scores),
        "auc_severity": auc(y, severity),
        "n_correct": int((~pos).sum()),
        "n_incorrect": int(pos.sum()),
        "sensitivity": _rate(flagged[pos]),
        "specificity": _rate(~flagged[~pos]),
        "n_reps_not_one": int(sum(r.n_reps_found != 1 for r in reps)),
        "roc": roc_points(y, scores),
        "roc_severity": roc_points(y, severity),
        "checks": checks,
        "drivers": _drivers(reps, flagged),
        "scoring": None
        if ex.scoring is None
        else {"features": [f.to_json() for f in ex.scoring.features], "calibration": ex.scoring.calibration.get("id")},
    }


def _rate(flags: np.ndarray) -> float | None:
    return None if flags.size == 0 else round(float(flags.mean()), 4)


def _drivers(reps: Sequence[LabelledRep], flagged: np.ndarray) -> dict[str, list[dict[str, Any]]]:
    """The reps behind the errors: incorrect ones the checks missed (lowest scores first) and correct ones
    flagged (highest scores first), with the checks that fired."""

    def entry(r: LabelledRep) -> dict[str, Any]:
        return {
            "file": r.row.file,
            "subject": r.row.subject,
            "score": None if r.score is None else round(r.score, 3),
            "checks": [] if r.rep is None else sorted({v.check for v in r.rep.violations}),
        }

    def key(r: LabelledRep) -> float:
        return float("nan") if r.score is None else r.score

    missed = sorted((r for r, f in zip(reps, flagged, strict=True) if r.incorrect and not f), key=key)
    false_alarms = sorted(
        (r for r, f in zip(reps, flagged, strict=True) if not r.incorrect and f), key=key, reverse=True
    )
    return {
        "missed_incorrect": [entry(r) for r in missed[:N_DRIVERS]],
        "flagged_correct": [entry(r) for r in false_alarms[:N_DRIVERS]],
    }
