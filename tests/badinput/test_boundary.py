"""The command's error boundary (``workbench.cli.main``): what bad data, a bad path or the machine raise ends in
one line and exit 2; a programming error keeps its traceback; ``BIOCOACH_DEBUG=1`` re-raises everything."""

from __future__ import annotations

import errno
from typing import Any

import pytest

import workbench.cli as cli


def _failing(exc: BaseException) -> Any:
    def command(args: Any) -> int:
        raise exc

    return command


@pytest.mark.parametrize(
    ("exc", "says"),
    [
        (
            ValueError("could not broadcast input array from shape (3,) into shape (4,)"),
            "ValueError: could not broadcast",
        ),
        (OSError(errno.ENOSPC, "No space left on device", "/data/out.json"), "/data/out.json: No space left on device"),
        (UnicodeDecodeError("utf-8", b"\xff", 0, 1, "invalid start byte"), "UnicodeDecodeError"),
        (RecursionError("maximum recursion depth exceeded"), "nested too deeply"),
        (MemoryError(), "out of memory"),
    ],
)
def test_expected_failures_end_in_one_line(
    exc: BaseException, says: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("BIOCOACH_DEBUG", raising=False)
    monkeypatch.setattr(cli, "cmd_exercises", _failing(exc))
    assert cli.main(["exercises"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("biocoach: error: ") and says in err
    assert "BIOCOACH_DEBUG=1" in err and "Traceback" not in err


def test_a_duckdb_error_ends_in_one_line(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    import duckdb

    monkeypatch.delenv("BIOCOACH_DEBUG", raising=False)
    monkeypatch.setattr(cli, "cmd_exercises", _failing(duckdb.IOException("IO Error: Could not write file")))
    assert cli.main(["exercises"]) == 2
    assert "IOException: IO Error: Could not write file" in capsys.readouterr().err


def test_debug_re_raises_and_bugs_keep_their_traceback(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(cli, "cmd_exercises", _failing(ValueError("bad")))
    monkeypatch.setenv("BIOCOACH_DEBUG", "1")
    with pytest.raises(ValueError, match="bad"):
        cli.main(["exercises"])
    monkeypatch.delenv("BIOCOACH_DEBUG")
    monkeypatch.setattr(cli, "cmd_exercises", _failing(TypeError("a bug")))
    with pytest.raises(TypeError, match="a bug"):  # a programming error is not hidden behind a one-liner
        cli.main(["exercises"])
