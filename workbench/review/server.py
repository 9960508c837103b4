"""Starting, watching and stopping a real Label Studio server, and where its credentials come from.

Label Studio 1.23.2 lives in its own virtual environment (``.venv-labelstudio``, made by ``make setup``:
its protobuf and Django would break mediapipe). ``start_server`` runs its ``label-studio start`` on
127.0.0.1 with a data folder under the workspace (``.labelstudio/`` by default):

* the admin account and API token come from ``BIOCOACH_LS_USERNAME`` / ``BIOCOACH_LS_PASSWORD`` /
  ``BIOCOACH_LS_TOKEN``; what is not set is generated once and kept in 0600 files in the data folder (0700).
  They reach Label Studio through its environment (``LABEL_STUDIO_USERNAME`` / ``_PASSWORD`` /
  ``_USER_TOKEN``, read by its ``_create_user``), never its command line, which every local user can read in
  ``/proc/PID/cmdline``. The token must be there at the first start or Label Studio answers 401; it is never
  printed or logged. Label Studio runs with umask 077, so its database (which holds the token) is 0600;
* the server runs in its own process group: ``stop`` ends it and whatever it spawned, and on Linux it also
  gets SIGTERM should the process that started it die without stopping it;
* media for the tasks (clip videos and angle CSVs) are served by Label Studio's local-files storage from
  ``<data>/media`` (``LOCAL_FILES_SERVING_ENABLED``, document root = the data folder);
* version checks and analytics are off (offline machines).

``GET /health`` answers after about 30 s on a fresh data folder on a 2-core machine, about 5 s on a restart;
``wait_healthy`` polls it with a generous timeout.
"""

from __future__ import annotations

import ctypes
import os
import secrets
import signal
import socket
import stat
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from workbench.errors import WorkbenchError
from workbench.review.client import is_healthy

PROJECT_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_DATA_DIR = PROJECT_ROOT / ".labelstudio"
DEFAULT_PORT = 8080
LABEL_STUDIO_BIN = PROJECT_ROOT / ".venv-labelstudio" / "bin" / "label-studio"
DEFAULT_USERNAME = "reviewer@biocoach.local"
HEALTH_TIMEOUT_S = 180.0


class LabelStudioServerError(WorkbenchError):
    """The Label Studio server could not be started or did not become healthy."""


@dataclass(frozen=True)
class Credentials:
    username: str
    password: str = field(repr=False)
    token: str = field(repr=False)


PRIVATE_DIR, PRIVATE_FILE = 0o700, 0o600
LABEL_STUDIO_DB = "label_studio.sqlite3"  # Label Studio's own database in the data folder (users, tokens)


def private_dir(path: Path) -> Path:
    """``path`` created if need be and made 0700: only its owner may list or read what is inside."""
    path.mkdir(mode=PRIVATE_DIR, parents=True, exist_ok=True)
    os.chmod(path, PRIVATE_DIR)
    return path


def _private_file(path: Path) -> None:
    """A file that holds a secret, made 0600 where an older version (or a copy) left it readable by others."""
    if path.is_file() and stat.S_IMODE(path.stat().st_mode) & 0o077:
        os.chmod(path, PRIVATE_FILE)


def _secret_file(path: Path, make: str) -> str:
    """A secret kept in a 0600 file: read it, or write ``make`` there first."""
    if path.is_file():
        _private_file(path)
        return path.read_text(encoding="utf-8").strip()
    private_dir(path.parent)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, PRIVATE_FILE)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(make + "\n")
    return make


def credentials(data_dir: Path = DEFAULT_DATA_DIR) -> Credentials:
    """The admin account and token: the environment first, else the files in the data folder (made once)."""
    username = os.environ.get("BIOCOACH_LS_USERNAME") or DEFAULT_USERNAME
    password = os.environ.get("BIOCOACH_LS_PASSWORD") or _secret_file(data_dir / "password", secrets.token_urlsafe(18))
    token = os.environ.get("BIOCOACH_LS_TOKEN") or _secret_file(data_dir / "token", secrets.token_hex(20))
    return Credentials(username=username, password=password, token=token)


def api_token(data_dir: Path = DEFAULT_DATA_DIR) -> str:
    """The token push/pull/status use: ``BIOCOACH_LS_TOKEN``, else the file ``serve`` wrote; never generated here
    (a made-up token would only earn a 401 from a server that was started elsewhere)."""
    token = os.environ.get("BIOCOACH_LS_TOKEN")
    if token:
        return token
    path = data_dir / "token"
    if path.is_file():
        return path.read_text(encoding="utf-8").strip()
    raise LabelStudioServerError(
        f"no Label Studio API token: expected $BIOCOACH_LS_TOKEN or the file {path} (written by the first "
        "`biocoach review serve`), got neither; set the variable to the token of the server you use"
    )


