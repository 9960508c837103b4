"""Body measurements for C_morph (§3.4.1): virtual measurements on the shaped mesh, or an estimate from landmarks.

Mesh path (Choutas et al., CVPR 2022, as SKEL_DOFS.md describes it), on the zero-pose shaped mesh, y up:
height = |y(HeadTop 411) − y(HeelLeft 3466)|; mass = |enclosed volume| × 985 kg/m³ (summed signed
tetrahedra); chest / waist / hip circumference = perimeter of the 2-D convex hull, in (x, z), of the mesh's
section by the horizontal plane through NippleRight 6489 / BellyButton 3501 / Crotch 1210.

Landmark path: MediaPipe world landmarks carry no shape model, so only lengths are measured — height from
frames where the person stands straight, segment lengths as medians over frames — each with its spread
and the assumptions behind it written out; mass only when the user gives it; no circumferences.
"""

from __future__ import annotations

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

Method = Literal["mesh", "landmarks"]


class MeasurementError(WorkbenchError):
    """Nothing to measure: no finite shape coefficients, or no frame where the needed landmarks are seen."""


# ----------------------------------------------------------------------------------------------- result


@dataclass(frozen=True)
class Measurements:
    """Body measurements in metres and kilograms, with how they were obtained.

    method: "mesh" (virtual measurements on a shaped SMPL-layout mesh) or "landmarks" (estimate).
    height_sd_m: one standard deviation of the height (landmark estimate only; None for the mesh).
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
    height_basis: str = ""  # landmarks: "from landmarks" or "from leg length"
    mass_source: Literal["volume", "user"] | None = None
    segments_m: dict[str, float] = field(default_factory=dict)
    segments_sd_m: dict[str, float] = field(default_factory=dict)
    warnings: tuple[str, ...] = ()
    n_frames: int = 0

    def to_context(self) -> str:
        """C_morph. For a complete mesh measurement exactly the paper's format:
        'User body: height 1.78m, mass 73.22kg, chest 1.00m, waist 0.83m, hips 0.98m.'"""
        return "User body: " + ", ".join([self._height_text(), self._mass_text(), *self._girth_texts()]) + "."

    def _height_text(self) -> str:
        if self.height_sd_m is None:
            return f"height {self.height_m:.2f}m"
        return f"height {self.height_m:.2f}m (±{self.height_sd_m:.2f}, {self.height_basis or 'from landmarks'})"

    def _mass_text(self) -> str:
        if self.mass_kg is None:
            return "mass not measured"
        return f"mass {self.mass_kg:.2f}kg" + (" (given by the user)" if self.mass_source == "user" else "")

    def _girth_texts(self) -> list[str]:
        girths = {"chest": self.chest_m, "waist": self.waist_m, "hips": self.hips_m}
        if all(v is None for v in girths.values()) and self.method == "landmarks":
            return ["chest, waist and hips not measured (no body model)"]
        return [f"{k} not measured" if v is None else f"{k} {v:.2f}m" for k, v in girths.items()]

    def as_morph_dict(self) -> dict[str, float] | None:
        """The dict today's motion.context.morph_context takes; None unless all five values are measured."""
        values = {"height_m": self.height_m, "mass_kg": self.mass_kg, "chest_m": self.chest_m,
                  "waist_m": self.waist_m, "hips_m": self.hips_m}  # fmt: skip
        if any(v is None for v in values.values()):
            return None
        return {k: float(v) for k, v in values.items() if v is not None}

    def to_json(self) -> dict[str, Any]:
        def r(x: float | None) -> float | None:
            return None if x is None else round(float(x), 4)

        return {
            "method": self.method, "source": self.source, "height_m": r(self.height_m),
            "height_sd_m": r(self.height_sd_m), "mass_kg": r(self.mass_kg), "mass_source": self.mass_source,
            "chest_m": r(self.chest_m), "waist_m": r(self.waist_m), "hips_m": r(self.hips_m),
            "segments_m": {k: r(v) for k, v in self.segments_m.items()},
            "segments_sd_m": {k: r(v) for k, v in self.segments_sd_m.items()},
            "uncertainty": self.uncertainty, "warnings": list(self.warnings), "n_frames": self.n_frames,
            "context": self.to_context(),
        }  # fmt: skip


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
            out.append(f"mesh not consistently oriented: {self.n_repeated_edges} directed edges used by more than "
                       "one face (flipped or non-manifold faces)")  # fmt: skip
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
        n_boundary_edges=int((~np.isin(reverse, codes)).sum()), n_repeated_edges=int((counts > 1).sum()),
        n_degenerate_faces=int(degenerate.sum()), signed_volume_m3=signed_volume(vertices, faces),
    )  # fmt: skip


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


