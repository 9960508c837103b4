"""Coaching sessions as the neural model's training examples (paper §3.6, supplement §11.4).

A session becomes token sequences by replaying it through the same streaming loop the coach runs in
(``workbench.coach.loop``) with a teacher coach that says the ground-truth utterance at the first decision
step at or after its time: C_motion, rep completions and speech-time skipping are exactly what the neural
coach will see. ``workbench.model.train`` cuts the examples into windows and trains on them.

The exercises come from the catalogue the caller passes (the store's current versions, or the YAML files):
the salient joints a session is labelled with are the caller's accepted labels, else that exercise's.

Video: a session with a video keeps it (``TrainingExample.video``) and the time of each decision step; its
training windows carry the frames of their steps (``workbench.coach.session_frames``: 4 per step at 16 fps,
resized by the streaming coach's own ``frames_tensor``), decoded when a batch is built, never up front. A
pose-only session's windows carry none: the backbone sees black frames, as before. A batch mixing both gives
the pose-only rows black frames (what ``CoachModel.visual_features`` shows them without frames).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import torch

from workbench.coach.coaching import DecisionInput, Utterance
from workbench.coach.loop import run_coach
from workbench.coach.session_frames import SessionVideo, step_frames
from workbench.coach.sessions import CoachingSession
from workbench.exercises.catalogue import Catalogue, Exercise
from workbench.model.configuration_coach import DECISION_HZ, CoachConfig
from workbench.model.tokens import CoachBatch, StepExample, collate, utterance_ids
from workbench.model.train import Dataset, SessionExample, build_dataset
from workbench.skeleton import JOINT_NAMES


class TeacherCoach:
    """Says each ground-truth utterance at the first decision step at or after its time (teacher forcing),
    recording what the coach saw at every called step."""

    # A line due at a rep-completing step waits one step (``decide``), as the neural coach reads that rep one
    # step late; so the loop's ``finish`` gives the teacher the step after the stream's last rep too, and the
    # line about that rep is taught there rather than dropped (``workbench.coach.loop.context_lag``).
    context_lag_steps = 1

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
        # A rep completed at this step: its C_motion enters the token stream only after this step's action
        # (``workbench.model.tokens.build_plan``; streaming prefills it between decisions), so a line due now is
        # said at the next step (+0.25 s), where the context that grounds it ("84° detected, 90° required") is
        # already in view. Taught at this step, the model would have to guess the rep's numbers.
        while not inp.new_reps and self.todo and self.todo[0].t_s <= inp.t_s + 1e-9:
            u = self.todo.pop(0)
            said = u.text if said is None else said  # several due at once: the first is said, the rest dropped
        self.seen.append((inp, said))
        if said is None:
            return None
        return Utterance(text=said, n_tokens=self.count(said), kind="corrective")


@dataclass
class TrainingExample(SessionExample):
    """A session example that remembers its video (None: pose-only) and when each decision step fired."""

    video: SessionVideo | None = None
    step_times_s: list[float] = field(default_factory=list)  # one per entry of ``steps``, session clock

    @property
    def t0_s(self) -> float:
        """The time of decision step 0 (steps fire at t0 + k / 4 Hz)."""
        if not self.steps or not self.step_times_s:
            return 0.0
        return self.step_times_s[0] - self.steps[0].step / DECISION_HZ


@dataclass(frozen=True)
class WindowFrames:
    """Where a training window's frames come from: its session's video from an absolute decision step."""

    video: SessionVideo
    first_step: int
    n_steps: int
    t0_s: float = 0.0

    def load(self, config: CoachConfig) -> torch.Tensor:
        return step_frames(self.video, self.first_step, self.n_steps, config, t0_s=self.t0_s)


@dataclass
class VideoDataset(Dataset):
    """Training windows whose batches carry video frames where the session has a video (decoded per batch)."""

    frames: list[WindowFrames | None] = field(default_factory=list)  # one per window
    config: CoachConfig | None = None

    def batch(self, idx: Sequence[int]) -> CoachBatch:
        joint_labels = torch.stack([self.labels[i] for i in idx])
        plans = [self.plans[i] for i in idx]
        morph = [self.morph_ids[i] for i in idx]
        return collate(plans, morph, self.pad_id, joint_labels=joint_labels, frames=self.batch_frames(idx))

    def batch_frames(self, idx: Sequence[int]) -> torch.Tensor | None:
        """(B, S × 4, 3, H, W) with S the batch's most steps, or None when no window has a video."""
        sources = [self.frames[i] if i < len(self.frames) else None for i in idx]
        if self.config is None or all(s is None for s in sources):
            return None
        c = self.config
        n = max(self.plans[i].n_steps for i in idx) * c.frames_per_token
        out = torch.zeros(len(idx), n, 3, c.frame_height, c.frame_width)
        for row, src in enumerate(sources):
            if src is not None:
                x = src.load(c)
                out[row, : x.shape[0]] = x
        return out

    @property
    def n_video_windows(self) -> int:
        return sum(f is not None for f in self.frames)


