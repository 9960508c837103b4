"""The HSMR importer: camera-to-gravity rotation, following the main subject, confidence, clear errors."""

from pathlib import Path

import numpy as np
import pytest

from workbench.config import Config, MissingModelError
from workbench.errors import PoseFileError
from workbench.pose.hsmr import (
    _CAM_TO_WORLD,
    camera_to_world,
    import_hsmr_outputs,
    pelvis_dofs,
    pelvis_matrix,
    run_hsmr,
)


def test_pelvis_euler_round_trip() -> None:
    q = np.random.default_rng(0).uniform(-1.2, 1.2, (200, 3))
    np.testing.assert_allclose(pelvis_dofs(pelvis_matrix(q)), q, atol=1e-12)


def test_camera_frame_pose_comes_out_gravity_aligned() -> None:
    """A pelvis known in the world frame, seen by an upright camera, is recovered exactly."""
    world = np.zeros((1, 46))
    world[0, :3] = [0.3, -0.1, 0.7]  # tilted forward, listed, turned
    cam = world.copy()
    cam[0, :3] = pelvis_dofs(_CAM_TO_WORLD.T @ pelvis_matrix(world[:, :3]))
    np.testing.assert_allclose(camera_to_world(cam)[0, :3], world[0, :3], atol=1e-12)
    np.testing.assert_array_equal(camera_to_world(cam)[0, 3:], cam[0, 3:])  # body DoFs untouched


def test_standing_person_facing_the_camera_has_zero_pelvis() -> None:
    # Upright and facing the camera: in the camera frame the body's up is -y and its front is -z.
    cam = np.zeros((1, 46))
    cam[0, :3] = pelvis_dofs(_CAM_TO_WORLD.T)
    np.testing.assert_allclose(camera_to_world(cam)[0, :3], 0.0, atol=1e-12)


def _write(path: Path, **arrays: np.ndarray) -> Path:
    np.savez(path, **arrays)  # type: ignore[arg-type]
    return path


def test_follows_the_largest_then_nearest_person(tmp_path: Path) -> None:
    rng = np.random.default_rng(1)
    n = 20
    main = np.zeros((n, 46))
    main[:, 6] = np.linspace(0, 1.5, n)  # knee flexing
    other = rng.normal(size=(n, 46))
    poses = np.vstack([main, other])
    frame = np.r_[np.arange(n), np.arange(n)]
    boxes = np.vstack(
        [
            np.c_[np.full(n, 300.0), np.full(n, 200.0), np.full(n, 180.0)],
            np.c_[np.full(n, 50.0), np.full(n, 60.0), np.full(n, 90.0)],
        ]
    )
    path = _write(tmp_path / "h.npz", poses=poses, betas=np.ones((2 * n, 10)), frame=frame, bbx_cs=boxes)
    track, warnings = import_hsmr_outputs(path)
    np.testing.assert_allclose(track.q[:, 6], main[:, 6], atol=0.01)  # the main person's ramp, smoothed
    assert any("several people" in w for w in warnings)
    assert track.betas is not None and track.n_frames == n


def test_frames_without_a_person_and_implausible_jumps_lower_confidence(tmp_path: Path) -> None:
    poses = np.zeros((5, 46))
    poses[2, 3:] = 1.0  # a 57° jump on every body DoF for one frame
    path = _write(tmp_path / "h.npz", poses=poses, betas=np.zeros((5, 10)), frame=np.array([0, 1, 2, 3, 5]))
    track, warnings = import_hsmr_outputs(path)
    assert track.n_frames == 6
    assert track.confidence[4] == 0.0 and np.isnan(track.q[4]).all()
    assert track.confidence[2] < 0.01 < track.confidence[0]
    assert any("no person in 1 of 6 frames" in w for w in warnings)


@pytest.mark.parametrize(
    ("arrays", "message"),
    [
        ({"betas": np.zeros((3, 10))}, "expected key 'poses'"),
        ({"poses": np.zeros((3, 45)), "betas": np.zeros((3, 10))}, r"key 'poses': expected shape \(N, 46\)"),
        ({"poses": np.zeros((3, 46)), "betas": np.zeros((2, 10))}, "expected 3 rows like 'poses'"),
    ],
)
def test_malformed_outputs(tmp_path: Path, arrays: dict, message: str) -> None:
    with pytest.raises(PoseFileError, match=message):
        import_hsmr_outputs(_write(tmp_path / "bad.npz", **arrays))


def test_missing_weights_are_named_before_anything_runs(tmp_path: Path) -> None:
    with pytest.raises(MissingModelError, match=r"hsmr_code is not configured.*github\.com/IsshikiHugh/HSMR"):
        run_hsmr(tmp_path / "clip.mp4", Config())
    config = Config(hsmr_code=tmp_path, hsmr_checkpoint=tmp_path / "missing.ckpt", source="test.yaml")
    with pytest.raises(MissingModelError, match=r"hsmr_checkpoint: expected .*missing.ckpt \(set in test.yaml\)"):
        run_hsmr(tmp_path / "clip.mp4", config)


def test_jitter_is_smoothed_without_losing_the_range(tmp_path: Path) -> None:
    """A 0.5 Hz knee swing of 1 rad with 3° of per-frame jitter: the jitter drops, the swing stays."""
    n = 150
    rng = np.random.default_rng(2)
    clean = 0.5 * (1 - np.cos(2 * np.pi * np.arange(n) / 60))
    poses = np.zeros((n, 46))
    poses[:, 6] = clean + np.radians(3) * rng.standard_normal(n)
    track, _ = import_hsmr_outputs(_write(tmp_path / "h.npz", poses=poses, betas=np.zeros((n, 10))))
    before = np.std(poses[:, 6] - clean)
    after = np.std(track.q[:, 6] - clean)
    assert after < 0.5 * before
    assert np.ptp(track.q[20:130, 6]) > 0.97 * np.ptp(clean[20:130])
