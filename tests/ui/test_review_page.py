"""The review page in a real browser shows the agreement figures held in the store.

The store is seeded with a known review history (tests/review_support.py: two experts, three segments) before
the workbench starts; the figures are hand-computed there: kappa 0.770, precision 0.889, recall 0.970.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.review_support import seed_reviews
from tests.ui.conftest import REPO, STORES, _free_port, app_tracebacks, screenshot
from workbench.store.database import Database
from workbench.store.seed import init_from_references

pytestmark = [pytest.mark.browser, pytest.mark.server]
TIMEOUT = 60_000


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """`biocoach serve` on a store that already holds reviewed labels (overrides the conftest fixture)."""
    store = tmp_path_factory.mktemp("review-store") / "biocoach.duckdb"
    db = Database(store)
    init_from_references(db)
    seed_reviews(db)
    port = _free_port()
    log = tmp_path_factory.mktemp("review-log") / "serve.log"
    env = dict(os.environ, BIOCOACH_DB=str(store))
    with log.open("w") as out:
        proc = subprocess.Popen([sys.executable, "-m", "workbench.cli", "serve", "--port", str(port)], stdout=out,
                                stderr=subprocess.STDOUT, env=env, cwd=REPO)  # fmt: skip
    url = f"http://127.0.0.1:{port}/"
    try:
        _wait_patiently(url, proc, log)
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


def _wait_patiently(url: str, proc: subprocess.Popen[bytes], log: Path, timeout: float = 240.0) -> None:
    """Like conftest's wait, with a long per-request timeout: each GET builds a whole app session, which
    takes over 5 s when the shared machine is busy, so short requests would time out for ever."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"biocoach serve exited early:\n{log.read_text()[-3000:]}")
        try:
            with urllib.request.urlopen(url, timeout=120) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.5)
    raise TimeoutError(f"{url} did not answer within {timeout:.0f} s:\n{log.read_text()[-3000:]}")


def test_review_page_shows_agreement_from_the_store(page: Any, server: str) -> None:
    page.get_by_text("Review", exact=True).first.click()
    page.get_by_text("Cohen's kappa, salient joints:", exact=False).first.wait_for(timeout=TIMEOUT)
    page.get_by_text("0.770 (2 tasks labelled by two experts, 48 decisions)", exact=False).first.wait_for(
        timeout=TIMEOUT
    )
    page.get_by_text("precision 0.889, recall 0.970 (tp 32, fp 4, fn 1)", exact=False).first.wait_for(timeout=TIMEOUT)
    page.get_by_text("accepted 2, corrected 2, rejected 1", exact=False).first.wait_for(timeout=TIMEOUT)
    # the label table lists both reviewers
    page.get_by_text("expert.b@example.com", exact=True).first.wait_for(timeout=TIMEOUT)
    screenshot(page, "review_page")
    assert not [e for e in page.console_errors if "ERR_NAME_NOT_RESOLVED" not in e]
