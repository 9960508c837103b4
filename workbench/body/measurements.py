"""Body measurements for C_morph (§3.4.1): virtual measurements on the shaped mesh, or an estimate from landmarks.

Mesh path (Choutas et al., CVPR 2022, as SKEL_DOFS.md describes it), on the zero-pose shaped mesh, y up:
height = |y(HeadTop 411) − y(HeelLeft 3466)|; mass = |enclosed volume| × 985 kg/m³ (summed signed
tetrahedra); chest / waist / hip circumference = perimeter of the 2-D convex hull, in (x, z), of the mesh's
section by the horizontal plane through NippleRight 6489 / BellyButton 3501 / Crotch 1210.

Landmark path: MediaPipe world landmarks carry no shape model, so only lengths are measured. Height: each body
dimension MediaPipe sees (heel-to-eye height where the person stands straight, leg, trunk, upper arm,
forearm) divided by its fraction of stature (Drillis & Contini 1966, in Winter 2009), combined robustly;
segment lengths as medians over frames; each with its spread and the assumptions behind it written out.
The metric scale is MediaPipe's, inferred from appearance (one camera cannot measure absolute size; see the
landmark section): the uncertainty keeps it, and a height the user gives replaces the estimate and
rescales every length. Mass only when the user gives it; no circumferences.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass, field, replace
from typing import Any, Literal

import numpy as np
from numpy.typing import NDArray
from scipy.spatial import ConvexHull, QhullError

from workbench.body.model_file import SMPL_URL, BodyModel
from workbench.errors import WorkbenchError
from workbench.pose.landmarks import MP_INDEX, LandmarkTrack

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]

BODY_DENSITY_KG_M3 = 985.0  # Choutas et al. 2022, the average density of the human body
PAPER_WINDOW = 12  # §3.2 / supplement §11.3: β̄ is the mean over the τ = 12 frame window

Method = Literal["mesh", "landmarks", "given"]
HeightSource = Literal["mesh", "landmarks", "given"]


class MeasurementError(WorkbenchError):
    """Nothing to measure: no finite shape coefficients, or no frame where the needed landmarks are seen."""


# ----------------------------------------------------------------------------------------------- result


@dataclass(frozen=True)
class Measurements:
    """Body measurements in metres and kilograms, with how they were obtained.

    method: "mesh" (virtual measurements on a shaped SMPL-layout mesh), "landmarks" (estimate) or "given"
        (nothing to measure from: only what the user said).
    height_sd_m: one standard deviation of the height (landmark estimate only; None for the mesh or a given
        height).
    height_source: "mesh", "landmarks" (estimated) or "given" (the user's stated height; ``estimated_height_m``
        then keeps what the measurement said and ``scale`` the factor every length was multiplied by).
    height_basis: the few words C_morph puts beside an estimated height ("estimated from segment lengths").
    height_estimates: the landmark path's per-dimension heights and their weights in the combination.
    mass_source: "volume" (mesh), "user" (given), or None when mass is not measured.
    uncertainty: the error budget in words; source: what was measured (file, β̄ frames, track).
    """

    height_m: float
    mass_kg: float | None
    chest_m: float | None
    waist_m: float | None
    hips_m: float | None
    method: Method
    source: str
    uncertainty: str = ""
    height_sd_m: float | None = None
    height_basis: str = ""
    height_source: HeightSource | None = None  # None: from ``method``
    mass_source: Literal["volume", "user"] | None = None
    segments_m: dict[str, float] = field(default_factory=dict)
    segments_sd_m: dict[str, float] = field(default_factory=dict)
    warnings: tuple[str, ...] = ()
    n_frames: int = 0
    height_estimates: tuple[HeightEstimate, ...] = ()
    estimated_height_m: float | None = None
    scale: float | None = None

    def to_context(self) -> str:
        """C_morph. For a complete mesh measurement exactly the paper's format:
        'User body: height 1.78m, mass 73.22kg, chest 1.00m, waist 0.83m, hips 0.98m.'"""
        return "User body: " + ", ".join([self._height_text(), self._mass_text(), *self._girth_texts()]) + "."

    @property
    def height_from(self) -> HeightSource:
        return self.height_source or self.method

    def _height_text(self) -> str:
        """The paper's 'height 1.78m' for the mesh; otherwise how the height is known, in a few words:
        'height 1.74 m (± 0.08 m, estimated from segment lengths)' or 'height 1.80 m (given)'."""
        if self.height_from == "given":
            return f"height {self.height_m:.2f} m (given)"
        if self.height_sd_m is None:
            return f"height {self.height_m:.2f}m"
        return f"height {self.height_m:.2f} m (± {self.height_sd_m:.2f} m, {self.height_basis or 'estimated'})"

    def _mass_text(self) -> str:
        if self.mass_kg is None:
            return "mass not measured"
        return f"mass {self.mass_kg:.2f}kg" + (" (given by the user)" if self.mass_source == "user" else "")

    def _girth_texts(self) -> list[str]:
        girths = {"chest": self.chest_m, "waist": self.waist_m, "hips": self.hips_m}
        if all(v is None for v in girths.values()) and self.method != "mesh":
            return ["chest, waist and hips not measured (no body model)"]
        return [f"{k} not measured" if v is None else f"{k} {v:.2f}m" for k, v in girths.items()]

    def as_morph_dict(self) -> dict[str, float] | None:
        """The dict today's motion.context.morph_context takes; None unless all five values are measured."""
        values = {
            "height_m": self.height_m,
            "mass_kg": self.mass_kg,
            "chest_m": self.chest_m,
            "waist_m": self.waist_m,
            "hips_m": self.hips_m,
        }
        if any(v is None for v in values.values()):
            return None
        return {k: float(v) for k, v in values.items() if v is not None}

    def to_json(self) -> dict[str, Any]:
        def r(x: float | None) -> float | None:
            return None if x is None else round(float(x), 4)

        return {
            "method": self.method,
            "source": self.source,
            "height_m": r(self.height_m),
            "height_sd_m": r(self.height_sd_m),
            "height_source": self.height_from,
            "height_basis": self.height_basis,
            "estimated_height_m": r(self.estimated_height_m),
            "scale": r(self.scale),
            "height_estimates": {e.dimension: e.to_json() for e in self.height_estimates},
            "mass_kg": r(self.mass_kg),
            "mass_source": self.mass_source,
            "chest_m": r(self.chest_m),
            "waist_m": r(self.waist_m),
            "hips_m": r(self.hips_m),
            "segments_m": {k: r(v) for k, v in self.segments_m.items()},
            "segments_sd_m": {k: r(v) for k, v in self.segments_sd_m.items()},
            "uncertainty": self.uncertainty,
            "warnings": list(self.warnings),
            "n_frames": self.n_frames,
            "context": self.to_context(),
        }


