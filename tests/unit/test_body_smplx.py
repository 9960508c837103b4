"""Body measurements through smplx (the reference SMPL implementation) against closed-form answers.

The model file is test_body's generated ring body (SMPL's 6890 vertices and 13776 faces: smplx selects extra
joints by SMPL vertex ids, and the virtual measurements use SMPL vertex ids, so fewer vertices cannot run)
plus what smplx.SMPL needs to run: SMPL's 24-joint kinematic tree, a J_regressor averaging one ring per joint,
skinning weights blending two joints by height (each vertex's sum 1), and random pose blend shapes, which the
zero pose must ignore. betas[0] scales height by 1 + 0.05 β0 and betas[1] radii by 1 + 0.08 β1, so every
measurement is known exactly; smplx keeps its parameters in float32 (smplx.utils.to_np), hence rel 1e-6.
"""

from __future__ import annotations

import pickle
import re
from pathlib import Path

import numpy as np
import pytest
import scipy.sparse
import smplx
import torch

from tests.unit.test_body import (
    HEIGHT,
    K_HEIGHT,
    K_RADIUS,
    N_RINGS,
    N_SIDES,
    assert_close,
    expected,
    measured,
    model_arrays,
)
from workbench.body import BodyModelError, estimate_body, load_body_model, measure_betas
from workbench.body.smplx_model import SmplxBodyModel, load_smplx_model, with_smplx

# SMPL's kinematic tree (parents by joint id); the root's parent as SMPL's files store it (uint32 −1).
SMPL_PARENTS = [4294967295, 0, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 9, 9, 12, 13, 14, 16, 17, 18, 19, 20, 21]
REL = 1e-6


def skinning(v: np.ndarray, seed: int = 1) -> dict[str, np.ndarray]:
    """J_regressor, weights, kintree_table and posedirs for the ring body ``v`` (6890 × 3)."""
    y = v[:, 1]
    rings = np.round((y - y.min()) / (y.max() - y.min()) * (N_RINGS - 1)).astype(int)
    joint_ring = np.linspace(5, N_RINGS - 6, 24).round().astype(int)
    regressor = np.zeros((24, len(v)))
    for j, k in enumerate(joint_ring):
        members = np.flatnonzero(rings == k)
        regressor[j, members] = 1.0 / members.size
    t = (y - y.min()) / (y.max() - y.min()) * 23  # blend joints ⌊t⌋ and ⌊t⌋ + 1
    lo = np.minimum(np.floor(t).astype(int), 22)
    weights = np.zeros((len(v), 24))
    weights[np.arange(len(v)), lo] = 1.0 - (t - lo)
    weights[np.arange(len(v)), lo + 1] = t - lo
    posedirs = np.random.default_rng(seed).normal(0.0, 0.01, (len(v), 3, 207))
    kintree = np.array([SMPL_PARENTS, np.arange(24)], dtype=np.int64)
    return {"J_regressor": regressor, "weights": weights, "kintree_table": kintree, "posedirs": posedirs}


def full_arrays() -> dict[str, np.ndarray]:
    arrays = model_arrays()
    return arrays | skinning(arrays["v_template"])


