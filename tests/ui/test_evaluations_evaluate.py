"""The Evaluations page's **Evaluate** in a real browser (issue 17, part 6: an Evaluations page that acts).

Set-up: `biocoach serve --data-dir DATA` on a fresh store; DATA holds a ground-truth JSON and two prediction
files written by the test. The figures the page shows after Evaluate are checked against answers worked out by
hand from the T-F-Score protocol (workbench/eval/tfscore.py: each line's nearest counterpart within ±1.5 s, in
order, counted over all clips together):

* clip ``a``: ground truth at 2, 6, 10 and 14 s; predictions at 2.5, 10.4 and 20 s. Recall pass: 2→2.5 and
  10→10.4 match; 6 s (nearest 2.5, 3.5 s away) and 14 s (nearest 10.4, taken) do not: 2 of 4. Precision pass:
  2.5→2 and 10.4→10 match, 20 s (nearest 14, 6 s away) does not: 2 of 3. Alone: P 2/3, R 1/2, F 4/7 = 0.571.
* clip ``b``: one line, predicted verbatim at its time: 1 of 1 both ways, F 1.000, ROUGE-L 1.000.
* over both (micro, as the reference): P 3/4, R 3/5, F 2/3 = **0.667** (the mean of the clips' F, 0.786, would
  be wrong); 3 of 5 ground-truth lines matched.

A second evaluation of predictions identical to the ground truth scores 1.000; then the two are compared. A
third test runs a synthetic squat on the Runs page and evaluates that run's stored feedback against a ground
truth equal to it (1.000), picked from the Evaluations page's run list.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.ui.conftest import STORES, served_app
from workbench.exercises import load_catalogue
from workbench.pose.posefile import save_npz
from workbench.pose.synthetic import synthesize
from workbench.store.database import Database
from workbench.store.evaluations import EvaluationRepository

pytestmark = [pytest.mark.browser, pytest.mark.server]
TIMEOUT = 120_000
DATA: dict[str, Path] = {}
# The template asks fonts.googleapis.com for its font; offline that request is aborted, harmlessly.
OFFLINE_FONT = re.compile(r"ERR_NAME_NOT_RESOLVED|ERR_FAILED|ERR_INTERNET_DISCONNECTED")

GROUND_TRUTH = [
    {
        "mini_episode_id": "a",
        "feedbacks": ["Push your knees out.", "Keep your back straight.", "Go lower.", "Good rep."],
        "feedback_timestamps": [2.0, 6.0, 10.0, 14.0],
        "exercise": "squat",
    },
    {"mini_episode_id": "b", "feedbacks": ["Go lower."], "feedback_timestamps": [3.0], "exercise": "squat"},
]
PREDICTIONS = [
    {
        "mini_episode_id": "a",
        "pred_feedbacks": ["Push your knees out.", "Chest up.", "Nice."],
        "pred_feedback_timestamps": [2.5, 10.4, 20.0],
    },
    {"mini_episode_id": "b", "pred_feedbacks": ["Go lower."], "pred_feedback_timestamps": [3.0]},
]
IDENTICAL = [
    {
        "mini_episode_id": c["mini_episode_id"],
        "pred_feedbacks": c["feedbacks"],
        "pred_feedback_timestamps": c["feedback_timestamps"],
    }
    for c in GROUND_TRUTH
]


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    data = tmp_path_factory.mktemp("eval-data")
    for name, doc in (("gt.json", GROUND_TRUTH), ("pred.json", PREDICTIONS), ("same.json", IDENTICAL)):
        (data / name).write_text(json.dumps(doc))
    track, _ = synthesize(load_catalogue().get("squat"), 2, fps=30.0, seed=1)  # the rule coach speaks on it
    DATA["clip"] = Path(save_npz(track, data / "squat_eval.npz"))
    DATA["dir"] = data
    store = tmp_path_factory.mktemp("eval-store") / "biocoach.duckdb"
    yield from served_app(store, tmp_path_factory.mktemp("eval-log") / "serve.log", ["--data-dir", str(data)])


def _real_errors(page: Any) -> list[str]:
    return [e for e in page.console_errors if not OFFLINE_FONT.search(e)]


def _stored(server: str) -> list[Any]:
    with Database(STORES[server]).session() as s:
        repo = EvaluationRepository(s)
        return [repo.get(e.id) for e in repo.all()]


def _evaluations_tab(page: Any) -> None:
    page.get_by_text("Evaluations", exact=True).first.click()
    page.get_by_role("button", name="Evaluate", exact=True).wait_for(timeout=TIMEOUT)


def _evaluate_files(page: Any, predictions: str, name: str) -> None:
    page.get_by_text("a predictions file or folder", exact=True).click()
    page.get_by_label("Predictions file or folder", exact=True).fill(str(DATA["dir"] / predictions))
    page.get_by_label("Ground truth (file or split folder)", exact=True).fill(str(DATA["dir"] / "gt.json"))
    page.get_by_label("Name", exact=True).fill(name)
    page.get_by_label("Name", exact=True).press("Tab")  # the text inputs send their value on change
    page.get_by_role("button", name="Evaluate", exact=True).click()


def _cell_texts(page: Any, table: Any, column: str) -> list[str]:
    """The cells of ``column`` in a Tabulator, top to bottom."""
    return [
        t.strip()
        for t in table.locator(f'.tabulator-row .tabulator-cell[tabulator-field="{column}"]').all_inner_texts()
    ]


def test_evaluate_files_shows_the_hand_computed_scores(page: Any, server: str) -> None:
    _evaluations_tab(page)
    page.get_by_text("No evaluations yet", exact=False).first.wait_for(timeout=TIMEOUT)
    _evaluate_files(page, "pred.json", "hand computed")
    done = page.get_by_text(re.compile(r"Stored as evaluation (\d+): T-F-Score"))
    done.wait_for(timeout=TIMEOUT)
    line = done.inner_text()
    assert "T-F-Score 0.667, 3 of 5 ground-truth lines matched." in line, line  # micro, not the clips' mean 0.786
    eid = int(re.search(r"evaluation (\d+)", line)[1])  # type: ignore[index]
    # the finished evaluation is opened on the page: its heading and its clips, each with its own score
    page.get_by_text(f"Evaluation {eid}: hand computed", exact=False).wait_for(timeout=TIMEOUT)
    page.get_by_text("T-F-Score 0.667, 3 of 5 ground-truth lines matched", exact=False).nth(1).wait_for(timeout=TIMEOUT)
    clips = page.locator(".tabulator").filter(has_text="matched_gt").first
    clips.locator(".tabulator-row").nth(1).wait_for(timeout=TIMEOUT)
    assert _cell_texts(page, clips, "clip_id") == ["a", "b"]
    assert _cell_texts(page, clips, "matched_gt") == ["2", "1"]
    assert _cell_texts(page, clips, "matched_pred") == ["2", "1"]
    tf = [float(x) for x in _cell_texts(page, clips, "t_f_score")]
    assert tf == pytest.approx([4 / 7, 1.0], abs=1e-3)
    assert float(_cell_texts(page, clips, "rouge_l")[1]) == pytest.approx(1.0)  # clip b: the same words
    page.get_by_text("1 stored evaluation(s).", exact=True).wait_for(timeout=TIMEOUT)
    (stored,) = _stored(server)
    assert stored.summary.name == "hand computed"
    assert (stored.summary.n_gt, stored.summary.n_pred, stored.summary.n_matched) == (5, 4, 3)
    assert stored.summary.t_f_score == pytest.approx(2 / 3, abs=1e-9)
    assert _real_errors(page) == [], page.console_errors


def test_identical_predictions_score_one_and_compare(page: Any, server: str) -> None:
    _evaluations_tab(page)
    _evaluate_files(page, "same.json", "identical")
    done = page.get_by_text(re.compile(r"Stored as evaluation \d+: T-F-Score"))
    done.wait_for(timeout=TIMEOUT)
    assert "T-F-Score 1.000, 5 of 5 ground-truth lines matched." in done.inner_text()
    page.get_by_text("2 stored evaluation(s).", exact=True).wait_for(timeout=TIMEOUT)
    stored = {e.summary.name: e for e in _stored(server)}
    assert stored["identical"].summary.t_f_score == pytest.approx(1.0)
    assert stored["identical"].summary.metrics["rouge_l"] == pytest.approx(1.0)
    # the newest is B, the one before A: T-F goes 0.667 → 1.000 (+0.333)
    page.get_by_role("button", name="Compare evaluations").click()
    page.get_by_text(re.compile(r"Evaluation \d+ vs \d+ — same scorers")).wait_for(timeout=TIMEOUT)
    comparison = page.locator(".tabulator").filter(has_text="B - A").first
    rows = comparison.locator(".tabulator-row").filter(has_text="t_f_score")
    rows.first.wait_for(timeout=TIMEOUT)
    a, b, delta = (
        float(rows.first.locator(f'.tabulator-cell[tabulator-field="{c}"]').inner_text()) for c in ("A", "B", "B - A")
    )
    assert (a, b, delta) == pytest.approx((2 / 3, 1.0, 1 / 3), abs=1e-3)
    assert _real_errors(page) == [], page.console_errors


def test_evaluate_a_runs_feedback_picked_from_the_page(page: Any, server: str) -> None:
    """Analyse a synthetic squat on the Clip page (a run, with the rule coach's feedback); that feedback, written
    out as the ground truth, scores 1.000 when the run is picked on the Evaluations page (whose run list must
    offer a run made after the page was built)."""
    page.locator(".cursor-readout").get_by_text("Current pose:").wait_for(timeout=TIMEOUT)
    _evaluations_tab(page)  # the page is built now, before the run exists
    page.get_by_text("Clip", exact=True).first.click()
    box = page.get_by_label("Clip (video, landmark file or pose .npz)")
    box.fill(str(DATA["clip"]))
    box.press("Enter")
    page.get_by_role("button", name="Analyse").click()
    page.get_by_text(re.compile(r"analysed squat_eval\.npz")).first.wait_for(timeout=TIMEOUT)
    with Database(STORES[server]).store() as store:
        run_id = int(store.session.scalar("SELECT max(id) FROM runs", []))
        said = store.runs.feedback(run_id)
    assert said, "the run gave no feedback to evaluate"
    truth = [
        {
            "mini_episode_id": "squat_eval",
            "feedbacks": [e.text for e in said],
            "feedback_timestamps": [float(e.t_s or 0.0) for e in said],
        }
    ]
    (DATA["dir"] / "run_gt.json").write_text(json.dumps(truth))
    _evaluations_tab(page)
    page.get_by_text("a run's feedback", exact=True).click()
    run = page.get_by_label("Run", exact=True)
    option = run.locator("option", has_text=re.compile(rf"^run {run_id} · "))
    option.wait_for(state="attached", timeout=30_000)  # the run made after the page opened is offered
    run.select_option(option.get_attribute("value"))
    page.get_by_label("Ground truth (file or split folder)", exact=True).fill(str(DATA["dir"] / "run_gt.json"))
    page.get_by_label("Ground truth (file or split folder)", exact=True).press("Tab")
    page.get_by_role("button", name="Evaluate", exact=True).click()
    done = page.get_by_text(re.compile(r"Stored as evaluation \d+: T-F-Score"))
    done.wait_for(timeout=TIMEOUT)
    n = len(said)
    assert f"T-F-Score 1.000, {n} of {n} ground-truth lines matched." in done.inner_text()
    page.get_by_text(re.compile(rf"Evaluation \d+: run {run_id} ")).wait_for(timeout=TIMEOUT)  # opened
    assert _real_errors(page) == [], page.console_errors
