"""The UI-PRMD Kinect importer: known SKEL angles → forward kinematics → Kinect files → the same angles back.

The test writes a repetition in the data set's own layout (positions as bone offsets in the parent's frame,
angles as local rotations) from a SKEL pose of known angles, imports it through the landmark path's
filtering and IK, and compares; plus the manifest, the folder layout and the errors a user can meet.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from workbench.data.kinect import (
    KINECT_JOINTS,
    kinect_tables,
    kinect_world,
    read_kinect_table,
    skel_to_kinect,
    write_kinect_table,
)
from workbench.data.labelled import MANIFEST_COLUMNS, ManifestError, import_uiprmd, read_manifest
from workbench.errors import PoseFileError, WorkbenchError
from workbench.pose.posefile import load_npz
from workbench.skeleton import N_DOFS, dof_index

N = 60
# Angles (degrees) that ramp from zero to these over the clip: a squat-like bend with the arms forward.
TARGET_DEG = {
    "pelvis_tilt": -15.0,
    "hip_flexion_r": 70.0,
    "hip_flexion_l": 60.0,
    "hip_adduction_r": 5.0,
    "knee_angle_r": 90.0,
    "knee_angle_l": 80.0,
    "ankle_angle_r": 20.0,
    "ankle_angle_l": 15.0,
    "shoulder_r_x": -40.0,
    "shoulder_l_x": 40.0,
    "shoulder_r_z": 30.0,
    "shoulder_l_z": 30.0,
    "elbow_flexion_r": 60.0,
    "elbow_flexion_l": 45.0,
    "head_extension": -10.0,
}
CHECKED = [
    "pelvis_tilt",
    "hip_flexion_r",
    "hip_flexion_l",
    "knee_angle_r",
    "knee_angle_l",
    "ankle_angle_r",
    "ankle_angle_l",
    "elbow_flexion_r",
    "elbow_flexion_l",
    "head_extension",
]


def known_q() -> np.ndarray:
    q = np.zeros((N, N_DOFS))
    ramp = np.clip(np.linspace(-0.2, 1.2, N), 0, 1)
    for name, deg in TARGET_DEG.items():
        q[:, dof_index(name)] = np.radians(deg) * ramp
    # The T-pose has the arms out; start from arms down so the shoulders move like a person's would.
    q[:, dof_index("shoulder_r_x")] += np.radians(-45.0)
    q[:, dof_index("shoulder_l_x")] += np.radians(45.0)
    return q


def write_rep(root: Path, stem: str, label: str, q: np.ndarray) -> None:
    positions, angles = kinect_tables(skel_to_kinect(q))
    suffix = "_inc" if label == "incorrect" else ""
    write_kinect_table(root / "kinect" / label / "positions" / f"{stem}_positions{suffix}.txt.gz", positions)
    write_kinect_table(root / "kinect" / label / "angles" / f"{stem}_angles{suffix}.txt.gz", angles)


def test_world_positions_follow_the_data_sets_kinematics() -> None:
    """R_local = Rz·Rx·Ry, offsets in the parent's frame: a 90° turn of the waist about y carries the spine's
    offset along."""
    pos = np.zeros((1, 22, 3))
    ang = np.zeros((1, 22, 3))
    pos[0, KINECT_JOINTS.index("Spine")] = (0.0, 0.0, 10.0)
    ang[0, 0] = (0.0, 90.0, 0.0)  # waist: ay = 90° → its z axis turns onto +x
    world = kinect_world(pos, ang)
    assert np.allclose(world[0, KINECT_JOINTS.index("Spine")], (10.0, 0.0, 0.0), atol=1e-9)
    ang[0, 0] = (90.0, 0.0, 0.0)  # ax = 90° → z turns onto −y
    world = kinect_world(pos, ang)
    assert np.allclose(world[0, KINECT_JOINTS.index("Spine")], (0.0, -10.0, 0.0), atol=1e-9)


def test_known_angles_come_back(tmp_path: Path) -> None:
    q = known_q()
    write_rep(tmp_path / "src", "m01_s01_e01", "correct", q)
    report = import_uiprmd(tmp_path / "src", tmp_path / "out")
    assert report.n_files == 1
    track = load_npz(tmp_path / "out" / "m01_s01_e01.npz")
    middle = slice(N // 4, 3 * N // 4)  # away from the low-pass filter's edges
    for name in CHECKED:
        got = np.degrees(track.q[middle, dof_index(name)])
        want = np.degrees(q[middle, dof_index(name)])
        assert np.max(np.abs(got - want)) < 1.5, f"{name}: max error {np.max(np.abs(got - want)):.2f}°"
    for name in ("head_twist", "subtalar_angle_r", "pro_sup_l", "wrist_flexion_r", "lumbar_extension"):
        assert not track.observed[dof_index(name)], name
        assert np.isnan(track.q[:, dof_index(name)]).all(), name


def test_manifest_layout_and_subsets(tmp_path: Path) -> None:
    q = known_q()
    for stem, label in (("m01_s01_e01", "correct"), ("m01_s02_e01", "incorrect"), ("m05_s01_e03", "correct")):
        write_rep(tmp_path / "src", stem, label, q)
    import_uiprmd(tmp_path / "src", tmp_path / "all")
    text = (tmp_path / "all" / "manifest.csv").read_text().splitlines()
    assert text[0] == ",".join(MANIFEST_COLUMNS)
    rows = read_manifest(tmp_path / "all" / "manifest.csv")
    got = {(r.file, r.exercise, r.label, r.subject, r.episode) for r in rows}
    assert got == {
        ("m01_s01_e01.npz", "deep_squat", "correct", "s01", "e01"),
        ("m01_s02_e01_inc.npz", "deep_squat", "incorrect", "s02", "e01"),
        ("m05_s01_e03.npz", "sit_to_stand", "correct", "s01", "e03"),
    }
    part = import_uiprmd(tmp_path / "src", tmp_path / "part", subjects=[1], movements=["deep_squat"])
    assert part.n_files == 1 and part.by_exercise == {"deep_squat": {"correct": 1}}


def test_bad_inputs_are_named(tmp_path: Path) -> None:
    bad = tmp_path / "bad.txt"
    bad.write_text("1,2,3\n")
    with pytest.raises(PoseFileError, match=r"bad.txt: row 1: expected 66"):
        read_kinect_table(bad)
    empty = tmp_path / "empty.txt"
    empty.write_text("")
    with pytest.raises(PoseFileError, match="empty"):
        read_kinect_table(empty)
    with pytest.raises(WorkbenchError, match="expected the UI-PRMD layout"):
        import_uiprmd(tmp_path, tmp_path / "out")
    write_rep(tmp_path / "src", "m02_s01_e01", "correct", known_q())
    (tmp_path / "src" / "kinect" / "correct" / "angles" / "m02_s01_e01_angles.txt.gz").unlink()
    with pytest.raises(WorkbenchError, match=r"angles file .* is missing"):
        import_uiprmd(tmp_path / "src", tmp_path / "out")


def test_manifest_errors_name_the_line(tmp_path: Path) -> None:
    (tmp_path / "a.npz").write_bytes(b"")
    m = tmp_path / "m.csv"
    m.write_text("file,exercise,label,subject,episode,source\na.npz,squat,good,s1,e1,x\n")
    with pytest.raises(ManifestError, match=r"line 2: label: expected correct or incorrect, got 'good'"):
        read_manifest(m)
    m.write_text("file,exercise,label,subject,episode,source\nmissing.npz,squat,correct,s1,e1,x\n")
    with pytest.raises(ManifestError, match=r"line 2: file 'missing.npz': not found"):
        read_manifest(m)
    m.write_text("file,exercise,label\n")
    with pytest.raises(ManifestError, match="missing subject, episode, source"):
        read_manifest(m)
