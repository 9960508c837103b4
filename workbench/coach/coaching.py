"""The contract between the streaming loop and a coach (rule-based or neural).

The loop (``workbench.coach.loop``) feeds frames to the StreamingTracker and, 4 times a second, hands the
coach a ``DecisionInput``: what the motion analysis knows at that instant. The coach answers ``None`` (the
paper's ``<next>``) or an ``Utterance`` (``<feedback>`` followed by text). While an utterance is being
spoken (12 tokens/s, EVALUATION.md) the loop skips decision steps. Every event records the evidence it was
conditioned on, so an expert can see why the coach spoke.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

import numpy as np
from numpy.typing import NDArray

from workbench.exercises.catalogue import Exercise
from workbench.model.configuration_coach import DECISION_HZ, MAX_UTTERANCE_TOKENS, SPEECH_TOKENS_PER_S
from workbench.motion.results import Rep, Violation

UtteranceKind = Literal["corrective", "instructional", "motivational", "counting"]

__all__ = [
    "DECISION_HZ",
    "MAX_UTTERANCE_TOKENS",
    "SPEECH_TOKENS_PER_S",
    "Coach",
    "DecisionInput",
    "Evidence",
    "Utterance",
    "UtteranceKind",
]


@dataclass(frozen=True)
class Evidence:
    """What a feedback event was conditioned on."""

    violations: tuple[Violation, ...] = ()
    rep: int | None = None  # the last completed rep (Rep.index, 0-based as in the JSON), None before the first
    phase: str | None = None  # phase of the movement at the decision time, when known
    context_motion: str = ""  # C_motion as the coach saw it

    def to_json(self) -> dict[str, Any]:
        return {
            "violations": [v.to_json() for v in self.violations],
            "rep": self.rep,
            "phase": self.phase,
            "context_motion": self.context_motion,
        }


@dataclass(frozen=True)
class Utterance:
    text: str
    n_tokens: int  # tokens spoken (the LM's tokenizer), drives the simulated speech time
    kind: UtteranceKind
    evidence: Evidence = field(default_factory=Evidence)


@dataclass(frozen=True)
class DecisionInput:
    """The state of the world at one decision step."""

    step: int  # decision index, 0-based; t_s = step / DECISION_HZ
    t_s: float
    exercise: str
    context_morph: str  # C_morph, fixed for the session
    context_motion: str  # C_motion now (tracker.context())
    reps: tuple[Rep, ...]  # every rep completed so far
    new_reps: tuple[Rep, ...]  # reps completed since the previous decision step
    phase: str | None
    frames: NDArray[np.uint8] | None = None  # RGB frames since the previous step (T×H×W×3), None for pose-only input


class Coach(Protocol):
    """Anything that decides, 4 times a second, whether and what to say."""

    @property
    def name(self) -> str: ...

    def reset(self, exercise: Exercise, context_morph: str) -> None:
        """Start a new session (clears caches, counters) on the exercise as the caller resolved it: its rules,
        reference, thresholds and salient joints as the store has them now. A coach never looks an exercise
        up itself."""
        ...

    def decide(self, inp: DecisionInput) -> Utterance | None:
        """``None`` is ``<next>``; an Utterance is ``<feedback>`` + its text."""
        ...
