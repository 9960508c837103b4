"""Training the coaching model (paper §3.6, supplement §11.4): two stages, frozen backbone and LM.

Stage 1 trains the DoF selector with balanced BCE on salient-joint labels (accepted review labels from the
store per exercise, else the catalogue's salient joints). Stage 2 freezes it and trains the fusion layers —
cross-attention, the projection into the LM, and the added tokens' embeddings and output rows — with the
autoregressive loss, ``<next>`` targets weighted α = 0.1. AdamW, lr 2e-5, batch 8 by default.

The loss is computed on the fast path of ``workbench.model.fasttrain`` (the same loss and gradients as
``CoachModel.forward`` on a padded batch, 3.5× faster per step on the CPU; ``TrainSettings(fast=False)`` keeps
the plain one; BENCHMARKS.md, "Training speed").

Sessions become ``SessionExample``s in ``workbench.coach.training_data`` (replayed through the streaming loop
the coach runs in); here they are cut into windows of ``window_steps`` decision steps, batched and trained on.
Batches are collated on the CPU and moved to the model's device (``biocoach train`` trains on the CPU;
bench/gpu_coach.py trains a ``model.to("cuda")``).

Checkpoints (``--out``): coach_config.json, coach.safetensors, provenance.json (data, steps, seed, LM,
code version) and training_state.pt (optimizer, stage, step, RNG states) for ``--resume``. Every optimiser step
is logged to ``<out>/logs/train.csv`` and TensorBoard files in ``<out>/logs/tb`` (``workbench.model.trainlog``).

LoRA (``TrainSettings.lora_rank``; the model is built with ``workbench.model.lora.with_lora``): stage 2 also
trains the adapters on the LM's q/v projections; they are saved with the coach's other trainable weights.
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
from workbench.model.configuration_coach import CODE_VERSION, NEXT, CoachConfig
from workbench.model.fasttrain import FastLoss, FastOptions
from workbench.model.lora import lora_settings
from workbench.model.modeling_coach import CoachModel, balanced_bce
from workbench.model.tokens import CoachBatch, Plan, StepExample, build_plan, collate, encode
from workbench.model.trainlog import StepRecord, TrainLog

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
    fast: bool = True  # the optimised loss (workbench.model.fasttrain); False: CoachModel.forward on padded batches
    bf16: bool = False  # fast path only: the frozen LM pass in bfloat16 (bench/bench_train.py prints the loss change)


@dataclass
class SessionExample:
    session_id: str
    exercise: str
    context_morph: str
    steps: list[StepExample]
    labels: torch.Tensor  # (24,) salient joints
    n_utterances: int = 0


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
        return collate(
            [self.plans[i] for i in idx],
            [self.morph_ids[i] for i in idx],
            self.pad_id,
            joint_labels=torch.stack([self.labels[i] for i in idx]),
        )


def build_dataset(
    examples: Sequence[SessionExample], tokenizer: Any, config: CoachConfig, window_steps: int
) -> Dataset:
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
        if model.lora is not None:  # LoRA adapters on the LM's q/v projections (the base weights stay frozen)
            mods.append(model.lora)
        extra = [model.special_embed, model.special_head]
    params = [p for m in mods for p in m.parameters()] + extra
    for p in model.parameters():
        p.requires_grad_(False)
    for p in params:
        p.requires_grad_(True)
    return params


def stage_loss(model: CoachModel, batch: CoachBatch, stage: str, alpha: float) -> torch.Tensor:
    return stage_terms(model, batch, stage, alpha)[0]


def stage_terms(
    model: CoachModel, batch: CoachBatch, stage: str, alpha: float
) -> tuple[torch.Tensor, float | None, float | None]:
    """(loss, CE per <next> target, CE per other target) on the padded-batch path; stage 1: (BCE, None, None)."""
    if stage == "1":
        vis = model.visual_features(batch.frames, batch.ids.shape[0], batch.n_steps)
        assert batch.joint_labels is not None
        return balanced_bce(model.joint_scores(vis), batch.joint_labels), None, None
    out = model(batch, alpha=alpha)
    n_next, n_other = _target_counts(model, batch)
    return out.loss, _per(out.ce_next_sum, n_next), _per(out.ce_other_sum, n_other)


def _target_counts(model: CoachModel, batch: CoachBatch) -> tuple[int, int]:
    target = batch.labels >= 0
    n_next = int((batch.labels[target] == model.config.special_id(NEXT)).sum())
    return n_next, int(target.sum()) - n_next


def _per(total: torch.Tensor, n: int) -> float | None:
    return float(total.detach()) / n if n else None


def _grad_norm(params: Sequence[torch.nn.Parameter]) -> float:
    norms = [torch.linalg.vector_norm(p.grad.detach().float()) for p in params if p.grad is not None]
    return float(torch.linalg.vector_norm(torch.stack(norms))) if norms else 0.0


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


def train(
    model: CoachModel,
    dataset: Dataset,
    settings: TrainSettings,
    out: Path,
    *,
    resume: bool = False,
    provenance: dict[str, Any] | None = None,
    progress: Callable[[str, int, float], None] | None = None,
) -> TrainResult:
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
    with TrainLog(out, resume=resume, done=done) as tlog:
        opt = _run_stages(
            model, dataset, settings, out, stages, done, losses, opt_state, opt_stage, provenance, progress, tlog
        )
    model.eval()
    last = next((s for s in reversed(stages) if done[s] > 0), stages[-1])
    _save(model, out, settings, done, losses, opt, last, provenance, dataset)
    return TrainResult(out=out, losses=losses, steps_done=done, seconds=time.perf_counter() - t_start)


def _run_stages(
    model: CoachModel,
    dataset: Dataset,
    settings: TrainSettings,
    out: Path,
    stages: list[str],
    done: dict[str, int],
    losses: dict[str, list[float]],
    opt_state: dict[str, Any] | None,
    opt_stage: str | None,
    provenance: dict[str, Any] | None,
    progress: Callable[[str, int, float], None] | None,
    tlog: TrainLog,
) -> torch.optim.Optimizer | None:
    """The stages' optimiser loops (each step logged to ``tlog``); returns the last optimizer."""
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
        fast = (
            FastLoss(model, FastOptions(bf16=settings.bf16), max(p.n_steps for p in dataset.plans))
            if settings.fast
            else None
        )
        device = model.special_head.device  # the model's (training on a GPU: model.to("cuda") beforehand)
        while done[stage] < settings.steps:
            # the batch order depends only on (seed, stage, step): a resumed run sees the same batches
            step_rng = np.random.default_rng([settings.seed, int(stage), done[stage]])
            idx = step_rng.choice(len(dataset), size=min(settings.batch_size, len(dataset)), replace=False)
            batch = dataset.batch(idx.tolist()).to(device)
            t0 = time.perf_counter()
            if fast is not None:
                loss = fast.loss(batch, stage, settings.alpha)
                ce_next, ce_other = (None, None) if stage == "1" else fast.last_ce
            else:
                loss, ce_next, ce_other = stage_terms(model, batch, stage, settings.alpha)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            grad_norm = _grad_norm(params)
            lr = float(opt.param_groups[0]["lr"])
            opt.step()
            seconds = time.perf_counter() - t0
            done[stage] += 1
            losses[stage].append(float(loss.detach()))
            n_tokens = int(batch.attention_mask.sum())
            tlog.log(
                StepRecord(
                    stage=stage,
                    step=done[stage],
                    loss=float(loss.detach()),
                    ce_next=ce_next,
                    ce_other=ce_other,
                    lr=lr,
                    seconds=seconds,
                    tokens_per_s=n_tokens / seconds if seconds > 0 else 0.0,
                    grad_norm=grad_norm,
                )
            )
            if progress is not None:
                progress(stage, done[stage], float(loss.detach()))
            if done[stage] % settings.save_every == 0 or done[stage] == settings.steps:
                _save(model, out, settings, done, losses, opt, stage, provenance, dataset)
        if stage == "1":
            model.config = replace(model.config, selector_trained=True)
            _save(model, out, settings, done, losses, opt, stage, provenance, dataset)
    return opt


