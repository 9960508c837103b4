"""Real labelled faults through the inverse kinematics: Exercise-Correction's plank frames (MIT; per-frame
MediaPipe landmarks labelled correct, hips too high, lower back too low). Hip flexion from our IK must
rank 'hips too high' above correct frames and 'back too low' below them. Absolute angles are off in this
data (the author rescaled frames without keeping the aspect ratio), so only the ranking is asserted."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest

from workbench.pose.ik import solve_ik
from workbench.pose.landmarks import MP_INDEX
from workbench.skeleton import dof_index

pytestmark = pytest.mark.realdata


def _auc(pos: np.ndarray, neg: np.ndarray) -> float:
    pos, neg = pos[np.isfinite(pos)], neg[np.isfinite(neg)]
    return float(np.mean(pos[:, None] > neg[None, :]) + 0.5 * np.mean(pos[:, None] == neg[None, :]))


def _plank_frames(path: Path) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rows = list(csv.DictReader(path.open()))
    names = [k[:-2] for k in rows[0] if k.endswith("_x")]
    world = np.full((len(rows), 33, 3), np.nan)
    vis = np.zeros((len(rows), 33))
    for i, row in enumerate(rows):
        for name in names:
            world[i, MP_INDEX[name]] = [float(row[f"{name}_{a}"]) for a in "xyz"]
            vis[i, MP_INDEX[name]] = float(row[f"{name}_v"])
    # the file keeps a subset of landmarks; the face ones only orient the head, so stand the nose in for them
    for j in range(33):
        if np.isnan(world[:, j]).all():
            world[:, j] = world[:, MP_INDEX["nose"]]
    world -= world[:, [MP_INDEX["left_hip"], MP_INDEX["right_hip"]]].mean(axis=1, keepdims=True)
    return world, vis, np.array([r["label"] for r in rows])


def test_plank_hip_faults_rank_through_ik(shared_data: Path) -> None:
    path = shared_data / "exercise_correction_mp" / "plank" / "test.csv"
    if not path.exists():
        pytest.skip(f"{path} not present")
    world, vis, label = _plank_frames(path)
    q = solve_ik(world, vis).q
    # Side-on, the far leg is guessed: read the hip of the better-seen side (hip, knee, ankle visibility).
    right = vis[:, [24, 26, 28]].mean(axis=1) >= vis[:, [23, 25, 27]].mean(axis=1)
    hip = np.degrees(np.where(right, q[:, dof_index("hip_flexion_r")], q[:, dof_index("hip_flexion_l")]))
    assert _auc(hip[label == "H"], hip[label == "C"]) >= 0.95  # hips too high: more hip flexion
    assert _auc(-hip[label == "L"], -hip[label == "C"]) >= 0.95  # back too low: hips extended
