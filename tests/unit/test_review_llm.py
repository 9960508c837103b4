"""Proposals from the real packaged SmolLM2-135M: whatever it answers, the proposal is honest about it.

The model is tiny and its replies are often poor; what must hold is that the raw reply is kept verbatim,
the parse status and every joint's source follow from that reply, and gaps are filled from the catalogue.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from workbench.exercises import load_catalogue
from workbench.llm.client import LocalClient
from workbench.review.proposals import propose_roles, propose_salient, read_roles_reply, read_salient_reply
from workbench.skeleton import JOINT_NAMES
from workbench.store.database import Database
from workbench.store.reviews import ReviewRepository
from workbench.store.seed import init_from_references

pytestmark = [pytest.mark.slow]


def test_smollm2_proposals_are_recorded_honestly(tmp_path: Path) -> None:
    from workbench.pose.posefile import save_npz
    from workbench.pose.synthetic import synthesize

    squat = load_catalogue().get("squat")
    db = Database(tmp_path / "review.duckdb")
    init_from_references(db)
    track, _ = synthesize(squat, 1, fps=30.0, seed=5)
    clip = save_npz(track, tmp_path / "squat.npz")
    client = LocalClient()

    salient = propose_salient(db, clip, "squat", client, export_dir=tmp_path / "out").created
    roles = propose_roles(db, "squat", client, export_dir=tmp_path / "out").created[0]
    assert len(salient) == 1
    row = salient[0]
    assert "SmolLM2" in row.model and row.reply.strip()
    from_llm, status, _ = read_salient_reply(row.reply)  # a reply in a repetition loop counts for nothing
    assert row.parse_status == status == ("parsed" if from_llm else "unparsable")
    assert row.model_joints == from_llm
    assert {c["joint"] for c in row.content} == set(from_llm) | set(squat.salient_joints)
    named, roles_status, _ = read_roles_reply(roles.reply)
    assert set(roles.content) == set(JOINT_NAMES)
    assert set(roles.model_roles) == set(named)
    assert roles.parse_status == roles_status
    assert roles_status == ("parsed" if len(named) == 24 else "partial" if named else "unparsable")
    with db.session() as s:
        stored = ReviewRepository(s).proposal(row.id)
    assert stored.reply == row.reply and stored.prompt[1]["content"].startswith("Exercise: Bodyweight squat")
    assert (tmp_path / "out" / f"{row.id}.json").is_file()
