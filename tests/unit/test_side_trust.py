"""Per-side trust: a DoF whose per-frame confidence is low over a rep is not judged there, the warning says so
once, and C_motion does not state it.

Fixture: synthetic squats seen from the right (every left-side DoF at confidence 0.2, the rest at 0.95) whose
LEFT knee the pose model gets wrong (it reads 40° shallower than the right: every rep would fail the 90° depth
bound on the left), and whose rep 1 is also truly shallow on the right.
"""

from __future__ import annotations

import numpy as np

from workbench.exercises import load_catalogue
from workbench.motion.analysis import analyze, analyze_streaming
from workbench.motion.engine import DEFAULT_MIN_DOF_CONFIDENCE
from workbench.pose.synthetic import Fault, synthesize
from workbench.pose.track import PoseTrack
from workbench.skeleton import DOFS, dof_index

SQUAT = load_catalogue().get("squat")
N_REPS = 4


def _far_left_squats(with_confidence: bool = True) -> PoseTrack:
    shallow = Fault("shallow", (1,), 30, ("knee_angle_r",))
    track, _ = synthesize(SQUAT, N_REPS, noise_deg=1.0, seed=3, faults=(shallow,))
    q = track.q.copy()
    right, left = dof_index("knee_angle_r"), dof_index("knee_angle_l")
    q[:, left] = np.radians(5.0) + 0.6 * (q[:, right] - np.radians(5.0))  # the far knee's guess: too shallow
    conf = np.full(q.shape, 0.95)
    conf[:, [i for i, d in enumerate(DOFS) if d.side == "left"]] = 0.2
    return track.with_q(q, dof_confidence=conf if with_confidence else None)


def test_the_fixture_would_judge_the_far_knee_without_confidence() -> None:
    analysis = analyze(_far_left_squats(with_confidence=False), SQUAT)
    assert all(any(v.dof == "knee_angle_l" for v in r.violations) for r in analysis.reps)


def test_the_low_side_is_not_judged_and_the_near_side_still_is() -> None:
    analysis = analyze(_far_left_squats(), SQUAT)
    assert len(analysis.reps) == N_REPS
    judged = [(r.index, v.dof) for r in analysis.reps for v in r.violations]
    assert not any(d.endswith("_l") for _, d in judged)
    assert (1, "knee_angle_r") in judged  # the real fault on the seen side
    for rep in analysis.reps:
        assert "knee_angle_l" in rep.not_judged
        assert "knee_depth@knee_angle_l" not in rep.check_values
        assert rep.to_json()["not_judged"] == list(rep.not_judged)


def test_the_warning_names_the_dof_and_the_reps_once() -> None:
    warnings = analyze(_far_left_squats(), SQUAT).warnings
    trust = [w for w in warnings if w.startswith("seen too poorly to judge")]
    assert len(trust) == 1
    assert f"under {DEFAULT_MIN_DOF_CONFIDENCE:.2f}" in trust[0]
    assert f"left knee flexion in reps 0-{N_REPS - 1}" in trust[0]
    assert len(warnings) == len(set(warnings))


def test_c_motion_leaves_out_what_is_not_trusted() -> None:
    analysis = analyze(_far_left_squats(), SQUAT)
    state = analysis.context_motion.splitlines()[0]
    assert "right knee" in state and "left knee" not in state and "left hip" not in state
    assert "Left" not in analysis.context_motion  # no form issue about the far side either


def test_stream_equals_offline_with_per_dof_confidence() -> None:
    track = _far_left_squats()
    offline, stream = analyze(track, SQUAT).to_json(), analyze_streaming(track, SQUAT).to_json()
    for key in ("reps", "context", "feedback", "warnings"):
        assert offline[key] == stream[key]


def test_a_track_without_per_dof_confidence_is_analysed_as_before() -> None:
    """No ``dof_confidence``: nothing is dropped and no trust warning appears (the golden C_motion test checks
    the text byte for byte)."""
    track = _far_left_squats(with_confidence=False)
    analysis = analyze(track, SQUAT)
    assert all(r.not_judged == () for r in analysis.reps)
    assert not any(w.startswith("seen too poorly") for w in analysis.warnings)
    assert "left knee" in analysis.context_motion.splitlines()[0]
