"""The Acclaim AMC importer on small files the tests write: values, signs, resampling, labels and errors."""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from workbench.errors import PoseFileError
from workbench.pose.amc import (
    MAPPED_DOFS,
    amc_rotation,
    amc_to_track,
    cut,
    label_segments,
    parse_amc,
    read_amc,
    read_labels,
    segments,
)
from workbench.skeleton import DOF_NAMES, dof_index

HEADER = "#!OML:ASF F:\\VICON\\USERDATA\\INSTALL\\rory3\\rory3.ASF\n:FULLY-SPECIFIED\n:DEGREES\n"

# Neutral CMU pose: legs vertical (femur rz cancels the ASF's 20° splay), everything else at zero.
NEUTRAL: dict[str, list[float]] = {
    "root": [0.0, 17.0, 0.0, 0.0, 0.0, 0.0],
    "lowerback": [0.0, 0.0, 0.0],
    "upperback": [0.0, 0.0, 0.0],
    "thorax": [0.0, 0.0, 0.0],
    "rhumerus": [0.0, 0.0, 0.0],
    "rradius": [0.0],
    "lhumerus": [0.0, 0.0, 0.0],
    "lradius": [0.0],
    "rfemur": [0.0, 0.0, 20.0],
    "rtibia": [0.0],
    "lfemur": [0.0, 0.0, -20.0],
    "ltibia": [0.0],
}


def amc_text(frames: list[dict[str, list[float]]], newline: str = "\r\n", first: int = 1) -> str:
    """AMC text with CRLF line endings (as CMU's files have), one block per frame."""
    lines = HEADER.splitlines()
    for k, overrides in enumerate(frames):
        lines.append(str(first + k))
        pose = {**NEUTRAL, **overrides}
        lines += [f"{bone} " + " ".join(f"{v:.12g}" for v in values) for bone, values in pose.items()]
    return newline.join(lines) + newline


def deg(track_q: np.ndarray, name: str) -> np.ndarray:
    return np.degrees(track_q[:, dof_index(name)])


def one_frame(**overrides: list[float]) -> dict[str, float]:
    """SKEL angles in degrees of a single-frame file with ``overrides`` on the neutral pose."""
    track = amc_to_track(parse_amc(amc_text([overrides])), target_fps=None)
    return {name: float(deg(track.q, name)[0]) for name in MAPPED_DOFS}


# ------------------------------------------------------------------------------------------------ parsing


def test_parses_crlf_frames_into_channels() -> None:
    text = amc_text([{"rtibia": [33.0702]}, {"rtibia": [40.5], "rfemur": [-10.7374, 4.25268, 17.5862]}])
    motion = parse_amc(text, name="two.amc")
    assert motion.n_frames == 2
    np.testing.assert_array_equal(motion.frames, [1, 2])
    np.testing.assert_allclose(motion.channel("rtibia", "rx"), [33.0702, 40.5])
    np.testing.assert_allclose(motion.bones["rfemur"][1], [-10.7374, 4.25268, 17.5862])
    np.testing.assert_allclose(motion.channel("rfemur", "rz"), [20.0, 17.5862])
    assert ":DEGREES" in motion.header
    assert parse_amc(text.replace("\r\n", "\n")).bones["rtibia"].tolist() == motion.bones["rtibia"].tolist()


def test_reads_exponents_comments_and_blank_lines() -> None:
    text = amc_text([{"rtibia": [7.36746e-015]}]).replace("1\r\nroot", "# a comment\r\n\r\n1\r\nroot", 1)
    motion = parse_amc(text)
    assert motion.channel("rtibia", "rx")[0] == pytest.approx(7.36746e-15)


def test_radians_header_is_converted_to_degrees() -> None:
    text = amc_text([{"rtibia": [math.pi / 2]}]).replace(":DEGREES", ":RADIANS")
    motion = parse_amc(text)
    assert motion.channel("rtibia", "rx")[0] == pytest.approx(90.0)
    assert motion.channel("root", "ty")[0] == pytest.approx(17.0)  # translations stay as written


# ------------------------------------------------------------------------------------------ the mapping


