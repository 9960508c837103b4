"""Tracks written without the catalogue's rules, the way an outside tool would: only the DoFs an exercise
obviously moves are animated (everything else stays at SKEL's zero), with noise, and with faults put in
by hand. Rep counts must be exact and only the faulted reps flagged."""

from __future__ import annotations

import math

import numpy as np
import pytest

from workbench.motion.analysis import analyze
from workbench.pose.track import PoseTrack
from workbench.skeleton import N_DOFS, dof_index

FPS = 30.0

# exercise -> (period s, {dof: (rest°, work°)}); alternating moves mark left-side DoFs to run half a cycle late.
NAIVE = {
    "squat": (
        2.4,
        {
            "knee_angle_r": (0, 100),
            "knee_angle_l": (0, 100),
            "hip_flexion_r": (0, 95),
            "hip_flexion_l": (0, 95),
            "ankle_angle_r": (0, 20),
            "ankle_angle_l": (0, 20),
        },
    ),
    "pushup": (2.0, {"elbow_flexion_r": (0, 90), "elbow_flexion_l": (0, 90)}),
    "jumping_jack": (1.2, {"hip_adduction_r": (0, -25), "hip_adduction_l": (0, -25)}),
    "good_mornings": (
        3.0,
        {"hip_flexion_r": (0, 80), "hip_flexion_l": (0, 80), "knee_angle_r": (0, 15), "knee_angle_l": (0, 15)},
    ),
    "lunge": (3.0, {"hip_flexion_r": (0, 90), "knee_angle_r": (0, 95), "knee_angle_l": (0, 85)}),
    "bicep_curl": (2.5, {"elbow_flexion_l": (5, 130)}),
    "deep_squat": (
        3.0,
        {"knee_angle_r": (0, 125), "knee_angle_l": (0, 125), "hip_flexion_r": (0, 110), "hip_flexion_l": (0, 110)},
    ),
}


def naive_track(
    key: str, n: int, shallow: tuple[int, ...] = (), wobble: tuple[int, ...] = (), noise_deg: float = 2.0, seed: int = 0
) -> PoseTrack:
    period, moves = NAIVE[key]
    rng = np.random.default_rng(seed)
    m = round(period * FPS)
    u = np.arange(m) / m
    lift = 0.5 * (1 - np.cos(2 * math.pi * u))
    blocks = [np.zeros((15, N_DOFS))]
    for k in range(n):
        rep = np.zeros((m, N_DOFS))
        for name, (rest, work) in moves.items():
            depth = work - rest
            if k in shallow:
                depth *= 0.6  # 40 % less range of motion
            rep[:, dof_index(name)] = np.radians(rest + depth * lift)
        if k in wobble:
            rep[:, dof_index("lumbar_extension")] = np.radians(12) * np.sin(2 * math.pi * 3 * u)
        blocks.append(rep)
    blocks.append(np.zeros((15, N_DOFS)))
    for name, (rest, _) in moves.items():
        for b in (blocks[0], blocks[-1]):
            b[:, dof_index(name)] = np.radians(rest)
    q = np.vstack(blocks) + np.radians(noise_deg) * rng.standard_normal((15 * 2 + n * m, N_DOFS))
    return PoseTrack.from_arrays(q, fps=FPS, source=f"naive:{key}")


@pytest.mark.parametrize("key", sorted(NAIVE))
def test_clean_naive_tracks(key: str) -> None:
    analysis = analyze(naive_track(key, 10), key)
    assert len(analysis.reps) == 10
    assert [v.message for r in analysis.reps for v in r.violations] == []


@pytest.mark.parametrize("key", sorted(NAIVE))
def test_naive_faults_flag_exactly_the_faulted_reps(key: str) -> None:
    shallow, wobble = (2, 7), (4,)
    reps = analyze(naive_track(key, 10, shallow=shallow, wobble=wobble, seed=3), key).reps
    assert len(reps) == 10
    flagged = {r.index for r in reps if r.violations}
    # A jumping jack with 40 % less leg spread (15° a side) is still within what real jacks show (CMU
    # subjects: 12-20°), so only the wobble counts as a fault there.
    expected = set(wobble) if key == "jumping_jack" else set(shallow) | set(wobble)
    assert flagged == expected, {r.index: [v.message for v in r.violations] for r in reps if r.violations}
