"""The SKEL bone mesh (workbench.render.skel_mesh) on a tiny fake SKEL file with SKEL v1.1.1's keys, against known
answers: SKEL's rest pose, the rigid placement on our chain, the errors, decimation, and the 3D figure's trace."""

from __future__ import annotations

import math
import pickle
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

from workbench.config import Config, MissingModelError
from workbench.pose.fk import ADULT, Segments, axis_rotation, skel_landmarks
from workbench.pose.landmarks import MP_INDEX
from workbench.render.skel_mesh import (
    SKEL_JOINTS,
    SkelModelError,
    clip_gender,
    configured_bone_mesh,
    decimate,
    load_bone_mesh,
    posed_vertices,
)
from workbench.render.skeleton3d import SKEL_TO_DISPLAY, VIOLATION_COLOR, clip_skeleton_figure, leg_height
from workbench.skeleton import N_DOFS, dof_index

# Rest joints of the fake model, SKEL world (x left, y up, z forward), right side; the left is the mirror.
_RIGHT = {
    "femur": (-0.09, 0.90, 0.0),
    "tibia": (-0.09, 0.48, 0.0),
    "talus": (-0.09, 0.07, 0.0),
    "calcn": (-0.09, 0.03, -0.04),
    "toes": (-0.09, 0.01, 0.14),
    "scapula": (-0.08, 1.38, -0.06),
    "humerus": (-0.18, 1.40, 0.0),
    "ulna": (-0.47, 1.40, 0.0),
    "radius": (-0.47, 1.40, 0.01),
    "hand": (-0.73, 1.40, 0.0),
}
_CENTRE = {"pelvis": (0.0, 0.93, 0.0), "lumbar_body": (0.0, 1.0, -0.02), "thorax": (0.0, 1.2, -0.02)}
_CENTRE["head"] = (0.0, 1.47, 0.0)
_PARENT = {
    "pelvis": None,
    "femur": "pelvis",
    "tibia": "femur",
    "talus": "tibia",
    "calcn": "talus",
    "toes": "calcn",
    "lumbar_body": "pelvis",
    "thorax": "lumbar_body",
    "head": "thorax",
    "scapula": "thorax",
    "humerus": "scapula",
    "ulna": "humerus",
    "radius": "ulna",
    "hand": "radius",
}
# Each bone's three vertices in its own frame (metres from its joint); one triangle per bone.
LOCAL = np.array([[0.0, -0.2, 0.0], [0.03, -0.1, 0.01], [-0.02, -0.15, 0.03]])
TIBIA_TURN = axis_rotation(1, np.asarray(math.pi / 2))  # the fake tibia's per_joint_rot: its frame is turned


def _joint_table() -> tuple[np.ndarray, list[int]]:
    joints = np.zeros((24, 3))
    parents: list[int] = []
    for i, name in enumerate(SKEL_JOINTS):
        base, _, side = name.rpartition("_")
        if side in ("r", "l") and base in _RIGHT:
            x, y, z = _RIGHT[base]
            joints[i] = (x if side == "r" else -x, y, z)
            parent = _PARENT[base]
            assert parent is not None
            parents.append(SKEL_JOINTS.index(parent if parent in _CENTRE else f"{parent}_{side}"))
        else:
            joints[i] = _CENTRE[name]
            parent = _PARENT[name]
            parents.append(-1 if parent is None else SKEL_JOINTS.index(parent))
    return joints, parents


