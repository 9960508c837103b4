"""The streaming tracker finds exactly the reps and violations of the offline analysis, for every exercise
in the catalogue, on noisy tracks with dropouts and faults."""

import numpy as np
import pytest

from workbench.exercises import load_catalogue
from workbench.motion.analysis import analyze, analyze_streaming
from workbench.motion.tracker import StreamingTracker
from workbench.pose.synthetic import Fault, synthesize

KEYS = [e.key for e in load_catalogue() if e.fixed_side is None]


@pytest.mark.parametrize("key", KEYS)
def test_stream_is_identical_to_offline(key: str) -> None:
    ex = load_catalogue().get(key)
    track, _ = synthesize(
        ex,
        8,
        jitter=0.1,
        noise_deg=2.0,
        dropout=0.03,
        seed=11,
        faults=(Fault("shallow", (2,), 25), Fault("wobble", (5,), 10)),
    )
    offline = analyze(track, ex).to_json()
    stream = analyze_streaming(track, ex).to_json()
    assert offline["reps"] == stream["reps"]
    assert offline["context"] == stream["context"]
    assert offline["feedback"] == stream["feedback"]
    assert offline["warnings"] == stream["warnings"]


def test_pose_state_is_current_every_frame_and_violations_arrive_with_the_cycle() -> None:
    ex = load_catalogue().get("squat")
    track, truth = synthesize(ex, 4, faults=(Fault("shallow", (1,), 30),), seed=3)
    tracker = StreamingTracker(ex, track.observed, track.fps)
    seen_issue_at = None
    for i in range(track.n_frames):
        done = tracker.push(track.q[i], float(track.t[i]))
        knee = round(np.degrees(track.q[i, 6])) + 0
        assert f"right knee {knee}°" in tracker.pose_state()
        if done and done[-1].violations and seen_issue_at is None:
            seen_issue_at = float(track.t[i])
            assert "Right knee flexion insufficient" in tracker.context()
    _start, end = truth.rep_bounds_s[1]
    assert seen_issue_at is not None and end <= seen_issue_at < end + 1.5  # reported soon after rep 2 ends
