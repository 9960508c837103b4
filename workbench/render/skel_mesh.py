"""The SKEL bone mesh of a user's SKEL model file, posed on our forward-kinematics skeleton.

SKEL (Keller et al., SIGGRAPH Asia 2023; https://skel.is.tue.mpg.de) ships ``skel_male.pkl`` and
``skel_female.pkl`` (v1.1.1). They are not redistributable and never downloaded: a user who has them sets
``skel_model_dir`` in biocoach.yaml (``workbench.config``), and the 3D view (``render.skeleton3d``) then draws
the bones as a mesh instead of sticks alone. No SKEL code is used; what is read from the file:

  skel_template_v (Nk, 3), skel_template_f (F, 3)   the bone mesh; each vertex in its bone's own frame (origin at
                                                    the bone's joint, axes of the bone's OpenSim body)
  skel_weights_rigid or skel_weights (Nk, 24)       which bone each vertex belongs to (rigid: the largest weight)
  skin_template_v (6890, 3), J_regressor_osim (24, 6890)   the rest joints J = J_regressor_osim · skin_template_v
  osim_kintree_table (2, 24)                        parent (row 0) and id (row 1) of each joint
  apose_rel_transfo (24, 4, 4)                      each joint's offset in its parent's body (the bone vectors
                                                    the mesh was modelled along)
  per_joint_rot (24, 3, 3)                          each bone's learned rotation from its body frame to the
                                                    T-pose
  joints_name (24 names, optional)                  SKEL's joint names (pelvis, femur_r, …, hand_l)

Rest pose (SKEL's q = 0 T-pose, betas = 0, as SKEL places it): each bone's vertices are scaled in the bone's frame
(SKEL's bone scale: the template's joint distance over the modelled bone vector's length, 1 for the leaves and the
head and hand axes SKEL scales from the skin, which is 1 at betas = 0), turned by R = align(P·o, b)·P (P: the
bone's ``per_joint_rot``; o: the modelled vector to the child joint; b: the template's vector to the child
joint; align: the smallest rotation taking one direction onto the other; R = P for the pelvis, head, hands and
toes, whose orientation SKEL does not align) and put at the bone's joint. The ulna is aligned on elbow → wrist
and the thorax on the lumbar segment, as SKEL does. Shape coefficients (betas) are not applied: the template's
shape, at the clip's own segment lengths (below).

Posing (a display approximation, not SKEL's kinematics): each bone's rest piece is moved rigidly, with one
uniform scale, onto the segment of ``workbench.pose.fk``'s chain it belongs to (``PLACEMENTS``): the rest
segment (e.g. the femur's hip joint → knee joint in J) is turned onto the chain's rest segment (hip → knee at
q = 0; the same T-pose, so this turn is small), scaled to the chain's length, and then carried by the chain
segment's rotation since q = 0 (which holds the twist) about the chain's joint. So a tibia vertex moves by
exactly the knee's rotation about the knee joint, and the pieces meet at the chain's joints whatever the
clip's segment lengths. The spine is rigid (the chain's trunk), the scapulae ride on it, the talus, calcaneus
and toes move with the foot, ulna and radius with the forearm.

The mesh is decimated once per file (vertex clustering per bone, never merging two bones) to at most
``MAX_VERTICES`` vertices, a size a browser redraws on every cursor move (SKEL's bone mesh has about 49k).
"""

from __future__ import annotations

import io
import pickle
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from workbench.config import WHERE, Config, MissingModelError, load_config
from workbench.errors import WorkbenchError
from workbench.pose.fk import ADULT, Segments, elbow_rotation, joint_rotation, segment_frames, skel_landmarks
from workbench.pose.landmarks import MP_INDEX
from workbench.skeleton import JOINT_NAMES, N_DOFS, dof_index

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]

MAX_VERTICES = 4000  # per frame the browser gets x, y, z of these (about 100 kB of JSON) and the faces
GENDERS = ("male", "female")
DEFAULT_GENDER = "male"  # SKEL has no neutral model; HSMR fits the male one

# SKEL's 24 joints (= bones), in the file's order when the file names none.
SKEL_JOINTS: tuple[str, ...] = JOINT_NAMES  # the skeleton module's list: the same 24, in SKEL's order

