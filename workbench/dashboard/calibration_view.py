"""Calibration from labelled data on the References & thresholds page, without the page: which manifests may be
read, the synthetic starter set, assessment / calibration / revert as one background job each, and the
figures and tables made from an assessment (ROC curves, per-rep score strip, before → after).

An :class:`AssessmentView` is one exercise's part of a ``biocoach.assessment/1`` document (its ``exercises``
entry and its ``reps`` rows) with what the store held when it was made; the page keeps the previous one so
an edit, a calibration or a revert shows as "before → after". Figures are Plotly; the notebook uses the same
functions.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from workbench.calibration.assess import assess
from workbench.calibration.calibrate import CalibrationError, calibrate, revert_calibration, rows_for
from workbench.calibration.synthetic import write_labelled_set
from workbench.data.labelled import ManifestRow, read_manifest
from workbench.store.database import Database
from workbench.store.seed import load_store_catalogue

Progress = Callable[[int, int], None]

CORRECT_COLOUR = "#0072B2"  # no violation
FLAGGED_COLOUR = "#D55E00"  # has a violation
SCORE_COLOUR = "#0072B2"
SEVERITY_COLOUR = "#009E73"


# ------------------------------------------------------------------------------------------ the assessment


@dataclass(frozen=True)
class AssessmentView:
    """One exercise's assessment (module doc); ``label`` says what the store held ("assessed", "after …")."""

    exercise: str
    manifest: str
    label: str
    summary: dict[str, Any]  # the assessment's ``exercises[exercise]``
    reps: list[dict[str, Any]]  # its ``reps`` rows
    provenance: dict[str, Any] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)

    def metric(self, name: str) -> float | None:
        value = self.summary.get(name)
        return None if value is None else float(value)

    @property
    def auc(self) -> float | None:
        return self.metric("auc")

    @property
    def auc_severity(self) -> float | None:
        return self.metric("auc_severity")


def fmt(x: float | None, nd: int = 3) -> str:
    return "n/a" if x is None else f"{x:.{nd}f}"


def view_of(doc: dict[str, Any], exercise: str, *, manifest: str = "", label: str = "assessed") -> AssessmentView:
    """The ``exercise`` part of an assessment document (``Assessment.to_json()``)."""
    if exercise not in doc["exercises"]:
        raise KeyError(f"the assessment has no exercise {exercise!r} (it has {', '.join(doc['exercises']) or 'none'})")
    return AssessmentView(
        exercise=exercise,
        manifest=manifest,
        label=label,
        summary=doc["exercises"][exercise],
        reps=list(doc["reps"]),
        provenance=dict(doc.get("provenance") or {}),
        warnings=list(doc.get("warnings") or []),
    )


def exercise_rows(rows: Sequence[ManifestRow], exercise: str, db: Database) -> list[ManifestRow]:
    """The manifest rows labelled with ``exercise`` (aliases and side variants included) by the store's rules."""
    return _rows_of(rows, exercise, load_store_catalogue(db).catalogue)


def _rows_of(rows: Sequence[ManifestRow], exercise: str, catalogue: Any) -> list[ManifestRow]:
    ex = catalogue.get(exercise)
    mine = rows_for(rows, ex, catalogue.get)
    if not mine:
        labelled = ", ".join(sorted({r.exercise for r in rows}))
        raise CalibrationError(f"no row of the manifest is labelled {ex.key!r} (it has: {labelled})")
    return mine


def assess_exercise(
    db: Database,
    rows: Sequence[ManifestRow],
    exercise: str,
    *,
    manifest: str = "",
    label: str = "assessed",
    progress: Progress | None = None,
) -> AssessmentView:
    """``assess`` of the exercise's rows with the store's current catalogue."""
    store_cat = load_store_catalogue(db)
    key = store_cat.catalogue.get(exercise).rule_file.stem
    mine = _rows_of(rows, key, store_cat.catalogue)
    prov = {"store": store_cat.database, "versions": store_cat.provenance(key), "manifest": manifest}
    result = assess(mine, store_cat.catalogue, provenance=prov, progress=progress)
    return view_of(result.to_json(), key, manifest=manifest, label=label)


# ------------------------------------------------------------------------------------------ manifests


class ManifestRefused(ValueError):
    """A manifest, or a file it lists, outside the folders the app may read."""


def read_allowed_manifest(path: str | Path, allowed: Callable[[Path], bool]) -> list[ManifestRow]:
    """The manifest's rows, refused when the manifest or any file it lists lies outside ``allowed`` folders."""
    text = str(path).strip()
    if not text:
        raise ManifestRefused("give the path of a labelled manifest (CSV), or make a synthetic labelled set")
    p = Path(text).expanduser()
    if not allowed(p):
        raise ManifestRefused(f"refused: {p} is outside the data folders")
    rows = read_manifest(p)
    outside = [r.file for r in rows if not allowed(r.path)]
    if outside:
        raise ManifestRefused(
            f"refused: {len(outside)} file(s) of {p.name} lie outside the data folders, e.g. {outside[0]}"
        )
    return rows


