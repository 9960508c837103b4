"""Evaluations page: evaluate feedback against ground truth, browse the stored results, open one, compare two.

**Evaluate** does what ``biocoach eval PRED --gt GT`` does (``workbench.eval.evaluate``), in a background thread,
and stores the result as it does (``EvaluationRepository.save``, named by the user or after the predictions):

* predictions: a run's feedback from the store, or a predictions file or folder (a submission JSON, an analysis
  JSON or a folder of them) inside the data folders the app allows;
* ground truth: a JSON ``[{mini_episode_id, feedbacks, feedback_timestamps}]`` or a QEVD-fit-coach split folder
  (or the QEVD folder with a split chosen), inside the data folders; for a run, left empty, the clip's own
  ``<clip>.feedback.json`` sidecar.

T-F-Score, METEOR and ROUGE-L always; BERTScore when ticked (it loads an encoder); the LLM judges stay with the CLI.
The run list follows the store: a run made after the page was built is offered (the page looks every 2 s whether
the store file changed, and only then reads the runs).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
import panel as pn
import param

from workbench import __version__
from workbench.config import load_config
from workbench.dashboard import editing
from workbench.dashboard.state import AppState
from workbench.errors import WorkbenchError
from workbench.eval.evaluate import Clip, EvalResult, EvalSettings, evaluate, load_ground_truth, load_predictions
from workbench.io.groundtruth import load_ground_truth as load_sidecar
from workbench.io.groundtruth import sidecar_path
from workbench.store.database import StoreError
from workbench.store.evaluations import EvaluationRepository

POLL_MS = 500
RUNS_POLL_MS = 2000  # how often the page looks whether the store file changed (a stat: no lock, no query)
RUN, FILE = "a run's feedback", "a predictions file or folder"


def _store_files(db: Any) -> tuple[Path, ...]:
    """The store file and its write-ahead log (a run's writes change one of them)."""
    path = Path(db.path)
    return path, path.with_name(path.name + ".wal")


def _stamp(files: tuple[Path, ...]) -> tuple[int, ...] | None:
    """When and how the files last changed (0 for one that does not exist)."""
    out = []
    for f in files:
        try:
            st = f.stat()
        except OSError:
            out += [0, 0]
        else:
            out += [st.st_mtime_ns, st.st_size]
    return tuple(out)


@dataclass(frozen=True)
class EvalInputs:
    predictions: dict[str, Clip]
    ground_truth: dict[str, Clip]
    dataset: str
    predictions_label: str
    ground_truth_label: str
    name: str


def run_choices(db: Any) -> dict[str, int]:
    """{label: run id} of the stored runs, newest first."""
    return {
        f"run {r['id']} · {r['clip']} · {r['exercise'] or '?'} · {r['started_at']}": int(r["id"])
        for r in editing.list_runs(db)
    }


def _inside(state: AppState, path: str | Path, what: str) -> Path:
    p = Path(path).expanduser()
    if not state.allowed(p):
        raise WorkbenchError(f"{what} {p} is outside the data folders ({', '.join(state.data_dirs) or 'none'})")
    if not p.exists():
        raise WorkbenchError(f"{what} {p}: no such file or folder")
    return p


def run_inputs(state: AppState, run_id: int, gt: str = "", split: str = "test") -> EvalInputs:
    """A run's stored feedback as the predictions; the ground truth from ``gt`` (a JSON or a split folder) or, when
    empty, the run's clip's ``<clip>.feedback.json`` (the clip registered in the store, or the session's open
    clip when the run is its analysis: pose files are not registered). With a file of several clips, the run's
    clip is the one whose id is the clip's file name (without suffix) or content hash."""
    db = state.database()
    with db.store() as store:
        run = store.runs.get(run_id)
        events = store.runs.feedback(run_id)
        clip = store.clips.get(run.clip_hash) if run.clip_hash else None
    clip_path = Path(clip.path) if clip is not None else None
    opened = state.result.analysis.provenance.get("run_id") if state.result is not None else None
    if clip_path is None and opened == run_id and state.clip_path:  # a pose file is not registered: the open clip
        clip_path = Path(state.clip_path)
    name = clip_path.name if clip_path is not None else (run.clip_hash or f"run-{run_id}")[:16]
    if gt.strip():
        gt_path = _inside(state, gt.strip(), "ground truth")
        dataset, truth = load_ground_truth(gt_path, split)
        ids = [
            cid
            for cid in (clip_path.stem if clip_path else None, clip_path.name if clip_path else None, run.clip_hash)
            if cid
        ]
        cid = next((c for c in ids if c in truth), next(iter(truth)) if len(truth) == 1 else None)
        if cid is None:
            raise WorkbenchError(
                f"run {run_id}'s clip ({name}) is not in {gt_path.name}: expected a ground-truth "
                f"id {' or '.join(ids[:2])}, got {', '.join(sorted(truth)[:5])}"
            )
        gt_label = str(gt_path)
        truth = {cid: truth[cid]}
    else:
        if clip_path is None:
            raise WorkbenchError(
                f"run {run_id}'s clip is not registered in the store (a pose file): give a "
                "ground-truth file, or open the clip on the Clip page first"
            )
        side = sidecar_path(clip_path)
        if not state.allowed(side):
            raise WorkbenchError(f"{side} is outside the data folders ({', '.join(state.data_dirs) or 'none'})")
        events_gt = load_sidecar(clip_path)
        if events_gt is None:
            raise WorkbenchError(
                f"run {run_id}: no ground truth; expected {side.name} beside the clip, or a ground-truth file"
            )
        cid, dataset, gt_label = name, "clip sidecar", str(side)
        truth = {cid: Clip(cid, tuple(e.text for e in events_gt), tuple(e.t_s for e in events_gt), run.exercise)}
    pred = Clip(cid, tuple(e.text for e in events), tuple(float(e.t_s or 0.0) for e in events))
    return EvalInputs({cid: pred}, truth, dataset, f"run {run_id} ({name})", gt_label, f"run {run_id} {name}")


def file_inputs(state: AppState, predictions: str, gt: str, split: str = "test") -> EvalInputs:
    """A predictions file or folder against a ground-truth file or split folder, both inside the data folders."""
    if not predictions.strip() or not gt.strip():
        raise WorkbenchError("give both a predictions file (or folder) and a ground-truth file (or split folder)")
    pred_path = _inside(state, predictions.strip(), "predictions")
    gt_path = _inside(state, gt.strip(), "ground truth")
    dataset, truth = load_ground_truth(gt_path, split)
    return EvalInputs(load_predictions(pred_path), truth, dataset, str(pred_path), str(gt_path), pred_path.name)


def evaluate_and_store(
    db: Any, inputs: EvalInputs, *, name: str = "", bertscore: bool = False, progress: Any = None
) -> tuple[int, EvalResult]:
    """``evaluate`` as ``biocoach eval`` runs it (no judges), stored as it stores it; (evaluation id, result)."""
    settings = EvalSettings(text_metrics=True, bertscore=bertscore)
    result = evaluate(
        inputs.predictions,
        inputs.ground_truth,
        settings=settings,
        config=load_config(),
        dataset=inputs.dataset,
        predictions_label=inputs.predictions_label,
        ground_truth_label=inputs.ground_truth_label,
        progress=progress,
    )
    with db.session() as s:
        eid = EvaluationRepository(s).save(result.to_json(), name=name.strip() or inputs.name, code_version=__version__)
    return eid, result


class EvalJob:
    """Reading the inputs, evaluating and storing, in a background thread; ``message`` says how far it got."""

    def __init__(
        self,
        state: AppState,
        source: str,
        run_id: int | None,
        predictions: str,
        gt: str,
        split: str,
        name: str,
        bertscore: bool,
    ):
        self.state, self.source, self.run_id, self.predictions = state, source, run_id, predictions
        self.gt, self.split, self.name, self.bertscore = gt, split, name, bertscore
        self.message = "Evaluation: reading the inputs …"
        self.evaluation_id: int | None = None
        self.finished = False

    def say(self, msg: str) -> None:
        self.message = f"Evaluation: {msg}"

    def run(self) -> None:
        try:
            if self.source == RUN:
                if self.run_id is None:
                    raise WorkbenchError("choose a run first")
                inputs = run_inputs(self.state, self.run_id, self.gt, self.split)
            else:
                inputs = file_inputs(self.state, self.predictions, self.gt, self.split)
            self.say(f"T-F-Score on {len(inputs.ground_truth)} clip(s) …")
            eid, result = evaluate_and_store(
                self.state.database(), inputs, name=self.name, bertscore=self.bertscore, progress=self.say
            )
            self.evaluation_id = eid
            warnings = list(result.warnings)
            if self.source == RUN and not any(c.texts for c in inputs.predictions.values()):
                warnings.append(  # a Runs-page run keeps its coaching in the batch job, not in the run's feedback
                    f"run {self.run_id} stored no feedback (a run of the Runs page keeps its coaching stage's "
                    "feedback in its batch job): analyse the clip on the Clip page, or evaluate a predictions file"
                )
            notes = "".join(f" Note: {w}." for w in warnings)
            self.message = (
                f"Stored as evaluation {eid}: T-F-Score {result.summary['t_f_score']:.3f}, "
                f"{result.summary['n_matched']} of {result.summary['n_gt']} ground-truth lines matched."
                f"{notes}"
            )
        except Exception as exc:  # one line on the page, never a traceback
            self.message = f"Evaluation failed: {' '.join(f'{type(exc).__name__}: {exc}'.split())[:300]}"
        finally:
            self.finished = True

    def start(self) -> None:
        threading.Thread(target=self.run, name="biocoach-evaluate", daemon=True).start()


class EvaluationsPage(pn.viewable.Viewer):
    """Stored evaluations with the models that scored them; one evaluation's clips; two side by side."""

    state: AppState = param.ClassSelector(class_=AppState, doc="the session's state")  # type: ignore[assignment]

    def __init__(self, **params: Any):
        super().__init__(**params)
        self.table = pn.widgets.Tabulator(
            pd.DataFrame(), disabled=True, show_index=False, height=240, sizing_mode="stretch_width"
        )
        self.refresh_button = pn.widgets.Button(name="Refresh evaluations")
        self.open_select = pn.widgets.Select(name="Evaluation", width=160)
        self.open_button = pn.widgets.Button(name="Show clips")
        self.clips = pn.widgets.Tabulator(
            pd.DataFrame(), disabled=True, show_index=False, height=260, sizing_mode="stretch_width"
        )
        self.detail = pn.pane.Markdown("", sizing_mode="stretch_width")
        self.eval_a = pn.widgets.Select(name="Evaluation A", width=160)
        self.eval_b = pn.widgets.Select(name="Evaluation B", width=160)
        self.compare_button = pn.widgets.Button(name="Compare evaluations")
        self.comparison = pn.widgets.Tabulator(
            pd.DataFrame(), disabled=True, show_index=False, height=300, sizing_mode="stretch_width"
        )
        self.message = pn.pane.Markdown("", sizing_mode="stretch_width")
        self.source = pn.widgets.RadioButtonGroup(name="Predictions", options=[RUN, FILE], value=RUN)
        self.run_pick = pn.widgets.Select(name="Run", options={}, width=420)
        self.pred_path = pn.widgets.TextInput(
            name="Predictions file or folder",
            width=420,
            placeholder="a submission JSON, an analysis JSON or a folder of them",
        )
        self.gt_path = pn.widgets.TextInput(
            name="Ground truth (file or split folder)",
            width=420,
            placeholder="for a run, empty: the clip's <clip>.feedback.json",
        )
        self.split = pn.widgets.Select(name="Split", options=["test", "train"], value="test", width=100)
        self.eval_name = pn.widgets.TextInput(name="Name", width=200, placeholder="default: the predictions")
        self.bertscore = pn.widgets.Checkbox(name="BERTScore (loads an encoder)")
        self.evaluate_button = pn.widgets.Button(name="Evaluate", button_type="primary")
        self.eval_text = pn.pane.Markdown("", sizing_mode="stretch_width")
        self._job: EvalJob | None = None
        self._poll: Any = None
        self.evaluate_button.on_click(lambda e: (self.start_evaluation(), None)[1])
        self.refresh_button.on_click(lambda e: self._load())
        self.open_button.on_click(lambda e: self._open())
        self.compare_button.on_click(lambda e: self._compare())
        self._load()
        # A run made after the page was built (the Runs page, the Clip page, `biocoach` in another process) must be
        # offered without a reload: the run list follows the store file, re-read only when the file changed.
        self._stamp = _stamp(self._store_files)
        if pn.state.curdoc is not None:  # a served session (not a script or a test building the page)
            pn.state.add_periodic_callback(self._follow_runs, period=RUNS_POLL_MS)

    def _repo(self) -> Any:
        return EvaluationRepository

    def _follow_runs(self) -> None:
        """Offer the store's current runs when its file changed since the last look (the choice is kept)."""
        stamp = _stamp(self._store_files)
        if stamp == self._stamp:
            return
        self._stamp = stamp
        try:
            choices = run_choices(self.state.database())
        except Exception:  # busy or changing: the next change tries again; Refresh evaluations says what is wrong
            self._stamp = None
            return
        if choices != self.run_pick.options:
            self.run_pick.options = choices

    def start_evaluation(self) -> EvalJob | None:
        """Evaluate the chosen predictions against the chosen ground truth in a background thread."""
        if self._job is not None and not self._job.finished:
            return None
        run_id = self.run_pick.value
        self._job = EvalJob(
            self.state,
            self.source.value,
            None if run_id is None else int(run_id),
            self.pred_path.value or "",
            self.gt_path.value or "",
            self.split.value,
            self.eval_name.value or "",
            bool(self.bertscore.value),
        )
        self.eval_text.object = self._job.message
        self.evaluate_button.disabled = True
        self._job.start()
        if self._poll is None:
            self._poll = pn.state.add_periodic_callback(self._update, period=POLL_MS)
        return self._job

    def _update(self) -> None:
        job = self._job
        if job is None:
            return
        self.eval_text.object = job.message
        if not job.finished:
            return
        if self._poll is not None:
            self._poll.stop()
            self._poll = None
        self.evaluate_button.disabled = False
        self._load()
        if job.evaluation_id is not None:
            self.open_select.value = job.evaluation_id
            self._open()

    def _load(self) -> None:
        db = self.state.database()
        self._store_files = _store_files(db)
        self.run_pick.options = run_choices(db)
        with db.session() as s:
            rows = [e.row() for e in self._repo()(s).all()]
        self.table.value = pd.DataFrame(rows)
        ids = [r["id"] for r in rows]
        self.open_select.options = ids
        self.eval_a.options, self.eval_b.options = ids, ids
        if ids:
            self.open_select.value = ids[0]
        if len(ids) >= 2:
            self.eval_a.value, self.eval_b.value = ids[1], ids[0]
        self.message.object = (
            f"{len(ids)} stored evaluation(s)."
            if ids
            else (
                "No evaluations yet: pick a run (or a predictions file) and its ground truth above and press "
                "Evaluate, or run `biocoach eval PRED --gt GT`."
            )
        )

    def _open(self) -> None:
        if self.open_select.value is None:
            return
        db = self.state.database()
        try:
            with db.session() as s:
                ev = self._repo()(s).get(int(self.open_select.value))
        except StoreError as exc:
            self.detail.object = f"Cannot open: {exc}"
            return
        self.clips.value = pd.DataFrame(
            [
                {
                    k: c.get(k)
                    for k in (
                        "clip_id",
                        "exercise",
                        "n_gt",
                        "n_pred",
                        "matched_gt",
                        "matched_pred",
                        "t_f_score",
                        "meteor",
                        "rouge_l",
                        "bertscore",
                    )
                }
                for c in ev.clips
            ]
        )
        models = "\n".join(f"- {k}: {v}" for k, v in ev.summary.models.items()) or "- (none)"
        self.detail.object = (
            f"#### Evaluation {ev.summary.id}: {ev.summary.name}\n"
            f"{ev.summary.dataset} — T-F-Score {ev.summary.t_f_score:.3f}, "
            f"{ev.summary.n_matched} of {ev.summary.n_gt} ground-truth lines matched\n\n"
            f"**Scored by**\n{models}"
        )

    def _compare(self) -> None:
        if self.eval_a.value is None or self.eval_b.value is None:
            self.message.object = "Two evaluations are needed."
            return
        db = self.state.database()
        try:
            with db.session() as s:
                rows = self._repo()(s).compare(int(self.eval_a.value), int(self.eval_b.value))
        except StoreError as exc:
            self.message.object = f"Cannot compare: {exc}"
            return
        self.comparison.value = pd.DataFrame(rows)
        flagged = [r["metric"] for r in rows if not r["comparable"] and (r["A"] is not None or r["B"] is not None)]
        self.message.object = f"Evaluation {self.eval_a.value} vs {self.eval_b.value}" + (
            f" — not comparable (different scorers): {', '.join(flagged)}" if flagged else " — same scorers"
        )

    def __panel__(self) -> pn.viewable.Viewable:
        return pn.Column(
            pn.pane.Markdown("### Evaluate feedback against ground truth"),
            self.source,
            pn.Row(self.run_pick, self.pred_path),
            pn.Row(self.gt_path, self.split),
            pn.Row(self.eval_name, self.bertscore, self.evaluate_button),
            self.eval_text,
            pn.pane.Markdown("### Stored evaluations"),
            self.refresh_button,
            self.message,
            self.table,
            pn.pane.Markdown("### One evaluation"),
            pn.Row(self.open_select, self.open_button),
            self.detail,
            self.clips,
            pn.pane.Markdown("### Compare two evaluations"),
            pn.Row(self.eval_a, self.eval_b, self.compare_button),
            self.comparison,
            sizing_mode="stretch_width",
        )
