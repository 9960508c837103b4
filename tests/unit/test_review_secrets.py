"""Label Studio credentials stay with their owner: the client against tiny local HTTP servers (127.0.0.1 only), and
how the server is started (its command line, environment and files), without Label Studio itself.

Ground truth: the client's token is TOKEN. A server that redirects to another origin (another port, or the same
port under another host name) must not see it; one that redirects within its own origin must. A server that
echoes the request's headers into an error reply, its reason phrase or a non-JSON body must not get them
printed.
"""

from __future__ import annotations

import os
import stat
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from workbench.review import server as ls_server
from workbench.review.client import LabelStudioClient, LabelStudioError, origin

TOKEN = "a1b2c3d4e5f6a7b8c9d0a1b2c3d4e5f6a7b8c9d0"
PASSWORD = "hunter2-but-longer"


class Recorder(BaseHTTPRequestHandler):
    """Answers by path: /go-to/<url> redirects there, /echo/<code> answers <code> with the request headers
    (body and reason phrase), /not-json answers 200 with HTML, anything else 200 with JSON. Records
    (path, Authorization) of every request."""

    seen: list[tuple[str, str | None]]

    def do_GET(self) -> None:
        self.server.seen.append((self.path, self.headers.get("Authorization")))  # type: ignore[attr-defined]
        if self.path.startswith("/go-to/"):
            self.send_response(302)
            self.send_header("Location", self.path[len("/go-to/") :])
            self.end_headers()
        elif self.path.startswith("/echo/"):
            body = f"you sent: {dict(self.headers)}".encode()
            self.send_response(int(self.path.split("/")[2]), f"Echo {self.headers.get('Authorization')}")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
        else:
            body = (b"<html>" + str(self.headers.get("Authorization")).encode() + b"</html>" if self.path == "/not-json"
                    else b'{"ok": true}')  # fmt: skip
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    def log_message(self, *args: Any) -> None:
        pass


def _serve() -> Iterator[tuple[str, list[tuple[str, str | None]]]]:
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Recorder)
    httpd.seen = []  # type: ignore[attr-defined]
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}", httpd.seen  # type: ignore[attr-defined]
    finally:
        httpd.shutdown()
        httpd.server_close()


@pytest.fixture
def home() -> Iterator[tuple[str, list[tuple[str, str | None]]]]:
    yield from _serve()


@pytest.fixture
def elsewhere() -> Iterator[tuple[str, list[tuple[str, str | None]]]]:
    yield from _serve()


def _client(url: str) -> LabelStudioClient:
    return LabelStudioClient(url, TOKEN, retries=0, backoff_s=0.0, timeout_s=10.0)


def test_a_redirect_to_another_port_drops_the_token(home: Any, elsewhere: Any) -> None:
    (url, seen), (other, other_seen) = home, elsewhere
    assert _client(url).request("GET", f"/go-to/{other}/api/projects") == {"ok": True}
    assert seen == [(f"/go-to/{other}/api/projects", f"Token {TOKEN}")]
    assert other_seen == [("/api/projects", None)]


def test_a_redirect_to_another_host_name_on_the_same_port_drops_the_token(home: Any) -> None:
    url, seen = home
    renamed = url.replace("127.0.0.1", "localhost")
    _client(url).request("GET", f"/go-to/{renamed}/api/projects")
    assert seen == [(f"/go-to/{renamed}/api/projects", f"Token {TOKEN}"), ("/api/projects", None)]


def test_a_redirect_within_the_same_origin_keeps_the_token(home: Any) -> None:
    url, seen = home
    _client(url).request("GET", "/go-to//api/projects/")  # a relative Location, as Django's APPEND_SLASH sends
    assert seen == [("/go-to//api/projects/", f"Token {TOKEN}"), ("/api/projects/", f"Token {TOKEN}")]


@pytest.mark.parametrize("code", [400, 401, 403, 404, 409, 422])
def test_an_error_reply_that_echoes_the_request_is_never_printed(home: Any, code: int) -> None:
    url, _ = home
    with pytest.raises(LabelStudioError) as info:
        _client(url).request("GET", f"/echo/{code}")
    message = str(info.value)
    assert TOKEN not in message and "you sent" not in message and "Echo " not in message
    assert f"{url}: GET /echo/{code}" in message
    assert f"HTTP {code}" in message or code in (401, 403)


