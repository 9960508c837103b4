"""Review page: the expert review loop's figures from the store (workbench.review.agreement).

Proposal vs expert precision and recall (overall, per exercise, per joint), static/dynamic roles kept, Cohen's
kappa where two experts labelled the same task, and the labels themselves. It reads only the store; pushing
and pulling are `biocoach review push|pull` (Label Studio is where experts work).
"""

from __future__ import annotations

from typing import Any

import pandas as pd
import panel as pn
import param

from workbench.dashboard.state import AppState


def _fmt(x: float | None) -> str:
    return "n/a" if x is None else f"{x:.3f}"


def review_tables(db: Any) -> tuple[str, pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """(summary markdown, per-exercise table, per-joint table, labels table) from the store."""
    from workbench.review.agreement import agreement
    from workbench.store.reviews import ReviewRepository

    report = agreement(db)
    with db.session() as s:
        repo = ReviewRepository(s)
        counts = repo.counts()
        proposals = {p.id: p for p in repo.proposals()}
        labels = repo.current_labels()
    ks, kr, o = report.kappa_salient, report.kappa_roles, report.overall
    proposed = sum(v for k, v in counts.items() if k.endswith("proposals proposed"))
    reviewed = sum(v for k, v in counts.items() if k.endswith("proposals reviewed"))
    summary = "\n".join("- " + line for line in [
        f"**Proposals:** {proposed} waiting for review, {reviewed} reviewed · **labels:** {report.n_labels} current "
        f"({', '.join(f'{k} {v}' for k, v in sorted(report.status_counts.items())) or 'none'}), "
        f"{counts.get('label versions', 0)} versions in all",
        f"**Proposal vs expert (salient joints):** precision {_fmt(o.precision)}, recall {_fmt(o.recall)} "
        f"(tp {o.tp}, fp {o.fp}, fn {o.fn})",
        f"**Cohen's kappa, salient joints:** {_fmt(ks.value)} ({ks.n_tasks} tasks labelled by two experts, "
        f"{ks.n_decisions} decisions)",
        f"**Cohen's kappa, static/dynamic:** {_fmt(kr.value)} ({kr.n_tasks} tasks, {kr.n_decisions} decisions)",
        *[f"**Static/dynamic roles kept, {ex}:** {kept:.0%}" for ex, kept in sorted(report.roles_kept.items())],
    ])  # fmt: skip
    per_exercise = pd.DataFrame([
        {"exercise": ex, "precision": _fmt(pr.precision), "recall": _fmt(pr.recall), "tp": pr.tp, "fp": pr.fp,
         "fn": pr.fn} for ex, pr in sorted(report.per_exercise.items())
    ])  # fmt: skip
    per_joint = pd.DataFrame([
        {"joint": j, "precision": _fmt(pr.precision), "recall": _fmt(pr.recall), "tp": pr.tp, "fp": pr.fp,
         "fn": pr.fn} for j, pr in report.per_joint.items()
    ])  # fmt: skip
    rows = []
    for lab in labels:
        p = proposals[lab.proposal_id]
        what = ", ".join(lab.content) if p.kind == "salient" else ", ".join(
            j for j, r in lab.content.items() if r == "dynamic") + " dynamic"  # fmt: skip
        rows.append({"proposal": lab.proposal_id, "kind": p.kind, "exercise": p.exercise, "segment": p.segment,
                     "reviewer": lab.reviewer, "status": lab.status, "version": lab.version,
                     "reviewed_at": str(lab.reviewed_at)[:19], "labels": what})  # fmt: skip
    return summary, per_exercise, per_joint, pd.DataFrame(rows)


class ReviewPage(pn.viewable.Viewer):
    """Agreement figures and expert labels of the review loop, from the store."""

    state: AppState = param.ClassSelector(class_=AppState, doc="the session's state")  # type: ignore[assignment]

    def __init__(self, **params: Any):
        super().__init__(**params)
        self.summary = pn.pane.Markdown("", sizing_mode="stretch_width")
        self.per_exercise = pn.widgets.Tabulator(pd.DataFrame(), disabled=True, show_index=False, height=110,
                                                 sizing_mode="stretch_width")  # fmt: skip
        self.per_joint = pn.widgets.Tabulator(pd.DataFrame(), disabled=True, show_index=False, height=300,
                                              sizing_mode="stretch_width")  # fmt: skip
        self.labels = pn.widgets.Tabulator(pd.DataFrame(), disabled=True, show_index=False, height=300,
                                           sizing_mode="stretch_width")  # fmt: skip
        self.refresh_button = pn.widgets.Button(name="Refresh review figures")
        self.refresh_button.on_click(lambda e: self.refresh())
        self.refresh()

    def refresh(self) -> None:
        summary, per_exercise, per_joint, labels = review_tables(self.state.database())
        self.summary.object = summary
        self.per_exercise.value, self.per_joint.value, self.labels.value = per_exercise, per_joint, labels

    def __panel__(self) -> Any:
        intro = pn.pane.Markdown("### Expert review (Label Studio)\n`biocoach review propose | serve | push | pull` "
                                 "moves proposals to the experts and their decisions back here.")  # fmt: skip
        parts = [intro, self.refresh_button, self.summary, pn.pane.Markdown("#### Per exercise"), self.per_exercise,
                 pn.pane.Markdown("#### Per joint"), self.per_joint, pn.pane.Markdown("#### Current labels"),
                 self.labels]  # fmt: skip
        return pn.Column(*parts, sizing_mode="stretch_width")