def session_example(
    session: CoachingSession,
    tokenizer: Any,
    config: CoachConfig,
    catalogue: Catalogue,
    labels: Mapping[str, tuple[str, ...]] | None = None,
) -> TrainingExample | None:
    """Replay a session through the streaming loop; None when it has no pose track."""
    if session.track is None:
        return None
    ex = catalogue.get(session.exercise)
    joints = (labels or {}).get(ex.key) or tuple(ex.salient_joints)
    teacher = TeacherCoach(session, lambda text: len(utterance_ids(tokenizer, config, text)))
    run_coach(teacher, session.track, ex, context_morph=session.context_morph, salient=joints)
    steps, times = [], []
    for k, (inp, said) in enumerate(teacher.seen):
        refresh = k == 0 or bool(inp.new_reps)
        steps.append(StepExample(step=inp.step, context_motion=inp.context_motion if refresh else None, utterance=said))
        times.append(float(inp.t_s))
    label = torch.zeros(len(JOINT_NAMES))
    label[[JOINT_NAMES.index(j) for j in joints]] = 1.0
    return TrainingExample(
        session.session_id,
        ex.key,
        session.context_morph,
        steps,
        label,
        sum(s.utterance is not None for s in steps),
        video=SessionVideo.of(session),
        step_times_s=times,
    )


def window_frames(example: SessionExample, window_steps: int) -> list[WindowFrames | None]:
    """Per training window of ``example`` (as ``workbench.model.train.windows`` cuts them: consecutive runs of
    ``window_steps`` called steps, renumbered from the first), where its frames come from; None without video."""
    starts = range(0, len(example.steps), window_steps)
    video = example.video if isinstance(example, TrainingExample) else None
    if video is None:
        return [None for _ in starts]
    assert isinstance(example, TrainingExample)
    out: list[WindowFrames | None] = []
    for a in starts:
        chunk = example.steps[a : a + window_steps]
        first = chunk[0].step
        out.append(WindowFrames(video, first, max(s.step for s in chunk) - first + 1, example.t0_s))
    return out


def prepare(
    sessions: Sequence[CoachingSession],
    tokenizer: Any,
    config: CoachConfig,
    window_steps: int,
    catalogue: Catalogue,
    labels: Mapping[str, tuple[str, ...]] | None = None,
) -> Dataset:
    """Every session with a pose track as training windows; windows of sessions with a video carry its frames
    (a :class:`VideoDataset`, decoding them per batch)."""
    examples = [e for s in sessions if (e := session_example(s, tokenizer, config, catalogue, labels)) is not None]
    base = build_dataset(examples, tokenizer, config, window_steps)
    frames = [w for e in examples for w in window_frames(e, window_steps)]
    if len(frames) != len(base):
        raise AssertionError(f"{len(frames)} frame sources for {len(base)} windows: windows() changed")
    return VideoDataset(
        base.plans, base.morph_ids, base.labels, base.pad_id, base.sources, frames=frames, config=config
    )
