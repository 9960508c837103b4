"""Property tests over the two readers that take whole files from users: the pose ``.npz`` reader and the YAML
rule import. Whatever the bytes or the values, a reader either returns a valid result or raises its own
error (PoseFileError / ValidationError: the CLI's one line) — never another exception, and never a track
outside the input limits. Bounded examples, derandomised (the same cases on every run)."""

from __future__ import annotations

import contextlib
import io
import math
import zipfile
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from workbench.config import current_limits
from workbench.errors import PoseFileError
from workbench.pose.posefile import load_npz
from workbench.skeleton import N_DOFS
from workbench.store.database import ValidationError
from workbench.store.rules import read_rule_file

REPO = Path(__file__).resolve().parents[2]
FUZZ = settings(
    max_examples=150,
    derandomize=True,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

DTYPES = st.sampled_from(["<f8", "<f4", "<f2", "<i8", "<i1", "|b1", "<c16", "<U3", "|O"])
SPECIAL = st.sampled_from([0.0, -0.0, 1.0, -1.0, 0.5, 1e-300, 1e300, math.nan, math.inf, -math.inf, 30.0, 1e5])


@st.composite
def arrays(draw: st.DrawFn, frames: int) -> np.ndarray:
    """Small arrays of any dtype, shapes near the format's, values mixing plausible and hostile numbers."""
    shape = draw(
        st.sampled_from(
            [
                (),
                (frames,),
                (frames, N_DOFS),
                (frames, 10),
                (N_DOFS,),
                (frames, 45),
                (1,),
                (0, N_DOFS),
                (frames, N_DOFS, 1),
            ]
        )
    )
    dtype = draw(DTYPES)
    size = int(np.prod(shape)) if shape else 1
    values = draw(st.lists(st.one_of(SPECIAL, st.floats(-10, 10)), min_size=size, max_size=size))
    base = np.array(values, dtype=np.float64).reshape(shape)
    if dtype == "|O":
        return np.array(base.tolist(), dtype=object) if shape else np.array(None, dtype=object)
    if dtype == "<U3":
        return base.astype("<U3")
    with np.errstate(invalid="ignore", over="ignore"):
        return base.astype(dtype)


KEYS = ("q", "fps", "t", "observed", "confidence", "betas", "source", "dof_confidence", "extra")


@st.composite
def pose_files(draw: st.DrawFn) -> dict[str, np.ndarray]:
    """A valid file (q, and fps or t) with one or two keys replaced by anything, or anything at all."""
    frames = draw(st.integers(0, 6))
    if draw(st.integers(0, 3)) == 0:
        keys = draw(st.sets(st.sampled_from(KEYS), min_size=1, max_size=5))
        return {k: draw(arrays(frames)) for k in keys}
    n = max(frames, 2)
    out: dict[str, np.ndarray] = {"q": np.full((n, N_DOFS), draw(st.sampled_from([0.0, 0.3, -0.2])))}
    if draw(st.booleans()):
        out["fps"] = np.array(30.0)
    else:
        out["t"] = np.arange(n) / 30.0
    for key in draw(st.lists(st.sampled_from(KEYS), max_size=2)):
        if draw(st.booleans()):
            out.pop(key, None)
        else:
            out[key] = draw(arrays(n))
    return out


def _write_npz(path: Path, arrays: dict[str, np.ndarray]) -> None:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for key, value in arrays.items():
            member = io.BytesIO()
            np.save(member, value, allow_pickle=True)  # a hostile file may hold pickles: the reader must refuse
            archive.writestr(f"{key}.npy", member.getvalue())
    path.write_bytes(buffer.getvalue())


def _check_track_invariants(track: Any) -> None:
    lim = current_limits()
    assert track.q.shape == (track.n_frames, N_DOFS) and 2 <= track.n_frames <= lim.max_frames
    assert track.q.dtype == np.float64 and not np.isinf(track.q).any()
    assert np.isfinite(track.t).all() and (np.diff(track.t) > 0).all() and track.t[0] >= 0
    assert track.t[-1] - track.t[0] <= lim.max_duration_s
    assert len(track.source) <= lim.max_string_chars
    assert (np.isfinite(track.fps) and lim.min_fps <= track.fps <= lim.max_fps) or not track.is_uniform


@FUZZ
@given(content=pose_files())
def test_the_pose_reader_returns_a_valid_track_or_a_pose_file_error(
    content: dict[str, np.ndarray], tmp_path: Path
) -> None:
    path = tmp_path / "fuzz.npz"
    _write_npz(path, content)
    try:
        track = load_npz(path)
    except PoseFileError as exc:
        assert str(path) in str(exc) and "\n" not in str(exc)
        return
    _check_track_invariants(track)


@FUZZ
@given(data=st.binary(max_size=400), keep=st.integers(0, 2000))
def test_the_pose_reader_refuses_arbitrary_and_truncated_bytes(data: bytes, keep: int, tmp_path: Path) -> None:
    buffer = io.BytesIO()
    np.savez(buffer, q=np.zeros((5, N_DOFS)), fps=np.array(30.0))
    good = buffer.getvalue()
    for blob in (data, good[:keep] + data, good[:keep]):
        path = tmp_path / "bytes.npz"
        path.write_bytes(blob)
        with contextlib.suppress(PoseFileError):
            _check_track_invariants(load_npz(path))


# ---------------------------------------------------------------------------------------------- rule import


SQUAT = yaml.safe_load((REPO / "references" / "exercises" / "squat.yaml").read_text(encoding="utf-8"))
VALUES = st.recursive(
    st.one_of(
        st.none(),
        st.booleans(),
        st.integers(-(10**6), 10**6),
        st.floats(allow_nan=True, allow_infinity=True),
        st.text(max_size=12),
    ),
    lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=6), inner, max_size=3)),
    max_leaves=12,
)
PLACES = [
    ("constraints", 0, "bounds_deg"),
    ("constraints", 0, "dof"),
    ("constraints", 0, "kind"),
    ("constraints", 0, "key_frame"),
    ("constraints", 0, "both_sides"),
    ("constraints", 0, "version"),
    ("constraints", 4, "max_std_deg"),
    ("constraints", 2, "tolerance_deg"),
    ("cycle", "period_s"),
    ("cycle", "signal"),
    ("cycle", "kind"),
    ("cycle", "prominence_deg"),
    ("key_frames", 0, "at"),
    ("key_frames",),
    ("constraints",),
    ("cycle",),
    ("salient_joints",),
    ("dynamic_joints",),
    ("key",),
    ("store",),
    ("sources",),
    ("reference",),
    ("laterality",),
    ("name",),
]


def _set(doc: Any, place: tuple[Any, ...], value: Any) -> None:
    for step in place[:-1]:
        doc = doc[step]
    doc[place[-1]] = value


@FUZZ
@given(place=st.sampled_from(PLACES), value=VALUES)
def test_the_rule_import_names_a_bad_value_or_accepts_a_good_one(
    place: tuple[Any, ...], value: Any, tmp_path: Path
) -> None:
    import copy

    doc = copy.deepcopy(SQUAT)
    _set(doc, place, value)
    path = tmp_path / "squat.yaml"
    path.write_text(yaml.safe_dump(doc, allow_unicode=True), encoding="utf-8")
    try:
        read_rule_file(path)
    except ValidationError as exc:
        assert str(path) in str(exc)


@FUZZ
@given(text=st.text(max_size=300))
def test_the_rule_import_refuses_arbitrary_text(text: str, tmp_path: Path) -> None:
    path = tmp_path / "squat.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ValidationError):
        read_rule_file(path)
