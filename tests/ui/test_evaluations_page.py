"""The evaluations page in a real browser: stored evaluations listed, one opened, two compared (scored by
different BERTScore encoders, so the page must flag that metric as not comparable)."""

from __future__ import annotations

import re
from typing import Any

import pytest

from tests.ui.conftest import STORES, screenshot
from workbench.store.database import Database
from workbench.store.evaluations import EvaluationRepository

pytestmark = [pytest.mark.browser, pytest.mark.server]
TIMEOUT = 60_000


def _doc(tf: float, bert_model: str) -> dict[str, Any]:
    clip = {
        "clip_id": "0007_0",
        "exercise": "squat",
        "n_gt": 4,
        "n_pred": 2,
        "matched_gt": 2,
        "matched_pred": 2,
        "t_f_score": tf,
        "meteor": 0.2,
        "rouge_l": 0.1,
        "bertscore": 0.8,
        "precision": 1.0,
        "recall": 0.5,
        "matches": [],
        "missed": [],
        "spurious": [],
    }
    return {
        "t_f_score": tf,
        "precision": 1.0,
        "recall": 0.5,
        "n_gt": 4,
        "n_pred": 2,
        "n_matched": 2,
        "meteor": 0.2,
        "rouge_l": 0.1,
        "bertscore": 0.8,
        "dataset": "QEVD-FIT-COACH-Benchmark",
        "predictions": "p.json",
        "ground_truth": "gt",
        "models": {"bertscore": bert_model},
        "settings": {},
        "per_clip": [clip],
    }


def test_list_open_and_compare_evaluations(page: Any, server: str) -> None:
    with Database(STORES[server]).session() as s:
        repo = EvaluationRepository(s)
        repo.save(_doc(0.25, "all-MiniLM-L6-v2 (layer 6)"), name="rule baseline", code_version="test")
        repo.save(_doc(0.5, "roberta-large (layer 17)"), name="neural coach", code_version="test")
    page.get_by_text("Evaluations", exact=True).first.click()
    page.get_by_role("button", name="Refresh evaluations").click()
    page.get_by_text("2 stored evaluation(s).").wait_for(timeout=TIMEOUT)
    page.get_by_text("neural coach").first.wait_for(timeout=TIMEOUT)
    page.get_by_role("button", name="Show clips").click()
    page.get_by_text(re.compile(r"Evaluation \d+: neural coach")).wait_for(timeout=TIMEOUT)
    page.get_by_text("bertscore: roberta-large (layer 17)").wait_for(timeout=TIMEOUT)
    page.get_by_role("button", name="Compare evaluations").click()
    page.get_by_text(re.compile(r"not comparable \(different scorers\): bertscore")).wait_for(timeout=TIMEOUT)
    assert [e for e in page.console_errors if "ERR_NAME_NOT_RESOLVED" not in e] == []
    # the comparison scrolled the page down: the screenshot shows the page from its header
    page.evaluate("() => { window.scrollTo(0, 0); document.querySelectorAll('*').forEach(e => { e.scrollTop = 0; }); }")
    screenshot(page, "evaluations_page")