# Bones whose rest orientation SKEL takes as modelled (not aligned on the template's bone vector).
_UNALIGNED = ("pelvis", "toes_r", "toes_l", "head", "hand_r", "hand_l")


class SkelModelError(WorkbenchError):
    """A SKEL model file is unreadable or not laid out as SKEL v1.1.1's."""


@dataclass(frozen=True)
class Placement:
    """Where a SKEL bone goes on our chain: the chain segment whose rotation carries it (``segment_frames``'
    names), the rest point (in SKEL's J, see ``rest_point``) put on the chain's point ``anchor`` (``chain_points``),
    and the rest segment turned and scaled onto the chain's segment (None: no turn, the scale of ``scale_of``)."""

    frame: str
    rest_anchor: str
    anchor: str
    rest_segment: tuple[str, str] | None
    segment: tuple[str, str] | None
    scale_of: str | None = None


def _placements() -> dict[str, Placement]:
    out = {
        "pelvis": Placement("pelvis", "mid_hip", "mid_hip", ("femur_r", "femur_l"), ("hip_r", "hip_l")),
        "head": Placement("head", "head", "head", None, None, scale_of="thorax"),
    }
    trunk = Placement("trunk", "mid_hip", "mid_hip", ("mid_hip", "mid_shoulder"), ("mid_hip", "mid_shoulder"))
    out.update(lumbar_body=trunk, thorax=trunk, scapula_r=trunk, scapula_l=trunk)
    for s in ("r", "l"):
        foot = Placement(f"foot_{s}", f"talus_{s}", f"ankle_{s}", None, None, scale_of=f"tibia_{s}")
        forearm = Placement(
            f"forearm_{s}", f"ulna_{s}", f"elbow_{s}", (f"ulna_{s}", f"hand_{s}"), (f"elbow_{s}", f"wrist_{s}")
        )
        out.update(
            {
                f"femur_{s}": Placement(
                    f"femur_{s}", f"femur_{s}", f"hip_{s}", (f"femur_{s}", f"tibia_{s}"), (f"hip_{s}", f"knee_{s}")
                ),
                f"tibia_{s}": Placement(
                    f"tibia_{s}", f"tibia_{s}", f"knee_{s}", (f"tibia_{s}", f"talus_{s}"), (f"knee_{s}", f"ankle_{s}")
                ),
                f"talus_{s}": foot,
                f"calcn_{s}": foot,
                f"toes_{s}": foot,
                f"humerus_{s}": Placement(
                    f"humerus_{s}",
                    f"humerus_{s}",
                    f"shoulder_{s}",
                    (f"humerus_{s}", f"ulna_{s}"),
                    (f"shoulder_{s}", f"elbow_{s}"),
                ),
                f"ulna_{s}": forearm,
                f"radius_{s}": forearm,
                f"hand_{s}": Placement(f"hand_{s}", f"hand_{s}", f"wrist_{s}", None, None, scale_of=f"ulna_{s}"),
            }
        )
    return out


# SKEL bone -> its place on the chain. A bone of another name rides on the pelvis.
PLACEMENTS: dict[str, Placement] = _placements()
_FALLBACK = Placement("pelvis", "mid_hip", "mid_hip", None, None)

# Points of the chain (SKEL world, origin at the hip centre) that placements use.
CHAIN_POINTS: tuple[str, ...] = (
    "mid_hip",
    "mid_shoulder",
    "head",
    *(f"{j}_{s}" for s in ("r", "l") for j in ("hip", "knee", "ankle", "shoulder", "elbow", "wrist")),
)


@dataclass(frozen=True, eq=False)
class BoneMesh:
    """A SKEL bone mesh, decimated, in SKEL's rest pose (SKEL world: metres, x left, y up, z forward), ready to be
    posed by ``posed_vertices``. ``bone`` indexes ``bone_names``; ``joints`` are SKEL's rest joints (24, 3)."""

    path: Path
    gender: str
    vertices: FloatArray
    faces: IntArray
    bone: IntArray
    bone_names: tuple[str, ...]
    joints: FloatArray
    n_source_vertices: int
    gender_stated: bool = False  # False: DEFAULT_GENDER, the clip said none

    @property
    def n_vertices(self) -> int:
        return int(self.vertices.shape[0])

    def describe(self) -> str:
        """One line for a legend: the model, its gender (and whether it was the default) and its size."""
        how = "" if self.gender_stated else ", the default: the clip states none"
        return f"SKEL bones ({self.gender}{how}; {self.n_vertices} of {self.n_source_vertices} vertices)"


