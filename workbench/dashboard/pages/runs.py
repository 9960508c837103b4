"""Runs page: analyse chosen clips in the background (progress, cancel), list past runs, compare two."""

from __future__ import annotations

from typing import Any

import pandas as pd
import panel as pn
import param

from workbench.dashboard import editing
from workbench.dashboard.state import AppState
from workbench.store.database import StoreError

POLL_MS = 250


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

        self.run_button.on_click(lambda e: self._start())
        self.cancel_button.on_click(lambda e: self._cancel())
        self.refresh_button.on_click(lambda e: self._load_runs())
        self.compare_button.on_click(lambda e: self._compare())
        self._load_runs()

    def _load_runs(self) -> None:
        rows = editing.list_runs(self.state.database())
        self.table.value = pd.DataFrame(rows)
        ids = [r["id"] for r in rows]
        self.run_a.options, self.run_b.options = ids, ids
        if len(ids) >= 2:
            self.run_a.value, self.run_b.value = ids[1], ids[0]

    def _start(self) -> None:
        if self._job is not None and not self._job.finished:
            return
        paths = list(self.clips.value)
        if not paths:
            self.progress_text.object = "Choose at least one clip."
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
            self.comparison, sizing_mode="stretch_width",
        )  # fmt: skip


def _default(wanted: str, keys: list[str]) -> str:
    return wanted if wanted in keys else keys[0]
