"""The numbers check of `biocoach eval` (workbench.eval.numbers): number extraction, hand-written
utterance/context pairs with known answers, and the summary `biocoach eval` reports from a submission and from
an analysis JSON."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from workbench.eval.evaluate import EvalSettings, evaluate, load_ground_truth, load_predictions, overall_table
from workbench.eval.numbers import check_utterance, grounding_context, numbers_in

CONTEXT = (
    "Current pose: pelvis 1°, right hip 10°, left hip 10°, right knee 84°, left knee 86°, right ankle -1°.\n"
    "Form issues: Right knee flexion insufficient (84° detected, 90° required)\n"
    "Reps completed: 10."
)


@pytest.mark.parametrize(
    ("text", "want"),
    [
        ("Knee at 84°, target 90°.", [84.0, 90.0]),
        ("That's 10 reps!", [10.0]),
        ("Ankle at -1° and −5°", [-1.0, -5.0]),
        ("Hold 1.5 s, 12.25 degrees", [1.5, 12.25]),
        ("SmolLM2 on a 3D model, 2nd set", []),  # numbers inside words are not numbers
        ("Aim for 70–80°, 5-10 reps", [70.0, 80.0, 5.0, 10.0]),  # ranges: two numbers, no sign
        ("rep 0.63-2.37 s", [0.63, 2.37]),
        ("height 1.75m, mass 70kg, 40% done", [1.75, 70.0, 40.0]),
        ("Good depth, keep going.", []),
    ],
)
def test_numbers_in(text: str, want: list[float]) -> None:
    assert numbers_in(text) == want


def test_known_pairs() -> None:
    # in range: 85° is within 1 of the stated 84° and 86°; 90 and 10 are stated
    ok = check_utterance("Right knee 85°, target 90°. That's 10 reps!", CONTEXT)
    assert ok.numbers == (85.0, 90.0, 10.0) and ok.all_grounded
    # off by 2°: 88° is 2 from 86° and 90° — not grounded; 84 is
    off = check_utterance("Right knee 88°, you were at 84°.", CONTEXT)
    assert off.numbers == (88.0, 84.0) and off.ungrounded == (88.0,)
    # a negative angle matches its sign: -1° is stated, 1° (pelvis) too, -3° is 2 from -1°
    assert check_utterance("Ankle at -2°", CONTEXT).all_grounded
    assert check_utterance("Ankle at -3°", CONTEXT).ungrounded == (-3.0,)
    assert check_utterance("Nice and steady.", CONTEXT).numbers == ()


def test_grounding_context_adds_the_rep_count_only_when_missing() -> None:
    assert grounding_context(CONTEXT, 12) == CONTEXT  # the coach's own view of the count stands
    assert grounding_context("Form issues: none", 3) == "Form issues: none\nReps completed: 3"
    assert grounding_context(None, None) is None


def _files(tmp_path: Path, sub: list[dict[str, object]]) -> tuple[Path, Path]:
    gt = [
        {"mini_episode_id": "a", "feedbacks": ["Deeper."], "feedback_timestamps": [1.0]},
        {"mini_episode_id": "b", "feedbacks": ["Nice."], "feedback_timestamps": [2.0]},
    ]
    (tmp_path / "gt.json").write_text(json.dumps(gt))
    (tmp_path / "pred.json").write_text(json.dumps(sub))
    return tmp_path / "gt.json", tmp_path / "pred.json"


def test_eval_reports_the_numbers_check(tmp_path: Path) -> None:
    sub = [
        {
            "mini_episode_id": "a",
            "pred_feedbacks": ["Knee 85°, target 90°.", "Knee 88°!", "Good."],
            "pred_feedback_timestamps": [1.0, 3.0, 5.0],
            "pred_contexts": [CONTEXT, CONTEXT, CONTEXT],
        },
        # an older submission without contexts: not checked, counted
        {"mini_episode_id": "b", "pred_feedbacks": ["10 reps!"], "pred_feedback_timestamps": [2.0]},
    ]
    gt_path, pred_path = _files(tmp_path, sub)
    _, gt = load_ground_truth(gt_path)
    res = evaluate(load_predictions(pred_path), gt, settings=EvalSettings(text_metrics=False))
    s = res.summary
    assert (s["n_numbers_checked"], s["n_numbers_grounded"]) == (3, 2)
    assert s["numbers_grounded"] == pytest.approx(2 / 3)
    assert (s["n_utterances_checked"], s["n_utterances_without_numbers"], s["n_utterances_without_context"]) == (
        3,
        1,
        1,
    )
    assert s["utterances_all_grounded"] == pytest.approx(2 / 3)  # "Good." counts as grounded
    row = next(r for r in res.per_clip if r["clip_id"] == "a")
    assert row["ungrounded_numbers"] == [{"t": 3.0, "text": "Knee 88°!", "numbers": [88.0], "context": CONTEXT}]
    table = overall_table(res)
    assert "numbers grounded (±1)               0.667  [2 of 3 numbers" in table
    assert "1 state no number; 1 without context" in table
    assert any("1 predicted utterance(s) without a recorded context" in w for w in res.warnings)


def test_bad_pred_contexts_are_refused(tmp_path: Path) -> None:
    from workbench.eval.evaluate import EvalInputError

    sub = [{"mini_episode_id": "a", "pred_feedbacks": ["x"], "pred_feedback_timestamps": [1.0], "pred_contexts": []}]
    _, pred_path = _files(tmp_path, sub)
    with pytest.raises(EvalInputError, match="pred_contexts': expected a list of 1 strings or nulls"):
        load_predictions(pred_path)


def test_coach_predictions_carry_their_context(tmp_path: Path) -> None:
    """`biocoach data predict` and the analysis JSON of `biocoach coach` both record what each line was spoken
    against; the rule coach only states numbers from it."""
    from workbench.coach.loop import run_coach
    from workbench.coach.rule_coach import RuleCoach
    from workbench.exercises import load_catalogue
    from workbench.pose.synthetic import synthesize

    ex = load_catalogue().get("squat")
    track, _ = synthesize(ex, 6, period_s=2.0, seed=1)
    events = run_coach(RuleCoach(seed=0), track, ex)
    assert events and all(e.reps_done is not None for e in events)
    fb = [e.to_feedback().to_json() for e in events]
    for f, e in zip(fb, events, strict=True):
        assert f["evidence"]["context_motion"] and f["evidence"]["reps_done"] == e.reps_done
    (tmp_path / "analysis.json").write_text(json.dumps({"clip_id": "a", "feedback": fb}))
    clip = load_predictions(tmp_path / "analysis.json")["a"]
    assert len(clip.contexts) == len(events) and all(c for c in clip.contexts)
    gt = {"a": clip}  # the predictions as their own ground truth: only the numbers check matters here
    res = evaluate({"a": clip}, gt, settings=EvalSettings(text_metrics=False))
    assert res.summary["n_utterances_checked"] == len(events)
    assert res.summary["utterances_all_grounded"] == 1.0, res.per_clip[0]["ungrounded_numbers"]
