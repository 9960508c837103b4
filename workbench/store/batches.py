"""Batch jobs and their work items in the store (migration 0005). Only a batch driver writes here.

    with db.store() as store:
        repo = BatchRepository(store.session)
        job = repo.job(3)                      # counts, throughput, ETA
        failures = repo.items(3, status="failed")

Every method that writes several rows does it in one transaction (a driver killed mid-flush leaves the
items as they were: pending ones are redone, done ones stay done).
"""

from __future__ import annotations

import json
import os
import socket
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import duckdb

from workbench.store.session import Session, StoreError, utc_now

STALE_HEARTBEAT = timedelta(minutes=5)  # a driver on another host that has not written for this long is dead


@dataclass(frozen=True)
class BatchJob:
    id: int
    name: str
    status: str
    spec: dict[str, Any]
    engine: str
    code_version: str
    host: str
    pid: int
    n_selected: int
    selection_done: bool
    n_done: int
    n_failed: int
    n_skipped: int
    n_executed: int
    started_at: datetime
    heartbeat_at: datetime
    finished_at: datetime | None
    shard_dir: str | None

    @property
    def n_pending(self) -> int:
        return max(0, self.n_selected - self.n_done - self.n_failed)

    @property
    def elapsed_s(self) -> float:
        end = self.finished_at or self.heartbeat_at
        return max(0.0, (end - self.started_at).total_seconds())

    @property
    def throughput_per_s(self) -> float | None:
        """Items this job itself finished (done or failed for good) per second of its run time."""
        return self.n_executed / self.elapsed_s if self.n_executed and self.elapsed_s > 0 else None

    @property
    def eta_s(self) -> float | None:
        rate = self.throughput_per_s
        if self.status != "running" or rate is None:
            return None
        return self.n_pending / rate


@dataclass(frozen=True)
class BatchItem:
    work_key: str
    clip_hash: str
    stage: str
    params: dict[str, Any]
    path: str
    exercise: str | None
    status: str
    attempts: int
    failures: int
    error: str | None
    worker: str | None
    job_id: int | None
    queued_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    seconds: float | None
    result_kind: str | None
    result_ref: str | None
    result: dict[str, Any] | None


@dataclass(frozen=True)
class NewItem:
    work_key: str
    clip_hash: str
    stage: str
    params_hash: str
    params_json: str
    path: str
    exercise: str | None


@dataclass(frozen=True)
class Outcome:
    """One finished attempt of one item, as the driver records it."""

    work_key: str
    ok: bool
    worker: str
    seconds: float
    error: str | None = None
    result_kind: str | None = None
    result_ref: str | None = None
    result: dict[str, Any] | None = None
    provenance: dict[str, Any] | None = None


_JOB_COLUMNS = (
    "id, name, status, spec_json, engine, code_version, host, pid, n_selected, selection_done, n_done, "
    "n_failed, n_skipped, n_executed, started_at, heartbeat_at, finished_at, shard_dir"
)
_ITEM_COLUMNS = (
    "work_key, clip_hash, stage, params_json, path, exercise, status, attempts, failures, error, "
    "worker, job_id, queued_at, started_at, finished_at, seconds, result_kind, result_ref, "
    "result_json"
)


def this_host() -> str:
    return socket.gethostname()


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, owned by someone else
        return True
    return True


def driver_alive(host: str, pid: int, heartbeat_at: datetime, now: datetime | None = None) -> bool:
    """Whether a job's driver still runs: its process on this host, else a recent heartbeat."""
    if host == this_host():
        return pid != os.getpid() and pid_alive(pid)
    return (now or utc_now()) - heartbeat_at <= STALE_HEARTBEAT


