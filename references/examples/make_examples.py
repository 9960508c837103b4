"""Rebuild the example pose files in references/examples/ from the CMU mocap data in ../shared/data.

    .venv/bin/python references/examples/make_examples.py

Without ../shared/data/cmu_mocap6 it says so and changes nothing. The arrays are deterministic (the .npz's zip
headers carry the write time): a rebuild whose arrays differ means the importer changed.
"""

from __future__ import annotations

import sys
from dataclasses import replace
from pathlib import Path

from workbench.io.amc import cut, read_amc, segments
from workbench.io.posefile import save_npz

HERE = Path(__file__).resolve().parent
DATA = HERE.parents[1].parent / "shared" / "data" / "cmu_mocap6"
PAD_S = 1.0  # context kept before and after the labelled segment


def make_squat_14_14(out_dir: Path = HERE) -> Path:
    """The labelled squat segment of CMU trial 14_14 (8.7–13.4 s, 2 reps) with 1 s around it, at 30 fps."""
    track = read_amc(DATA / "amc" / "14_14.amc", target_fps=30.0)
    (squat,) = segments(DATA / "truelabels" / "14_14.txt", "Squat")
    part = cut(track, squat.start_s, squat.end_s, pad_s=PAD_S)
    source = (f"CMU mocap 14_14.amc (mocap.cs.cmu.edu), labelled Squat {squat.start_s:g}-{squat.end_s:g} s "
              f"+/- {PAD_S:g} s, workbench.io.amc at 30 fps")  # fmt: skip
    return save_npz(replace(part, source=source), out_dir / "squat_cmu_14_14.npz")


def main() -> int:
    if not DATA.is_dir():
        print(f"skipped: {DATA} is not present")
        return 0
    print(make_squat_14_14())
    return 0


if __name__ == "__main__":
    sys.exit(main())
