"""Body measurements against closed-form answers.

The body model is a generated SMPL-layout file: a stack of R similar N-gon rings (a pile of pyramid frustums)
closed by two flat caps with a centre vertex each, so R·N + 2 = 6890 vertices and 2·R·N = 13776 faces —
exactly SMPL's counts, as any closed genus-0 triangle mesh with 6890 vertices must have. Vertex ids are
shuffled, then the measurement vertices are put where the virtual measurements look for them (411 top
centre, 3466 bottom centre, 6489 / 3501 / 1210 on the chest / waist / hip rings). Its volume is Σ frustums,
its ring sections are regular N-gons (their own convex hull), and betas[0] / betas[1] scale height / radius
linearly, so every measurement is known exactly.
"""

from __future__ import annotations

import math
import pickle
import re
import time
from pathlib import Path

import numpy as np
import pytest
import scipy.sparse

from workbench.body import (
    BODY_DENSITY_KG_M3,
    BodyModelError,
    MeasurementError,
    Measurements,
    check_mesh,
    circumference_at,
    estimate_body,
    load_body_model,
    mean_betas,
    measure_betas,
    measure_landmarks,
    measure_mesh,
)
from workbench.body.measurements import EYE_HEIGHT_RATIO
from workbench.errors import WorkbenchError
from workbench.motion.context import morph_context
from workbench.pose.landmarks import MP_INDEX, N_LANDMARKS, LandmarkTrack

N_SIDES, N_RINGS = 56, 123  # 56 × 123 + 2 = 6890
HEIGHT, Y_BOTTOM = 1.70, -1.15  # template height (m) and where its soles are (SMPL's origin is near the pelvis)
K_HEIGHT, K_RADIUS = 0.05, 0.08  # shapedirs: height × (1 + 0.05 β0), radii × (1 + 0.08 β1)
RINGS = {"hips": 58, "waist": 70, "chest": 88}  # ring index of the crotch, belly-button and nipple planes
IDS = {"top": 411, "bottom": 3466, "chest": 6489, "waist": 3501, "hips": 1210}
SIN = math.sin(2 * math.pi / N_SIDES)


def radii(scale: float = 1.0) -> np.ndarray:
    """A body-like profile (m): thighs, hips, waist, chest; any positive profile would do."""
    u = np.linspace(0.0, 1.0, N_RINGS)
    return scale * (0.10 + 0.04 * np.sin(2.5 * math.pi * u) ** 2 + 0.03 * u)