def fake_skel(*, tibia_model_scale: float = 1.0, sparse: bool = False) -> dict[str, object]:
    """A SKEL-like model: 24 joints on a human-sized T-pose, each bone one triangle (LOCAL) in its own frame.
    per_joint_rot is the identity but for the tibias (TIBIA_TURN), whose local vertices are turned to match, so the
    rest mesh is joint + LOCAL for every bone; ``tibia_model_scale`` < 1 shortens the modelled tibia vector, so SKEL
    scales the tibia up by its inverse."""
    joints, parents = _joint_table()
    rel = np.tile(np.eye(4), (24, 1, 1))
    rot = np.tile(np.eye(3), (24, 1, 1))
    verts = np.zeros((72, 3))
    for i in range(24):
        if parents[i] >= 0:
            rel[i, :3, 3] = joints[i] - joints[parents[i]]
        verts[3 * i : 3 * i + 3] = LOCAL
    for side in ("r", "l"):
        tib, tal = SKEL_JOINTS.index(f"tibia_{side}"), SKEL_JOINTS.index(f"talus_{side}")
        rot[tib] = TIBIA_TURN
        rel[tal, :3, 3] = tibia_model_scale * TIBIA_TURN.T @ (joints[tal] - joints[tib])
        verts[3 * tib : 3 * tib + 3] = LOCAL @ TIBIA_TURN  # each row TURNᵀ · LOCAL
    weights = np.zeros((72, 24))
    weights[np.arange(72), np.repeat(np.arange(24), 3)] = 1.0
    regressor = np.eye(24)
    if sparse:
        from scipy.sparse import coo_matrix

        regressor = coo_matrix(regressor)
    table = np.array([[-1 if p < 0 else p for p in parents], list(range(24))])
    table[0, 0] = 4294967295  # SKEL's root parent (uint32 −1)
    return {
        "skel_template_v": verts,
        "skel_template_f": np.arange(72).reshape(24, 3),
        "skel_weights": weights,
        "skel_weights_rigid": weights,
        "skin_template_v": joints.copy(),  # J = J_regressor_osim · skin = the joints themselves
        "J_regressor_osim": regressor,
        "osim_kintree_table": table,
        "apose_rel_transfo": rel,
        "per_joint_rot": rot,
        "joints_name": list(SKEL_JOINTS),
        "bone_names": list(SKEL_JOINTS),
    }


def write_fake_skel(folder: Path, gender: str = "male", **kwargs: object) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"skel_{gender}.pkl"
    path.write_bytes(pickle.dumps(fake_skel(**kwargs), protocol=2))  # type: ignore[arg-type]
    return path


def _bone_vertices(mesh: object, name: str, verts: np.ndarray) -> np.ndarray:
    m = mesh  # a BoneMesh
    return verts[m.bone == m.bone_names.index(name)]  # type: ignore[attr-defined]


def _q(**angles_deg: float) -> np.ndarray:
    q = np.zeros(N_DOFS)
    for name, deg in angles_deg.items():
        q[dof_index(name)] = math.radians(deg)
    return q


def _chain(q: np.ndarray, name: str, seg: Segments = ADULT) -> np.ndarray:
    return skel_landmarks(q, seg)[0, MP_INDEX[name]]


# ----------------------------------------------------------------------------------------------- rest


def test_the_rest_pose_puts_each_bone_at_its_joint_in_skels_orientation(tmp_path: Path) -> None:
    mesh = load_bone_mesh(write_fake_skel(tmp_path), gender="male")
    joints, _ = _joint_table()
    assert mesh.n_vertices == 72 and mesh.faces.shape == (24, 3)
    for name in ("femur_r", "tibia_r", "hand_l", "head"):
        j = joints[SKEL_JOINTS.index(name)]
        # the tibia's local vertices are stored turned (TIBIA_TURN): per_joint_rot turns them back
        assert np.allclose(_bone_vertices(mesh, name, mesh.vertices), j + LOCAL), name


def test_skels_bone_scale_stretches_a_bone_modelled_shorter(tmp_path: Path) -> None:
    mesh = load_bone_mesh(write_fake_skel(tmp_path, tibia_model_scale=0.5))
    joints, _ = _joint_table()
    knee = joints[SKEL_JOINTS.index("tibia_r")]
    # SKEL scales by |J_talus − J_tibia| / |modelled| = 2 in the bone's frame, then turns by TURN
    assert np.allclose(_bone_vertices(mesh, "tibia_r", mesh.vertices), knee + 2.0 * LOCAL)


def test_sparse_regressors_are_read_as_dense(tmp_path: Path) -> None:
    mesh = load_bone_mesh(write_fake_skel(tmp_path / "sparse", sparse=True))
    joints, _ = _joint_table()
    assert np.allclose(mesh.joints, joints)


# ---------------------------------------------------------------------------------------------- posing


def test_at_rest_the_tibia_hangs_from_our_knee_scaled_to_our_shank(tmp_path: Path) -> None:
    mesh = load_bone_mesh(write_fake_skel(tmp_path))
    posed = _bone_vertices(mesh, "tibia_r", posed_vertices(mesh, np.zeros(N_DOFS)))
    scale = ADULT.shank / (0.48 - 0.07)  # our shank over the fake's knee → ankle
    assert np.allclose(posed, _chain(np.zeros(N_DOFS), "right_knee") + scale * LOCAL)


