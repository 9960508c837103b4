"""Issue 18, part 5 (review loop): proposal quality is measured on what the model itself named, accepted
joints stay per segment, and a gibberish reply is reported as unparsable."""

from __future__ import annotations

import json
import shutil
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from workbench.exercises import load_catalogue
from workbench.llm.client import Completion
from workbench.review.agreement import agreement
from workbench.review.proposals import (
    describe,
    parse_reason,
    propose_roles,
    propose_salient,
    read_roles_reply,
    read_salient_reply,
    repetition_loop,
)
from workbench.skeleton import JOINT_NAMES
from workbench.store.database import Database
from workbench.store.review_labels import (
    accepted_salient_labels,
    reviewed_salient,
    salient_by_segment,
    salient_joints_for_clip,
)
from workbench.store.reviews import PulledLabel, ReviewRepository
from workbench.store.seed import init_from_references

# The packaged SmolLM2-135M's real reply to the squat static/dynamic prompt (greedy, 128 tokens), verbatim.
GIBBERISH = "Dynamic: Knee-chest-upper-lower-pelvis-lumbar-spine" + "-pelvis" * 40 + "-"
A = "expert.a@example.com"


class Scripted:
    """A chat client with one fixed reply per kind of question."""

    model_name = "scripted"

    def __init__(self, salient: str = "knees", roles: str = "Dynamic: knees"):
        self.salient, self.roles = salient, roles

    def complete(self, messages: list[Any], **_: Any) -> Completion:
        asks_roles = "static (should stay stable)" in str(messages[-1]["content"])
        return Completion(text=self.roles if asks_roles else self.salient, model="scripted", prompt=list(messages))


@pytest.fixture(scope="module")
def seeded_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("quality-template") / "review.duckdb"
    init_from_references(Database(path))
    return path


@pytest.fixture
def db(seeded_file: Path, tmp_path: Path) -> Database:
    shutil.copyfile(seeded_file, tmp_path / "review.duckdb")
    return Database(tmp_path / "review.duckdb")


def _clip(tmp_path: Path, reps: int = 2) -> Path:
    from workbench.pose.posefile import save_npz
    from workbench.pose.synthetic import synthesize

    track, _ = synthesize(load_catalogue().get("squat"), reps, fps=30.0, seed=3)
    return save_npz(track, tmp_path / "squat.npz")


def _label(db: Database, pid: str, status: str, content: Any, n: int, reviewer: str = A) -> None:
    t = datetime(2026, 1, 5, 9, 0, tzinfo=UTC) + timedelta(minutes=n)
    with db.session() as s:
        ReviewRepository(s).record_pulled(
            "http://ls.test",
            [
                PulledLabel(
                    proposal_id=pid,
                    reviewer=reviewer,
                    status=status,
                    content=content,
                    comment="",  # type: ignore[arg-type]
                    reviewed_at=t,
                    ls_task_id=n,
                    ls_annotation_id=n,
                    ls_updated_at=str(n),
                )
            ],
        )


# ------------------------------------------------------------------------ 1. the model's own proposal


