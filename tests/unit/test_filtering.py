"""Landmark cleaning: smoothing that keeps the range of motion, left/right swap repair, lost frames.

Fixtures are analytic: sinusoids with white noise, and landmark tracks placed by our forward kinematics
from known angles, into which swaps and dropouts are injected at known frames.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from workbench.pose.filtering import (
    SWAP_GROUPS,
    FilterOptions,
    apply_swaps,
    clean_landmarks,
    describe_ranges,
    detect_swaps,
    frame_ranges,
    hold_last_valid,
    lost_frames,
    lowpass,
)
from workbench.pose.fk import forward_kinematics
from workbench.pose.landmarks import MP_INDEX, MP_MIRROR, MP_NAMES, LandmarkTrack
from workbench.skeleton import N_DOFS, dof_index


def group(name: str) -> np.ndarray:
    from workbench.pose.filtering import _GROUPS

    return _GROUPS[name]


def lunge_track(n: int = 150, fps: float = 30.0, view_yaw: float = math.pi / 2) -> np.ndarray:
    """A side view of slow alternating knee bends in a split stance (right leg in front): legs apart, so a
    left/right swap of the legs is a jump of tens of centimetres."""
    u = 0.5 - 0.5 * np.cos(2 * math.pi * np.arange(n) / (2.5 * fps))
    q = np.zeros((n, N_DOFS))
    columns = {
        "hip_flexion_r": 30 + 50 * u,
        "knee_angle_r": 10 + 80 * u,
        "hip_flexion_l": -15 + 5 * u,
        "knee_angle_l": 10 + 80 * u,
        "shoulder_r_x": -80 + 30 * u,
        "shoulder_l_x": 80 - 30 * u,
        "elbow_flexion_r": 20 + 60 * u,
        "shoulder_r_z": 40 * u,
        "shoulder_l_z": -20 + 0 * u,
    }
    for name, deg in columns.items():
        q[:, dof_index(name)] = np.radians(deg)
    return forward_kinematics(q, view_yaw=view_yaw)


def as_track(world: np.ndarray, fps: float = 30.0, vis: float = 0.9) -> LandmarkTrack:
    n = world.shape[0]
    return LandmarkTrack(world=world, visibility=np.full((n, 33), vis), t=np.arange(n) / fps, source="test")


# ------------------------------------------------------------------------------------------ smoothing


@pytest.mark.parametrize("fps", [30.0, 60.0])
def test_lowpass_keeps_a_2hz_rep_and_halves_white_noise(fps: float) -> None:
    t = np.arange(0, 12, 1 / fps)
    wave = np.sin(2 * math.pi * 2.0 * t)
    inner = slice(int(fps), -int(fps))  # away from the edges
    kept = np.abs(lowpass(wave, fps)[inner]).max()
    noise = np.random.default_rng(0).standard_normal((t.size, 4))
    left = lowpass(noise, fps).std() / noise.std()
    assert kept >= 0.95
    assert left <= 0.5


def test_lowpass_on_a_noisy_rep_track_recovers_peaks_and_valleys() -> None:
    fps = 30.0
    t = np.arange(0, 10, 1 / fps)
    clean = np.radians(5 + 50 * (1 - np.cos(2 * math.pi * 1.2 * t)))  # 5° to 105°, 1.2 Hz
    noisy = clean + np.radians(4) * np.random.default_rng(1).standard_normal(t.size)
    smooth = lowpass(noisy, fps)
    assert np.degrees(np.abs(smooth - clean)[30:-30]).std() < 0.5 * 4
    assert np.degrees(smooth[30:-30].max() - smooth[30:-30].min()) > 0.95 * 100


def test_lowpass_leaves_too_short_tracks_and_too_high_cutoffs_alone() -> None:
    x = np.random.default_rng(2).standard_normal((10, 3))
    np.testing.assert_array_equal(lowpass(x, 30.0), x)
    y = np.random.default_rng(3).standard_normal((100, 3))
    np.testing.assert_array_equal(lowpass(y, 6.0, cutoff_hz=3.5), y)
    with pytest.raises(ValueError, match="fps: expected a positive number"):
        lowpass(y, 0.0)


# -------------------------------------------------------------------------------------------- swaps


def test_swap_groups_cover_every_sided_landmark_once() -> None:
    sided = [i for i, n in enumerate(MP_NAMES) if "left" in n or "right" in n]
    members = np.concatenate([group(g) for g in SWAP_GROUPS])
    assert sorted(members.tolist()) == sided
    for g in SWAP_GROUPS:  # each group is closed under the mirror
        assert set(np.array(MP_MIRROR)[group(g)].tolist()) == set(group(g).tolist())


def test_injected_swaps_are_found_and_repaired_exactly() -> None:
    truth = lunge_track()
    world = truth.copy()
    injected = {"legs": [40, 41, 42, 43, 97], "arms": [70, 71], "torso": [120, 121, 122]}
    for name, frames in injected.items():
        world = apply_swaps(world, {name: np.isin(np.arange(len(world)), frames)})
    found = detect_swaps(world)
    for name, frames in injected.items():
        assert np.flatnonzero(found[name]).tolist() == frames, name
    np.testing.assert_allclose(apply_swaps(world, found), truth, atol=1e-12)


def test_clean_fast_motion_is_never_swapped() -> None:
    """Jumping jacks seen from the front and high knees from the side, fast: nothing to repair."""
    fps, n = 30.0, 120
    u = 0.5 - 0.5 * np.cos(2 * math.pi * np.arange(n) / (0.7 * fps))
    q = np.zeros((n, N_DOFS))
    for s, sign in (("r", 1.0), ("l", -1.0)):
        q[:, dof_index(f"shoulder_{s}_x")] = np.radians(sign * (-85 + 160 * u))
        q[:, dof_index(f"hip_adduction_{s}")] = np.radians(-25 * u)
    jacks = forward_kinematics(q)
    v = np.sin(2 * math.pi * np.arange(n) / (0.5 * fps))
    q = np.zeros((n, N_DOFS))
    for s, drive in (("r", v.clip(0)), ("l", (-v).clip(0))):
        q[:, dof_index(f"hip_flexion_{s}")] = np.radians(90 * drive)
        q[:, dof_index(f"knee_angle_{s}")] = np.radians(95 * drive)
    knees = forward_kinematics(q, view_yaw=math.pi / 2)
    for world in (jacks, knees):
        assert not any(mask.any() for mask in detect_swaps(world).values())


def test_a_long_relabelling_is_taken_as_the_labelling() -> None:
    """Only a few frames are swapped back: a swap that lasts (here the last 30 of 40 frames of a standing
    side view) would cost more in penalties than the one jump it removes, so the labels are kept."""
    world = np.repeat(forward_kinematics(np.zeros(N_DOFS), view_yaw=math.pi / 2), 40, axis=0)
    world = apply_swaps(world, {"legs": np.arange(40) >= 10})
    assert not detect_swaps(world)["legs"].any()
    short = apply_swaps(world, {"legs": np.isin(np.arange(40), [20, 21])})
    assert np.flatnonzero(detect_swaps(short)["legs"]).tolist() == [20, 21]


# -------------------------------------------------------------------------------------- lost frames


def test_lost_frames_keep_the_last_valid_pose_and_are_reported() -> None:
    world = lunge_track(60)
    vis = np.full((60, 33), 0.9)
    world[[0, 1]] = np.nan  # leading: nothing to keep
    world[10:15] = np.nan  # no detection
    vis[30:32] = 0.1  # detected but not visible
    lost = lost_frames(world, vis, 0.3)
    assert frame_ranges(lost) == [(0, 1), (10, 14), (30, 31)]
    held = hold_last_valid(world, lost)
    assert np.isnan(held[:2]).all()
    np.testing.assert_array_equal(held[10:15], np.repeat(world[9:10], 5, axis=0))
    np.testing.assert_array_equal(held[30:32], np.repeat(world[29:30], 2, axis=0))
    track = LandmarkTrack(world=world, visibility=vis, t=np.arange(60) / 30.0)
    cleaned, report = clean_landmarks(track, FilterOptions(smooth_cutoff_hz=0))
    assert report.n_leading_lost == 2 and report.n_lost == 7
    assert report.lost == [(10, 14), (30, 31)]
    assert (cleaned.visibility[10:15] == 0).all() and (cleaned.visibility[30:32] == 0).all()
    text = " ".join(report.warnings(track.t))
    assert "7 lost frame(s)" in text and "frames 10-14 (0.33-0.47 s)" in text and "2 leading frame(s)" in text


def test_clean_landmarks_repairs_swaps_then_smooths_and_reports() -> None:
    truth = lunge_track()
    world = apply_swaps(truth, {"legs": np.isin(np.arange(150), [50, 51, 52])})
    noisy = world + 0.01 * np.random.default_rng(4).standard_normal(world.shape)
    cleaned, report = clean_landmarks(as_track(noisy))
    assert report.swapped["legs"] == [(50, 52)] and report.n_swapped == 3
    assert "3 frame(s) with left/right legs swapped" in report.warnings()[0]
    error_before = np.abs(noisy - truth).mean()
    assert np.abs(cleaned.world - truth).mean() < 0.6 * error_before


def test_frame_ranges_and_their_description() -> None:
    assert frame_ranges(np.array([0, 1, 1, 0, 1], bool)) == [(1, 2), (4, 4)]
    assert frame_ranges(np.zeros(4, bool)) == []
    ranges = [(i, i) for i in range(0, 14, 2)]
    assert describe_ranges(ranges, limit=2) == "frame 0, frame 2 and 5 more"
    assert describe_ranges([(3, 5)], np.arange(10) / 10) == "frames 3-5 (0.30-0.50 s)"


def test_swapping_keeps_the_midline_landmark() -> None:
    assert MP_MIRROR[MP_INDEX["nose"]] == MP_INDEX["nose"]