# ------------------------------------------------------------------------------------------- loading


_ALLOWED_NUMPY = {"_reconstruct", "ndarray", "dtype", "scalar", "_frombuffer", "frombuffer"}
_ALLOWED_BUILTINS = {"object", "set", "frozenset", "slice", "range", "complex", "bytearray", "tuple", "list", "dict"}


class _ArraysOnly(pickle.Unpickler):
    """Unpickles numpy arrays, scipy sparse matrices and plain containers; refuses any other class (a pickle can
    run code, and a SKEL file holds nothing else)."""

    def find_class(self, module: str, name: str) -> Any:
        ok = (
            (module.split(".")[0] == "numpy" and name in _ALLOWED_NUMPY)
            or (module.startswith("scipy.sparse") and (name.endswith("_matrix") or name.endswith("_array")))
            or (module == "builtins" and name in _ALLOWED_BUILTINS)
            or (module == "copyreg" and name == "_reconstructor")
            or (module == "_codecs" and name == "encode")  # bytes in protocol-2 pickles
            or (module == "collections" and name == "OrderedDict")
        )
        if not ok:
            raise pickle.UnpicklingError(f"refusing {module}.{name}: a SKEL model file holds only arrays")
        return super().find_class(module, name)


_REQUIRED = (
    "skel_template_v",
    "skel_template_f",
    "skin_template_v",
    "J_regressor_osim",
    "osim_kintree_table",
    "apose_rel_transfo",
    "per_joint_rot",
)


def _where() -> str:
    return WHERE["skel_model_dir"]


def read_skel_file(path: str | Path) -> dict[str, Any]:
    """The arrays of a SKEL model pickle (latin-1 strings, as SKEL's Python 2-era files need), sparse matrices made
    dense; a SkelModelError naming the file when it is not one."""
    p = Path(path)
    try:
        raw = p.read_bytes()
    except OSError as exc:
        raise SkelModelError(f"{p}: cannot read the SKEL model file ({exc.strerror}). It is {_where()}.") from None
    try:
        data = _ArraysOnly(io.BytesIO(raw), encoding="latin1").load()
    except Exception as exc:  # any unpickling failure: a truncated, foreign or hostile file
        raise SkelModelError(
            f"{p}: not a readable SKEL model pickle ({type(exc).__name__}: {exc}). Expected {_where()}."
        ) from None
    if not isinstance(data, Mapping):
        raise SkelModelError(f"{p}: expected a SKEL model (a dict of arrays), got {type(data).__name__}. {_where()}.")
    missing = [k for k in _REQUIRED if k not in data]
    if "skel_weights_rigid" not in data and "skel_weights" not in data:
        missing.append("skel_weights_rigid (or skel_weights)")
    if missing:
        raise SkelModelError(f"{p}: not a SKEL v1.1.1 model file: missing {', '.join(missing)}. Expected {_where()}.")
    return {k: (v.toarray() if hasattr(v, "toarray") else v) for k, v in data.items()}


def _array(data: Mapping[str, Any], key: str, shape: tuple[int | None, ...], path: Path) -> FloatArray:
    try:
        arr = np.asarray(data[key], dtype=np.float64)
    except (TypeError, ValueError):
        raise SkelModelError(f"{path}: {key} is not a numeric array. Expected {_where()}.") from None
    if arr.ndim != len(shape) or any(n is not None and n != m for n, m in zip(shape, arr.shape, strict=True)):
        want = "(" + ", ".join("N" if n is None else str(n) for n in shape) + ")"
        raise SkelModelError(f"{path}: {key}: expected shape {want}, got {arr.shape}. Expected {_where()}.")
    return arr


