"""Rep counting on synthetic tracks that reproduce what real footage does to it, each with a known count.

Every track is drawn from the catalogue's reference rules (``synthesize``) and then given one failure mode of
real clips: a slow hold with jitter at the bottom, small bumps between reps, standing up at the end of a set of
push-ups, walking in before a set of squats, a stretch the pose model could not see, and a side view whose far
elbow the pose model guesses. Each test first shows that the plain detector (safeguards off) miscounts it, so it
checks the safeguard and not the luck of the fixture; streaming and offline must agree on every one.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import replace

import numpy as np
import pytest

import workbench.motion.engine as engine_module
import workbench.motion.signal as signal_module
from workbench.exercises import load_catalogue
from workbench.motion.analysis import analyze, analyze_streaming
from workbench.pose.synthetic import GroundTruth, synthesize
from workbench.pose.track import PoseTrack
from workbench.skeleton import dof_index

CATALOGUE = load_catalogue()
FPS = 30.0
KNEES = ("knee_angle_r", "knee_angle_l")
HIPS = ("hip_flexion_r", "hip_flexion_l")
ELBOWS = ("elbow_flexion_r", "elbow_flexion_l")


@pytest.fixture
def safeguards_off(monkeypatch: pytest.MonkeyPatch) -> None:
    """The detector as it was before the safeguards: hysteresis on the absolute prominence only."""
    for name in ("RELATIVE_PROMINENCE", "MIN_AMPLITUDE_RATIO", "MIN_REFERENCE_RATIO", "MIN_SEEN_FRACTION"):
        monkeypatch.setattr(signal_module, name, 0.0)
    monkeypatch.setattr(signal_module, "MAX_POSTURE_CHANGE_DEG", 1e9)
    real = signal_module.cycle_params
    monkeypatch.setattr(
        signal_module, "cycle_params", lambda ex, fps, spec=None: replace(real(ex, fps, spec), sides_together=False)
    )
    monkeypatch.setattr(engine_module, "cycle_params", signal_module.cycle_params)


def _track(q: np.ndarray, dof_confidence: np.ndarray | None = None) -> PoseTrack:
    return replace(PoseTrack.from_arrays(q, fps=FPS, source="synthetic:test"), dof_confidence=dof_confidence)


def _frames(truth: GroundTruth, k: int) -> tuple[int, int]:
    start, end = truth.rep_bounds_s[k]
    return round(start * FPS), round(end * FPS)


def _with_pauses(
    q: np.ndarray, truth: GroundTruth, seconds: float, fill: Callable[[np.ndarray, int], None]
) -> np.ndarray:
    """A pause of ``seconds`` at rest between consecutive reps (the synthetic reps follow each other without
    one); ``fill(pause, k)`` edits the pause after rep k in place."""
    n = round(seconds * FPS)
    pieces, last = [], 0
    for k in range(truth.n_reps - 1):
        at = _frames(truth, k)[1]
        pause = np.repeat(q[at : at + 1], n, axis=0)
        fill(pause, k)
        pieces += [q[last:at], pause]
        last = at
    pieces.append(q[last:])
    return np.vstack(pieces)


def _bump(n: int) -> np.ndarray:
    """0 → 1 → 0 over n frames (raised cosine)."""
    return 0.5 * (1 - np.cos(2 * math.pi * np.arange(n) / n))


def _counts(track: PoseTrack, key: str) -> tuple[int, list[str]]:
    offline = analyze(track, key)
    stream = analyze_streaming(track, key)
    assert offline.to_json()["reps"] == stream.to_json()["reps"]
    assert offline.warnings == stream.warnings
    return len(offline.reps), offline.warnings


def _with_bottom_holds(key: str, dofs: tuple[str, ...], n_reps: int, jitter_deg: float) -> PoseTrack:
    """Each rep held 2 s at its bottom while the working DoFs wobble ±``jitter_deg`` at 1.2 Hz."""
    ex = CATALOGUE.get(key)
    track, truth = synthesize(ex, n_reps, noise_deg=1.0, seed=4)
    rng = np.random.default_rng(4)
    pieces, last = [], 0
    for k in range(n_reps):
        a, b = _frames(truth, k)
        bottom = (a + b) // 2
        n = round(2.0 * FPS)
        hold = np.repeat(track.q[bottom : bottom + 1], n, axis=0)
        u = np.arange(n)
        wobble = np.radians(jitter_deg) * np.sin(2 * math.pi * 1.2 * u / FPS) * np.sin(math.pi * u / n)
        for name in dofs:
            hold[:, dof_index(name)] -= wobble
        hold += np.radians(1.0) * rng.standard_normal(hold.shape)
        pieces += [track.q[last:bottom], hold]
        last = bottom
    pieces.append(track.q[last:])
    return _track(np.vstack(pieces))


@pytest.mark.parametrize(("key", "dofs"), [("pushup", ELBOWS), ("squat", KNEES + HIPS)])
def test_a_slow_hold_with_jitter_at_the_bottom_is_one_rep(key: str, dofs: tuple[str, ...]) -> None:
    """6 reps, each held 2 s at the bottom with ±12° of wobble: still 6."""
    track = _with_bottom_holds(key, dofs, 6, 12.0)
    n, _ = _counts(track, key)
    assert n == 6


def test_the_hold_fixture_fools_the_plain_detector(safeguards_off: None) -> None:
    assert len(analyze(_with_bottom_holds("pushup", ELBOWS, 6, 12.0), "pushup").reps) > 6


def _with_small_bumps(n_reps: int) -> PoseTrack:
    """Squats with a 15° knee-and-hip bob (well over the 5.7° prominence) in a 1.5 s pause between reps."""
    track, truth = synthesize(CATALOGUE.get("squat"), n_reps, noise_deg=1.0, seed=6)

    def bob(pause: np.ndarray, k: int) -> None:
        for name in KNEES + HIPS:
            pause[:, dof_index(name)] += np.radians(15.0) * _bump(len(pause))

    return _track(_with_pauses(track.q, truth, 1.5, bob))


def test_small_bumps_between_reps_are_not_reps() -> None:
    n, _ = _counts(_with_small_bumps(5), "squat")
    assert n == 5


def test_the_bump_fixture_fools_the_plain_detector(safeguards_off: None) -> None:
    assert len(analyze(_with_small_bumps(5), "squat").reps) > 5


def _pushups_then_standing_up(n_reps: int) -> PoseTrack:
    """Push-ups (trunk prone: pelvis tilted −80°), then the person stands up (trunk upright) and bends both
    elbows twice, 60° each (wiping the face, reaching for the camera): in phase, as deep as a push-up."""
    ex = CATALOGUE.get("pushup")
    track, _ = synthesize(ex, n_reps, noise_deg=1.0, seed=8)
    q = track.q.copy()
    q[:, dof_index("pelvis_tilt")] = np.radians(-80.0)
    stand = q[-1].copy()
    stand[dof_index("pelvis_tilt")] = 0.0
    ramp = np.linspace(0.0, 1.0, round(1.5 * FPS))[:, None]
    up = (1 - ramp) * q[-1] + ramp * stand
    n = round(1.5 * FPS)
    arms = np.repeat(stand[None], 2 * n, axis=0)
    for name in ELBOWS:
        arms[:, dof_index(name)] += np.radians(60.0) * np.concatenate([_bump(n), _bump(n)])
    rest = np.repeat(stand[None], round(0.5 * FPS), axis=0)
    tail = np.vstack([up, arms, rest])
    tail += np.radians(1.0) * np.random.default_rng(8).standard_normal(tail.shape)
    return _track(np.vstack([q, tail]))


def test_standing_up_after_push_ups_is_not_a_rep() -> None:
    n, warnings = _counts(_pushups_then_standing_up(6), "pushup")
    assert n == 6
    assert any("not counted: the trunk was inclined" in w for w in warnings)


def test_the_stand_up_fixture_fools_the_plain_detector(safeguards_off: None) -> None:
    assert len(analyze(_pushups_then_standing_up(6), "pushup").reps) > 6


def _walk_in_then_squats(n_reps: int) -> PoseTrack:
    """4 s of walking in (knees and hips swinging 50° in opposition, 1 step/s) before the squats."""
    ex = CATALOGUE.get("squat")
    track, _ = synthesize(ex, n_reps, noise_deg=1.0, seed=10)
    n = round(4.0 * FPS)
    walk = np.repeat(track.q[:1], n, axis=0)
    phase = 2 * math.pi * np.arange(n) / FPS
    for side, shift in (("r", 0.0), ("l", math.pi)):
        swing = 0.5 * (1 - np.cos(phase + shift))
        walk[:, dof_index(f"knee_angle_{side}")] += np.radians(50.0) * swing
        walk[:, dof_index(f"hip_flexion_{side}")] += np.radians(30.0) * swing
    return _track(np.vstack([walk, track.q]))


def test_walking_in_before_squats_is_not_a_rep() -> None:
    n, warnings = _counts(_walk_in_then_squats(5), "squat")
    assert n == 5
    assert any("the two sides moved in opposition" in w for w in warnings)


def test_the_walk_in_fixture_fools_the_plain_detector(safeguards_off: None) -> None:
    assert len(analyze(_walk_in_then_squats(5), "squat").reps) > 5


def _squats_with_an_unseen_glitch(n_reps: int) -> PoseTrack:
    """Squats with a per-DoF confidence of 0.9 and 1.5 s pauses; in the pause after rep 2 the whole body goes out
    of view (confidence 0.05) and the pose model invents a 70° knee and hip bend."""
    track, truth = synthesize(CATALOGUE.get("squat"), n_reps, noise_deg=1.0, seed=12)

    def glitch(pause: np.ndarray, k: int) -> None:
        if k == 2:
            for name in KNEES + HIPS:
                pause[:, dof_index(name)] += np.radians(70.0) * _bump(len(pause))

    q = _with_pauses(track.q, truth, 1.5, glitch)
    conf = np.full(q.shape, 0.9)
    n = round(1.5 * FPS)
    start = _frames(truth, 2)[1] + 2 * n  # the pause after rep 2 comes after two earlier pauses
    conf[start : start + n] = 0.05
    return _track(q, conf)


def test_a_movement_the_pose_model_did_not_see_is_not_a_rep() -> None:
    n, warnings = _counts(_squats_with_an_unseen_glitch(5), "squat")
    assert n == 5
    assert any("was seen in only" in w for w in warnings)


def test_the_unseen_fixture_fools_the_plain_detector(safeguards_off: None) -> None:
    assert len(analyze(_squats_with_an_unseen_glitch(5), "squat").reps) > 5


def _side_view_pushups(n_reps: int, with_confidence: bool) -> PoseTrack:
    """Push-ups seen from the left with a 1 s pause at the top between reps: the near (left) elbow is clean
    (confidence 0.95); the far (right) elbow, which the signal lists first, is a guess (confidence 0.1) that
    bends 60° in every pause (more than the amplitude safeguard lets through)."""
    track, truth = synthesize(CATALOGUE.get("pushup"), n_reps, noise_deg=1.0, seed=14)

    def guess(pause: np.ndarray, k: int) -> None:
        pause[:, dof_index("elbow_flexion_r")] += np.radians(60.0) * _bump(len(pause))

    q = _with_pauses(track.q, truth, 1.0, guess)
    conf = None
    if with_confidence:
        conf = np.full(q.shape, 0.95)
        conf[:, [dof_index(n) for n in ("elbow_flexion_r", "shoulder_r_x", "shoulder_r_y", "shoulder_r_z")]] = 0.1
    return _track(q, conf)


def test_in_a_side_view_the_near_elbow_carries_the_count() -> None:
    n, _ = _counts(_side_view_pushups(6, with_confidence=True), "pushup")
    assert n == 6


def test_without_per_dof_confidence_the_far_elbow_miscounts() -> None:
    """The same track without ``dof_confidence``: the signal is the right elbow alone, as before."""
    assert len(analyze(_side_view_pushups(6, with_confidence=False), "pushup").reps) > 6


def test_the_posture_gate_never_locks_a_set_out() -> None:
    """Three upright, in-phase arm bends (getting ready) counted first, then 6 push-ups: the gate refuses at
    most two push-ups before taking the prone posture as the set's."""
    ex = CATALOGUE.get("pushup")
    track, _ = synthesize(ex, 6, noise_deg=1.0, seed=16)
    q = track.q.copy()
    q[:, dof_index("pelvis_tilt")] = np.radians(-80.0)
    n = round(1.5 * FPS)
    ready = np.repeat(q[:1], 3 * n, axis=0)
    ready[:, dof_index("pelvis_tilt")] = 0.0
    for name in ELBOWS:
        ready[:, dof_index(name)] += np.radians(70.0) * np.concatenate([_bump(n)] * 3)
    count, _ = _counts(_track(np.vstack([ready, q])), "pushup")
    assert 3 + 6 - 2 <= count <= 3 + 6
