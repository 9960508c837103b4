"""Batch throughput (pose + analysis) on this machine: the local pool with 1 and 2 workers over long synthetic
sessions (the scaling), and a local Ray instance against the pool over short clips (Ray's overhead), each with
baselines measured in the same run.

- Scaling: ``--long`` clips of ``--long-reps`` reps (≈ 0.3 s of analysis each), in the driver itself (the
  baseline) and on the pool with 1 and 2 workers. "warm" reuses a pool that has run a job (its workers have
  imported the workbench); "cold" includes spawning them.
- Overhead: ``--short`` clips of 4 reps (≈ 10 ms of analysis each, so the per-task cost shows) on the warm
  2-worker pool and on warm Ray tasks (2 CPUs); ``ray.init`` is reported on its own (a cluster serves many jobs).

Every run writes into a fresh store (a re-run would skip everything).

    .venv/bin/python bench/bench_batch.py [--long 24] [--long-reps 200] [--short 48]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def _job(engine_name: str, workers: int, clips: Path, store: Path, engine: Any = None) -> float:
    from tests.batch_support import plan, spec, squat_store
    from workbench.batch.driver import run_job
    from workbench.batch.select import from_folder

    db = squat_store(store)
    start = time.perf_counter()
    report = run_job(
        spec("bench", engine=engine_name, workers=workers), from_folder(clips), plan(db), db, engine=engine
    )
    seconds = time.perf_counter() - start
    assert report.job.n_failed == 0 and report.job.n_executed == report.job.n_selected, report.job
    return seconds


def main(n_long: int = 24, long_reps: int = 200, n_short: int = 48) -> dict[str, float]:
    os.environ.setdefault("RAY_AUTH_MODE", "disabled")
    from tests.batch_support import make_clips
    from workbench.batch.engines import LocalEngine, RayEngine

    t: dict[str, float] = {}
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        long, short = root / "long", root / "short"
        make_clips(long, n_long, reps=long_reps)
        make_clips(short, n_short, reps=4, first_seed=1000)
        t["inline"] = _job("local", 0, long, root / "inline.duckdb")
        pools = {}
        for workers in (1, 2):
            t[f"pool{workers}_cold"] = _job("local", workers, long, root / f"cold{workers}.duckdb")
            pools[workers] = LocalEngine(workers)
            _job("local", workers, long, root / f"warmup{workers}.duckdb", pools[workers])
            t[f"pool{workers}"] = _job("local", workers, long, root / f"pool{workers}.duckdb", pools[workers])
        pools[1].close()
        t["short_pool2"] = _job("local", 2, short, root / "short-pool.duckdb", pools[2])
        pools[2].close()
        import ray

        t0 = time.perf_counter()
        ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
        t["ray_init"] = time.perf_counter() - t0
        try:
            engine = RayEngine(None, 2)
            _job("ray", 2, short, root / "ray-warm.duckdb", engine)  # workers start and import once
            t["short_ray"] = _job("ray", 2, short, root / "ray.duckdb", engine)
        finally:
            ray.shutdown()
    r = {k: n_long / t[k] for k in ("inline", "pool1", "pool2", "pool1_cold", "pool2_cold")}
    print(f"batch (pose + analysis); load average {os.getloadavg()[0]:.2f} on {os.cpu_count()} CPUs")
    print(
        f"  {n_long} sessions of {long_reps} reps: in the driver (baseline) {t['inline']:.2f} s = "
        f"{r['inline']:.2f} clips/s"
    )
    for w in (1, 2):
        print(
            f"  local pool, {w} worker(s): warm {t[f'pool{w}']:.2f} s = {r[f'pool{w}']:.2f} clips/s "
            f"({r[f'pool{w}'] / r['inline']:.2f}x the baseline); cold {t[f'pool{w}_cold']:.2f} s"
        )
    print(
        f"  scaling 2 workers / 1 worker: {r['pool2'] / r['pool1']:.2f}x warm, "
        f"{r['pool2_cold'] / r['pool1_cold']:.2f}x cold"
    )
    print(
        f"  {n_short} clips of 4 reps: warm 2-worker pool {t['short_pool2']:.2f} s, warm Ray (2 CPUs) "
        f"{t['short_ray']:.2f} s = {t['short_ray'] / t['short_pool2']:.2f}x the pool's time, "
        f"{(t['short_ray'] - t['short_pool2']) / n_short * 1000:+.1f} ms per clip; ray.init {t['ray_init']:.1f} s"
    )
    return t


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--long", type=int, default=24)
    parser.add_argument("--long-reps", type=int, default=200)
    parser.add_argument("--short", type=int, default=48)
    a = parser.parse_args()
    main(a.long, a.long_reps, a.short)
