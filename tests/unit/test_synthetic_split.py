"""The synthetic split (workbench.data.synthetic_split): what the QEVD loader reads back, the truth file, the
refusal of a used OUT; and `data predict`'s frames for a coach that wants video (workbench.eval.baselines)."""

from __future__ import annotations

import json
from collections import Counter
from typing import Any

import numpy as np
import pytest

from workbench.coach.coaching import DecisionInput, Utterance
from workbench.coach.rule_coach import RuleCoach
from workbench.data.qevd import load_split, read_records
from workbench.data.synthetic_split import DEFAULT_SPLIT, SyntheticSplit, build_synthetic_split, load_truth
from workbench.errors import WorkbenchError
from workbench.eval.baselines import predict_sessions
from workbench.exercises import load_catalogue

FRAME_S = 1 / 30


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> SyntheticSplit:
    return build_synthetic_split(tmp_path_factory.mktemp("syn"), 2, seed=3, exercises=("squat", "lunge"))


def test_loader_reads_back_the_utterances_and_exercises(built: SyntheticSplit) -> None:
    segments = load_split(built.folder)
    truth = load_truth(built.folder)
    assert [s.session_id for s in segments] == ["0000_0", "0001_0"]
    assert [s.exercise for s in segments] == ["squat", "lunge"] == [t["exercise"] for t in truth["sessions"]]
    assert [t["exercise_name"] for t in truth["sessions"]] == ["squats", "lunges"]
    for seg, mine, t in zip(segments, built.sessions, truth["sessions"], strict=True):
        assert seg.utterances, seg.session_id
        assert (
            [u.text for u in seg.utterances]
            == [u.text for u in mine.utterances]
            == [u["text"] for u in t["utterances"]]
        )
        got = np.array([u.t_s for u in seg.utterances])
        want = np.array([u.t_s for u in mine.utterances])
        assert np.all(got >= want - 1e-6) and np.all(got - want <= FRAME_S + 1e-6)  # the first frame at or after
        # the segment's track is the sidecar's, the whole session: the track the truth was spoken over
        assert seg.track is not None and mine.track is not None
        np.testing.assert_array_equal(seg.track.q, mine.track.q)
        np.testing.assert_allclose(seg.track.t, mine.track.t, atol=1e-9)
        assert seg.video is not None and seg.video.is_file()
        assert t["faults"] and t["rep_bounds_s"] and t["n_reps"] == len(t["rep_bounds_s"])
        assert all(u["t_s"] <= seg.duration_s for u in t["utterances"])


def test_records_follow_the_published_format(built: SyntheticSplit) -> None:
    records = read_records(built.folder)  # validates every field against its frames
    raw = json.loads((built.folder / "feedbacks_long_range.json").read_text())
    for rec, r in zip(records, raw, strict=True):
        assert set(r) == {
            "long_range_video_file",
            "video_timestamps",
            "feedbacks",
            "is_transition",
            "feedback_timestamps",
        }
        assert len(r["feedbacks"]) == len(rec.times_s)
        assert r["is_transition"][0] and r["is_transition"][-1] and not any(r["is_transition"][1:-1])
        assert rec.feedbacks[-1] == ""  # the closing line ends before the last frame
        ns = np.load(rec.timestamps_path)
        assert ns.dtype == np.float64 and ns[0] > 1e18  # nanoseconds, 8 h behind the wall clock
        assert rec.rotate_90_cw  # ids ≤ 145: stored on their side, as the loader expects


def test_refuses_a_used_split_folder(built: SyntheticSplit, capsys: pytest.CaptureFixture[str]) -> None:
    import argparse

    from workbench.eval.cli import cmd_synthetic

    args = argparse.Namespace(
        out=built.folder.parent, sessions=1, seed=0, exercises="squat", split=DEFAULT_SPLIT, coach_seed=0
    )
    with pytest.raises(WorkbenchError, match="already holds files"):
        cmd_synthetic(args)


class _SeeingRuleCoach(RuleCoach):
    """The rule coach, asking for video frames like the neural coach does, and noting what it was given."""

    video_fps = 16.0

    def __init__(self) -> None:
        super().__init__(seed=0)
        self.frames: list[Any] = []

    def decide(self, inp: DecisionInput) -> Utterance | None:
        self.frames.append(None if inp.frames is None else inp.frames.shape)
        return super().decide(inp)


def test_predict_hands_video_frames_to_a_coach_that_wants_them(built: SyntheticSplit) -> None:
    segments = load_split(built.folder)[:1]
    seeing = _SeeingRuleCoach()
    preds = predict_sessions(segments, seeing, load_catalogue())
    assert not preds.notes
    shapes = [s for s in seeing.frames if s is not None]
    assert len(shapes) >= len(seeing.frames) - 1  # every step after the first gets the frames since the last
    counts = Counter(s[0] for s in shapes)
    assert counts.most_common(1)[0][0] == 4  # 16 fps frames, 4 per 4 Hz step (more after a step spent speaking)
    assert {s[1:] for s in shapes} == {(64, 36, 3)}  # stored 64×36 on its side: upright
    # the frames change nothing for the rule coach: same lines as the pose-only prediction
    plain = predict_sessions(segments, RuleCoach(seed=0), load_catalogue())
    assert preds.items[0]["pred_feedbacks"] == plain.items[0]["pred_feedbacks"]


def test_rule_coach_gets_pose_only(built: SyntheticSplit) -> None:
    class _Recorder(RuleCoach):
        def __init__(self) -> None:
            super().__init__(seed=0)
            self.seen: list[bool] = []

        def decide(self, inp: DecisionInput) -> Utterance | None:
            self.seen.append(inp.frames is None)
            return super().decide(inp)

    coach = _Recorder()
    predict_sessions(load_split(built.folder)[:1], coach, load_catalogue())
    assert coach.seen and all(coach.seen)


def test_training_provenance_counts_video_windows() -> None:
    from workbench.model.train import _frames_text

    class _Data:
        def __init__(self, n: int, video: int | None) -> None:
            self.n = n
            if video is not None:
                self.n_video_windows = video

        def __len__(self) -> int:
            return self.n

    assert _frames_text(_Data(10, 7), "black") == "7 of 10 windows with video frames; the rest black frames (black)"  # type: ignore[arg-type]
    assert _frames_text(_Data(10, 0), "black").startswith("pose-only")  # type: ignore[arg-type]
    assert _frames_text(_Data(10, None), "black").startswith("pose-only")  # type: ignore[arg-type]