def test_a_tibia_vertex_moves_by_exactly_the_knee_flexion_about_the_knee(tmp_path: Path) -> None:
    mesh = load_bone_mesh(write_fake_skel(tmp_path))
    seg = Segments(thigh=0.47, shank=0.45)
    rest, bent = np.zeros(N_DOFS), _q(knee_angle_r=70.0)
    v0 = _bone_vertices(mesh, "tibia_r", posed_vertices(mesh, rest, seg))
    v1 = _bone_vertices(mesh, "tibia_r", posed_vertices(mesh, bent, seg))
    k0, k1 = _chain(rest, "right_knee", seg), _chain(bent, "right_knee", seg)
    turn = axis_rotation(0, np.asarray(math.radians(70.0)))  # knee: +x, shank backwards
    assert np.allclose(v1 - k1, (v0 - k0) @ turn.T)
    assert np.all((v1 - k1)[:, 2] < -0.05)  # behind the knee: the shank swung backwards (−z)
    femur = _bone_vertices(mesh, "femur_r", posed_vertices(mesh, bent, seg))
    assert np.allclose(femur, _bone_vertices(mesh, "femur_r", posed_vertices(mesh, rest, seg)))
    left = _bone_vertices(mesh, "tibia_l", posed_vertices(mesh, bent, seg))
    assert np.allclose(left, _bone_vertices(mesh, "tibia_l", posed_vertices(mesh, rest, seg)))


def test_the_foot_bones_ride_on_the_ankle_and_the_hand_on_the_wrist(tmp_path: Path) -> None:
    mesh = load_bone_mesh(write_fake_skel(tmp_path))
    q = _q(hip_flexion_r=40.0, knee_angle_r=60.0, shoulder_r_z=30.0, elbow_flexion_r=50.0)
    posed = posed_vertices(mesh, q)
    ankle, wrist = _chain(q, "right_ankle"), _chain(q, "right_wrist")
    # a vertex at the talus / hand joint itself (LOCAL shifted to 0) would sit on our joint: check the distance
    # from the joint is kept (rigid) and the anchor moved with the joint
    for name, joint_now in (("talus_r", ankle), ("hand_r", wrist)):
        rest = _bone_vertices(mesh, name, posed_vertices(mesh, np.zeros(N_DOFS)))
        rest_joint = _chain(np.zeros(N_DOFS), "right_ankle" if name == "talus_r" else "right_wrist")
        now = _bone_vertices(mesh, name, posed)
        assert np.allclose(np.linalg.norm(now - joint_now, axis=1), np.linalg.norm(rest - rest_joint, axis=1))


# ---------------------------------------------------------------------------------------------- errors


def test_no_skel_model_configured_means_no_mesh() -> None:
    assert configured_bone_mesh(Config()) is None


def test_a_missing_skel_file_is_named_with_where_to_get_it(tmp_path: Path) -> None:
    with pytest.raises(MissingModelError) as err:
        configured_bone_mesh(Config(skel_model_dir=tmp_path, source="test.yaml"))
    msg = str(err.value)
    assert str(tmp_path / "skel_male.pkl") in msg and "skel.is.tue.mpg.de" in msg and "test.yaml" in msg
    with pytest.raises(MissingModelError, match="does not exist"):
        configured_bone_mesh(Config(skel_model_dir=tmp_path / "nowhere"))


def test_a_malformed_skel_file_is_named(tmp_path: Path) -> None:
    bad = tmp_path / "skel_male.pkl"
    bad.write_bytes(b"not a pickle at all")
    with pytest.raises(SkelModelError, match=r"skel_male\.pkl: not a readable SKEL model pickle"):
        configured_bone_mesh(Config(skel_model_dir=tmp_path))
    data = fake_skel()
    del data["J_regressor_osim"]
    bad.write_bytes(pickle.dumps(data))
    with pytest.raises(SkelModelError, match="missing J_regressor_osim") as err:
        configured_bone_mesh(Config(skel_model_dir=tmp_path))
    assert "skel.is.tue.mpg.de" in str(err.value)


def test_a_pickle_with_code_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "skel_male.pkl"
    path.write_bytes(pickle.dumps(SimpleNamespace(a=1)))
    with pytest.raises(SkelModelError, match=r"refusing types\.SimpleNamespace"):
        load_bone_mesh(path)


def test_the_gender_comes_from_the_clip_or_defaults_to_male(tmp_path: Path) -> None:
    write_fake_skel(tmp_path, "male")
    write_fake_skel(tmp_path, "female")
    cfg = Config(skel_model_dir=tmp_path)
    default = configured_bone_mesh(cfg)
    assert default is not None and default.gender == "male" and "default" in default.describe()
    female = configured_bone_mesh(cfg, gender="female")
    assert female is not None and female.path.name == "skel_female.pkl" and "default" not in female.describe()
    result = SimpleNamespace(estimate=SimpleNamespace(track=SimpleNamespace(meta={"gender": "Female"})))
    assert clip_gender(result) == "female"
    assert clip_gender(SimpleNamespace(estimate=SimpleNamespace(track=SimpleNamespace(meta={})))) is None


