"""Video → pose → angles → analysis on the CPU, against bare MediaPipe inference on the same frames.

Targets (issue 14): the whole path costs at most 15 % more than MediaPipe alone, and runs at least 1.5× real
time on 2 cores (decoding, pose and the rest pipelined). The clip is made here from the photo that ships
with matplotlib (a person, upper body), drifting a few pixels per frame so the tracker has to follow it.

The two sides, each timed from nothing to its result:
- bare: MediaPipe alone (graph start-up + ``process`` on every frame) over frames decoded beforehand;
- whole: what ``biocoach analyze --no-db`` runs: ``analyze_clip`` (probe, decoding in a read-ahead thread,
  MediaPipe, subject following, filtering, IK, body measurements, reps, alignment, checks, context).

A single pair of runs on a shared machine says little (three runs once gave +16.7 %, −8.8 % and +28.2 %),
so the sides are interleaved — bare, whole, then whole, bare, … — for ``--repeats`` rounds after one
warm-up round, and the report gives medians with their interquartile range and min–max; the overhead is the
median of the per-round ratios (each round's two runs saw about the same machine).

    .venv/bin/python bench/bench_video.py                # 7 rounds on the cores this process may use
    .venv/bin/python bench/bench_video.py --cores 2 --repeats 9 --json out.json
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

SECONDS = 10.0
FPS = 30.0
EXERCISE = "bicep_curl"
OVERHEAD_TARGET = 0.15
REALTIME_TARGET = 1.5


def make_clip(path: Path, seconds: float = SECONDS) -> Path:
    import cv2
    import matplotlib

    from workbench.io.video import write_video

    photo = cv2.imread(os.path.join(os.path.dirname(matplotlib.__file__), "mpl-data/sample_data/grace_hopper.jpg"))
    photo = cv2.cvtColor(cv2.resize(photo, (270, 360)), cv2.COLOR_BGR2RGB)
    frames = []
    for k in range(round(seconds * FPS)):
        canvas = np.full((360, 640, 3), 40, np.uint8)
        x = 185 + int(40 * np.sin(2 * np.pi * k / 60))
        canvas[:, x : x + 270] = photo
        frames.append(canvas)
    write_video(path, frames, FPS)
    return path


def decoded(path: Path) -> list[np.ndarray]:
    """Every frame at the analysis rate, decoded before any timing (the bare side's input)."""
    from workbench.io.video import iter_frames

    return [f.rgb for f in iter_frames(path, fps=FPS)]


def bare_mediapipe(frames: Sequence[np.ndarray]) -> float:
    """MediaPipe alone on frames already in memory: graph start-up + one ``process`` per frame."""
    from workbench.pose.mediapipe_backend import detect, open_pose

    start = time.perf_counter()
    pose = open_pose()
    for rgb in frames:
        detect(pose, rgb)
    pose.close()
    return time.perf_counter() - start


def whole_path(path: Path) -> float:
    """The user's path from the file, as ``biocoach analyze --no-db`` runs it: decode (read ahead) + pose +
    filtering + IK + body measurements + the fitted skeleton + analysis."""
    from workbench.pipeline import analyze_clip

    start = time.perf_counter()
    analyze_clip(path, EXERCISE, db=None)
    return time.perf_counter() - start


def decode_time(path: Path) -> float:
    from workbench.io.video import iter_frames

    start = time.perf_counter()
    for _ in iter_frames(path, fps=FPS):
        pass
    return time.perf_counter() - start


def spread(values: Sequence[float]) -> dict[str, float]:
    """Median, quartiles (inclusive method) and extremes."""
    q1, med, q3 = statistics.quantiles(values, n=4, method="inclusive") if len(values) > 1 else (values[0],) * 3
    return {"median": med, "q1": q1, "q3": q3, "min": min(values), "max": max(values)}


def interleave(repeats: int, a: Callable[[], float], b: Callable[[], float]) -> tuple[list[float], list[float]]:
    """A then B, then B then A, …: a drift in the machine's speed falls on both sides alike."""
    xs: list[float] = []
    ys: list[float] = []
    for r in range(repeats):
        if r % 2 == 0:
            xs.append(a())
            ys.append(b())
        else:
            ys.append(b())
            xs.append(a())
    return xs, ys


def pin(cores: int | None) -> list[int]:
    """Restrict this process (and the threads MediaPipe and the reader start) to ``cores`` CPUs."""
    allowed = sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else list(range(os.cpu_count() or 1))
    if cores is not None:
        if cores > len(allowed):
            raise SystemExit(f"--cores: expected at most the {len(allowed)} CPUs this process may use, got {cores}")
        allowed = allowed[:cores]
        os.sched_setaffinity(0, set(allowed))
    return allowed


def main(argv: Sequence[str] | None = None) -> dict[str, object]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=7, help="interleaved rounds after the warm-up (default 7)")
    parser.add_argument("--cores", type=int, default=None, help="pin to this many CPUs (default: all allowed)")
    parser.add_argument("--seconds", type=float, default=SECONDS, help="clip length (default 10 s)")
    parser.add_argument("--json", type=Path, help="also write the figures here")
    args = parser.parse_args(argv)
    cpus = pin(args.cores)
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    with tempfile.TemporaryDirectory() as tmp:
        clip = make_clip(Path(tmp) / "clip.mp4", args.seconds)
        frames = decoded(clip)
        bare_mediapipe(frames), whole_path(clip)  # warm-up: imports, model load, the file in the page cache
        bare, whole = interleave(args.repeats, lambda: bare_mediapipe(frames), lambda: whole_path(clip))
        decode = statistics.median(decode_time(clip) for _ in range(3))
    ratios = [w / b - 1.0 for w, b in zip(whole, bare, strict=True)]
    realtime = [args.seconds / w for w in whole]
    out: dict[str, object] = {
        "date": time.strftime("%Y-%m-%d %H:%M %Z"),
        "cpus": len(cpus),
        "load_1min": load,
        "repeats": args.repeats,
        "clip_s": args.seconds,
        "bare_s": spread(bare),
        "whole_s": spread(whole),
        "overhead": spread(ratios),
        "realtime_factor": spread(realtime),
        "decode_alone_s": decode,
        "bare_runs_s": bare,
        "whole_runs_s": whole,
    }
    print(report(out))
    if args.json:
        args.json.write_text(json.dumps(out, indent=2))
    return out


