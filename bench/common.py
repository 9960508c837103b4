"""Shared helpers for the benchmarks: best-of-N timing and a one-hour synthetic session."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
BIOCOACH = [sys.executable, "-m", "workbench.cli"]


def best_of(fn: Callable[[], object], repeats: int = 3) -> float:
    """Minimum wall time of ``repeats`` runs: the least noisy estimate on a shared machine."""
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def run_cli(*args: str) -> None:
    subprocess.run([*BIOCOACH, *args], check=True, capture_output=True, cwd=REPO)


def one_core() -> None:
    """Pin this process (and the children it starts) to one core, as the streaming target says."""
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[0]})


def hour_track(path: Path, seconds: float = 3600.0) -> Path:
    """A noisy squat session of ``seconds`` at 30 fps (2.5 s reps, some shallow), saved as pose .npz."""
    if path.exists():
        return path
    from workbench.exercises import load_catalogue
    from workbench.pose.posefile import save_npz
    from workbench.pose.synthetic import Fault, synthesize

    ex = load_catalogue().get("squat")
    n = int(seconds / 2.5)
    track, _ = synthesize(
        ex,
        n,
        period_s=2.5,
        jitter=0.05,
        noise_deg=2.0,
        rest_s=0.0,
        seed=0,
        faults=(Fault("shallow", tuple(range(0, n, 7)), 30),),
    )
    save_npz(track, path)
    return path