def test_neutral_pose_maps_to_zero_and_only_mapped_dofs_are_observed() -> None:
    track = amc_to_track(parse_amc(amc_text([{}])), target_fps=None)
    observed = {DOF_NAMES[i] for i in np.flatnonzero(track.observed)}
    assert observed == set(MAPPED_DOFS)
    np.testing.assert_allclose(track.q[0, track.observed], 0.0, atol=1e-12)
    assert np.isnan(track.q[0, ~track.observed]).all()


def test_knee_and_elbow_are_the_hinge_rx_unchanged() -> None:
    a = one_frame(rtibia=[150.0], ltibia=[25.0], rradius=[90.0], lradius=[10.0])
    assert a["knee_angle_r"] == pytest.approx(150.0)
    assert a["knee_angle_l"] == pytest.approx(25.0)  # no standing offset is subtracted
    assert a["elbow_flexion_r"] == pytest.approx(90.0)
    assert a["elbow_flexion_l"] == pytest.approx(10.0)


def test_hip_flexion_is_minus_femur_rx() -> None:
    # Thigh forwards (squat, knee raise) is negative rx in CMU files: positive SKEL flexion.
    a = one_frame(rfemur=[-100.0, 0.0, 20.0], lfemur=[15.0, 0.0, -20.0])
    assert a["hip_flexion_r"] == pytest.approx(100.0)
    assert a["hip_flexion_l"] == pytest.approx(-15.0)
    assert a["hip_adduction_r"] == pytest.approx(0.0, abs=1e-9)


def test_hip_adduction_removes_the_20_degree_splay_and_spreading_is_negative_on_both_sides() -> None:
    # rz swings the leg towards the subject's left (+x): right rz < 20 and left rz > −20 spread the legs.
    spread = one_frame(rfemur=[0.0, 0.0, 2.0], lfemur=[0.0, 0.0, -1.0])
    assert spread["hip_adduction_r"] == pytest.approx(-18.0)
    assert spread["hip_adduction_l"] == pytest.approx(-19.0)
    crossed = one_frame(rfemur=[0.0, 0.0, 30.0], lfemur=[0.0, 0.0, -25.0])
    assert crossed["hip_adduction_r"] == pytest.approx(10.0)
    assert crossed["hip_adduction_l"] == pytest.approx(5.0)


def _euler_zyx(m: np.ndarray) -> tuple[float, float, float]:
    """AMC (rx, ry, rz) in degrees of a rotation M = Rz·Ry·Rx."""
    ry = -math.asin(m[2, 0])
    return math.degrees(math.atan2(m[2, 1], m[2, 2])), math.degrees(ry), math.degrees(math.atan2(m[1, 0], m[0, 0]))


@pytest.mark.parametrize(
    ("flexion", "adduction", "rotation"), [(100.0, -12.0, -60.0), (95.0, 8.0, 30.0), (20.0, -18.0, 5.0)]
)
def test_combined_hip_rotations_come_back_in_skel_order(flexion: float, adduction: float, rotation: float) -> None:
    """A deep squat with the knees out: build the femur rotation in SKEL's order (rotation·adduction·flexion),
    write it as AMC Euler angles, read it back."""
    one = np.ones(1)
    amc: dict[str, list[float]] = {}
    for side, sign, splay in (("r", 1.0, -20.0), ("l", -1.0, 20.0)):
        # In CMU axes F = Ry(±rotation)·Rz(±adduction)·Rx(−flexion); the AMC holds M = C⁻¹·F, C = Rz(splay).
        f = (
            amc_rotation(0 * one, sign * rotation * one, 0 * one)
            @ amc_rotation(0 * one, 0 * one, sign * adduction * one)
            @ amc_rotation(-flexion * one, 0 * one, 0 * one)
        )
        m = amc_rotation(0 * one, 0 * one, -splay * one)[0] @ f[0]
        amc[f"{side}femur"] = list(_euler_zyx(m))
    a = one_frame(**amc)
    for side in "rl":
        assert a[f"hip_flexion_{side}"] == pytest.approx(flexion, abs=1e-6)
        assert a[f"hip_adduction_{side}"] == pytest.approx(adduction, abs=1e-6)


