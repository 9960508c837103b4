"""PoseTrack and the .npz / .mot formats, including every malformed-file error."""

from pathlib import Path

import numpy as np
import pytest

from workbench.errors import PoseFileError
from workbench.pose.posefile import export_mot, load_npz, save_npz
from workbench.pose.track import PoseTrack
from workbench.skeleton import dof_index


def test_roundtrip_keeps_every_field(tmp_path: Path) -> None:
    rng = np.random.default_rng(1)
    observed = np.ones(46, bool)
    observed[40:] = False
    q = 0.3 * rng.normal(size=(20, 46))  # radians within SKEL's limits (a pose file beyond them is refused)
    track = PoseTrack.from_arrays(
        q, fps=25.0, confidence=rng.random(20), observed=observed, betas=rng.normal(size=(20, 10)), source="unit"
    )
    back = load_npz(save_npz(track, tmp_path / "t.npz"))
    np.testing.assert_array_equal(back.q, track.q)
    np.testing.assert_array_equal(back.observed, observed)
    np.testing.assert_array_equal(back.confidence, track.confidence)
    assert back.betas is not None and np.array_equal(back.betas, track.betas)  # type: ignore[arg-type]
    assert back.fps == 25.0 and back.source == "unit"
    assert back.duration_s == pytest.approx(20 / 25)


def test_time_stamps_instead_of_fps(tmp_path: Path) -> None:
    t = np.array([0.0, 0.1, 0.25, 0.3])
    np.savez(tmp_path / "t.npz", q=np.zeros((4, 46)), t=t)
    track = load_npz(tmp_path / "t.npz")
    np.testing.assert_array_equal(track.t, t)
    assert not track.is_uniform


@pytest.mark.parametrize(
    ("arrays", "message"),
    [
        ({"fps": 30.0}, "expected key 'q'"),
        ({"q": np.zeros((5, 45)), "fps": 30.0}, r"key 'q': expected shape \(T, 46\), got \(5, 45\)"),
        ({"q": np.zeros((0, 46)), "fps": 30.0}, "expected at least 2 frames"),
        ({"q": np.zeros((1, 46)), "t": np.zeros(1)}, "expected at least 2 frames"),
        ({"q": np.zeros((5, 46))}, "exactly one of keys 'fps' or 't', got neither"),
        ({"q": np.zeros((5, 46)), "fps": 30.0, "t": np.arange(5.0)}, "got both"),
        ({"q": np.zeros((5, 46)), "fps": -1.0}, r"'fps': expected frames per second in \[1, 1000\]"),
        ({"q": np.zeros((3, 46)), "t": np.array([0.0, 0.2, 0.1])}, "strictly increasing"),
        ({"q": np.full((3, 46), np.inf), "fps": 30.0}, "got inf at frame 0"),
        ({"q": np.zeros((3, 46)), "fps": 30.0, "observed": np.ones(40, bool)}, r"'observed': expected shape \(46,\)"),
        ({"q": np.zeros((3, 46)), "fps": 30.0, "confidence": np.array([0.5, 2.0, 1.0])}, "confidence"),
        ({"q": np.zeros((3, 46)), "fps": 30.0, "betas": np.zeros((3, 9))}, r"betas: expected shape \(3, 10\)"),
    ],
)
def test_malformed_files_name_file_field_expected_and_got(tmp_path: Path, arrays: dict, message: str) -> None:
    path = tmp_path / "bad.npz"
    np.savez(path, **arrays)
    with pytest.raises(PoseFileError, match=message) as info:
        load_npz(path)
    assert "bad.npz" in str(info.value)


def test_not_an_npz(tmp_path: Path) -> None:
    path = tmp_path / "video.npz"
    path.write_bytes(b"\x00\x00\x00 ftypmp42 this is not a zip")
    with pytest.raises(PoseFileError, match=r"expected a NumPy \.npz archive"):
        load_npz(path)
    with pytest.raises(PoseFileError, match="no such file"):
        load_npz(tmp_path / "missing.npz")


def test_mot_export_is_degrees_with_a_convention_header(tmp_path: Path) -> None:
    q = np.zeros((3, 46))
    q[:, dof_index("knee_angle_r")] = np.radians([0.0, 45.0, 90.0])
    observed = np.ones(46, bool)
    observed[dof_index("elbow_flexion_l")] = False
    q[:, dof_index("elbow_flexion_l")] = np.nan
    text = export_mot(PoseTrack.from_arrays(q, fps=10.0, observed=observed), tmp_path / "m.mot").read_text()
    header, body = text.split("endheader\n")
    assert "inDegrees=yes" in header and "T-pose" in header and "nRows=3" in header
    columns = body.splitlines()[0].split("\t")
    rows = np.array([[float(v) for v in line.split("\t")] for line in body.splitlines()[1:]])
    assert columns[0] == "time" and columns[1 + dof_index("knee_angle_r")] == "knee_angle_r"
    np.testing.assert_allclose(rows[:, 1 + dof_index("knee_angle_r")], [0.0, 45.0, 90.0])
    np.testing.assert_allclose(rows[:, 0], [0.0, 0.1, 0.2])
    assert (rows[:, 1 + dof_index("elbow_flexion_l")] == 0).all()  # unobserved: written as 0, said so


def test_dataframe_has_named_columns_and_units() -> None:
    q = np.zeros((4, 46))
    q[:, dof_index("knee_angle_l")] = np.pi / 2
    frame = PoseTrack.from_arrays(q, fps=2.0).to_dataframe(degrees=True)
    assert frame["knee_angle_l"].tolist() == [90.0] * 4
    assert frame["t_s"].tolist() == [0.0, 0.5, 1.0, 1.5]
    assert frame.attrs["units"] == "deg"


def test_resampling_a_variable_rate_track() -> None:
    t = np.array([0.0, 0.1, 0.3, 0.4])
    q = np.zeros((4, 46))
    q[:, 0] = t  # a ramp: linear interpolation reproduces it exactly
    track = PoseTrack.from_arrays(q, t=t).resampled(10.0)
    np.testing.assert_allclose(track.t, [0.0, 0.1, 0.2, 0.3, 0.4])
    np.testing.assert_allclose(track.q[:, 0], track.t)
    assert track.fps == 10.0
