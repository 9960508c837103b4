"""`biocoach --help` start-up time against a bare `python -c pass` (target: under 0.5 s)."""

from __future__ import annotations

import subprocess
import sys

from common import BIOCOACH, best_of


def main() -> dict[str, float]:
    bare = best_of(lambda: subprocess.run([sys.executable, "-c", "pass"], check=True), repeats=5)
    helps = best_of(lambda: subprocess.run([*BIOCOACH, "--help"], check=True, capture_output=True), repeats=5)
    print(
        f"help: `biocoach --help` {helps * 1000:.0f} ms (target < 500 ms); bare interpreter {bare * 1000:.0f} ms, "
        f"ratio {helps / bare:.2f}x"
    )
    return {"help_s": helps, "bare_python_s": bare}


if __name__ == "__main__":
    main()