def test_spine_extension_is_minus_rx_and_the_thorax_sums_upperback_and_thorax() -> None:
    a = one_frame(lowerback=[30.0, 0.0, 0.0], upperback=[5.0, 0.0, 0.0], thorax=[-12.0, 0.0, 0.0])
    assert a["lumbar_extension"] == pytest.approx(-30.0)  # trunk tipped forwards
    assert a["thorax_extension"] == pytest.approx(7.0)


def test_a_skeleton_with_only_legs_observes_only_the_leg_dofs() -> None:
    text = ":DEGREES\n1\nrtibia 40\nltibia 41\n2\nrtibia 42\nltibia 43\n"
    track = amc_to_track(parse_amc(text), target_fps=None)
    assert {DOF_NAMES[i] for i in np.flatnonzero(track.observed)} == {"knee_angle_r", "knee_angle_l"}
    np.testing.assert_allclose(deg(track.q, "knee_angle_l"), [41.0, 43.0])
    with pytest.raises(PoseFileError, match="expected bones of the CMU skeleton"):
        amc_to_track(parse_amc(":DEGREES\n1\nfoo 1 2\n"))


# -------------------------------------------------------------------------------------------- resampling


def _ramp(n: int) -> str:
    return amc_text([{"rtibia": [float(k)]} for k in range(n)])


def test_default_averages_blocks_of_four_frames_to_30_fps() -> None:
    track = amc_to_track(parse_amc(_ramp(10)))  # 120 Hz → 30 fps: 2 full blocks, the last 2 frames dropped
    assert track.fps == 30.0 and track.n_frames == 2
    np.testing.assert_allclose(deg(track.q, "knee_angle_r"), [1.5, 5.5])
    np.testing.assert_allclose(track.t, [1.5 / 120, 5.5 / 120])  # each block at its mean time
    assert track.is_uniform


def test_interpolation_puts_frames_on_a_grid_from_the_first_frame() -> None:
    track = amc_to_track(parse_amc(_ramp(13)), method="interp")
    np.testing.assert_allclose(track.t, [0.0, 1 / 30, 2 / 30, 3 / 30])
    np.testing.assert_allclose(deg(track.q, "knee_angle_r"), [0.0, 4.0, 8.0, 12.0])
    np.testing.assert_allclose(deg(track.q, "hip_flexion_r"), 0.0, atol=1e-12)
    assert np.isnan(deg(track.q, "ankle_angle_r")).all()


def test_non_integer_ratio_interpolates_and_none_keeps_120_hz() -> None:
    track = amc_to_track(parse_amc(_ramp(13)), target_fps=50.0)
    np.testing.assert_allclose(deg(track.q, "knee_angle_r"), [0.0, 2.4, 4.8, 7.2, 9.6, 12.0])
    native = amc_to_track(parse_amc(_ramp(13)), target_fps=None)
    assert native.fps == 120.0 and native.n_frames == 13


def test_bad_rates_and_too_short_files_are_clear() -> None:
    motion = parse_amc(_ramp(3), name="short.amc")
    with pytest.raises(PoseFileError, match=r"short\.amc: expected at least 4 frames"):
        amc_to_track(motion)
    with pytest.raises(ValueError, match="target_fps: expected a positive number"):
        amc_to_track(motion, target_fps=0.0)
    with pytest.raises(ValueError, match="fps: expected a positive number"):
        amc_to_track(motion, fps=-120.0)
    assert amc_to_track(motion, method="interp").n_frames == 1


def test_frame_numbers_set_the_times() -> None:
    motion = parse_amc(amc_text([{}, {}, {}], first=101))
    np.testing.assert_allclose(amc_to_track(motion, target_fps=None).t, [0.0, 1 / 120, 2 / 120])


def test_read_amc_reads_a_file_and_names_its_source(tmp_path: Path) -> None:
    path = tmp_path / "01_01.amc"
    path.write_bytes(_ramp(8).encode("ascii"))
    track = read_amc(path)
    assert track.source == "amc:01_01.amc"
    np.testing.assert_allclose(deg(track.q, "knee_angle_r"), [1.5, 5.5])