def report(out: dict[str, object]) -> str:
    b, w = out["bare_s"], out["whole_s"]
    o, r = out["overhead"], out["realtime_factor"]
    assert isinstance(b, dict) and isinstance(w, dict) and isinstance(o, dict) and isinstance(r, dict)
    ok_o = "yes" if o["median"] <= OVERHEAD_TARGET else "NO"
    ok_r = "yes" if r["median"] >= REALTIME_TARGET else "NO"
    return (
        f"video: {out['clip_s']:.0f} s of 640x360 30 fps, {out['repeats']} interleaved rounds on {out['cpus']} CPUs "
        f"(load {out['load_1min']:.2f} at start)\n"
        f"  MediaPipe alone     median {b['median']:.2f} s  IQR {b['q1']:.2f}-{b['q3']:.2f}  "
        f"min-max {b['min']:.2f}-{b['max']:.2f}\n"
        f"  whole path          median {w['median']:.2f} s  IQR {w['q1']:.2f}-{w['q3']:.2f}  "
        f"min-max {w['min']:.2f}-{w['max']:.2f}  (decoding alone {out['decode_alone_s']:.2f} s, read ahead)\n"
        f"  overhead per round  median {o['median'] * 100:+.1f} %  IQR {o['q1'] * 100:+.1f} to {o['q3'] * 100:+.1f} %  "
        f"min-max {o['min'] * 100:+.1f} to {o['max'] * 100:+.1f} %  (target <= {OVERHEAD_TARGET:.0%}: {ok_o})\n"
        f"  real time           median {r['median']:.2f}x  IQR {r['q1']:.2f}-{r['q3']:.2f}x  "
        f"min-max {r['min']:.2f}-{r['max']:.2f}x  (target >= {REALTIME_TARGET}x: {ok_r})"
    )


if __name__ == "__main__":
    main()
