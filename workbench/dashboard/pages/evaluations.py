"""Evaluations page: browse the stored `biocoach eval` results, open one (per-clip rows), compare two."""

from __future__ import annotations

from typing import Any

import pandas as pd
import panel as pn
import param

from workbench.dashboard.state import AppState
from workbench.store.database import StoreError


class EvaluationsPage(pn.viewable.Viewer):
    """Stored evaluations with the models that scored them; one evaluation's clips; two side by side."""

    state: AppState = param.ClassSelector(class_=AppState, doc="the session's state")  # type: ignore[assignment]

    def __init__(self, **params: Any):
        super().__init__(**params)
        self.table = pn.widgets.Tabulator(pd.DataFrame(), disabled=True, show_index=False, height=240,
                                          sizing_mode="stretch_width")  # fmt: skip
        self.refresh_button = pn.widgets.Button(name="Refresh evaluations")
        self.open_select = pn.widgets.Select(name="Evaluation", width=160)
        self.open_button = pn.widgets.Button(name="Show clips")
        self.clips = pn.widgets.Tabulator(pd.DataFrame(), disabled=True, show_index=False, height=260,
                                          sizing_mode="stretch_width")  # fmt: skip
        self.detail = pn.pane.Markdown("", sizing_mode="stretch_width")
        self.eval_a = pn.widgets.Select(name="Evaluation A", width=160)
        self.eval_b = pn.widgets.Select(name="Evaluation B", width=160)
        self.compare_button = pn.widgets.Button(name="Compare evaluations")
        self.comparison = pn.widgets.Tabulator(pd.DataFrame(), disabled=True, show_index=False, height=300,
                                               sizing_mode="stretch_width")  # fmt: skip
        self.message = pn.pane.Markdown("", sizing_mode="stretch_width")
        self.refresh_button.on_click(lambda e: self._load())
        self.open_button.on_click(lambda e: self._open())
        self.compare_button.on_click(lambda e: self._compare())
        self._load()

    def _repo(self) -> Any:
        from workbench.store.evaluations import EvaluationRepository

        return EvaluationRepository

    def _load(self) -> None:
        db = self.state.database()
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
        self.message.object = f"{len(ids)} stored evaluation(s)." if ids else \
            "No evaluations stored yet: run `biocoach eval PRED --gt GT`."  # fmt: skip

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
        self.clips.value = pd.DataFrame([{k: c.get(k) for k in ("clip_id", "exercise", "n_gt", "n_pred", "matched_gt",
                                                                 "matched_pred", "t_f_score", "meteor", "rouge_l",
                                                                 "bertscore")} for c in ev.clips])  # fmt: skip
        models = "\n".join(f"- {k}: {v}" for k, v in ev.summary.models.items()) or "- (none)"
        self.detail.object = (f"#### Evaluation {ev.summary.id}: {ev.summary.name}\n"
                              f"{ev.summary.dataset} — T-F-Score {ev.summary.t_f_score:.3f}, "
                              f"{ev.summary.n_matched} of {ev.summary.n_gt} ground-truth lines matched\n\n"
                              f"**Scored by**\n{models}")  # fmt: skip

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
        self.message.object = (f"Evaluation {self.eval_a.value} vs {self.eval_b.value}"
                               + (f" — not comparable (different scorers): {', '.join(flagged)}" if flagged
                                  else " — same scorers"))  # fmt: skip

    def __panel__(self) -> pn.viewable.Viewable:
        return pn.Column(
            pn.pane.Markdown("### Stored evaluations"), self.refresh_button, self.message, self.table,
            pn.pane.Markdown("### One evaluation"), pn.Row(self.open_select, self.open_button), self.detail, self.clips,
            pn.pane.Markdown("### Compare two evaluations"), pn.Row(self.eval_a, self.eval_b, self.compare_button),
            self.comparison, sizing_mode="stretch_width",
        )  # fmt: skip