def test_precision_and_recall_count_only_the_joints_the_model_named(db: Database, tmp_path: Path) -> None:
    squat = load_catalogue().get("squat")
    export = tmp_path / "out"
    rows = propose_salient(db, _clip(tmp_path), "squat", Scripted("knees"), export_dir=export).created
    assert len(rows) == 2
    rep1, rep2 = rows
    # the model named 2 joints; the catalogue filled in 6 more, kept apart
    assert rep1.model_joints == ("tibia_r", "tibia_l") and rep1.parse_status == "parsed"
    assert set(rep1.catalogue_joints) == set(squat.salient_joints) - {"tibia_r", "tibia_l"}
    assert len(rep1.catalogue_joints) == 6 and len(rep1.joints) == 8
    saved = json.loads((export / f"{rep1.id}.json").read_text())
    assert saved["model_joints"] == ["tibia_r", "tibia_l"] and len(saved["catalogue_joints"]) == 6
    assert saved["parse_reason"] == ""
    assert describe(rep1).startswith("parsed: model tibia_r, tibia_l; catalogue pelvis, femur_r")

    _label(db, rep1.id, "accepted", list(rep1.joints), 1)  # all 8 kept
    _label(db, rep2.id, "corrected", ["pelvis", "tibia_r"], 2)  # tibia_l dropped, one catalogue joint kept
    report = agreement(db)
    # rep 1: tp 2 (the knees), fp 0, fn 6 (the catalogue's joints the expert chose); rep 2: tp 1, fp 1, fn 1
    assert (report.overall.tp, report.overall.fp, report.overall.fn) == (3, 1, 7)
    assert report.overall.precision == pytest.approx(3 / 4) and report.overall.recall == pytest.approx(3 / 10)
    assert report.per_exercise["squat"] == report.overall
    assert report.per_joint["pelvis"].precision is None  # never the model's: no precision to speak of
    assert (report.catalogue_filled, report.catalogue_kept) == (12, 7)
    text = "\n".join(report.lines())
    assert "model's own proposal vs expert, salient joints: precision 0.750, recall 0.300 (tp 3, fp 1, fn 7" in text
    assert "catalogue fill-ins (not the model's, not counted above): 7 of 12 kept" in text

    # static/dynamic: the model gave 2 roles (knees dynamic); the catalogue the other 22
    roles = propose_roles(db, "squat", Scripted(roles="Dynamic: knees"), export_dir=None).created[0]
    assert roles.model_roles == {"tibia_r": "dynamic", "tibia_l": "dynamic"} and roles.parse_status == "partial"
    corrected = dict(roles.roles, tibia_l="static", humerus_r="dynamic")
    _label(db, roles.id, "corrected", corrected, 3)
    report = agreement(db)
    assert report.roles_kept["squat"] == pytest.approx(1 / 2) and report.roles_model["squat"] == 2
    assert report.roles_catalogue_kept["squat"] == pytest.approx(21 / 22)
    assert "static/dynamic squat: 50% of the model's 2 role decision(s) kept; catalogue roles 95% kept" in "\n".join(
        report.lines()
    )


# ------------------------------------------------------------------------ 2. accepted joints per segment


def test_unticking_a_joint_on_one_rep_removes_it_for_that_rep_only(db: Database, tmp_path: Path) -> None:
    clip = _clip(tmp_path)
    rep1, rep2 = propose_salient(db, clip, "squat", Scripted("knees, hips"), export_dir=None).created
    both = ["femur_r", "femur_l", "tibia_r", "tibia_l"]
    _label(db, rep1.id, "corrected", both, 1)
    _label(db, rep2.id, "corrected", [j for j in both if j != "femur_l"], 2)  # left hip unticked on rep 2 only
    labels = accepted_salient_labels(db, "squat")
    assert [(lab.segment, "femur_l" in lab.joints) for lab in labels] == [("rep 1", True), ("rep 2", False)]
    per = salient_by_segment(labels)
    assert [(s.segment, s.joints) for s in per] == [
        ("rep 1", ("femur_r", "tibia_r", "femur_l", "tibia_l")),
        ("rep 2", ("femur_r", "tibia_r", "tibia_l")),
    ]
    # the clip's analysis evaluates one set: the union over reps (the left hip still counts on rep 1) …
    joints, note = reviewed_salient(labels)
    assert joints == ("femur_r", "tibia_r", "femur_l", "tibia_l")
    assert (
        note is not None
        and "per segment: rep 1: femur_r, tibia_r, femur_l, tibia_l; rep 2: femur_r, tibia_r, tibia_l" in note
    )
    # … and once no rep keeps it, it leaves the clip's set
    _label(db, rep1.id, "corrected", [j for j in both if j != "femur_l"], 3)
    clip_joints, used = salient_joints_for_clip(db, labels[0].clip_hash, "squat")
    assert clip_joints == ("femur_r", "tibia_r", "tibia_l") and len(used) == 2
    # two reviewers on one segment: their labels are combined there (union), not spread to the other rep
    _label(db, rep2.id, "corrected", ["head"], 4, reviewer="expert.b@example.com")
    per = salient_by_segment(accepted_salient_labels(db, "squat"))
    assert per[0].joints == ("femur_r", "tibia_r", "tibia_l") and "head" in per[1].joints and len(per[1].labels) == 2