@pytest.fixture(scope="module")
def smpl_npz(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("smplx") / "smpl_test.npz"
    np.savez_compressed(path, **full_arrays())
    return path


@pytest.fixture(scope="module")
def smpl_pkl(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """As SMPL ships it, minus chumpy: a protocol-2 pickle with a sparse J_regressor."""
    arrays = full_arrays()
    arrays["J_regressor"] = scipy.sparse.csc_matrix(arrays["J_regressor"])
    path = tmp_path_factory.mktemp("smplx") / "SMPL_NEUTRAL.pkl"
    path.write_bytes(pickle.dumps(arrays, protocol=2))
    return path


def betas(b0: float = 0.0, b1: float = 0.0) -> np.ndarray:
    return np.r_[b0, b1, np.zeros(8)]


# ----------------------------------------------------------------------------------------- known answers


@pytest.mark.parametrize(("b0", "b1"), [(0.0, 0.0), (2.0, 0.0), (0.0, -1.5), (-1.0, 2.5)])
def test_smplx_mesh_matches_closed_form(smpl_npz: Path, b0: float, b1: float) -> None:
    model = load_smplx_model(smpl_npz)
    assert isinstance(model, SmplxBodyModel) and model.engine == "smplx" and model.n_betas == 10
    m = measure_betas(model, betas(b0, b1))
    assert_close(m, expected(b0, b1), rel=REL)
    assert m.method == "mesh" and m.mass_source == "volume" and not m.warnings
    assert m.source.startswith("smpl_test.npz via smplx, β̄ of 10 coefficients")


def test_height_direction_moves_height_by_the_known_amount(smpl_npz: Path) -> None:
    model = load_smplx_model(smpl_npz)
    base, taller = measure_betas(model, betas()), measure_betas(model, betas(2.0))
    assert base.height_m == pytest.approx(HEIGHT, rel=REL)
    assert taller.height_m - base.height_m == pytest.approx(2.0 * K_HEIGHT * HEIGHT, rel=REL)  # +0.17 m
    assert taller.chest_m == pytest.approx(base.chest_m, rel=REL)  # height only
    wider = measure_betas(model, betas(0.0, 1.0))
    assert wider.waist_m / base.waist_m == pytest.approx(1 + K_RADIUS, rel=REL)  # type: ignore[operator]
    assert wider.mass_kg / base.mass_kg == pytest.approx((1 + K_RADIUS) ** 2, rel=REL)  # type: ignore[operator]


def test_fewer_betas_are_padded_with_zeros_and_more_refused(smpl_npz: Path) -> None:
    model = load_smplx_model(smpl_npz)
    assert_close(measure_betas(model, np.array([2.0])), expected(2.0), rel=REL)
    with pytest.raises(BodyModelError, match="expected a vector of 1 to 10 coefficients"):
        model.shaped_vertices(np.zeros(11))


@pytest.mark.parametrize("which", ["npz", "pkl"])
def test_smplx_and_plain_array_paths_agree_on_the_same_file(smpl_npz: Path, smpl_pkl: Path, which: str) -> None:
    path = smpl_npz if which == "npz" else smpl_pkl
    through_smplx, plain = load_smplx_model(path), load_body_model(path)
    assert through_smplx.engine == "smplx" and plain.engine == "arrays"
    for b in (betas(), betas(1.5, -0.5), np.linspace(-1.0, 1.0, 10)):
        a, p = measured(measure_betas(through_smplx, b)), measured(measure_betas(plain, b))
        assert a == pytest.approx(p, rel=REL)
        gap = np.abs(through_smplx.shaped_vertices(b) - plain.shaped_vertices(b)).max()
        assert gap < 1e-6  # metres; smplx's float32 parameters
    assert isinstance(through_smplx, SmplxBodyModel)
    np.testing.assert_allclose(through_smplx.smpl.J_regressor.numpy(), plain.extras["J_regressor"], atol=1e-7)


def test_generated_pickle_is_what_smplx_itself_reads(smpl_pkl: Path) -> None:
    """smplx.create on the file (smplx's own reader: the test's own file, safe to unpickle) gives the same mesh."""
    theirs = smplx.create(str(smpl_pkl), model_type="smpl", dtype=torch.float64)
    assert type(theirs) is smplx.SMPL and theirs.get_num_verts() == 6890 and theirs.get_num_faces() == 13776
    b = betas(1.0, 2.0)
    with torch.no_grad():
        out = theirs(betas=torch.from_numpy(b[None]))
    ours = load_smplx_model(smpl_pkl)
    np.testing.assert_allclose(ours.shaped_vertices(b), out.vertices[0].numpy(), atol=1e-6)
    assert_close(measure_betas(ours, b), expected(1.0, 2.0), rel=REL)


def test_loading_prints_nothing(smpl_npz: Path, capsys: pytest.CaptureFixture[str]) -> None:
    load_smplx_model(smpl_npz)  # smplx prints a 10-coefficient warning to stdout, which may carry JSON
    assert capsys.readouterr().out == ""


def test_estimate_body_measures_through_smplx(smpl_npz: Path) -> None:
    m, warnings = estimate_body(betas=np.tile(betas(2.0), (12, 1)), model=load_smplx_model(smpl_npz))
    assert m is not None and not warnings and "via smplx" in m.source
    assert m.height_m == pytest.approx((1 + 2 * K_HEIGHT) * HEIGHT, rel=REL)


# ------------------------------------------------------------------------------------------ file problems


def test_file_without_skinning_arrays_keeps_the_plain_route(tmp_path: Path) -> None:
    path = tmp_path / "shape_only.npz"
    np.savez(path, **model_arrays())
    model = load_smplx_model(path)
    assert model.engine == "arrays" and not isinstance(model, SmplxBodyModel)
    assert_close(measure_betas(model, betas(2.0)), expected(2.0))
    with pytest.raises(BodyModelError, match="missing J_regressor, weights, kintree_table, posedirs"):
        load_smplx_model(path, require_smplx=True)


def test_missing_file_names_it_and_where_smpl_comes_from(tmp_path: Path) -> None:
    path = tmp_path / "SMPL_MALE.pkl"
    with pytest.raises(BodyModelError) as info:
        load_smplx_model(path)
    text = str(info.value)
    assert str(path) in text and "https://smpl.is.tue.mpg.de" in text and "never downloads" in text


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("smpl.npz", b"PK\x03\x04 truncated", "not a readable .npz body model"),
        ("smpl.pkl", b"\x80\x02}q\x00(X\x01", "not a readable SMPL pickle"),
        ("basicModel_f_lbs_10_207_0_v1.0.0.pkl", b"\x80\x02cchumpy.ch\nCh\nq\x00)\x81q\x01.", "holds chumpy objects"),
    ],
)
def test_unreadable_files_say_which_and_why(tmp_path: Path, name: str, content: bytes, message: str) -> None:
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(BodyModelError, match=re.escape(message)) as info:
        load_smplx_model(path)
    assert str(path) in str(info.value)


