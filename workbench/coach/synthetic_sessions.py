"""Synthetic coaching sessions: synthetic pose tracks with injected faults, and the rule coach's feedback,
run through the streaming loop, as the ground truth of when and what a coach says.

    sessions = synthetic_sessions(32, seed=0)           # deterministic for a seed
    s = sessions[0]; s.track, s.utterances, s.metadata["faults"]

They train the neural coach's fusion layers on the CPU and give tests a known answer: each session's metadata
holds the injected faults (rep index → kinds), the true rep bounds, and per utterance its decision step,
token count and evidence tags. Token counts use the word estimate by default (``tokens="words"``) so a
session does not depend on whether the language model's files are cached on this machine.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from workbench.coach.loop import run_coach
from workbench.coach.rule_coach import RuleCoach, TokenCounter
from workbench.coach.sessions import CoachingSession
from workbench.exercises import load_catalogue
from workbench.exercises.catalogue import Catalogue, Exercise
from workbench.pose.synthetic import Fault, synthesize

# Exercises whose synthetic tracks the analysis segments reliably, across the cycle kinds (reps, holds).
DEFAULT_EXERCISES = ("squat", "lunge", "pushup", "bicep_curl", "jumping_jack", "good_mornings", "plank")


def synthetic_sessions(
    n: int,
    exercises: Sequence[str] = DEFAULT_EXERCISES,
    *,
    seed: int = 0,
    reps: tuple[int, int] = (6, 12),
    fps: float = 30.0,
    tokens: str | TokenCounter = "words",
    catalogue: Catalogue | None = None,
) -> list[CoachingSession]:
    """``n`` sessions cycling through ``exercises``; each draws its rep count, tempo jitter, noise and faults
    from a generator seeded by (seed, index), so session i is the same whatever n is. The exercises come from
    ``catalogue`` (the store's, say), else from references/."""
    catalogue = catalogue or load_catalogue()
    return [_session(i, catalogue.get(exercises[i % len(exercises)]), seed, reps, fps, tokens) for i in range(n)]


def _session(
    i: int, ex: Exercise, seed: int, reps: tuple[int, int], fps: float, tokens: str | TokenCounter
) -> CoachingSession:
    rng = np.random.default_rng([seed, i])
    n_reps = int(rng.integers(reps[0], reps[1] + 1))
    faults = _faults(rng, n_reps) if ex.cycle.kind != "static_hold" else ()
    track, truth = synthesize(
        ex,
        n_reps,
        jitter=float(rng.uniform(0.0, 0.08)),
        noise_deg=float(rng.uniform(0.5, 2.0)),
        faults=faults,
        fps=fps,
        seed=int(rng.integers(2**31)),
    )
    events = run_coach(RuleCoach(seed=seed * 100_003 + i, tokens=tokens), track, ex)
    return CoachingSession(
        session_id=f"synthetic-{seed}-{i:04d}-{ex.key}",
        exercise=ex.key,
        duration_s=track.duration_s,
        utterances=[e.to_timed() for e in events],
        track=track,
        source=f"synthetic:seed={seed}#{i}",
        metadata={
            "faults": {int(k): list(v) for k, v in truth.faults.items()},
            "rep_bounds_s": [list(b) for b in truth.rep_bounds_s],
            "events": [{"step": e.step, "n_tokens": e.n_tokens, "evidence": e.tags()} for e in events],
            "coach": "rule",
        },
    )


def _faults(rng: np.random.Generator, n_reps: int) -> tuple[Fault, ...]:
    """Shallow reps (one to three, sometimes consecutive) and now and then a trunk wobble."""
    k = int(rng.integers(1, min(3, n_reps - 2) + 1))
    shallow = sorted(int(r) for r in rng.choice(np.arange(1, n_reps), size=k, replace=False))
    faults = [Fault("shallow", tuple(shallow), float(rng.uniform(20.0, 35.0)))]
    if rng.random() < 0.4:
        faults.append(Fault("wobble", (int(rng.integers(1, n_reps)),), float(rng.uniform(8.0, 14.0))))
    return tuple(faults)
