"""How well the proposals matched the experts, and how well the experts matched each other.

* Proposal vs expert (salient joints): what the model itself named is its proposal (``ProposalRow.model_joints``);
  joints the catalogue filled in are not. For every current accepted or corrected label, each joint is a true
  positive (the model named it and the expert chose it), a false positive (named, not chosen) or a false
  negative (chosen, not named — a catalogue fill-in the expert kept is one); precision and recall per joint,
  per exercise (pooled over its labels) and overall. An unparsable reply named nothing: its labels add only
  false negatives. The catalogue's fill-ins are counted apart (how many the experts kept). Rejected labels
  carry no joint decisions and are only counted.
* Static/dynamic: per exercise, the share of the roles the model itself gave that the experts kept (pooled
  over labels; the catalogue's roles for the other joints are counted apart).
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
    roles_kept: dict[str, float] = field(default_factory=dict)  # exercise → share of the model's roles kept
    roles_model: dict[str, int] = field(default_factory=dict)  # exercise → model-given role decisions reviewed
    roles_catalogue_kept: dict[str, float] = field(default_factory=dict)  # exercise → share of catalogue roles kept
    catalogue_filled: int = 0  # catalogue fill-ins on the labelled salient proposals (label by label)
    catalogue_kept: int = 0  # of those, chosen by the expert
    unparsable_labelled: int = 0  # accepted/corrected salient labels on a proposal whose reply named nothing
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
            f"model's own proposal vs expert, salient joints: precision {f(self.overall.precision)}, "
            f"recall {f(self.overall.recall)} (tp {self.overall.tp}, fp {self.overall.fp}, fn {self.overall.fn}; "
            f"{self.unparsable_labelled} label(s) on unparsable replies)",
            f"catalogue fill-ins (not the model's, not counted above): {self.catalogue_kept} of "
            f"{self.catalogue_filled} kept by the experts",
        ]
        for ex, pr in sorted(self.per_exercise.items()):
            out.append(f"  {ex}: precision {f(pr.precision)}, recall {f(pr.recall)}")
        for ex in sorted(set(self.roles_kept) | set(self.roles_catalogue_kept)):
            own = (
                f"{self.roles_kept[ex]:.0%} of the model's {self.roles_model[ex]} role decision(s) kept"
                if ex in self.roles_kept
                else "no roles from the model"
            )
            cat = self.roles_catalogue_kept.get(ex)
            out.append(f"static/dynamic {ex}: {own}" + ("" if cat is None else f"; catalogue roles {cat:.0%} kept"))
        for name, k in (("salient joints", self.kappa_salient), ("static/dynamic", self.kappa_roles)):
            out.append(
                f"Cohen's kappa, {name}: {f(k.value)} ({k.n_tasks} task(s) with two experts, {k.n_decisions} decisions)"
            )
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
            proposed, chosen = set(p.model_joints), set(lab.content)
            filled = set(p.catalogue_joints)
            report.catalogue_filled += len(filled)
            report.catalogue_kept += len(filled & chosen)
            report.unparsable_labelled += int(p.parse_status == "unparsable")
            for j in JOINT_NAMES:
                pr = PrecisionRecall(
                    int(j in proposed and j in chosen),
                    int(j in proposed and j not in chosen),
                    int(j in chosen and j not in proposed),
                )
                report.per_joint[j] += pr
                report.per_exercise[p.exercise] = report.per_exercise.get(p.exercise, PrecisionRecall(0, 0, 0)) + pr
                report.overall += pr
    kept: dict[tuple[str, str], list[int]] = {}  # (exercise, "llm" | "catalogue") → [kept, decisions]
    for pid, labs in by_proposal.items():
        p = proposals[pid]
        if p.kind == "roles":
            own = p.model_roles
            for lab in labs:
                for j, r in p.roles.items():
                    tally = kept.setdefault((p.exercise, "llm" if j in own else "catalogue"), [0, 0])
                    tally[0] += int(lab.content.get(j) == r)
                    tally[1] += 1
    for (ex, source), (n_kept, n) in kept.items():
        if source == "llm":
            report.roles_kept[ex], report.roles_model[ex] = n_kept / n, n
        else:
            report.roles_catalogue_kept[ex] = n_kept / n
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