class BatchRepository:
    def __init__(self, session: Session):
        self.s = session

    # ------------------------------------------------------------------------------------------- jobs

    def create_job(
        self, *, name: str, spec: dict[str, Any], engine: str, code_version: str, shard_dir: str | None = None
    ) -> int:
        now = utc_now()
        return int(
            self.s.scalar(
                "INSERT INTO batch_jobs (name, status, spec_json, engine, code_version, host, pid, started_at, "
                "heartbeat_at, shard_dir) VALUES (?, 'running', ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id",
                [
                    name,
                    json.dumps(spec, sort_keys=True),
                    engine,
                    code_version,
                    this_host(),
                    os.getpid(),
                    now,
                    now,
                    shard_dir,
                ],
            )
        )

    def job(self, job_id: int) -> BatchJob:
        r = self.s.one(f"SELECT {_JOB_COLUMNS} FROM batch_jobs WHERE id = ?", [job_id])
        if r is None:
            raise StoreError(f"batch job {job_id} does not exist in the store")
        return _job_row(r)

    def jobs(self, limit: int = 20) -> list[BatchJob]:
        rows = self.s.all(f"SELECT {_JOB_COLUMNS} FROM batch_jobs ORDER BY id DESC LIMIT ?", [limit])
        return [_job_row(r) for r in rows]

    def reset_orphans(self) -> list[int]:
        """Jobs whose driver died ('running', but its process is gone or silent): marked interrupted, and
        their running items back to pending so the next run takes them. Returns the job ids."""
        now = utc_now()
        dead: list[int] = []
        for job_id, host, pid, heartbeat in self.s.all(
            "SELECT id, host, pid, heartbeat_at FROM batch_jobs WHERE status = 'running'"
        ):
            if not driver_alive(host, int(pid), heartbeat, now):
                dead.append(int(job_id))
        if dead:
            marks = ", ".join("?" for _ in dead)
            with self.s.transaction():
                self.s.execute(
                    f"UPDATE batch_jobs SET status = 'interrupted', finished_at = heartbeat_at WHERE id IN ({marks})",
                    dead,
                )
                self.s.execute(
                    f"UPDATE batch_items SET status = 'pending' WHERE status = 'running' AND job_id IN ({marks})", dead
                )
        return dead

    def heartbeat(self, job_id: int) -> None:
        self.s.execute("UPDATE batch_jobs SET heartbeat_at = ? WHERE id = ?", [utc_now(), job_id])

    def requeue_running(self, job_id: int) -> None:
        """The job's items still running (an interrupted run) go back to pending for the next run."""
        self.s.execute("UPDATE batch_items SET status = 'pending' WHERE status = 'running' AND job_id = ?", [job_id])

    def refresh_counts(self, job_id: int, *, selection_done: bool | None = None, status: str | None = None) -> BatchJob:
        """Recount the job's items (one aggregate query) into its row, with a heartbeat."""
        now = utc_now()
        # one aggregate over the job's items; "executed" = finished by this job, "skipped" = done by another
        self.s.execute(
            "UPDATE batch_jobs SET n_selected = c.n, n_done = c.done, n_failed = c.failed, n_skipped = c.skipped, "
            "n_executed = c.executed, heartbeat_at = ?, selection_done = coalesce(?, selection_done), "
            "status = coalesce(?, status), "
            "finished_at = CASE WHEN ? IS NULL OR ? = 'running' THEN finished_at ELSE ? END "
            "FROM (SELECT count(*) AS n, count(*) FILTER (i.status = 'done') AS done, "
            "count(*) FILTER (i.status = 'failed') AS failed, "
            "count(*) FILTER (i.status = 'done' AND i.job_id IS DISTINCT FROM ?) AS skipped, "
            "count(*) FILTER (i.status IN ('done', 'failed') AND i.job_id = ?) AS executed "
            "FROM batch_job_items j JOIN batch_items i ON i.work_key = j.work_key WHERE j.job_id = ?) c "
            "WHERE id = ?",
            [now, selection_done, status, status, status, now, job_id, job_id, job_id, job_id],
        )
        return self.job(job_id)

    # ------------------------------------------------------------------------------------------- items

    def select_items(self, job_id: int, items: Sequence[NewItem], first_position: int) -> dict[str, tuple[str, int]]:
        """Add the items to the job (creating those never seen) and return {work key: (status, failures)}."""
        if not items:
            return {}
        cols = {
            name: [getattr(it, name) for it in items]
            for name in ("work_key", "clip_hash", "stage", "params_hash", "params_json", "path", "exercise")
        }
        with self.s.transaction():  # one statement per table whatever the number of items
            self.s.execute(
                "INSERT INTO batch_items (work_key, clip_hash, stage, params_hash, params_json, path, exercise, "
                "status, queued_at) SELECT DISTINCT ON (k) k, h, st, ph, pj, p, e, 'pending', ? FROM (SELECT "
                "unnest(?::VARCHAR[]) AS k, unnest(?::VARCHAR[]) AS h, unnest(?::VARCHAR[]) AS st, "
                "unnest(?::VARCHAR[]) AS ph, unnest(?::VARCHAR[]) AS pj, unnest(?::VARCHAR[]) AS p, "
                "unnest(?::VARCHAR[]) AS e) ON CONFLICT DO NOTHING",
                [utc_now(), *cols.values()],
            )
            self.s.execute(
                "INSERT INTO batch_job_items (job_id, work_key, position) SELECT ?, k, min(pos) FROM (SELECT "
                "unnest(?::VARCHAR[]) AS k, unnest(?::INTEGER[]) AS pos) GROUP BY k ON CONFLICT DO NOTHING",
                [job_id, cols["work_key"], list(range(first_position, first_position + len(items)))],
            )
        return self.states([it.work_key for it in items])

    def states(self, keys: Sequence[str]) -> dict[str, tuple[str, int]]:
        if not keys:
            return {}
        marks = ", ".join("?" for _ in keys)
        rows = self.s.all(f"SELECT work_key, status, failures FROM batch_items WHERE work_key IN ({marks})", list(keys))
        return {k: (st, int(f)) for k, st, f in rows}

    def mark_running(self, job_id: int, keys: Iterable[str]) -> None:
        keys = list(keys)
        if not keys:
            return
        self.s.execute(
            "UPDATE batch_items SET status = 'running', attempts = attempts + 1, job_id = ?, "
            "started_at = ?, worker = NULL WHERE list_contains(?, work_key)",
            [job_id, utc_now(), keys],
        )

    def record(self, job_id: int, outcome: Outcome) -> None:
        """One attempt's outcome. A failure keeps the previous result fields empty and counts a failure."""
        now = utc_now()
        if outcome.ok:
            self.s.execute(
                "UPDATE batch_items SET status = 'done', error = NULL, worker = ?, job_id = ?, finished_at = ?, "
                "seconds = ?, result_kind = ?, result_ref = ?, result_json = ?, provenance_json = ? WHERE work_key = ?",
                [
                    outcome.worker,
                    job_id,
                    now,
                    outcome.seconds,
                    outcome.result_kind,
                    outcome.result_ref,
                    json.dumps(outcome.result, sort_keys=True, default=str) if outcome.result is not None else None,
                    json.dumps(outcome.provenance or {}, sort_keys=True, default=str),
                    outcome.work_key,
                ],
            )
        else:
            self.s.execute(
                "UPDATE batch_items SET status = 'failed', failures = failures + 1, error = ?, worker = ?, "
                "job_id = ?, finished_at = ?, seconds = ? WHERE work_key = ?",
                [outcome.error, outcome.worker, job_id, now, outcome.seconds, outcome.work_key],
            )

    def record_many(self, job_id: int, outcomes: Sequence[Outcome]) -> None:
        """Many outcomes in two statements (done, failed): what a driver flush writes."""
        now = utc_now()
        done = [o for o in outcomes if o.ok]
        failed = [o for o in outcomes if not o.ok]
        if done:
            self.s.execute(
                "UPDATE batch_items SET status = 'done', error = NULL, worker = v.w, job_id = ?, finished_at = ?, "
                "seconds = v.sec, result_kind = v.kind, result_ref = v.ref, result_json = v.res, "
                "provenance_json = v.prov FROM (SELECT unnest(?::VARCHAR[]) AS k, unnest(?::VARCHAR[]) AS w, "
                "unnest(?::DOUBLE[]) AS sec, unnest(?::VARCHAR[]) AS kind, unnest(?::VARCHAR[]) AS ref, "
                "unnest(?::VARCHAR[]) AS res, unnest(?::VARCHAR[]) AS prov) v WHERE work_key = v.k",
                [
                    job_id,
                    now,
                    [o.work_key for o in done],
                    [o.worker for o in done],
                    [o.seconds for o in done],
                    [o.result_kind for o in done],
                    [o.result_ref for o in done],
                    [json.dumps(o.result, sort_keys=True, default=str) if o.result is not None else None for o in done],
                    [json.dumps(o.provenance or {}, sort_keys=True, default=str) for o in done],
                ],
            )
        if failed:
            self.s.execute(
                "UPDATE batch_items SET status = 'failed', failures = failures + 1, error = v.err, worker = v.w, "
                "job_id = ?, finished_at = ?, seconds = v.sec FROM (SELECT unnest(?::VARCHAR[]) AS k, "
                "unnest(?::VARCHAR[]) AS err, unnest(?::VARCHAR[]) AS w, unnest(?::DOUBLE[]) AS sec) v "
                "WHERE work_key = v.k",
                [
                    job_id,
                    now,
                    [o.work_key for o in failed],
                    [o.error for o in failed],
                    [o.worker for o in failed],
                    [o.seconds for o in failed],
                ],
            )

    def reset_failures(self, keys: Sequence[str]) -> None:
        """Give given-up items a fresh set of attempts (``--retry-failed``)."""
        for key in keys:
            self.s.execute(
                "UPDATE batch_items SET failures = 0, status = 'pending' WHERE work_key = ? AND status = 'failed'",
                [key],
            )

    def item(self, work_key: str) -> BatchItem:
        r = self.s.one(f"SELECT {_ITEM_COLUMNS} FROM batch_items WHERE work_key = ?", [work_key])
        if r is None:
            raise StoreError(f"batch item {work_key} does not exist in the store")
        return _item_row(r)

    def items(
        self, job_id: int, *, status: str | None = None, stage: str | None = None, limit: int | None = None
    ) -> list[BatchItem]:
        cols = ", ".join(f"i.{c.strip()}" for c in _ITEM_COLUMNS.split(","))
        sql = f"SELECT {cols} FROM batch_job_items j JOIN batch_items i ON i.work_key = j.work_key WHERE j.job_id = ?"
        params: list[object] = [job_id]
        if status is not None:
            sql += " AND i.status = ?"
            params.append(status)
        if stage is not None:
            sql += " AND i.stage = ?"
            params.append(stage)
        sql += " ORDER BY j.position"
        if limit is not None:
            sql += f" LIMIT {int(limit)}"
        return [_item_row(r) for r in self.s.all(sql, params)]

    def errors(self, job_id: int, limit: int = 10) -> list[tuple[str, str, int, str]]:
        """(path, stage, failures, error) of the job's failed items, most recent first."""
        rows = self.s.all(
            "SELECT i.path, i.stage, i.failures, i.error FROM batch_job_items j JOIN batch_items i "
            "ON i.work_key = j.work_key WHERE j.job_id = ? AND i.status = 'failed' ORDER BY i.finished_at DESC "
            "LIMIT ?",
            [job_id, limit],
        )
        return [(str(p), str(st), int(f), str(e)) for p, st, f, e in rows]

    def shard_results(self, job_id: int) -> list[dict[str, Any]]:
        """The rows of the job's Parquet shards (full analysis JSON of large runs), read by DuckDB itself."""
        shard_dir = self.s.scalar("SELECT shard_dir FROM batch_jobs WHERE id = ?", [job_id])
        if not shard_dir:
            return []
        pattern = os.path.join(shard_dir, f"job{job_id:06d}-*.parquet")
        import glob

        if not glob.glob(pattern):
            return []
        cur = self.s.con.execute("SELECT * FROM read_parquet(?) ORDER BY shard, row", [pattern])
        names = [d[0] for d in cur.description]
        return [dict(zip(names, r, strict=True)) for r in cur.fetchall()]


