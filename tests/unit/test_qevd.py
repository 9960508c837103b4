"""The QEVD-fit-coach loader on a miniature dataset written in the published format (generated here).

The oracle is the generator's script (miniature.SESSIONS): each line's start relative to its exercise's
transition, which the loader must recover from ns time stamps + 28800 s and per-frame strings."""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import numpy as np
import pytest

from workbench.data import miniature as mini
from workbench.data.qevd import (
    QevdFormatError,
    QevdWarning,
    Span,
    collapse,
    exercise_key,
    exercise_name,
    find_split,
    load_split,
    load_timestamps,
    needs_rotation,
    sample_frames,
)

FRAME = 1 / mini.FPS + 0.004  # one frame plus the generator's jitter


@pytest.fixture(scope="module")
def root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return mini.build_miniature(tmp_path_factory.mktemp("qevd"))


@pytest.fixture(scope="module")
def test_split(root: Path) -> list:  # type: ignore[type-arg]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", QevdWarning)
        return load_split(root / mini.TEST_SPLIT)


def test_collapse_per_frame_strings() -> None:
    frames = ["", "a", "a", "", "a", "b", "b", "", "c"]
    # "a" twice after a silence = two utterances; "a" then "b" back to back = two; "c" still running at the end
    # has no end and is not counted (as the reference)
    assert collapse(frames) == [Span("a", 1, 2), Span("a", 4, 4), Span("b", 5, 6)]
    assert collapse(["", ""]) == []


def test_names_and_keys() -> None:
    assert exercise_name("First up are squats!") == "squats"
    assert exercise_name("Moving on to armcrosschest!") == "deltoid stretch"
    assert exercise_key("push-ups") == "pushup"
    assert exercise_key("Jumping Jacks") == "jumping_jack"
    assert exercise_key("deltoid stretch (left)") == "deltoid_stretch_left"
    assert exercise_key("quad stretch right") == "quad_stretch_right"
    assert exercise_key("burpee twists") is None
    assert needs_rotation("0145") and needs_rotation("0007") and not needs_rotation("0146")


def test_segments_exercises_and_ids(test_split: list) -> None:  # type: ignore[type-arg]
    ids = [s.session_id for s in test_split]
    # 0150_1 (jumping jacks) has no feedback and is dropped; the unknown exercise is kept under its own name
    assert ids == ["0007_0", "0007_1", "0150_0", "0150_2", "0150_3"]
    assert [s.exercise for s in test_split] == ["squat", "pushup", "deltoid_stretch", "squat", "burpee_twists"]
    assert test_split[2].metadata["exercise_name"] == "deltoid stretch"
    assert test_split[4].metadata["known_exercise"] is False


def test_unknown_exercise_warns(root: Path) -> None:
    with pytest.warns(QevdWarning, match="'burpee twists'.*not in the catalogue"):
        load_split(root / mini.TEST_SPLIT, with_tracks=False)


def test_relative_times_and_texts_follow_the_script(test_split: list) -> None:  # type: ignore[type-arg]
    by_id = {s.session_id: s for s in test_split}
    for vid, blocks in mini.SESSIONS[mini.TEST_SPLIT].items():
        kept = [(k, b) for k, b in enumerate(blocks) if b.lines]
        for k, block in kept:
            s = by_id[f"{vid}_{k}"]
            assert [u.text for u in s.utterances] == [ln.text for ln in block.lines]
            got = np.array([u.t_s for u in s.utterances])
            want = np.array([ln.t for ln in block.lines])
            # the segment starts at the transition's first frame, a line at its own first frame: ≤ 1 frame apart
            assert np.all(np.abs(got - want) < FRAME), (s.session_id, got, want)


def test_segment_end_is_halfway_through_the_next_transition(test_split: list) -> None:  # type: ignore[type-arg]
    squat = test_split[0]  # next transition starts 13 s later and lasts 1.5 s: the segment ends ≈ 0.75 s in
    assert squat.duration_s == pytest.approx(13.0 + mini.TRANSITION_S / 2, abs=2 * FRAME)
    assert squat.video_start_s == pytest.approx(mini.LEAD_IN_S, abs=FRAME)