def test_smplx_x_file_is_refused_with_its_reason(tmp_path: Path) -> None:
    path = tmp_path / "SMPLX_NEUTRAL.npz"
    np.savez(
        path,
        v_template=np.zeros((10475, 3)),
        shapedirs=np.zeros((10475, 3, 10)),
        f=np.zeros((20908, 3), np.int32),
        joint2num=np.array({"pelvis": 0}, dtype=object),
    )
    with pytest.raises(BodyModelError) as info:
        load_smplx_model(path)
    text = str(info.value)
    assert "SMPL-X model (10475 vertices)" in text and "SMPL betas" in text and "https://smpl.is.tue.mpg.de" in text


def _bad_kintree() -> np.ndarray:
    kt = np.array([SMPL_PARENTS, np.arange(24)], dtype=np.int64)
    kt[0, 5] = 9
    return kt


@pytest.mark.parametrize(
    ("key", "value", "message"),
    [
        ("J_regressor", np.zeros((52, 6890)), "J_regressor: smplx's SMPL expects shape (24, 6890), got (52, 6890)"),
        (
            "posedirs",
            np.zeros((6890, 3, 486)),
            "posedirs: smplx's SMPL expects shape (6890, 3, 207), got (6890, 3, 486)",
        ),
        ("kintree_table", _bad_kintree(), "kintree_table: joint 5's parent 9 must come before it"),
        (
            "weights",
            np.full((6890, 24), 0.5),
            "weights: each vertex's skinning weights must sum to 1; vertex 0's sum to 12",
        ),
    ],
)
def test_skinning_arrays_smplx_cannot_use_are_named(tmp_path: Path, key: str, value: np.ndarray, message: str) -> None:
    path = tmp_path / "bad.npz"
    np.savez(path, **(full_arrays() | {key: value}))
    with pytest.raises(BodyModelError, match=re.escape(message)) as info:
        load_smplx_model(path)
    assert str(path) in str(info.value)


def test_with_smplx_needs_the_skinning_arrays(smpl_npz: Path, tmp_path: Path) -> None:
    path = tmp_path / "shape_only.npz"
    np.savez(path, **model_arrays())
    with pytest.raises(BodyModelError, match="smplx's SMPL needs J_regressor"):
        with_smplx(load_body_model(path))
    assert with_smplx(load_body_model(smpl_npz)).smpl.get_num_verts() == N_SIDES * N_RINGS + 2