def write_parquet_shard(path: str | os.PathLike[str], columns: str, rows: Sequence[Sequence[object]]) -> None:
    """Write ``rows`` (``columns``: the SQL column definitions, in row order) as one Parquet file at ``path``,
    through an in-memory DuckDB (the shards :meth:`BatchRepository.shard_results` reads back)."""
    con = duckdb.connect()
    try:
        con.execute(f"CREATE TABLE shard ({columns})")
        if rows:
            con.executemany(f"INSERT INTO shard VALUES ({', '.join('?' for _ in rows[0])})", list(rows))
        quoted = str(path).replace("'", "''")
        con.execute(f"COPY shard TO '{quoted}' (FORMAT parquet)")
    finally:
        con.close()


def _job_row(r: tuple[Any, ...]) -> BatchJob:
    return BatchJob(
        id=int(r[0]),
        name=r[1],
        status=r[2],
        spec=json.loads(r[3]),
        engine=r[4],
        code_version=r[5],
        host=r[6],
        pid=int(r[7]),
        n_selected=int(r[8]),
        selection_done=bool(r[9]),
        n_done=int(r[10]),
        n_failed=int(r[11]),
        n_skipped=int(r[12]),
        n_executed=int(r[13]),
        started_at=r[14],
        heartbeat_at=r[15],
        finished_at=r[16],
        shard_dir=r[17],
    )


def _item_row(r: tuple[Any, ...]) -> BatchItem:
    return BatchItem(
        work_key=r[0],
        clip_hash=r[1],
        stage=r[2],
        params=json.loads(r[3]),
        path=r[4],
        exercise=r[5],
        status=r[6],
        attempts=int(r[7]),
        failures=int(r[8]),
        error=r[9],
        worker=r[10],
        job_id=r[11],
        queued_at=r[12],
        started_at=r[13],
        finished_at=r[14],
        seconds=r[15],
        result_kind=r[16],
        result_ref=r[17],
        result=json.loads(r[18]) if r[18] else None,
    )
