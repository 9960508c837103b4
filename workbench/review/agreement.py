"""How well the proposals matched the experts, and how well the experts matched each other.

* Proposal vs expert (salient joints): for every current accepted or corrected label, each joint is a true
  positive (proposed and chosen), a false positive (proposed, not chosen) or a false negative (chosen, not
  proposed); precision and recall per joint, per exercise (pooled over its labels) and overall. Rejected
  labels carry no joint decisions and are only counted.
* Static/dynamic: the fraction of joints whose proposed role the expert kept, per exercise.
* Inter-annotator agreement: Cohen's kappa where two experts labelled the same task. Each task gives 24
  binary decisions (joint salient or not; joint dynamic or not), pooled over tasks; with more than two
  reviewers on a task the first two by name are paired.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from workbench.skeleton import JOINT_NAMES
from workbench.store.reviews import LabelRow, ProposalRow, ReviewRepository

if TYPE_CHECKING:
    from workbench.store.database import Database


@dataclass(frozen=True)
class PrecisionRecall:
    tp: int
    fp: int
    fn: int

    @property
    def precision(self) -> float | None:
        return self.tp / (self.tp + self.fp) if self.tp + self.fp else None

    @property
    def recall(self) -> float | None:
        return self.tp / (self.tp + self.fn) if self.tp + self.fn else None

    def __add__(self, other: PrecisionRecall) -> PrecisionRecall:
        return PrecisionRecall(self.tp + other.tp, self.fp + other.fp, self.fn + other.fn)


@dataclass(frozen=True)
class Kappa:
    value: float | None  # None: undefined (no pairs, or both experts gave one answer throughout)
    observed: float | None
    expected: float | None
    n_tasks: int
    n_decisions: int


def cohen_kappa(a: Sequence[bool], b: Sequence[bool], n_tasks: int = 0) -> Kappa:
    """Cohen's kappa of two raters' binary decisions: (p_o − p_e) / (1 − p_e), with p_e from each rater's
    own rate of 'yes'."""
    if len(a) != len(b):
        raise ValueError(f"cohen_kappa: expected two equally long decision lists, got {len(a)} and {len(b)}")
    n = len(a)
    if n == 0:
        return Kappa(None, None, None, n_tasks, 0)
    po = sum(x == y for x, y in zip(a, b, strict=True)) / n
    pa, pb = sum(a) / n, sum(b) / n
    pe = pa * pb + (1 - pa) * (1 - pb)
    value = None if pe >= 1.0 else (po - pe) / (1 - pe)
    return Kappa(value, po, pe, n_tasks, n)


@dataclass
class AgreementReport:
    per_joint: dict[str, PrecisionRecall] = field(default_factory=dict)
    per_exercise: dict[str, PrecisionRecall] = field(default_factory=dict)
    overall: PrecisionRecall = field(default_factory=lambda: PrecisionRecall(0, 0, 0))
    roles_kept: dict[str, float] = field(default_factory=dict)  # exercise → share of proposed roles kept
    kappa_salient: Kappa = field(default_factory=lambda: Kappa(None, None, None, 0, 0))
    kappa_roles: Kappa = field(default_factory=lambda: Kappa(None, None, None, 0, 0))
    status_counts: dict[str, int] = field(default_factory=dict)  # current labels by status
    n_labels: int = 0

    def lines(self) -> list[str]:
        def f(x: float | None) -> str:
            return "n/a" if x is None else f"{x:.3f}"

        out = [
            f"labels (current versions): {self.n_labels} "
            f"({', '.join(f'{k} {v}' for k, v in sorted(self.status_counts.items())) or 'none'})",
            f"proposal vs expert, salient joints: precision {f(self.overall.precision)}, "
            f"recall {f(self.overall.recall)} (tp {self.overall.tp}, fp {self.overall.fp}, fn {self.overall.fn})",
        ]
        for ex, pr in sorted(self.per_exercise.items()):
            out.append(f"  {ex}: precision {f(pr.precision)}, recall {f(pr.recall)}")
        for ex, kept in sorted(self.roles_kept.items()):
            out.append(f"static/dynamic {ex}: {kept:.0%} of proposed roles kept")
        for name, k in (("salient joints", self.kappa_salient), ("static/dynamic", self.kappa_roles)):
            out.append(f"Cohen's kappa, {name}: {f(k.value)} ({k.n_tasks} task(s) with two experts, "
                       f"{k.n_decisions} decisions)")  # fmt: skip
        return out


def agreement(db: Database) -> AgreementReport:
    """The agreement figures from the store's current labels."""
    with db.session() as s:
        repo = ReviewRepository(s)
        proposals = {p.id: p for p in repo.proposals()}
        labels = repo.current_labels()
    report = AgreementReport(per_joint={j: PrecisionRecall(0, 0, 0) for j in JOINT_NAMES})
    by_proposal: dict[str, list[LabelRow]] = {}
    for lab in labels:
        report.n_labels += 1
        report.status_counts[lab.status] = report.status_counts.get(lab.status, 0) + 1
        if lab.status == "rejected":
            continue
        by_proposal.setdefault(lab.proposal_id, []).append(lab)
        p = proposals[lab.proposal_id]
        if p.kind == "salient":
            proposed, chosen = set(p.joints), set(lab.content)
            for j in JOINT_NAMES:
                pr = PrecisionRecall(int(j in proposed and j in chosen), int(j in proposed and j not in chosen),
                                     int(j in chosen and j not in proposed))  # fmt: skip
                report.per_joint[j] += pr
                report.per_exercise[p.exercise] = report.per_exercise.get(p.exercise, PrecisionRecall(0, 0, 0)) + pr
                report.overall += pr
    kept: dict[str, list[float]] = {}
    for pid, labs in by_proposal.items():
        p = proposals[pid]
        if p.kind == "roles":
            for lab in labs:
                kept.setdefault(p.exercise, []).append(
                    sum(lab.content.get(j) == r for j, r in p.roles.items()) / len(JOINT_NAMES)
                )
    report.roles_kept = {ex: sum(v) / len(v) for ex, v in kept.items()}
    report.kappa_salient = _pooled_kappa(by_proposal, proposals, "salient")
    report.kappa_roles = _pooled_kappa(by_proposal, proposals, "roles")
    report.per_joint = {j: pr for j, pr in report.per_joint.items() if pr.tp + pr.fp + pr.fn}
    return report


def _pooled_kappa(by_proposal: dict[str, list[LabelRow]], proposals: dict[str, ProposalRow], kind: str) -> Kappa:
    a: list[bool] = []
    b: list[bool] = []
    tasks = 0
    for pid, labs in sorted(by_proposal.items()):
        if proposals[pid].kind != kind or len({lab.reviewer for lab in labs}) < 2:
            continue
        first, second = sorted(labs, key=lambda lab: lab.reviewer)[:2]
        tasks += 1
        a += _decisions(first, kind)
        b += _decisions(second, kind)
    return cohen_kappa(a, b, tasks)


def _decisions(lab: LabelRow, kind: str) -> list[bool]:
    if kind == "salient":
        return [j in lab.content for j in JOINT_NAMES]
    return [lab.content.get(j) == "dynamic" for j in JOINT_NAMES]