def measure_mesh(vertices: NDArray[np.floating], faces: NDArray[np.integer], *,
                 landmarks: MeshLandmarks = SMPL_LANDMARKS, source: str = "mesh") -> Measurements:  # fmt: skip
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
        height_m=abs(float(v[landmarks.head_top, 1] - v[landmarks.heel, 1])), mass_kg=mass,
        chest_m=girths["chest"], waist_m=girths["waist"], hips_m=girths["hips"], method="mesh", source=source,
        uncertainty="virtual measurements, exact on the shaped mesh; the shape fit's own error is not included",
        mass_source="volume" if mass is not None else None, warnings=tuple(warnings),
    )  # fmt: skip


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
    """Virtual measurements of the model shaped by β̄ (frames averaged as in §3.2) in its zero pose."""
    beta_bar, n = mean_betas(betas, window)
    source = f"{model.path.name}, β̄ of {beta_bar.shape[0]} coefficients over {n} frame{'s' * (n != 1)}"
    m = measure_mesh(model.shaped_vertices(beta_bar), model.faces, source=source)
    return replace(m, n_frames=n)


# ----------------------------------------------------------------------------------------- landmark path

# Stature proportions of Drillis & Contini (1966), as tabulated in Winter, Biomechanics and Motor Control of
# Human Movement (4th ed. 2009), Fig. 4.1: eye level 0.936 H; greater trochanter 0.530 H; ankle 0.039 H.
EYE_HEIGHT_RATIO = 0.936
LEG_LENGTH_RATIO = 0.530 - 0.039  # hip-to-ankle / stature: the fallback when no frame stands straight
# The error budget (one standard deviation) behind the landmark height; each is an assumption, stated.
HEAD_TOP_SD_M = 0.010  # person-to-person spread of the eye-to-vertex distance
HEEL_FLOOR_SD_M = 0.010  # MediaPipe's heel landmark is at the back of the heel, near but not on the floor
LEG_RATIO_REL_SD = 0.03  # person-to-person spread of leg length / stature
# MediaPipe infers metric scale from appearance, not from any measurement, and regresses towards average size
# (google-ai-edge/mediapipe#4917: taller people get legs no longer than shorter people's); 5 % is about the
# spread of adult stature, i.e. this assumes the scale tells little about the individual.
LANDMARK_SCALE_REL_SD = 0.05
MIN_VISIBILITY = 0.5
STRAIGHT_KNEE_DEG = 165.0  # hip–knee–ankle angle: knees nearly extended
STRAIGHT_HIP_DEG = 160.0  # shoulder–hip–knee angle: hips nearly extended
UPRIGHT_DEG = 30.0  # body axis within this of MediaPipe's up (−y): standing, not a plank
MAD_TO_SD = 1.4826  # a normal distribution's sd per median absolute deviation

