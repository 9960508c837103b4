"""Concurrent writers in separate OS processes on one real database file.

DuckDB lets one process hold the file read-write at a time, so the store opens it per operation and
retries while it is locked; each edit is a compare-and-swap on the item's current version. Two processes
released together by a barrier, both editing the same threshold from the same base version, must end with
exactly one new version and one ConflictError naming the winner — never two versions, never a lost edit.
"""

from __future__ import annotations

import multiprocessing as mp
import time
from multiprocessing.synchronize import Barrier
from pathlib import Path
from typing import Any

import pytest

from workbench.store import ConflictError, Database, StoreBusyError, export, import_dir, init_from_references

pytestmark = pytest.mark.slow

SQUAT_ONLY = ("squat",)


def _seed(tmp_path: Path) -> Path:
    """A database seeded with the squat only (the processes, not the seed, are under test)."""
    refs = tmp_path / "refs"
    (refs / "exercises").mkdir(parents=True)
    (refs / "trajectories").mkdir()
    root = Path(__file__).resolve().parents[2] / "references"
    for key in SQUAT_ONLY:
        (refs / "exercises" / f"{key}.yaml").write_bytes((root / "exercises" / f"{key}.yaml").read_bytes())
        for suffix in ("", "_sd"):
            name = f"{key}{suffix}.npy"
            (refs / "trajectories" / name).write_bytes((root / "trajectories" / name).read_bytes())
    path = tmp_path / "shared.duckdb"
    init_from_references(Database(path), refs)
    return path


# Workers run in fresh interpreters (spawn), so they are module-level functions returning plain tuples.


def _edit_worker(path: str, who: str, low: float, base: int, barrier: Barrier) -> tuple[str, str, Any]:
    db = Database(path)  # opening (and migrating) happens before the barrier: only the edits race
    barrier.wait()
    try:
        with db.store() as store:
            v = store.thresholds.edit(
                "squat", "knee_depth", base_version=base, author=who, note=f"{who}'s edit", bounds_deg=(low, None)
            )
        return ("ok", who, (v.version, db.lock_retries))
    except ConflictError as exc:
        return ("conflict", who, (str(exc), db.lock_retries))


def _import_worker(path: str, who: str, in_dir: str, barrier: Barrier) -> tuple[str, str, Any]:
    db = Database(path)
    barrier.wait()
    try:
        return ("ok", who, import_dir(db, Path(in_dir), author=who, note="import").changes)
    except ConflictError as exc:
        return ("conflict", who, str(exc))


def _hold_worker(path: str, seconds: float, held: Any) -> None:
    db = Database(path)
    with db.session():
        held.set()
        time.sleep(seconds)


def _report(target: Any, args: tuple[Any, ...], results: Any) -> None:
    """Run a worker in the child and send back its outcome (or the unexpected error, so the test shows it)."""
    try:
        results.put(target(*args))
    except Exception as exc:
        results.put(("error", type(exc).__name__, str(exc)))


def _run_pair(target: Any, args_a: tuple[Any, ...], args_b: tuple[Any, ...]) -> list[tuple[str, str, Any]]:
    """Both workers in their own spawned process, released together by a barrier."""
    ctx = mp.get_context("spawn")
    barrier, results = ctx.Barrier(2), ctx.Queue()
    procs = [ctx.Process(target=_report, args=(target, (*args, barrier), results)) for args in (args_a, args_b)]
    for p in procs:
        p.start()
    try:
        return sorted(results.get(timeout=120) for _ in procs)
    finally:
        for p in procs:
            p.join(30)


def test_two_processes_editing_one_threshold_from_one_base_one_wins(tmp_path: Path) -> None:
    path = _seed(tmp_path)
    rounds = 3
    waits: list[int] = []  # lock retries per round: > 0 when the two really collided on the file
    for base in range(1, rounds + 1):
        low_a, low_b = 90.0 + base, 80.0 + base
        results = _run_pair(_edit_worker, (str(path), "alice", low_a, base), (str(path), "bob", low_b, base))
        outcomes = [r[0] for r in results]
        assert sorted(outcomes) == ["conflict", "ok"], results
        winner = next(r for r in results if r[0] == "ok")
        loser = next(r for r in results if r[0] == "conflict")
        assert winner[2][0] == base + 1
        assert f"threshold squat/knee_depth was changed to version {base + 1} by {winner[1]} at" in loser[2][0]
        assert f"your edit was based on version {base}" in loser[2][0]
        waits.append(winner[2][1] + loser[2][1])
        with Database(path).store() as store:
            current = store.thresholds.get("squat", "knee_depth")
            assert current.version == base + 1 and current.author == winner[1]
            assert current.spec.bounds_deg == ((low_a if winner[1] == "alice" else low_b), None)
    with Database(path).store() as store:
        history = store.thresholds.history("squat", "knee_depth")
    # One version per round on top of the seed: every successful edit kept, no loser's edit written.
    assert [h.version for h in history] == list(range(1, rounds + 2))
    assert [h.parent_version for h in history] == [None, *range(1, rounds + 1)]
    print(f"lock retries per round: {waits}")


def test_two_processes_importing_edits_of_one_export_one_wins(tmp_path: Path) -> None:
    path = _seed(tmp_path)
    export(Database(path), tmp_path / "export")
    dirs = []
    for who, low in (("alice", 95), ("bob", 85)):
        d = tmp_path / who
        (d / "exercises").mkdir(parents=True)
        (d / "trajectories").mkdir()
        text = (tmp_path / "export/exercises/squat.yaml").read_text(encoding="utf-8")
        (d / "exercises/squat.yaml").write_text(text.replace("bounds_deg: [90.0, null]", f"bounds_deg: [{low}, null]"))
        dirs.append(str(d))
    results = _run_pair(_import_worker, (str(path), "alice", dirs[0]), (str(path), "bob", dirs[1]))
    assert sorted(r[0] for r in results) == ["conflict", "ok"], results
    loser = next(r for r in results if r[0] == "conflict")
    assert "squat.yaml: threshold squat/knee_depth was changed to version 2" in loser[2]
    with Database(path).store() as store:
        assert len(store.thresholds.history("squat", "knee_depth")) == 2


def test_a_writer_waits_for_a_process_holding_the_file_then_succeeds(tmp_path: Path) -> None:
    path = _seed(tmp_path)
    ctx = mp.get_context("spawn")
    held = ctx.Event()
    holder = ctx.Process(target=_hold_worker, args=(str(path), 1.5, held))
    holder.start()
    try:
        assert held.wait(60)
        start = time.monotonic()
        with Database(path, lock_timeout_s=30).store() as store:
            store.thresholds.edit(
                "squat", "knee_depth", base_version=1, author="carol", note="after the wait", bounds_deg=(100, None)
            )
        waited = time.monotonic() - start
    finally:
        holder.join(30)
    assert 0.5 < waited < 20, waited
    with Database(path).store() as store:
        assert store.thresholds.get("squat", "knee_depth").version == 2


def test_a_writer_gives_up_with_a_clear_error_after_the_lock_timeout(tmp_path: Path) -> None:
    path = _seed(tmp_path)
    ctx = mp.get_context("spawn")
    held = ctx.Event()
    holder = ctx.Process(target=_hold_worker, args=(str(path), 3.0, held))
    holder.start()
    try:
        assert held.wait(60)
        with pytest.raises(StoreBusyError, match=r"another process has held the database for more than 0.5 s"):
            Database(path, lock_timeout_s=0.5)
    finally:
        holder.join(30)
    db = Database(path)
    assert db.schema_version() == len(db.migrations)  # usable again once the holder is gone
