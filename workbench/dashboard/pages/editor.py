"""Reference and threshold editor: pick a constraint or a reference DoF, preview an edit on the open clip, save,
history, diff, revert; and calibrate the exercise from labelled repetitions, with its assessment before and after
(the work in workbench.dashboard.calibration_view, run in a background thread)."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import panel as pn
import param

from workbench.dashboard import calibration_view as cv
from workbench.dashboard import editing
from workbench.dashboard.state import AppState
from workbench.pipeline import resolve
from workbench.skeleton import dof_index
from workbench.store.database import ConflictError, StoreError, ValidationError


class EditorPage(pn.viewable.Viewer):
    """Edit one exercise's thresholds (as new store versions) and look at its reference's versions."""

    state: AppState = param.ClassSelector(class_=AppState, doc="the session's state")  # type: ignore[assignment]

    def __init__(self, **params: Any):
        super().__init__(**params)
        db = self.state.database()
        keys = editing.exercise_keys(db)
        self.exercise = pn.widgets.Select(name="Exercise", options=keys, value=_default(self.state.exercise, keys))
        self.constraint = pn.widgets.Select(name="Threshold")
        self.info = pn.pane.Markdown(sizing_mode="stretch_width")
        self.low = pn.widgets.FloatInput(name="Lower bound (deg)", width=140)
        self.low_open = pn.widgets.Checkbox(name="lower open")
        self.high = pn.widgets.FloatInput(name="Upper bound (deg)", width=140)
        self.high_open = pn.widgets.Checkbox(name="upper open")
        self.low_open.param.watch(lambda e: setattr(self.low, "disabled", bool(e.new)), "value")
        self.high_open.param.watch(lambda e: setattr(self.high, "disabled", bool(e.new)), "value")
        self.limit = pn.widgets.FloatInput(name="Limit (deg)", width=140)
        self.author = pn.widgets.TextInput(name="Author", value="expert", width=160)
        self.note = pn.widgets.TextInput(name="Note", placeholder="why this change", width=320)
        self.preview_button = pn.widgets.Button(name="Preview", button_type="primary")
        self.save_button = pn.widgets.Button(name="Save as new version", button_type="success")
        self.message = pn.pane.Alert("", alert_type="info", visible=False, sizing_mode="stretch_width")
        self.preview_summary = pn.pane.Markdown("", sizing_mode="stretch_width")
        self.without_table = _table(180)
        self.with_table = _table(180)
        self.history = _table(200)
        self.v1 = pn.widgets.Select(name="Diff from version", width=140)
        self.v2 = pn.widgets.Select(name="to version", width=140)
        self.diff = pn.pane.Markdown("", sizing_mode="stretch_width")
        self.revert_to = pn.widgets.Select(name="Revert to version", width=140)
        self.revert_button = pn.widgets.Button(name="Revert", button_type="warning")
        self.dof = pn.widgets.Select(name="Reference DoF", width=220)
        self.reference_plot = pn.pane.Plotly(sizing_mode="stretch_width", height=320)
        self.ref_revert_to = pn.widgets.Select(name="Revert reference to version", width=200)
        self.ref_revert_button = pn.widgets.Button(name="Revert reference", button_type="warning")
        self.ref_scale = pn.widgets.FloatInput(name="Scale factor", value=1.0, step=0.05, width=130)
        self.ref_offset = pn.widgets.FloatInput(name="Offset (deg)", value=0.0, step=1.0, width=130)
        self.ref_kp_on = pn.widgets.Checkbox(name="move key point")
        self.ref_kp_fraction = pn.widgets.FloatInput(
            name="Key point (cycle fraction)", value=0.5, step=0.05, start=0.0, end=1.0, width=170
        )
        self.ref_kp_value = pn.widgets.FloatInput(name="Key point value (deg)", value=0.0, step=1.0, width=160)
        self.ref_smooth = pn.widgets.FloatInput(name="Smoothing (samples)", value=0.0, step=0.5, start=0.0, width=150)
        self.ref_reps = pn.widgets.MultiChoice(
            name="Reps to build from (none chosen = reps without violations)", options={}, width=420
        )
        self.ref_clips = pn.widgets.MultiChoice(name="Overlay the cycles of other clips", options={}, width=420)
        self.ref_from_cycles = pn.widgets.Button(name="Set from the accepted cycles (open clip and chosen clips)")
        self.ref_note = pn.widgets.TextInput(
            name="Reference note", placeholder="why this change (the author is the one above)", width=420
        )
        self.ref_discard = pn.widgets.Button(name="Discard reference edits")
        self.ref_preview_button = pn.widgets.Button(name="Preview reference", button_type="primary")
        self.ref_save_button = pn.widgets.Button(name="Save reference as new version", button_type="success")
        self.ref_message = pn.pane.Alert("", alert_type="info", visible=False, sizing_mode="stretch_width")
        self.ref_summary = pn.pane.Markdown("", sizing_mode="stretch_width")
        self.ref_table = _table(160)
        self.ref_history = _table(160)
        self.ref_v1 = pn.widgets.Select(name="Reference diff from version", width=200)
        self.ref_v2 = pn.widgets.Select(name="to reference version", width=200)
        self.ref_diff = pn.pane.Markdown("", sizing_mode="stretch_width")
        self.cal_manifest = pn.widgets.TextInput(
            name="Labelled manifest (CSV)",
            sizing_mode="stretch_width",
            placeholder="manifest.csv inside the data folders (file,exercise,label,subject,episode,source)",
        )
        self.cal_synthetic = pn.widgets.Button(name="Make a synthetic labelled set", align="end")
        self.cal_assess = pn.widgets.Button(name="Assess", button_type="primary")
        self.cal_calibrate = pn.widgets.Button(name="Calibrate", button_type="success")
        self.cal_revert = pn.widgets.Button(name="Revert calibration", button_type="warning")
        self.cal_progress = pn.indicators.Progress(
            name="Calibration progress", value=0, max=100, width=320, visible=False
        )
        self.cal_status = pn.pane.Markdown("", sizing_mode="stretch_width")
        self.cal_message = pn.pane.Alert("", alert_type="info", visible=False, sizing_mode="stretch_width")
        self.cal_report = pn.pane.Markdown("", sizing_mode="stretch_width")
        self.cal_change = pn.pane.Markdown("", sizing_mode="stretch_width", css_classes=["cal-change"])
        self.cal_before_title = pn.pane.Markdown("", sizing_mode="stretch_width")
        self.cal_after_title = pn.pane.Markdown("", sizing_mode="stretch_width")
        self.cal_before_roc = pn.pane.Plotly(sizing_mode="stretch_width", height=320)
        self.cal_after_roc = pn.pane.Plotly(sizing_mode="stretch_width", height=320)
        self.cal_before_strip = pn.pane.Plotly(sizing_mode="stretch_width", height=320)
        self.cal_after_strip = pn.pane.Plotly(sizing_mode="stretch_width", height=320)
        self.cal_table = _table(240)
        self.cal_before = pn.Column(
            self.cal_before_title,
            self.cal_before_roc,
            self.cal_before_strip,
            sizing_mode="stretch_width",
            visible=False,
        )
        self.cal_after = pn.Column(
            self.cal_after_title, self.cal_after_roc, self.cal_after_strip, sizing_mode="stretch_width", visible=False
        )
        self.cal_table.visible = False
        self._cal_prev: cv.AssessmentView | None = None  # the assessment before the latest one (same manifest)
        self._cal_last: cv.AssessmentView | None = None  # the latest assessment
        self._cal_job: cv.Job | None = None
        self._cal_poll: Any = None
        self._cal_dirs: list[str] = []  # synthetic sets made in this session: readable like the data folders
        self._loaded: Any = None  # the ThresholdVersion the edit is based on
        self._ref_loaded: Any = None  # the ReferenceVersion the reference edit is based on
        self._ref_work: tuple[np.ndarray, np.ndarray] | None = None  # edits already applied (other DoFs, cycles)
        self._ref_exercise: str | None = None

        self.exercise.param.watch(lambda e: self._load_exercise(), "value")
        self.constraint.param.watch(lambda e: self._load_constraint(), "value")
        self.v1.param.watch(lambda e: self._show_diff(), "value")
        self.v2.param.watch(lambda e: self._show_diff(), "value")
        self.dof.param.watch(self._dof_changed, "value")
        for w in (
            self.ref_scale,
            self.ref_offset,
            self.ref_kp_on,
            self.ref_kp_fraction,
            self.ref_kp_value,
            self.ref_smooth,
        ):
            w.param.watch(lambda e: self._plot_reference(), "value")
        self.ref_clips.param.watch(lambda e: self._plot_reference(), "value")
        self.ref_v1.param.watch(lambda e: self._show_ref_diff(), "value")
        self.ref_v2.param.watch(lambda e: self._show_ref_diff(), "value")
        self.ref_from_cycles.on_click(lambda e: self._set_from_cycles())
        self.ref_discard.on_click(lambda e: self._load_reference(reset=True))
        self.ref_preview_button.on_click(lambda e: self._preview_reference())
        self.ref_save_button.on_click(lambda e: self._save_reference())
        self.state.param.watch(lambda e: self._clip_changed(), "result")
        self.preview_button.on_click(lambda e: self._preview())
        self.save_button.on_click(lambda e: self._save())
        self.revert_button.on_click(lambda e: self._revert())
        self.ref_revert_button.on_click(lambda e: self._revert_reference())
        self.cal_synthetic.on_click(lambda e: self._make_synthetic())
        self.cal_assess.on_click(lambda e: self._assess())
        self.cal_calibrate.on_click(lambda e: self._calibrate())
        self.cal_revert.on_click(lambda e: self._revert_calibration())
        self._load_exercise()

    # -------------------------------------------------------------------------------------- loading

    def _load_exercise(self) -> None:
        db = self.state.database()
        current = editing.current_thresholds(db, self.exercise.value)
        ids = [t.constraint_id for t in current]
        self.constraint.options = ids
        if self.constraint.value in ids:
            self._load_constraint()
        else:
            self.constraint.value = ids[0] if ids else None

        ex, _ = resolve(self.exercise.value, db)
        dofs = list(dict.fromkeys(c.dof for c in ex.constraints))
        if self._ref_exercise != self.exercise.value:
            self._ref_exercise = self.exercise.value
            self._load_reference(reset=True, plot=False)
        self.dof.options = dofs
        if self.dof.value in dofs:
            self._plot_reference()
        else:
            self.dof.value = dofs[0] if dofs else None

    def _load_constraint(self) -> None:
        if not self.constraint.value:
            return
        t = editing.get_threshold(self.state.database(), self.exercise.value, self.constraint.value)
        self._loaded = t
        spec = t.spec
        self.info.object = (
            f"**{spec.id}** — {spec.kind} check on `{spec.dof}`"
            + (f" at key frame `{spec.key_frame}`" if spec.key_frame else "")
            + f" ({spec.sidedness.replace('_', ' ')})  \n"
            f"Current version **{t.version}** by {t.author}: {t.note or '(no note)'}  \n"
            + editing.threshold_details(spec)
        )
        pair_field = self._pair_field()
        pair = getattr(spec, pair_field) if pair_field else None
        lo, hi = pair or (None, None)
        # An open end shows empty and greyed out, never as a bound of 0.
        self.low.value, self.low_open.value, self.low.disabled = lo, lo is None, lo is None
        self.high.value, self.high_open.value, self.high.disabled = hi, hi is None, hi is None
        self.limit.value = spec.max_std_deg if spec.kind == "stability" else spec.max_diff_deg
        is_pair = pair_field is not None
        for w in (self.low, self.low_open, self.high, self.high_open):
            w.visible = is_pair
        self.limit.visible = not is_pair
        self.preview_summary.object = ""
        self.with_table.value = pd.DataFrame()
        self.without_table.value = pd.DataFrame()
        self._load_history()

    def _pair_field(self) -> str | None:
        spec = self._loaded.spec
        if spec.kind in ("dynamic", "posture"):
            return "tolerance_deg" if spec.tolerance_deg is not None and spec.bounds_deg is None else "bounds_deg"
        return None

    def _load_history(self) -> None:
        rows = editing.threshold_history(self.state.database(), self.exercise.value, self.constraint.value)
        self.history.value = pd.DataFrame(rows)
        versions = [r["version"] for r in rows]
        self.v1.options, self.v2.options, self.revert_to.options = versions, versions, versions
        self.v1.value = versions[-2] if len(versions) > 1 else versions[0]
        self.v2.value = versions[-1]
        self.revert_to.value = self.v1.value
        self._show_diff()

    def _show_diff(self) -> None:
        if self.v1.value is None or self.v2.value is None:
            return
        changes = editing.threshold_diff(
            self.state.database(), self.exercise.value, self.constraint.value, self.v1.value, self.v2.value
        )
        self.diff.object = (
            "No differences."
            if not changes
            else "\n".join(f"- `{name}`: {a} → {b}" for name, (a, b) in changes.items())
        )

    # -------------------------------------------------------------------------------------- editing

    def _changes(self) -> dict[str, Any]:
        pair_field = self._pair_field()
        if pair_field is not None:
            lo = None if self.low_open.value else float(self.low.value or 0.0)
            hi = None if self.high_open.value else float(self.high.value or 0.0)
            return {pair_field: (lo, hi)}
        name = "max_std_deg" if self._loaded.spec.kind == "stability" else "max_diff_deg"
        return {name: float(self.limit.value or 0.0)}

    def _say(self, text: str, kind: Any = "info") -> None:
        self.message.object, self.message.alert_type, self.message.visible = text, kind, True

    def _preview(self) -> None:
        try:
            p = editing.preview(self.state, self.exercise.value, self.constraint.value, self._changes())
        except (ValueError, KeyError, StoreError) as exc:
            self._say(str(exc), "danger")
            return
        self.without_table.value = pd.DataFrame(editing.violation_rows(p.before))
        self.with_table.value = pd.DataFrame(editing.violation_rows(p.after))
        self.preview_summary.object = (
            f"Preview (not saved): **{len(p.before)}** violations without the edit, **{len(p.after)}** with it"
            + ("." if p.changed else " — no change.")
        )

    def _save(self) -> None:
        base = self._loaded.version
        try:
            saved = editing.save_threshold(
                self.state.database(),
                self.exercise.value,
                self.constraint.value,
                base_version=base,
                author=self.author.value or "",
                note=self.note.value or "",
                **self._changes(),
            )
        except ConflictError as exc:
            self._say(
                f"Not saved — someone changed this threshold since you loaded version {base}: {exc}. "
                "Reload it (choose it again) and redo your edit.",
                "danger",
            )
            return
        except (ValueError, StoreError) as exc:
            self._say(f"Not saved: {exc}", "danger")
            return
        self._say(f"Saved {saved.constraint_id} version {saved.version}.", "success")
        self._after_store_change()
        self._reassess(f"saving {saved.constraint_id} v{saved.version}")

    def _revert(self) -> None:
        try:
            back = editing.revert_threshold(
                self.state.database(),
                self.exercise.value,
                self.constraint.value,
                int(self.revert_to.value),
                author=self.author.value or "",
                note=self.note.value or "",
                base_version=self._loaded.version,
            )
        except StoreError as exc:
            self._say(f"Not reverted: {exc}", "danger")
            return
        self._say(
            f"Reverted {back.constraint_id} to version {self.revert_to.value} (now version {back.version}).", "success"
        )
        self._after_store_change()
        self._reassess(f"reverting {back.constraint_id} to v{self.revert_to.value}")

    def _after_store_change(self) -> None:
        self._load_constraint()
        if self.state.clip_path and self.state.exercise == self.exercise.value:
            self.state.open_clip(self.state.clip_path, self.state.exercise)  # the Clip page follows
            self._preview()

    # -------------------------------------------------------------------------------------- reference

    def _load_reference(self, reset: bool = False, plot: bool = True) -> None:
        """Load the store's current reference as the base of the edit (dropping unsaved edits when ``reset``)."""
        db = self.state.database()
        self._ref_loaded = editing.current_reference(db, self.exercise.value)
        if reset or self._ref_work is None:
            self._ref_work = None if self._ref_loaded is None else (self._ref_loaded.mean, self._ref_loaded.sd)
            self._reset_edit_widgets()
        rows = editing.reference_history(db, self.exercise.value)
        self.ref_history.value = pd.DataFrame(rows)
        versions = [r["version"] for r in rows]
        self.ref_v1.options, self.ref_v2.options = versions, versions
        if versions:
            self.ref_v1.value = versions[-2] if len(versions) > 1 else versions[0]
            self.ref_v2.value = versions[-1]
        self._show_ref_diff()
        self._load_rep_choices()
        self._load_clip_choices()
        if plot:
            self._plot_reference()

    def _reset_edit_widgets(self) -> None:
        self.ref_scale.value, self.ref_offset.value, self.ref_smooth.value = 1.0, 0.0, 0.0
        self.ref_kp_on.value = False

    def _load_rep_choices(self) -> None:
        result = self.state.result
        if result is None or self.state.exercise != self.exercise.value:
            self.ref_reps.options, self.ref_reps.value = {}, []
            return
        self.ref_reps.options = {
            f"rep {r.index + 1}" + (f" ({len(r.violations)} violations)" if r.violations else ""): r.index
            for r in result.analysis.reps
        }
        self.ref_reps.value = [v for v in self.ref_reps.value if v in self.ref_reps.options.values()]

    def _load_clip_choices(self) -> None:
        paths = editing.overlay_clip_choices(self.state)
        labels: dict[str, str] = {}
        for p in paths:
            short = f"{Path(p).parent.name}/{Path(p).name}"
            labels[p if short in labels else short] = p
        self.ref_clips.options = labels
        self.ref_clips.value = [v for v in self.ref_clips.value if v in paths]

    def _other_clips(self) -> list[str]:
        """The chosen clips other than the open one (its cycles are drawn, and used, already)."""
        open_path = self.state.clip_path if self.state.exercise == self.exercise.value else ""
        chosen = list(self.ref_clips.value or [])
        return [p for p in chosen if not open_path or Path(p).resolve() != Path(open_path).resolve()]

    def _clip_changed(self) -> None:
        self._load_rep_choices()
        self._plot_reference()

    def _dof_changed(self, event: Any) -> None:
        if event.old and self._ref_work is not None:  # keep what was done to the previous DoF
            self._ref_work = self._edited(event.old)
            self._reset_edit_widgets()
        self._plot_reference()

    def _edited(self, dof_name: str | None = None) -> tuple[np.ndarray, np.ndarray] | None:
        """The working reference with the controls' edit of one DoF applied (nothing saved)."""
        if self._ref_work is None:
            return None
        dof_name = dof_name or self.dof.value
        mean, sd = self._ref_work
        if not dof_name:
            return mean, sd
        factor = float(self.ref_scale.value if self.ref_scale.value is not None else 1.0)
        if factor != 1.0:
            mean, sd = editing.scale_reference(mean, sd, dof_name, factor)
        offset = float(self.ref_offset.value or 0.0)
        if offset:
            mean, sd = editing.offset_reference(mean, sd, dof_name, offset)
        if self.ref_kp_on.value:
            mean, sd = editing.set_key_point(
                mean, sd, dof_name, float(self.ref_kp_fraction.value or 0.0), float(self.ref_kp_value.value or 0.0)
            )
        sigma = float(self.ref_smooth.value or 0.0)
        if sigma > 0:
            mean, sd = editing.smooth_reference(mean, sd, sigma, dofs=[dof_name])
        return mean, sd

    def _is_edited(self) -> bool:
        edited, loaded = self._edited(), self._ref_loaded
        if edited is None or loaded is None:
            return False
        return not (np.array_equal(edited[0], loaded.mean) and np.array_equal(edited[1], loaded.sd))

    def _say_ref(self, text: str, kind: Any = "info") -> None:
        self.ref_message.object, self.ref_message.alert_type, self.ref_message.visible = text, kind, True

    def _plot_reference(self) -> None:
        import plotly.graph_objects as go

        if not self.dof.value:
            return

        i = dof_index(self.dof.value)
        curves = editing.reference_curves(self.state.database(), self.exercise.value, self.dof.value)
        fig = go.Figure()
        for c in curves:
            x = [100 * i / max(len(c.mean_deg) - 1, 1) for i in range(len(c.mean_deg))]
            upper, lower = list(c.mean_deg + c.sd_deg), list(c.mean_deg - c.sd_deg)
            if c.current:  # the envelope of the version the analysis uses
                fig.add_trace(
                    go.Scatter(
                        x=x + x[::-1],
                        y=upper + lower[::-1],
                        fill="toself",
                        line={"width": 0},
                        opacity=0.25,
                        name=f"v{c.version} ± SD",
                    )
                )
            name = f"v{c.version}" + (" (current)" if c.current else "")
            line = {"width": 3 if c.current else 1, "dash": "solid" if c.current else "dot"}
            fig.add_trace(go.Scatter(x=x, y=list(c.mean_deg), mode="lines", name=name, line=line))
        n_ref = self._ref_work[0].shape[1] if self._ref_work is not None else 100
        xs = [100 * k / max(n_ref - 1, 1) for k in range(n_ref)]
        result = self.state.result
        if result is not None and self.state.exercise == self.exercise.value:
            reps = result.analysis.reps
            chosen = set(self.ref_reps.value or [])
            side = self._ref_side()
            cycles = editing.rep_cycles(result.estimate.track.q, reps, n_ref, mirror_to=side)
            for r, cyc in zip([r for r in reps if r.end_frame > r.start_frame], cycles, strict=True):
                accepted = (r.index in chosen) if chosen else not r.violations
                fig.add_trace(
                    go.Scatter(
                        x=xs,
                        y=list(np.degrees(cyc[i])),
                        mode="lines",
                        name=f"clip rep {r.index + 1}" + ("" if accepted else " (not accepted)"),
                        line={"width": 1, "color": "#0072B2" if accepted else "#D55E00"},
                        opacity=0.7,
                    )
                )
        others = self._other_clips()
        if others:
            try:
                every = editing.cycles_of_clips(self.state, self.exercise.value, others, i, n_ref, accepted_only=False)
                used = editing.cycles_of_clips(self.state, self.exercise.value, others, i, n_ref)
            except Exception as exc:  # a clip that cannot be analysed is reported, the plot still drawn
                self._say_ref(f"Cycles of the chosen clips not shown: {exc}", "danger")
                every, used = {}, {}
            for j, (path, clip_curves) in enumerate(every.items()):
                colour = _CLIP_COLOURS[j % len(_CLIP_COLOURS)]
                name = f"{Path(path).name} ({len(used.get(path, []))} of {len(clip_curves)} reps accepted)"
                for n, cycle in enumerate(clip_curves):
                    fig.add_trace(
                        go.Scatter(
                            x=xs,
                            y=list(np.degrees(cycle)),
                            mode="lines",
                            name=name,
                            legendgroup=path,
                            showlegend=n == 0,
                            opacity=0.7,
                            line={"width": 1, "color": colour},
                        )
                    )
        edited = self._edited()
        if edited is not None and self._is_edited():
            m, sd = np.degrees(edited[0][i]), np.degrees(edited[1][i])
            fig.add_trace(
                go.Scatter(
                    x=xs + xs[::-1],
                    y=list(m + sd) + list((m - sd)[::-1]),
                    fill="toself",
                    line={"width": 0},
                    opacity=0.15,
                    name="edited ± SD",
                    fillcolor="rgba(0,158,115,0.4)",
                )
            )
            fig.add_trace(
                go.Scatter(
                    x=xs,
                    y=list(m),
                    mode="lines",
                    name="edited (unsaved)",
                    line={"width": 3, "color": "#009E73", "dash": "dash"},
                )
            )
        fig.update_layout(
            title=f"{self.exercise.value} reference: {self.dof.value}",
            xaxis_title="cycle (%)",
            yaxis_title="degrees",
            margin={"l": 50, "r": 10, "t": 40, "b": 40},
            height=320,
        )
        self.reference_plot.object = fig
        versions = [c.version for c in curves]
        self.ref_revert_to.options = versions
        if self.ref_revert_to.value not in versions:
            self.ref_revert_to.value = versions[0] if versions else None

    def _ref_side(self) -> str | None:
        ex, _ = resolve(self.exercise.value, self.state.database())
        return ex.reference_side

    def _set_from_cycles(self) -> None:
        result = self.state.result
        has_open = result is not None and self.state.exercise == self.exercise.value
        others = self._other_clips()
        if not has_open and not others:
            self._say_ref(
                f"Open a {self.exercise.value} clip on the Clip page, or choose clips to overlay, first.", "danger"
            )
            return
        n_ref = self._ref_work[0].shape[1] if self._ref_work is not None else 100
        fallback = None if self._ref_loaded is None else (self._ref_loaded.mean, self._ref_loaded.sd)
        reps: list[Any] = []
        extra = None
        if result is not None and has_open:
            reps = editing.accepted_reps(result.analysis, self.ref_reps.value)
            extra = editing.rep_cycles(result.estimate.track.q, reps, n_ref, mirror_to=self._ref_side())
        try:
            self._ref_work = editing.reference_from_clips(
                self.state, self.exercise.value, others, n_ref, extra=extra, fallback=fallback
            )
        except Exception as exc:  # no accepted rep, or a chosen clip that cannot be analysed
            self._say_ref(f"No reference built: {exc}", "danger")
            return
        self._reset_edit_widgets()
        used = [f"reps {', '.join(str(r.index + 1) for r in reps)} of the open clip"] if reps else []
        used += [f"the accepted reps of {len(others)} chosen clip(s)"] if others else []
        self._say_ref(f"Reference set (not saved) from the mean ± SD of {' and '.join(used)}.", "info")
        self._plot_reference()

    def _preview_reference(self) -> None:
        edited = self._edited()
        if edited is None:
            self._say_ref("This exercise has no reference to edit.", "danger")
            return
        try:
            p = editing.preview_reference(self.state, self.exercise.value, *edited)
        except (ValueError, KeyError, StoreError) as exc:
            self._say_ref(str(exc), "danger")
            return
        self.ref_table.value = pd.DataFrame(p.rows())
        mean_q = _mean_quality(p.quality_before), _mean_quality(p.quality_after)
        self.ref_summary.object = (
            f"Reference tried on the open clip (not saved): mean quality **{mean_q[0]}** now, **{mean_q[1]}** with "
            f"the edit; **{len(p.before)}** violations now, **{len(p.after)}** with the edit."
        )

    def _save_reference(self) -> None:
        edited = self._edited()
        if edited is None or self._ref_loaded is None:
            self._say_ref("This exercise has no reference to edit.", "danger")
            return
        base = self._ref_loaded.version
        if not self._is_edited():
            self._say_ref(f"Nothing to save: the edit equals version {base}.", "warning")
            return
        try:
            saved = editing.save_reference(
                self.state.database(),
                self.exercise.value,
                *edited,
                base_version=base,
                author=self.author.value or "",
                note=self.ref_note.value or "",
            )
        except ConflictError as exc:
            why = str(exc).rstrip(".")
            self._say_ref(
                f"Reference not saved — someone changed it since you loaded version {base}: {why}. "
                "Discard your edits to reload it, and redo them.",
                "danger",
            )
            return
        except (ValidationError, StoreError, ValueError) as exc:
            self._say_ref(f"Reference not saved: {exc}", "danger")
            return
        self._say_ref(f"Saved reference version {saved.version}.", "success")
        self._after_reference_change()
        self._reassess(f"saving reference v{saved.version}")

    def _revert_reference(self) -> None:
        try:
            v = editing.revert_reference(
                self.state.database(),
                self.exercise.value,
                int(self.ref_revert_to.value),
                author=self.author.value or "",
                note=self.ref_note.value or "",
            )
        except StoreError as exc:
            self._say_ref(f"Reference not reverted: {exc}", "danger")
            return
        self._say_ref(f"Reference reverted to version {self.ref_revert_to.value} (now version {v}).", "success")
        self._after_reference_change()
        self._reassess(f"reverting the reference to v{self.ref_revert_to.value}")

    def _after_reference_change(self) -> None:
        if self.state.clip_path and self.state.exercise == self.exercise.value:
            self.state.open_clip(self.state.clip_path, self.state.exercise)  # the Clip page follows
        self._load_reference(reset=True)
        self._preview_reference()

    # -------------------------------------------------------------------------------------- calibration

    def _say_cal(self, text: str, kind: Any = "info") -> None:
        self.cal_message.object, self.cal_message.alert_type, self.cal_message.visible = text, kind, True

    def _cal_allowed(self, path: Path) -> bool:
        return self.state.allowed(path) or cv.inside(path, self._cal_dirs)

    def _cal_rows(self) -> list[Any] | None:
        """The manifest's rows, or None after saying why it cannot be read."""
        try:
            return cv.read_allowed_manifest(self.cal_manifest.value or "", self._cal_allowed)
        except Exception as exc:  # a refused path or an unreadable manifest is shown, never a traceback
            self._say_cal(str(exc), "danger")
            return None

    def _cal_busy(self) -> bool:
        return self._cal_job is not None and not self._cal_job.finished

    def _cal_start(self, job: cv.Job, on_done: Any) -> None:
        """Run the job in a background thread and poll it (synchronously when no server runs the page)."""
        self._cal_job = job
        for b in (self.cal_synthetic, self.cal_assess, self.cal_calibrate, self.cal_revert):
            b.disabled = True
        self.cal_progress.param.update(visible=True, value=-1, active=True)
        self.cal_status.object = f"{job.name} …"
        self.cal_message.visible = False

        def poll() -> None:
            if job.total:
                self.cal_progress.value = job.percent
                self.cal_status.object = f"{job.name}: {job.phase} {job.done} / {job.total} …"
            if not job.finished:
                return
            if self._cal_poll is not None:
                self._cal_poll.stop()
                self._cal_poll = None
            for b in (self.cal_synthetic, self.cal_assess, self.cal_calibrate, self.cal_revert):
                b.disabled = False
            self.cal_progress.param.update(visible=False, active=False, value=0)
            self.cal_status.object = ""
            if job.error is not None:
                self._say_cal(f"{job.name} failed: {job.error}", "danger")
                return
            try:
                on_done(job.result)
            except Exception as exc:  # showing the result failed: say so rather than leave the page waiting
                self._say_cal(f"{job.name}: done, but the page could not show it: {exc}", "danger")

        if pn.state.curdoc is None or pn.state.curdoc.session_context is None:
            job.run()
            poll()
            return
        job.start()
        self._cal_poll = pn.state.add_periodic_callback(poll, period=_POLL_MS)

    def _make_synthetic(self) -> None:
        if self._cal_busy():
            return
        key, db = self.exercise.value, self.state.database()
        out = tempfile.mkdtemp(prefix=f"biocoach-labelled-{key}-")
        if not self._cal_dirs and pn.state.curdoc is not None and pn.state.curdoc.session_context is not None:
            pn.state.on_session_destroyed(self._remove_synthetic_sets)
        self._cal_dirs.append(out)

        def done(made: Any) -> None:
            self.cal_manifest.value = str(made.manifest)
            self._say_cal(
                f"Wrote a synthetic labelled set of {key}: {made.n_files} one-rep files (the incorrect "
                f"ones {made.shallow_deg:g}° shallower) and {made.manifest.name} in {out}. "
                "Press Assess.",
                "success",
            )

        self._cal_start(
            cv.Job("Making a synthetic labelled set", lambda job: cv.make_synthetic_set(db, key, out)), done
        )

    def _remove_synthetic_sets(self, session_context: Any) -> None:  # bokeh checks the parameter name
        for d in self._cal_dirs:
            shutil.rmtree(d, ignore_errors=True)

    def _cal_inputs(self) -> tuple[Any, str, Any, str] | None:
        """The manifest's rows, the exercise, the store and the manifest path; None when busy or refused."""
        if self._cal_busy():
            return None
        rows = self._cal_rows()
        if rows is None:
            return None
        return rows, self.exercise.value, self.state.database(), str(self.cal_manifest.value).strip()

    def _assess(self, label: str = "assessed") -> None:
        inputs = self._cal_inputs()
        if inputs is None:
            return
        rows, key, db, manifest = inputs

        def task(job: cv.Job) -> cv.AssessmentView:
            return cv.assess_exercise(db, rows, key, manifest=manifest, label=label, progress=job.progress("assessing"))

        self._cal_start(cv.Job("Assessing", task), self._show_assessment)

    def _reassess(self, what: str) -> None:
        """After the store changed (an edit saved or reverted), measure again what the last assessment measured."""
        last = self._cal_last
        if last is None or last.exercise != self.exercise.value or self._cal_busy():
            return
        if str(self.cal_manifest.value).strip() != last.manifest:
            return
        self._assess(label=f"after {what}")

    def _calibrate(self) -> None:
        inputs = self._cal_inputs()
        if inputs is None:
            return
        rows, key, db, manifest = inputs
        author, note = self.author.value or "", self.note.value or ""

        def task(job: cv.Job) -> cv.CalibrationOutcome:
            return cv.calibrate_then_assess(db, rows, key, manifest=manifest, author=author, note=note, job=job)

        self._cal_start(cv.Job("Calibrating", task), self._calibration_done)

    def _revert_calibration(self) -> None:
        if self._cal_busy():
            return
        manifest = str(self.cal_manifest.value).strip()
        rows = self._cal_rows() if manifest else None  # without a manifest: revert only, nothing to re-assess
        if manifest and rows is None:
            return
        key, db, author = self.exercise.value, self.state.database(), self.author.value or ""

        def task(job: cv.Job) -> cv.CalibrationOutcome:
            return cv.revert_then_assess(db, rows, key, manifest=manifest, author=author, job=job)

        self._cal_start(cv.Job("Reverting the calibration", task), self._calibration_done)

    def _calibration_done(self, outcome: cv.CalibrationOutcome) -> None:
        self.cal_report.object = f"```text\n{outcome.message}\n```"
        self._say_cal(outcome.message.splitlines()[0] + ".", "success")
        # the store's thresholds and reference changed: reload them (and re-analyse the open clip)
        self._load_constraint()
        if self.state.clip_path and self.state.exercise == self.exercise.value:
            self.state.open_clip(self.state.clip_path, self.state.exercise)
        self._load_reference(reset=True)
        if outcome.view is not None:
            self._show_assessment(outcome.view)

    def _show_assessment(self, view: cv.AssessmentView) -> None:
        before = self._cal_last if cv.comparable(self._cal_last, view) else None
        self._cal_prev, self._cal_last = before, view
        s = view.summary
        where = Path(view.manifest).name or "the manifest"
        lines = [
            f"**{view.exercise}** on `{where}`: {s['n_correct']} correct and {s['n_incorrect']} incorrect "
            f"repetitions ({s['n_reps_not_one']} files not found as exactly one rep)."
        ]
        if before is not None:
            lines.append(f"Before ({before.label}) → after ({view.label}):")
        lines.append(cv.change_text(before, view))
        if view.warnings:
            lines.append(f"{len(view.warnings)} warning(s), e.g.: {view.warnings[0]}")
        self.cal_change.object = "\n\n".join(lines)
        self.cal_after_title.object = f"#### {'After' if before is not None else 'Now'}: {view.label}"
        self.cal_after_roc.object = cv.roc_figure(view, f"ROC ({view.label})")
        self.cal_after_strip.object = cv.strip_figure(view, f"Per-rep score ({view.label})")
        self.cal_after.visible = True
        self.cal_before.visible = before is not None
        if before is not None:
            self.cal_before_title.object = f"#### Before: {before.label}"
            self.cal_before_roc.object = cv.roc_figure(before, f"ROC ({before.label})")
            self.cal_before_strip.object = cv.strip_figure(before, f"Per-rep score ({before.label})")
        table = pd.DataFrame(cv.comparison_rows(before, view), columns=["measure", "before", "after", "change"])
        for col in ("before", "after", "change"):
            table[col] = pd.to_numeric(table[col], errors="coerce").astype(float).round(3)
        self.cal_table.value = table
        self.cal_table.visible = True

    def _show_ref_diff(self) -> None:
        if self.ref_v1.value is None or self.ref_v2.value is None:
            self.ref_diff.object = ""
            return
        lines = editing.reference_diff_rows(
            self.state.database(), self.exercise.value, int(self.ref_v1.value), int(self.ref_v2.value)
        )
        self.ref_diff.object = "No differences." if not lines else "\n".join(f"- {line}" for line in lines)

    def __panel__(self) -> pn.viewable.Viewable:
        bounds = pn.Row(self.low, self.low_open, self.high, self.high_open, self.limit)
        edit = pn.Column(
            pn.pane.Markdown("### Threshold"),
            pn.Row(self.exercise, self.constraint),
            self.info,
            bounds,
            pn.Row(self.author, self.note),
            pn.Row(self.preview_button, self.save_button),
            self.message,
            self.preview_summary,
            pn.Row(
                pn.Column("**Without the edit**", self.without_table), pn.Column("**With the edit**", self.with_table)
            ),
            sizing_mode="stretch_width",
        )
        history = pn.Column(
            pn.pane.Markdown("### History"),
            self.history,
            pn.Row(self.v1, self.v2),
            self.diff,
            pn.Row(self.revert_to, self.revert_button),
            sizing_mode="stretch_width",
        )
        reference = pn.Column(
            pn.pane.Markdown("### Reference"),
            self.dof,
            self.reference_plot,
            pn.Row(self.ref_scale, self.ref_offset, self.ref_smooth),
            pn.Row(self.ref_kp_on, self.ref_kp_fraction, self.ref_kp_value),
            self.ref_clips,
            pn.Row(self.ref_reps, self.ref_from_cycles),
            self.ref_note,
            pn.Row(self.ref_preview_button, self.ref_save_button, self.ref_discard),
            self.ref_message,
            self.ref_summary,
            self.ref_table,
            pn.pane.Markdown("#### Reference history"),
            self.ref_history,
            pn.Row(self.ref_v1, self.ref_v2),
            self.ref_diff,
            pn.Row(self.ref_revert_to, self.ref_revert_button),
            sizing_mode="stretch_width",
        )
        calibration = pn.Column(
            pn.pane.Markdown(
                "### Calibrate from labelled data\n"
                "Assess how well the current judgments separate incorrect from correct repetitions of "
                "the exercise chosen above, calibrate its reference, bounds and score to them (new "
                "versions, author and note from above), and revert. Each new assessment is shown next "
                "to the previous one, also after a threshold or reference edit."
            ),
            pn.Row(self.cal_manifest, self.cal_synthetic, sizing_mode="stretch_width"),
            pn.Row(self.cal_assess, self.cal_calibrate, self.cal_revert),
            self.cal_progress,
            self.cal_status,
            self.cal_message,
            self.cal_change,
            pn.Row(self.cal_before, self.cal_after, sizing_mode="stretch_width"),
            self.cal_table,
            self.cal_report,
            sizing_mode="stretch_width",
        )
        return pn.Column(edit, history, reference, calibration, sizing_mode="stretch_width")


_POLL_MS = 250
_CLIP_COLOURS = ("#CC79A7", "#E69F00", "#56B4E9", "#F0E442", "#000000", "#999999")  # distinct per chosen clip


def _default(wanted: str, keys: list[str]) -> str:
    return wanted if wanted in keys else keys[0]


def _mean_quality(q: dict[int, float | None]) -> str:
    vals = [v for v in q.values() if v is not None]
    return f"{sum(vals) / len(vals):.3f}" if vals else "—"


def _table(height: int) -> pn.widgets.Tabulator:
    return pn.widgets.Tabulator(
        pd.DataFrame(), disabled=True, show_index=False, height=height, sizing_mode="stretch_width"
    )
