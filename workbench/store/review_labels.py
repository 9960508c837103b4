"""Expert-validated labels, as the analysis and the DoF selector's training read them.

A label counts once an expert accepted the proposal or corrected it (a correction is the expert's own
answer); rejected labels and unreviewed proposals never count. Each reviewer's current version counts
once: two experts who both labelled a segment give two training examples.

Salient joints are decided per segment (a rep, or a fixed window when no reps were found): each label
belongs to one segment, and unticking a joint on one rep removes it from that rep only
(``salient_by_segment``). Reps are combined only where one set per clip is needed:

* ``accepted_salient_labels`` — one entry per (segment, reviewer): never combined (DoF-selector training
  reads these, one example each);
* ``salient_by_segment`` — per segment, the joints any of its reviewers accepted (reviewers combined by
  union, segments kept apart);
* ``reviewed_salient`` / ``salient_joints_for_clip`` — what the clip's analysis uses: the analysis evaluates
  one joint set for the whole clip, so it is the union over segments of their joints — a joint still counts
  for the clip while any rep keeps it, and leaves the clip's set once no rep does. The provenance note lists
  each segment's own joints, so a joint unticked on one rep shows there.

    from workbench.store.review_labels import accepted_salient_labels, accepted_joint_roles
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
    segment: str = ""  # "rep 2", "window 1"


@dataclass(frozen=True)
class SegmentSalient:
    """One clip segment's accepted salient joints (its reviewers' labels combined by union)."""

    clip_hash: str
    segment: str
    start_s: float
    end_s: float
    joints: tuple[str, ...]  # SKEL order
    labels: tuple[SalientLabel, ...]


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
        out.append(
            SalientLabel(
                clip_hash=p.clip_hash,
                exercise=p.exercise,
                start_s=p.start_s,
                end_s=p.end_s,
                joints=_ordered(lab.content),
                reviewer=lab.reviewer,
                version=lab.version,
                status=lab.status,
                proposal_id=p.id,
                segment=p.segment,
            )
        )
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


def salient_by_segment(labels: Sequence[SalientLabel]) -> list[SegmentSalient]:
    """Accepted salient joints per segment, in time order: each segment's joints are those its own reviewers
    accepted (union over reviewers); other segments' labels never add to or remove from them."""
    groups: dict[tuple[str, float, float], list[SalientLabel]] = {}
    for lab in labels:
        groups.setdefault((lab.clip_hash, lab.start_s, lab.end_s), []).append(lab)
    out = []
    for (clip_hash, start_s, end_s), labs in sorted(groups.items(), key=lambda kv: (kv[0][0], kv[0][1], kv[0][2])):
        joints = _ordered({j for lab in labs for j in lab.joints})
        out.append(
            SegmentSalient(
                clip_hash=clip_hash,
                segment=labs[0].segment,
                start_s=start_s,
                end_s=end_s,
                joints=joints,
                labels=tuple(labs),
            )
        )
    return out


def salient_joints_for_clip(db: Database, clip_hash: str, exercise: str) -> tuple[tuple[str, ...], list[SalientLabel]]:
    """The clip's accepted salient joints as its analysis uses them — the union over segments of each
    segment's joints (SKEL order; see the module docstring) — and the labels they came from."""
    labels = [lab for lab in accepted_salient_labels(db, exercise) if lab.clip_hash == clip_hash]
    joints = {j for seg in salient_by_segment(labels) for j in seg.joints}
    return _ordered(joints), labels


def reviewed_salient(labels: Sequence[SalientLabel]) -> tuple[tuple[str, ...] | None, str | None]:
    """One clip's accepted salient joints for its analysis and the provenance note, as the analysis records
    it; (None, None) when the labels name no joint.

    The analysis evaluates one joint set per clip: the union over segments of each segment's accepted joints
    (``salient_by_segment``), so a joint counts while any rep keeps it. The note names the labels and gives
    each segment's own joints (``rep 2: tibia_r, tibia_l``), so unticking a joint on one rep changes that
    rep's entry (and the note, which the batch driver's analysis key includes) but not the other reps'."""
    segments = salient_by_segment(labels)
    joints = _ordered({j for seg in segments for j in seg.joints})
    if not joints:
        return None, None
    names = ", ".join(f"{lab.proposal_id} v{lab.version} by {lab.reviewer}" for lab in labels)
    per = "; ".join(
        f"{seg.segment or f'{seg.start_s:.2f}-{seg.end_s:.2f} s'}: {', '.join(seg.joints) or 'none'}"
        for seg in segments
    )
    return joints, f"expert review ({len(labels)} label(s): {names}; per segment: {per})"


def _ordered(joints: Sequence[str] | set[str]) -> tuple[str, ...]:
    chosen = set(joints)
    return tuple(j for j in JOINT_NAMES if j in chosen)
