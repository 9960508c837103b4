"""Training the coaching model (paper §3.6, supplement §11.4): two stages, frozen backbone and LM.

Stage 1 trains the DoF selector with balanced BCE on salient-joint labels (accepted review labels from the
store per exercise, else the catalogue's salient joints). Stage 2 freezes it and trains the fusion layers —
cross-attention, the projection into the LM, and the added tokens' embeddings and output rows — with the
autoregressive loss, ``<next>`` targets weighted α = 0.1. AdamW, lr 2e-5, batch 8 by default.

Sessions become token sequences by replaying them through the same streaming loop the coach runs in
(``workbench.model.loop``) with a teacher coach that says the ground-truth utterance at the first decision
step at or after its time: C_motion, rep completions and speech-time skipping are exactly what the neural
coach will see. Long sessions are cut into windows of ``window_steps`` decision steps.

Checkpoints (``--out``): coach_config.json, coach.safetensors, provenance.json (data, steps, seed, LM,
code version) and training_state.pt (optimizer, stage, step, RNG states) for ``--resume``.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import torch

from workbench.errors import WorkbenchError
from workbench.model.coaching import DecisionInput, Utterance
from workbench.model.configuration_coach import CODE_VERSION, CoachConfig
from workbench.model.modeling_coach import CoachModel, balanced_bce
from workbench.model.sessions import CoachingSession
from workbench.model.tokens import CoachBatch, Plan, StepExample, build_plan, collate, encode, utterance_ids
from workbench.skeleton import JOINT_NAMES

log = logging.getLogger(__name__)

STATE_NAME = "training_state.pt"


class TrainingError(WorkbenchError):
    """Training cannot start: no usable sessions, an incompatible checkpoint to resume, …"""


@dataclass(frozen=True)
class TrainSettings:
    stage: str = "all"  # "1", "2" or "all"
    steps: int = 20  # optimiser steps per stage
    lr: float = 2e-5
    batch_size: int = 8
    alpha: float = 0.1
    seed: int = 0
    window_steps: int = 32  # decision steps per training window (8 s)
    save_every: int = 10
    data: str = "synthetic"


@dataclass
class SessionExample:
    session_id: str
    exercise: str
    context_morph: str
    steps: list[StepExample]
    labels: torch.Tensor  # (24,) salient joints
    n_utterances: int = 0


# ------------------------------------------------------------------------------------ data preparation
class _TeacherCoach:
    """Says each ground-truth utterance at the first decision step at or after its time (teacher forcing),
    recording what the coach saw at every called step."""

    def __init__(self, session: CoachingSession, count: Callable[[str], int]):
        self.todo = sorted(session.utterances, key=lambda u: u.t_s)
        self.count = count
        self.seen: list[tuple[DecisionInput, str | None]] = []

    @property
    def name(self) -> str:
        return "teacher"

    def reset(self, exercise: str, context_morph: str) -> None:
        del exercise, context_morph

    def decide(self, inp: DecisionInput) -> Utterance | None:
        said = None
        while self.todo and self.todo[0].t_s <= inp.t_s + 1e-9:
            u = self.todo.pop(0)
            said = u.text if said is None else said  # several due at once: the first is said, the rest dropped
        self.seen.append((inp, said))
        if said is None:
            return None
        return Utterance(text=said, n_tokens=self.count(said), kind="corrective")


def session_example(session: CoachingSession, tokenizer: Any, config: CoachConfig,
                    labels: dict[str, tuple[str, ...]] | None = None) -> SessionExample | None:  # fmt: skip
    """Replay a session through the streaming loop; None when it has no pose track."""
    from workbench.model.loop import run_coach
    from workbench.motion.context import morph_context

    if session.track is None:
        return None
    joints = (labels or {}).get(session.exercise) or _catalogue_joints(session.exercise)
    teacher = _TeacherCoach(session, lambda text: len(utterance_ids(tokenizer, config, text)))
    morph = str(session.metadata.get("context_morph") or morph_context(None))
    run_coach(teacher, session.track, session.exercise, context_morph=morph, salient=joints)
    steps = []
    for k, (inp, said) in enumerate(teacher.seen):
        refresh = k == 0 or bool(inp.new_reps)
        steps.append(StepExample(step=inp.step, context_motion=inp.context_motion if refresh else None,
                                 utterance=said))  # fmt: skip
    label = torch.zeros(len(JOINT_NAMES))
    label[[JOINT_NAMES.index(j) for j in joints]] = 1.0
    return SessionExample(session.session_id, session.exercise, morph, steps, label,
                          sum(s.utterance is not None for s in steps))  # fmt: skip


def windows(ex: SessionExample, window_steps: int) -> list[list[StepExample]]:
    """Cut a session into windows of called steps; each window restates C_motion at its first step."""
    out = []
    last_motion: str | None = None
    current: list[StepExample] = []
    for s in ex.steps:
        if s.context_motion is not None:
            last_motion = s.context_motion
        if not current:
            s = replace(s, context_motion=last_motion)
        current.append(s)
        if len(current) == window_steps:
            out.append(current)
            current = []
    if current:
        out.append(current)
    # steps restart at 0 inside a window: visual features are per window
    return [[replace(s, step=s.step - w[0].step) for s in w] for w in out]


def _catalogue_joints(exercise: str) -> tuple[str, ...]:
    from workbench.exercises import load_catalogue

    return tuple(load_catalogue().get(exercise).salient_joints)


def salient_labels_from_store(db: Any = None) -> dict[str, tuple[str, ...]]:
    """Accepted salient-joint labels per exercise from the review store (the most frequent joint set); an
    exercise no expert has labelled is absent, and the catalogue's joints are used for it."""
    from workbench.review.labels import accepted_salient_labels

    if db is None:
        from workbench.store.database import Database

        db = Database()
    labels = accepted_salient_labels(db)
    by_ex: dict[str, dict[tuple[str, ...], int]] = {}
    for lab in labels:
        key = tuple(sorted(lab.joints))
        by_ex.setdefault(lab.exercise, {}).setdefault(key, 0)
        by_ex[lab.exercise][key] += 1
    return {ex: max(counts, key=lambda k: counts[k]) for ex, counts in by_ex.items() if counts}


