"""`biocoach review serve` against the real Label Studio (its own venv, a temporary data folder, a free port):
no credential on any process's command line while it runs, private files, and no server left behind after
SIGTERM, SIGHUP, or a SIGKILL of the command itself.

Ground truth: the token and password are the ones `review serve` generated into the data folder; every process
Label Studio runs carries that folder on its command line (``--data-dir``), so "no process left" means no
process whose command line names it.
"""

from __future__ import annotations

import contextlib
import os
import signal
import stat
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from workbench.review.client import is_healthy
from workbench.review.server import LABEL_STUDIO_BIN, LabelStudioServer, free_port

pytestmark = [pytest.mark.server, pytest.mark.slow]
REPO = Path(__file__).resolve().parents[2]


def _command_lines() -> dict[int, str]:
    """Every process's command line, as any local user reads it in /proc/PID/cmdline."""
    lines = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                lines[int(entry.name)] = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            except OSError:  # gone meanwhile
                continue
    return lines


def _ps_args() -> str:
    return subprocess.run(["ps", "-eo", "args"], capture_output=True, text=True, check=True).stdout


def _processes_of(data: Path) -> dict[int, str]:
    return {pid: line for pid, line in _command_lines().items() if str(data) in line and pid != os.getpid()}


def _serve(data: Path, port: int) -> subprocess.Popen[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("BIOCOACH_LS_")}  # secrets generated in data/
    command = [
        sys.executable,
        "-m",
        "workbench.cli",
        "review",
        "serve",
        "--port",
        str(port),
        "--data-dir",
        str(data),
        "--timeout",
        "240",
    ]
    return subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, cwd=REPO, env=env)


def _wait_gone(data: Path, timeout_s: float = 60.0) -> dict[int, str]:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        left = _processes_of(data)
        if not left:
            return {}
        time.sleep(0.5)
    return _processes_of(data)


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[subprocess.Popen[str], Path, str]]:
    if not LABEL_STUDIO_BIN.is_file():
        pytest.skip(f"{LABEL_STUDIO_BIN} is missing (`make setup` makes .venv-labelstudio)")
    data, port = tmp_path / "labelstudio", free_port()
    proc = _serve(data, port)
    url = f"http://127.0.0.1:{port}"
    try:
        yield proc, data, url
    finally:
        if proc.poll() is None:
            proc.kill()
        for pid in _processes_of(data):  # what a failed test left behind, found by its data folder
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)


def _wait_up(proc: subprocess.Popen[str], data: Path, url: str) -> None:
    LabelStudioServer(url, data, None, None).wait_healthy(240.0)  # type: ignore[arg-type]
    assert proc.poll() is None


@pytest.mark.parametrize("stop", [signal.SIGTERM, signal.SIGHUP])
def test_no_credential_on_a_command_line_and_a_signal_stops_everything(
    served: tuple[subprocess.Popen[str], Path, str], stop: signal.Signals
) -> None:
    proc, data, url = served
    _wait_up(proc, data, url)
    token, password = ((data / name).read_text().strip() for name in ("token", "password"))
    running = _processes_of(data)
    assert any("label-studio" in line for line in running.values()), running  # the scan sees the server
    for line in [*_command_lines().values(), _ps_args()]:
        assert token not in line and password not in line
    assert stat.S_IMODE(data.stat().st_mode) == 0o700
    for name in ("token", "password", "server.log", "label_studio.sqlite3"):
        assert stat.S_IMODE((data / name).stat().st_mode) == 0o600, name

    proc.send_signal(stop)
    printed = proc.communicate(timeout=90)[0]
    assert proc.returncode == 0, printed
    assert _wait_gone(data) == {}
    assert not is_healthy(url)
    assert token not in printed and password not in printed


def test_a_killed_command_takes_its_server_with_it(served: tuple[subprocess.Popen[str], Path, str]) -> None:
    proc, data, url = served
    _wait_up(proc, data, url)
    proc.kill()  # SIGKILL: no handler runs; the kernel tells Label Studio (PR_SET_PDEATHSIG)
    proc.wait(timeout=30)
    assert _wait_gone(data) == {}
    assert not is_healthy(url)