def inside(path: str | Path, roots: Sequence[str | Path]) -> bool:
    p = Path(path).resolve()
    return any(p == Path(r).resolve() or Path(r).resolve() in p.parents for r in roots)


def make_synthetic_set(db: Database, exercise: str, out: str | Path) -> Any:
    """``write_labelled_set`` for the store's current version of the exercise (a SyntheticSet)."""
    return write_labelled_set(load_store_catalogue(db).catalogue.get(exercise), out)


# ------------------------------------------------------------------------------------------ figures


def roc_figure(view: AssessmentView | None, title: str = "") -> Any:
    """ROC curves of the score and of severity_deg (AUC in the legend), with the chance diagonal."""
    import plotly.graph_objects as go

    fig = go.Figure()
    fig.add_trace(
        go.Scatter(
            x=[0, 1],
            y=[0, 1],
            mode="lines",
            name="chance",
            showlegend=False,
            line={"color": "#999999", "dash": "dot", "width": 1},
        )
    )
    if view is not None:
        for key, auc_key, name, colour in (
            ("roc", "auc", "score", SCORE_COLOUR),
            ("roc_severity", "auc_severity", "severity", SEVERITY_COLOUR),
        ):
            roc = view.summary.get(key)
            if roc:
                fig.add_trace(
                    go.Scatter(
                        x=roc["fpr"],
                        y=roc["tpr"],
                        mode="lines",
                        line_shape="hv",
                        name=f"{name} (AUC {fmt(view.metric(auc_key))})",
                        line={"color": colour, "width": 2, "dash": "solid" if key == "roc" else "dash"},
                    )
                )
        if not view.summary.get("roc"):
            fig.add_annotation(
                x=0.5, y=0.5, showarrow=False, text="no ROC: needs both correct and incorrect repetitions"
            )
    fig.update_layout(
        title=title or (view.label if view else ""),
        height=320,
        xaxis={"title": "false-alarm rate (correct reps)", "range": [0, 1]},
        yaxis={"title": "detection rate (incorrect reps)", "range": [0, 1.02]},
        legend={"x": 0.98, "y": 0.02, "xanchor": "right", "yanchor": "bottom"},
        margin={"l": 55, "r": 10, "t": 40, "b": 45},
    )
    return fig


def strip_points(view: AssessmentView, seed: int = 0) -> list[dict[str, Any]]:
    """One point per rep with a score: x = 0 (correct) or 1 (incorrect) with a little jitter."""
    rng = np.random.default_rng(seed)
    out = []
    for r in view.reps:
        if r.get("score") is None:
            continue
        k = 1 if r["label"] == "incorrect" else 0
        out.append(
            {
                "x": k + float(rng.uniform(-0.18, 0.18)),
                "score": float(r["score"]),
                "label": r["label"],
                "flagged": int(r.get("n_violations") or 0) > 0,
                "file": r["file"],
                "subject": r["subject"],
                "violations": ", ".join(r.get("violations") or []) or "none",
            }
        )
    return out


def strip_figure(view: AssessmentView | None, title: str = "") -> Any:
    """Per-rep score, correct vs incorrect, coloured by whether the rep has a violation at the stored bounds."""
    import plotly.graph_objects as go

    fig = go.Figure()
    points = strip_points(view) if view is not None else []
    for flagged, name, colour in ((False, "no violation", CORRECT_COLOUR), (True, "has a violation", FLAGGED_COLOUR)):
        pts = [p for p in points if p["flagged"] == flagged]
        fig.add_trace(
            go.Scatter(
                x=[p["x"] for p in pts],
                y=[p["score"] for p in pts],
                mode="markers",
                name=name,
                marker={"color": colour, "size": 7, "opacity": 0.8},
                customdata=[[p["file"], p["subject"], p["violations"]] for p in pts],
                hovertemplate="%{customdata[0]} (subject %{customdata[1]})<br>score %{y:.3f}"
                "<br>violations: %{customdata[2]}<extra></extra>",
            )
        )
    fig.update_layout(
        title=title or (f"{view.label}: per-rep score" if view else ""),
        height=320,
        xaxis={"tickvals": [0, 1], "ticktext": ["correct", "incorrect"], "range": [-0.5, 1.5]},
        yaxis={"title": "score (spreads from the reference)"},
        legend={"orientation": "h", "y": -0.15},
        margin={"l": 55, "r": 10, "t": 40, "b": 45},
    )
    return fig


# ------------------------------------------------------------------------------------------ before → after

COMPARED = (
    ("auc", "score AUC"),
    ("auc_severity", "severity AUC"),
    ("sensitivity", "sensitivity"),
    ("specificity", "specificity"),
)


def change_text(before: AssessmentView | None, after: AssessmentView) -> str:
    """One line: each headline figure, before → after (only the current value without a comparable before)."""
    if before is None:
        return " · ".join(f"{name} {fmt(after.metric(key))}" for key, name in COMPARED)
    return " · ".join(f"{name} {fmt(before.metric(key))} → {fmt(after.metric(key))}" for key, name in COMPARED)


