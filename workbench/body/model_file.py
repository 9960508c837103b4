"""A user-supplied SMPL-layout body model file: the template mesh, its shape blend shapes and its faces.

SKEL reuses SMPL's betas and SMPL's skin topology (6,890 vertices, 13,776 faces), so the virtual
measurements of the shaped mesh need only SMPL's v_template, shapedirs and f. No package legitimately
ships SMPL: the user registers at https://smpl.is.tue.mpg.de and passes the file; the project never
downloads it.

This module reads and checks the file without torch and shapes the mesh from its plain arrays
(v_template + shapedirs·β, ``BodyModel.engine == "arrays"``). ``workbench.body.smplx_model`` runs the same
arrays through ``smplx`` (the reference SMPL implementation) when the file has SMPL's skinning arrays; the
analysis uses that.

Accepted files:
- ``.npz`` with v_template (6890×3), shapedirs (6890×3×K, K ≥ 10), f (13776×3); J_regressor, weights,
  posedirs and kintree_table are optional and only checked for consistency.
- ``.pkl`` as SMPL ships it, but only when it unpickles without chumpy (plain numpy / scipy.sparse
  arrays). SMPL's original pickles hold chumpy objects, and chumpy does not import on Python 3.11; the
  error says how to convert such a file once into an ``.npz``.
An SMPL-X file (10,475 vertices) is refused with its reason: SKEL/HSMR betas are SMPL betas and shape only SMPL.
"""

from __future__ import annotations

import io
import pickle
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from workbench.errors import WorkbenchError

N_VERTICES = 6890
SMPLX_VERTICES = 10475
N_FACES = 13776
MIN_BETAS = 10
REQUIRED_KEYS = ("v_template", "shapedirs", "f")
OPTIONAL_KEYS = ("J_regressor", "weights", "posedirs", "kintree_table")
SMPL_URL = "https://smpl.is.tue.mpg.de"

_WHERE = (
    f"SMPL is obtained from {SMPL_URL} (free registration, research licence); SKEL reuses SMPL betas, so use "
    "the SMPL model of the gender your SKEL/HSMR output was fitted with (HSMR: male). "
    "BioCoach never downloads it."
)
_CONVERT = (
    "Convert it once where chumpy imports (Python ≤ 3.10, `pip install chumpy`): "
    "python -c \"import pickle, numpy as np; d = pickle.load(open('{pkl}', 'rb'), encoding='latin1'); "
    "np.savez('{npz}', **{{k: (v.toarray() if hasattr(v, 'toarray') else np.asarray(getattr(v, 'r', v))) "
    "for k, v in d.items() if k in ('v_template', 'shapedirs', 'f', 'J_regressor', 'weights', 'posedirs', "
    "'kintree_table')}})\" — or strip chumpy with smplx's tools/clean_ch.py — and pass the .npz."
)


class BodyModelError(WorkbenchError):
    """A body model file is missing, unreadable or not SMPL-layout."""


FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]


@dataclass(frozen=True, eq=False)
class BodyModel:
    """The parts of an SMPL-layout model that shape the zero-pose mesh (y up, metres)."""

    v_template: FloatArray  # (6890, 3)
    shapedirs: FloatArray  # (6890, 3, K)
    faces: IntArray  # (13776, 3)
    path: Path
    extras: dict[str, NDArray[Any]]  # optional keys that were present (J_regressor, weights, …)

    @property
    def n_betas(self) -> int:
        return int(self.shapedirs.shape[2])

    @property
    def engine(self) -> str:
        """What shapes the mesh: "arrays" (v_template + shapedirs·β here) or "smplx" (the subclass)."""
        return "arrays"

    def shaped_vertices(self, betas: NDArray[np.floating]) -> FloatArray:
        """Zero-pose shaped mesh v = v_template + shapedirs[..., :n] · β, with n = len(β)."""
        return self.plain_vertices(betas)

    def plain_vertices(self, betas: NDArray[np.floating]) -> FloatArray:
        """v_template + shapedirs[..., :n] · β from the file's arrays, whatever the engine."""
        b = self.checked_betas(betas)
        return self.v_template + self.shapedirs[:, :, : b.shape[0]] @ b

    def checked_betas(self, betas: NDArray[np.floating]) -> FloatArray:
        b = np.asarray(betas, dtype=np.float64)
        if b.ndim != 1 or not 1 <= b.shape[0] <= self.n_betas:
            raise BodyModelError(
                f"betas: expected a vector of 1 to {self.n_betas} coefficients "
                f"({self.path.name} has {self.n_betas}), got shape {b.shape}"
            )
        return b


