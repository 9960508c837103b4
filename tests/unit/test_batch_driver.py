"""The batch driver with the in-process engine: results in the store, idempotent re-runs, bounded retries of a
corrupt clip, copies run once, a bounded window over a streamed selection, Parquet shards, orphaned jobs."""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from tests.batch_support import corrupt_clip, digests, make_clips, plan, spec, squat_store
from workbench.batch.driver import run_job
from workbench.batch.engines import InlineEngine
from workbench.batch.jobs import ClipRef, Task, TaskResult
from workbench.batch.select import from_folder
from workbench.store.batches import BatchRepository, NewItem


@pytest.fixture
def db(tmp_path: Path) -> Any:
    return squat_store(tmp_path / "store.duckdb")


def _items(db: Any, job_id: int, **kw: Any) -> list[Any]:
    with db.store() as store:
        return BatchRepository(store.session).items(job_id, **kw)


def test_results_land_in_the_store_and_a_rerun_skips_them(db: Any, tmp_path: Path) -> None:
    clips = make_clips(tmp_path / "clips", 3)
    report = run_job(spec(), from_folder(tmp_path / "clips"), plan(db), db)
    job = report.job
    assert (job.status, job.n_selected, job.n_done, job.n_failed, job.n_skipped, job.n_executed) == (
        "finished",
        6,
        6,
        0,
        0,
        6,
    )
    analyses = _items(db, job.id, stage="analysis")
    with db.store() as store:
        for item in analyses:
            run = store.runs.get(int(item.result_ref))
            assert (run.status, run.exercise, run.config["batch_job"]) == ("succeeded", "squat", job.id)
            assert run.threshold_versions["knee_depth"] == 1
            assert item.result["summary"]["n_reps"] == 3  # synthesised with 3 reps
            assert item.result["analysis"]["provenance"]["input_sha256"] == item.clip_hash
            feedback = item.result["analysis"]["feedback"]
            stored = [(e.text, e.t_s) for e in store.runs.feedback(run.id)]
            assert stored == [(f["text"], f["t_s"]) for f in feedback]
    assert {Path(i.path).name for i in analyses} == {p.name for p in clips}
    again = run_job(spec(), from_folder(tmp_path / "clips"), plan(db), db).job
    assert (again.n_done, again.n_skipped, again.n_executed) == (6, 6, 0)
    assert [i.attempts for i in _items(db, again.id)] == [1] * 6  # nothing ran twice
    assert {i.job_id for i in _items(db, again.id)} == {job.id}


def test_a_corrupt_clip_is_retried_a_bounded_number_of_times_and_the_others_finish(db: Any, tmp_path: Path) -> None:
    make_clips(tmp_path / "clips", 2)
    corrupt_clip(tmp_path / "clips")
    job = run_job(spec(max_attempts=3), from_folder(tmp_path / "clips"), plan(db), db).job
    assert (job.n_done, job.n_failed) == (4, 2)
    failed = {i.stage: i for i in _items(db, job.id, status="failed")}
    assert failed["pose"].attempts == failed["pose"].failures == 3
    assert "broken.npz" in failed["pose"].error and "PoseFileError" in failed["pose"].error
    assert failed["analysis"].error == "not run: stage pose failed"
    rerun = run_job(spec(max_attempts=3), from_folder(tmp_path / "clips"), plan(db), db)
    assert _items(db, rerun.job.id, status="failed")[0].attempts == 3  # given up: not tried again
    assert any("broken.npz" in e[0] for e in rerun.errors)
    retried = run_job(spec(max_attempts=3), from_folder(tmp_path / "clips"), plan(db), db, retry_failed=True)
    assert {i.attempts for i in _items(db, retried.job.id, status="failed")} == {6}


def test_a_threshold_edit_reanalyses_without_reextracting_the_pose(db: Any, tmp_path: Path) -> None:
    make_clips(tmp_path / "clips", 2)
    run_job(spec(), from_folder(tmp_path / "clips"), plan(db), db)
    with db.store() as store:
        t = store.thresholds.get("squat", "knee_depth")
        store.thresholds.edit(
            "squat", "knee_depth", base_version=t.version, author="t", note="deeper", bounds_deg=(160.0, None)
        )
    second = run_job(spec(), from_folder(tmp_path / "clips"), plan(db), db).job
    assert (second.n_skipped, second.n_executed) == (2, 2)  # the poses were done, the analyses are new work
    new = _items(db, second.id, stage="analysis")
    assert all(i.job_id == second.id and i.params["versions"]["threshold_versions"]["knee_depth"] == 2 for i in new)
    assert all(i.result["summary"]["n_violations"] > 0 for i in new)  # every rep misses a 160° knee bound


