"""The whole `biocoach analyze` command on a one-hour 30 fps track.

Target: the command takes at most 1/1000 of the track's duration (3.6 s for an hour). The baseline, run
in the same process on the same file, is the floor any CLI pays: Python start-up, importing numpy and
reading the .npz. Prints both ratios.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from pathlib import Path

from common import best_of, hour_track, one_core, run_cli


def main() -> dict[str, float]:
    one_core()
    with tempfile.TemporaryDirectory() as tmp:
        os.environ["BIOCOACH_DB"] = str(Path(tmp) / "store.duckdb")  # the CLI reads its rules from a store
        path = hour_track(Path(tmp) / "hour.npz")
        out = Path(tmp) / "hour.json"
        baseline = best_of(
            lambda: subprocess.run(
                [sys.executable, "-c", f"import numpy as np; d = np.load({str(path)!r}); d['q'].sum()"], check=True
            )
        )
        analyze = best_of(lambda: run_cli("analyze", str(path), "-e", "squat", "--json", str(out), "-q"))
        stream = best_of(
            lambda: run_cli("analyze", str(path), "-e", "squat", "--json", str(out), "-q", "--stream"), repeats=1
        )
    duration = 3600.0
    result = {
        "baseline_s": baseline,
        "analyze_s": analyze,
        "analyze_stream_s": stream,
        "analyze_per_track_second": analyze / duration,
        "analyze_vs_baseline": analyze / baseline,
    }
    print(
        f"offline: 1 h track analysed by the CLI in {analyze:.2f} s = {analyze / duration * 1000:.3f}/1000 of its "
        f"duration (target <= 1/1000); baseline (start-up + numpy + read) {baseline:.2f} s, "
        f"ratio {analyze / baseline:.2f}x; --stream CLI {stream:.2f} s"
    )
    return result


if __name__ == "__main__":
    main()