def ring_mesh(r: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Canonical order: 0 bottom centre, 1 + k·N + j ring k vertex j, last top centre. Outward winding."""
    y = Y_BOTTOM + HEIGHT * np.arange(N_RINGS) / (N_RINGS - 1)
    th = 2 * math.pi * np.arange(N_SIDES) / N_SIDES
    ring = np.stack(
        [r[:, None] * np.cos(th), np.broadcast_to(y[:, None], (N_RINGS, N_SIDES)), r[:, None] * np.sin(th)], axis=-1
    ).reshape(-1, 3)
    verts = np.vstack([[0.0, y[0], 0.0], ring, [0.0, y[-1], 0.0]])
    idx = 1 + np.arange(N_RINGS * N_SIDES).reshape(N_RINGS, N_SIDES)
    a, b = idx[:-1], np.roll(idx[:-1], -1, axis=1)
    c, d = np.roll(idx[1:], -1, axis=1), idx[1:]
    top = len(verts) - 1
    faces = np.vstack(
        [
            np.stack([a, c, b], -1).reshape(-1, 3),
            np.stack([a, d, c], -1).reshape(-1, 3),
            np.stack([np.zeros(N_SIDES, int), idx[0], np.roll(idx[0], -1)], -1),
            np.stack([np.full(N_SIDES, top), np.roll(idx[-1], -1), idx[-1]], -1),
        ]
    )
    return verts, faces


def place_ids(n: int, seed: int = 0) -> np.ndarray:
    """new id of each canonical vertex: a random shuffle, then the measurement vertices swapped into place."""
    perm = np.random.default_rng(seed).permutation(n)
    wanted = {0: IDS["bottom"], n - 1: IDS["top"]}
    wanted |= {1 + RINGS[k] * N_SIDES + 7: IDS[k] for k in ("chest", "waist", "hips")}
    for old, new in wanted.items():
        holder = int(np.flatnonzero(perm == new)[0])
        perm[old], perm[holder] = perm[holder], perm[old]
    return perm


def model_arrays() -> dict[str, np.ndarray]:
    verts, faces = ring_mesh(radii())
    perm = place_ids(len(verts))
    v = np.empty_like(verts)
    v[perm] = verts
    shapedirs = np.zeros((len(v), 3, 10))
    shapedirs[:, 1, 0] = K_HEIGHT * v[:, 1]
    shapedirs[:, [0, 2], 1] = K_RADIUS * v[:, [0, 2]]
    return {"v_template": v, "shapedirs": shapedirs, "f": perm[faces].astype(np.int32)}


def expected(b0: float = 0.0, b1: float = 0.0) -> dict[str, float]:
    sh, sr = 1 + K_HEIGHT * b0, 1 + K_RADIUS * b1
    r = radii(sr)
    area = 0.5 * N_SIDES * SIN * r**2
    dh = sh * HEIGHT / (N_RINGS - 1)
    volume = float(np.sum(dh / 3 * (area[:-1] + area[1:] + 0.5 * N_SIDES * SIN * r[:-1] * r[1:])))
    side = 2 * math.sin(math.pi / N_SIDES)
    return {
        "height_m": sh * HEIGHT,
        "mass_kg": BODY_DENSITY_KG_M3 * volume,
        **{f"{k}_m": N_SIDES * side * r[RINGS[k]] for k in ("chest", "waist", "hips")},
    }


def measured(m: Measurements) -> dict[str, float | None]:
    return {
        "height_m": m.height_m,
        "mass_kg": m.mass_kg,
        "chest_m": m.chest_m,
        "waist_m": m.waist_m,
        "hips_m": m.hips_m,
    }


def assert_close(m: Measurements, want: dict[str, float], rel: float = 1e-6) -> None:
    got = measured(m)
    for key, value in want.items():
        assert got[key] == pytest.approx(value, rel=rel), key


@pytest.fixture(scope="module")
def model_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("body") / "smpl_test.npz"
    np.savez(path, **model_arrays())
    return path


# ------------------------------------------------------------------------------------------ mesh path


def test_generated_model_is_smpl_sized_closed_and_outward() -> None:
    arrays = model_arrays()
    assert arrays["v_template"].shape == (6890, 3) and arrays["f"].shape == (13776, 3)
    check = check_mesh(arrays["v_template"], arrays["f"].astype(np.int64))
    assert check.closed and check.oriented and check.signed_volume_m3 > 0 and not check.problems()


@pytest.mark.parametrize(("b0", "b1"), [(0.0, 0.0), (2.0, 0.0), (0.0, -1.5), (-1.0, 2.5)])
def test_virtual_measurements_match_closed_form(model_file: Path, b0: float, b1: float) -> None:
    model = load_body_model(model_file)
    betas = np.zeros(10)
    betas[:2] = b0, b1
    m = measure_betas(model, betas)
    assert_close(m, expected(b0, b1))
    assert m.method == "mesh" and m.mass_source == "volume" and not m.warnings


def test_betas_move_the_measurements_as_designed(model_file: Path) -> None:
    model = load_body_model(model_file)
    base = measure_betas(model, np.zeros(10))
    taller = measure_betas(model, np.r_[1.0, np.zeros(9)])
    wider = measure_betas(model, np.r_[0.0, 1.0, np.zeros(8)])
    assert taller.height_m / base.height_m == pytest.approx(1 + K_HEIGHT, rel=1e-9)
    assert taller.mass_kg / base.mass_kg == pytest.approx(1 + K_HEIGHT, rel=1e-9)  # type: ignore[operator]
    assert taller.chest_m == pytest.approx(base.chest_m, rel=1e-9)
    assert wider.height_m == pytest.approx(base.height_m, rel=1e-9)
    assert wider.waist_m / base.waist_m == pytest.approx(1 + K_RADIUS, rel=1e-9)  # type: ignore[operator]
    assert wider.mass_kg / base.mass_kg == pytest.approx((1 + K_RADIUS) ** 2, rel=1e-9)  # type: ignore[operator]


def test_betas_are_averaged_over_frames_like_the_paper(model_file: Path) -> None:
    model = load_body_model(model_file)
    frames = np.zeros((12, 10))
    frames[:, 0] = np.linspace(0.0, 2.0, 12)  # mean 1.0
    frames[:, 1] = np.where(np.arange(12) % 2, 1.0, -1.0) + 0.5  # mean 0.5
    frames[3] = np.nan  # a lost frame is skipped, not averaged
    beta_bar, n = mean_betas(frames)
    assert n == 11
    m = measure_betas(model, frames[[0, 1, 2, 4, 5, 6, 7, 8, 9, 10, 11]])
    assert_close(m, expected(float(beta_bar[0]), float(beta_bar[1])))
    assert m.n_frames == 11 and "over 11 frames" in m.source
    assert mean_betas(frames, window=2)[0][0] == pytest.approx(np.mean(frames[-2:, 0]))
    with pytest.raises(MeasurementError, match="no frame with finite"):
        mean_betas(np.full((3, 10), np.nan))


def test_section_between_rings_and_timing() -> None:
    arrays = model_arrays()
    v, f = arrays["v_template"], arrays["f"].astype(np.int64)
    r = radii()
    k, t = 30, 0.37  # a plane through no vertex: the frustum's section is the interpolated N-gon
    y = Y_BOTTOM + HEIGHT * (k + t) / (N_RINGS - 1)
    want = N_SIDES * 2 * math.sin(math.pi / N_SIDES) * ((1 - t) * r[k] + t * r[k + 1])
    assert circumference_at(v, f, y) == pytest.approx(want, rel=1e-9)
    assert circumference_at(v, f, Y_BOTTOM + HEIGHT + 0.1) is None  # above the head: nothing cut
    start = time.perf_counter()
    for _ in range(5):
        measure_mesh(v, f)
    assert (time.perf_counter() - start) / 5 < 0.5


def test_open_or_misoriented_mesh_is_reported() -> None:
    arrays = model_arrays()
    v, f = arrays["v_template"], arrays["f"].astype(np.int64)
    holed = measure_mesh(v, f[:-1])
    assert holed.mass_kg is None and any("not closed: 3 boundary edges" in w for w in holed.warnings)
    assert holed.to_context().startswith("User body: height 1.70m, mass not measured, chest ")
    flipped = f.copy()
    flipped[5] = flipped[5, ::-1]
    bad = measure_mesh(v, flipped)
    assert bad.mass_kg is None and any("not consistently oriented" in w for w in bad.warnings)
    inward = measure_mesh(v, f[:, ::-1])
    assert inward.mass_kg == pytest.approx(expected()["mass_kg"], rel=1e-9)
    assert any("wound inwards" in w for w in inward.warnings)


# ------------------------------------------------------------------------------------------ model file


def test_missing_file_names_it_and_where_smpl_comes_from(tmp_path: Path) -> None:
    path = tmp_path / "SMPL_MALE.npz"
    with pytest.raises(BodyModelError) as info:
        load_body_model(path)
    text = str(info.value)
    assert str(path) in text and "https://smpl.is.tue.mpg.de" in text and "never downloads" in text
    assert "SKEL reuses SMPL betas" in text and isinstance(info.value, WorkbenchError)


@pytest.mark.parametrize(
    ("key", "value", "message"),
    [
        ("v_template", np.zeros((6889, 3)), "v_template: expected shape (6890, 3), got (6889, 3)"),
        ("shapedirs", np.zeros((6890, 3, 5)), "shapedirs: expected (6890, 3, K) with K ≥ 10, got (6890, 3, 5)"),
        ("shapedirs", np.zeros((6890, 30)), "shapedirs: expected shape (6890, 3, K), got (6890, 30)"),
        ("f", np.zeros((13775, 3), int), "f: expected shape (13776, 3), got (13775, 3)"),
        ("f", np.full((13776, 3), 6890), "f: expected vertex indices in [0, 6890), got [6890, 6890]"),
        ("weights", np.zeros((6890,)), "weights: expected shape (6890, N), got (6890,)"),
    ],
)
def test_wrong_shapes_say_expected_and_got(tmp_path: Path, key: str, value: np.ndarray, message: str) -> None:
    arrays = model_arrays() | {key: value}
    path = tmp_path / "bad.npz"
    np.savez(path, **arrays)
    with pytest.raises(BodyModelError, match=re.escape(message)):
        load_body_model(path)


def test_missing_key_lists_the_keys(tmp_path: Path) -> None:
    arrays = model_arrays()
    del arrays["shapedirs"]
    path = tmp_path / "nokey.npz"
    np.savez(path, **arrays)
    with pytest.raises(BodyModelError, match=r"missing shapedirs .*got f, v_template"):
        load_body_model(path)


@pytest.mark.parametrize("protocol", [0, 2, 5])  # 0 and 2 as Python 2 wrote SMPL's pickles
def test_chumpy_free_pickle_loads_with_sparse_regressor(tmp_path: Path, protocol: int) -> None:
    arrays = model_arrays()
    arrays_pkl = arrays | {"J_regressor": scipy.sparse.csc_matrix(np.eye(24, 6890)), "kintree_table": np.zeros((2, 24))}
    path = tmp_path / "SMPL_TEST.pkl"
    path.write_bytes(pickle.dumps(arrays_pkl, protocol=protocol))
    model = load_body_model(path)
    assert model.extras["J_regressor"].shape == (24, 6890)
    assert_close(measure_betas(model, np.zeros(10)), expected())


def test_chumpy_pickle_explains_the_conversion(tmp_path: Path) -> None:
    path = tmp_path / "basicModel_m_lbs_10_207_0_v1.0.0.pkl"
    path.write_bytes(b"\x80\x02cchumpy.ch\nCh\nq\x00)\x81q\x01.")  # what SMPL's pickles reference
    with pytest.raises(BodyModelError) as info:
        load_body_model(path)
    text = str(info.value)
    assert str(path) in text and "chumpy" in text and "basicModel_m_lbs_10_207_0_v1.0.0.npz" in text


def test_other_suffixes_and_corrupt_files_are_refused(tmp_path: Path) -> None:
    obj, junk = tmp_path / "body.obj", tmp_path / "junk.pkl"
    obj.write_text("v 0 0 0")
    junk.write_bytes(b"not a pickle")
    with pytest.raises(BodyModelError, match=r"expected a \.npz or \.pkl .* got a '\.obj' file"):
        load_body_model(obj)
    with pytest.raises(BodyModelError, match="not a readable SMPL pickle"):
        load_body_model(junk)


def test_pickle_cannot_run_code(tmp_path: Path) -> None:
    path = tmp_path / "evil.pkl"
    path.write_bytes(b"\x80\x02cos\nsystem\nq\x00X\x04\x00\x00\x00trueq\x01\x85q\x02Rq\x03.")
    with pytest.raises(BodyModelError, match=re.escape("refusing to unpickle os.system")):
        load_body_model(path)


def test_betas_longer_than_the_model_are_refused(model_file: Path) -> None:
    with pytest.raises(BodyModelError, match="expected a vector of 1 to 10 coefficients"):
        load_body_model(model_file).shaped_vertices(np.zeros(11))


# ----------------------------------------------------------------------------------------------- C_morph


def test_context_is_the_papers_format_exactly() -> None:
    m = Measurements(
        height_m=1.78,
        mass_kg=73.22,
        chest_m=1.0,
        waist_m=0.83,
        hips_m=0.98,
        method="mesh",
        source="test",
        mass_source="volume",
    )
    paper = "User body: height 1.78m, mass 73.22kg, chest 1.00m, waist 0.83m, hips 0.98m."
    assert m.to_context() == paper
    assert morph_context(m.as_morph_dict()) == paper  # today's motion.context accepts it unchanged
    assert m.to_json()["context"] == paper


def test_landmark_context_states_method_and_uncertainty() -> None:
    m = Measurements(
        height_m=1.7449,
        mass_kg=None,
        chest_m=None,
        waist_m=None,
        hips_m=None,
        method="landmarks",
        source="t",
        height_sd_m=0.084,
        height_basis="estimated from segment lengths",
    )
    assert m.to_context() == (
        "User body: height 1.74 m (± 0.08 m, estimated from segment lengths), mass not "
        "measured, chest, waist and hips not measured (no body model)."
    )
    given = Measurements(
        height_m=1.7449,
        mass_kg=70.0,
        chest_m=None,
        waist_m=None,
        hips_m=None,
        method="landmarks",
        source="t",
        height_sd_m=0.054,
        height_basis="estimated",
        mass_source="user",
    )
    assert "mass 70.00kg (given by the user)" in given.to_context()
    assert m.as_morph_dict() is None
    told = Measurements(
        height_m=1.8,
        mass_kg=None,
        chest_m=None,
        waist_m=None,
        hips_m=None,
        method="landmarks",
        source="t",
        height_basis="given",
        height_source="given",
    )
    assert told.to_context().startswith("User body: height 1.80 m (given), mass not measured")
    assert told.to_json()["height_source"] == "given" and m.to_json()["height_source"] == "landmarks"


# ------------------------------------------------------------------------------------------ landmark path

STATURE = 1.76
SHOULDER_W, HIP_W = 0.39, 0.19


def standing_pose(stature: float, knee_flex_deg: float = 0.0) -> np.ndarray:
    """(33, 3) landmarks, y up from the floor, Drillis & Contini proportions; the knees flex by bending
    shank and thigh symmetrically (segment lengths kept), lowering everything above them."""
    h = stature
    shank, thigh = (0.285 - 0.039) * h, (0.530 - 0.285) * h
    half = math.radians(knee_flex_deg) / 2
    knee_y = 0.039 * h + shank * math.cos(half)
    hip_y = knee_y + thigh * math.cos(half)
    drop = 0.530 * h - hip_y
    p = np.zeros((N_LANDMARKS, 3))
    for side, sx in (("left", 1.0), ("right", -1.0)):
        put = {
            "heel": (0.09, 0.0, 0.06),
            "ankle": (0.09, 0.039 * h, 0.0),
            "foot_index": (0.1, 0.01, -0.15),
            "knee": (0.09, knee_y, -shank * math.sin(half)),
            "hip": (HIP_W / 2, hip_y, 0.0),
            "shoulder": (SHOULDER_W / 2, 0.818 * h - drop, 0.0),
            "elbow": (0.2, 0.630 * h - drop, 0.0),
            "wrist": (0.2, 0.485 * h - drop, 0.0),
            "eye": (0.03, EYE_HEIGHT_RATIO * h - drop, -0.08),
            "ear": (0.07, 0.93 * h - drop, 0.0),
            "pinky": (0.2, 0.44 * h - drop, 0.0),
            "index": (0.2, 0.43 * h - drop, 0.0),
            "thumb": (0.18, 0.45 * h - drop, 0.0),
            "eye_inner": (0.015, EYE_HEIGHT_RATIO * h - drop, -0.08),
            "eye_outer": (0.045, EYE_HEIGHT_RATIO * h - drop, -0.08),
            "mouth": (0.025, 0.88 * h - drop, -0.09),
        }
        for name, (x, y, z) in put.items():
            p[MP_INDEX[f"{name}_{side}" if name == "mouth" else f"{side}_{name}"]] = (sx * x, y, z)
    p[MP_INDEX["nose"]] = (0.0, 0.92 * h - drop, -0.11)
    return p


def to_mediapipe(pose: np.ndarray, tilt_deg: float, turn_deg: float) -> np.ndarray:
    """Hip-centred, y down, seen by a camera tilted about x and a person turned about the vertical."""
    p = pose - 0.5 * (pose[MP_INDEX["left_hip"]] + pose[MP_INDEX["right_hip"]])
    a, b = math.radians(turn_deg), math.radians(tilt_deg)
    turn = np.array([[math.cos(a), 0, math.sin(a)], [0, 1, 0], [-math.sin(a), 0, math.cos(a)]])
    tilt = np.array([[1, 0, 0], [0, math.cos(b), -math.sin(b)], [0, math.sin(b), math.cos(b)]])
    return (p @ turn.T @ tilt.T) * np.array([1.0, -1.0, 1.0])


def landmark_track(knee_flex: list[float], seed: int = 1, tilt_deg: float = 8.0) -> LandmarkTrack:
    rng = np.random.default_rng(seed)
    world = np.stack([to_mediapipe(standing_pose(STATURE, k), tilt_deg, turn_deg=30.0) for k in knee_flex])
    world += rng.normal(0.0, 0.004, world.shape)
    world[min(5, len(world) - 1)] = np.nan  # a frame without detection
    vis = np.full(world.shape[:2], 0.95)
    return LandmarkTrack(world=world, visibility=vis, t=np.arange(len(world)) / 30.0, source="generated")


def test_landmark_height_and_segments_from_standing_frames() -> None:
    flex = [0.0] * 20 + [95.0] * 40 + [3.0] * 15  # a squatter who stands at the start and the end
    m = measure_landmarks(landmark_track(flex))
    assert m.n_frames == 34  # 35 straight frames, one of them lost
    assert m.height_m == pytest.approx(STATURE, rel=0.02)
    assert abs(m.height_m - STATURE) < 0.01
    assert 0.08 < m.height_sd_m < 0.10  # type: ignore[operator]  # dominated by MediaPipe's 5 % scale
    assert m.segments_m["thigh"] == pytest.approx((0.530 - 0.285) * STATURE, abs=0.01)
    assert m.segments_m["shank"] == pytest.approx((0.285 - 0.039) * STATURE, abs=0.01)
    assert m.segments_m["shoulder_width"] == pytest.approx(SHOULDER_W, abs=0.01)
    assert m.segments_m["hip_width"] == pytest.approx(HIP_W, abs=0.01)
    assert all(s < 0.01 for s in m.segments_sd_m.values())
    assert m.to_context().startswith(
        "User body: height 1.76 m (± 0.09 m, estimated from standing height and segment lengths), mass not measured"
    )
    assert m.height_estimates[0].dimension == "standing" and m.height_estimates[0].weight > 0.5


def test_landmark_height_falls_back_to_segment_lengths_and_takes_user_mass() -> None:
    m = measure_landmarks(landmark_track([80.0] * 30), mass_kg=71.5)
    assert m.height_m == pytest.approx(STATURE, rel=0.02) and m.n_frames == 0
    assert "estimated from segment lengths" in m.to_context() and "mass 71.50kg (given by the user)" in m.to_context()
    assert m.warnings and "stands straight" in m.warnings[0]
    with pytest.raises(MeasurementError, match="expected a positive number"):
        measure_landmarks(landmark_track([0.0] * 3), mass_kg=-1.0)


def test_no_legs_seen_measures_trunk_and_arms_and_nothing_seen_is_a_clear_error() -> None:
    track = landmark_track([0.0] * 5)
    hidden = track.visibility.copy()
    hidden[:, MP_INDEX["left_knee"]] = hidden[:, MP_INDEX["right_knee"]] = 0.1  # upper-body framing
    upper = measure_landmarks(LandmarkTrack(world=track.world, visibility=hidden, t=track.t, source="x"))
    assert {e.dimension for e in upper.height_estimates} == {"trunk", "upper_arm", "forearm"}
    assert upper.height_m == pytest.approx(STATURE, rel=0.03) and upper.height_sd_m > 0.1  # type: ignore[operator]
    nothing = np.full_like(track.visibility, 0.1)
    with pytest.raises(MeasurementError, match="no frame with a leg, the trunk or an arm visible"):
        measure_landmarks(LandmarkTrack(world=track.world, visibility=nothing, t=track.t, source="x"))


def test_side_view_measures_the_visible_leg_and_a_plank_is_not_standing() -> None:
    track = landmark_track([0.0] * 20 + [95.0] * 10)
    world, vis = track.world.copy(), track.visibility.copy()
    far = [MP_INDEX[f"right_{p}"] for p in ("knee", "ankle", "heel")]
    vis[:, far] = 0.2  # hidden behind the near leg: MediaPipe's guess for it is ignored…
    world[:, far] += np.array([0.0, -0.15, 0.2])  # …however wrong it is
    side = measure_landmarks(LandmarkTrack(world=world, visibility=vis, t=track.t, source="side"))
    assert side.n_frames == 19 and side.height_m == pytest.approx(STATURE, rel=0.02)
    plank = measure_landmarks(landmark_track([0.0] * 10, tilt_deg=85.0))  # straight but horizontal
    assert plank.n_frames == 0 and "estimated from segment lengths" in plank.to_context()


def test_estimate_body_picks_the_best_available_and_never_raises(model_file: Path) -> None:
    model, track = load_body_model(model_file), landmark_track([0.0] * 10)
    betas = np.zeros((4, 10))
    mesh, warnings = estimate_body(betas=betas, landmarks=track, model=model)
    assert mesh is not None and mesh.method == "mesh" and not warnings
    assert mesh.mass_kg == pytest.approx(expected()["mass_kg"], rel=1e-9)
    weighed, _ = estimate_body(betas=betas, model=model, mass_kg=68.0)
    assert weighed is not None and "mass 68.00kg (given by the user)" in weighed.to_context()
    estimate, warnings = estimate_body(betas=betas, landmarks=track)
    assert estimate is not None and estimate.method == "landmarks" and "no body model file" in warnings[0]
    assert estimate_body() == (None, [])
    lost, warnings = estimate_body(betas=np.full((3, 10), np.nan), model=model)
    assert lost is None and "no frame with finite shape coefficients" in warnings[0]