def test_ns_timestamps_convert_with_the_28800_s_offset(root: Path) -> None:
    folder = root / mini.TEST_SPLIT
    raw = np.load(folder / "long_range_videos/0007_timestamps.npy")
    assert raw.dtype == np.float64 and raw[0] > 1e18  # nanoseconds
    seconds = load_timestamps(folder / "long_range_videos/0007_timestamps.npy")
    assert seconds[0] == pytest.approx(raw[0] / 1e9 + 28800.0)
    record = json.loads((folder / "feedbacks_long_range.json").read_text())[0]
    first_line = record["feedbacks"].index("First up are squats!")
    assert record["feedback_timestamps"][0] == pytest.approx(seconds[first_line], abs=1e-6)
    gaps = np.diff(seconds)
    assert gaps.max() > 1.5 / mini.FPS  # a dropped frame: the frames are not uniform


def test_pose_sidecar_is_sliced_into_each_segment(test_split: list) -> None:  # type: ignore[type-arg]
    squat = test_split[0]
    assert squat.track is not None
    assert squat.track.t[0] == pytest.approx(0.0, abs=FRAME)
    assert squat.track.t[-1] == pytest.approx(squat.duration_s, abs=2 * FRAME)  # a dropped frame may fall here
    knee = squat.track.q[:, 10]  # the squat moves the knees by tens of degrees
    assert np.degrees(knee.max() - knee.min()) > 40


def test_frames_are_sampled_by_timestamp_and_rotated(test_split: list) -> None:  # type: ignore[type-arg]
    rotated = list(sample_frames(test_split[0], hz=4))
    assert len(rotated) == int(test_split[0].duration_s * 4) + 1
    t, rgb = rotated[0]
    assert t == 0.0 and rgb.shape[:2] == (mini.FRAME_W, mini.FRAME_H)  # portrait after the 90° turn
    assert rgb[:3, :, 0].mean() > 150 > rgb[:3, :, 1].mean()  # the red band is at the top once upright
    upright = list(sample_frames(test_split[2], hz=2))  # id 0150 > 145: not rotated
    assert upright[0][1].shape[:2] == (mini.FRAME_H, mini.FRAME_W)
    assert upright[0][1][:3, :, 0].mean() > 150


def test_find_split(root: Path) -> None:
    assert find_split(root, "train") == root / mini.TRAIN_SPLIT
    assert find_split(root / mini.TEST_SPLIT) == root / mini.TEST_SPLIT
    with pytest.raises(QevdFormatError, match="QEVD-FIT-COACH-Benchmark"):
        find_split(root / "nowhere")


def _corrupt(root: Path, tmp_path: Path, edit) -> Path:  # type: ignore[no-untyped-def]
    src = root / mini.TEST_SPLIT
    dst = tmp_path / "split"
    (dst / "long_range_videos").mkdir(parents=True)
    for f in (src / "long_range_videos").glob("*_timestamps.npy"):
        (dst / "long_range_videos" / f.name).write_bytes(f.read_bytes())
    records = json.loads((src / "feedbacks_long_range.json").read_text())
    edit(records)
    (dst / "feedbacks_long_range.json").write_text(json.dumps(records))
    return dst


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda r: r[1].pop("is_transition"), r"record 1: expected the field\(s\) is_transition"),
        (
            lambda r: r[0]["feedbacks"].pop(),
            r"record 0 \(long_range_videos/0007.mp4\): field 'video_timestamps': "
            r"expected 883 frame times",
        ),
        (
            lambda r: r[0]["is_transition"].append(False),
            r"record 0 .*field 'is_transition': expected one entry per "
            r"utterance \(11 utterances in 'feedbacks'\), got 12",
        ),
        (
            lambda r: r[1]["feedback_timestamps"].__setitem__(2, "x"),
            r"record 1 .*'feedback_timestamps': expected numbers",
        ),
    ],
)
def test_format_errors_name_record_and_field(root: Path, tmp_path: Path, edit, message: str) -> None:  # type: ignore[no-untyped-def]
    folder = _corrupt(root, tmp_path, edit)
    with pytest.raises(QevdFormatError, match=message):
        load_split(folder)


def test_train_split_loads(root: Path) -> None:
    sessions = load_split(root / mini.TRAIN_SPLIT)
    assert [s.session_id for s in sessions] == ["0003_0", "0003_1"]
    assert sessions[0].source == "qevd:QEVD-FIT-COACH/0003#0"