def test_a_copy_of_a_clip_under_another_name_runs_once(db: Any, tmp_path: Path) -> None:
    (a,) = make_clips(tmp_path / "clips", 1)
    (tmp_path / "clips" / "copy.npz").write_bytes(a.read_bytes())
    job = run_job(spec(), from_folder(tmp_path / "clips"), plan(db), db).job
    assert (job.n_selected, job.n_done) == (2, 2)
    assert [i.attempts for i in _items(db, job.id)] == [1, 1]


class CountingEngine(InlineEngine):
    """Runs tasks in process but holds results until waited for, recording the most in flight at once."""

    def __init__(self) -> None:
        super().__init__()
        self.in_flight = 0
        self.most = 0

    def submit(self, task: Task) -> int:
        self.in_flight += 1
        self.most = max(self.most, self.in_flight)
        return super().submit(task)

    def wait_some(self, handles: list[Any], timeout_s: float | None) -> list[tuple[Any, TaskResult | BaseException]]:
        self.in_flight -= 1
        return super().wait_some(handles[:1], timeout_s)


def test_the_selection_is_streamed_and_the_window_bounds_the_tasks_in_flight(db: Any, tmp_path: Path) -> None:
    clips = make_clips(tmp_path / "clips", 12, reps=2)
    pulled: list[int] = []

    def stream() -> Iterator[ClipRef]:
        for i, p in enumerate(clips):
            pulled.append(i)
            yield ClipRef(path=p, exercise="squat")

    engine = CountingEngine()
    seen_when_first_done: list[int] = []
    original = engine.wait_some

    def wait_some(handles: list[Any], timeout_s: float | None) -> list[tuple[Any, TaskResult | BaseException]]:
        seen_when_first_done.append(len(pulled))
        return original(handles, timeout_s)

    engine.wait_some = wait_some  # type: ignore[method-assign]
    job = run_job(spec(max_in_flight=3), stream(), plan(db), db, engine=engine).job
    assert job.n_done == 24 and engine.most == 3
    assert seen_when_first_done[0] == 8  # one chunk of max(8, window) clips read before the first result


def test_parquet_shards_hold_the_documents_and_the_store_reads_them(db: Any, tmp_path: Path) -> None:
    make_clips(tmp_path / "clips", 3)
    shards = tmp_path / "shards"
    job = run_job(spec(shard_dir=shards, shard_rows=2), from_folder(tmp_path / "clips"), plan(db), db).job
    assert sorted(p.name for p in shards.iterdir()) == [f"job{job.id:06d}-{n:05d}.parquet" for n in (0, 1)]
    with db.store() as store:
        rows = BatchRepository(store.session).shard_results(job.id)
    assert [(r["shard"], r["row"]) for r in rows] == [(0, 0), (0, 1), (1, 0)]
    items = {i.work_key: i for i in _items(db, job.id, stage="analysis")}
    import json

    for r in rows:
        item = items[r["work_key"]]
        assert item.result["shard"].endswith(f"-{r['shard']:05d}.parquet#{r['row']}")
        assert "analysis" not in item.result  # the document is in the shard, not in the store row
        doc = json.loads(r["result_json"])
        assert doc["provenance"]["input_sha256"] == item.clip_hash and r["n_reps"] == len(doc["reps"]) == 3
    assert digests(db, job.id) and all(d for d in digests(db, job.id).values())


def test_a_dead_drivers_running_items_go_back_to_pending(db: Any, tmp_path: Path) -> None:
    (clip,) = make_clips(tmp_path / "clips", 1)
    import subprocess
    import sys

    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    with db.store() as store:
        repo = BatchRepository(store.session)
        job_id = repo.create_job(name="x", spec={}, engine="local", code_version="0")
        store.session.execute("UPDATE batch_jobs SET pid = ? WHERE id = ?", [int(dead.stdout), job_id])
        repo.select_items(job_id, [NewItem("k1", "h", "pose", "p", "{}", str(clip), None)], 0)
        repo.mark_running(job_id, ["k1"])
        from workbench.batch.progress import job_rows

        rows, _ = job_rows(db)
        assert rows[0]["status"].startswith("stopped (driver gone")  # what the runs page shows before a restart
        assert repo.reset_orphans() == [job_id]
        assert (repo.item("k1").status, repo.item("k1").attempts) == ("pending", 1)
        assert repo.job(job_id).status == "interrupted"
        live = repo.create_job(name="y", spec={}, engine="local", code_version="0")
        store.session.execute("UPDATE batch_jobs SET pid = ? WHERE id = ?", [os.getppid(), live])
        assert repo.reset_orphans() == []  # a live driver's job is left alone


