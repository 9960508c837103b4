"""Progress on the command line (tqdm: count, throughput, ETA) and as text for the store's readers."""

from __future__ import annotations

import sys
from typing import Any

from workbench.store.batches import BatchJob, BatchRepository, driver_alive


class Bar:
    """A tqdm bar over work items; its total grows while the selection is still being read."""

    def __init__(self, enabled: bool, total: int | None = None, desc: str = "batch"):
        self.bar: Any = None
        if enabled:
            from tqdm import tqdm

            self.bar = tqdm(total=total, desc=desc, unit="item", dynamic_ncols=True, file=sys.stderr, smoothing=0.1)

    def set_total(self, total: int) -> None:
        if self.bar is not None and (self.bar.total or 0) < total:
            self.bar.total = total
            self.bar.refresh()

    def advance(self, n: int, failed: int, skipped: int) -> None:
        if self.bar is not None:
            self.bar.set_postfix(failed=failed, skipped=skipped, refresh=False)
            self.bar.update(n)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


def format_duration(seconds: float | None) -> str:
    if seconds is None:
        return "–"
    h, rem = divmod(round(seconds), 3600)
    m, s = divmod(rem, 60)
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m}:{s:02d}"


def describe(job: BatchJob) -> str:
    """One line: ``job 3 running: 40/120 done, 2 failed, 78 pending · 3.1 items/s · ETA 0:25``."""
    rate = job.throughput_per_s
    total = f"{job.n_selected}" + ("" if job.selection_done else "+")
    return (
        f"job {job.id} ({job.name}) {job.status}: {job.n_done}/{total} done ({job.n_skipped} already done), "
        f"{job.n_failed} failed, {job.n_pending} pending · "
        f"{f'{rate:.2f} items/s' if rate else '– items/s'} · ETA {format_duration(job.eta_s)}"
    )


def job_rows(db: Any, limit: int = 20) -> tuple[list[dict[str, Any]], dict[int, list[tuple[str, str, int, str]]]]:
    """The latest batch jobs as table rows (newest first) and each job's latest errors, from the store."""
    with db.store() as store:
        repo = BatchRepository(store.session)
        jobs = repo.jobs(limit)
        errors = {j.id: repo.errors(j.id, limit=5) for j in jobs if j.n_failed}
    rows = []
    for j in jobs:
        rate = j.throughput_per_s
        status = j.status
        if status == "running" and not driver_alive(j.host, j.pid, j.heartbeat_at):
            status = "stopped (driver gone; run it again to continue)"
        rows.append(
            {
                "job": j.id,
                "name": j.name,
                "status": status,
                "engine": j.engine,
                "done": j.n_done,
                "failed": j.n_failed,
                "pending": j.n_pending,
                "selected": f"{j.n_selected}" + ("" if j.selection_done else "+"),
                "already_done": j.n_skipped,
                "items_per_min": round(rate * 60, 1) if rate else None,
                "eta": format_duration(j.eta_s),
                "started_at": str(j.started_at)[:19],
            }
        )
    return rows, errors