def _align(a: FloatArray, b: FloatArray) -> FloatArray:
    """The smallest rotation taking direction ``a`` onto direction ``b`` (identity for a zero vector)."""
    na, nb = float(np.linalg.norm(a)), float(np.linalg.norm(b))
    if na < 1e-12 or nb < 1e-12:
        return np.eye(3)
    u, w = a / na, b / nb
    v = np.cross(u, w)
    c = float(u @ w)
    s = float(np.linalg.norm(v))
    if s < 1e-12:
        if c > 0:
            return np.eye(3)
        axis = np.cross(u, np.eye(3)[int(np.argmin(np.abs(u)))])  # any axis perpendicular to u: turn by π
        axis /= np.linalg.norm(axis)
        return np.asarray(2.0 * np.outer(axis, axis) - np.eye(3))
    k = np.array([[0.0, -v[2], v[1]], [v[2], 0.0, -v[0]], [-v[1], v[0], 0.0]])
    return np.asarray(np.eye(3) + k + k @ k * ((1.0 - c) / s**2))


@dataclass(frozen=True)
class _Tree:
    names: tuple[str, ...]
    parent: IntArray  # -1 for the root
    child: IntArray  # the first child; -1 for a leaf


def _tree(data: Mapping[str, Any], n: int, path: Path) -> _Tree:
    names_raw = data.get("joints_name")
    names = tuple(str(x) for x in names_raw) if names_raw is not None else SKEL_JOINTS[:n]
    if len(names) != n:
        raise SkelModelError(f"{path}: joints_name has {len(names)} names for {n} joints. Expected {_where()}.")
    table = np.asarray(data["osim_kintree_table"]).astype(np.int64)
    if table.shape != (2, n):
        raise SkelModelError(f"{path}: osim_kintree_table: expected shape (2, {n}), got {table.shape}.")
    col = {int(table[1, c]): c for c in range(n)}
    parent = np.full(n, -1, dtype=np.int64)
    child = np.full(n, -1, dtype=np.int64)
    for c in range(1, n):
        p = col.get(int(table[0, c]))
        if p is None:
            raise SkelModelError(f"{path}: osim_kintree_table: joint {c}'s parent {table[0, c]} is not a joint.")
        parent[c] = p
        if child[p] < 0:
            child[p] = c
    return _Tree(names, parent, child)


def rest_vertices(data: Mapping[str, Any], path: Path) -> tuple[FloatArray, IntArray, IntArray, FloatArray, _Tree]:
    """SKEL's rest-pose (q = 0, betas = 0) bone mesh: vertices (Nk, 3) in SKEL world, faces, each vertex's bone,
    the rest joints J (24, 3) and the tree (module docstring, "Rest pose")."""
    verts = _array(data, "skel_template_v", (None, 3), path)
    faces = np.asarray(data["skel_template_f"]).astype(np.int64)
    if faces.ndim != 2 or faces.shape[1] != 3 or faces.size == 0 or faces.min() < 0 or faces.max() >= len(verts):
        raise SkelModelError(f"{path}: skel_template_f: expected (F, 3) indices into {len(verts)} vertices.")
    skin = _array(data, "skin_template_v", (None, 3), path)
    reg = _array(data, "J_regressor_osim", (None, skin.shape[0]), path)
    n = reg.shape[0]
    weights_key = "skel_weights_rigid" if "skel_weights_rigid" in data else "skel_weights"
    weights = _array(data, weights_key, (verts.shape[0], n), path)
    rel = _array(data, "apose_rel_transfo", (n, 4, 4), path)[:, :3, 3]
    rot = _array(data, "per_joint_rot", (n, 3, 3), path)
    tree = _tree(data, n, path)
    joints = reg @ skin
    local = joints.copy()
    local[1:] = joints[1:] - joints[tree.parent[1:]]  # each joint from its parent
    index = {name: i for i, name in enumerate(tree.names)}

    def toward_child(vectors: FloatArray) -> FloatArray:
        out = np.zeros_like(vectors)
        has = tree.child >= 0
        out[has] = vectors[tree.child[has]]
        for ulna, radius in (("ulna_r", "radius_r"), ("ulna_l", "radius_l")):  # the ulna spans elbow → wrist
            if ulna in index and radius in index:
                out[index[ulna]] = out[index[ulna]] + out[index[radius]]
        return out

    bone_vec, model_vec = toward_child(local), toward_child(rel)
    if "thorax" in index and "lumbar_body" in index:
        bone_vec[index["thorax"]] = bone_vec[index["lumbar_body"]]
    orient = np.empty((n, 3, 3))
    for b in range(n):
        fixed = tree.names[b] in _UNALIGNED or tree.child[b] < 0
        orient[b] = rot[b] if fixed else _align(rot[b] @ model_vec[b], bone_vec[b]) @ rot[b]
    scale = _bone_scale(local, rel, tree, index)
    bone = np.argmax(weights, axis=1).astype(np.int64)
    scaled = verts * scale[bone]
    rest = np.einsum("nij,nj->ni", orient[bone], scaled) + joints[bone]
    return rest, faces, bone, joints, tree