SEGMENTS: dict[str, tuple[tuple[str, str], ...]] = {
    "thigh": (("left_hip", "left_knee"), ("right_hip", "right_knee")),
    "shank": (("left_knee", "left_ankle"), ("right_knee", "right_ankle")),
    "upper_arm": (("left_shoulder", "left_elbow"), ("right_shoulder", "right_elbow")),
    "forearm": (("left_elbow", "left_wrist"), ("right_elbow", "right_wrist")),
    "shoulder_width": (("left_shoulder", "right_shoulder"),),
    "hip_width": (("left_hip", "right_hip"),),
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


def segment_lengths(track: LandmarkTrack) -> tuple[dict[str, float], dict[str, float]]:
    """Median length and MAD-based sd of each segment over frames where both ends are seen, sides pooled."""
    med: dict[str, float] = {}
    sd: dict[str, float] = {}
    for name, pairs in SEGMENTS.items():
        lengths = [np.linalg.norm(track.point(a) - track.point(b), axis=1)[_seen(track, [a, b])] for a, b in pairs]
        pooled = np.concatenate(lengths)
        if pooled.size:
            med[name], sd[name] = _robust(pooled)
    return med, sd


def _height_from_stance(straight: NDArray[np.bool_], eye_height: FloatArray) -> tuple[float, float, str]:
    """Median over standing frames of the heel-to-eye height (averaged over the frame's straight legs),
    scaled up to the head top."""
    n = straight.sum(axis=1)
    h, spread = _robust(np.where(straight, eye_height, 0.0).sum(axis=1) / n / EYE_HEIGHT_RATIO)
    sd = math.hypot(spread, HEAD_TOP_SD_M, HEEL_FLOOR_SD_M, LANDMARK_SCALE_REL_SD * h)
    text = (f"height ±{sd:.2f} m (1 sd) from heel-to-eye height / {EYE_HEIGHT_RATIO} (Drillis & Contini eye level) "
            f"over {straight.shape[0]} standing frames: frame spread {spread:.3f} m, head-top offset "
            f"{HEAD_TOP_SD_M:.2f} m, heel above floor {HEEL_FLOOR_SD_M:.2f} m, MediaPipe metric scale "
            f"±{LANDMARK_SCALE_REL_SD:.0%} (inferred from appearance and pulled towards average size, so a short or "
            "tall person reads nearer the average)")  # fmt: skip
    return h, sd, text


def _height_from_legs(track: LandmarkTrack) -> tuple[float, float, str]:
    legs = []
    for s in ("left", "right"):
        names = [f"{s}_hip", f"{s}_knee", f"{s}_ankle"]
        hip, knee, ank = (track.point(n) for n in names)
        legs.append((np.linalg.norm(hip - knee, axis=1) + np.linalg.norm(knee - ank, axis=1))[_seen(track, names)])
    pooled = np.concatenate(legs)
    if not pooled.size:
        raise MeasurementError(f"{track.source}: no frame with a leg's hip, knee and ankle visible: "
                               "cannot estimate height from landmarks")  # fmt: skip
    h, spread = _robust(pooled / LEG_LENGTH_RATIO)
    sd = math.hypot(spread, LEG_RATIO_REL_SD * h, LANDMARK_SCALE_REL_SD * h)
    text = (f"height ±{sd:.2f} m (1 sd) from leg length (thigh + shank) / {LEG_LENGTH_RATIO:.3f} (Drillis & "
            f"Contini) because no frame stands straight: frame spread {spread:.3f} m, leg/stature ratio "
            f"±{LEG_RATIO_REL_SD:.0%}, MediaPipe metric scale ±{LANDMARK_SCALE_REL_SD:.0%}")  # fmt: skip
    return h, sd, text


def measure_landmarks(track: LandmarkTrack, mass_kg: float | None = None) -> Measurements:
    """Height and segment lengths from world landmarks, with their uncertainty; mass only as given."""
    if mass_kg is not None and not (math.isfinite(mass_kg) and mass_kg > 0):
        raise MeasurementError(f"mass: expected a positive number of kilograms, got {mass_kg}")
    seen, straight, eye_height = _legs(track)
    stand = _standing(track, seen, straight)
    if stand.any():
        h, sd, text = _height_from_stance(straight[stand], eye_height[stand])
        basis = "from landmarks"
    else:
        h, sd, text = _height_from_legs(track)
        basis = "from leg length"
    seg, seg_sd = segment_lengths(track)
    warnings = () if stand.any() else ("no frame where the person stands straight: height from leg length",)
    return Measurements(
        height_m=h, mass_kg=mass_kg, chest_m=None, waist_m=None, hips_m=None, method="landmarks",
        source=track.source, uncertainty=text + "; circumferences need a body model",
        height_sd_m=sd, height_basis=basis, mass_source="user" if mass_kg is not None else None,
        segments_m=seg, segments_sd_m=seg_sd, warnings=warnings, n_frames=int(stand.sum()),
    )  # fmt: skip


# ------------------------------------------------------------------------------------------- integration


def estimate_body(*, betas: NDArray[np.floating] | None = None, landmarks: LandmarkTrack | None = None,
                  model: BodyModel | None = None, mass_kg: float | None = None,
                  window: int | None = None) -> tuple[Measurements | None, list[str]]:  # fmt: skip
    """The best measurement the inputs allow, and the warnings met on the way; never raises on missing data.

    Shape coefficients and a body model → virtual measurements on the mesh (a mass the user gives replaces
    the volume estimate: a scale beats a shape fitted to video); else landmarks → the landmark estimate;
    else None (C_morph then says the body is not measured)."""
    warnings: list[str] = []
    if betas is not None and model is not None:
        try:
            m = measure_betas(model, betas, window)
        except WorkbenchError as exc:  # betas all NaN, or more coefficients than the model has
            warnings.append(f"body measurements from shape coefficients skipped: {exc}")
        else:
            if mass_kg is not None:
                m = replace(m, mass_kg=float(mass_kg), mass_source="user")
            return m, warnings + list(m.warnings)
    elif betas is not None:
        warnings.append("shape coefficients present but no body model file: mesh measurements skipped "
                        f"(SMPL from {SMPL_URL}, registration required)")  # fmt: skip
    if landmarks is None:
        return None, warnings
    try:
        m = measure_landmarks(landmarks, mass_kg)
    except MeasurementError as exc:
        return None, [*warnings, f"body not measured: {exc}"]
    return m, warnings + list(m.warnings)
