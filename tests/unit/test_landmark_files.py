"""The `landmarks` backend's files (.npz, .csv, .csv.gz) and landmarks → PoseTrack, every malformed case.

Files are written by the tests from landmarks that our forward kinematics placed from known angles.
"""

from __future__ import annotations

import gzip
import math
from pathlib import Path

import numpy as np
import pytest

from workbench.errors import PoseFileError
from workbench.pose.fk import forward_kinematics
from workbench.pose.landmark_files import (
    csv_columns,
    landmarks_to_track,
    load_landmark_track,
    read_landmarks,
    read_landmarks_csv,
    read_landmarks_npz,
)
from workbench.pose.landmarks import LandmarkTrack
from workbench.pose.track import PoseTrack
from workbench.skeleton import N_DOFS, dof_index

T = 90


def squat_world(n: int = T, fps: float = 30.0) -> tuple[np.ndarray, np.ndarray]:
    """Two slow squats (knees 5°→95°, hips 5°→85°) seen from the side; returns (q, world)."""
    u = 0.5 - 0.5 * np.cos(2 * math.pi * np.arange(n) / (1.5 * fps))
    q = np.zeros((n, N_DOFS))
    for s in "rl":
        q[:, dof_index(f"knee_angle_{s}")] = np.radians(5 + 90 * u)
        q[:, dof_index(f"hip_flexion_{s}")] = np.radians(5 + 80 * u)
        q[:, dof_index(f"ankle_angle_{s}")] = np.radians(20 * u)
    return q, forward_kinematics(q, view_yaw=math.pi / 2)


def write_csv(
    path: Path, world: np.ndarray, vis: np.ndarray, t: np.ndarray, detected: np.ndarray, compress: bool = False
) -> Path:
    """The development data's layout: frame, t_s, detected, <name>_x/_y/_z/_vis, <name>_wx/_wy/_wz."""
    rows = []
    for i in range(len(t)):
        image = []
        for j in range(33):
            image += [0.5 + world[i, j, 0], 0.5 + world[i, j, 1], world[i, j, 2], vis[i, j]]
        values = [i, t[i], int(detected[i]), *image, *world[i].ravel()]
        rows.append(",".join("" if isinstance(v, float) and math.isnan(v) else f"{v:.6g}" for v in values))
    text = ",".join(csv_columns()) + "\n" + "\n".join(rows) + "\n"
    if compress:
        path.write_bytes(gzip.compress(text.encode()))
    else:
        path.write_text(text)
    return path


def npz_arrays(n: int = T) -> dict[str, np.ndarray]:
    _, world = squat_world(n)
    return {"landmarks_world": world, "visibility": np.full((n, 33), 0.9), "fps": np.array(30.0)}


# ----------------------------------------------------------------------------------------------- npz


def test_npz_with_fps_reads_every_field(tmp_path: Path) -> None:
    arrays = npz_arrays()
    arrays["landmarks_image"] = np.random.default_rng(0).random((T, 33, 2))
    arrays["image_size"] = np.array([640, 360])
    arrays["source"] = np.array("phone clip")
    np.savez(tmp_path / "a.npz", **arrays)
    track = read_landmarks(tmp_path / "a.npz")
    np.testing.assert_array_equal(track.world, arrays["landmarks_world"])
    np.testing.assert_allclose(track.t, np.arange(T) / 30.0)
    assert track.image is not None and track.image.shape == (T, 33, 2)
    assert track.image_size == (640, 360) and track.source == "phone clip"


def test_npz_with_times_and_nan_rows(tmp_path: Path) -> None:
    arrays = npz_arrays(5)
    del arrays["fps"]
    arrays["t"] = np.array([0.0, 0.04, 0.07, 0.11, 0.15])
    arrays["landmarks_world"][2] = np.nan
    np.savez(tmp_path / "b.npz", **arrays)
    track = read_landmarks_npz(tmp_path / "b.npz")
    np.testing.assert_array_equal(track.t, arrays["t"])
    assert track.detected.tolist() == [True, True, False, True, True]
    assert track.source == "npz:b.npz"


def _bad(**changes: object) -> dict[str, object]:
    arrays: dict[str, object] = dict(npz_arrays(4))
    for key, value in changes.items():
        if value is None:
            arrays.pop(key)
        else:
            arrays[key] = value
    return arrays