# ------------------------------------------------------------------------------------------ mesh geometry


@dataclass(frozen=True)
class MeshLandmarks:
    """Vertex ids of the virtual measurements (SMPL topology; Choutas et al. 2022)."""

    head_top: int = 411
    heel: int = 3466
    chest: int = 6489  # NippleRight
    waist: int = 3501  # BellyButton
    hips: int = 1210  # Crotch


SMPL_LANDMARKS = MeshLandmarks()


@dataclass(frozen=True)
class MeshCheck:
    """Topology facts that decide whether the signed-tetrahedra volume means anything."""

    n_boundary_edges: int  # directed edges whose reverse no face uses: holes
    n_repeated_edges: int  # directed edges used twice or more: flipped faces or non-manifold edges
    n_degenerate_faces: int  # faces naming a vertex twice
    signed_volume_m3: float

    @property
    def closed(self) -> bool:
        return self.n_boundary_edges == 0

    @property
    def oriented(self) -> bool:
        return self.n_repeated_edges == 0 and self.n_degenerate_faces == 0

    def problems(self) -> list[str]:
        out = []
        if not self.closed:
            out.append(f"mesh not closed: {self.n_boundary_edges} boundary edges")
        if self.n_repeated_edges:
            out.append(
                f"mesh not consistently oriented: {self.n_repeated_edges} directed edges used by more than "
                "one face (flipped or non-manifold faces)"
            )
        if self.n_degenerate_faces:
            out.append(f"mesh has {self.n_degenerate_faces} degenerate faces")
        if self.closed and self.oriented and self.signed_volume_m3 < 0:
            out.append("mesh faces are wound inwards (negative signed volume): its magnitude is used")
        return out


def signed_volume(vertices: FloatArray, faces: IntArray) -> float:
    """Σ det[v0, v1, v2] / 6 over faces. Exact for a closed oriented mesh whatever the origin; the origin
    is moved to the centroid so the per-face terms stay small and do not cancel catastrophically."""
    v = vertices - vertices.mean(axis=0)
    a, b, c = v[faces[:, 0]], v[faces[:, 1]], v[faces[:, 2]]
    return float(np.einsum("ij,ij->", a, np.cross(b, c)) / 6.0)


def check_mesh(vertices: FloatArray, faces: IntArray) -> MeshCheck:
    """A closed, consistently oriented manifold uses every directed edge (a, b) once and its reverse once."""
    n = np.int64(vertices.shape[0])
    directed = faces[:, [0, 1, 1, 2, 2, 0]].reshape(-1, 2).astype(np.int64)
    codes, counts = np.unique(directed[:, 0] * n + directed[:, 1], return_counts=True)
    reverse = (codes % n) * n + codes // n
    degenerate = (faces[:, 0] == faces[:, 1]) | (faces[:, 1] == faces[:, 2]) | (faces[:, 2] == faces[:, 0])
    return MeshCheck(
        n_boundary_edges=int((~np.isin(reverse, codes)).sum()),
        n_repeated_edges=int((counts > 1).sum()),
        n_degenerate_faces=int(degenerate.sum()),
        signed_volume_m3=signed_volume(vertices, faces),
    )


