"""Calibration from labelled data on the References & thresholds page, in a real browser: make a synthetic
labelled squat set, assess it, calibrate (checked in the store file), see the AUC before → after, revert.

Ground truth: the synthetic set's incorrect reps are 30° shallower in every moving DoF, so the score separates
them perfectly both before and after calibration (`biocoach assess` gives a score AUC of 1.000 on it either
way); the calibration tightens the bounds, which costs specificity (1.000 → 0.875 with the fixed seed).
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import pytest

from tests.ui.conftest import STORES
from workbench.store.database import Database

pytestmark = [pytest.mark.browser, pytest.mark.server]
EDITOR_TAB = "References & thresholds"
TIMEOUT = 90_000
LOCAL_HOSTS = {"127.0.0.1", "localhost"}


def _outside_requests(page: Any) -> list[str]:
    """Every request the page makes to a host other than this machine, from a reload on."""
    seen: list[str] = []

    def keep(request: Any) -> None:
        url = urlparse(request.url)
        if url.scheme in ("http", "https", "ws", "wss") and url.hostname not in LOCAL_HOSTS:
            seen.append(request.url)

    page.on("request", keep)
    page.reload(wait_until="networkidle", timeout=120_000)
    return seen


def _wait(page: Any, text: Any) -> None:
    """Wait for ``text``; on a timeout fail with what the calibration section says (a job's error shows there)."""
    try:
        page.get_by_text(text).first.wait_for(timeout=TIMEOUT)
    except Exception:
        said = page.locator(".alert").all_inner_texts()
        pytest.fail(f"{text!r} did not appear; the page's messages: {said}", pytrace=False)


def _squat(server: str) -> tuple[Any, Any]:
    with Database(STORES[server]).store() as store:
        return store.thresholds.get("squat", "knee_depth"), store.rules.get("squat")


def test_synthetic_set_assess_calibrate_and_revert(page: Any, server: str, tmp_path: Any, request: Any) -> None:
    outside = _outside_requests(page)
    page.get_by_text(EDITOR_TAB, exact=True).first.click()
    _wait(page, "Current version 1")

    page.get_by_role("button", name="Make a synthetic labelled set", exact=True).click()
    _wait(page, re.compile(r"Wrote a synthetic labelled set of squat: 48 one-rep files"))
    manifest = Path(page.get_by_label("Labelled manifest (CSV)", exact=True).input_value())
    assert manifest.name == "manifest.csv" and manifest.is_file()
    # the app removes it when the session ends, which a server stopped right after the test never sees
    request.addfinalizer(lambda: shutil.rmtree(manifest.parent, ignore_errors=True))

    page.get_by_role("button", name="Assess", exact=True).click()
    _wait(page, re.compile(r"24 correct and 24 incorrect repetitions"))
    _wait(page, re.compile(r"^score AUC 1\.000 · severity AUC 1\.000"))
    page.locator(".legendtext", has_text="score (AUC 1.000)").first.wait_for(timeout=TIMEOUT)  # the ROC legend
    assert _squat(server)[0].version == 1  # assessing writes nothing

    page.get_by_label("Note", exact=True).fill("synthetic squats")
    page.get_by_role("button", name="Calibrate", exact=True).click()
    _wait(page, re.compile(r"calibrated squat \(cal-[0-9a-f]{10}\) on 24 correct and 24 incorrect"))
    _wait(page, re.compile(r"score AUC 1\.000 → 1\.000 · severity AUC \d\.\d{3} → \d\.\d{3}"))
    _wait(page, "Before: assessed")
    _wait(page, re.compile(r"^After: after calibration cal-"))
    knee, rules = _squat(server)
    cal_id = rules.body["scoring"]["calibration"]["id"]
    assert knee.version == 2 and knee.note == f"calibration {cal_id}: synthetic squats"
    assert knee.spec.bounds_deg[0] > 90.0  # the shallow incorrect reps pushed the knee bound deeper
    _wait(page, "Current version 2")  # the threshold editor reloaded the store's versions
    page.wait_for_timeout(500)
    page.screenshot(path=str(tmp_path / "calibration.png"), full_page=True)  # for a look when it fails

    page.get_by_role("button", name="Revert calibration", exact=True).click()
    _wait(page, f"reverted calibration {cal_id} of squat")
    _wait(page, re.compile(r"^After: after reverting calibration"))
    _wait(page, re.compile(r"score AUC 1\.000 → 1\.000"))
    knee, rules = _squat(server)
    assert (knee.version, knee.spec.bounds_deg) == (3, (90.0, None)) and "scoring" not in rules.body
    page.wait_for_timeout(1500)  # the revert re-analyses the open clip; let its updates land before closing
    assert page.console_errors == [], page.console_errors
    assert outside == [], outside
