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

    python bench/gpu_coach.py                 # on a GPU machine: < 8 min on one H100
    python bench/gpu_coach.py --smoke         # a tiny LM on the CPU: checks the script works (tests run it)

Without CUDA (and without --smoke) it prints "skipped: no CUDA device" and exits 0. Prints a table and one
JSON line.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
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


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--smoke", action="store_true", help="tiny LM on the CPU (checks the script, not the GPU)")
    ap.add_argument("--max-batch", type=int, default=256)
    ap.add_argument("--context", type=int, default=512, help="positions already cached per stream (default 512)")
    ap.add_argument("--steps", type=int, default=6, help="timed decision steps per batch size (median)")
    ap.add_argument("--lm-tokens", default="35,1", help="LM tokens per step to sweep (default 35,1)")
    args = ap.parse_args(argv)
    if not args.smoke and not torch.cuda.is_available():
        print("skipped: no CUDA device (run with --smoke for the CPU check)")
        return 0
    device = torch.device("cpu" if args.smoke else "cuda")
    dtype = torch.float32 if args.smoke else torch.bfloat16
    if args.smoke:
        args.max_batch, args.context, args.steps = min(args.max_batch, 4), min(args.context, 32), min(args.steps, 2)
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
    results["seconds"] = round(time.perf_counter() - t0, 1)
    print(json.dumps(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
