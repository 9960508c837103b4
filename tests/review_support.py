"""A store with a known review history (no Label Studio needed), shared by the review unit and UI tests.

Two reviewers on three squat segments whose proposal is P (9 joints, of which the model itself named femur_r and
thorax; the catalogue filled in the other 7). Kappa = 804/1044 = 0.770 (hand computation in
tests/integration/test_label_studio.py). Proposal quality counts the model's own joints only: tp 2+1+1+2 = 6,
fp 0+1+1+0 = 2 (thorax dropped by A2 and B1), fn 7+8+5+7 = 27 → precision 6/8 = 0.750, recall 6/33 = 0.182.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from workbench.store.database import Database
from workbench.store.reviews import ProposalRow, PulledLabel, ReviewRepository

P = ("pelvis", "femur_r", "tibia_r", "talus_r", "femur_l", "tibia_l", "talus_l", "lumbar_body", "thorax")
A2 = tuple(j for j in P if j != "thorax") + ("head",)  # noqa: RUF005
B1 = tuple(j for j in P if j not in ("thorax", "talus_r", "talus_l"))
CLIP = "c" * 64
A, B = "expert.a@example.com", "expert.b@example.com"
KAPPA = 804 / 1044


def seed_reviews(db: Database) -> list[str]:
    """Three salient proposals and five labels (A: accept, correct, reject; B: correct, accept); their ids."""
    ids = [f"sal-test{k}" for k in range(3)]
    t0 = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
    with db.session() as s:
        repo = ReviewRepository(s)
        for k, pid in enumerate(ids):
            content = [{"joint": j, "source": "llm" if j in ("femur_r", "thorax") else "catalogue"} for j in P]
            repo.add_proposal(
                ProposalRow(
                    id=pid,
                    kind="salient",
                    exercise="squat",
                    content=content,
                    model="scripted",
                    prompt=[{"role": "user", "content": "which joints?"}],
                    reply="hips, thorax",
                    parse_status="parsed",
                    clip_hash=CLIP,
                    clip_path="/clips/squat.npz",
                    start_s=1.0 + 2 * k,
                    end_s=3.0 + 2 * k,
                    segment=f"rep {k + 1}",
                )
            )
        decisions = [
            (ids[0], A, "accepted", P, 1),
            (ids[1], A, "corrected", A2, 2),
            (ids[2], A, "rejected", P, 3),
            (ids[0], B, "corrected", B1, 4),
            (ids[1], B, "accepted", P, 5),
        ]
        for pid, who, status, joints, n in decisions:
            repo.record_pulled(
                "http://ls.test",
                [
                    PulledLabel(
                        proposal_id=pid,
                        reviewer=who,
                        status=status,
                        content=list(joints),
                        comment="",
                        ls_task_id=ids.index(pid),
                        reviewed_at=t0 + timedelta(minutes=n),
                        ls_annotation_id=n,
                        ls_updated_at=f"2026-01-05T09:0{n}:00Z",
                    ),
                ],
            )
    return ids
