"""The standing bad-input suite (issue 15): every case in ``cases.py`` run through ``biocoach``'s own ``main``.

Each case must end in a non-zero exit with one line naming what was wrong (the file, the field, expected and
got: the case's ``says``), never a traceback and never the boundary's generic fallback (every expected failure
has its own message); the store must be byte-for-byte unchanged and no file may be left behind.

Memory is bounded two ways. In this process (most cases, for speed): the peak resident set (VmHWM, reset
through /proc/self/clear_refs before each case) must stay under ``PEAK_RSS_BYTES`` — it includes what pytest
and the libraries already hold, so the bound on the case itself is tighter still — and an address-space limit
(RLIMIT_AS, current size + ``HEADROOM_BYTES``) turns a runaway allocation into a MemoryError instead of the
machine's OOM killer. In a fresh process with RLIMIT_AS = 2 GB (``test_bad_inputs_subprocess.py``): the
probe's memory bombs, the FIFO and /dev/zero, with the traceback checked on the real stderr.
"""

from __future__ import annotations

import hashlib
import resource
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.badinput.cases import CASES, Case
from workbench.cli import main
from workbench.config import use_limits

PEAK_RSS_BYTES = 2 * 1024**3
HEADROOM_BYTES = 3 * 1024**3
FALLBACK = "[BIOCOACH_DEBUG=1 shows where]"  # the boundary's line for failures without a message of their own


@pytest.fixture
def environment(store: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("BIOCOACH_DB", str(store))
    monkeypatch.delenv("BIOCOACH_DEBUG", raising=False)
    monkeypatch.delenv("BIOCOACH_CONFIG", raising=False)
    use_limits(None)
    yield
    use_limits(None)  # a case's --config must not set the limits of the next


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _files(folder: Path) -> set[Path]:
    return {p for p in folder.rglob("*")}


def _peak_rss_reset() -> bool:
    try:
        Path("/proc/self/clear_refs").write_text("5")
        return True
    except OSError:
        return False


def _peak_rss() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    return 0


def _address_space() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmSize:"):
            return int(line.split()[1]) * 1024
    return 0


def run_case(case: Case, folder: Path, capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    argv = case.argv(folder)
    capsys.readouterr()
    soft, hard = resource.getrlimit(resource.RLIMIT_AS)
    limit = _address_space() + HEADROOM_BYTES
    if hard != resource.RLIM_INFINITY:
        limit = min(limit, hard)
    resource.setrlimit(resource.RLIMIT_AS, (limit, hard))
    try:
        try:
            code = main(argv)
        except SystemExit as exc:  # argparse refuses an option value before any work
            code = int(exc.code or 0)
    finally:
        resource.setrlimit(resource.RLIMIT_AS, (soft, hard))
    return code, capsys.readouterr().err


def test_there_are_at_least_250_cases_over_every_command() -> None:
    assert len(CASES) >= 250
    commands = {c.id.split("-")[0] for c in CASES} | {c.id.split("-")[1] for c in CASES if c.id.startswith("probe")}
    assert {"analyze", "coach", "eval", "db", "batch", "review"} <= commands
    assert len({c.id for c in CASES}) == len(CASES)


@pytest.mark.slow
@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_bad_input_is_refused_in_one_line(
    case: Case, folder: Path, store: Path, environment: None, capsys: pytest.CaptureFixture[str]
) -> None:
    before_store = _sha256(store)
    case.argv(folder)  # build the inputs first: only what the command itself writes is compared below
    before_files = _files(folder)
    measured = _peak_rss_reset()

    code, err = run_case(case, folder, capsys)

    peak = _peak_rss()
    lines = [line for line in err.splitlines() if line.strip()]
    assert code == case.code, f"exit {code}, expected {case.code}; stderr:\n{err}"
    assert "Traceback (most recent call last)" not in err
    heads = [i for i, line in enumerate(lines) if line.startswith("biocoach") and "error:" in line]
    assert heads, err  # "biocoach: error: …" (an import's list of problems follows it, one per line)
    assert FALLBACK not in err, f"no message of its own: {err}"
    for words in case.says:
        assert words in err, f"{words!r} not in: {err}"
    if measured:
        assert peak < PEAK_RSS_BYTES, f"peak resident memory {peak / 2**20:.0f} MiB"
    assert _sha256(store) == before_store, "the store changed"
    assert _files(folder) == before_files, f"left behind: {sorted(map(str, _files(folder) - before_files))}"
