"""T-F-Score on hand-worked cases: every expected value below is worked out by hand from the protocol."""

from __future__ import annotations

import pytest

from workbench.eval.tfscore import ClipFeedback, align, match_clip, t_f_score


def clip(gt: list[float], pred: list[float], pred_texts: list[str] | None = None, cid: str = "c") -> ClipFeedback:
    texts = pred_texts if pred_texts is not None else [f"p{i}" for i in range(len(pred))]
    return ClipFeedback(cid, tuple(f"g{i}" for i in range(len(gt))), tuple(gt), tuple(texts), tuple(pred))


def test_tie_goes_to_the_first_prediction() -> None:
    # gt 1.0 is 0.5 s from both predictions: argmin takes index 0 (0.5), never index 1.
    assert align([1.0], [0.5, 1.5], ["a", "b"]) == [(0, 0)]
    m = match_clip(clip([1.0], [0.5, 1.5]))
    # swapped pass: pred 0.5 → gt 1.0 matched; pred 1.5 → gt 0 already taken → 1 of 2 predictions
    assert (m.matched_gt, m.matched_pred) == (1, 1)


def test_out_of_order_prediction_is_not_matched() -> None:
    # gt 1.0 → nearest pred index 1 (1.1). gt 3.0 → nearest pred index 0 (3.0) but 0 < last matched index 1.
    assert align([1.0, 3.0], [3.0, 1.1], ["a", "b"]) == [(0, 1)]


def test_nearest_already_taken_gets_no_fallback_to_second_nearest() -> None:
    # gt 1.0 and 1.25 both nearest to pred 1.125 (index 0); pred 2.0 is within 1.5 s of gt 1.25 but is never
    # considered for it. (Binary-exact times, so the tie below is a real tie.)
    assert align([1.0, 1.25], [1.125, 2.0], ["a", "b"]) == [(0, 0)]
    m = match_clip(clip([1.0, 1.25], [1.125, 2.0]))
    # swapped: pred 1.125 ties between gt 0 and gt 1 → gt 0; pred 2.0 → gt 1 (0.75 s) → both predictions matched
    assert (m.matched_gt, m.matched_pred) == (1, 2)


def test_exactly_one_and_a_half_seconds_is_outside_the_window() -> None:
    assert align([0.0], [1.5], ["a"]) == []
    assert align([0.0], [1.4999], ["a"]) == [(0, 0)]
    assert align([2.0], [0.5], ["a"]) == []  # 1.5 exactly, prediction earlier


def test_empty_predicted_text_is_never_matched_and_blocks_the_fallback() -> None:
    assert align([1.0], [1.0, 1.2], ["", "b"]) == []


def test_empty_predictions_give_zero_and_count_the_ground_truth() -> None:
    s = t_f_score([clip([1.0, 2.0], [])])
    assert (s.n_gt, s.n_pred, s.matched_gt, s.matched_pred) == (2, 0, 0, 0)
    assert s.precision == 0.0 and s.recall == 0.0 and s.f_score == 0.0


def test_clips_are_pooled_by_counts_not_by_averaging_scores() -> None:
    a = clip([1.0], [1.0], cid="a")  # 1/1 and 1/1
    b = clip([1.0, 5.0, 9.0], [20.0], cid="b")  # 0/3 and 0/1
    s = t_f_score([a, b])
    assert (s.n_gt, s.n_pred, s.matched_gt, s.matched_pred) == (4, 2, 1, 1)
    p, r = 1 / (2 + 1e-12), 1 / (4 + 1e-12)
    assert s.precision == p and s.recall == r
    assert s.f_score == pytest.approx(2 * 0.5 * 0.25 / 0.75, abs=1e-12)
    # the macro mean of the clip F-scores would be (1 + 0) / 2 = 0.5, not 1/3
    assert s.f_score == pytest.approx(1 / 3)


def test_skip_empty_variant_leaves_out_clips_without_predictions() -> None:
    clips = [clip([1.0], [1.0], cid="a"), clip([1.0, 2.0], [], cid="b")]
    assert t_f_score(clips).recall == pytest.approx(1 / 3)
    skipped = t_f_score(clips, skip_empty=True)
    assert skipped.recall == pytest.approx(1.0) and skipped.skipped == ("b",)


def test_precision_comes_from_the_swapped_pass() -> None:
    # gt [0, 1], preds [0.9]: forward gt 0 → pred 0 (0.9 < 1.5) matched; gt 1 → pred 0 taken → recall 1/2.
    # swapped: pred 0.9 → gt index 1 (1.0 nearer than 0.0) → 1/1. Pairs of pass 1 are (0, 0), not (1, 0).
    m = match_clip(clip([0.0, 1.0], [0.9]))
    assert m.pairs == ((0, 0),)
    assert (m.matched_gt, m.matched_pred) == (1, 1)
