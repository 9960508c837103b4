"""The served workbench refuses what is not its own: a foreign Host (DNS rebinding) or websocket Origin, a data
folder link that leads out, and module imports through Panel's component route; 127.0.0.1 works, and every asset
comes from the app itself.

Set-up: `biocoach serve --db STORE --data-dir DATA` on a free loopback port, with a probe module on the server's
PYTHONPATH that writes a marker file when imported. ``DATA`` holds ``inside.npz`` and ``escape.npz``, a link to a
pose file outside it. The DNS-rebinding browser maps ``rebind.attacker.test`` to 127.0.0.1 (Chromium's
``--host-resolver-rules``), as the attacker's DNS would.
"""

from __future__ import annotations

import asyncio
import os
import re
import shutil
import threading
import urllib.error
import urllib.request
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from tests.ui.conftest import CHROMIUM, CHROMIUM_ARGS, REPO, served_app
from workbench.dashboard.state import EXAMPLE_CLIP

pytestmark = [pytest.mark.browser, pytest.mark.server]
REBIND = "rebind.attacker.test"
PROBE = "biocoach_probe_module"
TIMEOUT = 60_000


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    root = tmp_path_factory.mktemp("guards")
    (root / "outside").mkdir()
    shutil.copyfile(EXAMPLE_CLIP, root / "outside" / "secret.npz")
    data = root / "data"
    data.mkdir()
    shutil.copyfile(EXAMPLE_CLIP, data / "inside.npz")
    (data / "escape.npz").symlink_to(root / "outside" / "secret.npz")
    probe = root / "probe"
    probe.mkdir()
    marker = root / "imported"
    (probe / f"{PROBE}.py").write_text(f"open({str(marker)!r}, 'w').close()\nclass X:\n    css = ['a.css']\n")
    store = root / "store.duckdb"
    env = {"PYTHONPATH": os.pathsep.join([str(probe), str(REPO)])}
    served = served_app(store, root / "serve.log", ["--db", str(store), "--create", "--data-dir", str(data)], env)
    for url in served:
        yield {"url": url, "port": int(url.rsplit(":", 1)[1].strip("/")), "data": data, "marker": marker}


def _get(url: str, host: str | None = None) -> int:
    request = urllib.request.Request(url, headers={"Host": host} if host else {})
    try:
        with urllib.request.urlopen(request, timeout=120) as response:
            return int(response.status)
    except urllib.error.HTTPError as exc:
        return int(exc.code)


def _websocket(port: int, host: str, origin: str) -> int:
    """The status of a websocket handshake on /ws with these Host and Origin headers (101: upgraded), with a
    session token from the app's own page."""
    from tornado.httpclient import HTTPClientError, HTTPRequest
    from tornado.websocket import websocket_connect

    with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=120) as response:
        token = re.search(r'"token":"([^"]+)"', response.read().decode())
    assert token is not None

    async def handshake() -> int:
        headers = {"Host": host, "Origin": origin, "Sec-WebSocket-Protocol": f"bokeh, {token[1]}"}
        request = HTTPRequest(f"ws://127.0.0.1:{port}/ws", headers=headers)
        try:
            connection = await websocket_connect(request)
        except HTTPClientError as exc:
            return int(exc.code)
        connection.close()
        return 101

    return asyncio.run(handshake())


# ------------------------------------------------------------------------------------- raw clients


def test_a_foreign_host_gets_nothing(app: dict[str, Any]) -> None:
    url, port = app["url"], app["port"]
    assert _get(url) == 200 and _get(url, f"localhost:{port}") == 200
    for host in (f"{REBIND}:{port}", f"127.0.0.1:{port}.{REBIND}", "127.0.0.1", f"127.0.0.1:{port + 1}"):
        assert _get(url, host) == 403, host
        assert _get(url + "static/js/bokeh.min.js", host) == 403, host


def test_a_websocket_needs_an_allowed_host_and_origin(app: dict[str, Any]) -> None:
    port = app["port"]
    assert _websocket(port, f"127.0.0.1:{port}", f"http://127.0.0.1:{port}") == 101
    assert _websocket(port, f"localhost:{port}", f"http://localhost:{port}") == 101
    assert _websocket(port, f"{REBIND}:{port}", f"http://{REBIND}:{port}") == 403  # DNS rebinding
    assert _websocket(port, f"127.0.0.1:{port}", f"http://{REBIND}:{port}") == 403  # another site's page
    assert _websocket(port, f"127.0.0.1:{port}", f"http://127.0.0.1:{port + 1}") == 403  # another local app's page