@pytest.mark.parametrize(
    ("arrays", "message"),
    [
        (_bad(landmarks_world=None), "expected key 'landmarks_world'"),
        (
            _bad(landmarks_world=np.zeros((4, 32, 3))),
            r"key 'landmarks_world': expected shape \(T, 33, 3\), got \(4, 32, 3\)",
        ),
        (_bad(landmarks_world=np.zeros((0, 33, 3)), visibility=np.zeros((0, 33))), "expected at least one frame"),
        (_bad(landmarks_world=np.full((4, 33, 3), np.inf)), "expected finite metres or NaN, got inf"),
        (_bad(landmarks_world=np.full((4, 33, 3), "a")), "expected numbers, got dtype <U1"),
        (_bad(visibility=None), "expected key 'visibility'"),
        (_bad(visibility=np.ones((4, 30))), r"key 'visibility': expected shape \(4, 33\), got \(4, 30\)"),
        (_bad(visibility=np.full((4, 33), 1.5)), r"key 'visibility': expected values in \[0, 1\], got 1.5 to 1.5"),
        (_bad(fps=None), "exactly one of keys 'fps' or 't', got neither"),
        (_bad(t=np.arange(4.0)), "got both"),
        (_bad(fps=np.array(-2.0)), "key 'fps': expected a positive number"),
        (_bad(fps=np.array([30.0, 25.0])), "key 'fps': expected a positive number"),
        (
            _bad(fps=None, t=np.array([0.0, 0.1, 0.1, 0.2])),
            "key 't': expected strictly increasing times, got 0.1 after 0.1",
        ),
        (_bad(fps=None, t=np.arange(5.0)), r"key 't': expected shape \(4,\), got \(5,\)"),
        (_bad(fps=None, t=np.array([0.0, np.nan, 1, 2])), "key 't': expected finite seconds"),
        (_bad(landmarks_image=np.zeros((4, 33, 3))), r"key 'landmarks_image': expected shape \(4, 33, 2\)"),
        (_bad(image_size=np.array([640, 0])), r"key 'image_size': expected \(width, height\) in pixels"),
    ],
)
def test_malformed_npz_names_file_key_expected_and_got(tmp_path: Path, arrays: dict, message: str) -> None:
    path = tmp_path / "bad.npz"
    np.savez(path, **arrays)
    with pytest.raises(PoseFileError, match=message) as info:
        read_landmarks(path)
    assert "bad.npz" in str(info.value)


def test_unreadable_missing_and_unknown_files(tmp_path: Path) -> None:
    (tmp_path / "x.npz").write_text("not a zip")
    with pytest.raises(PoseFileError, match=r"x.npz: expected a NumPy .npz archive"):
        read_landmarks(tmp_path / "x.npz")
    with pytest.raises(PoseFileError, match=r"nope\.npz: no such file"):
        read_landmarks(tmp_path / "nope.npz")
    (tmp_path / "x.json").write_text("{}")
    with pytest.raises(PoseFileError, match=r"x.json: expected a landmark file ending in .npz, .csv or .csv.gz"):
        read_landmarks(tmp_path / "x.json")


# ----------------------------------------------------------------------------------------------- csv


@pytest.mark.parametrize("compress", [False, True])
def test_csv_plain_and_gzip_read_like_the_development_data(tmp_path: Path, compress: bool) -> None:
    _, world = squat_world(20)
    vis = np.full((20, 33), 0.8)
    detected = np.ones(20, bool)
    detected[5] = False
    world_written = world.copy()
    world_written[5] = np.nan  # an undetected row leaves its cells empty
    name = "clip.landmarks.csv.gz" if compress else "clip.csv"
    path = write_csv(tmp_path / name, world_written, vis, np.arange(20) / 30.0, detected, compress)
    track = read_landmarks(path)
    assert track.n_frames == 20 and track.source == f"csv:{name}"
    np.testing.assert_allclose(track.world[detected], world[detected], atol=1e-5)
    assert np.isnan(track.world[5]).all() and (track.visibility[5] == 0).all()
    np.testing.assert_allclose(track.visibility[0], 0.8)
    assert track.image is not None and np.isnan(track.image[5]).all()


def _csv_text(n: int = 3) -> tuple[list[str], list[list[str]]]:
    header = csv_columns()
    rows = []
    for i in range(n):
        rows.append([str(i), f"{i / 30:.4f}", "1"] + ["0.5"] * (len(header) - 3))
    return header, rows


def _write(path: Path, header: list[str], rows: list[list[str]]) -> Path:
    path.write_text("\n".join([",".join(header), *(",".join(r) for r in rows)]) + "\n")
    return path


def test_csv_with_extra_columns_is_read(tmp_path: Path) -> None:
    header, rows = _csv_text()
    header.append("comment")
    for r in rows:
        r.append("ok")
    assert read_landmarks_csv(_write(tmp_path / "x.csv", header, rows)).n_frames == 3


