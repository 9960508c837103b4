"""The full coaching model with a 7B-class LM on one GPU: decisions per second and concurrent real-time streams.

What runs: a LLaMA-2-7B-sized LlamaForCausalLM (random bf16 weights, built directly on the GPU — no 7B
download, no CPU copy), the paper-sized coach around it (backbone d = 1280, 8-head cross-attention, DoF
selector) and the coach's incremental decoder (``workbench.model.fastlm.FastDecoder``) with one KV cache row
per stream. All streams advance in lockstep: one batched decision step = every stream's backbone step on 4
new frames, fusion, appending the step's visual tokens, and the 2-row action logits.

Each stream needs 4 decisions per second, so B streams are sustained in real time when one batched step
takes ≤ 250 ms. The sweep goes B = 1, 2, 4, … up to ``--max-batch`` (stopping at the first out-of-memory), for
``--lm-tokens 35`` (the paper: all 35 fused tokens per step) and ``--lm-tokens 1`` (pooled, the CPU default),
each with ``--context`` positions already in every stream's cache (prompt, C_morph, C_motion, history).

Then a short training run (``--train-steps``, default 20; ``--no-train`` skips it): the real coach with the
packaged SmolLM2-135M, trained by the library's own ``workbench.model.train.train`` (the fast path of
``workbench.model.fasttrain``) as the shipped checkpoint was (references/coach/README.md): stage 2, LoRA rank 8
on q/v, lr 1e-3, windows of 16 decision steps, batch 4, the LM pass in bf16, on ``--train-sessions`` synthetic
squat sessions (default 4: 21 windows, ~1,460 tokens a step). It runs on the GPU (2 warm-up steps, then the timed
ones) and then ``--train-cpu-steps`` (default 2) steps on the CPU after the same warm-up, from the same seed and
on the same batches (the batch order depends only on seed and step), all torch threads. Printed: steps/s and
tokens/s (the windows' real tokens, from the training log) on both, the GPU's peak memory, and the GPU/CPU ratio
on the steps both timed (the same batches; the other GPU steps draw other windows, of other lengths). On a fresh
machine the first load of SmolLM2 writes its fp32 copy of the packaged GGUF to the cache (counted in "setup");
nothing is downloaded. A CPU step takes 6.7 s on one thread of the 2-core development machine (8.4 s when the
shipped checkpoint was trained there).

    python bench/gpu_coach.py                 # on a GPU machine: expected < 8 min on one H100 (both sweeps
                                              # 2-4 min, training ~1-2 min with the CPU steps; not yet measured)
    python bench/gpu_coach.py --smoke         # a tiny LM on the CPU, then 2 training steps of SmolLM2 on tiny
                                              # windows twice on the CPU: checks the script (tests run it, ~20 s)

Without CUDA (and without --smoke) it prints "skipped: no CUDA device" and exits 0. Prints a table, the training
lines and one JSON line (``train``: the training rows and the ratio).
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import torch

LLAMA2_7B = {
    "vocab_size": 32000,
    "hidden_size": 4096,
    "intermediate_size": 11008,
    "num_hidden_layers": 32,
    "num_attention_heads": 32,
    "num_key_value_heads": 32,
    "max_position_embeddings": 4096,
}
TINY = {
    "vocab_size": 32000,
    "hidden_size": 64,
    "intermediate_size": 128,
    "num_hidden_layers": 2,
    "num_attention_heads": 4,
    "num_key_value_heads": 2,
    "max_position_embeddings": 4096,
}
STEP_BUDGET_MS = 250.0  # 4 decisions per second per stream
# the shipped checkpoint's training command (references/coach/README.md), less its step count and data size
SHIPPED_TRAINING: dict[str, Any] = {"lr": 1e-3, "window_steps": 16, "batch_size": 4, "lora_rank": 8, "bf16": True}
SMOKE_TRAINING: dict[str, Any] = {**SHIPPED_TRAINING, "window_steps": 4, "batch_size": 2}


def build(smoke: bool, device: torch.device, dtype: torch.dtype, lm_tokens: int) -> tuple[Any, Any]:
    from transformers import LlamaConfig, LlamaForCausalLM

    from workbench.model.configuration_coach import CoachConfig
    from workbench.model.modeling_coach import CoachModel

    cfg = LlamaConfig(**(TINY if smoke else LLAMA2_7B))
    torch.manual_seed(0)
    previous = torch.get_default_dtype()
    torch.set_default_dtype(dtype)
    try:
        with device:  # parameters are created on the GPU directly
            lm = LlamaForCausalLM(cfg).eval()
    finally:
        torch.set_default_dtype(previous)
    lm.requires_grad_(False)
    if smoke:
        coach_cfg = CoachConfig(
            d_vis=64,
            backbone_channels=(8, 8, 16, 32),
            lm_hidden=cfg.hidden_size,
            lm_vocab=cfg.vocab_size,
            lm_visual_tokens=lm_tokens,
            decode_weights="float32",
        )
    else:
        coach_cfg = CoachConfig.paper(lm_visual_tokens=lm_tokens, lm_name="LLaMA-2-7B config, random bf16 weights")
    model = CoachModel(coach_cfg, lm).to(device=device, dtype=dtype).eval()
    return model, lm


def sweep(
    model: Any, lm: Any, *, batches: list[int], context: int, steps: int, device: torch.device, dtype: torch.dtype
) -> list[dict[str, Any]]:
    from workbench.model.fastlm import FastDecoder

    c = model.config
    per_step = c.lm_visual_tokens  # <next> is predicted, not fed back (workbench.model.tokens)
    rows = torch.cat([model.special_head[:2]]).detach()
    rows_out = []
    for b in batches:
        try:
            dec = FastDecoder(
                lm, max_len=context + (steps + 2) * per_step, batch=b, dtype=dtype, device=device, share_weights=True
            )  # no second copy of the 7B weights
        except torch.OutOfMemoryError:
            rows_out.append({"batch": b, "oom": True})
            break
        try:
            with torch.inference_mode():
                # the cached context of every stream (prompt, C_morph, C_motion, history): prefilled in chunks
                for start in range(0, context, 256):
                    n = min(256, context - start)
                    dec.append(torch.randn(b, n, c.lm_hidden, device=device, dtype=dtype) * 0.02)
                morph = torch.randn(b, 24, c.lm_hidden, device=device, dtype=dtype) * 0.02
                state = model.backbone.initial_state(b)
                frames = torch.rand(b, c.frames_per_token, 3, c.frame_height, c.frame_width, device=device, dtype=dtype)
                times = []
                for k in range(steps + 1):
                    if device.type == "cuda":
                        torch.cuda.synchronize()
                    t = time.perf_counter()
                    vis, state = model.backbone.step(frames, state)
                    z = model.fuse(vis[:, None], morph, None)[:, 0]
                    hidden = dec.append(z)[:, -1]
                    action = dec.logits(hidden, rows).argmax(-1)
                    if device.type == "cuda":
                        torch.cuda.synchronize()
                    if k > 0:  # the first step warms kernels up
                        times.append((time.perf_counter() - t) * 1000)
                    del action
        except torch.OutOfMemoryError:
            del dec
            rows_out.append({"batch": b, "oom": True})
            break
        times.sort()
        ms = times[len(times) // 2]
        rows_out.append(
            {
                "batch": b,
                "step_ms": round(ms, 2),
                "decisions_per_s": round(b * 1000 / ms, 1),
                "real_time": ms <= STEP_BUDGET_MS,
            }
        )
        del dec
        if device.type == "cuda":
            torch.cuda.empty_cache()
    return rows_out


def training_data(smoke: bool, sessions: int) -> tuple[Any, Any, Any]:
    """(the CPU language model, the coach's config with LoRA, the dataset) as ``biocoach train --data synthetic
    --exercises squat`` builds them."""
    from workbench.coach.neural import default_config
    from workbench.coach.synthetic_sessions import synthetic_sessions
    from workbench.coach.training_data import prepare
    from workbench.exercises import load_catalogue
    from workbench.llm import load_causal_lm
    from workbench.model.lora import with_lora

    knobs = SMOKE_TRAINING if smoke else SHIPPED_TRAINING
    lm = load_causal_lm()
    config = with_lora(default_config(lm.model, lm.name), int(knobs["lora_rank"]))
    catalogue = load_catalogue()
    data = synthetic_sessions(sessions, ("squat",), seed=0, catalogue=catalogue)
    dataset = prepare(data, lm.tokenizer, config, int(knobs["window_steps"]), catalogue)
    return lm, config, dataset


def train_run(
    lm: Any, config: Any, dataset: Any, device: torch.device, *, smoke: bool, warmup: int, steps: int
) -> dict[str, Any]:
    """``warmup`` + ``steps`` optimiser steps of ``workbench.model.train.train`` on ``device``; the last ``steps``
    timed, each from the end of the step before (batch collation, loss, backward, optimiser step, log row)."""
    from workbench.model.modeling_coach import CoachModel
    from workbench.model.train import TrainSettings, train
    from workbench.model.trainlog import CSV_NAME, LOG_DIR, read_log

    if warmup < 1:
        raise ValueError("warmup: at least one step (the first one builds the fused LM weights)")
    knobs = SMOKE_TRAINING if smoke else SHIPPED_TRAINING
    torch.manual_seed(0)  # the same initial coach on every device
    model = CoachModel(config, lm).to(device)
    total = warmup + steps
    settings = TrainSettings(
        stage="2",
        steps=total,
        lr=float(knobs["lr"]),
        batch_size=int(knobs["batch_size"]),
        window_steps=int(knobs["window_steps"]),
        bf16=bool(knobs["bf16"]),
        save_every=total,  # one checkpoint, written after the last timed step
    )
    marks: list[float] = []

    def progress(stage: str, step: int, loss: float) -> None:
        if device.type == "cuda":
            torch.cuda.synchronize(device)  # the optimiser step is queued, not done, when train() reports
        marks.append(time.perf_counter())

    if device.type == "cuda":
        torch.cuda.empty_cache()
        torch.cuda.reset_peak_memory_stats(device)
    with tempfile.TemporaryDirectory(prefix="gpu_coach_train_") as tmp:
        result = train(model, dataset, settings, Path(tmp), progress=progress)
        log_rows = read_log(Path(tmp) / LOG_DIR / CSV_NAME)
    step_s = [b - a for a, b in zip(marks[warmup - 1 : -1], marks[warmup:], strict=True)]
    # the log holds each step's tokens (the windows' unpadded lengths) as a rate over its own seconds
    tokens = [round(r["tokens_per_s"] * r["seconds"]) for r in log_rows if r["step"] > warmup]
    row: dict[str, Any] = {
        "device": str(device),
        "threads": torch.get_num_threads() if device.type == "cpu" else None,
        "warmup_steps": warmup,
        "steps": steps,
        "step_s": [round(t, 4) for t in step_s],
        "steps_per_s": round(steps / sum(step_s), 4),
        "tokens_per_s": round(sum(tokens) / sum(step_s), 1),
        "tokens_per_step": round(sum(tokens) / steps, 1),
        "losses": [round(v, 5) for v in result.losses["2"]],
        "peak_gib": round(torch.cuda.max_memory_allocated(device) / 2**30, 2) if device.type == "cuda" else None,
    }
    del model
    if device.type == "cuda":
        torch.cuda.empty_cache()
    return row


def training_section(args: argparse.Namespace, device: torch.device) -> dict[str, Any]:
    """The coach trained on ``device`` and on the CPU in the same run, on the same batches; their ratio."""
    t0 = time.perf_counter()
    lm_cpu, config, dataset = training_data(args.smoke, args.train_sessions)
    if device.type == "cuda":
        from workbench.llm import load_causal_lm

        lm_dev = load_causal_lm(device=str(device))
    else:
        lm_dev = lm_cpu
    setup_s = time.perf_counter() - t0
    warmup = 1 if args.smoke else 2
    threads = torch.get_num_threads()
    if args.smoke:
        # a busy 2-core CI machine: two OpenMP threads made single steps 10-25x slower there than one
        torch.set_num_threads(1)
    try:
        dev = train_run(lm_dev.model, config, dataset, device, smoke=args.smoke, warmup=warmup, steps=args.train_steps)
        cpu = train_run(
            lm_cpu.model,
            config,
            dataset,
            torch.device("cpu"),
            smoke=args.smoke,
            warmup=warmup,
            steps=args.train_cpu_steps,
        )
    finally:
        torch.set_num_threads(threads)
    # both timed steps warmup+1 … : the first ones are the same batches on both devices
    n = min(dev["steps"], cpu["steps"])
    ratio = sum(cpu["step_s"][:n]) / sum(dev["step_s"][:n])
    common = min(len(dev["losses"]), len(cpu["losses"]))
    loss_diff = max(abs(a - b) / abs(b) for a, b in zip(dev["losses"][:common], cpu["losses"][:common], strict=True))
    knobs = SMOKE_TRAINING if args.smoke else SHIPPED_TRAINING
    out = {
        "lm": lm_cpu.name,
        "sessions": args.train_sessions,
        "windows": len(dataset),
        "settings": {"stage": "2", **knobs},
        "setup_s": round(setup_s, 1),
        "device_row": dev,
        "cpu_row": cpu,
        "matched_steps": n,
        "ratio_device_over_cpu": round(ratio, 2),
        "max_rel_loss_diff": round(loss_diff, 5),
    }
    where = "cpu (smoke)" if args.smoke else torch.cuda.get_device_name(device)
    print(
        f"\ntraining: {lm_cpu.name} coach, stage 2, LoRA rank {knobs['lora_rank']}, bf16 LM pass, batch "
        f"{knobs['batch_size']}, windows of {knobs['window_steps']} steps ({len(dataset)} windows from "
        f"{args.train_sessions} synthetic squat session(s)); {warmup} warm-up step(s) each; setup {setup_s:.1f} s"
    )
    for label, r in ((where, dev), (f"cpu, {cpu['threads']} thread(s)", cpu)):
        peak = f", peak {r['peak_gib']:.2f} GiB" if r["peak_gib"] is not None else ""
        print(
            f"  {label}: {r['steps']} steps, {r['steps_per_s']:.3f} steps/s, {r['tokens_per_s']:.0f} tokens/s "
            f"({r['tokens_per_step']:.0f} tokens/step){peak}"
        )
    print(
        f"  {where} / cpu: {ratio:.1f}x steps/s on the {n} step(s) both timed (same batches); "
        f"loss {where} vs cpu within {loss_diff:.1e} (relative, every step both ran)"
    )
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--smoke", action="store_true", help="tiny LM on the CPU (checks the script, not the GPU)")
    ap.add_argument("--max-batch", type=int, default=256)
    ap.add_argument("--context", type=int, default=512, help="positions already cached per stream (default 512)")
    ap.add_argument("--steps", type=int, default=6, help="timed decision steps per batch size (median)")
    ap.add_argument("--lm-tokens", default="35,1", help="LM tokens per step to sweep (default 35,1)")
    ap.add_argument("--train-steps", type=int, default=20, help="timed training steps on the GPU (default 20)")
    ap.add_argument("--train-cpu-steps", type=int, default=2, help="timed training steps on the CPU (default 2)")
    ap.add_argument("--train-sessions", type=int, default=4, help="synthetic squat sessions to train on (default 4)")
    ap.add_argument("--no-train", action="store_true", help="skip the training run")
    args = ap.parse_args(argv)
    if not args.smoke and not torch.cuda.is_available():
        print("skipped: no CUDA device (run with --smoke for the CPU check)")
        return 0
    device = torch.device("cpu" if args.smoke else "cuda")
    dtype = torch.float32 if args.smoke else torch.bfloat16
    if args.smoke:
        args.max_batch, args.context, args.steps = min(args.max_batch, 4), min(args.context, 32), min(args.steps, 2)
        args.train_steps, args.train_cpu_steps = min(args.train_steps, 2), min(args.train_cpu_steps, 2)
        args.train_sessions = min(args.train_sessions, 1)
    if min(args.train_steps, args.train_cpu_steps, args.train_sessions) < 1:
        ap.error("--train-steps, --train-cpu-steps and --train-sessions: at least 1 (--no-train skips training)")
    batches = [b for b in (1, 2, 4, 8, 16, 32, 48, 64, 96, 128, 160, 192, 256, 384, 512) if b <= args.max_batch]
    name = torch.cuda.get_device_name(0) if device.type == "cuda" else "cpu (smoke)"
    t0 = time.perf_counter()
    results: dict[str, Any] = {
        "device": name,
        "lm": "tiny" if args.smoke else "LLaMA-2-7B config (random bf16)",
        "context": args.context,
        "budget_ms": STEP_BUDGET_MS,
        "sweeps": {},
    }
    for lm_tokens in [int(x) for x in args.lm_tokens.split(",")]:
        model, lm = build(args.smoke, device, dtype, lm_tokens)
        rows = sweep(model, lm, batches=batches, context=args.context, steps=args.steps, device=device, dtype=dtype)
        ok = [r["batch"] for r in rows if r.get("real_time")]
        best = max((r["decisions_per_s"] for r in rows if "decisions_per_s" in r), default=0.0)
        results["sweeps"][str(lm_tokens)] = {
            "rows": rows,
            "max_real_time_streams": max(ok, default=0),
            "peak_decisions_per_s": best,
        }
        print(f"\n{name}: {results['lm']}, {lm_tokens} LM token(s) per step, {args.context} cached positions")
        print(f"{'streams':>8} {'step ms':>9} {'decisions/s':>12} {'real time':>10}")
        for r in rows:
            if r.get("oom"):
                print(f"{r['batch']:>8} {'out of memory':>32}")
            else:
                print(f"{r['batch']:>8} {r['step_ms']:>9.2f} {r['decisions_per_s']:>12.1f} {r['real_time']!s:>10}")
        print(f"max concurrent real-time streams: {max(ok, default=0)} (each 4 decisions/s, step ≤ 250 ms)")
        del model, lm
        if device.type == "cuda":
            torch.cuda.empty_cache()
    if not args.no_train:
        results["train"] = training_section(args, device)
    results["seconds"] = round(time.perf_counter() - t0, 1)
    print(json.dumps(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
