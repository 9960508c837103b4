"""Training speed of `biocoach train` on the CPU (issue 19): optimiser steps/s and tokens/s of stage 2 (and
stage 1), the current code path against the optimised one, in the same run and on the same batches.

Data: ``--sessions`` synthetic sessions (``workbench.coach.synthetic_sessions``) replayed through the streaming
loop into windows of 32 decision steps, the packaged SmolLM2-135M, batch 8 (paper), AdamW. Every variant starts
from the same weights and draws the same batches (the batch order depends only on seed, stage and step).

Stage 2 variants, each adding one optimisation to the previous (``workbench.model.fasttrain.FastOptions``):

    baseline       CoachModel.forward: the padded batch through the Hugging Face LM (TrainSettings(fast=False))
    +unpadded      constant backbone output computed once; each window at its own length up to its last target
    +fused         the LM pass with fused q|k|v and gate|up weights (own layer loop)
    +head no_grad  the frozen head (prefix, exercise, C_morph, opening C_motion) outside the graph
    +head cached   ... and its keys/values computed once per window (the fast path's default)
    +bf16          the LM pass in bfloat16 (off by default; the loss change against fp32 is printed)

Tokens/s counts the windows' real tokens (unpadded length) per step, the same numerator for every variant.
The one-time cost of filling the head cache is timed separately. Gradients of the first step are compared
with the baseline's (‖g − g_baseline‖ / ‖g_baseline‖ over all trainable tensors).

Usage: ``.venv/bin/python bench/bench_train.py [--steps 2] [--threads 1] [--sessions 8] [--batch-size 8]
[--variants "baseline,+head cached,+bf16"] [--baseline-again] [--stage1-only]``.
"""

from __future__ import annotations

import argparse
import json
import time
from typing import Any

import numpy as np
import torch

VARIANTS: dict[str, dict[str, Any] | None] = {
    "baseline": None,
    "+unpadded": {"fused_lm": False, "head": "grad"},
    "+fused": {"head": "grad"},
    "+head no_grad": {"head": "no_grad"},
    "+head cached": {},
    "+bf16": {"bf16": True},
}