def _lora_json(config: CoachConfig) -> dict[str, Any] | None:
    ls = lora_settings(config)
    return None if ls is None else {**ls.to_json(), "base_lm": "frozen, not saved (adapters only)"}


def _frames_text(dataset: Dataset, pose_only_frames: object) -> str:
    """What the backbone saw: how many windows had video frames (a VideoDataset, workbench.coach.training_data,
    read by attribute: the model layer does not import the coach), the rest black frames."""
    n_video = int(getattr(dataset, "n_video_windows", 0) or 0)
    if not n_video:
        return f"pose-only sessions: the backbone saw black frames ({pose_only_frames})"
    return f"{n_video} of {len(dataset)} windows with video frames; the rest black frames ({pose_only_frames})"


def _save(
    model: CoachModel,
    out: Path,
    settings: TrainSettings,
    done: dict[str, int],
    losses: dict[str, list[float]],
    opt: torch.optim.Optimizer | None,
    stage: str,
    provenance: dict[str, Any] | None,
    dataset: Dataset,
) -> None:
    import datetime as dt

    prov = dict(provenance or {})
    prov.update(
        {
            "code_version": CODE_VERSION,
            "data": settings.data,
            "n_windows": len(dataset),
            "n_sessions": len(set(dataset.sources)),
            "steps": done,
            "seed": settings.seed,
            "lr": settings.lr,
            "batch_size": settings.batch_size,
            "alpha": settings.alpha,
            "window_steps": settings.window_steps,
            "loss_path": ("fast, bf16 LM pass" if settings.bf16 else "fast") if settings.fast else "padded batch",
            "language_model": model.config.lm_name,
            "lora": _lora_json(model.config),
            "logs": "logs/train.csv, logs/tb",
            "final_loss": {k: v[-1] for k, v in losses.items() if v},
            "frames": _frames_text(dataset, model.config.pose_only_frames),
            "saved_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        }
    )
    n_video = int(getattr(dataset, "n_video_windows", 0))
    if model.config.trained_on_frames is not (n_video > 0) and done.get("2", 0) > 0:
        model.config = replace(model.config, trained_on_frames=n_video > 0)  # what the fusion layers have seen
    if done.get("2", 0) > 0:  # decode in the windows it was trained on (CoachConfig.decode_window_steps)
        model.config = replace(model.config, decode_window_steps=settings.window_steps)
    model.save_pretrained(out, prov)
    state = {
        "done": done,
        "losses": losses,
        "rng": _rng_state(),
        "optimizer_stage": stage,
        "optimizer": opt.state_dict() if opt is not None else None,
    }
    tmp = out / f".{STATE_NAME}.tmp"
    torch.save(state, tmp)
    tmp.replace(out / STATE_NAME)
