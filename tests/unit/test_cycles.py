"""Cycle detection on analytic signals whose repetitions are known in closed form."""

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.conftest import squat_track
from workbench.motion.analysis import analyze
from workbench.motion.cycles import CycleParams, CycleSegmenter


def _segment(signal: np.ndarray, **kw: object) -> CycleSegmenter:
    params = CycleParams(prominence=0.1, min_len=24, max_len=150, kind="repetitive")
    for k, v in kw.items():
        setattr(params, k, v)
    seg = CycleSegmenter(params)
    seg.cycles = [c for x in signal.tolist() for c in seg.push(x)] + seg.finish()  # type: ignore[attr-defined]
    return seg


def _cosine_reps(n_reps: int, period: int, amp: float = 1.5, rest: int = 0) -> np.ndarray:
    one = amp * 0.5 * (1 - np.cos(2 * math.pi * np.arange(period) / period))
    return np.concatenate([np.zeros(rest)] + [np.concatenate([one, np.zeros(rest)]) for _ in range(n_reps)])


def test_counts_clean_reps_and_places_the_work_frame_at_the_peak() -> None:
    seg = _segment(_cosine_reps(8, 60))
    cycles = seg.cycles  # type: ignore[attr-defined]
    assert len(cycles) == 8
    assert [c.work for c in cycles] == [30 + 60 * k for k in range(8)]
    # trimmed bounds: the signal is within 10 % of rest at each bound
    for c in cycles:
        assert c.start < c.work < c.end
        assert c.phases[0].name == "descent" and c.phases[1].name == "ascent"


def test_pauses_between_reps_do_not_break_the_length_bounds() -> None:
    # 4 s of standing between 2 s reps: the valley-to-valley span exceeds 5 s, the movement does not
    assert len(_segment(_cosine_reps(5, 60, rest=120)).cycles) == 5  # type: ignore[attr-defined]


def test_too_fast_and_too_small_movements_are_not_reps() -> None:
    fast = _segment(_cosine_reps(10, 12))  # 0.4 s cycles < 24 frames
    assert fast.cycles == [] and fast.rejected  # type: ignore[attr-defined]
    tiny = _segment(_cosine_reps(10, 60, amp=0.05))  # 3° excursion < 0.1 rad prominence
    assert tiny.cycles == []  # type: ignore[attr-defined]


def test_partial_rep_at_the_end_is_reported_not_counted() -> None:
    signal = np.concatenate([_cosine_reps(3, 60), _cosine_reps(1, 60)[:33]])  # last one stops at its bottom
    seg = _segment(signal)
    assert len(seg.cycles) == 3  # type: ignore[attr-defined]
    assert any("track ends inside it" in r.reason for r in seg.rejected)


def test_alternating_cycles_split_into_right_and_left_phases() -> None:
    t = np.arange(600)
    signal = 1.0 * np.sin(2 * math.pi * t / 60)  # right hip: one raise per 2 s cycle
    seg = _segment(signal, kind="alternating")
    cycles = seg.cycles  # type: ignore[attr-defined]
    assert len(cycles) >= 8
    for c in cycles:
        right, left = c.phases
        assert (right.name, left.name) == ("right", "left")
        assert abs((right.end - right.start) - (left.end - left.start)) <= 2  # symmetric halves
        assert signal[right.start : right.end + 1].mean() > 0 > signal[left.start : left.end + 1].mean()


def test_static_hold_windows() -> None:
    rng = np.random.default_rng(0)
    moving = np.sin(np.arange(60) / 3.0)  # getting into position
    still = 0.3 + 0.002 * rng.standard_normal(400)  # a 13 s hold, 0.1° noise
    seg = _segment(
        np.concatenate([moving, still, moving]),
        kind="static_hold",
        hold_threshold=math.radians(6),
        hold_window=10,
        hold_min=10,
        hold_chunk=150,
    )
    cycles = seg.cycles  # type: ignore[attr-defined]
    assert [c.kind for c in cycles] == ["hold"] * 3
    assert cycles[0].end - cycles[0].start + 1 == 150
    assert 60 <= cycles[0].start <= 70 and cycles[-1].end <= 460 + 10


@given(shift=st.integers(min_value=0, max_value=200), reps=st.integers(min_value=2, max_value=8))
@settings(max_examples=25, deadline=None)
def test_rep_count_is_unchanged_by_a_time_shift(shift: int, reps: int) -> None:
    base = _cosine_reps(reps, 50)
    shifted = np.concatenate([np.zeros(shift), base])
    assert len(_segment(shifted).cycles) == reps  # type: ignore[attr-defined]


@pytest.mark.parametrize("fps", [30.0, 60.0, 120.0])
def test_rep_count_does_not_depend_on_frame_rate(fps: float) -> None:
    analysis = analyze(squat_track(6, fps=fps, rest_s=0.5), "squat")
    assert len(analysis.reps) == 6
    for k, rep in enumerate(analysis.reps):
        assert rep.start_s == pytest.approx(0.5 + 2.5 * k, abs=0.45)
