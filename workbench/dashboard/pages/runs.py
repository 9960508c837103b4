"""Runs page: analyse chosen clips in the background (progress, cancel), list past runs, compare two, and follow
batch jobs (``biocoach batch``, run by another process) through what their driver records in the store."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd
import panel as pn
import param

from workbench.dashboard import editing
from workbench.dashboard.state import AppState
from workbench.store.database import StoreError

POLL_MS = 250
BATCH_POLL_MS = 2000  # batch drivers write their counters at every flush; a slower poll keeps the file free


class RunsPage(pn.viewable.Viewer):
    """Batch runs of the pipeline with their provenance, and a side-by-side comparison of two runs."""

    state: AppState = param.ClassSelector(class_=AppState, doc="the session's state")  # type: ignore[assignment]

    def __init__(self, **params: Any):
        super().__init__(**params)
        db = self.state.database()
        clips = editing.candidate_clips(self.state)
        keys = editing.exercise_keys(db)
        self.clips = pn.widgets.MultiSelect(name="Clips", options=clips, value=clips[:1], size=6,
                                            sizing_mode="stretch_width")  # fmt: skip
        self.exercise = pn.widgets.Select(name="Exercise", options=keys,
                                          value=_default(self.state.exercise, keys))  # fmt: skip
        self.run_button = pn.widgets.Button(name="Run", button_type="primary")
        self.cancel_button = pn.widgets.Button(name="Cancel", button_type="warning", disabled=True)
        self.progress = pn.indicators.Progress(name="Progress", value=0, max=100, width=400)
        self.progress_text = pn.pane.Markdown("Idle.")
        self.table = pn.widgets.Tabulator(pd.DataFrame(), disabled=True, show_index=False, height=260,
                                          sizing_mode="stretch_width")  # fmt: skip
        self.refresh_button = pn.widgets.Button(name="Refresh")
        self.run_a = pn.widgets.Select(name="Run A", width=140)
        self.run_b = pn.widgets.Select(name="Run B", width=140)
        self.compare_button = pn.widgets.Button(name="Compare")
        self.comparison = pn.pane.Markdown("", sizing_mode="stretch_width")
        self._job: editing.BatchJob | None = None
        self._poll: Any = None
        self.batch_table = pn.widgets.Tabulator(pd.DataFrame(), disabled=True, show_index=False, height=200,
                                                sizing_mode="stretch_width")  # fmt: skip
        self.batch_progress = pn.indicators.Progress(name="Batch progress", value=0, max=100, width=400)
        self.batch_text = pn.pane.Markdown("No batch jobs yet.", sizing_mode="stretch_width")
        self.batch_refresh = pn.widgets.Button(name="Refresh batch jobs")
        self._batch_poll: Any = None
        self.batch_refresh.on_click(lambda e: self._load_batches())

        self.run_button.on_click(lambda e: self._start())
        self.cancel_button.on_click(lambda e: self._cancel())
        self.refresh_button.on_click(lambda e: self._load_runs())
        self.compare_button.on_click(lambda e: self._compare())
        self._load_runs()
        self._load_batches()

    def _load_runs(self) -> None:
        rows = editing.list_runs(self.state.database())
        self.table.value = pd.DataFrame(rows)
        ids = [r["id"] for r in rows]
        self.run_a.options, self.run_b.options = ids, ids
        if len(ids) >= 2:
            self.run_a.value, self.run_b.value = ids[1], ids[0]

    def _load_batches(self) -> None:
        """The batch jobs from the store; while one runs, poll until it stops."""
        from workbench.batch.progress import job_rows

        try:
            rows, errors = job_rows(self.state.database())
        except StoreError as exc:  # a driver holding the file for long: say so, try again at the next poll
            self.batch_text.object = f"Batch jobs unavailable: {exc}"
            return
        self.batch_table.value = pd.DataFrame(rows)
        if not rows:
            return
        latest = rows[0]
        finished = latest["done"] + latest["failed"]
        total = finished + latest["pending"]
        self.batch_progress.value = round(100 * finished / total) if total else 0
        rate = f"{latest['items_per_min']} items/min" if latest["items_per_min"] else "– items/min"
        lines = [f"**Batch job {latest['job']}** ({latest['name']}) {latest['status']}: {latest['done']} done "
                 f"({latest['already_done']} already done before), {latest['failed']} failed, {latest['pending']} "
                 f"pending · {rate} · ETA {latest['eta']}"]  # fmt: skip
        lines += [f"- failed {stage} after {n} tries: `{Path(path).name}`: {error[:160]}"
                  for path, stage, n, error in errors.get(latest["job"], [])]  # fmt: skip
        self.batch_text.object = "\n".join(lines)
        running = any(r["status"] == "running" for r in rows)
        if running and self._batch_poll is None:
            self._batch_poll = pn.state.add_periodic_callback(self._load_batches, period=BATCH_POLL_MS)
        elif not running and self._batch_poll is not None:
            self._batch_poll.stop()
            self._batch_poll = None

    def _start(self) -> None:
        if self._job is not None and not self._job.finished:
            return
        paths = list(self.clips.value)
        if not paths:
            self.progress_text.object = "Choose at least one clip."
            return
        refused = [p for p in paths if not self.state.allowed(p)]  # checked again: a link may have changed since
        if refused:
            self.progress_text.object = (f"Refused: {', '.join(Path(p).name for p in refused)} is outside the data "
                                         "folders or links out of them; nothing was run.")  # fmt: skip
            return
        self._job = editing.BatchJob(paths=paths, exercise=self.exercise.value, db=self.state.database())
        self.progress.value = 0
        self.progress_text.object = f"Running 0 / {len(paths)} …"
        self.run_button.disabled, self.cancel_button.disabled = True, False
        self._job.start()
        self._poll = pn.state.add_periodic_callback(self._update, period=POLL_MS)

    def _cancel(self) -> None:
        if self._job is not None:
            self._job.cancel()
            self.progress_text.object = "Cancelling after the current clip …"

    def _update(self) -> None:
        job = self._job
        if job is None:
            return
        self.progress.value = job.percent
        self.progress_text.object = f"Running {job.done} / {len(job.paths)} …"
        if not job.finished:
            return
        if self._poll is not None:
            self._poll.stop()
            self._poll = None
        state = "Cancelled" if job.cancelled else "Finished"
        errors = ("  \nErrors: " + "; ".join(job.errors)) if job.errors else ""
        self.progress_text.object = (f"{state}: {job.done} / {len(job.paths)} clips, runs "
                                     f"{', '.join(map(str, job.run_ids)) or 'none'}.{errors}")  # fmt: skip
        self.run_button.disabled, self.cancel_button.disabled = False, True
        self._load_runs()

    def _compare(self) -> None:
        if self.run_a.value is None or self.run_b.value is None:
            self.comparison.object = "Two runs are needed."
            return
        try:
            c = editing.compare_runs(self.state.database(), int(self.run_a.value), int(self.run_b.value))
        except StoreError as exc:
            self.comparison.object = f"Cannot compare: {exc}"
            return

        def listing(items: list[str]) -> str:
            return "\n".join(f"- {i}" for i in items) or "- (none)"

        prov = "\n".join(f"- {k}: {a} → {b}" for k, (a, b) in c.provenance.items()) or "- (same)"
        self.comparison.object = (
            f"#### Run {c.a} vs run {c.b}{' — same violations and feedback' if c.same else ''}\n"
            f"**Provenance that differs**\n{prov}\n\n"
            f"**Violations only in run {c.a}**\n{listing(c.violations_only_a)}\n\n"
            f"**Violations only in run {c.b}**\n{listing(c.violations_only_b)}\n\n"
            f"**Feedback only in run {c.a}**\n{listing(c.feedback_only_a)}\n\n"
            f"**Feedback only in run {c.b}**\n{listing(c.feedback_only_b)}"
        )

    def __panel__(self) -> pn.viewable.Viewable:
        return pn.Column(
            pn.pane.Markdown("### Run the pipeline"), pn.Row(self.clips, self.exercise),
            pn.Row(self.run_button, self.cancel_button), self.progress, self.progress_text,
            pn.pane.Markdown("### Past runs"), self.refresh_button, self.table,
            pn.pane.Markdown("### Compare two runs"), pn.Row(self.run_a, self.run_b, self.compare_button),
            self.comparison,
            pn.pane.Markdown("### Batch jobs (`biocoach batch`)"), self.batch_refresh, self.batch_progress,
            self.batch_text, self.batch_table, sizing_mode="stretch_width",
        )  # fmt: skip


def _default(wanted: str, keys: list[str]) -> str:
    return wanted if wanted in keys else keys[0]
