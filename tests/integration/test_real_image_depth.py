"""Image + depth angles and the fitted skeleton on real MediaPipe landmarks (issue 14's checks).

The tracks live in ``../shared/data/real_landmarks_dev`` (development only: never commit them or anything
derived from them); the tests skip without them. What is checked, on every development clip that has it:
  - the deep side-view squat: the ankle reads at least 10° of dorsiflexion at the bottom of every rep, on
    both sides (MediaPipe's world landmarks alone read −12° to −24°: the foot follows the shank);
  - side-view push-ups: at the top of every rep the near arm's elbow reads straighter than the world
    landmarks alone say, and under 20° on the clip whose reps all lock out (the incline push-ups; the world
    landmarks read 17–25°). On the other clip several reps stop short of full extension (about 20–28° in
    the image itself), so only the median is bounded there;
  - the fitted SKEL skeleton reprojects with a median error under 3 % of the body height on every clip.
"""

from __future__ import annotations

from dataclasses import replace
from functools import cache
from pathlib import Path

import numpy as np
import pytest

from workbench.body.reprojection import fit_skeleton
from workbench.motion.analysis import analyze
from workbench.motion.results import Analysis
from workbench.pose.landmark_files import landmarks_to_track, read_landmarks
from workbench.pose.landmarks import LandmarkTrack
from workbench.pose.track import PoseTrack
from workbench.skeleton import dof_index

DATA = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "real_landmarks_dev"

pytestmark = [
    pytest.mark.realdata,
    pytest.mark.skipif(not DATA.is_dir(), reason=f"real landmark tracks not present at {DATA}"),
]
STEMS = (
    sorted(p.name.removesuffix(".landmarks.csv.gz") for p in DATA.glob("*.landmarks.csv.gz")) if DATA.is_dir() else []
)


@cache
def run(stem: str, key: str | None = None) -> tuple[LandmarkTrack, PoseTrack, Analysis | None]:
    landmarks = read_landmarks(DATA / f"{stem}.landmarks.csv.gz")
    track, _ = landmarks_to_track(landmarks)
    return landmarks, track, None if key is None else analyze(track, key)


def test_squat_ankle_dorsiflexed_at_the_bottom_of_every_rep() -> None:
    _, track, analysis = run("squat_side_home_man_yuyoujiang", "squat")
    assert analysis is not None and len(analysis.reps) == 3
    knee = np.nanmax(track.q[:, [dof_index("knee_angle_r"), dof_index("knee_angle_l")]], axis=1)
    for rep in analysis.reps:
        bottom = rep.start_frame + int(np.argmax(knee[rep.start_frame : rep.end_frame + 1]))
        for name in ("ankle_angle_r", "ankle_angle_l"):
            assert np.degrees(track.q[bottom, dof_index(name)]) >= 10, (rep.index, name)


def lockouts(stem: str, *, world_only: bool = False) -> list[float]:
    """Per rep (after the first, which the clips start inside): the near arm's least elbow flexion within
    8 frames of the rep's start (degrees); ``world_only``: from the world landmarks alone, at the same reps."""
    landmarks, track, analysis = run(stem, "pushup")
    assert analysis is not None and track.dof_confidence is not None
    conf = np.median(track.dof_confidence, axis=0)
    side = "r" if conf[dof_index("elbow_flexion_r")] > conf[dof_index("elbow_flexion_l")] else "l"
    if world_only:
        track, _ = landmarks_to_track(replace(landmarks, image=None))
    elbow = np.degrees(track.q[:, dof_index(f"elbow_flexion_{side}")])
    return [float(np.nanmin(elbow[max(r.start_frame - 8, 0) : r.start_frame + 8])) for r in analysis.reps[1:]]


@pytest.mark.parametrize("stem", ["pushup_side_home_woman_independentstudy", "pushup_incline_gym_venkat"])
def test_pushup_lockout_reads_straighter_than_the_world_landmarks(stem: str) -> None:
    fused, world = lockouts(stem), lockouts(stem, world_only=True)
    assert all(w - f >= 4 for f, w in zip(fused, world, strict=True)), (fused, world)
    assert np.median(fused) < 25, fused


def test_locked_out_incline_pushups_read_under_20_degrees() -> None:
    assert max(lockouts("pushup_incline_gym_venkat")) < 20


@pytest.mark.parametrize("stem", STEMS)
def test_fitted_skeleton_reprojects_within_3_percent_of_body_height(stem: str) -> None:
    landmarks, track, _ = run(stem)
    fit = fit_skeleton(track, landmarks)
    assert fit is not None
    assert fit.summary()["error_pct_height"]["median"] < 3.0
