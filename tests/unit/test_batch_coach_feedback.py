"""The coaching stage's lines become the feedback of the clip's run (issue 17): what the chosen coach said is
what the Runs page compares and the Evaluations page scores, in the run the analysis recorded (or, for an
analysis done by a job that did not ask for the coaching, in a run of the coaching's own), without duplicate
rows on a rerun or a resumed job; and ``RunRepository.replace_feedback`` is one transaction."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import duckdb
import pytest

from tests.batch_support import spec, squat_store
from workbench.batch import stages
from workbench.batch.driver import run_job
from workbench.batch.select import from_folder
from workbench.batch.stages import StagePlan
from workbench.coach.loop import run_coach
from workbench.coach.rule_coach import RuleCoach
from workbench.motion.results import FeedbackEvent
from workbench.pipeline import resolve
from workbench.pose.backends import estimate_pose
from workbench.store.batches import BatchRepository
from workbench.store.database import Database

COACHED = ["pose", "analysis", "coaching"]


@pytest.fixture
def db(tmp_path: Path) -> Database:
    return squat_store(tmp_path / "store.duckdb")


@pytest.fixture
def clips(tmp_path: Path) -> list[Path]:
    """Two squat clips of known faults: a shallow second rep, a shallow first and third."""
    from workbench.pose.posefile import save_npz
    from workbench.pose.synthetic import Fault, synthesize

    ex, _ = resolve("squat", None)
    folder = tmp_path / "clips"
    folder.mkdir()
    paths = []
    for i, reps in enumerate([(1,), (0, 2)]):
        track, _ = synthesize(ex, 3, noise_deg=1.0, seed=10 + i, faults=(Fault("shallow", reps, 35),))
        paths.append(save_npz(track, folder / f"faulty_{i}.npz"))
    return paths


def _plan(db: Database, stage_names: list[str]) -> StagePlan:
    return StagePlan(stages=stage_names, default_exercise="squat", db=db)  # type: ignore[arg-type]


def _run(db: Database, folder: Path, stage_names: list[str], **kw: Any) -> Any:
    retry_failed = kw.pop("retry_failed", False)
    return run_job(spec(**kw), from_folder(folder), _plan(db, stage_names), db, retry_failed=retry_failed).job


def _expected(db: Database, clip: Path) -> list[tuple[float, str, str, list[str]]]:
    """The rule coach's streaming lines over the clip, as the coaching stage runs it (seed 0, the analysis's
    min_confidence; the rule coach does not read the body context)."""
    ex, _ = resolve("squat", db)
    track = estimate_pose(clip, "pose").track
    events = run_coach(RuleCoach(seed=0), track, ex, context_morph="", min_confidence=0.3)
    return [(round(e.t_s, 3), e.text, str(e.kind), e.tags()) for e in events]


def _lines(events: list[FeedbackEvent]) -> list[tuple[float, str, str, list[str]]]:
    return [(round(e.t_s, 3), e.text, str(e.kind), list(e.evidence)) for e in events]


def _items(db: Database, job_id: int, stage: str) -> list[Any]:
    with db.store() as store:
        return BatchRepository(store.session).items(job_id, stage=stage)


def _counts(db: Database) -> tuple[int, int]:
    with db.session() as s:
        return int(s.scalar("SELECT count(*) FROM runs")), int(s.scalar("SELECT count(*) FROM feedback_events"))


def _check_coached(db: Database, run_id: int, clip: Path) -> None:
    with db.store() as store:
        run = store.runs.get(run_id)
        stored = store.runs.feedback(run_id)
    expected = _expected(db, clip)
    assert any(tags for *_, tags in expected), expected  # the faults are named in the coach's evidence
    assert _lines(stored) == expected
    assert (run.config["feedback_from"], run.config["coach"]) == ("coach:rule", "rule")
    assert all(e.step is not None and e.details for e in stored)  # what the coach knew is kept too


def test_a_coached_clips_run_holds_the_rule_coachs_lines_and_a_rerun_adds_nothing(
    db: Database, clips: list[Path]
) -> None:
    job = _run(db, clips[0].parent, COACHED)
    assert (job.n_done, job.n_failed) == (6, 0)
    analyses = {Path(i.path).name: i for i in _items(db, job.id, "analysis")}
    coachings = {Path(i.path).name: i for i in _items(db, job.id, "coaching")}
    for clip in clips:
        analysis, coaching = analyses[clip.name], coachings[clip.name]
        run_id = int(analysis.result_ref)
        _check_coached(db, run_id, clip)
        assert (coaching.result_kind, coaching.result_ref, coaching.result["run"]) == ("run", str(run_id), run_id)
        review = [f["text"] for f in analysis.result["analysis"]["feedback"]]
        assert review != [t for _, t, _, _ in _expected(db, clip)]  # not the offline review any more
        with db.store() as store:
            assert store.runs.get(run_id).config["batch_job"] == job.id
    before = _counts(db)
    assert before[0] == 2
    again = _run(db, clips[0].parent, COACHED)
    assert (again.n_skipped, again.n_executed) == (6, 0)
    assert _counts(db) == before


def test_an_analysis_without_coaching_keeps_the_review(db: Database, clips: list[Path]) -> None:
    job = _run(db, clips[0].parent, ["pose", "analysis"])
    with db.store() as store:
        for item in _items(db, job.id, "analysis"):
            run = store.runs.get(int(item.result_ref))
            assert run.config["feedback_from"] == "analysis review"
            assert [e.text for e in store.runs.feedback(run.id)] == [
                f["text"] for f in item.result["analysis"]["feedback"]
            ]


def test_coaching_added_to_an_analysed_clip_is_a_run_of_its_own(db: Database, clips: list[Path]) -> None:
    first = _run(db, clips[0].parent, ["pose", "analysis"])
    reviewed = {int(i.result_ref) for i in _items(db, first.id, "analysis")}
    assert _counts(db)[0] == 2
    job = _run(db, clips[0].parent, COACHED)
    assert (job.n_skipped, job.n_executed) == (4, 2)  # the analyses were recomputed as inputs, not recorded
    coached = {Path(i.path).name: int(i.result_ref) for i in _items(db, job.id, "coaching")}
    assert _counts(db)[0] == 4 and not reviewed & set(coached.values())
    for clip in clips:
        _check_coached(db, coached[clip.name], clip)
    with db.store() as store:
        assert {store.runs.get(r).config["feedback_from"] for r in reviewed} == {"analysis review"}
        new = store.runs.get(coached[clips[0].name])
        assert (new.config["batch_job"], new.exercise, new.timings.keys()) == (
            job.id,
            "squat",
            {"analysis_s", "coaching_s"},
        )
    before = _counts(db)
    _run(db, clips[0].parent, COACHED)
    assert _counts(db) == before


def test_a_failed_coaching_retried_or_resumed_replaces_the_runs_feedback_once(
    db: Database, clips: list[Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    real = stages.RUNNERS["coaching"]
    calls: dict[str, int] = {}

    def flaky(task: Any, stage: Any, state: Any) -> Any:  # the first clip fails once, the second every time
        calls[task.clip.path.name] = calls.get(task.clip.path.name, 0) + 1
        if task.clip.path.name == clips[1].name or calls[task.clip.path.name] == 1:
            raise RuntimeError("coach out of memory")
        return real(task, stage, state)

    monkeypatch.setitem(stages.RUNNERS, "coaching", flaky)
    job = _run(db, clips[0].parent, COACHED, max_attempts=2)
    assert (job.n_done, job.n_failed) == (5, 1)
    analyses = {Path(i.path).name: i for i in _items(db, job.id, "analysis")}
    runs = {name: int(i.result_ref) for name, i in analyses.items()}
    _check_coached(db, runs[clips[0].name], clips[0])  # retried in the same job: the analysis's run
    with db.store() as store:
        assert store.runs.get(runs[clips[1].name]).config["feedback_from"] == "analysis review"
    before = _counts(db)
    assert before[0] == 2

    monkeypatch.setitem(stages.RUNNERS, "coaching", real)
    resumed = _run(db, clips[0].parent, COACHED, max_attempts=2, retry_failed=True)
    assert (resumed.n_done, resumed.n_failed, resumed.n_executed) == (6, 0, 1)
    _check_coached(db, runs[clips[1].name], clips[1])  # the run the failed job recorded, its rows replaced
    with db.store() as store:
        assert store.runs.get(runs[clips[1].name]).config["batch_job"] == job.id
    review = len(analyses[clips[1].name].result["analysis"]["feedback"])
    assert _counts(db) == (before[0], before[1] - review + len(_expected(db, clips[1])))  # no new run, no copies
    after = _counts(db)
    _run(db, clips[0].parent, COACHED, max_attempts=2, retry_failed=True)
    assert _counts(db) == after


def test_with_parquet_shards_the_coachs_lines_are_written_with_the_analysiss_run(
    db: Database, clips: list[Path], tmp_path: Path
) -> None:
    job = _run(db, clips[0].parent, COACHED, shard_dir=tmp_path / "shards", shard_rows=1)
    assert (job.n_done, job.n_failed) == (6, 0)
    coachings = {Path(i.path).name: i for i in _items(db, job.id, "coaching")}
    for item in _items(db, job.id, "analysis"):
        assert "shard" in item.result
        assert coachings[Path(item.path).name].result_ref == item.result_ref
        _check_coached(db, int(item.result_ref), Path(item.path))
    assert _counts(db)[0] == 2


def _run_with_lines(db: Database) -> int:
    with db.store() as store:
        return store.runs.record_succeeded(
            config={"exercise": "squat", "feedback_from": "analysis review"},
            code_version="test",
            exercise="squat",
            clip_hash="h",
            model=None,
            reference_version=None,
            rules_version=None,
            threshold_versions=None,
            timings={},
            feedback=[FeedbackEvent(1.0, "Sit deeper.", ["rep 1: knee_depth"]), FeedbackEvent(2.0, "Good.", [])],
        )


def test_replace_feedback_swaps_the_rows_and_merges_the_config(db: Database) -> None:
    run_id = _run_with_lines(db)
    coach = FeedbackEvent(1.5, "Chest up!", ["rep 1: trunk_lean"], kind="corrective", n_tokens=3, step=6)
    with db.store() as store:
        store.runs.replace_feedback(run_id, [coach], config={"feedback_from": "coach:rule"})
        assert store.runs.feedback(run_id) == [coach]
        assert store.runs.get(run_id).config == {"exercise": "squat", "feedback_from": "coach:rule"}
        store.runs.replace_feedback(run_id, [])
        assert store.runs.feedback(run_id) == []


def test_replace_feedback_rolls_back_on_a_malformed_event(db: Database) -> None:
    run_id = _run_with_lines(db)
    with db.store() as store:
        old, config = store.runs.feedback(run_id), store.runs.get(run_id).config
        bad = FeedbackEvent(2.0, None, [])  # type: ignore[arg-type]  # a line without text: NOT NULL
        with pytest.raises(duckdb.ConstraintException, match="NOT NULL"):
            store.runs.replace_feedback(run_id, [FeedbackEvent(1.0, "New.", []), bad], config={"feedback_from": "x"})
        assert not store.session.in_transaction
        assert store.runs.feedback(run_id) == old and len(old) == 2
        assert store.runs.get(run_id).config == config
    with db.store() as store:  # and so it stays in a fresh session
        assert [e.text for e in store.runs.feedback(run_id)] == ["Sit deeper.", "Good."]