def _bone_scale(local: FloatArray, rel: FloatArray, tree: _Tree, index: dict[str, int]) -> FloatArray:
    """(24, 3) SKEL's bone scale at betas = 0 (module docstring, "Rest pose")."""
    n = len(tree.names)
    scale = np.ones(n)
    for b in range(n):
        c = tree.child[b]
        if c >= 0:
            model = float(np.linalg.norm(rel[c]))
            scale[b] = float(np.linalg.norm(local[c])) / model if model > 1e-9 else 1.0
    for ulna, radius in (("ulna_r", "radius_r"), ("ulna_l", "radius_l")):
        if ulna in index and radius in index:
            scale[index[ulna]] = scale[index[radius]]
    out = np.repeat(scale[:, None], 3, axis=1)
    if "thorax" in index and "lumbar_body" in index:
        lumbar, thorax = index["lumbar_body"], index["thorax"]
        out[thorax] = scale[lumbar]
        model_y = abs(float(rel[lumbar, 1]))
        out[lumbar] = abs(float(local[lumbar, 1])) / model_y if model_y > 1e-9 else 1.0
        out[[lumbar, thorax], 0] = 1.0  # the width SKEL takes from the skin: the template's at betas = 0
    for name, axes in (("head", (0, 1, 2)), ("hand_r", (0, 1)), ("hand_l", (0, 1))):
        if name in index:
            out[index[name], list(axes)] = 1.0  # scaled from the skin in SKEL: 1 at betas = 0
    return out


def decimate(
    vertices: FloatArray, faces: IntArray, bone: IntArray, max_vertices: int
) -> tuple[FloatArray, IntArray, IntArray]:
    """At most ``max_vertices`` vertices by clustering on a grid, per bone (two bones never share a vertex): each
    cell's vertices become their mean, faces that collapse are dropped, duplicates kept once. The cell size is the
    smallest (to 1%) that fits."""
    used = np.unique(faces)
    if used.size <= max_vertices:
        remap = np.full(len(vertices), -1, dtype=np.int64)
        remap[used] = np.arange(used.size)
        return vertices[used], remap[faces], bone[used]

    def clusters(cell: float) -> tuple[IntArray, int]:
        keys = np.column_stack([bone, np.floor(vertices / cell).astype(np.int64)])
        _, inverse = np.unique(keys, axis=0, return_inverse=True)
        inverse = inverse.reshape(-1)
        return inverse, int(inverse.max()) + 1

    lo, hi = 0.0, float(np.ptp(vertices, axis=0).max()) + 1e-6
    for _ in range(40):
        mid = 0.5 * (lo + hi)
        if clusters(mid)[1] <= max_vertices:
            hi = mid
        else:
            lo = mid
        if hi - lo < 0.01 * hi:
            break
    inverse, k = clusters(hi)
    counts = np.bincount(inverse, minlength=k).astype(np.float64)
    sums = np.column_stack([np.bincount(inverse, weights=vertices[:, d], minlength=k) for d in range(3)])
    merged = np.asarray(sums / counts[:, None], dtype=np.float64)
    new_bone = np.zeros(k, dtype=np.int64)
    new_bone[inverse] = bone
    f = inverse[faces]
    keep = (f[:, 0] != f[:, 1]) & (f[:, 1] != f[:, 2]) & (f[:, 0] != f[:, 2])
    f = f[keep]
    _, first = np.unique(np.sort(f, axis=1), axis=0, return_index=True)
    f = f[np.sort(first)]
    used = np.unique(f)
    remap = np.full(k, -1, dtype=np.int64)
    remap[used] = np.arange(used.size)
    return merged[used], remap[f], new_bone[used]


