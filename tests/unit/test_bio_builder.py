"""QEVD-bio-fit-coach builder: which lines are rewritten, that every time stamp and utterance survives, the
report, and the default motion-context path on the miniature data (shallow squat reps → knee-flexion lines)."""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import pytest

from workbench.coach.sessions import CoachingSession
from workbench.data import miniature as mini
from workbench.data.bio_builder import REPORT_FILE, build_bio, classify_utterance, motion_feedback_at
from workbench.data.qevd import QevdWarning, collapse, load_split

SPLIT = mini.TEST_SPLIT


@pytest.fixture(scope="module")
def root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return mini.build_miniature(tmp_path_factory.mktemp("qevd"), splits=(SPLIT,))


def _script_kinds() -> dict[str, str]:
    return {ln.text: ln.kind for blocks in mini.SESSIONS[SPLIT].values() for b in blocks for ln in b.lines}


@pytest.mark.parametrize(
    ("text", "kind"),
    [
        *sorted(_script_kinds().items()),
        ("Don't let your knees cave in.", "corrective"),
        ("Ten!", "counting"),
        ("Last two reps!", "counting"),
        ("Awesome work, keep going!", "motivational"),
        ("Breathe out as you push up.", "instructional"),
    ],
)
def test_classifier(text: str, kind: str) -> None:
    assert classify_utterance(text) == kind


def _fake(session: CoachingSession, t_s: float) -> str | None:
    return None if session.exercise == "deltoid_stretch" else f"BIO {session.session_id} at {t_s:.2f} s"


def _load(folder: Path) -> list[CoachingSession]:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", QevdWarning)
        return load_split(folder, with_tracks=False)


def test_rewrites_only_corrective_and_instructional_lines_and_keeps_every_time(root: Path, tmp_path: Path) -> None:
    report = build_bio(root / SPLIT, tmp_path, feedback_fn=_fake, classifier=classify_utterance)
    before, after = _load(root / SPLIT), _load(tmp_path / SPLIT)
    assert [s.session_id for s in after] == [s.session_id for s in before]
    kinds = _script_kinds()
    rewritten = 0
    for b, a in zip(before, after, strict=True):
        assert [u.t_s for u in a.utterances] == [u.t_s for u in b.utterances]  # every time stamp, exactly
        for ub, ua in zip(b.utterances, a.utterances, strict=True):
            if kinds[ub.text] in ("corrective", "instructional") and b.exercise != "deltoid_stretch":
                assert ua.text == f"BIO {b.session_id} at {ub.t_s:.2f} s"
                rewritten += 1
            else:
                assert ua.text == ub.text
    assert report.n_rewritten == rewritten == 7  # 2 sessions × (2 go-lower + chest-up) + the push-up correction
    assert report.n_kept_no_context == 1  # the stretch instruction: no motion context (fn returned None)
    assert report.kinds == {"motivational": 5, "corrective": 5, "counting": 3, "instructional": 3}
    src = json.loads((root / SPLIT / "feedbacks_long_range.json").read_text())
    out = json.loads((tmp_path / SPLIT / "feedbacks_long_range.json").read_text())
    for r_in, r_out in zip(src, out, strict=True):
        assert len(r_out["feedbacks"]) == len(r_in["feedbacks"])
        assert r_out["is_transition"] == r_in["is_transition"]
        assert r_out["feedback_timestamps"] == r_in["feedback_timestamps"]
        assert len(collapse(r_out["feedbacks"])) == len(collapse(r_in["feedbacks"]))
        assert [i for i, f in enumerate(r_out["feedbacks"]) if f] == [i for i, f in enumerate(r_in["feedbacks"]) if f]
    assert (tmp_path / SPLIT / "long_range_videos" / "0007.mp4").stat().st_size > 0
    saved = json.loads((tmp_path / SPLIT / REPORT_FILE).read_text())
    assert saved["n_rewritten"] == 7 and saved["rewrites"][0]["original"] == "Go lower, bend your knees more!"


def test_a_replacement_that_would_merge_with_its_neighbour_is_kept(root: Path, tmp_path: Path) -> None:
    # "Three more!" and "Keep your chest up." touch (no silence): replacing the second by "Three more!" would
    # merge two utterances into one and lose a time stamp
    report = build_bio(root / SPLIT, tmp_path, feedback_fn=lambda s, t: "Three more!", classifier=classify_utterance)
    merged = [r for r in report.rewrites if "merge" in r.note]
    assert [r.original for r in merged] == ["Keep your chest up.", "Keep your chest up."]
    assert all(len(s.utterances) == n for s, n in zip(_load(tmp_path / SPLIT), [5, 3, 2, 5, 1], strict=True))


def test_motion_context_finds_the_shallow_squat_reps(root: Path) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", QevdWarning)
        squat = load_split(root / SPLIT)[0]
    line = motion_feedback_at(squat, 7.4)  # the 2nd "go lower": rep 2, synthesised 40° too shallow
    assert line is not None and "knee flexion" in line.lower() and "(target: 90°)" in line
    assert motion_feedback_at(squat, 0.5) is None  # before the first rep: nothing to report


def test_default_builder_uses_the_motion_context(root: Path, tmp_path: Path) -> None:
    report = build_bio(root / SPLIT, tmp_path)
    by_time = {(r.segment, r.t_s): r for r in report.rewrites}
    second = by_time[("0007_0", round([u.t_s for u in _load(root / SPLIT)[0].utterances][2], 3))]
    assert second.replacement is not None and "°" in second.replacement and "knee" in second.replacement.lower()
    assert report.feedback_source.endswith("feedback_at")
