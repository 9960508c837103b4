"""Coaching sessions as the neural model's training examples (paper §3.6, supplement §11.4).

A session becomes token sequences by replaying it through the same streaming loop the coach runs in
(``workbench.coach.loop``) with a teacher coach that says the ground-truth utterance at the first decision
step at or after its time: C_motion, rep completions and speech-time skipping are exactly what the neural
coach will see. ``workbench.model.train`` cuts the examples into windows and trains on them.

The exercises come from the catalogue the caller passes (the store's current versions, or the YAML files):
the salient joints a session is labelled with are the caller's accepted labels, else that exercise's.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import torch

from workbench.coach.coaching import DecisionInput, Utterance
from workbench.coach.loop import run_coach
from workbench.coach.sessions import CoachingSession
from workbench.exercises.catalogue import Catalogue, Exercise
from workbench.model.configuration_coach import CoachConfig
from workbench.model.tokens import StepExample, utterance_ids
from workbench.model.train import Dataset, SessionExample, build_dataset
from workbench.motion.context import morph_context
from workbench.skeleton import JOINT_NAMES


class TeacherCoach:
    """Says each ground-truth utterance at the first decision step at or after its time (teacher forcing),
    recording what the coach saw at every called step."""

    def __init__(self, session: CoachingSession, count: Callable[[str], int]):
        self.todo = sorted(session.utterances, key=lambda u: u.t_s)
        self.count = count
        self.seen: list[tuple[DecisionInput, str | None]] = []

    @property
    def name(self) -> str:
        return "teacher"

    def reset(self, exercise: Exercise, context_morph: str) -> None:
        del exercise, context_morph  # the teacher says what the session says, whatever the rules

    def decide(self, inp: DecisionInput) -> Utterance | None:
        said = None
        while self.todo and self.todo[0].t_s <= inp.t_s + 1e-9:
            u = self.todo.pop(0)
            said = u.text if said is None else said  # several due at once: the first is said, the rest dropped
        self.seen.append((inp, said))
        if said is None:
            return None
        return Utterance(text=said, n_tokens=self.count(said), kind="corrective")


def session_example(
    session: CoachingSession,
    tokenizer: Any,
    config: CoachConfig,
    catalogue: Catalogue,
    labels: Mapping[str, tuple[str, ...]] | None = None,
) -> SessionExample | None:
    """Replay a session through the streaming loop; None when it has no pose track."""
    if session.track is None:
        return None
    ex = catalogue.get(session.exercise)
    joints = (labels or {}).get(ex.key) or tuple(ex.salient_joints)
    teacher = TeacherCoach(session, lambda text: len(utterance_ids(tokenizer, config, text)))
    morph = str(session.metadata.get("context_morph") or morph_context(None))
    run_coach(teacher, session.track, ex, context_morph=morph, salient=joints)
    steps = []
    for k, (inp, said) in enumerate(teacher.seen):
        refresh = k == 0 or bool(inp.new_reps)
        steps.append(StepExample(step=inp.step, context_motion=inp.context_motion if refresh else None, utterance=said))
    label = torch.zeros(len(JOINT_NAMES))
    label[[JOINT_NAMES.index(j) for j in joints]] = 1.0
    return SessionExample(session.session_id, ex.key, morph, steps, label, sum(s.utterance is not None for s in steps))


def prepare(
    sessions: Sequence[CoachingSession],
    tokenizer: Any,
    config: CoachConfig,
    window_steps: int,
    catalogue: Catalogue,
    labels: Mapping[str, tuple[str, ...]] | None = None,
) -> Dataset:
    """Every session with a pose track as training windows."""
    examples = [e for s in sessions if (e := session_example(s, tokenizer, config, catalogue, labels)) is not None]
    return build_dataset(examples, tokenizer, config, window_steps)