@lru_cache(maxsize=4)
def _load(path: Path, stamp: tuple[int, int], gender: str, stated: bool, max_vertices: int) -> BoneMesh:
    del stamp  # part of the cache key only: a changed file is read again
    data = read_skel_file(path)
    rest, faces, bone, joints, tree = rest_vertices(data, path)
    v, f, b = decimate(rest, faces, bone, max_vertices)
    return BoneMesh(path, gender, v, f, b, tree.names, joints, int(rest.shape[0]), stated)


def load_bone_mesh(
    path: str | Path, *, gender: str = DEFAULT_GENDER, gender_stated: bool = True, max_vertices: int = MAX_VERTICES
) -> BoneMesh:
    """The decimated rest-pose bone mesh of one SKEL model file, read once per file (and again when it changes)."""
    p = Path(path).expanduser().resolve()
    try:
        st = p.stat()
    except OSError:
        raise MissingModelError(
            f"{p}: the SKEL model file does not exist. It is {_where()}; it is never downloaded."
        ) from None
    return _load(p, (st.st_mtime_ns, st.st_size), gender, gender_stated, max_vertices)


def clip_gender(result: Any) -> str | None:
    """The gender a clip's pose was fitted with, when its track says (``meta['gender']``: male or female)."""
    track = getattr(getattr(result, "estimate", None), "track", None)
    meta = getattr(track, "meta", None) or {}
    g = str(meta.get("gender", "")).lower()
    return g if g in GENDERS else None


def configured_bone_mesh(config: Config | None = None, gender: str | None = None) -> BoneMesh | None:
    """The bone mesh of the configured SKEL model (``skel_model_dir``; the configuration file found when ``config``
    is None), of ``gender`` (male when None: ``DEFAULT_GENDER``); None when no SKEL model is configured. A clear
    MissingModelError or SkelModelError, naming the file and where it comes from, when it is configured but
    missing or not a SKEL model."""
    cfg = config if config is not None else load_config()
    if cfg.skel_model_dir is None:
        return None
    folder = cfg.require("skel_model_dir")
    g = gender if gender in GENDERS else DEFAULT_GENDER
    file = folder / f"skel_{g}.pkl"
    if not file.is_file():
        raise MissingModelError(
            f"skel_model_dir: expected {file} (skel_model_dir is {folder}, set in {cfg.source}), but it does not "
            f"exist. It is {_where()}; it is never downloaded."
        )
    return load_bone_mesh(file, gender=g, gender_stated=gender in GENDERS)


# -------------------------------------------------------------------------------------------- posing


def _poses(q: FloatArray) -> FloatArray:
    arr = np.nan_to_num(np.asarray(q, dtype=np.float64))
    return arr[None, :] if arr.ndim == 1 else arr


def chain_frames(q: FloatArray, segments: Segments = ADULT) -> dict[str, FloatArray]:
    """``segment_frames`` (T, 3, 3) with the forearm and hand turned by ``segments``' own carrying angle."""
    poses = _poses(q)
    frames = dict(segment_frames(poses))
    if segments.carrying_angle_deg != ADULT.carrying_angle_deg:
        for s in ("r", "l"):
            forearm = frames[f"humerus_{s}"] @ elbow_rotation(
                poses[:, dof_index(f"elbow_flexion_{s}")], s, segments.carrying_angle_deg
            )
            frames[f"forearm_{s}"] = forearm
            frames[f"hand_{s}"] = forearm @ joint_rotation(poses, f"radius_{s}") @ joint_rotation(poses, f"hand_{s}")
    return frames


def chain_points(q: FloatArray, segments: Segments = ADULT) -> dict[str, FloatArray]:
    """The chain's points that placements use (``CHAIN_POINTS``), (T, 3) each, SKEL world, origin at the hip
    centre."""
    poses = _poses(q)
    lm = skel_landmarks(poses, segments)
    trunk = segment_frames(poses)["trunk"]
    out = {
        "mid_hip": np.zeros((poses.shape[0], 3)),
        "mid_shoulder": trunk @ np.array([0.0, segments.trunk, 0.0]),
        "head": trunk @ np.array([0.0, segments.trunk + segments.neck, 0.0]),
    }
    for s, word in (("r", "right"), ("l", "left")):
        for j in ("hip", "knee", "ankle", "shoulder", "elbow", "wrist"):
            out[f"{j}_{s}"] = lm[:, MP_INDEX[f"{word}_{j}"]]
    return out