def test_cut_keeps_times_inside_the_window() -> None:
    track = amc_to_track(parse_amc(_ramp(120)), method="interp")  # t = 0, 1/30, …, 29/30
    part = cut(track, 0.2, 0.4)
    assert part.t[0] == pytest.approx(0.2) and part.t[-1] == pytest.approx(11 / 30)
    padded = cut(track, 0.2, 0.4, pad_s=0.1)
    assert padded.t[0] == pytest.approx(0.1) and padded.t[-1] == pytest.approx(14 / 30)
    with pytest.raises(ValueError, match="no frame"):
        cut(track, 5.0, 6.0)


# ---------------------------------------------------------------------------------------- malformed input


def _replace_last(text: str, old: str, new: str) -> str:
    head, _, tail = text.rpartition(old)
    return head + new + tail


@pytest.mark.parametrize(
    ("break_it", "line", "message"),
    [
        (lambda s: s.replace("rtibia 0\r\n", "rtibia 0.0.1\r\n", 1), 14, r"'rtibia': expected a number, got '0\.0\.1'"),
        (lambda s: s.replace("rtibia 0\r\n", "rtibia 0 1\r\n", 1), 14, "bone 'rtibia': expected 1 values"),
        (lambda s: _replace_last(s, "ltibia 0\r\n", ""), 17, "frame 2: expected a line for every bone.*missing ltibia"),
        (lambda s: s.replace("\r\n2\r\n", "\r\n1\r\n", 1), 17, "expected a frame number above 1, got 1"),
        (lambda s: s.replace(":DEGREES", ":DEGREES\r\nrtibia 5"), 4, "expected a frame number, got 'rtibia 5'"),
        (lambda s: s.replace("rradius 0\r\n", "rradius 0\r\n3 4\r\n", 1), 11, "expected a frame number alone"),
        (lambda s: s.replace("rtibia 0\r\n", "rtibia nan\r\n", 1), 14, "expected finite numbers"),
        (lambda s: s.replace("rtibia 0\r\n", "rtibia 0\r\nrtibia 1\r\n", 1), 15, "bone 'rtibia' appears twice"),
        (lambda s: _replace_last(s, "lradius 0\r\n", "lradius 0\r\nwing 1\r\n"), 26, "bone 'wing' is not in the first"),
    ],
)
def test_malformed_input_names_file_and_line(break_it: Callable[[str], str], line: int, message: str) -> None:
    text = break_it(amc_text([{}, {}]))
    with pytest.raises(PoseFileError, match=message) as info:
        parse_amc(text, name="bad.amc")
    assert str(info.value).startswith(f"bad.amc:{line}:")


def test_empty_and_missing_files_are_clear(tmp_path: Path) -> None:
    with pytest.raises(PoseFileError, match="expected AMC frames"):
        parse_amc(HEADER, name="empty.amc")
    with pytest.raises(PoseFileError, match=r"nope\.amc: cannot read"):
        read_amc(tmp_path / "nope.amc")


# -------------------------------------------------------------------------------------------------- labels


def test_label_segments_are_runs_of_0_1_s_blocks() -> None:
    found = label_segments([1, 1, 1, 3, 3, 6])
    assert found == [("JumpJack", 0.0, 0.3), ("Squat", 0.3, 0.5), ("Twist", 0.5, 0.6)]
    assert found[1].label == "Squat" and found[1].start_s == 0.3
    assert label_segments([]) == []


def test_segments_reads_a_label_file_and_filters(tmp_path: Path) -> None:
    path = tmp_path / "01_01.txt"
    path.write_text("1 1 2 2 2 3 3 3 3 1\n")
    assert segments(path, "Squat") == [("Squat", 0.5, 0.9)]
    assert [s.label for s in segments(path)] == ["JumpJack", "Jog", "Squat", "JumpJack"]
    np.testing.assert_array_equal(read_labels(path), [1, 1, 2, 2, 2, 3, 3, 3, 3, 1])
    with pytest.raises(ValueError, match="expected one of"):
        segments(path, "Burpee")


@pytest.mark.parametrize(
    ("content", "message"),
    [("1 2 x", "got 'x'"), ("1 13", r"expected action codes 1–12, got \[13\]"), ("", "empty file")],
)
def test_bad_label_files_are_clear(tmp_path: Path, content: str, message: str) -> None:
    path = tmp_path / "bad.txt"
    path.write_text(content)
    with pytest.raises(PoseFileError, match=message):
        read_labels(path)