def test_coaching_and_evaluation_stages_follow_a_done_analysis(db: Any, tmp_path: Path) -> None:
    import json

    clips = make_clips(tmp_path / "clips", 2)
    truth = [{"t_s": 1.0, "text": "Sit deeper at the bottom."}]
    (tmp_path / "clips" / f"{clips[0].name}.feedback.json").write_text(json.dumps(truth))
    run_job(spec(), from_folder(tmp_path / "clips"), plan(db), db)
    full = replace(plan(db), stages=["pose", "analysis", "coaching", "evaluation"])
    job = run_job(spec(max_attempts=1), from_folder(tmp_path / "clips"), full, db).job
    assert (job.n_skipped, job.n_done, job.n_failed) == (4, 7, 1)  # the clip without ground truth cannot be scored
    assert [i.attempts for i in _items(db, job.id, stage="analysis")] == [1, 1]  # recomputed as input, not redone
    coached = _items(db, job.id, stage="coaching")
    assert all(i.result["summary"]["coach"] == "rule" for i in coached)
    assert [len(i.result["utterances"]) for i in coached] == [i.result["summary"]["n_utterances"] for i in coached]
    (scored,) = _items(db, job.id, stage="evaluation", status="done")
    assert scored.path.endswith(clips[0].name) and scored.result["summary"]["metrics"]["n_gt"] == 1
    (unscored,) = _items(db, job.id, stage="evaluation", status="failed")
    assert "feedback.json beside the clip" in unscored.error


def test_extracted_poses_fill_the_pipelines_cache_and_feed_a_later_analysis(db: Any, tmp_path: Path) -> None:
    from tests.batch_support import landmark_clip
    from workbench.pipeline import analyze_clip

    clip = landmark_clip(tmp_path / "clips" / "squat.landmarks.npz")
    first = run_job(spec(), from_folder(tmp_path / "clips"), plan(db), db).job
    (pose,) = _items(db, first.id, stage="pose")
    assert (pose.result_kind, pose.params["backend"]) == ("pose_tracks", "landmarks")
    before = digests(db, first.id)
    with db.store() as store:  # a new analysis version: only the analysis is pending, its pose comes from the cache
        t = store.thresholds.get("squat", "knee_depth")
        store.thresholds.edit(
            "squat", "knee_depth", base_version=t.version, author="t", note="n", bounds_deg=(95.0, None)
        )
    second = run_job(spec(), from_folder(tmp_path / "clips"), plan(db), db).job
    assert (second.n_skipped, second.n_executed) == (1, 1)
    assert _items(db, second.id, stage="pose")[0].attempts == 1  # IK not run again
    # a revert is version 3 with version 1's bounds: a new key, analysed from the cached pose, the first's content
    with db.store() as store:
        t = store.thresholds.get("squat", "knee_depth")
        store.thresholds.revert("squat", "knee_depth", to_version=1, base_version=t.version, author="t", note="back")
    third = run_job(spec(), from_folder(tmp_path / "clips"), plan(db), db).job
    assert third.n_executed == 1 and digests(db, third.id) == before
    assert analyze_clip(clip, "squat", db=db).analysis.provenance["pose_cache"] == "hit"


def test_reviewed_salient_joints_as_the_pipeline_uses_them(
    db: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from types import SimpleNamespace

    import workbench.store.review_labels as labels
    from workbench.pipeline import analyze_clip
    from workbench.store.clips_repo import sha256_file

    (clip,) = make_clips(tmp_path / "clips", 1)
    label = SimpleNamespace(
        clip_hash=sha256_file(clip),
        joints=("tibia_r", "femur_r"),
        proposal_id="p7",
        version=2,
        reviewer="ann",
        segment="rep 1",
        start_s=0.5,
        end_s=2.5,
    )
    monkeypatch.setattr(labels, "accepted_salient_labels", lambda db, exercise=None: [label])
    job = run_job(spec(), from_folder(tmp_path / "clips"), plan(db), db).job
    (item,) = _items(db, job.id, stage="analysis")
    assert item.params["salient"] == ["femur_r", "tibia_r"]  # SKEL order
    doc = item.result["analysis"]
    expected = analyze_clip(clip, "squat", db=db).analysis
    assert doc["salient_joints"] == expected.salient_joints
    assert doc["provenance"]["salient_joints_from"] == expected.provenance["salient_joints_from"]
    assert [len(r["violations"]) for r in doc["reps"]] == [len(r.violations) for r in expected.reps]


def test_a_registered_clip_whose_file_is_gone_is_reported_and_the_others_run(db: Any, tmp_path: Path) -> None:
    from workbench.batch.select import from_store

    clips = make_clips(tmp_path / "clips", 3)
    with db.store() as store:
        for p in clips:
            store.clips.register(p, exercise="squat")
    clips[1].unlink()
    report = run_job(spec(), from_store(db, "exercise = 'squat'"), plan(db, exercise=None), db)
    assert report.missing == [str(clips[1])]
    assert (report.job.n_selected, report.job.n_done) == (4, 4)
