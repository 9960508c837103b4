"""Reading predictions (submission list, analysis JSONs) and ground truth, and the per-clip bookkeeping of
`evaluate` (timing only: the text metrics have their own tests)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from workbench.eval.evaluate import Clip, EvalInputError, EvalSettings, evaluate, load_ground_truth, load_predictions

TIMING = EvalSettings(text_metrics=False)


def _analysis(feedback: list[tuple[float, str]], **extra: object) -> dict:  # type: ignore[type-arg]
    return {
        "schema": "biocoach.analysis/1",
        "exercise": "squat",
        "feedback": [{"t_s": t, "text": x, "evidence": {"tags": []}} for t, x in feedback],
        **extra,
    }


def test_analysis_jsons_file_and_folder(tmp_path: Path) -> None:
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "0007_0.json").write_text(json.dumps(_analysis([(1.5, "Sit deeper.")])))
    (tmp_path / "a" / "other.json").write_text(json.dumps(_analysis([(2.0, "x"), (4.0, "y")], clip_id="0150_2")))
    clips = load_predictions(tmp_path / "a")
    assert clips == {
        "0007_0": Clip("0007_0", ("Sit deeper.",), (1.5,), "squat"),
        "0150_2": Clip("0150_2", ("x", "y"), (2.0, 4.0), "squat"),
    }


def test_submission_and_ground_truth_lists(tmp_path: Path) -> None:
    sub = tmp_path / "sub.json"
    sub.write_text(json.dumps([{"mini_episode_id": "c", "pred_feedbacks": ["a"], "pred_feedback_timestamps": [1]}]))
    gt = tmp_path / "gt.json"
    gt.write_text(json.dumps([{"mini_episode_id": "c", "feedbacks": ["a", "b"], "feedback_timestamps": [1.2, 5]}]))
    assert load_predictions(sub)["c"].times == (1.0,)
    name, clips = load_ground_truth(gt)
    assert name == "gt" and clips["c"].texts == ("a", "b")


@pytest.mark.parametrize(
    ("doc", "message"),
    [
        ({"x": 1}, "expected a submission list"),
        ([{"pred_feedbacks": [], "pred_feedback_timestamps": []}], "item 0: expected field 'mini_episode_id'"),
        (
            [{"mini_episode_id": "c", "pred_feedbacks": ["a"], "pred_feedback_timestamps": ["1"]}],
            r"item 0: field 'pred_feedback_timestamps'\[0\]: expected seconds",
        ),
        ([{"mini_episode_id": "c", "pred_feedbacks": [], "pred_feedback_timestamps": []}] * 2, "appears twice"),
        ({"feedback": [{"t_s": 1.0}]}, r"feedback\[0\]: expected \{'t_s': number, 'text': string\}"),
    ],
)
def test_bad_predictions(tmp_path: Path, doc: object, message: str) -> None:
    p = tmp_path / "p.json"
    p.write_text(json.dumps(doc))
    with pytest.raises(EvalInputError, match=message):
        load_predictions(p)


def test_missing_and_extra_clips_and_per_clip_rows() -> None:
    gt = {"a": Clip("a", ("g0", "g1"), (1.0, 5.0)), "b": Clip("b", ("g0",), (2.0,))}
    preds = {"a": Clip("a", ("p0", "p1"), (1.2, 9.0)), "zzz": Clip("zzz", ("p",), (1.0,))}
    r = evaluate(preds, gt, settings=TIMING)
    s = r.summary
    assert (s["n_gt"], s["n_pred"], s["n_matched"], s["n_matched_pred"]) == (3, 2, 1, 1)
    assert any("zzz" in w for w in r.warnings) and any("without predictions" in w and "b" in w for w in r.warnings)
    a = r.per_clip[0]
    assert a["matches"] == [
        {"gt_t": 1.0, "pred_t": 1.2, "gt": "g0", "pred": "p0", "meteor": None, "rouge_l": None, "bertscore": None}
    ]
    assert a["missed"] == [{"t": 5.0, "text": "g1"}] and a["spurious"] == [{"t": 9.0, "text": "p1"}]
    assert r.per_clip[1]["n_pred"] == 0 and r.per_clip[1]["t_f_score"] == 0.0
    assert s["meteor"] is None and "bertscore" not in r.models


def test_skip_empty_setting_reaches_the_metric() -> None:
    gt = {"a": Clip("a", ("g",), (1.0,)), "b": Clip("b", ("g",), (1.0,))}
    preds = {"a": Clip("a", ("p",), (1.0,))}
    assert evaluate(preds, gt, settings=TIMING).summary["recall"] == pytest.approx(0.5)
    skipped = evaluate(preds, gt, settings=EvalSettings(text_metrics=False, skip_empty=True)).summary
    assert skipped["recall"] == pytest.approx(1.0) and skipped["skipped_clips"] == ["b"]