def media_root(data_dir: Path = DEFAULT_DATA_DIR) -> Path:
    return data_dir / "media"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class LabelStudioServer:
    """A running ``label-studio`` process (``process`` None: a server we connected to, not started)."""

    url: str
    data_dir: Path
    credentials: Credentials
    process: subprocess.Popen[bytes] | None = None
    log_path: Path | None = None

    def healthy(self) -> bool:
        return is_healthy(self.url)

    def wait_healthy(self, timeout_s: float = HEALTH_TIMEOUT_S) -> float:
        """Poll /health until it answers; returns the seconds waited."""
        start = time.monotonic()
        while time.monotonic() - start < timeout_s:
            if self.process is not None and self.process.poll() is not None:
                raise LabelStudioServerError(
                    f"label-studio exited with code {self.process.returncode} before it "
                    f"answered; its log: {self.log_path}\n{self._log_tail()}"
                )
            if self.healthy():
                return time.monotonic() - start
            time.sleep(1.0)
        raise LabelStudioServerError(
            f"{self.url}/health: expected an answer within {timeout_s:.0f} s, got none; its log: {self.log_path}"
        )

    def stop(self, timeout_s: float = 20.0) -> None:
        """Terminate the process we started (its whole process group); a connected server is left alone."""
        proc = self.process
        if proc is None or proc.poll() is not None:
            return
        try:
            os.killpg(proc.pid, 15)
        except ProcessLookupError:
            return
        try:
            proc.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, 9)
            proc.wait(timeout=timeout_s)

    def _log_tail(self) -> str:
        if self.log_path is None or not self.log_path.is_file():
            return ""
        return self.log_path.read_text(encoding="utf-8", errors="replace")[-2000:]


def start_server(
    data_dir: Path = DEFAULT_DATA_DIR,
    *,
    port: int = DEFAULT_PORT,
    executable: Path = LABEL_STUDIO_BIN,
    wait: bool = True,
    timeout_s: float = HEALTH_TIMEOUT_S,
) -> LabelStudioServer:
    """Start ``label-studio`` on 127.0.0.1:``port`` with ``data_dir``; wait for /health unless ``wait`` is off."""
    if not executable.is_file():
        raise LabelStudioServerError(
            f"{executable}: expected the label-studio program of its own virtual environment, got no such file; "
            "`make setup` creates .venv-labelstudio (DEPENDENCIES.md)"
        )
    data_dir = private_dir(data_dir.resolve())
    media_root(data_dir).mkdir(parents=True, exist_ok=True)
    _private_file(data_dir / LABEL_STUDIO_DB)
    creds = credentials(data_dir)
    command = [
        str(executable),
        "start",
        "--no-browser",
        "--internal-host",
        "127.0.0.1",
        "--port",
        str(port),
        "--data-dir",
        str(data_dir),
        "--enable-legacy-api-token",
    ]
    log_path = data_dir / "server.log"
    log_fd = os.open(log_path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, PRIVATE_FILE)
    _private_file(log_path)
    with os.fdopen(log_fd, "ab") as log:
        # Its own process group, so stop() ends label-studio and whatever it spawned, and nothing else.
        proc = subprocess.Popen(
            command,
            stdout=log,
            stderr=subprocess.STDOUT,
            env=server_environment(data_dir, creds),
            cwd=data_dir,
            start_new_session=True,
            umask=0o077,
            preexec_fn=_end_with_parent,
        )
    server = LabelStudioServer(f"http://127.0.0.1:{port}", data_dir, creds, proc, log_path)
    if wait:
        try:
            server.wait_healthy(timeout_s)
        except BaseException:
            server.stop()
            raise
    return server


# Label Studio's feature flags, set through its environment (``flag_set`` reads a variable of the flag's name).
# With "interactive view all" on (its default in 1.23.2), the labeling UI builds each task's tree before the
# annotation store is ready: the Video and TimeSeries of the salient config then never join their sync group,
# and the TimeSeries' first seek after its CSV loads throws "Cannot read properties of null (reading 'sync')".
LABELING_FLAGS = {"fflag_fix_front_dev_3391_interactive_view_all": "false"}


def server_environment(data_dir: Path, creds: Credentials) -> dict[str, str]:
    """Label Studio's environment: offline settings, local-files storage, and the admin account. The secrets go
    here, where only their owner can read them (``/proc/PID/environ`` is 0400), not on the command line."""
    env = dict(os.environ)
    env.update(
        LABEL_STUDIO_BASE_DATA_DIR=str(data_dir),
        LATEST_VERSION_CHECK="false",
        COLLECT_ANALYTICS="false",
        LABEL_STUDIO_LOCAL_FILES_SERVING_ENABLED="true",
        LOCAL_FILES_SERVING_ENABLED="true",
        LABEL_STUDIO_LOCAL_FILES_DOCUMENT_ROOT=str(data_dir),
        LOCAL_FILES_DOCUMENT_ROOT=str(data_dir),
        LABEL_STUDIO_USERNAME=creds.username,
        LABEL_STUDIO_PASSWORD=creds.password,
        LABEL_STUDIO_USER_TOKEN=creds.token,
        **LABELING_FLAGS,
    )
    return env


_PR_SET_PDEATHSIG = 1


def _end_with_parent() -> None:
    """In the child, before label-studio starts (Linux): SIGTERM when the process that started it dies, so a
    ``kill -9`` of ``biocoach review serve`` does not leave a server listening. Elsewhere: nothing."""
    if sys.platform.startswith("linux"):
        ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, int(signal.SIGTERM), 0, 0, 0)


def connect(url: str, data_dir: Path = DEFAULT_DATA_DIR) -> LabelStudioServer:
    """A server that is already running (``label_studio_url``): its token from the environment or the file."""
    token = api_token(data_dir)
    username = os.environ.get("BIOCOACH_LS_USERNAME") or DEFAULT_USERNAME
    return LabelStudioServer(url.rstrip("/"), data_dir.resolve(), Credentials(username, "", token))
