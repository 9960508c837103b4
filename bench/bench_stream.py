"""Streaming tracker throughput on one core.

Target: >= 20,000 frames/s. The baseline, measured in the same run, is the least a frame-by-frame consumer
does: a Python loop that copies each 46-angle row into a buffer. Prints frames/s and the ratio to it.
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

import numpy as np
from common import hour_track, one_core


def main() -> dict[str, float]:
    one_core()
    from workbench.exercises import load_catalogue
    from workbench.motion.tracker import StreamingTracker
    from workbench.pose.posefile import load_npz

    with tempfile.TemporaryDirectory() as tmp:
        track = load_npz(hour_track(Path(tmp) / "hour.npz", seconds=600.0))
    ex = load_catalogue().get("squat")
    rows, times = list(track.q), track.t.tolist()
    n = len(rows)

    buffer = np.empty_like(track.q)
    start = time.perf_counter()
    for i, row in enumerate(rows):
        buffer[i] = row
    baseline = time.perf_counter() - start

    best = float("inf")
    for _ in range(3):
        tracker = StreamingTracker(ex, track.observed, track.fps)
        start = time.perf_counter()
        for row, t in zip(rows, times, strict=True):
            tracker.push(row, t)
        tracker.finish()
        best = min(best, time.perf_counter() - start)
    fps_tracker, fps_base = n / best, n / baseline
    print(
        f"stream: {fps_tracker:,.0f} frames/s on one core (target >= 20,000; {len(tracker.reps)} reps); "
        f"baseline row-copy loop {fps_base:,.0f} frames/s; tracker costs {fps_base / fps_tracker:.1f}x the baseline"
    )
    return {"frames_per_s": fps_tracker, "baseline_frames_per_s": fps_base}


if __name__ == "__main__":
    main()
