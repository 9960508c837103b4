"""Camera view from the pelvis yaw, and what a side view stops the analysis from judging."""

import numpy as np
import pytest

from tests.conftest import squat_track
from workbench.motion.analysis import analyze, analyze_streaming
from workbench.pose.landmark_files import camera_view
from workbench.skeleton import dof_index


@pytest.mark.parametrize(
    ("yaw_deg", "view"), [(5, "front"), (-12, "front"), (40, "oblique"), (85, "side"), (-95, "side"), (175, "front")]
)
def test_view_from_pelvis_rotation(yaw_deg: float, view: str) -> None:
    q = np.zeros((50, 46))
    q[:, dof_index("pelvis_rotation")] = np.radians(yaw_deg + np.random.default_rng(0).normal(0, 3, 50))
    assert camera_view(q, np.ones(50))[0] == view


def test_side_view_skips_symmetry_checks() -> None:
    """The far knee 35° shallower fires the symmetry check from the front, not from the side."""
    track = squat_track(3, rest_s=0.5)
    q = track.q.copy()
    q[:, dof_index("knee_angle_l")] *= 0.65
    front = analyze(track.with_q(q), "squat")
    assert any(v.type == "symmetry" for r in front.reps for v in r.violations)
    side = track.with_q(q, meta={"view": "side"})
    for result in (analyze(side, "squat"), analyze_streaming(side, "squat")):
        assert not any(v.type == "symmetry" for r in result.reps for v in r.violations)
