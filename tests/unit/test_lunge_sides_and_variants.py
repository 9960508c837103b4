"""Unilateral moves: the working side of each rep from the data, a reference that fits the variant, and each
warning once.

Fixtures are drawn from the lunge's own reference rules (``synthesize``): a right-leg lunge from standing; the
same with every other rep mirrored (alternating legs); and the split-squat variant (the feet stay apart, so a rep
starts and ends in a split stance), drawn from ``reference.variants.split``.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from workbench.exercises import load_catalogue
from workbench.motion.analysis import analyze, analyze_streaming
from workbench.motion.build_references import variant_exercise
from workbench.motion.results import Analysis
from workbench.pose.synthetic import GroundTruth, synthesize
from workbench.pose.track import PoseTrack
from workbench.skeleton import dof_index, mirror_pose

LUNGE = load_catalogue().get("lunge")
FPS = 30.0


def _rep_frames(truth: GroundTruth, k: int) -> slice:
    start, end = truth.rep_bounds_s[k]
    return slice(round(start * FPS), round(end * FPS))


def _alternating(n_reps: int) -> PoseTrack:
    track, truth = synthesize(LUNGE, n_reps, noise_deg=1.0, seed=21)
    q = track.q.copy()
    for k in range(1, n_reps, 2):
        rows = _rep_frames(truth, k)
        q[rows] = mirror_pose(q[rows])  # the left leg in front
    return track.with_q(q)


def test_alternating_lunges_alternate_sides_and_score_as_clean() -> None:
    analysis = analyze(_alternating(6), LUNGE)
    assert [r.side for r in analysis.reps] == ["right", "left"] * 3
    assert all(r.side_known and r.quality is not None and r.quality > 0.9 for r in analysis.reps)
    assert all(not r.violations for r in analysis.reps)


def test_a_rep_whose_sides_cannot_be_told_says_so_once() -> None:
    """Rep 2's hips do the same thing on both sides (the pose model put both legs in front): its side is not
    told, it is judged as the reference side, and one warning names it."""
    track, truth = synthesize(LUNGE, 4, noise_deg=1.0, seed=22)
    q = track.q.copy()
    rows = _rep_frames(truth, 2)
    q[rows, dof_index("hip_flexion_l")] = q[rows, dof_index("hip_flexion_r")]
    analysis = analyze(track.with_q(q), LUNGE)
    assert [r.side_known for r in analysis.reps] == [True, True, False, True]
    assert analysis.reps[2].side == LUNGE.reference_side
    assert analysis.reps[2].to_json()["side_known"] is False
    assert "side_known" not in analysis.reps[0].to_json()
    told = [w for w in analysis.warnings if w.startswith("working side not told by the data")]
    assert len(told) == 1 and "in rep 2 " in told[0]


def test_a_split_squat_is_compared_with_the_split_reference() -> None:
    split = variant_exercise(LUNGE, "split")
    track, _ = synthesize(split, 6, noise_deg=1.0, seed=23)
    analysis = analyze(track, LUNGE)
    assert len(analysis.reps) == 6
    assert all(r.variant == "split" and r.to_json()["variant"] == "split" for r in analysis.reps)
    assert all(r.quality is not None and r.quality > 0.9 for r in analysis.reps)
    assert analysis.provenance["reference_variants"]["split"].startswith("rules:lunge/split@")
    # Against the lunge-from-standing reference alone the same clean reps score lower.
    no_variants = {k: v for k, v in LUNGE.reference_rules.items() if k != "variants"}
    plain = analyze(track, replace(LUNGE, reference_rules=no_variants))
    assert all(r.variant is None for r in plain.reps)
    assert np.mean([r.quality for r in plain.reps]) < np.mean([r.quality for r in analysis.reps]) - 0.05


def test_a_lunge_from_standing_uses_the_main_reference() -> None:
    track, _ = synthesize(LUNGE, 4, noise_deg=1.0, seed=24)
    analysis = analyze(track, LUNGE)
    assert all(r.variant is None and "variant" not in r.to_json() for r in analysis.reps)


def test_stream_equals_offline_for_alternating_and_split() -> None:
    split, _ = synthesize(variant_exercise(LUNGE, "split"), 4, noise_deg=1.0, seed=25)
    for track in (_alternating(4), split):
        offline, stream = analyze(track, LUNGE).to_json(), analyze_streaming(track, LUNGE).to_json()
        assert offline["reps"] == stream["reps"] and offline["warnings"] == stream["warnings"]


def test_warnings_from_earlier_stages_are_prepended_once_in_order() -> None:
    """The body's note reaches the analysis directly and through the pose estimate: it is printed once."""
    body = "no frame where the person stands straight: height from leg length"
    analysis = Analysis(
        exercise="lunge",
        fps=30.0,
        n_frames=0,
        duration_s=0.0,
        salient_joints=[],
        reps=[],
        context_morph="",
        context_motion="",
        feedback=[],
        warnings=[body, "b"],
    )
    analysis.prepend_warnings(["a", body, "a"])
    assert analysis.warnings == ["a", body, "b"]
