"""Shared fixtures: analytic pose tracks whose answer is known in closed form."""

from __future__ import annotations

import math
import os
from pathlib import Path

import numpy as np
import pytest

from workbench.pose.track import PoseTrack
from workbench.skeleton import N_DOFS, dof_index

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"


def squat_track(
    n_reps: int = 5,
    period_s: float = 2.0,
    depths_deg: list[float] | None = None,
    fps: float = 30.0,
    rest_s: float = 0.0,
    noise_deg: float = 0.0,
    seed: int = 0,
) -> PoseTrack:
    """Knees and hips flex from 5° to ``depth`` and back in a raised cosine, once per ``period_s``,
    with ``rest_s`` of standing before, between and after the reps. Everything else stays at zero."""
    depths = depths_deg or [100.0] * n_reps
    rows = [np.zeros((round(rest_s * fps), N_DOFS))]
    for depth in depths:
        n = round(period_s * fps)
        frac = 0.5 * (1 - np.cos(2 * math.pi * np.arange(n) / n))
        rep = np.zeros((n, N_DOFS))
        for name in ("knee_angle_r", "knee_angle_l"):
            rep[:, dof_index(name)] = np.radians(5 + (depth - 5) * frac)
        for name in ("hip_flexion_r", "hip_flexion_l"):
            rep[:, dof_index(name)] = np.radians(5 + 90 * frac)
        rows += [rep, np.zeros((round(rest_s * fps), N_DOFS))]
    q = np.vstack(rows)
    if noise_deg:
        q = q + np.radians(noise_deg) * np.random.default_rng(seed).standard_normal(q.shape)
    return PoseTrack.from_arrays(q, fps=fps, source="analytic:squat")


@pytest.fixture(autouse=True, scope="session")
def _session_store(tmp_path_factory: pytest.TempPathFactory) -> None:
    """Every test (and every `biocoach` it starts) uses a store in a temporary folder, never db/ in the repo."""
    os.environ["BIOCOACH_DB"] = str(tmp_path_factory.mktemp("store") / "biocoach.duckdb")


@pytest.fixture
def shared_data() -> Path:
    path = SHARED / "data"
    if not path.is_dir():
        pytest.skip("../shared/data is not present in this checkout")
    return path
