"""The probe's memory bombs and never-ending inputs, each in a fresh ``biocoach`` process as a user runs it.

The process runs under an address-space limit of 2 GB (``resource.setrlimit(RLIMIT_AS)``: numpy, DuckDB and
MediaPipe all start within it), so an input that made the tool allocate more would fail here with a
MemoryError instead of being refused; its peak resident set (``ru_maxrss``, reported by the child itself) must
stay under the same 2 GB. The real stderr is checked for a traceback, and a FIFO or ``/dev/zero`` must be
refused within the timeout rather than read forever. The store must be unchanged.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.badinput.cases import CASES, Case, good_prediction, ground_truth

LIMIT_BYTES = 2 * 1024**3
TIMEOUT_S = 120

# Runs `biocoach` under the limit and reports its own peak resident set on the last line of stderr.
CHILD = """
import resource, sys
resource.setrlimit(resource.RLIMIT_AS, ({limit}, resource.RLIM_INFINITY))
from workbench.cli import main
try:
    code = main(sys.argv[1:])
except SystemExit as exc:
    code = exc.code
finally:
    print("peak_rss_kb", resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, file=sys.stderr)
sys.exit(code)
"""

IN_A_PROCESS = (
    "analyze-probe_q_10_million_frames",
    "analyze-probe_t_last_1e5",
    "analyze-probe_t_gap_1e6",
    "analyze-t_resamples_to_millions",
    "analyze-probe_source_5mb",
    "analyze-probe_q_times_1e6",
    "probe-analyze-dev-zero",
    "coach-probe_t_last_1e5",
    "eval-probe_deeply_nested",
    "db-import-yaml_alias_bomb",
    "db-import-yaml_deeply_nested",
    "analyze-csv-gz-bomb",
    "analyze-hsmr-frame-1e9",
    "analyze-video-probe_one_frame_person",
)
BY_ID = {c.id: c for c in CASES}


def _fifo(folder: Path, name: str) -> Path:
    path = folder / name
    if not path.exists():
        os.mkfifo(path)
    return path


FIFO_CASES = [
    Case(
        "analyze-fifo",
        lambda d: ["analyze", str(_fifo(d, "pipe.npz")), "-e", "squat"],
        ("pipe.npz", "expected a regular file, got a FIFO"),
    ),
    Case(
        "analyze-fifo-csv",
        lambda d: ["analyze", str(_fifo(d, "pipe.landmarks.csv")), "-e", "squat"],
        ("expected a regular file, got a FIFO",),
    ),
    Case(
        "eval-fifo-predictions",
        lambda d: ["eval", str(_fifo(d, "pipe.json")), "--gt", str(ground_truth(d))],
        ("pipe.json", "got a FIFO"),
    ),
    Case(
        "eval-fifo-ground-truth",
        lambda d: ["eval", str(good_prediction(d)), "--gt", str(_fifo(d, "gt.json"))],
        ("gt.json", "got a FIFO"),
    ),
    Case("db-import-fifo-rules", lambda d: ["db", "import", str(_fifo_rules(d))], ("squat.yaml", "got a FIFO")),
]


def _fifo_rules(d: Path) -> Path:
    out = d / "fifo_rules"
    (out / "exercises").mkdir(parents=True, exist_ok=True)
    _fifo(out / "exercises", "squat.yaml")
    return out


@pytest.mark.slow
@pytest.mark.parametrize("case", [BY_ID[i] for i in IN_A_PROCESS] + FIFO_CASES, ids=lambda c: c.id)
def test_bad_input_in_a_fresh_process_stays_under_2_gb(case: Case, folder: Path, store: Path) -> None:
    here = folder / case.id  # each case its own folder: a FIFO one case makes must not meet another case
    here.mkdir(exist_ok=True)
    argv = case.argv(here)
    before = hashlib.sha256(store.read_bytes()).hexdigest()
    env = {k: v for k, v in os.environ.items() if k not in ("BIOCOACH_DEBUG", "BIOCOACH_CONFIG")}
    env["BIOCOACH_DB"] = str(store)
    proc = subprocess.run(
        [sys.executable, "-c", CHILD.format(limit=LIMIT_BYTES), *argv],
        capture_output=True,
        text=True,
        env=env,
        timeout=TIMEOUT_S,
    )
    err = proc.stderr
    assert proc.returncode == case.code, f"exit {proc.returncode}; stderr:\n{err[-3000:]}"
    assert "Traceback (most recent call last)" not in err, err[-3000:]
    assert "MemoryError" not in err and "out of memory" not in err.lower(), err[-3000:]
    for words in case.says:
        assert words in err, f"{words!r} not in: {err[-3000:]}"
    peak_kb = int(err.strip().splitlines()[-1].split()[-1])
    assert peak_kb * 1024 < LIMIT_BYTES, f"peak resident memory {peak_kb / 1024:.0f} MiB"
    assert hashlib.sha256(store.read_bytes()).hexdigest() == before, "the store changed"
