"""GPU check of the HSMR backend: runs HSMR on a generated clip and reports frames/s and what it found.

    .venv/bin/python bench/gpu_check_hsmr.py [--config biocoach.yaml] [--video clip.mp4]

Skips cleanly (exit 0, one line saying why) where there is no CUDA GPU, no PyTorch, or no HSMR weights
configured; record its output in BENCHMARKS.md when it runs on a GPU.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--config", type=Path)
    parser.add_argument("--video", type=Path)
    args = parser.parse_args()
    try:
        import torch
    except ImportError:
        print("skipped: PyTorch is not installed (the hsmr backend needs HSMR's requirements)")
        return 0
    if not torch.cuda.is_available():
        print("skipped: no CUDA GPU visible")
        return 0
    from workbench.config import MissingModelError, load_config
    from workbench.pose.hsmr import run_hsmr

    config = load_config(args.config)
    try:
        for key in ("hsmr_code", "hsmr_checkpoint", "skel_model_dir"):
            config.require(key)
    except MissingModelError as exc:
        print(f"skipped: {exc}")
        return 0
    with tempfile.TemporaryDirectory() as tmp:
        video = args.video or _clip(Path(tmp) / "clip.mp4")
        start = time.perf_counter()
        track, warnings = run_hsmr(video, config)
        elapsed = time.perf_counter() - start
    print(
        f"hsmr on {torch.cuda.get_device_name(0)}: {track.n_frames} frames in {elapsed:.1f} s "
        f"({track.n_frames / elapsed:.1f} frames/s); frames with a person: {(track.confidence > 0).mean():.0%}"
    )
    for w in warnings:
        print(f"  - {w}")
    return 0


def _clip(path: Path) -> Path:
    sys.path.insert(0, str(Path(__file__).parent))
    from bench_video import make_clip

    return make_clip(path, seconds=5.0)


if __name__ == "__main__":
    sys.exit(main())
