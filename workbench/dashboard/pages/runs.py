"""Runs page: rerun chosen clips (picked by hand or by a store query) through the batch machinery in the
background, each clip with its own exercise, with the stages, coach, device and engine chosen (progress per clip
and, in the app's engine, per frame; cancel; resumable); list past runs filtered by clip, exercise, author and
date; compare two runs of the same clip; and follow batch jobs (``biocoach batch``, run by another process)
through what their driver records in the store."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd
import panel as pn
import param

from workbench.batch.progress import job_rows
from workbench.dashboard import editing
from workbench.dashboard.state import AppState
from workbench.store.database import StoreError

POLL_MS = 250
BATCH_POLL_MS = 2000  # batch drivers write their counters at every flush; a slower poll keeps the file free
CLIP_COLUMNS = ("run", "clip", "exercise", "exercise_from", "path")


class RunsPage(pn.viewable.Viewer):
    """Rerun clips through the batch machinery (each with its own exercise), the runs with their provenance
    (filterable), a side-by-side comparison of two runs of a clip, and the batch jobs."""

    state: AppState = param.ClassSelector(class_=AppState, doc="the session's state")  # type: ignore[assignment]

    def __init__(self, **params: Any):
        super().__init__(**params)
        db = self.state.database()
        clips = editing.candidate_clips(self.state)
        self.keys = editing.exercise_keys(db)
        self._known: dict[str, str | None] = {}  # exercises a store query gave
        self.clips = pn.widgets.MultiSelect(
            name="Clips", options=clips, value=clips[:1], size=6, sizing_mode="stretch_width"
        )
        self.where = pn.widgets.TextInput(name="Store query (clips table)", placeholder="exercise = 'lunge'", width=320)
        self.where_button = pn.widgets.Button(name="Select from store")
        self.table = pn.widgets.Tabulator(
            pd.DataFrame(columns=list(CLIP_COLUMNS)),
            show_index=False,
            height=200,
            hidden_columns=["path"],
            sizing_mode="stretch_width",
            editors={
                "run": {"type": "tickCross"},
                "clip": None,
                "exercise_from": None,
                "exercise": {"type": "list", "values": self.keys},
            },
        )
        self.stages = pn.widgets.CheckBoxGroup(
            name="Stages", options=list(editing.RERUN_STAGES), value=["pose", "analysis"], inline=True
        )
        self.coach = pn.widgets.Select(name="Coach", options=["rule", "neural"], value="rule", width=110)
        cuda = editing.cuda_available()
        self.device = pn.widgets.Select(
            name="Device",
            options=["cpu", "cuda"],
            value="cpu",
            width=110,
            disabled_options=[] if cuda else ["cuda"],
            description="HSMR pose and the neural coach; cuda needs a GPU"
            + ("" if cuda else " (torch sees none here)"),
        )
        self.backend = pn.widgets.Select(
            name="Pose backend",
            options=["auto", "mediapipe", "hsmr"],
            value="auto",
            width=130,
            disabled_options=[] if cuda else ["hsmr"],
            description="auto: from the file; HSMR needs a GPU",
        )
        self.engine = pn.widgets.Select(name="Engine", options=list(editing.ENGINES), width=210)
        self.address = pn.widgets.TextInput(
            name="Ray address", placeholder="ray://head:10001 (empty: local Ray)", width=220
        )
        self.workers = pn.widgets.IntInput(name="Workers", value=2, start=1, end=64, width=90)
        self.author = pn.widgets.TextInput(name="Author", placeholder="your name", width=140)
        self.run_button = pn.widgets.Button(name="Run", button_type="primary")
        self.cancel_button = pn.widgets.Button(name="Cancel", button_type="warning", disabled=True)
        self.progress = pn.indicators.Progress(name="Progress", value=0, max=100, width=400)
        self.progress_text = pn.pane.Markdown("Idle.")
        self.results = pn.widgets.Tabulator(
            pd.DataFrame(), disabled=True, show_index=False, height=140, sizing_mode="stretch_width"
        )
        self.runs = pn.widgets.Tabulator(
            pd.DataFrame(),
            disabled=True,
            show_index=False,
            height=260,
            hidden_columns=["clip_hash"],
            sizing_mode="stretch_width",
        )
        self.f_clip = pn.widgets.TextInput(name="Clip contains", width=150)
        self.f_exercise = pn.widgets.Select(name="Exercise", options=["", *self.keys], value="", width=150)
        self.f_author = pn.widgets.TextInput(name="Author contains", width=150)
        self.f_since = pn.widgets.DatePicker(name="From", width=140)
        self.f_until = pn.widgets.DatePicker(name="To", width=140)
        self.refresh_button = pn.widgets.Button(name="Refresh")
        self.run_a = pn.widgets.Select(name="Run A", width=140)
        self.run_b = pn.widgets.Select(name="Run B (same clip)", width=160)
        self.compare_button = pn.widgets.Button(name="Compare")
        self.comparison = pn.pane.Markdown("", sizing_mode="stretch_width")
        self._rows: list[dict[str, Any]] = []
        self._job: editing.BatchRerun | None = None
        self._poll: Any = None
        self.batch_table = pn.widgets.Tabulator(
            pd.DataFrame(), disabled=True, show_index=False, height=200, sizing_mode="stretch_width"
        )
        self.batch_progress = pn.indicators.Progress(name="Batch progress", value=0, max=100, width=400)
        self.batch_text = pn.pane.Markdown("No batch jobs yet.", sizing_mode="stretch_width")
        self.batch_refresh = pn.widgets.Button(name="Refresh batch jobs")
        self._batch_poll: Any = None
        self.batch_refresh.on_click(lambda e: self._load_batches())

        self.clips.param.watch(lambda e: self._fill_table(), "value")
        self.where_button.on_click(lambda e: self._select_from_store())
        self.run_button.on_click(lambda e: self._start())
        self.cancel_button.on_click(lambda e: self._cancel())
        self.refresh_button.on_click(lambda e: self._load_runs())
        for w in (self.f_clip, self.f_exercise, self.f_author, self.f_since, self.f_until):
            w.param.watch(lambda e: self._show_runs(), "value")
        self.run_a.param.watch(lambda e: self._same_clip_choices(), "value")
        self.compare_button.on_click(lambda e: self._compare())
        self._fill_table()
        self._load_runs()
        self._load_batches()

    # ------------------------------------------------------------------------------------- what to run

    def _fill_table(self) -> None:
        """One row per chosen clip with its exercise; choices already made in the table are kept."""
        old = (
            {}
            if self.table.value is None or self.table.value.empty
            else {r["path"]: r for r in self.table.value.to_dict("records")}
        )
        rows = editing.clip_rows(self.state.database(), list(self.clips.value), self.keys, self._known)
        for r in rows:
            if r["path"] in old and old[r["path"]]["exercise"] in self.keys:
                r["run"], r["exercise"] = bool(old[r["path"]]["run"]), old[r["path"]]["exercise"]
                r["exercise_from"] = old[r["path"]]["exercise_from"]
        self.table.value = pd.DataFrame(rows, columns=list(CLIP_COLUMNS))

    def _select_from_store(self) -> None:
        where = (self.where.value or "").strip()
        if not where:
            self.progress_text.object = "Write a condition over the clips table first, e.g. `exercise = 'lunge'`."
            return
        try:
            found, left_out = editing.store_query_clips(self.state.database(), where, self.state.allowed)
        except (editing.BatchError, StoreError) as exc:
            self.progress_text.object = f"Store query refused: {' '.join(str(exc).split())[:300]}"
            return
        self._known.update(found)
        self.clips.options = list(dict.fromkeys([*self.clips.options, *found]))
        self.clips.value = list(found)
        skipped = f" ({len(left_out)} left out: missing or outside the data folders)" if left_out else ""
        self.progress_text.object = f"{len(found)} clip(s) selected from the store{skipped}."

    def _load_batches(self) -> None:
        """The batch jobs from the store; while one runs, poll until it stops."""
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
        lines = [
            f"**Batch job {latest['job']}** ({latest['name']}) {latest['status']}: {latest['done']} done "
            f"({latest['already_done']} already done before), {latest['failed']} failed, {latest['pending']} "
            f"pending · {rate} · ETA {latest['eta']}"
        ]
        lines += [
            f"- failed {stage} after {n} tries: `{Path(path).name}`: {error[:160]}"
            for path, stage, n, error in errors.get(latest["job"], [])
        ]
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
        rows = [] if self.table.value is None else self.table.value.to_dict("records")
        paths = [str(r["path"]) for r in rows if r.get("run", True)]
        refused = [p for p in paths if not self.state.allowed(p)]  # checked again: a link may have changed since
        if refused:
            self.progress_text.object = (
                f"Refused: {', '.join(Path(p).name for p in refused)} is outside the data "
                "folders or links out of them; nothing was run."
            )
            return
        try:
            clips = editing.clips_to_run(rows, self.keys)
        except ValueError as exc:
            self.progress_text.object = str(exc)
            return
        if not self.stages.value:
            self.progress_text.object = "Choose at least one stage."
            return
        self._job = editing.BatchRerun(
            clips=clips,
            db=self.state.database(),
            stages=list(self.stages.value),
            coach=self.coach.value,
            device=self.device.value,
            backend=self.backend.value,
            engine=editing.ENGINES[self.engine.value],
            workers=int(self.workers.value or 1),
            address=(self.address.value or "").strip() or None,
            author=(self.author.value or "").strip(),
        )
        self.progress.value = 0
        self.progress_text.object = f"Running 0 / {len(clips)} clips …"
        self.results.value = pd.DataFrame()
        self.run_button.disabled, self.cancel_button.disabled = True, False
        self._job.start()
        self._poll = pn.state.add_periodic_callback(self._update, period=POLL_MS)

    def _cancel(self) -> None:
        if self._job is not None:
            self._job.cancel()
            self.progress_text.object = "Cancelling after the current clip (the rest stays pending: Run resumes) …"

    def _update(self) -> None:
        job = self._job
        if job is None:
            return
        n = len(job.clips)
        self.progress.value = job.percent
        if not job.finished:
            now = f" · `{Path(job.current).name}`" if job.current else ""
            frames = f": {job.frames.text()}" if job.frames is not None else ""
            self.progress_text.object = f"Running {min(job.done, n)} / {n} clips{now}{frames}"
            return
        if self._poll is not None:
            self._poll.stop()
            self._poll = None
        rows = job.results()
        self.results.value = pd.DataFrame(rows)
        done = sum(1 for r in rows if r["status"] == "done")
        runs = [str(r["run"]) for r in rows if r["run"] is not None]
        errors = [f"{r['clip']}: {r['error']}" for r in rows if r["error"]]
        if job.error:
            errors.insert(0, job.error)
        state = "Cancelled" if job.cancelled else ("Failed" if job.error and not rows else "Finished")
        tail = ("  \nErrors: " + "; ".join(errors)) if errors else ""
        self.progress_text.object = (
            f"{state}: {done} / {n} clips, runs {', '.join(runs) or 'none'}"
            f"{f' (batch job {job.job_id})' if job.job_id else ''}.{tail}"
        )
        self.run_button.disabled, self.cancel_button.disabled = False, True
        self._load_runs()
        self._load_batches()

    # ------------------------------------------------------------------------------------- past runs

    def _load_runs(self) -> None:
        self._rows = editing.list_runs(self.state.database())
        self._show_runs()

    def _show_runs(self) -> None:
        rows = editing.filter_runs(
            self._rows,
            clip=self.f_clip.value or "",
            exercise=self.f_exercise.value or "",
            author=self.f_author.value or "",
            since=self.f_since.value,
            until=self.f_until.value,
        )
        self.runs.value = pd.DataFrame(rows)
        ids = [r["id"] for r in rows]
        self.run_a.options = ids
        pair = next(((a, b) for a in ids for b in editing.same_clip_runs(rows, a) if b < a), None)
        if pair is not None:  # the latest run that has an earlier one of its clip, and that one
            self.run_a.value = pair[0]
            self._same_clip_choices()
            self.run_b.value = pair[1]
        else:
            self._same_clip_choices()

    def _same_clip_choices(self) -> None:
        same = [i for i in editing.same_clip_runs(self._rows, self.run_a.value) if i != self.run_a.value]
        self.run_b.options = same
        if same and self.run_b.value not in same:
            self.run_b.value = same[0]

    def _compare(self) -> None:
        if self.run_a.value is None or self.run_b.value is None:
            self.comparison.object = "Two runs of the same clip are needed: run it again (Run above), then compare."
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
            pn.pane.Markdown("### Run the pipeline on clips (each with its own exercise)"),
            pn.Row(self.clips, pn.Column(self.where, self.where_button)),
            pn.pane.Markdown("Tick the clips to run; click an exercise to change it."),
            self.table,
            pn.Row(self.stages),
            pn.Row(self.coach, self.device, self.backend, self.engine, self.address, self.workers, self.author),
            pn.Row(self.run_button, self.cancel_button),
            self.progress,
            self.progress_text,
            self.results,
            pn.pane.Markdown("### Past runs"),
            pn.Row(self.f_clip, self.f_exercise, self.f_author, self.f_since, self.f_until, self.refresh_button),
            self.runs,
            pn.pane.Markdown("### Compare two runs of a clip"),
            pn.Row(self.run_a, self.run_b, self.compare_button),
            self.comparison,
            pn.pane.Markdown("### Batch jobs (`biocoach batch`)"),
            self.batch_refresh,
            self.batch_progress,
            self.batch_text,
            self.batch_table,
            sizing_mode="stretch_width",
        )