def unique_edges(faces: IntArray, n_vertices: int) -> IntArray:
    """(E, 2) undirected edges, each once (a section point per edge, not one per adjacent face)."""
    pairs = np.sort(faces[:, [0, 1, 1, 2, 2, 0]].reshape(-1, 2).astype(np.int64), axis=1)
    codes = np.unique(pairs[:, 0] * n_vertices + pairs[:, 1])
    return np.column_stack([codes // n_vertices, codes % n_vertices])


def section_points(vertices: FloatArray, edges: IntArray, y0: float) -> FloatArray:
    """(P, 2) (x, z) points where the plane y = y0 meets the mesh: edge crossings plus vertices on the plane.

    The convex hull of a section equals the hull of these points, so the section's segments never need
    chaining into loops — which is where slicers break on planes through vertices, and a plane through a
    landmark vertex always passes through one."""
    d = vertices[:, 1] - y0
    da, db = d[edges[:, 0]], d[edges[:, 1]]
    cross = da * db < 0
    t = (da[cross] / (da[cross] - db[cross]))[:, None]
    pa, pb = vertices[edges[cross, 0]], vertices[edges[cross, 1]]
    on_plane = np.unique(edges[d[edges] == 0])
    return np.vstack([(pa + t * (pb - pa))[:, [0, 2]], vertices[on_plane][:, [0, 2]]])


def convex_perimeter(points: FloatArray) -> float | None:
    """Perimeter of the 2-D convex hull; None when the points span no area."""
    if points.shape[0] < 3:
        return None
    try:
        hull = ConvexHull(points)
    except QhullError:  # collinear or coincident points
        return None
    ring = points[hull.vertices]  # counter-clockwise in 2-D
    return float(np.linalg.norm(ring - np.roll(ring, 1, axis=0), axis=1).sum())


def circumference_at(vertices: FloatArray, faces: IntArray, y0: float) -> float | None:
    """Convex-hull circumference of the horizontal section at height y0."""
    return convex_perimeter(section_points(vertices, unique_edges(faces, vertices.shape[0]), y0))


# --------------------------------------------------------------------------------------------- mesh path


def measure_mesh(
    vertices: NDArray[np.floating],
    faces: NDArray[np.integer],
    *,
    landmarks: MeshLandmarks = SMPL_LANDMARKS,
    source: str = "mesh",
) -> Measurements:
    """Virtual measurements of a zero-pose mesh (y up, metres). Mass is left unmeasured when the mesh is not
    closed and consistently oriented, since its signed volume then depends on where the origin is."""
    v = np.asarray(vertices, dtype=np.float64)
    f = np.asarray(faces, dtype=np.int64)
    check = check_mesh(v, f)
    warnings = check.problems()
    mass = abs(check.signed_volume_m3) * BODY_DENSITY_KG_M3 if check.closed and check.oriented else None
    if mass is None:
        warnings.append("mass not measured: the enclosed volume needs a closed, consistently oriented mesh")
    edges = unique_edges(f, v.shape[0])
    girths: dict[str, float | None] = {}
    for name in ("chest", "waist", "hips"):
        vid = getattr(landmarks, name)
        girths[name] = convex_perimeter(section_points(v, edges, float(v[vid, 1])))
        if girths[name] is None:
            warnings.append(f"{name} not measured: the plane through vertex {vid} cuts no area from the mesh")
    return Measurements(
        height_m=abs(float(v[landmarks.head_top, 1] - v[landmarks.heel, 1])),
        mass_kg=mass,
        chest_m=girths["chest"],
        waist_m=girths["waist"],
        hips_m=girths["hips"],
        method="mesh",
        source=source,
        uncertainty="virtual measurements, exact on the shaped mesh; the shape fit's own error is not included",
        mass_source="volume" if mass is not None else None,
        warnings=tuple(warnings),
    )


def mean_betas(betas: NDArray[np.floating], window: int | None = None) -> tuple[FloatArray, int]:
    """β̄ (§3.2): the mean over frames with finite coefficients, of the last ``window`` frames
    (PAPER_WINDOW = 12 reproduces the paper's streaming β̄ at the last frame) or of all (None: offline,
    the most stable). Returns β̄ and the number of frames averaged."""
    b = np.asarray(betas, dtype=np.float64)
    b = b[None] if b.ndim == 1 else b
    if b.ndim != 2:
        raise MeasurementError(f"betas: expected shape (K,) or (T, K), got {np.shape(betas)}")
    if window is not None:
        b = b[-window:]
    rows = b[np.isfinite(b).all(axis=1)]
    if not rows.shape[0]:
        raise MeasurementError("betas: no frame with finite shape coefficients")
    return rows.mean(axis=0), int(rows.shape[0])


def measure_betas(model: BodyModel, betas: NDArray[np.floating], window: int | None = None) -> Measurements:
    """Virtual measurements of the model shaped by β̄ (frames averaged as in §3.2) in its zero pose; the mesh
    from smplx's forward pass or from the file's plain arrays, as the model was loaded (``model.engine``)."""
    beta_bar, n = mean_betas(betas, window)
    source = (
        f"{model.path.name} via {model.engine}, β̄ of {beta_bar.shape[0]} coefficients over {n} frame{'s' * (n != 1)}"
    )
    m = measure_mesh(model.shaped_vertices(beta_bar), model.faces, source=source)
    return replace(m, n_frames=n)


# ----------------------------------------------------------------------------------------- landmark path
#
# What a landmark height rests on. One camera cannot measure absolute size: a person twice as tall, twice as
# far away, makes the same picture. MediaPipe's world landmarks are in metres all the same because its model
# infers a metric body from appearance: a learned prior, trained on body-model fits with shape regularisation,
# that is pulled towards an average body (google-ai-edge/mediapipe#4917: taller people get legs no longer
# than shorter people's). What the landmarks do say about the individual is their proportions. So the
# estimate divides each body dimension MediaPipe sees (heel-to-eye height standing straight, leg, trunk,
# upper arm, forearm) by its fraction of stature in anthropometric tables, combines those heights robustly
# (a dimension that disagrees with the others loses weight), and states an uncertainty that keeps
# MediaPipe's scale (±5 %). A height the user gives (``height_m``, ``biocoach analyze --height``) replaces
# the estimate and rescales every length measured with it.

# Stature proportions of Drillis & Contini (1966), as tabulated in Winter, Biomechanics and Motor Control of
# Human Movement (4th ed. 2009), Fig. 4.1: eye level 0.936 H; acromion 0.818 H; elbow 0.630 H; greater
# trochanter 0.530 H; wrist 0.485 H; ankle 0.039 H; segment lengths upper arm 0.186 H, forearm 0.146 H.
EYE_HEIGHT_RATIO = 0.936
LEG_LENGTH_RATIO = 0.530 - 0.039  # hip → knee → ankle / stature


@dataclass(frozen=True)
class StatureFraction:
    """A body dimension as a fraction of stature, with two relative sds, both assumptions stated here: the
    person-to-person spread of the fraction, and how far MediaPipe's landmarks may sit from the tables' bony
    landmarks for this dimension."""

    fraction: float
    rel_sd: float
    landmark_rel_sd: float
    spans: str


# Joint centres (hip, knee, ankle, elbow, wrist) and the eyes and heel are near the tables' landmarks. MediaPipe's
# shoulder is not the acromion (its shoulder width, 0.32–0.38 m on real adult clips, is far under the biacromial
# 0.259 H) and moves with the shoulder blade (shrugs, push-ups): dimensions ending there get a wide landmark
# spread, so they count when nothing else is seen (an upper-body clip) and little otherwise.
STATURE_FRACTIONS: dict[str, StatureFraction] = {
    "standing": StatureFraction(EYE_HEIGHT_RATIO, 0.012, 0.02, "heel to eye standing straight, eye level 0.936 H"),
    "leg": StatureFraction(LEG_LENGTH_RATIO, 0.03, 0.03, "hip, knee, ankle: trochanter 0.530 H to ankle 0.039 H"),
    "forearm": StatureFraction(0.146, 0.04, 0.04, "elbow to wrist, 0.146 H"),
    "trunk": StatureFraction(0.818 - 0.530, 0.04, 0.08, "mid-hip to mid-shoulder, trochanter to acromion"),
    "upper_arm": StatureFraction(0.186, 0.04, 0.08, "shoulder to elbow, 0.186 H"),
}
HEEL_FLOOR_SD_M = 0.010  # MediaPipe's heel landmark is at the back of the heel, near but not on the floor
# MediaPipe infers metric scale from appearance, not from any measurement, and regresses towards average size;
# 5 % is about the spread of adult stature, i.e. this assumes the scale tells little about the individual.
LANDMARK_SCALE_REL_SD = 0.05
HUBER_K = 1.5  # a dimension further than this many sd from the others' consensus loses weight in proportion
REJECT_Z = 3.0  # … and one further than this from the weighted median is left out
MIN_DIMENSION_FRAMES = 3
MIN_VISIBILITY = 0.5
STRAIGHT_KNEE_DEG = 165.0  # hip–knee–ankle angle: knees nearly extended
STRAIGHT_HIP_DEG = 160.0  # shoulder–hip–knee angle: hips nearly extended
UPRIGHT_DEG = 30.0  # body axis within this of MediaPipe's up (−y): standing, not a plank
MAD_TO_SD = 1.4826  # a normal distribution's sd per median absolute deviation
CORRELATED_S = 1.0  # landmark errors persist for about a second: one independent length per second of frames

SEGMENTS: dict[str, tuple[tuple[str, str], ...]] = {
    "thigh": (("left_hip", "left_knee"), ("right_hip", "right_knee")),
    "shank": (("left_knee", "left_ankle"), ("right_knee", "right_ankle")),
    "upper_arm": (("left_shoulder", "left_elbow"), ("right_shoulder", "right_elbow")),
    "forearm": (("left_elbow", "left_wrist"), ("right_elbow", "right_wrist")),
    "shoulder_width": (("left_shoulder", "right_shoulder"),),
    "hip_width": (("left_hip", "right_hip"),),
}
DIMENSION_NAMES = {
    "standing": "standing height",
    "leg": "leg",
    "trunk": "trunk",
    "upper_arm": "upper arm",
    "forearm": "forearm",
}


@dataclass(frozen=True)
class HeightEstimate:
    """The stature one body dimension implies: its robust length over the frames that see it, divided by its
    stature fraction; ``sd_m`` adds the fraction's spreads to the length's standard error; ``weight`` is its
    share of the combined height (0 when it was not combined)."""

    dimension: str
    length_m: float
    height_m: float
    sd_m: float
    n_frames: int
    weight: float = 0.0

    def to_json(self) -> dict[str, Any]:
        return {
            "length_m": round(self.length_m, 4),
            "height_m": round(self.height_m, 4),
            "sd_m": round(self.sd_m, 4),
            "n_frames": self.n_frames,
            "weight": round(self.weight, 3),
        }


def _robust(x: FloatArray) -> tuple[float, float]:
    """Median and MAD-based sd: a few mis-detected frames move neither."""
    med = float(np.median(x))
    return med, MAD_TO_SD * float(np.median(np.abs(x - med)))


def _seen(track: LandmarkTrack, names: list[str]) -> NDArray[np.bool_]:
    """(T,) frames where every named landmark is finite and visible enough."""
    idx = [MP_INDEX[n] for n in names]
    finite = np.isfinite(track.world[:, idx]).all(axis=(1, 2))
    return np.asarray(finite & (track.visibility[:, idx] >= MIN_VISIBILITY).all(axis=1))


def _mid(track: LandmarkTrack, part: str) -> FloatArray:
    return np.asarray(0.5 * (track.point(f"left_{part}") + track.point(f"right_{part}")))


def _angle_deg(a: FloatArray, b: FloatArray, c: FloatArray) -> FloatArray:
    """(T,) angle at b between b→a and b→c."""
    u, w = a - b, c - b
    cos = np.einsum("ij,ij->i", u, w) / (np.linalg.norm(u, axis=1) * np.linalg.norm(w, axis=1) + 1e-12)
    return np.asarray(np.degrees(np.arccos(np.clip(cos, -1.0, 1.0))))


def _unit(v: FloatArray) -> FloatArray:
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.asarray(v / np.linalg.norm(v, axis=-1, keepdims=True))


def _legs(track: LandmarkTrack) -> tuple[NDArray[np.bool_], NDArray[np.bool_], FloatArray]:
    """Per frame and side (T, 2): leg seen; leg straight and upright; heel-to-eye height along that leg's
    body axis (ankle → mid-shoulder), so a tilted camera does not shorten it. In a side view the far leg
    is hidden (MediaPipe still guesses it), so each side is judged on its own."""
    shoulder, eye = _mid(track, "shoulder"), _mid(track, "eye")
    seen, straight, height = [], [], []
    for s in ("left", "right"):
        sh, hip, knee, ank, heel = (track.point(f"{s}_{p}") for p in ("shoulder", "hip", "knee", "ankle", "heel"))
        axis = _unit(shoulder - ank)
        with np.errstate(invalid="ignore"):
            ok = (_angle_deg(hip, knee, ank) >= STRAIGHT_KNEE_DEG) & (_angle_deg(sh, hip, knee) >= STRAIGHT_HIP_DEG)
            ok &= -axis[:, 1] >= math.cos(math.radians(UPRIGHT_DEG))  # MediaPipe's y is down
        seen.append(_seen(track, [f"{s}_{p}" for p in ("shoulder", "hip", "knee", "ankle", "heel")]))
        straight.append(seen[-1] & ok)
        height.append(np.einsum("ij,ij->i", eye - heel, axis))
    return np.stack(seen, 1), np.stack(straight, 1), np.stack(height, 1)


def standing_frames(track: LandmarkTrack) -> NDArray[np.bool_]:
    """Frames where the person stands straight: every seen leg has knee and hip nearly extended and is
    upright, at least one leg is seen, and the eyes and shoulders are seen."""
    seen, straight, _ = _legs(track)
    return _standing(track, seen, straight)


def _standing(track: LandmarkTrack, seen: NDArray[np.bool_], straight: NDArray[np.bool_]) -> NDArray[np.bool_]:
    head = _seen_any(track, "eye") & _seen_any(track, "shoulder")
    # A seen leg that is bent (a lunge, a raised knee) means the person is not standing straight.
    return np.asarray(head & straight.any(axis=1) & ~(seen & ~straight).any(axis=1))


def _seen_any(track: LandmarkTrack, part: str) -> NDArray[np.bool_]:
    """Both sides finite (their midpoint is used) and at least one visible enough."""
    idx = [MP_INDEX[f"left_{part}"], MP_INDEX[f"right_{part}"]]
    finite = np.isfinite(track.world[:, idx]).all(axis=(1, 2))
    return np.asarray(finite & (track.visibility[:, idx] >= MIN_VISIBILITY).any(axis=1))


def _distance(track: LandmarkTrack, a: str, b: str) -> FloatArray:
    return np.asarray(np.linalg.norm(track.point(a) - track.point(b), axis=1))


def segment_lengths(track: LandmarkTrack) -> tuple[dict[str, float], dict[str, float]]:
    """Median length and MAD-based sd of each segment over frames where both ends are seen, sides pooled;
    ``trunk`` is mid-hip to mid-shoulder."""
    med: dict[str, float] = {}
    sd: dict[str, float] = {}
    for name, pairs in SEGMENTS.items():
        pooled = np.concatenate([_distance(track, a, b)[_seen(track, [a, b])] for a, b in pairs])
        if pooled.size:
            med[name], sd[name] = _robust(pooled)
    trunk = _trunk_lengths(track)
    if trunk.size:
        med["trunk"], sd["trunk"] = _robust(trunk)
    return med, sd


def _trunk_lengths(track: LandmarkTrack) -> FloatArray:
    seen = _seen_any(track, "shoulder") & _seen_any(track, "hip")
    return np.asarray(np.linalg.norm(_mid(track, "shoulder") - _mid(track, "hip"), axis=1)[seen])


def _side_lengths(track: LandmarkTrack, chain: tuple[str, ...]) -> FloatArray:
    """Per frame and seen side, the summed length along a chain of landmarks (e.g. hip → knee → ankle)."""
    out = []
    for s in ("left", "right"):
        names = [f"{s}_{p}" for p in chain]
        total = sum(_distance(track, a, b) for a, b in itertools.pairwise(names))
        out.append(np.asarray(total)[_seen(track, names)])
    return np.concatenate(out)


def dimension_lengths(
    track: LandmarkTrack,
    standing: NDArray[np.bool_] | None = None,
    straight: NDArray[np.bool_] | None = None,
    eye_height: FloatArray | None = None,
) -> dict[str, FloatArray]:
    """Per-frame lengths (m) of each body dimension of ``STATURE_FRACTIONS``, over the frames that see it.
    The standing height counts only frames where the person stands straight (mean over the straight legs)."""
    if standing is None or straight is None or eye_height is None:
        seen, straight, eye_height = _legs(track)
        standing = _standing(track, seen, straight)
    legs = straight[standing]
    stance = np.where(legs, eye_height[standing], 0.0).sum(axis=1) / np.maximum(legs.sum(axis=1), 1)
    return {
        "standing": np.asarray(stance),
        "leg": _side_lengths(track, ("hip", "knee", "ankle")),
        "trunk": _trunk_lengths(track),
        "upper_arm": _side_lengths(track, ("shoulder", "elbow")),
        "forearm": _side_lengths(track, ("elbow", "wrist")),
    }


def _frame_seconds(track: LandmarkTrack) -> float:
    return float(np.median(np.diff(track.t))) if track.t.size > 1 else 1.0 / 30.0


def height_estimates(track: LandmarkTrack, lengths: dict[str, FloatArray] | None = None) -> list[HeightEstimate]:
    """The stature each body dimension seen in at least ``MIN_DIMENSION_FRAMES`` frames implies."""
    lengths = dimension_lengths(track) if lengths is None else lengths
    dt = _frame_seconds(track)
    out = []
    for name, frac in STATURE_FRACTIONS.items():
        x = lengths.get(name, np.zeros(0))
        x = x[np.isfinite(x)]
        if x.size < MIN_DIMENSION_FRAMES:
            continue
        length, spread = _robust(x)
        se = spread / math.sqrt(max(1.0, x.size * dt / CORRELATED_S))
        if name == "standing":
            se = math.hypot(se, HEEL_FLOOR_SD_M)
        h = length / frac.fraction
        sd = math.hypot(se / frac.fraction, h * frac.rel_sd, h * frac.landmark_rel_sd)
        out.append(HeightEstimate(dimension=name, length_m=length, height_m=h, sd_m=sd, n_frames=int(x.size)))
    return out


def combine_heights(estimates: list[HeightEstimate]) -> tuple[float, float, list[HeightEstimate]]:
    """Robust inverse-variance combination. Start at the weighted median (one wild estimate cannot drag the
    start); leave out an estimate more than ``REJECT_Z`` of its sds from it (a pose held the whole clip can
    foreshorten one segment in every frame: a forearm plank's forearms); then Huber weights (an estimate
    further than ``HUBER_K`` sd from the consensus counts as if it were ``HUBER_K`` sd away). Returns the
    height, its standard error (inflated when the estimates kept disagree more than their sds allow) and the
    estimates with their weights (0: left out)."""
    if not estimates:
        raise MeasurementError("no body dimension seen: cannot estimate height from landmarks")
    h_i = np.array([e.height_m for e in estimates])
    inv_var = 1.0 / np.array([e.sd_m for e in estimates]) ** 2
    order = np.argsort(h_i)
    cum = np.cumsum(inv_var[order])
    h = float(h_i[order][np.searchsorted(cum, 0.5 * cum[-1])])
    kept = np.abs(h_i - h) * np.sqrt(inv_var) <= REJECT_Z
    inv_var = np.where(kept, inv_var, 0.0)
    w = inv_var
    for _ in range(50):
        z = np.abs(h_i - h) * np.sqrt(inv_var)
        w = inv_var * np.minimum(1.0, HUBER_K / np.maximum(z, 1e-12))  # 0 stays 0: left out
        new = float(np.sum(w * h_i) / np.sum(w))
        if abs(new - h) < 1e-7:
            h = new
            break
        h = new
    se = 1.0 / math.sqrt(float(np.sum(w)))
    n_kept = int(kept.sum())
    if n_kept > 1:  # Birge ratio: scatter beyond the stated sds widens the error, never narrows it
        chi2 = float(np.sum(w * (h_i - h) ** 2)) / (n_kept - 1)
        se *= math.sqrt(max(1.0, chi2))
    shares = w / np.sum(w)
    return h, se, [replace(e, weight=float(s)) for e, s in zip(estimates, shares, strict=True)]


def _estimate_text(estimates: list[HeightEstimate], h: float, se: float, sd: float) -> str:
    parts = []
    for e in estimates:
        z = abs(e.height_m - h) / e.sd_m
        note = (
            ""
            if z <= HUBER_K
            else f", {z:.1f} sd from the consensus: " + ("left out" if e.weight == 0 else "weight cut")
        )
        parts.append(f"{DIMENSION_NAMES[e.dimension]} {e.length_m:.3f} m → {e.height_m:.2f} m ({e.weight:.0%}{note})")
    return (
        f"height ±{sd:.2f} m (1 sd), estimated from {len(estimates)} body dimension"
        f"{'s' * (len(estimates) != 1)} divided by their stature fractions (Drillis & Contini 1966, in Winter "
        f"2009): {'; '.join(parts)}; combined robustly ±{se:.2f} m (the fractions' person-to-person spread, "
        "MediaPipe's landmarks not being the tables' bony landmarks, frame scatter); MediaPipe's metric scale "
        f"±{LANDMARK_SCALE_REL_SD:.0%}: it is inferred from "
        "appearance and pulled towards an average body, so a tall or short person reads nearer the average "
        "(one camera cannot measure absolute size; give the height, --height, for a measured value)"
    )


def measure_landmarks(
    track: LandmarkTrack, mass_kg: float | None = None, height_m: float | None = None
) -> Measurements:
    """Height and segment lengths from world landmarks, with their uncertainty; mass only as given.

    With ``height_m`` (the user's stated height) the height is that, and every length is rescaled by
    height_m / the landmark estimate (when the landmarks allow one)."""
    _check_given(mass_kg, height_m)
    seen, straight, eye_height = _legs(track)
    stand = _standing(track, seen, straight)
    estimates = height_estimates(track, dimension_lengths(track, stand, straight, eye_height))
    seg, seg_sd = segment_lengths(track)
    warnings = () if stand.any() else ("no frame where the person stands straight: height from segment lengths",)
    if not estimates:
        if height_m is None:
            raise MeasurementError(
                f"{track.source}: no frame with a leg, the trunk or an arm visible: "
                "cannot estimate height from landmarks"
            )
        return Measurements(
            height_m=float(height_m),
            mass_kg=mass_kg,
            chest_m=None,
            waist_m=None,
            hips_m=None,
            method="given",
            source=track.source,
            uncertainty="height given by the user; no body dimension seen to measure",
            height_basis="given",
            height_source="given",
            mass_source="user" if mass_kg is not None else None,
            warnings=warnings,
            n_frames=int(stand.sum()),
        )
    h, se, estimates = combine_heights(estimates)
    sd = math.hypot(se, LANDMARK_SCALE_REL_SD * h)
    basis = (
        "estimated from standing height and segment lengths"
        if any(e.dimension == "standing" for e in estimates)
        else "estimated from segment lengths"
    )
    m = Measurements(
        height_m=h,
        mass_kg=mass_kg,
        chest_m=None,
        waist_m=None,
        hips_m=None,
        method="landmarks",
        source=track.source,
        uncertainty=_estimate_text(estimates, h, se, sd) + "; circumferences need a body model",
        height_sd_m=sd,
        height_basis=basis,
        height_source="landmarks",
        mass_source="user" if mass_kg is not None else None,
        segments_m=seg,
        segments_sd_m=seg_sd,
        warnings=warnings,
        n_frames=int(stand.sum()),
        height_estimates=tuple(estimates),
    )
    return m if height_m is None else with_given_height(m, height_m)


def _check_given(mass_kg: float | None, height_m: float | None) -> None:
    if mass_kg is not None and not (math.isfinite(mass_kg) and mass_kg > 0):
        raise MeasurementError(f"mass: expected a positive number of kilograms, got {mass_kg}")
    if height_m is not None and not (math.isfinite(height_m) and 0.5 <= height_m <= 2.5):
        raise MeasurementError(f"height: expected the person's height in metres (0.5 to 2.5), got {height_m}")


def with_given_height(m: Measurements, height_m: float) -> Measurements:
    """The measurements rescaled to the user's stated height: lengths and circumferences × s, a volume-based
    mass × s³ (a given mass is kept), s = height_m / the measured height. The measured height and s are kept
    (``estimated_height_m``, ``scale``) so the user sees how far the camera's guess was."""
    _check_given(None, height_m)
    s = float(height_m) / m.height_m

    def scaled(x: float | None) -> float | None:
        return None if x is None else x * s

    mass = m.mass_kg * s**3 if m.mass_kg is not None and m.mass_source == "volume" else m.mass_kg
    was = f"{m.height_m:.2f} m" + (f" ± {m.height_sd_m:.2f} m" if m.height_sd_m is not None else "")
    note = (
        f"height given by the user ({height_m:.2f} m); the {m.method} measurement said {was}, so every length"
        f"{', circumference and the volume-based mass (× s³)' if m.method == 'mesh' else ''} is rescaled by "
        f"s = {s:.3f}"
    )
    return replace(
        m,
        height_m=float(height_m),
        height_sd_m=None,
        height_basis="given",
        height_source="given",
        chest_m=scaled(m.chest_m),
        waist_m=scaled(m.waist_m),
        hips_m=scaled(m.hips_m),
        mass_kg=mass,
        segments_m={k: v * s for k, v in m.segments_m.items()},
        segments_sd_m={k: v * s for k, v in m.segments_sd_m.items()},
        estimated_height_m=m.height_m,
        scale=s,
        uncertainty=f"{note}. Before: {m.uncertainty}",
    )


# ------------------------------------------------------------------------------------------- integration


def estimate_body(
    *,
    betas: NDArray[np.floating] | None = None,
    landmarks: LandmarkTrack | None = None,
    model: BodyModel | None = None,
    mass_kg: float | None = None,
    height_m: float | None = None,
    window: int | None = None,
) -> tuple[Measurements | None, list[str]]:
    """The best measurement the inputs allow, and the warnings met on the way; never raises on missing data.

    Shape coefficients and a body model → virtual measurements on the mesh (a mass the user gives replaces
    the volume estimate: a scale beats a shape fitted to video); else landmarks → the landmark estimate;
    else None (C_morph then says the body is not measured). A height the user gives rescales either (see
    ``with_given_height``). The warnings returned are those of the way here (a skipped path); the
    measurement's own warnings travel in ``Measurements.warnings`` and are not repeated here, so a caller
    that reports both (the analysis does) says each once. A mass or height that cannot be a person's is
    refused (MeasurementError): it is the user's input, not missing data."""
    _check_given(mass_kg, height_m)
    warnings: list[str] = []
    if betas is not None and model is not None:
        try:
            m = measure_betas(model, betas, window)
        except WorkbenchError as exc:  # betas all NaN, or more coefficients than the model has
            warnings.append(f"body measurements from shape coefficients skipped: {exc}")
        else:
            if mass_kg is not None:
                m = replace(m, mass_kg=float(mass_kg), mass_source="user")
            return (m if height_m is None else with_given_height(m, height_m)), warnings
    elif betas is not None:
        warnings.append(
            "shape coefficients present but no body model file: mesh measurements skipped "
            f"(SMPL from {SMPL_URL}, registration required)"
        )
    if landmarks is None:
        if height_m is not None:
            return _given_only(height_m, mass_kg), warnings
        return None, warnings
    try:
        m = measure_landmarks(landmarks, mass_kg, height_m)
    except MeasurementError as exc:
        return None, [*warnings, f"body not measured: {exc}"]
    return m, warnings


def _given_only(height_m: float, mass_kg: float | None) -> Measurements:
    """Nothing to measure from (a pose track of angles only), but the user said how tall they are."""
    _check_given(mass_kg, height_m)
    return Measurements(
        height_m=float(height_m),
        mass_kg=mass_kg,
        chest_m=None,
        waist_m=None,
        hips_m=None,
        method="given",
        source="given by the user",
        uncertainty="height given by the user; nothing measured from the input",
        height_basis="given",
        height_source="given",
        mass_source="user" if mass_kg is not None else None,
    )