def comparable(before: AssessmentView | None, after: AssessmentView) -> bool:
    """Whether ``before`` measured the same exercise on the same manifest (so the two can be compared)."""
    return before is not None and before.exercise == after.exercise and before.manifest == after.manifest


def comparison_rows(before: AssessmentView | None, after: AssessmentView) -> list[dict[str, Any]]:
    """Headline figures and each check's AUC / sensitivity / specificity, before and after."""
    rows: list[dict[str, Any]] = []

    def add(name: str, a: float | None, b: float | None) -> None:
        delta = None if a is None or b is None else round(b - a, 4)
        rows.append({"measure": name, "before": None if before is None else a, "after": b, "change": delta})

    for key, name in COMPARED:
        add(name, None if before is None else before.metric(key), after.metric(key))
    checks_b = {} if before is None else before.summary.get("checks", {})
    for check, c in after.summary.get("checks", {}).items():
        old = checks_b.get(check, {})
        for key in ("auc", "sensitivity", "specificity"):
            add(f"{check}: {key}", old.get(key), c.get(key))
    return rows


def rates_at(view: AssessmentView, threshold: float) -> tuple[float | None, float | None]:
    """(sensitivity, specificity) of "score ≥ threshold" as the rule that flags a rep (reps with a score)."""
    scores = [(r["label"] == "incorrect", float(r["score"])) for r in view.reps if r.get("score") is not None]
    pos = [s for inc, s in scores if inc]
    neg = [s for inc, s in scores if not inc]
    sens = None if not pos else sum(s >= threshold for s in pos) / len(pos)
    spec = None if not neg else sum(s < threshold for s in neg) / len(neg)
    return sens, spec


def score_range(view: AssessmentView) -> tuple[float, float]:
    scores = [float(r["score"]) for r in view.reps if r.get("score") is not None]
    return (min(scores), max(scores)) if scores else (0.0, 1.0)


# ------------------------------------------------------------------------------------------ jobs


@dataclass
class Job:
    """One piece of calibration work in a background thread; the page polls ``done``/``total``/``finished``
    and reads ``result`` or ``error`` when it has finished (the thread never touches a widget)."""

    name: str
    task: Callable[[Job], Any]
    phase: str = ""
    done: int = 0
    total: int = 0
    result: Any = None
    error: str | None = None
    finished: bool = False

    @property
    def percent(self) -> int:
        return round(100 * self.done / self.total) if self.total else 0

    def progress(self, phase: str) -> Progress:
        """A progress callback for assess/calibrate that reports under ``phase``."""

        def tick(done: int, total: int) -> None:
            self.phase, self.done, self.total = phase, done, total

        return tick

    def run(self) -> None:
        try:
            self.result = self.task(self)
        except Exception as exc:  # reported on the page, never a traceback in the log
            self.error = f"{type(exc).__name__}: {exc}" if not str(exc) else str(exc)
        finally:
            self.finished = True

    def start(self) -> threading.Thread:
        thread = threading.Thread(target=self.run, name=f"biocoach-{self.name}", daemon=True)
        thread.start()
        return thread


@dataclass
class CalibrationOutcome:
    """What a calibrate or revert job returns: the store report's message and the assessment that followed."""

    message: str
    view: AssessmentView | None


def calibrate_then_assess(
    db: Database,
    rows: Sequence[ManifestRow],
    exercise: str,
    *,
    manifest: str,
    author: str,
    note: str,
    job: Job | None = None,
) -> CalibrationOutcome:
    mine = exercise_rows(rows, exercise, db)
    dataset = ", ".join(sorted({r.source.split(" ")[0] for r in mine if r.source})[:3])  # as `biocoach calibrate`
    report = calibrate(
        db,
        exercise,
        mine,
        author=author,
        note=note,
        dataset=dataset,
        manifest=manifest,
        progress=None if job is None else job.progress("calibrating"),
    )
    view = assess_exercise(
        db,
        rows,
        exercise,
        manifest=manifest,
        label=f"after calibration {report.calibration_id}",
        progress=None if job is None else job.progress("assessing"),
    )
    return CalibrationOutcome(report.message(), view)


def current_calibration(db: Database, exercise: str) -> str | None:
    """The id of the calibration that wrote the exercise's current scoring, None when it is not calibrated."""
    scoring = load_store_catalogue(db).catalogue.get(exercise).scoring
    value = None if scoring is None else (scoring.calibration or {}).get("id")
    return str(value) if value else None


def revert_then_assess(
    db: Database,
    rows: Sequence[ManifestRow] | None,
    exercise: str,
    *,
    manifest: str,
    author: str,
    job: Job | None = None,
) -> CalibrationOutcome:
    if current_calibration(db, exercise) is None:
        raise CalibrationError(f"{exercise} is not calibrated: its current rules were not written by a calibration")
    report = revert_calibration(db, exercise, author=author)
    view = None
    if rows is not None:
        view = assess_exercise(
            db,
            rows,
            exercise,
            manifest=manifest,
            label=f"after reverting calibration {report.calibration_id}",
            progress=None if job is None else job.progress("assessing"),
        )
    return CalibrationOutcome(report.message(), view)
