"""Expert-validated labels, as the analysis and the DoF selector's training read them.

A label counts once an expert accepted the proposal or corrected it (a correction is the expert's own
answer); rejected labels and unreviewed proposals never count. Each reviewer's current version counts
once: two experts who both labelled a segment give two training examples.

    from workbench.review.labels import accepted_salient_labels, accepted_joint_roles
    for lab in accepted_salient_labels(db, exercise="squat"):
        lab.clip_hash, lab.start_s, lab.end_s, lab.joints      # the segment and its salient joints
    accepted_joint_roles(db, "squat")                           # {"femur_r": "dynamic", "pelvis": "static", …}
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

from workbench.skeleton import JOINT_NAMES
from workbench.store.reviews import LabelStatus, ReviewRepository

if TYPE_CHECKING:
    from workbench.store.database import Database

COUNTING: tuple[LabelStatus, ...] = ("accepted", "corrected")


@dataclass(frozen=True)
class SalientLabel:
    """One expert's salient joints for one clip segment."""

    clip_hash: str
    exercise: str
    start_s: float
    end_s: float
    joints: tuple[str, ...]  # SKEL joint names, in SKEL order
    reviewer: str
    version: int  # of this reviewer's label for this proposal (history in review_labels)
    status: LabelStatus  # 'accepted' or 'corrected'
    proposal_id: str = ""


def accepted_salient_labels(db: Database, exercise: str | None = None) -> list[SalientLabel]:
    """Every accepted or corrected salient-joint label (current versions), optionally of one exercise,
    ordered by clip, segment start and reviewer."""
    with db.session() as s:
        repo = ReviewRepository(s)
        proposals = {p.id: p for p in repo.proposals("salient", exercise)}
        labels = repo.current_labels("salient", exercise)
    out = []
    for lab in labels:
        p = proposals[lab.proposal_id]
        if lab.status not in COUNTING or p.clip_hash is None or p.start_s is None or p.end_s is None:
            continue
        out.append(SalientLabel(clip_hash=p.clip_hash, exercise=p.exercise, start_s=p.start_s, end_s=p.end_s,
                                joints=_ordered(lab.content), reviewer=lab.reviewer, version=lab.version,
                                status=lab.status, proposal_id=p.id))  # fmt: skip
    out.sort(key=lambda x: (x.clip_hash, x.start_s, x.reviewer))
    return out


def accepted_joint_roles(db: Database, exercise: str) -> dict[str, Literal["static", "dynamic"]]:
    """{joint: role} from the most recently reviewed accepted or corrected static/dynamic label of an exercise
    ({} when no expert has validated one)."""
    with db.session() as s:
        labels = [lab for lab in ReviewRepository(s).current_labels("roles", exercise) if lab.status in COUNTING]
    if not labels:
        return {}
    latest = max(labels, key=lambda lab: (lab.reviewed_at, lab.created_at))
    return {j: latest.content[j] for j in JOINT_NAMES if j in latest.content}


def salient_joints_for_clip(db: Database, clip_hash: str, exercise: str) -> tuple[tuple[str, ...], list[SalientLabel]]:
    """The union of a clip's accepted salient joints (SKEL order) and the labels it came from."""
    labels = [lab for lab in accepted_salient_labels(db, exercise) if lab.clip_hash == clip_hash]
    joints = {j for lab in labels for j in lab.joints}
    return _ordered(joints), labels


def reviewed_salient(labels: Sequence[SalientLabel]) -> tuple[tuple[str, ...] | None, str | None]:
    """The union of one clip's accepted labels' joints (SKEL order) and the provenance note that names the
    labels, as the analysis records it; (None, None) when the labels name no joint."""
    joints = _ordered({j for lab in labels for j in lab.joints})
    if not joints:
        return None, None
    names = ", ".join(f"{lab.proposal_id} v{lab.version} by {lab.reviewer}" for lab in labels)
    return joints, f"expert review ({len(labels)} label(s): {names})"


def _ordered(joints: Sequence[str] | set[str]) -> tuple[str, ...]:
    chosen = set(joints)
    return tuple(j for j in JOINT_NAMES if j in chosen)
