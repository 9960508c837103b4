"""A real `panel serve` of the workbench on a free loopback port, and Debian's chromium driven by Playwright.

Each test module gets one server (its own temporary store) and one browser; each test a fresh page (a new
browser session, hence a fresh app from the factory). Console errors are collected so tests can assert none.

Offline, for every browser test: every browser context any test opens (``browser.new_context``/``new_page`` of
any Playwright browser, the fixtures' or a test's own) gets :class:`OfflineGuard`: a request or websocket to a host
other than 127.0.0.1/localhost is aborted and recorded, and the test fails when one was (after its body). A test
that means to reach another name (one mapped to 127.0.0.1 by the browser's resolver) says so with
``@pytest.mark.allow_hosts("name")``.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import pytest
from playwright.sync_api import Browser

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]
REPO = Path(__file__).resolve().parents[2]
DOCS = REPO / "docs"
STORES: dict[str, Path] = {}  # server URL → the store file that server uses (tests may open it read-only)
LOCAL_HOSTS = frozenset({"127.0.0.1", "localhost"})
NETWORK_SCHEMES = ("http", "https", "ws", "wss")  # data:, blob:, about: never leave the browser


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "allow_hosts(*names): host names a browser test may reach besides "
        "127.0.0.1/localhost (names its browser maps to 127.0.0.1)",
    )


class OfflineGuard:
    """Aborts and records every request (and websocket) of the contexts it watches whose host is not this machine."""

    def __init__(self, allowed: Sequence[str] = ()) -> None:
        self.allowed = LOCAL_HOSTS | {h.lower() for h in allowed}
        self.outside: list[str] = []

    def local(self, url: str) -> bool:
        parsed = urlparse(url)
        return parsed.scheme not in NETWORK_SCHEMES or (parsed.hostname or "") in self.allowed

    def watch(self, context: Any) -> Any:
        """Guard ``context`` (registered first, so a test's own routes still run before it); returns it."""

        def seen(request: Any) -> None:  # every request, whichever route handles it
            if not self.local(request.url):
                self.outside.append(request.url)

        def gate(route: Any) -> None:
            if self.local(route.request.url):
                route.fallback()
            else:
                route.abort()

        def socket(ws: Any) -> None:
            self.outside.append(ws.url)
            ws.close()

        context.on("request", seen)
        context.route("**/*", gate)
        context.route_web_socket(lambda url: not self.local(url), socket)
        return context


@pytest.fixture(autouse=True)
def offline(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Iterator[OfflineGuard]:
    """Every browser context the test opens is guarded (:class:`OfflineGuard`); the test fails if a request left."""
    marker = request.node.get_closest_marker("allow_hosts")
    guard = OfflineGuard(marker.args if marker else ())
    new_context, new_page = Browser.new_context, Browser.new_page

    def guarded_context(self: Browser, *args: Any, **kwargs: Any) -> Any:
        return guard.watch(new_context(self, *args, **kwargs))

    def guarded_page(self: Browser, *args: Any, **kwargs: Any) -> Any:
        page = new_page(self, *args, **kwargs)  # opens about:blank in a context of its own: nothing requested yet
        guard.watch(page.context)
        return page

    monkeypatch.setattr(Browser, "new_context", guarded_context)
    monkeypatch.setattr(Browser, "new_page", guarded_page)
    yield guard
    assert not guard.outside, f"requests left 127.0.0.1 (aborted): {guard.outside[:10]}"  # those after the body


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item: pytest.Item) -> Iterator[None]:
    """Fail the test itself (not its teardown) when a page it opened asked another host for anything."""
    result = yield
    guard = getattr(item, "funcargs", {}).get("offline")
    if isinstance(guard, OfflineGuard) and guard.outside:
        outside, guard.outside = list(guard.outside), []
        raise AssertionError(f"requests left 127.0.0.1 (aborted): {outside[:10]}")
    return result


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """URL of a served workbench (started with `biocoach serve`), torn down after the module."""
    store = tmp_path_factory.mktemp("ui-store") / "biocoach.duckdb"
    yield from served_app(store, tmp_path_factory.mktemp("ui-log") / "serve.log")


def served_app(store: Path, log: Path, args: Sequence[str] = (), env: Mapping[str, str] | None = None) -> Iterator[str]:
    """Serve the workbench on ``store`` (with extra ``serve`` arguments and environment) until the generator is
    closed; then assert the app logged no traceback. Modules that need a pre-filled store override ``server``."""
    port = _free_port()
    full_env = dict(os.environ, **(env or {}), BIOCOACH_DB=str(store))
    with log.open("w") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "workbench.cli", "serve", "--port", str(port), *args],
            stdout=out,
            stderr=subprocess.STDOUT,
            env=full_env,
            cwd=REPO,
        )
    url = f"http://127.0.0.1:{port}/"
    try:
        _wait_for(url, proc, log)
        STORES[url] = store
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
    errors = app_tracebacks(log.read_text())
    assert not errors, "\n\n".join(errors)[-3000:]


# A browser session that closes while the server is still sending it an update ends in one of these; that is
# the test closing its page, not an error of the app.
CLOSED_CONNECTION = ("WebSocketClosedError", "StreamClosedError")


def app_tracebacks(log: str) -> list[str]:
    """The tracebacks in a server log, less those that only say a browser connection had closed."""
    blocks = log.split("Traceback (most recent call last):")[1:]
    return [b for b in blocks if not any(name in b for name in CLOSED_CONNECTION)]


def _wait_for(url: str, proc: subprocess.Popen[bytes], log: Path, timeout: float = 240.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"biocoach serve exited early:\n{log.read_text()[-3000:]}")
        try:
            # A page takes seconds to build on a loaded 2-core machine: a short read timeout would retry forever.
            with urllib.request.urlopen(url, timeout=120) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.5)
    raise TimeoutError(f"{url} did not answer within {timeout:.0f} s:\n{log.read_text()[-3000:]}")


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: `make setup` installs Debian's chromium for the browser tests")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        chromium = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser: Any, server: str) -> Iterator[Any]:
    """A fresh browser session on the app (offline: see :class:`OfflineGuard`); ``page.console_errors`` lists what
    the console reported."""
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    pg = context.new_page()
    errors: list[str] = []
    pg.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
    pg.on("pageerror", lambda exc: errors.append(str(exc)))
    pg.console_errors = errors
    pg.goto(server, wait_until="networkidle", timeout=120_000)
    yield pg
    context.close()


def screenshot(page: Any, name: str) -> Path:
    """Save a screenshot under docs/ (committed and shown in the README)."""
    DOCS.mkdir(exist_ok=True)
    path = DOCS / f"{name}.png"
    page.screenshot(path=str(path), full_page=False)
    return path
