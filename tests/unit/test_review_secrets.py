"""Label Studio credentials stay with their owner: the client (the official label-studio-sdk underneath) against
tiny local HTTP servers (127.0.0.1 only), and how the server is started (its command line, environment and
files), without Label Studio itself.

Ground truth: the client's token is TOKEN. The client is pointed at a base URL whose path prefix tells the
recorder what to do with every SDK call below it. A server that redirects to another origin (another port, or the
same port under another host name) must not see the token; one that redirects within its own origin must. A
server that echoes the request's headers into an error reply, its reason phrase or a non-JSON body must not get
them printed, and the error must not chain to the SDK's own exception (whose text quotes the reply).
"""

from __future__ import annotations

import os
import stat
import threading
import traceback
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from workbench.review import server as ls_server
from workbench.review.client import LabelStudioClient, LabelStudioError, LabelStudioUnavailable

TOKEN = "a1b2c3d4e5f6a7b8c9d0a1b2c3d4e5f6a7b8c9d0"
PASSWORD = "hunter2-but-longer"
PROJECTS = '{"count": 1, "results": [{"id": 7, "title": "BioCoach salient joints", "label_config": "<View/>"}]}'


class Recorder(BaseHTTPRequestHandler):
    """Answers by path prefix: /go-to/<url> redirects to <url>, /hop/<rest> redirects to /<rest> (same origin,
    a relative Location as Django's APPEND_SLASH sends), /echo/<code>/… answers <code> with the request headers
    (body, reason phrase and a Set-Cookie), /not-json/… answers 200 with HTML, /flaky/… answers 503, anything
    else 200 with a project list. Records (path, Authorization) of every request."""

    def do_GET(self) -> None:
        self.server.seen.append((self.path, self.headers.get("Authorization")))  # type: ignore[attr-defined]
        if self.path.startswith("/go-to/"):
            self._redirect(self.path[len("/go-to/") :])
        elif self.path.startswith("/hop/"):
            self._redirect(self.path[len("/hop") :])
        elif self.path.startswith("/echo/"):
            body = f"you sent: {dict(self.headers)}".encode()
            self.send_response(int(self.path.split("/")[2]), f"Echo {self.headers.get('Authorization')}")
            self.send_header("Set-Cookie", f"echo={self.headers.get('Authorization')}".replace(" ", "_"))
            self._body(body, "application/json")
        elif self.path.startswith("/not-json/"):
            self.send_response(200)
            self._body(b"<html>" + str(self.headers.get("Authorization")).encode() + b"</html>", "text/html")
        elif self.path.startswith("/flaky/"):
            self.send_response(503)
            self._body(b'{"detail": "busy"}', "application/json")
        else:
            self.send_response(200)
            self._body(PROJECTS.encode(), "application/json")

    def _redirect(self, location: str) -> None:
        self.send_response(302)
        self.send_header("Location", location)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def _body(self, body: bytes, kind: str) -> None:
        self.send_header("Content-Type", kind)
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


def _client(url: str, retries: int = 0) -> LabelStudioClient:
    return LabelStudioClient(url, TOKEN, retries=retries, backoff_s=0.0, timeout_s=10.0)


def _paths(seen: list[tuple[str, str | None]]) -> list[tuple[str, str | None]]:
    return [(path.split("?")[0], auth) for path, auth in seen]


def test_the_sdk_sends_the_token_and_the_client_reads_its_reply(home: Any) -> None:
    url, seen = home
    project = _client(url).find_project("BioCoach salient joints")
    assert project is not None and project["id"] == 7 and project["label_config"] == "<View/>"
    assert _paths(seen) == [("/api/projects/", f"Token {TOKEN}")]
    assert TOKEN not in repr(_client(url))


def test_a_redirect_to_another_port_drops_the_token(home: Any, elsewhere: Any) -> None:
    (url, seen), (other, other_seen) = home, elsewhere
    assert _client(f"{url}/go-to/{other}").find_project("BioCoach salient joints") is not None
    assert _paths(seen) == [(f"/go-to/{other}/api/projects/", f"Token {TOKEN}")]
    assert _paths(other_seen) == [("/api/projects/", None)]


def test_a_redirect_to_another_host_name_on_the_same_port_drops_the_token(home: Any) -> None:
    url, seen = home
    renamed = url.replace("127.0.0.1", "localhost")
    _client(f"{url}/go-to/{renamed}").find_project("x")
    assert _paths(seen) == [(f"/go-to/{renamed}/api/projects/", f"Token {TOKEN}"), ("/api/projects/", None)]


def test_a_redirect_within_the_same_origin_keeps_the_token(home: Any) -> None:
    url, seen = home
    _client(f"{url}/hop").find_project("x")
    assert _paths(seen) == [("/hop/api/projects/", f"Token {TOKEN}"), ("/api/projects/", f"Token {TOKEN}")]


@pytest.mark.parametrize("code", [400, 401, 403, 404, 409, 422])
def test_an_error_reply_that_echoes_the_request_is_never_printed(home: Any, code: int) -> None:
    url, seen = home
    with pytest.raises(LabelStudioError) as info:
        _client(f"{url}/echo/{code}", retries=2).find_project("x")
    message = "".join(traceback.format_exception(info.value))  # the whole traceback, chained exceptions included
    assert TOKEN not in message and "you sent" not in message and "Echo " not in message and "echo=" not in message
    assert f"{url}/echo/{code}: list projects" in message
    assert f"HTTP {code}" in message and info.value.status == code
    assert info.value.__cause__ is None and info.value.__context__ is None
    assert len(seen) == 1  # a 4xx (409 included) is an answer: not retried


def test_a_reply_that_is_not_json_is_refused_without_quoting_it(home: Any) -> None:
    url, _ = home
    with pytest.raises(LabelStudioError, match=r"expected a JSON reply, got \d+ bytes that are not JSON") as info:
        _client(f"{url}/not-json").find_project("x")
    assert TOKEN not in str(info.value) and "html" not in str(info.value)


def test_a_failing_server_is_retried_then_named(home: Any) -> None:
    url, seen = home
    client = _client(f"{url}/flaky", retries=2)
    with pytest.raises(LabelStudioUnavailable, match=r"list projects: no answer after 3 attempts \(HTTP 503\)"):
        client.find_project("x")
    assert client.attempts == len(seen) == 3


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
