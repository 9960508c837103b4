"""Which coach speaks: the rule coach, or the neural one from the configured checkpoint."""

from __future__ import annotations

from typing import Literal

from workbench.coach.coaching import Coach
from workbench.coach.neural import load_neural_coach
from workbench.coach.rule_coach import RuleCoach
from workbench.config import Config, load_config

CoachKind = Literal["rule", "neural"]
COACH_KINDS: tuple[CoachKind, ...] = ("rule", "neural")


def load_coach(kind: str, config: Config | None = None, *, seed: int = 0) -> Coach:
    """The coach behind ``--model``/``--coach``: ``rule`` (seeded choice among phrasings) or ``neural`` (the
    checkpoint at ``coach_checkpoint`` of ``config``, the configuration file's when none is given; untrained,
    and said so, without one). Only the neural coach reads the configuration. Either is reset with the exercise
    by the loop, as the caller resolved it."""
    if kind == "rule":
        return RuleCoach(seed=seed)
    if kind == "neural":
        return load_neural_coach(config if config is not None else load_config())
    raise ValueError(f"coach: expected one of {', '.join(COACH_KINDS)}, got {kind!r}")
