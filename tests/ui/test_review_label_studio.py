"""The Review page against a real Label Studio (issue 17 part 6): propose, push and pull from the page.

One Label Studio (its own venv, a temporary data folder, a free loopback port) and one workbench served on a
fresh store, configured as a user would: ``label_studio_url`` and ``llm_endpoint`` in the configuration file
($BIOCOACH_CONFIG), the Label Studio data folder in $BIOCOACH_LS_DATA_DIR (the page's stand-in for the CLI's
``--data-dir``), proposal JSON in $BIOCOACH_PROPOSALS_DIR. The model is scripted: a tiny OpenAI-compatible
endpoint on 127.0.0.1 answering "Knees, hips and thorax." (the CLI's ``llm_endpoint`` path, so the proposals
are exactly known: the model's own joints are both hips, both knees and the thorax; the catalogue fills in the
squat's pelvis, ankles and lumbar spine).

In the browser: the empty page says what to do first; Propose (the bundled example clip is preselected, squat)
fills the proposals table; Push creates the tasks; an expert's annotation is made through Label Studio's API
(as tests/integration/test_label_studio.py does): it drops the model's thorax and keeps the rest; Pull brings it
back, the page's counts change and its agreement figures are the hand-computed ones (precision 4/5, recall 4/8 on
the model's own joints). No request of the page leaves 127.0.0.1 and the console shows no error.
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import pytest

from tests.ui.conftest import CHROMIUM, served_app
from workbench.review.client import LabelStudioClient
from workbench.review.server import LABEL_STUDIO_BIN, LabelStudioServer, free_port, start_server
from workbench.review.sync import salient_result
from workbench.skeleton import JOINT_NAMES
from workbench.store.database import Database
from workbench.store.reviews import ReviewRepository

pytestmark = [pytest.mark.browser, pytest.mark.server, pytest.mark.slow]
TIMEOUT = 120_000
MODEL_JOINTS = "femur_r, tibia_r, femur_l, tibia_l, thorax"
REPLY = "Knees, hips and thorax."


class _Scripted(BaseHTTPRequestHandler):
    """``POST /v1/chat/completions`` with a fixed reply (static/dynamic questions get a fixed table)."""

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))) or b"{}")
        asks_roles = "static (should stay stable)" in json.dumps(body.get("messages", []))
        text = "Dynamic: hips, knees, ankles\nStatic: pelvis, lumbar spine" if asks_roles else REPLY
        out = json.dumps({"model": "scripted-endpoint", "choices": [{"message": {"content": text}}]}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(out)))
        self.end_headers()
        self.wfile.write(out)

    def log_message(self, *args: Any) -> None:
        pass


def _host(url: str) -> str:
    """The host a request goes to: a ``blob:`` URL's is its origin's; a ``data:`` URL goes nowhere."""
    if url.startswith("data:"):
        return "127.0.0.1"
    return urlparse(url.removeprefix("blob:")).hostname or url[:40]


@pytest.fixture(scope="module")
def ls(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LabelStudioServer]:
    if not LABEL_STUDIO_BIN.is_file():
        pytest.skip(f"{LABEL_STUDIO_BIN} is missing (`make setup` makes .venv-labelstudio)")
    server = start_server(tmp_path_factory.mktemp("labelstudio"), port=free_port(), timeout_s=240.0)
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="module")
def llm_endpoint() -> Iterator[str]:
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Scripted)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}/v1"
    finally:
        httpd.shutdown()


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("review-ls-store") / "biocoach.duckdb"


@pytest.fixture(scope="module")
def server(
    tmp_path_factory: pytest.TempPathFactory, ls: LabelStudioServer, llm_endpoint: str, store: Path
) -> Iterator[str]:
    """`biocoach serve` configured for this Label Studio and the scripted endpoint (overrides the conftest's)."""
    folder = tmp_path_factory.mktemp("review-ls-config")
    config = folder / "biocoach.yaml"
    config.write_text(f"label_studio_url: {ls.url}\nllm_endpoint: {llm_endpoint}\nllm_model: scripted\n")
    env = {
        "BIOCOACH_CONFIG": str(config),
        "BIOCOACH_LS_DATA_DIR": str(ls.data_dir),
        "BIOCOACH_PROPOSALS_DIR": str(folder / "proposals"),
        "NO_PROXY": "127.0.0.1,localhost",
        "no_proxy": "127.0.0.1,localhost",
    }
    yield from served_app(store, folder / "serve.log", env=env)


def test_propose_push_and_pull_from_the_review_page(
    browser: Any, server: str, ls: LabelStudioServer, store: Path
) -> None:
    assert Path(CHROMIUM).exists()
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    page = context.new_page()
    errors: list[str] = []
    hosts: set[str] = set()
    page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.on("request", lambda req: hosts.add(_host(req.url)))
    try:
        page.goto(server, wait_until="networkidle", timeout=TIMEOUT)
        page.get_by_text("Review", exact=True).first.click()
        page.get_by_text("No proposals yet: propose salient joints for clips first", exact=False).first.wait_for(
            timeout=TIMEOUT
        )

        # --- propose: the example clip is preselected, the exercise is squat
        page.get_by_role("button", name="Propose", exact=True).click()
        page.get_by_text(re.compile(r"Propose: \d+ new proposal\(s\); model scripted")).wait_for(timeout=TIMEOUT)
        with Database(store).session() as s:
            proposals = ReviewRepository(s).proposals()
        n = len(proposals)
        assert n >= 1 and all(p.kind == "salient" and p.status == "proposed" for p in proposals)
        assert all(", ".join(p.model_joints) == MODEL_JOINTS and "pelvis" in p.catalogue_joints for p in proposals)
        page.get_by_text(MODEL_JOINTS, exact=True).first.wait_for(timeout=TIMEOUT)  # the model's column
        page.get_by_text(f"{n} waiting for review, 0 reviewed", exact=False).first.wait_for(timeout=TIMEOUT)

        # --- push
        page.get_by_role("button", name="Push to Label Studio").click()
        page.get_by_text(re.compile(rf"Push: .*{n} created, 0 already there")).wait_for(timeout=TIMEOUT)
        with Database(store).session() as s:
            pushed = ReviewRepository(s).pushed(ls.url)
        assert sorted(pushed) == sorted(p.id for p in proposals)

        # --- an expert corrects the first segment in Label Studio (through its API, as the UI would save it):
        # the thorax is not salient in a squat; the catalogue's fill-ins are kept
        first = proposals[0]
        chosen = [j for j in first.joints if j != "thorax"]
        client = LabelStudioClient(ls.url, ls.credentials.token)
        client.create_annotation(pushed[first.id][1], salient_result(chosen), completed_by=int(client.whoami()["id"]))

        # --- pull: the counts on the page change
        page.get_by_role("button", name="Pull from Label Studio").click()
        page.get_by_text(re.compile(r"Pull: \d+ task\(s\), 1 annotation\(s\): 1 new label version")).wait_for(
            timeout=TIMEOUT
        )
        page.get_by_text(f"{n - 1} waiting for review, 1 reviewed", exact=False).first.wait_for(timeout=TIMEOUT)
        page.get_by_text("1 current (corrected 1)", exact=False).first.wait_for(timeout=TIMEOUT)
        # agreement on the model's own joints: 4 of its 5 kept (tp 4, fp 1: the thorax), and the expert's
        # joints it did not name are the 4 catalogue fill-ins (fn 4): precision 0.800, recall 0.500
        filled = len(first.catalogue_joints)
        assert filled == 4, first.catalogue_joints
        page.get_by_text("precision 0.800, recall 0.500 (tp 4, fp 1, fn 4)", exact=False).first.wait_for(
            timeout=TIMEOUT
        )
        page.get_by_text(f"{filled} of {filled} kept by the experts", exact=False).first.wait_for(timeout=TIMEOUT)
        # the labels table shows the expert's joints, without the thorax
        shown = [j for j in JOINT_NAMES if j in chosen]  # labels keep the skeleton's order
        page.get_by_text(", ".join(shown), exact=True).first.wait_for(timeout=TIMEOUT)
    finally:
        context.close()
    assert hosts <= {"127.0.0.1"}, hosts  # nothing left the machine
    assert errors == []