def test_the_mesh_is_read_once_per_file(tmp_path: Path) -> None:
    path = write_fake_skel(tmp_path)
    assert load_bone_mesh(path) is load_bone_mesh(path)


# ------------------------------------------------------------------------------------------- decimation


def _grid(n: int, x0: float) -> tuple[np.ndarray, np.ndarray]:
    xs, ys = np.meshgrid(np.linspace(0, 0.3, n), np.linspace(0, 0.3, n))
    v = np.column_stack([xs.ravel() + x0, ys.ravel(), np.zeros(n * n)])
    idx = np.arange(n * n).reshape(n, n)
    a, b, c, d = idx[:-1, :-1].ravel(), idx[:-1, 1:].ravel(), idx[1:, :-1].ravel(), idx[1:, 1:].ravel()
    return v, np.concatenate([np.column_stack([a, b, c]), np.column_stack([b, d, c])])


def test_decimation_caps_the_vertices_and_never_merges_two_bones() -> None:
    v1, f1 = _grid(40, 0.0)
    v2, f2 = _grid(40, 0.0)  # a second bone exactly on top of the first
    verts = np.concatenate([v1, v2])
    faces = np.concatenate([f1, f2 + len(v1)])
    bone = np.repeat([0, 1], len(v1))
    v, f, b = decimate(verts, faces, bone, 300)
    assert 150 <= len(v) <= 300 and f.min() >= 0 and f.max() < len(v)
    assert set(b.tolist()) == {0, 1}
    assert np.all(b[f[:, 0]] == b[f[:, 1]]) and np.all(b[f[:, 1]] == b[f[:, 2]])  # no face spans two bones
    assert np.all(f[:, 0] != f[:, 1]) and np.all(f[:, 1] != f[:, 2])
    assert np.allclose(v[:, 2], 0.0) and v[:, 0].max() <= 0.3 + 1e-9  # cluster means stay on the surface


# ------------------------------------------------------------------------------------------- the figure


def _clip(q: np.ndarray, violations: tuple = ()) -> SimpleNamespace:
    track = SimpleNamespace(t=np.array([0.0, 0.5]), q=q, meta={})
    rep = SimpleNamespace(index=0, start_s=0.0, end_s=1.0, side=None, violations=violations)
    return SimpleNamespace(estimate=SimpleNamespace(track=track), analysis=SimpleNamespace(reps=[rep]), fit=None)


def test_the_figure_gains_a_mesh_trace_only_when_configured(tmp_path: Path) -> None:
    q = np.stack([np.zeros(N_DOFS), _q(knee_angle_r=90.0)])
    result = _clip(q, (SimpleNamespace(joint="tibia_r"),))
    plain = clip_skeleton_figure(result, 0.5, skel_mesh=configured_bone_mesh(Config()))
    assert all(d["type"] != "mesh3d" for d in plain["data"])
    mesh = configured_bone_mesh(Config(skel_model_dir=write_fake_skel(tmp_path).parent))
    assert mesh is not None
    fig = clip_skeleton_figure(result, 0.5, skel_mesh=mesh)
    assert [d["name"] for d in fig["data"][:-1]] == [d["name"] for d in plain["data"]]  # same order, mesh last
    trace = fig["data"][-1]
    assert trace["type"] == "mesh3d" and len(trace["x"]) == mesh.n_vertices and len(trace["i"]) == 24
    # display frame: the tibia's rest vertex (0, −0.2, 0) from the knee lies 0.2·scale behind the knee at 90°
    shank = ADULT.shank / 0.41
    knee = SKEL_TO_DISPLAY @ _chain(q[1], "right_knee") + np.array([0.0, 0.0, leg_height()])
    first = mesh.bone_names.index("tibia_r") * 3
    got = np.array([trace["x"][first], trace["y"][first], trace["z"][first]])
    assert np.allclose(got, knee + np.array([0.0, -0.2 * shank, 0.0]), atol=1e-4)
    red = [i for i, v in enumerate(trace["intensity"]) if v == 1.0]
    assert red == [first, first + 1, first + 2]  # the tibia in violation, nothing else
    assert trace["colorscale"][-1][1] == VIOLATION_COLOR
    before = clip_skeleton_figure(result, 0.0, skel_mesh=mesh)["data"][-1]
    assert before["y"][first] != pytest.approx(trace["y"][first])  # the mesh follows the cursor