def load_body_model(path: str | Path) -> BodyModel:
    """Load and validate an SMPL-layout body model (.npz, or a chumpy-free .pkl)."""
    p = Path(path).expanduser()
    if not p.is_file():
        raise BodyModelError(
            f"body model file not found: {p} (expected an SMPL-layout model: .npz with "
            f"v_template, shapedirs, f, or a chumpy-free SMPL .pkl). {_WHERE}"
        )
    readers = {".npz": _read_npz, ".pkl": _read_pkl}
    if p.suffix.lower() not in readers:
        raise BodyModelError(f"{p}: expected a .npz or .pkl SMPL-layout body model, got a '{p.suffix}' file")
    return _validated(readers[p.suffix.lower()](p), p)


def _read_npz(p: Path) -> dict[str, Any]:
    try:  # only the keys used are read (other files, SMPL-X's, also hold pickled objects); the rest are named
        with np.load(p, allow_pickle=False) as data:
            return {k: data[k] if k in (*REQUIRED_KEYS, *OPTIONAL_KEYS) else None for k in data.files}
    except (OSError, ValueError, zipfile.BadZipFile) as exc:
        raise BodyModelError(f"{p}: not a readable .npz body model ({exc})") from exc


# What array pickles reference besides numpy: object reconstruction (under its Python 2 names too, which the
# base class maps) and bytes written with protocol 2.
_SAFE_GLOBALS = {
    ("copyreg", "_reconstructor"),
    ("copy_reg", "_reconstructor"),
    ("builtins", "object"),
    ("__builtin__", "object"),
    ("_codecs", "encode"),
}


class _ArrayUnpickler(pickle.Unpickler):
    """Resolves only numpy and scipy.sparse classes: a model file must not run code on load, and a chumpy
    reference is reported as such rather than as a bare ModuleNotFoundError."""

    def __init__(self, file: io.BufferedReader, path: Path) -> None:
        super().__init__(file, encoding="latin1")  # SMPL's pickles were written by Python 2
        self.path = path

    def find_class(self, module: str, name: str) -> Any:
        if module.split(".")[0] == "chumpy":
            convert = _CONVERT.format(pkl=self.path.name, npz=self.path.with_suffix(".npz").name)
            raise BodyModelError(
                f"{self.path}: this SMPL pickle holds chumpy objects ({module}.{name}), which "
                f"cannot be loaded on Python 3.11. {convert}"
            )
        if module.startswith("scipy.sparse"):
            import scipy.sparse  # old pickles name private modules (scipy.sparse.csc) that may move

            return getattr(scipy.sparse, name)
        if module.split(".")[0] == "numpy" or (module, name) in _SAFE_GLOBALS:
            return super().find_class(module, name)
        raise BodyModelError(
            f"{self.path}: refusing to unpickle {module}.{name}; a body model pickle may "
            "hold only numpy / scipy.sparse arrays"
        )


def _read_pkl(p: Path) -> dict[str, Any]:
    try:
        with p.open("rb") as fh:
            data = _ArrayUnpickler(fh, p).load()
    except BodyModelError:
        raise
    except Exception as exc:  # a corrupt pickle can raise almost anything
        raise BodyModelError(f"{p}: not a readable SMPL pickle ({type(exc).__name__}: {exc})") from exc
    if not isinstance(data, dict):
        raise BodyModelError(f"{p}: expected a dict of arrays, got {type(data).__name__}")
    return data


