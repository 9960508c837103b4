"""The rule coach's 4 Hz streaming loop over a 1-hour track, on one core.

Target: far above real time (≥ 100×: the loop must leave the CPU to the pose estimation). The baseline,
measured in the same run, is the bare streaming tracker over the same frames: the ratio is what the decision
loop (4 decisions a second: context text, phase, the coach's rules) adds on top of the motion analysis.
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

from common import hour_track, one_core


def main() -> dict[str, float]:
    one_core()
    from workbench.coach.loop import CoachStream
    from workbench.coach.rule_coach import RuleCoach
    from workbench.exercises import load_catalogue
    from workbench.motion.tracker import StreamingTracker
    from workbench.pose.posefile import load_npz

    with tempfile.TemporaryDirectory() as tmp:
        track = load_npz(hour_track(Path(tmp) / "hour.npz"))
    ex = load_catalogue().get("squat")
    rows, times = list(track.q), track.t.tolist()
    n = len(rows)

    def bare() -> None:
        tracker = StreamingTracker(ex, track.observed, track.fps)
        for row, t in zip(rows, times, strict=True):
            tracker.push(row, t)
        tracker.finish()

    events: list[object] = []

    def coached() -> None:
        stream = CoachStream(RuleCoach(tokens="words"), ex, track.observed, track.fps)
        for row, t in zip(rows, times, strict=True):
            stream.push(row, t)
        stream.finish()
        events[:] = stream.events

    t_bare = t_coach = float("inf")
    for _ in range(2):  # interleaved, best of two: the shared machine's noise hits both alike
        start = time.perf_counter()
        bare()
        t_bare = min(t_bare, time.perf_counter() - start)
        start = time.perf_counter()
        coached()
        t_coach = min(t_coach, time.perf_counter() - start)
    duration = float(times[-1] - times[0])
    print(
        f"rule coach loop: {n / t_coach:,.0f} frames/s on one core = {duration / t_coach:,.0f}x real time "
        f"({n:,} frames, {duration / 3600:.2f} h, {len(events)} events, {int(duration * 4):,} decision steps); "
        f"bare tracker {n / t_bare:,.0f} frames/s; the loop costs {t_coach / t_bare:.2f}x the tracker"
    )
    return {"frames_per_s": n / t_coach, "realtime_x": duration / t_coach, "bare_frames_per_s": n / t_bare}


if __name__ == "__main__":
    main()