def rest_point(mesh: BoneMesh, name: str) -> FloatArray:
    """A point of SKEL's rest skeleton: a joint of ``mesh.bone_names``, or mid_hip / mid_shoulder (between the two
    femur / humerus joints)."""
    idx = {n: i for i, n in enumerate(mesh.bone_names)}
    pairs = {"mid_hip": ("femur_r", "femur_l"), "mid_shoulder": ("humerus_r", "humerus_l")}
    if name in pairs:
        a, b = pairs[name]
        return np.asarray(0.5 * (mesh.joints[idx[a]] + mesh.joints[idx[b]]))
    return np.asarray(mesh.joints[idx[name]])


@lru_cache(maxsize=16)
def _rest_maps(mesh: BoneMesh, segments: Segments) -> tuple[tuple[Placement, ...], FloatArray, FloatArray]:
    """Per bone: its placement, rest anchor (3,) and rest map (3, 3): the turn and scale onto our rest segment."""
    rest = chain_points(np.zeros(N_DOFS), segments)
    known = set(mesh.bone_names)
    pairs_known = {"femur_r", "femur_l", "humerus_r", "humerus_l"} <= known

    def resolvable(name: str) -> bool:
        return name in known or (pairs_known and name in ("mid_hip", "mid_shoulder"))

    placements = tuple(PLACEMENTS.get(name, _FALLBACK) for name in mesh.bone_names)
    placements = tuple(pl if resolvable(pl.rest_anchor) else _FALLBACK for pl in placements)
    n = len(placements)
    anchors = np.zeros((n, 3))
    maps = np.tile(np.eye(3), (n, 1, 1))
    scales = np.ones(n)
    for k, pl in enumerate(placements):
        if resolvable(pl.rest_anchor):
            anchors[k] = rest_point(mesh, pl.rest_anchor)
        if pl.rest_segment is not None and pl.segment is not None and all(map(resolvable, pl.rest_segment)):
            a = rest_point(mesh, pl.rest_segment[1]) - rest_point(mesh, pl.rest_segment[0])
            b = rest[pl.segment[1]][0] - rest[pl.segment[0]][0]
            la = float(np.linalg.norm(a))
            if la > 1e-9:
                scales[k] = float(np.linalg.norm(b)) / la
                maps[k] = _align(a, b)
    index = {name: i for i, name in enumerate(mesh.bone_names)}
    for k, pl in enumerate(placements):
        if pl.rest_segment is None and pl.scale_of in index:
            scales[k] = scales[index[pl.scale_of]]
    return placements, anchors, maps * scales[:, None, None]


@lru_cache(maxsize=16)
def _rest_frames(segments: Segments) -> dict[str, FloatArray]:
    return chain_frames(np.zeros(N_DOFS), segments)


def posed_vertices(mesh: BoneMesh, q: FloatArray, segments: Segments = ADULT) -> FloatArray:
    """(N, 3) the mesh's vertices for one pose ``q`` (46,) on the chain with ``segments``: SKEL world (x left,
    y up, z forward), origin at the hip centre, as ``pose.fk.skel_landmarks`` (module docstring, "Posing")."""
    pose = _poses(q)[:1]
    placements, anchors, maps = _rest_maps(mesh, segments)
    frames, frames0 = chain_frames(pose, segments), _rest_frames(segments)
    points = chain_points(pose, segments)
    moves = np.stack([frames[pl.frame][0] @ frames0[pl.frame][0].T @ maps[k] for k, pl in enumerate(placements)])
    targets = np.stack([points[pl.anchor][0] for pl in placements])
    b = mesh.bone
    return np.asarray(np.einsum("nij,nj->ni", moves[b], mesh.vertices - anchors[b]) + targets[b])


__all__ = [
    "DEFAULT_GENDER",
    "MAX_VERTICES",
    "PLACEMENTS",
    "SKEL_JOINTS",
    "BoneMesh",
    "SkelModelError",
    "chain_frames",
    "chain_points",
    "clip_gender",
    "configured_bone_mesh",
    "decimate",
    "load_bone_mesh",
    "posed_vertices",
    "read_skel_file",
    "rest_vertices",
]
