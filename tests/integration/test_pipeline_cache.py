"""The pipeline's pose cache: the second analysis of the same clip reads its pose from the store."""

from pathlib import Path

import numpy as np

from workbench.pipeline import analyze_clip, default_database
from workbench.pose.fk import forward_kinematics


def _landmark_file(path: Path) -> Path:
    """A squatting skeleton from our FK, saved as MediaPipe-layout world landmarks."""
    from workbench.skeleton import dof_index

    n = 200
    q = np.zeros((n, 46))
    phase = 0.5 * (1 - np.cos(2 * np.pi * np.arange(n) / 50))
    for side in "rl":
        q[:, dof_index(f"knee_angle_{side}")] = np.radians(100) * phase
        q[:, dof_index(f"hip_flexion_{side}")] = np.radians(90) * phase
        q[:, dof_index(f"shoulder_{side}_x")] = np.radians(-80 if side == "r" else 80)
    world = forward_kinematics(q)
    np.savez(path, landmarks_world=world, visibility=np.ones(world.shape[:2]), fps=30.0)
    return path


def test_second_analysis_hits_the_cache(tmp_path: Path) -> None:
    db = default_database(tmp_path / "s.duckdb")
    clip = _landmark_file(tmp_path / "squat_landmarks.npz")
    first = analyze_clip(clip, "squat", db=db)
    second = analyze_clip(clip, "squat", db=db)
    assert not first.cache_hit and second.cache_hit
    assert first.analysis.provenance["pose_cache"] == "stored" and second.analysis.provenance["pose_cache"] == "hit"
    assert len(first.analysis.reps) == 4
    assert [r.to_json() for r in first.analysis.reps] == [r.to_json() for r in second.analysis.reps]
    assert first.analysis.warnings == second.analysis.warnings
    assert second.analysis.provenance["run_id"] == first.analysis.provenance["run_id"] + 1
