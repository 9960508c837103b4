"""Real MediaPipe landmark tracks → filtering + IK → motion analysis: the rep counts counted by eye.

The tracks live in ``../shared/data/real_landmarks_dev`` (development only: never commit them or anything
derived from them); the tests skip without them. Expected counts are the README's:
squat 3, push-up 8, incline push-up 9 (key ``pushup``), jumping jacks 10, lunge 11, bicep curl 5, high
knees 9 right+left cycles (counted by eye as "about 18 knee drives"), plank one hold. Every count is exact.

The lunge clip was listed as reverse lunges with the legs taking turns, 11 in all; its landmarks say
otherwise: both feet stay where they are for the whole clip (front foot at image x 0.68, rear at 0.45, in every
second), so it is a split squat (stationary lunge) with the same leg in front, the near one, which MediaPipe
labels right. Our ``lunge`` exercise is unilateral, one side per rep: each lunge is one rep (the knees' summed
flexion makes one bump per lunge whichever leg leads), every rep is judged on the same side, and the split
stance at both ends of each rep selects the split-squat variant of the reference.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

import numpy as np
import pytest

from workbench.motion.analysis import analyze
from workbench.motion.engine import DEFAULT_MIN_DOF_CONFIDENCE
from workbench.motion.results import Analysis
from workbench.pose.landmark_files import landmarks_to_track, read_landmarks
from workbench.pose.track import PoseTrack
from workbench.skeleton import dof_index

DATA = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "real_landmarks_dev"

pytestmark = [
    pytest.mark.realdata,
    pytest.mark.skipif(not DATA.is_dir(), reason=f"real landmark tracks not present at {DATA}"),
]

# file stem, exercise key, expected reps, tolerance
CLIPS = [
    ("squat_side_home_man_yuyoujiang", "squat", 3, 0),
    ("pushup_side_home_woman_independentstudy", "pushup", 8, 0),
    ("pushup_incline_gym_venkat", "pushup", 9, 0),
    ("jumping_jacks_front_home_woman_independentstudy", "jumping_jack", 10, 0),
    ("lunge_side_nowva", "lunge", 11, 0),
    ("bicep_curl_side_formfit", "bicep_curl", 5, 0),
    ("high_knees_side_gym_venkat", "high_knees", 9, 0),
]


@cache
def run(stem: str, key: str) -> tuple[PoseTrack, list[str], Analysis]:
    track, warnings = landmarks_to_track(read_landmarks(DATA / f"{stem}.landmarks.csv.gz"))
    return track, warnings, analyze(track, key)


@pytest.mark.parametrize(("stem", "key", "expected", "tolerance"), CLIPS, ids=[c[0] for c in CLIPS])
def test_rep_count_matches_the_count_by_eye(stem: str, key: str, expected: int, tolerance: int) -> None:
    _, _, analysis = run(stem, key)
    assert abs(len(analysis.reps) - expected) <= tolerance, [(r.start_s, r.end_s) for r in analysis.reps]


def test_plank_is_one_hold_over_the_clip() -> None:
    track, _, analysis = run("plank_side_gym_venkat", "plank")
    assert analysis.reps and all(r.kind == "hold" for r in analysis.reps)
    covered = sum(r.end_s - r.start_s for r in analysis.reps)  # long holds are judged in 5 s windows
    assert covered >= 0.9 * track.duration_s - 0.2
    tilt = np.degrees(np.nanmedian(track.angle("pelvis_tilt")))
    assert -100 < tilt < -60  # prone: the trunk's lean is the pelvis's tilt


def test_alternating_high_knees_phases_and_lunge_count_one_rep_per_lunge() -> None:
    _, _, knees = run("high_knees_side_gym_venkat", "high_knees")
    assert all(r.kind == "alternating" and len(r.phases) == 2 for r in knees.reps)
    _, _, lunges = run("lunge_side_nowva", "lunge")
    assert all(r.side in ("right", "left") for r in lunges.reps)


def test_split_squats_are_one_side_the_split_variant_and_score_as_clean() -> None:
    """The same front leg in every rep, told by the data; the split stance selects the split-squat reference;
    the clean reps score like the clean reps of the other clips (they scored 0.50-0.55 against the lunge from
    standing with every DoF judged)."""
    _, _, lunges = run("lunge_side_nowva", "lunge")
    assert {r.side for r in lunges.reps} == {"right"} and all(r.side_known for r in lunges.reps)
    assert sum(r.variant == "split" for r in lunges.reps) >= 9
    assert float(np.median([r.quality for r in lunges.reps])) >= 0.7


@pytest.mark.parametrize(("stem", "key", "expected", "tolerance"), CLIPS, ids=[c[0] for c in CLIPS])
def test_no_seen_poorly_dof_is_judged_and_each_warning_is_given_once(
    stem: str, key: str, expected: int, tolerance: int
) -> None:
    """Per-side trust: every judged DoF had a median confidence of at least 0.5 over its rep (in a side view
    the far side has less), and the warnings hold no duplicate."""
    track, _, analysis = run(stem, key)
    assert len(analysis.warnings) == len(set(analysis.warnings))
    if track.dof_confidence is None:
        return
    for rep in analysis.reps:
        frames = slice(int(np.searchsorted(track.t, rep.start_s)), int(np.searchsorted(track.t, rep.end_s)) + 1)
        for v in rep.violations:
            assert np.median(track.dof_confidence[frames, dof_index(v.dof)]) >= DEFAULT_MIN_DOF_CONFIDENCE, v.message


def test_lost_frames_and_leg_swaps_are_reported() -> None:
    _, squat_warnings, _ = run("squat_side_home_man_yuyoujiang", "squat")
    assert any("lost frame(s)" in w for w in squat_warnings)  # the subject walks out at the end
    _, lunge_warnings, _ = run("lunge_side_nowva", "lunge")
    assert any("left/right legs swapped" in w for w in lunge_warnings)


def test_angles_are_plausible_for_a_standing_start() -> None:
    """The squat starts upright and the jumping jacks start with arms down: knees nearly straight, arms
    hanging (shoulder_r_x ≈ −90°, shoulder_l_x ≈ +90°)."""
    squat, _, _ = run("squat_side_home_man_yuyoujiang", "squat")
    assert np.degrees(np.nanmedian(squat.angle("knee_angle_r")[:15])) < 20
    jacks, _, _ = run("jumping_jacks_front_home_woman_independentstudy", "jumping_jack")
    assert np.degrees(np.nanmedian(jacks.angle("shoulder_r_x")[:10])) < -60
    assert np.degrees(np.nanmedian(jacks.angle("shoulder_l_x")[:10])) > 60
    assert abs(np.degrees(np.nanmedian(jacks.angle("pelvis_rotation")))) < 30  # facing the camera