def load_sessions(data: str, n_synthetic: int = 32, seed: int = 0) -> list[CoachingSession]:
    """``synthetic`` (the project's generator) or a QEVD folder (the evaluation issue's loader)."""
    if data == "synthetic":
        from workbench.model.synthetic_sessions import synthetic_sessions

        return synthetic_sessions(n_synthetic, seed=seed)
    folder = Path(data)
    if not folder.is_dir():
        raise TrainingError(f"--data: expected 'synthetic' or a QEVD-fit-coach folder, got {data!r} (not a folder)")
    from workbench.data import qevd

    loader = getattr(qevd, "load_sessions", None) or getattr(qevd, "iter_sessions", None)
    if loader is None:
        raise TrainingError("the QEVD loader (workbench.data.qevd) offers no load_sessions/iter_sessions function")
    sessions = [s for s in loader(folder) if s.track is not None]
    if not sessions:
        raise TrainingError(f"{folder}: no QEVD session with a pose track (run the pose stage on the clips first)")
    return sessions


# ----------------------------------------------------------------------------------------- batching
@dataclass
class Dataset:
    plans: list[Plan]
    morph_ids: list[list[int]]
    labels: list[torch.Tensor]
    pad_id: int
    sources: list[str] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.plans)

    def batch(self, idx: Sequence[int]) -> CoachBatch:
        return collate([self.plans[i] for i in idx], [self.morph_ids[i] for i in idx], self.pad_id,
                       joint_labels=torch.stack([self.labels[i] for i in idx]))  # fmt: skip


def build_dataset(examples: Sequence[SessionExample], tokenizer: Any, config: CoachConfig,
                  window_steps: int) -> Dataset:  # fmt: skip
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id
    ds = Dataset([], [], [], int(pad))
    for ex in examples:
        for w in windows(ex, window_steps):
            ds.plans.append(build_plan(tokenizer, config, ex.exercise, ex.context_morph, w))
            ds.morph_ids.append(encode(tokenizer, ex.context_morph))
            ds.labels.append(ex.labels)
            ds.sources.append(ex.session_id)
    return ds


# ------------------------------------------------------------------------------------------ training
def trainable_parameters(model: CoachModel, stage: str) -> list[torch.nn.Parameter]:
    """Stage 1: the DoF selector. Stage 2: cross-attention, projection, added-token embeddings and rows."""
    if stage == "1":
        mods: list[Any] = [model.selector]
        extra: list[torch.nn.Parameter] = []
    else:
        mods = [model.fusion, model.project]
        extra = [model.special_embed, model.special_head]
    params = [p for m in mods for p in m.parameters()] + extra
    for p in model.parameters():
        p.requires_grad_(False)
    for p in params:
        p.requires_grad_(True)
    return params


def stage_loss(model: CoachModel, batch: CoachBatch, stage: str, alpha: float) -> torch.Tensor:
    if stage == "1":
        vis = model.visual_features(batch.frames, batch.ids.shape[0], batch.n_steps)
        assert batch.joint_labels is not None
        return balanced_bce(model.joint_scores(vis), batch.joint_labels)
    return model(batch, alpha=alpha).loss


def _rng_state() -> dict[str, Any]:
    return {"torch": torch.get_rng_state(), "numpy": np.random.get_state(), "python": random.getstate()}