def test_the_component_route_imports_no_module_named_in_the_url(app: dict[str, Any]) -> None:
    url = app["url"]
    for path in (f"components/{PROBE}/X/css/a.css", "components/os/path/css/x", "components/antigravity/a/css/b"):
        assert _get(url + path) == 404, path
    assert not app["marker"].exists()


# ------------------------------------------------------------------------------------- the browser


@pytest.fixture(scope="module")
def chromium() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: `make setup` installs Debian's chromium for the browser tests")
    with sync_playwright() as pw:
        rules = f"--host-resolver-rules=MAP {REBIND} 127.0.0.1"  # the attacker's DNS answer
        browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=[*CHROMIUM_ARGS, rules])
        yield browser
        browser.close()


def test_the_app_works_on_127_0_0_1_with_every_asset_its_own(app: dict[str, Any], chromium: Any) -> None:
    context = chromium.new_context(viewport={"width": 1400, "height": 1000})
    page = context.new_page()
    requests: list[str] = []
    page.on("request", lambda r: requests.append(r.url))
    try:
        page.goto(app["url"], wait_until="networkidle", timeout=120_000)
        page.get_by_text("BioCoach Workbench").first.wait_for(timeout=TIMEOUT)
        page.get_by_text("Runs", exact=True).first.click()
        page.locator("select option", has_text="inside.npz").first.wait_for(state="attached", timeout=TIMEOUT)
        assert page.get_by_text("escape.npz").count() == 0  # in no list of any page: Runs, the editor's overlay
        page.get_by_text("Clip", exact=True).first.click()
        box = page.get_by_label("Clip (video, landmark file or pose .npz)")
        box.fill(str(app["data"] / "escape.npz"))
        box.press("Enter")
        page.get_by_role("button", name="Analyse").click()
        page.get_by_text(re.compile(r"refused: .*escape\.npz is outside the data folders or links out")).first.wait_for(
            timeout=TIMEOUT
        )
    finally:
        context.close()
    own = f"http://127.0.0.1:{app['port']}/"
    assert requests and all(u.startswith((own, "blob:" + own[:-1], "data:")) for u in requests), requests
    assert not [u for u in requests if "/components/" in u]


@pytest.mark.allow_hosts(REBIND)  # the browser maps it to 127.0.0.1: the attack asks the workbench
def test_a_dns_rebinding_page_gets_a_403_and_no_session(app: dict[str, Any], chromium: Any) -> None:
    context = chromium.new_context()
    page = context.new_page()
    try:
        response = page.goto(f"http://{REBIND}:{app['port']}/", timeout=120_000)
        assert response is not None and response.status == 403
        assert "BioCoach Workbench is not served under that host name" in page.content()
    finally:
        context.close()


class _AttackerPage(BaseHTTPRequestHandler):
    """Another local site (another port of 127.0.0.1): a page that opens a websocket to the workbench."""

    target = 0

    def do_GET(self) -> None:
        body = f"""<html><body><script>
            window.result = "pending";
            const ws = new WebSocket("ws://127.0.0.1:{self.target}/ws", ["bokeh", "forged"]);
            ws.onopen = () => {{ window.result = "open"; }};
            ws.onerror = () => {{ window.result = "refused"; }};
        </script></body></html>""".encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/html")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: Any) -> None:
        pass


def test_a_page_of_another_site_cannot_open_a_websocket(app: dict[str, Any], chromium: Any) -> None:
    handler = type("Attacker", (_AttackerPage,), {"target": app["port"]})
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    context = chromium.new_context()
    page = context.new_page()
    try:
        page.goto(f"http://127.0.0.1:{httpd.server_address[1]}/", timeout=60_000)
        page.wait_for_function("window.result !== 'pending'", timeout=TIMEOUT)
        assert page.evaluate("window.result") == "refused"
    finally:
        context.close()
        httpd.shutdown()
        httpd.server_close()
