"""The Runs page in a real browser: a lunge and a push-up rerun in one run, each analysed as its own exercise
(the push-up's from the store's clip registration, the lunge's from its file name); and opening the app records
no run. No request leaves 127.0.0.1."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import pytest

from tests.ui.conftest import STORES, served_app
from workbench.exercises import load_catalogue
from workbench.pose.posefile import save_npz
from workbench.pose.synthetic import synthesize
from workbench.store.clips_repo import sha256_file
from workbench.store.database import Database
from workbench.store.seed import init_from_references

pytestmark = [pytest.mark.browser, pytest.mark.server, pytest.mark.slow]
TIMEOUT = 120_000
CLIPS: dict[str, Path] = {}


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    data = tmp_path_factory.mktemp("runs-data")
    for name, exercise, seed in (("lunge_a.npz", "lunge", 0), ("clip_b.npz", "pushup", 1)):
        track, _ = synthesize(load_catalogue().get(exercise), 2, noise_deg=2.0, seed=seed)
        CLIPS[name] = Path(save_npz(track, data / name))
    store = tmp_path_factory.mktemp("runs-store") / "biocoach.duckdb"
    db = Database(store)
    init_from_references(db)
    with db.store() as s:  # the push-up is known to the store; its name says nothing
        s.clips.add_known(
            sha256_file(CLIPS["clip_b.npz"]),
            CLIPS["clip_b.npz"],
            exercise="pushup",
            n_bytes=CLIPS["clip_b.npz"].stat().st_size,
        )
    yield from served_app(store, tmp_path_factory.mktemp("runs-log") / "serve.log", ["--data-dir", str(data)])


@pytest.fixture
def local_page(browser: Any, server: str) -> Iterator[Any]:
    """A fresh session whose every request is checked: one to another host is aborted and listed."""
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    outside: list[str] = []

    def route(r: Any) -> None:
        host = urlparse(r.request.url).hostname
        if r.request.url.startswith(("data:", "blob:")) or host == "127.0.0.1":
            r.continue_()
        else:
            outside.append(r.request.url)
            r.abort()

    context.route("**/*", route)
    pg = context.new_page()
    errors: list[str] = []
    pg.on("pageerror", lambda exc: errors.append(str(exc)))
    pg.console_errors, pg.outside = errors, outside
    yield pg
    context.close()


def _runs(server: str) -> list[tuple[int, str, str]]:
    with Database(STORES[server]).store() as store:
        return [
            (int(i), str(ex), str(st))
            for i, ex, st in store.session.all("SELECT id, exercise, status FROM runs ORDER BY id", [])
        ]


def test_opening_the_app_records_no_run(local_page: Any, server: str) -> None:
    before = _runs(server)
    local_page.goto(server, wait_until="networkidle", timeout=120_000)
    local_page.get_by_text("analysed squat_cmu_14_14.npz", exact=False).first.wait_for(timeout=TIMEOUT)
    local_page.wait_for_timeout(1000)
    assert _runs(server) == before
    assert local_page.outside == [] and local_page.console_errors == []


def test_a_lunge_and_a_pushup_in_one_run_each_as_its_own_exercise(local_page: Any, server: str) -> None:
    page = local_page
    page.goto(server, wait_until="networkidle", timeout=120_000)
    page.get_by_text("Runs", exact=True).first.click()
    page.locator("select[multiple]:visible").first.select_option([str(CLIPS["lunge_a.npz"]), str(CLIPS["clip_b.npz"])])
    try:
        page.locator(".tabulator-cell", has_text="clip_b.npz").first.wait_for(timeout=TIMEOUT)
        page.locator(".tabulator-cell", has_text="pushup").first.wait_for(timeout=TIMEOUT)  # the store's registration
    except Exception:
        page.screenshot(path="/tmp/rr/runs_fail.png", full_page=True)
        raise
    page.get_by_placeholder("your name").fill("alice")
    page.get_by_placeholder("your name").press("Enter")
    page.get_by_role("button", name="Run", exact=True).click()
    page.get_by_text(re.compile(r"Finished: 2 / 2 clips, runs \d+, \d+ \(batch job \d+\)")).wait_for(timeout=TIMEOUT)
    runs = _runs(server)[-2:]
    assert sorted((ex, st) for _, ex, st in runs) == [("lunge", "succeeded"), ("pushup", "succeeded")]
    with Database(STORES[server]).store() as store:
        assert {store.runs.get(i).config.get("author") for i, _, _ in runs} == {"alice"}
    assert page.locator("progress:visible").first.get_attribute("value") == "100"
    page.wait_for_timeout(1000)
    assert page.outside == [] and page.console_errors == []
