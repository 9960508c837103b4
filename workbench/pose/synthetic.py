"""Synthetic pose tracks with a known answer, for tests and demos.

A performance is drawn from an exercise's reference rules (``exercises.profiles``): n reps with a chosen
period and jitter, depth scale, sensor noise, dropouts and injected faults. The ground truth returned with
it says where each rep is and which faults were put where, so a test can check the analysis exactly.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
from numpy.typing import NDArray

from workbench.exercises.catalogue import Exercise
from workbench.exercises.profiles import cycle_angles, motion_rules
from workbench.pose.track import PoseTrack
from workbench.skeleton import DOFS, N_DOFS, dof_index


@dataclass(frozen=True)
class Fault:
    """A form fault to inject into some reps.

    shallow: reduce the working excursion of ``dofs`` (default: every moving DoF of the rules) by ``deg``.
    wobble:  add a ``deg``-amplitude oscillation (3 per rep) to ``dofs`` (default lumbar_extension).
    lag:     delay the left side by ``deg`` percent of the cycle (one side lagging).
    """

    kind: Literal["shallow", "wobble", "lag"]
    reps: tuple[int, ...]
    deg: float
    dofs: tuple[str, ...] = ()


@dataclass
class GroundTruth:
    rep_bounds_s: list[tuple[float, float]]
    faults: dict[int, list[str]] = field(default_factory=dict)  # rep index -> fault kinds
    dropped_frames: list[int] = field(default_factory=list)

    @property
    def n_reps(self) -> int:
        return len(self.rep_bounds_s)


def synthesize(
    ex: Exercise,
    n_reps: int = 10,
    *,
    period_s: float | None = None,
    jitter: float = 0.0,
    depth_scale: float = 1.0,
    noise_deg: float = 0.0,
    dropout: float = 0.0,
    rest_s: float = 0.5,
    faults: tuple[Fault, ...] = (),
    fps: float = 30.0,
    seed: int = 0,
) -> tuple[PoseTrack, GroundTruth]:
    """A track of ``n_reps`` reps (static holds: one hold of ``n_reps`` × period) and its ground truth."""
    rng = np.random.default_rng(seed)
    rules = ex.reference_rules
    period = period_s or float(rules.get("period_s", 2.0))
    if ex.cycle.kind == "static_hold":
        return _hold(ex, n_reps * period, rest_s, noise_deg, fps, rng)
    moving = list(motion_rules(rules))
    pieces: list[NDArray[np.float64]] = [_rest(rules, rest_s, fps)]
    truth = GroundTruth(rep_bounds_s=[])
    t0 = pieces[0].shape[0] / fps
    for k in range(n_reps):
        p = period * max(0.3, 1.0 + jitter * rng.standard_normal())
        n = max(2, round(p * fps))
        u = np.arange(n) / n
        amp = {i: depth_scale for i in moving}
        kinds = []
        for f in faults:
            if k in f.reps and f.kind == "shallow":
                kinds.append("shallow")
                for i in _targets(f, moving):
                    spec = motion_rules(rules).get(i, None)
                    if spec is not None:
                        span = float(spec["work"]) - float(spec["rest"])
                        amp[i] = amp.get(i, 1.0) * max(0.0, 1.0 - f.deg / abs(span)) if span else amp.get(i, 1.0)
        q = cycle_angles(rules, u, amp)
        for f in faults:
            if k in f.reps and f.kind == "wobble":
                kinds.append("wobble")
                for i in _targets(f, [dof_index("lumbar_extension")]):
                    q[:, i] += math.radians(f.deg) * np.sin(2 * math.pi * 3 * u)
            if k in f.reps and f.kind == "lag":
                kinds.append("lag")
                q = _lag_left(rules, u, amp, q, f.deg / 100.0)
        pieces.append(q)
        truth.rep_bounds_s.append((t0, t0 + n / fps))
        if kinds:
            truth.faults[k] = kinds
        t0 += n / fps
    pieces.append(_rest(rules, rest_s, fps))
    q_all = np.vstack(pieces)
    return _finish(ex, q_all, noise_deg, dropout, fps, rng, truth)


def _targets(f: Fault, default: list[int]) -> list[int]:
    return [dof_index(n) for n in f.dofs] if f.dofs else default


def _lag_left(
    rules: dict[str, Any], u: NDArray[np.float64], amp: dict[int, float], q: NDArray[np.float64], shift: float
) -> NDArray[np.float64]:
    """The left side's moving DoFs run ``shift`` of a cycle behind the right side's."""
    lagged = cycle_angles(rules, (u - shift) % 1.0, amp)
    for i in motion_rules(rules):
        if DOFS[i].side == "left":
            q[:, i] = lagged[:, i]
    return q


def _rest(rules: dict[str, Any], seconds: float, fps: float) -> NDArray[np.float64]:
    n = round(seconds * fps)
    return cycle_angles(rules, np.zeros(n)) if n else np.empty((0, N_DOFS))


def _hold(
    ex: Exercise, seconds: float, rest_s: float, noise_deg: float, fps: float, rng: np.random.Generator
) -> tuple[PoseTrack, GroundTruth]:
    n = round(seconds * fps)
    q = cycle_angles(ex.reference_rules, np.zeros(n))
    truth = GroundTruth(rep_bounds_s=[(0.0, n / fps)])
    return _finish(ex, q, noise_deg, 0.0, fps, rng, truth)


def _finish(
    ex: Exercise,
    q: NDArray[np.float64],
    noise_deg: float,
    dropout: float,
    fps: float,
    rng: np.random.Generator,
    truth: GroundTruth,
) -> tuple[PoseTrack, GroundTruth]:
    if noise_deg:
        q = q + np.radians(noise_deg) * rng.standard_normal(q.shape)
    confidence = np.ones(q.shape[0])
    if dropout:
        lost = rng.random(q.shape[0]) < dropout
        lost[:5] = False
        confidence[lost] = 0.0
        q[lost] = np.nan
        truth.dropped_frames = [int(i) for i in np.flatnonzero(lost)]
    track = PoseTrack.from_arrays(q, fps=fps, confidence=confidence, source=f"synthetic:{ex.key}")
    return track, truth
