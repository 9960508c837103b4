"""Label proposals per minute with the packaged SmolLM2-135M on the CPU: the int8 FastDecoder
(``workbench.review.decoding.FastLocalClient``, what ``biocoach review propose`` uses) against plain
transformers ``generate`` (``LocalClient``), measured in the same run.

The work is the issue's case: salient joints for each rep of a 3-rep synthetic squat plus the exercise's
static/dynamic roles — four model calls with the proposal prompts and token limits of
``workbench.review.proposals`` (the clip's analysis, done once beforehand, is not timed). Rounds alternate
which decoder goes first; each decoder's figure is its median round. The replies of both are compared.
Usage: ``.venv/bin/python bench/bench_proposals.py [--rounds 3] [--threads 2]``.
"""

from __future__ import annotations

import argparse
import statistics
import time
from typing import Any

import torch


def main() -> dict[str, Any]:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    from workbench.exercises import load_catalogue
    from workbench.llm.client import LocalClient
    from workbench.motion.analysis import analyze
    from workbench.pose.synthetic import synthesize
    from workbench.review.decoding import FastLocalClient
    from workbench.review.proposals import (
        ROLES_TOKENS,
        SALIENT_TOKENS,
        roles_messages,
        salient_messages,
        segments_of,
    )

    ex = load_catalogue().get("squat")
    track, _ = synthesize(ex, 3, fps=30.0, seed=5)
    analysis = analyze(track, ex)
    calls = [(salient_messages(ex, seg, analysis.context_motion), SALIENT_TOKENS) for seg in segments_of(analysis)]
    calls.append((roles_messages(ex), ROLES_TOKENS))
    clients: dict[str, Any] = {
        "int8 FastDecoder": FastLocalClient(threads=args.threads),
        "transformers generate": LocalClient(),
    }
    for client in clients.values():  # load the model and build the int8 copy outside the timing
        client.complete(calls[0][0], max_new_tokens=1)
    times: dict[str, list[float]] = {name: [] for name in clients}
    replies: dict[str, list[str]] = {}
    for r in range(args.rounds):
        order = list(clients) if r % 2 == 0 else list(reversed(clients))
        for name in order:
            t = time.perf_counter()
            replies[name] = [clients[name].complete(m, max_new_tokens=n).text for m, n in calls]
            times[name].append(time.perf_counter() - t)
    fast, plain = (statistics.median(times[name]) for name in clients)
    per_min = {name: 60.0 * len(calls) / statistics.median(ts) for name, ts in times.items()}
    same = sum(a == b for a, b in zip(*replies.values(), strict=True))
    print(
        f"proposals: {len(calls)} proposals ({len(calls) - 1} reps + roles), {args.threads} threads, median of "
        f"{args.rounds} rounds: int8 FastDecoder {fast:.1f} s = {per_min['int8 FastDecoder']:.1f} proposals/min; "
        f"transformers generate {plain:.1f} s = {per_min['transformers generate']:.1f} proposals/min; "
        f"ratio {plain / fast:.2f}x; identical replies {same}/{len(calls)}"
    )
    print("rounds (s): " + "; ".join(f"{name} " + ", ".join(f"{t:.1f}" for t in ts) for name, ts in times.items()))
    return {"fast_s": fast, "plain_s": plain, "per_min": per_min, "ratio": plain / fast, "identical": same}


if __name__ == "__main__":
    main()