def main() -> dict[str, Any]:
    ap = argparse.ArgumentParser()
    ap.add_argument("--steps", type=int, default=2, help="timed optimiser steps per variant (stage 2)")
    ap.add_argument("--stage1-steps", type=int, default=5)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--sessions", type=int, default=8)
    ap.add_argument("--batch-size", type=int, default=8)
    ap.add_argument("--window-steps", type=int, default=32)
    ap.add_argument("--variants", default=",".join(VARIANTS), help="comma-separated subset (baseline always runs)")
    ap.add_argument("--stage1-only", action="store_true")
    ap.add_argument(
        "--baseline-again",
        action="store_true",
        help="time the baseline again after the variants "
        "(the load on a shared machine drifts; the ratios are then against the mean of both)",
    )
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    from workbench.coach.neural import default_config
    from workbench.coach.synthetic_sessions import synthetic_sessions
    from workbench.coach.training_data import prepare
    from workbench.exercises import load_catalogue
    from workbench.llm import load_causal_lm
    from workbench.model.fasttrain import FastLoss, FastOptions
    from workbench.model.modeling_coach import CoachModel
    from workbench.model.tokens import IGNORE
    from workbench.model.train import stage_loss, trainable_parameters

    lm = load_causal_lm()
    torch.manual_seed(0)
    model = CoachModel(default_config(lm.model, lm.name), lm.model)
    initial = {k: v.clone() for k, v in model.state_dict().items()}
    ds = prepare(
        synthetic_sessions(args.sessions, seed=0), lm.tokenizer, model.config, args.window_steps, load_catalogue()
    )
    bs = min(args.batch_size, len(ds))

    def batch_idx(stage: str, step: int) -> list[int]:
        rng = np.random.default_rng([0, int(stage), step])  # as workbench.model.train draws them
        return [int(i) for i in rng.choice(len(ds), size=bs, replace=False)]

    def real_tokens(idx: list[int]) -> int:
        return sum(len(ds.plans[i].ids) for i in idx)

    def run(stage: str, steps: int, fast: FastLoss | None) -> dict[str, Any]:
        model.load_state_dict(initial)
        torch.manual_seed(0)  # the selector's dropout draws the same masks in every variant
        params = trainable_parameters(model, stage)
        opt = torch.optim.AdamW(params, lr=2e-5)
        model.train()
        if stage == "2":
            model.selector.eval()
        times, losses, tokens, grads = [], [], [], None
        for step in range(steps):
            idx = batch_idx(stage, step)
            batch = ds.batch(idx)
            t0 = time.perf_counter()
            loss = fast.loss(batch, stage, 0.1) if fast is not None else stage_loss(model, batch, stage, 0.1)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            if step == 0:
                grads = [p.grad.detach().clone() if p.grad is not None else torch.zeros_like(p) for p in params]
            opt.step()
            times.append(time.perf_counter() - t0)
            losses.append(float(loss.detach()))
            tokens.append(real_tokens(idx))
        s = sum(times)
        return {
            "s_per_step": s / steps,
            "steps_per_s": steps / s,
            "tokens_per_s": sum(tokens) / s,
            "losses": losses,
            "grads": grads,
        }

    def grad_diff(a: list[torch.Tensor], b: list[torch.Tensor]) -> float:
        """‖g − g_baseline‖ / ‖g_baseline‖ over all trainable tensors together."""
        x, y = torch.cat([t.flatten() for t in a]), torch.cat([t.flatten() for t in b])
        return float((x - y).norm() / y.norm().clamp(min=1e-30))

    results: dict[str, Any] = {"threads": args.threads, "windows": len(ds), "batch_size": bs}
    # ---- stage 1: the DoF selector on (pose-only) black-frame backbone features
    s1_base = run("1", args.stage1_steps, None)
    max_steps = max(p.n_steps for p in ds.plans)
    fast1 = FastLoss(model, max_steps=max_steps)
    t0 = time.perf_counter()
    fast1.visual_features(None, 1, max_steps)  # one-time: the backbone on black frames, longest window
    s1_fill = time.perf_counter() - t0
    s1_fast = run("1", args.stage1_steps, fast1)
    results["stage1"] = {
        "baseline_steps_per_s": s1_base["steps_per_s"],
        "fast_steps_per_s": s1_fast["steps_per_s"],
        "ratio": s1_fast["steps_per_s"] / s1_base["steps_per_s"],
        "max_loss_diff": max(abs(a - b) for a, b in zip(s1_fast["losses"], s1_base["losses"], strict=True)),
    }
    print(
        f"stage 1 ({args.stage1_steps} steps, batch {bs}, {args.threads} thread(s)): baseline "
        f"{s1_base['steps_per_s']:.2f} steps/s, fast {s1_fast['steps_per_s']:.1f} steps/s "
        f"({results['stage1']['ratio']:.0f}×; the backbone output computed once beforehand in {s1_fill:.2f} s), "
        f"max |Δloss| {results['stage1']['max_loss_diff']:.1e}"
    )
    results["stage1"]["backbone_once_s"] = s1_fill
    if args.stage1_only:
        print(json.dumps(results, default=float))
        return results
    # ---- stage 2
    plans = ds.plans
    targets = [max(i for i, lab in enumerate(p.labels) if lab != IGNORE) + 1 for p in plans]
    lengths = [len(p.ids) for p in plans]
    print(
        f"stage 2: {len(ds)} windows from {args.sessions} sessions, real length {min(lengths)}–{max(lengths)} "
        f"tokens (mean {np.mean(lengths):.0f}), last target at mean {np.mean(targets):.0f}; batch {bs}, "
        f"{args.steps} steps per variant, {args.threads} thread(s)"
    )
    wanted = [v for v in args.variants.split(",") if v]
    base: dict[str, Any] | None = None
    rows: dict[str, Any] = {}
    for name in ["baseline", *[v for v in wanted if v != "baseline"]]:
        opts = VARIANTS[name]
        fast = None if opts is None else FastLoss(model, FastOptions(**opts), max_steps)
        fill = 0.0
        if fast is not None and fast.options.head == "cached":  # one-time: every window's head once
            model.load_state_dict(initial)
            t0 = time.perf_counter()
            for i in range(len(ds)):
                batch = ds.batch([i])
                ids = batch.ids[0]
                first = int((ids == -1).nonzero()[0])
                fast.head_kv(ids[:first])
            fill = time.perf_counter() - t0
        r = run("2", args.steps, fast)
        base = base or r
        assert base is not None and r["grads"] is not None and base["grads"] is not None
        row = {
            "s_per_step": r["s_per_step"],
            "steps_per_s": r["steps_per_s"],
            "tokens_per_s": r["tokens_per_s"],
            "speedup": base["s_per_step"] / r["s_per_step"],
            "max_rel_loss_diff": max(abs(a - b) / abs(b) for a, b in zip(r["losses"], base["losses"], strict=True)),
            "max_rel_grad_diff": grad_diff(r["grads"], base["grads"]),
            "cache_fill_s": fill,
        }
        rows[name] = row
        extra = f", head cache filled once in {fill:.1f} s ({fast.head_bytes / 2**20:.0f} MB)" if fill else ""
        print(
            f"  {name:14s} {row['s_per_step']:8.2f} s/step  {row['steps_per_s']:.4f} steps/s  "
            f"{row['tokens_per_s']:7.1f} tokens/s  {row['speedup']:5.1f}× baseline  "
            f"|Δloss|/loss {row['max_rel_loss_diff']:.1e}  ‖Δgrad‖/‖grad‖ {row['max_rel_grad_diff']:.1e}{extra}",
            flush=True,
        )
    if args.baseline_again:
        again = run("2", args.steps, None)
        mean_s = (base["s_per_step"] + again["s_per_step"]) / 2
        print(
            f"  baseline again {again['s_per_step']:8.2f} s/step; against the mean of both baselines "
            f"({mean_s:.2f} s/step): "
            + ", ".join(f"{k} {mean_s / r['s_per_step']:.1f}×" for k, r in rows.items() if k != "baseline")
        )
        for row in rows.values():
            row["speedup_vs_mean_baseline"] = mean_s / row["s_per_step"]
        rows["baseline_again"] = {
            "s_per_step": again["s_per_step"],
            "steps_per_s": again["steps_per_s"],
            "tokens_per_s": again["tokens_per_s"],
        }
    results["stage2"] = rows
    print(json.dumps(results, default=float))
    return results


if __name__ == "__main__":
    main()