def _set_rng(state: dict[str, Any]) -> None:
    torch.set_rng_state(state["torch"])
    np.random.set_state(state["numpy"])
    random.setstate(state["python"])


@dataclass
class TrainResult:
    out: Path
    losses: dict[str, list[float]]
    steps_done: dict[str, int]
    seconds: float


def train(model: CoachModel, dataset: Dataset, settings: TrainSettings, out: Path, *, resume: bool = False,
          provenance: dict[str, Any] | None = None,
          progress: Callable[[str, int, float], None] | None = None) -> TrainResult:  # fmt: skip
    """Run the requested stages, saving a checkpoint every ``save_every`` steps and at the end."""
    if len(dataset) == 0:
        raise TrainingError("no training windows: the sessions have no pose track or no decision steps")
    out = Path(out)
    stages = ["1", "2"] if settings.stage == "all" else [settings.stage]
    done = {s: 0 for s in stages}
    losses: dict[str, list[float]] = {s: [] for s in stages}
    opt_state: dict[str, Any] | None = None
    torch.manual_seed(settings.seed)
    random.seed(settings.seed)
    np.random.seed(settings.seed)
    if resume and (out / STATE_NAME).is_file():
        state = torch.load(out / STATE_NAME, weights_only=False)
        done.update({k: v for k, v in state["done"].items() if k in done})
        losses.update({k: v for k, v in state["losses"].items() if k in losses})
        opt_state = state.get("optimizer")
        _set_rng(state["rng"])
        opt_stage = state.get("optimizer_stage")
    else:
        opt_stage = None
    t_start = time.perf_counter()
    opt: torch.optim.Optimizer | None = None
    for stage in stages:
        if done[stage] >= settings.steps:
            continue
        params = trainable_parameters(model, stage)
        opt = torch.optim.AdamW(params, lr=settings.lr)
        if opt_state is not None and opt_stage == stage:
            opt.load_state_dict(opt_state)
        model.train()
        model.lm.eval()
        if stage == "2":
            model.selector.eval()  # frozen: its dropout stays off
        while done[stage] < settings.steps:
            # the batch order depends only on (seed, stage, step): a resumed run sees the same batches
            step_rng = np.random.default_rng([settings.seed, int(stage), done[stage]])
            idx = step_rng.choice(len(dataset), size=min(settings.batch_size, len(dataset)), replace=False)
            loss = stage_loss(model, dataset.batch(idx.tolist()), stage, settings.alpha)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            done[stage] += 1
            losses[stage].append(float(loss.detach()))
            if progress is not None:
                progress(stage, done[stage], float(loss.detach()))
            if done[stage] % settings.save_every == 0 or done[stage] == settings.steps:
                _save(model, out, settings, done, losses, opt, stage, provenance, dataset)
        if stage == "1":
            model.config = replace(model.config, selector_trained=True)
            _save(model, out, settings, done, losses, opt, stage, provenance, dataset)
    model.eval()
    last = next((s for s in reversed(stages) if done[s] > 0), stages[-1])
    _save(model, out, settings, done, losses, opt, last, provenance, dataset)
    return TrainResult(out=out, losses=losses, steps_done=done, seconds=time.perf_counter() - t_start)


def _save(model: CoachModel, out: Path, settings: TrainSettings, done: dict[str, int],
          losses: dict[str, list[float]], opt: torch.optim.Optimizer | None, stage: str,
          provenance: dict[str, Any] | None, dataset: Dataset) -> None:  # fmt: skip
    import datetime as dt

    prov = dict(provenance or {})
    prov.update({
        "code_version": CODE_VERSION, "data": settings.data, "n_windows": len(dataset),
        "n_sessions": len(set(dataset.sources)), "steps": done, "seed": settings.seed, "lr": settings.lr,
        "batch_size": settings.batch_size, "alpha": settings.alpha, "window_steps": settings.window_steps,
        "language_model": model.config.lm_name, "final_loss": {k: v[-1] for k, v in losses.items() if v},
        "frames": f"pose-only sessions: the backbone saw black frames ({model.config.pose_only_frames})",
        "saved_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
    })  # fmt: skip
    model.save_pretrained(out, prov)
    state = {"done": done, "losses": losses, "rng": _rng_state(), "optimizer_stage": stage,
             "optimizer": opt.state_dict() if opt is not None else None}  # fmt: skip
    tmp = out / f".{STATE_NAME}.tmp"
    torch.save(state, tmp)
    tmp.replace(out / STATE_NAME)


def prepare(sessions: Sequence[CoachingSession], tokenizer: Any, config: CoachConfig, window_steps: int,
            labels: dict[str, tuple[str, ...]] | None = None) -> Dataset:  # fmt: skip
    examples = [e for s in sessions if (e := session_example(s, tokenizer, config, labels)) is not None]
    return build_dataset(examples, tokenizer, config, window_steps)
