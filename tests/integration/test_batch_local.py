"""`biocoach batch` on the local process pool: the same results as in-process, and a driver killed half-way
(SIGKILL, found by polling the store) whose restart finishes the rest without redoing finished clips."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from tests.batch_support import corrupt_clip, digests, landmark_clip, make_clips, plan, spec, squat_store
from workbench.batch.driver import run_job
from workbench.batch.select import from_folder
from workbench.store.batches import BatchRepository
from workbench.store.database import Database

REPO = Path(__file__).resolve().parents[2]


def test_the_process_pool_gives_the_same_results_as_in_process(tmp_path: Path) -> None:
    make_clips(tmp_path / "clips", 4)
    landmark_clip(tmp_path / "clips" / "squat.landmarks.npz")  # a cached backend: its track travels as bytes
    corrupt_clip(tmp_path / "clips")
    inline_db = squat_store(tmp_path / "inline.duckdb")
    pool_db = squat_store(tmp_path / "pool.duckdb")
    inline = run_job(spec(), from_folder(tmp_path / "clips"), plan(inline_db), inline_db)
    pool = run_job(spec(engine="local", workers=2), from_folder(tmp_path / "clips"), plan(pool_db), pool_db)
    assert (pool.job.n_done, pool.job.n_failed) == (inline.job.n_done, inline.job.n_failed) == (10, 2)
    expected = digests(inline_db, inline.job.id)
    assert len(expected) == 5 and digests(pool_db, pool.job.id) == expected
    with pool_db.store() as store:
        items = BatchRepository(store.session).items(pool.job.id, status="done")
    assert {i.worker.split(":")[1] for i in items} - {str(os.getpid())}  # computed in worker processes
    assert any("broken.npz" in path and "PoseFileError" in error for path, _, _, error in pool.errors)


def _done(store_path: Path) -> dict[str, tuple[int, Any]]:
    db = Database(store_path)
    with db.session() as s:
        rows = s.all("SELECT work_key, attempts, finished_at FROM batch_items WHERE status = 'done'")
    return {k: (int(a), f) for k, a, f in rows}


@pytest.mark.slow
def test_a_killed_run_continues_where_it_stopped(tmp_path: Path) -> None:
    clips = make_clips(tmp_path / "clips", 10, reps=2)
    store_path = tmp_path / "store.duckdb"
    squat_store(store_path)
    env = dict(os.environ, BIOCOACH_DB=str(store_path))
    cmd = [
        sys.executable,
        "-m",
        "workbench.cli",
        "batch",
        "run",
        str(tmp_path / "clips"),
        "-e",
        "squat",
        "--workers",
        "1",
        "--no-progress",
    ]
    proc = subprocess.Popen(
        [*cmd, "--delay", "0.4"], env=env, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.STDOUT
    )
    deadline = time.monotonic() + 120
    try:
        while len(before := _done(store_path)) < 6:  # three clips (pose + analysis each)
            assert proc.poll() is None, proc.stdout.read().decode() if proc.stdout else ""
            assert time.monotonic() < deadline, "the batch made no progress"
            time.sleep(0.2)
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
    assert len(before) < 2 * len(clips), "the run finished before it could be killed"
    restarted = subprocess.run(cmd, env=env, cwd=REPO, capture_output=True, text=True, timeout=180)
    assert restarted.returncode == 0, restarted.stdout + restarted.stderr
    after = _done(store_path)
    assert len(after) == 2 * len(clips)
    for key, (_, finished_at) in before.items():
        assert after[key] == (1, finished_at), key  # finished before the kill: not run again
    db = Database(store_path)
    with db.store() as store:
        repo = BatchRepository(store.session)
        first, second = repo.job(1), repo.job(2)
        assert first.status == "interrupted"  # found dead by the restart
        assert (second.status, second.n_done, second.n_skipped) == ("finished", 20, len(before))
        assert second.n_executed == 20 - len(before)
        assert store.session.scalar("SELECT count(*) FROM runs") == len(clips)  # one run record per clip, no doubles