def _dense(value: Any) -> NDArray[Any]:
    return np.asarray(value.toarray() if hasattr(value, "toarray") else value)


def _validated(raw: dict[str, Any], p: Path) -> BodyModel:
    missing = [k for k in REQUIRED_KEYS if k not in raw]
    if missing:
        raise BodyModelError(
            f"{p}: missing {', '.join(missing)} (expected keys {', '.join(REQUIRED_KEYS)}; "
            f"got {', '.join(sorted(raw)) or 'none'})"
        )
    if np.ndim(raw["v_template"]) == 2 and np.shape(raw["v_template"])[0] == SMPLX_VERTICES:
        raise BodyModelError(
            f"{p}: an SMPL-X model ({SMPLX_VERTICES} vertices). The shape coefficients of a "
            "SKEL/HSMR track are SMPL betas, which shape only the SMPL model (6890 vertices): "
            f"pass SMPL instead. {_WHERE}"
        )
    v = _float_array(raw["v_template"], "v_template", (N_VERTICES, 3), p)
    s = _float_array(raw["shapedirs"], "shapedirs", (N_VERTICES, 3, None), p)
    if s.shape[2] < MIN_BETAS:
        raise BodyModelError(f"{p}: shapedirs: expected (6890, 3, K) with K ≥ {MIN_BETAS}, got {s.shape}")
    f = _faces(raw["f"], p)
    extras = {k: _dense(raw[k]) for k in OPTIONAL_KEYS if k in raw}
    _check_extras(extras, p)
    return BodyModel(v_template=v, shapedirs=s, faces=f, path=p, extras=extras)


def _shape_ok(shape: tuple[int, ...], expected: tuple[int | None, ...]) -> bool:
    return len(shape) == len(expected) and all(e is None or e == s for s, e in zip(shape, expected, strict=True))


def _shape_text(expected: tuple[int | None, ...], free: str = "K") -> str:
    return "(" + ", ".join(free if e is None else str(e) for e in expected) + ")"


def _float_array(value: Any, key: str, expected: tuple[int | None, ...], p: Path) -> FloatArray:
    a = _dense(value)
    if not _shape_ok(a.shape, expected):
        raise BodyModelError(f"{p}: {key}: expected shape {_shape_text(expected)}, got {a.shape}")
    if not np.issubdtype(a.dtype, np.number):
        raise BodyModelError(f"{p}: {key}: expected numbers, got dtype {a.dtype}")
    out = a.astype(np.float64)
    if not np.isfinite(out).all():
        raise BodyModelError(f"{p}: {key}: expected finite values, got NaN or inf")
    return out


def _faces(value: Any, p: Path) -> IntArray:
    a = _dense(value)
    if a.shape != (N_FACES, 3):
        raise BodyModelError(f"{p}: f: expected shape ({N_FACES}, 3), got {a.shape}")
    if not np.issubdtype(a.dtype, np.integer):
        raise BodyModelError(f"{p}: f: expected integer vertex indices, got dtype {a.dtype}")
    f = a.astype(np.int64)
    if f.min() < 0 or f.max() >= N_VERTICES:
        raise BodyModelError(f"{p}: f: expected vertex indices in [0, {N_VERTICES}), got [{f.min()}, {f.max()}]")
    return f


def _check_extras(extras: dict[str, NDArray[Any]], p: Path) -> None:
    """The optional arrays are not used here, but a file whose skinning parts disagree with its mesh is
    not the SMPL layout the user thinks it is."""
    expected = {
        "J_regressor": (None, N_VERTICES),
        "weights": (N_VERTICES, None),
        "posedirs": (N_VERTICES, 3, None),
        "kintree_table": (2, None),
    }
    for key, shape in expected.items():
        if key in extras and not _shape_ok(extras[key].shape, shape):
            raise BodyModelError(f"{p}: {key}: expected shape {_shape_text(shape, 'N')}, got {extras[key].shape}")
