"""How a coaching session becomes one token sequence, the same for training and for streaming decode.

    [prompt + exercise + C_morph]                                  the fixed prefix, prefilled once
    C_motion block          (the first step's)
    z_t × lm_visual_tokens  (the fused visual–morphometric tokens of decision step t)
      the last z_t position predicts <next> (weight α) or <feedback> (weight 1)
    <feedback> text tokens <eos_fb>            each predicting the next, weight 1 (only after <feedback>)
    C_motion block          (only when a cycle completed at step t: after its action, so streaming can
                             prefill it between decisions)
    … next step …

The LM predicts the action token at the last visual position of each step. ``<next>`` is a prediction
only: it is not fed back as an input (a visual token following a visual token already says the coach stayed
silent), so a silent decision step appends one token to the KV cache instead of two — ~20 % of the CPU
decode step. ``<feedback>`` and the utterance are fed back as usual. After an utterance of n
tokens, floor(n / 12 × 4) steps are skipped (simulated speech, EVALUATION.md), exactly as the streaming loop
skips them. C_motion is masked to the selected joints: only their DoFs enter the text (pose state and
violations), which is what "only selected joints' DoFs enter C_motion" means for a text context.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field, fields, replace
from typing import Any

import torch
from torch import Tensor

from workbench.model.configuration_coach import DECISION_HZ, END, FEEDBACK, NEXT, SPEECH_TOKENS_PER_S, CoachConfig
from workbench.motion.context import NO_POSE_YET, POSE_PREFIX, REPS_PREFIX, motion_context
from workbench.motion.results import Violation
from workbench.skeleton import JOINT_NAMES, N_DOFS, joint

VIS = -1  # placeholder id where a fused visual token goes
IGNORE = -100  # no prediction at this position
PAD_WEIGHT = 0.0


# ------------------------------------------------------------------------------------------- masking
def dof_mask(joint_names: Sequence[str]) -> Tensor:
    """(46,) bool: the DoFs owned by the given joints."""
    mask = torch.zeros(N_DOFS, dtype=torch.bool)
    for name in joint_names:
        mask[list(joint(name).dofs)] = True
    return mask


def joint_names_of(ids: Sequence[int]) -> tuple[str, ...]:
    return tuple(JOINT_NAMES[int(i)] for i in ids)


def masked_motion_context(context_motion: str, violations: Sequence[Violation], selected: Sequence[str]) -> str:
    """C_motion restricted to the selected joints: pose-state entries of other joints and their violations are
    dropped. The pose-state text lists "<joint label> <angle>°" entries (``workbench.motion.context``)."""
    labels = {joint(j).label for j in selected}
    first = context_motion.split("\n", 1)[0]
    body = first.removeprefix(POSE_PREFIX).rstrip(".")
    kept = [p for p in body.split(", ") if p.rsplit(" ", 1)[0] in labels] if first.startswith(POSE_PREFIX) else []
    state = POSE_PREFIX + (", ".join(kept) if kept else "no salient joint observed") + "."
    if first == NO_POSE_YET:
        state = first
    count = next((line for line in context_motion.split("\n") if line.startswith(REPS_PREFIX)), None)
    reps = int(count.removeprefix(REPS_PREFIX).rstrip(".")) if count else None  # the rep count is kept as it is
    return motion_context(state, [v for v in violations if v.joint in set(selected)], reps)


# ------------------------------------------------------------------------------------------- text
def prefix_text(config: CoachConfig, exercise: str, context_morph: str) -> str:
    return f"{config.prompt.format(exercise=exercise.replace('_', ' '))}\n{context_morph}\n"


def motion_block(context_motion: str) -> str:
    return f"{context_motion}\n"


def encode(tokenizer: Any, text: str) -> list[int]:
    return list(tokenizer.encode(text, add_special_tokens=False))


def speech_skip(n_tokens: int) -> int:
    """Decision steps skipped while an utterance of n tokens is spoken (EVALUATION.md)."""
    return math.floor(n_tokens / SPEECH_TOKENS_PER_S * DECISION_HZ)


# --------------------------------------------------------------------------------------- sequences
@dataclass(frozen=True)
class StepExample:
    """One decision step of a training session."""

    step: int
    context_motion: str | None  # the new C_motion when it changed at this step, else None
    utterance: str | None = None  # what the coach said at this step (None: <next>)


@dataclass
class Plan:
    """One session as a token sequence: ids (VIS at visual slots), the step and slot of each visual token,
    what each position must predict (IGNORE for nothing) and the loss weight of that prediction."""

    ids: list[int] = field(default_factory=list)
    vis_step: list[int] = field(default_factory=list)
    vis_slot: list[int] = field(default_factory=list)
    labels: list[int] = field(default_factory=list)
    weights: list[float] = field(default_factory=list)
    n_steps: int = 0

    def add(self, ids: Sequence[int], step: int = 0, slots: Sequence[int] | None = None) -> None:
        self.ids += list(ids)
        self.labels += [IGNORE] * len(ids)
        self.weights += [0.0] * len(ids)
        self.vis_step += [step] * len(ids)
        self.vis_slot += list(slots) if slots is not None else [0] * len(ids)

    def predict(self, label: int, weight: float) -> None:
        """The last position added must predict ``label``."""
        self.labels[-1] = label
        self.weights[-1] = weight


def utterance_ids(tokenizer: Any, config: CoachConfig, text: str) -> list[int]:
    """The spoken tokens of an utterance, capped at max_utterance_tokens."""
    return encode(tokenizer, " " + text.strip())[: config.max_utterance_tokens]


def build_plan(
    tokenizer: Any,
    config: CoachConfig,
    exercise: str,
    context_morph: str,
    steps: Sequence[StepExample],
    alpha: float | None = None,
) -> Plan:
    """The token sequence of a session (see module docstring); steps after an utterance that fall inside its
    simulated speech time must not be in ``steps`` (``session_examples`` drops them)."""
    alpha = config.alpha_next if alpha is None else alpha
    plan = Plan()
    plan.add(encode(tokenizer, prefix_text(config, exercise, context_morph)))
    for k, s in enumerate(steps):
        if k == 0 and s.context_motion is not None:
            plan.add(encode(tokenizer, motion_block(s.context_motion)))
        plan.add([VIS] * config.lm_visual_tokens, step=s.step, slots=range(config.lm_visual_tokens))
        if s.utterance is None:
            plan.predict(config.special_id(NEXT), alpha)  # <next> is predicted, never fed back (see docstring)
        else:
            plan.predict(config.special_id(FEEDBACK), 1.0)
            plan.add([config.special_id(FEEDBACK)])
            for t in utterance_ids(tokenizer, config, s.utterance):
                plan.predict(t, 1.0)
                plan.add([t])
            plan.predict(config.special_id(END), 1.0)
            plan.add([config.special_id(END)])
        if k > 0 and s.context_motion is not None:  # a refresh follows the action of the step it arrived at
            plan.add(encode(tokenizer, motion_block(s.context_motion)))
        plan.n_steps = max(plan.n_steps, s.step + 1)
    return plan


@dataclass
class CoachBatch:
    ids: Tensor  # (B, L) long, VIS at visual slots, pad id after the end
    vis_step: Tensor  # (B, L) long
    vis_slot: Tensor  # (B, L) long
    labels: Tensor  # (B, L) long: what position i must predict, IGNORE for nothing
    weights: Tensor  # (B, L) float: the weight of that prediction
    attention_mask: Tensor  # (B, L) long
    morph_ids: Tensor  # (B, Lm) long
    morph_mask: Tensor  # (B, Lm) bool
    n_steps: int
    frames: Tensor | None = None  # (B, n_steps × 4, 3, H, W) in [0, 1]; None: black frames (pose-only data)
    joint_labels: Tensor | None = None  # (B, 24) float salient-joint labels (stage 1)

    def to(self, device: torch.device | str) -> CoachBatch:
        """The batch with every tensor on ``device``: batches are collated on the CPU, the model may be on a GPU."""
        moved: dict[str, Any] = {
            f.name: v.to(device) for f in fields(self) if isinstance(v := getattr(self, f.name), Tensor)
        }
        return replace(self, **moved)


def collate(
    plans: Sequence[Plan],
    morph_ids: Sequence[Sequence[int]],
    pad_id: int,
    frames: Tensor | None = None,
    joint_labels: Tensor | None = None,
) -> CoachBatch:
    """Right-pad plans into a batch."""
    length = max(len(p.ids) for p in plans)
    lm = max(1, max(len(m) for m in morph_ids))

    def padded(rows: Sequence[Sequence[float]], fill: float, n: int, dtype: torch.dtype) -> Tensor:
        return torch.tensor([list(r) + [fill] * (n - len(r)) for r in rows], dtype=dtype)

    return CoachBatch(
        ids=padded([p.ids for p in plans], pad_id, length, torch.long),
        vis_step=padded([p.vis_step for p in plans], 0, length, torch.long),
        vis_slot=padded([p.vis_slot for p in plans], 0, length, torch.long),
        labels=padded([p.labels for p in plans], IGNORE, length, torch.long),
        weights=padded([p.weights for p in plans], PAD_WEIGHT, length, torch.float32),
        attention_mask=padded([[1] * len(p.ids) for p in plans], 0, length, torch.long),
        morph_ids=padded(morph_ids, pad_id, lm, torch.long),
        morph_mask=padded([[1] * len(m) for m in morph_ids], 0, lm, torch.long).bool(),
        n_steps=max(p.n_steps for p in plans),
        frames=frames,
        joint_labels=joint_labels,
    )