def test_malformed_csv_names_file_column_expected_and_got(tmp_path: Path) -> None:
    header, rows = _csv_text()
    cases: list[tuple[list[str], list[list[str]], str]] = []
    cases.append(
        (
            [h for h in header if h != "left_knee_wy"],
            [r[:-1] for r in rows],
            "expected column 'left_knee_wy', got a header of 233 columns without it",
        )
    )
    bad_value = [r.copy() for r in rows]
    bad_value[1][header.index("nose_wz")] = "abc"
    cases.append((header, bad_value, "column 'nose_wz': expected a number, got 'abc' at data row 2"))
    short = [r.copy() for r in rows]
    short[2] = short[2][:-3]
    cases.append((header, short, "data row 3: expected 234 values"))
    detected = [r.copy() for r in rows]
    detected[0][2] = "2"
    cases.append((header, detected, "column 'detected': expected 0 or 1, got 2.0 at data row 1"))
    times = [r.copy() for r in rows]
    times[2][1] = "0.0"
    cases.append((header, times, "column 't_s': expected strictly increasing times"))
    empty = [r.copy() for r in rows]
    empty[1][header.index("right_ankle_wx")] = ""
    cases.append((header, empty, "expected numbers in a detected row, got an empty or non-finite value at data row 2"))
    vis = [r.copy() for r in rows]
    vis[0][header.index("nose_vis")] = "3"
    cases.append((header, vis, r"columns '<name>_vis': expected values in \[0, 1\]"))
    cases.append((header, [], "expected at least one frame, got a header only"))
    for k, (h, r, message) in enumerate(cases):
        path = _write(tmp_path / f"bad{k}.csv", h, r)
        with pytest.raises(PoseFileError, match=message) as info:
            read_landmarks(path)
        assert f"bad{k}.csv" in str(info.value)


def test_empty_and_corrupt_csv(tmp_path: Path) -> None:
    (tmp_path / "e.csv").write_text("")
    with pytest.raises(PoseFileError, match=r"e\.csv: expected a header row, got an empty file"):
        read_landmarks(tmp_path / "e.csv")
    (tmp_path / "c.csv.gz").write_bytes(b"\x1f\x8b" + b"garbage")
    with pytest.raises(PoseFileError, match=r"c.csv.gz: expected UTF-8 CSV text \(optionally gzip\)"):
        read_landmarks(tmp_path / "c.csv.gz")


# ------------------------------------------------------------------------------------ to a PoseTrack


def test_landmarks_to_track_recovers_the_squat_with_confidence_and_observed(tmp_path: Path) -> None:
    q, world = squat_world()
    vis = np.full((T, 33), 0.9)
    world[40:43] = np.nan  # three lost frames
    path = tmp_path / "s.npz"
    np.savez(path, landmarks_world=world, visibility=vis, fps=np.array(30.0))
    track, warnings = load_landmark_track(path)
    assert isinstance(track, PoseTrack) and track.source == "landmarks:npz:s.npz"
    assert track.fps == pytest.approx(30.0)
    for name in ("knee_angle_r", "hip_flexion_l", "ankle_angle_r"):
        i = dof_index(name)
        keep = np.r_[5:38, 46:85]  # away from the filter's edges and the dropout
        assert np.degrees(np.abs(track.q[keep, i] - q[keep, i])).max() < 2.0, name
    assert (track.confidence[40:43] == 0).all() and track.confidence[:40].min() > 0.8
    np.testing.assert_allclose(track.q[40:43, dof_index("knee_angle_r")], track.q[39, dof_index("knee_angle_r")])
    assert not track.observed[dof_index("scapula_abduction_r")] and track.observed[dof_index("knee_angle_l")]
    assert any("3 lost frame(s)" in w and "frames 40-42" in w for w in warnings)


def test_landmarks_to_track_repairs_a_leg_swap(tmp_path: Path) -> None:
    q, world = squat_world()
    from workbench.pose.filtering import apply_swaps

    # Seen from the side, the legs are a hip width apart in depth: a swap is a 0.18 m jump.
    swapped = apply_swaps(world, {"legs": np.isin(np.arange(T), [20, 21])})
    lt = LandmarkTrack(world=swapped, visibility=np.ones((T, 33)), t=np.arange(T) / 30.0)
    track, warnings = landmarks_to_track(lt)
    assert track.meta["swapped_frames"] == "2"
    assert any("left/right legs swapped" in w for w in warnings)
    assert np.degrees(np.abs(track.q[15:25, dof_index("knee_angle_r")] - q[15:25, dof_index("knee_angle_r")])).max() < 2
