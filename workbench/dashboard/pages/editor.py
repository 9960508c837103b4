"""Reference and threshold editor: pick a constraint, preview an edit on the open clip, save, history, revert."""

from __future__ import annotations

from typing import Any

import pandas as pd
import panel as pn
import param

from workbench.dashboard import editing
from workbench.dashboard.state import AppState
from workbench.store.database import ConflictError, StoreError


class EditorPage(pn.viewable.Viewer):
    """Edit one exercise's thresholds (as new store versions) and look at its reference's versions."""

    state: AppState = param.ClassSelector(class_=AppState, doc="the session's state")  # type: ignore[assignment]

    def __init__(self, **params: Any):
        super().__init__(**params)
        db = self.state.database()
        keys = editing.exercise_keys(db)
        self.exercise = pn.widgets.Select(name="Exercise", options=keys,
                                          value=_default(self.state.exercise, keys))  # fmt: skip
        self.constraint = pn.widgets.Select(name="Threshold")
        self.info = pn.pane.Markdown(sizing_mode="stretch_width")
        self.low = pn.widgets.FloatInput(name="Lower bound (deg)", width=140)
        self.low_open = pn.widgets.Checkbox(name="lower open")
        self.high = pn.widgets.FloatInput(name="Upper bound (deg)", width=140)
        self.high_open = pn.widgets.Checkbox(name="upper open")
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
        self._loaded: Any = None  # the ThresholdVersion the edit is based on

        self.exercise.param.watch(lambda e: self._load_exercise(), "value")
        self.constraint.param.watch(lambda e: self._load_constraint(), "value")
        self.v1.param.watch(lambda e: self._show_diff(), "value")
        self.v2.param.watch(lambda e: self._show_diff(), "value")
        self.dof.param.watch(lambda e: self._plot_reference(), "value")
        self.preview_button.on_click(lambda e: self._preview())
        self.save_button.on_click(lambda e: self._save())
        self.revert_button.on_click(lambda e: self._revert())
        self.ref_revert_button.on_click(lambda e: self._revert_reference())
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
        from workbench.pipeline import resolve

        ex, _ = resolve(self.exercise.value, db)
        dofs = list(dict.fromkeys(c.dof for c in ex.constraints))
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
            f"Bounds {editing.format_bounds(spec.bounds_deg)}, tolerance {editing.format_bounds(spec.tolerance_deg)}, "
            f"max std {spec.max_std_deg}, max diff {spec.max_diff_deg}"
        )
        pair_field = self._pair_field()
        pair = getattr(spec, pair_field) if pair_field else None
        lo, hi = pair or (None, None)
        self.low.value, self.low_open.value = (lo if lo is not None else 0.0), lo is None
        self.high.value, self.high_open.value = (hi if hi is not None else 0.0), hi is None
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
        changes = editing.threshold_diff(self.state.database(), self.exercise.value, self.constraint.value,
                                         self.v1.value, self.v2.value)  # fmt: skip
        self.diff.object = ("No differences." if not changes else "\n".join(
            f"- `{name}`: {a} → {b}" for name, (a, b) in changes.items()))  # fmt: skip

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
            saved = editing.save_threshold(self.state.database(), self.exercise.value, self.constraint.value,
                                           base_version=base, author=self.author.value or "",
                                           note=self.note.value or "", **self._changes())  # fmt: skip
        except ConflictError as exc:
            self._say(f"Not saved — someone changed this threshold since you loaded version {base}: {exc}. "
                      "Reload it (choose it again) and redo your edit.", "danger")  # fmt: skip
            return
        except (ValueError, StoreError) as exc:
            self._say(f"Not saved: {exc}", "danger")
            return
        self._say(f"Saved {saved.constraint_id} version {saved.version}.", "success")
        self._after_store_change()

    def _revert(self) -> None:
        try:
            back = editing.revert_threshold(self.state.database(), self.exercise.value, self.constraint.value,
                                            int(self.revert_to.value), author=self.author.value or "",
                                            note=self.note.value or "", base_version=self._loaded.version)  # fmt: skip
        except StoreError as exc:
            self._say(f"Not reverted: {exc}", "danger")
            return
        self._say(f"Reverted {back.constraint_id} to version {self.revert_to.value} (now version {back.version}).",
                  "success")  # fmt: skip
        self._after_store_change()

    def _after_store_change(self) -> None:
        self._load_constraint()
        if self.state.clip_path and self.state.exercise == self.exercise.value:
            self.state.open_clip(self.state.clip_path, self.state.exercise)  # the Clip page follows
            self._preview()

    # -------------------------------------------------------------------------------------- reference

    def _plot_reference(self) -> None:
        import plotly.graph_objects as go

        if not self.dof.value:
            return
        curves = editing.reference_curves(self.state.database(), self.exercise.value, self.dof.value)
        fig = go.Figure()
        for c in curves:
            x = [100 * i / max(len(c.mean_deg) - 1, 1) for i in range(len(c.mean_deg))]
            upper, lower = list(c.mean_deg + c.sd_deg), list(c.mean_deg - c.sd_deg)
            if c.current:  # the envelope of the version the analysis uses
                fig.add_trace(go.Scatter(x=x + x[::-1], y=upper + lower[::-1], fill="toself", line={"width": 0},
                                         opacity=0.25, name=f"v{c.version} ± SD"))  # fmt: skip
            name = f"v{c.version}" + (" (current)" if c.current else "")
            line = {"width": 3 if c.current else 1, "dash": "solid" if c.current else "dot"}
            fig.add_trace(go.Scatter(x=x, y=list(c.mean_deg), mode="lines", name=name, line=line))
        fig.update_layout(title=f"{self.exercise.value} reference: {self.dof.value}", xaxis_title="cycle (%)",
                          yaxis_title="degrees", margin={"l": 50, "r": 10, "t": 40, "b": 40}, height=320)  # fmt: skip
        self.reference_plot.object = fig
        versions = [c.version for c in curves]
        self.ref_revert_to.options = versions
        self.ref_revert_to.value = versions[0] if versions else None

    def _revert_reference(self) -> None:
        try:
            v = editing.revert_reference(self.state.database(), self.exercise.value, int(self.ref_revert_to.value),
                                         author=self.author.value or "", note=self.note.value or "")  # fmt: skip
        except StoreError as exc:
            self._say(f"Reference not reverted: {exc}", "danger")
            return
        self._say(f"Reference reverted to version {self.ref_revert_to.value} (now version {v}).", "success")
        self._plot_reference()

    def __panel__(self) -> pn.viewable.Viewable:
        bounds = pn.Row(self.low, self.low_open, self.high, self.high_open, self.limit)
        edit = pn.Column(
            pn.pane.Markdown("### Threshold"), pn.Row(self.exercise, self.constraint), self.info, bounds,
            pn.Row(self.author, self.note), pn.Row(self.preview_button, self.save_button), self.message,
            self.preview_summary,
            pn.Row(pn.Column("**Without the edit**", self.without_table),
                   pn.Column("**With the edit**", self.with_table)),
            sizing_mode="stretch_width",
        )  # fmt: skip
        history = pn.Column(
            pn.pane.Markdown("### History"), self.history, pn.Row(self.v1, self.v2), self.diff,
            pn.Row(self.revert_to, self.revert_button), sizing_mode="stretch_width",
        )  # fmt: skip
        reference = pn.Column(
            pn.pane.Markdown("### Reference"), self.dof, self.reference_plot,
            pn.Row(self.ref_revert_to, self.ref_revert_button), sizing_mode="stretch_width",
        )  # fmt: skip
        return pn.Column(edit, history, reference, sizing_mode="stretch_width")


def _default(wanted: str, keys: list[str]) -> str:
    return wanted if wanted in keys else keys[0]


def _table(height: int) -> pn.widgets.Tabulator:
    return pn.widgets.Tabulator(pd.DataFrame(), disabled=True, show_index=False, height=height,
                                sizing_mode="stretch_width")  # fmt: skip