# ------------------------------------------------------------------------ 3. unparsable replies


def test_a_gibberish_reply_is_unparsable_not_joints_from_the_model(db: Database, tmp_path: Path) -> None:
    squat = load_catalogue().get("squat")
    roles = propose_roles(db, "squat", Scripted(roles=GIBBERISH), export_dir=tmp_path / "out").created[0]
    assert roles.parse_status == "unparsable" and roles.model_roles == {}  # not "5 of 24 joints from the model"
    assert all(v["source"] == "catalogue" for v in roles.content.values()) and set(roles.content) == set(JOINT_NAMES)
    assert parse_reason(roles) == "the reply is stuck in a repetition loop ('pelvis' 40 times in a row)"
    assert describe(roles).startswith(
        "unparsable (the reply is stuck in a repetition loop ('pelvis' 40 times in a "
        "row)): no roles from the model, the catalogue the rest"
    )
    saved = json.loads((tmp_path / "out" / f"{roles.id}.json").read_text())
    assert saved["model_roles"] == {} and "repetition loop" in saved["parse_reason"] and saved["reply"] == GIBBERISH

    row = propose_salient(db, _clip(tmp_path, reps=1), "squat", Scripted(salient=GIBBERISH), export_dir=None).created[0]
    assert row.parse_status == "unparsable" and row.model_joints == ()
    assert set(row.catalogue_joints) == set(squat.salient_joints)
    assert describe(row).startswith("unparsable (the reply is stuck in a repetition loop") and (
        "nothing from the model" in describe(row)
    )
    _label(db, row.id, "accepted", list(row.joints), 1)
    report = agreement(db)
    assert (report.overall.tp, report.overall.fp, report.overall.fn) == (0, 0, 8)  # the model proposed nothing
    assert report.unparsable_labelled == 1 and report.overall.precision is None


@pytest.mark.parametrize(
    ("reply", "status", "reason"),
    [
        (GIBBERISH, "unparsable", "repetition loop ('pelvis' 40 times"),
        ("knees, hips, knees, hips, knees, hips, knees, hips", "unparsable", "repetition loop ('knees hips' 4 times"),
        ("right knee right knee right knee right knee", "unparsable", "('right knee' 4 times"),
        ("", "unparsable", "the reply is empty"),
        ("The squat looks great, well done!", "unparsable", "the reply names no joint"),
        ("Hips, knees and ankles; also the lumbar spine.", "parsed", ""),
        ("left knee, right knee, left hip, right hip, left ankle, right ankle", "parsed", ""),
    ],
)
def test_salient_reply_status_and_reason(reply: str, status: str, reason: str) -> None:
    joints, got, why = read_salient_reply(reply)
    assert got == status and reason in why
    assert (got == "parsed") == bool(joints)


def test_roles_reply_status_and_reason() -> None:
    assert read_roles_reply(GIBBERISH)[:2] == ({}, "unparsable")
    roles, status, why = read_roles_reply("Dynamic: hips, knees, ankles\nStatic: pelvis, lumbar spine")
    assert status == "partial" and len(roles) == 8 and why == "the model gave 8 of 24 joints a role"
    assert read_roles_reply("I cannot answer that.")[1:] == (
        "unparsable",
        "the reply gives no joint a static or dynamic role",
    )
    assert repetition_loop("Dynamic: hips, knees\nStatic: pelvis, spine, head, thorax") is None