def test_a_reply_that_is_not_json_is_refused_without_quoting_it(home: Any) -> None:
    url, _ = home
    with pytest.raises(LabelStudioError, match=r"expected a JSON reply, got \d+ bytes that are not JSON") as info:
        _client(url).request("GET", "/not-json")
    assert TOKEN not in str(info.value) and "html" not in str(info.value)


def test_origin_makes_the_default_port_explicit() -> None:
    assert origin("http://Example.org/x") == ("http", "example.org", 80) == origin("http://example.org:80/y")
    assert origin("https://example.org") == ("https", "example.org", 443) != origin("http://example.org:443")


# ------------------------------------------------------------------------------------------- the server


@pytest.fixture
def started(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    """start_server up to the process it would run: what Popen got."""
    monkeypatch.setenv("BIOCOACH_LS_PASSWORD", PASSWORD)
    monkeypatch.setenv("BIOCOACH_LS_TOKEN", TOKEN)
    got: dict[str, Any] = {}

    class Process:
        pid, returncode = 0, 0

        def poll(self) -> int:
            return 0

    def popen(command: list[str], **kwargs: Any) -> Process:
        got.update(command=command, **kwargs)
        return Process()

    executable = tmp_path / "label-studio"
    executable.write_text("")
    monkeypatch.setattr(ls_server.subprocess, "Popen", popen)
    ls_server.start_server(tmp_path / "ls-data", port=1, executable=executable, wait=False)
    return got


def test_the_command_line_holds_no_credential(started: dict[str, Any]) -> None:
    command = " ".join(started["command"])
    assert TOKEN not in command and PASSWORD not in command
    assert "--password" not in command and "--user-token" not in command and "--username" not in command


def test_credentials_go_through_the_environment_label_studio_reads(started: dict[str, Any]) -> None:
    env = started["env"]
    assert env["LABEL_STUDIO_USER_TOKEN"] == TOKEN and env["LABEL_STUDIO_PASSWORD"] == PASSWORD
    assert env["LABEL_STUDIO_USERNAME"] == ls_server.DEFAULT_USERNAME
    assert started["umask"] == 0o077 and started["start_new_session"] is True


def test_label_studio_reads_those_variables() -> None:
    """The installed Label Studio creates the user from LABEL_STUDIO_USERNAME/_PASSWORD/_USER_TOKEN on `start`."""
    source = ls_server.LABEL_STUDIO_BIN.parent.parent / "lib"
    found = sorted(source.glob("python3*/site-packages/label_studio/server.py"))
    if not found:
        pytest.skip("no .venv-labelstudio (`make setup` makes it)")
    text = found[0].read_text()
    assert "get_env('USER_TOKEN')" in text and "get_env('PASSWORD')" in text and "get_env('USERNAME')" in text
    assert "if get_env('USERNAME') and get_env('PASSWORD') or input_args.username:" in text


def test_the_data_folder_is_0700_and_the_secret_files_0600(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("BIOCOACH_LS_PASSWORD", raising=False)
    monkeypatch.delenv("BIOCOACH_LS_TOKEN", raising=False)
    data = tmp_path / "ls"
    data.mkdir(mode=0o755)
    (data / "token").write_text(TOKEN + "\n")  # left readable by an older version
    os.chmod(data / "token", 0o644)
    creds = ls_server.credentials(ls_server.private_dir(data))
    assert creds.token == TOKEN and len(creds.password) >= 20
    assert stat.S_IMODE(data.stat().st_mode) == 0o700
    for name in ("token", "password"):
        assert stat.S_IMODE((data / name).stat().st_mode) == 0o600
    assert TOKEN not in repr(creds) and creds.password not in repr(creds)


def test_start_server_makes_its_files_private(started: dict[str, Any], tmp_path: Path) -> None:
    data = tmp_path / "ls-data"
    assert stat.S_IMODE(data.stat().st_mode) == 0o700
    assert stat.S_IMODE((data / "server.log").stat().st_mode) == 0o600
