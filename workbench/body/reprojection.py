"""The fitted SKEL skeleton back in the image, and how far it lies from what MediaPipe saw.

The angles the analysis judges are SKEL's, from inverse kinematics; to show an expert where that fit is poor
we draw the skeleton the angles describe, not MediaPipe's landmarks:

1. segment lengths of the person: thigh, shank, upper arm, forearm, shoulder and hip width from
   ``body.measurements.segment_lengths`` on the image + depth points (``pose.fusion``, the same metric as the
   camera); trunk (hip centre → mid-shoulder) and foot (ankle height, heel and toe offsets, solved from the
   ankle–heel, ankle–toe and heel–toe distances) measured here the same way (median over frames where the
   landmarks are seen); the rest (neck, hand, face) scaled from ``fk.ADULT`` by the median measured ratio;
2. ``fk.forward_kinematics`` of the fitted angles with those lengths (MediaPipe's world frame, hip-centred);
3. projected through the per-frame weak-perspective camera of ``pose.camera`` (fitted to the same landmarks).

Reprojection error, per frame: the mean pixel distance between the projected skeleton and MediaPipe's image
landmarks over the 16 body landmarks (shoulders, elbows, wrists, hips, knees, ankles, heels, toes) seen with
visibility ≥ ``MIN_VISIBILITY``; as a share of the body height in pixels, which is the fitted skeleton's
stature (heel-to-eye height at q = 0 / 0.936, Drillis & Contini's eye level) times the camera's scale. Frames
without a pose or without any seen landmark have no error (NaN). Without the frame size (landmark CSV files)
pixels are image heights and only the percentage is reported.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
from numpy.typing import NDArray

from workbench.body.measurements import EYE_HEIGHT_RATIO, segment_lengths
from workbench.pose.camera import WeakPerspective
from workbench.pose.filtering import FilterOptions
from workbench.pose.fk import ADULT, Segments, forward_kinematics, skel_landmarks
from workbench.pose.fusion import PreparedLandmarks, prepare_landmarks
from workbench.pose.landmarks import MP_INDEX, LandmarkTrack
from workbench.pose.track import PoseTrack
from workbench.skeleton import N_DOFS

FloatArray = NDArray[np.float64]

ERROR_LANDMARKS: tuple[str, ...] = tuple(
    f"{s}_{j}"
    for s in ("left", "right")
    for j in ("shoulder", "elbow", "wrist", "hip", "knee", "ankle", "heel", "foot_index")
)
_ERROR = np.array([MP_INDEX[n] for n in ERROR_LANDMARKS])
MIN_VISIBILITY = 0.5
_MEASURED = {"thigh": "thigh", "shank": "shank", "upper_arm": "upper_arm", "forearm": "forearm"}


@dataclass(frozen=True, eq=False)
class SkeletonFit:
    """The fitted skeleton in the image and its reprojection error, per frame.

    t: (T,) seconds (the pose track's). image: (T, 33, 2) normalised image coordinates of the fitted
    skeleton's landmarks (NaN where a frame has no pose). error_px: (T,) mean distance to the seen image
    landmarks (NaN: not measured). height_px: (T,) the skeleton's stature in pixels. pixels: False when the
    frame size was unknown (pixels are then image heights). segments: the lengths used (metres).
    """

    t: FloatArray
    image: FloatArray
    error_px: FloatArray
    height_px: FloatArray
    segments: Segments
    pixels: bool = True

    @property
    def error_pct(self) -> FloatArray:
        """(T,) reprojection error in % of the body height."""
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.asarray(100.0 * self.error_px / self.height_px)

    def summary(self) -> dict[str, Any]:
        """The analysis JSON's ``pose_fit`` block (README, "Analysis JSON")."""
        pct, px = self.error_pct, self.error_px
        seen = np.isfinite(pct)
        return {
            "method": "SKEL forward kinematics of the fitted angles with the measured segment lengths, projected "
            "through the weak-perspective camera estimated from the landmarks",
            "landmarks": len(ERROR_LANDMARKS),
            "frames_measured": int(seen.sum()),
            "frames": int(pct.shape[0]),
            "error_px": _stats(px[seen]) if self.pixels else None,
            "error_pct_height": _stats(pct[seen]),
            "height_px": _round(float(np.nanmedian(self.height_px))) if self.pixels and seen.any() else None,
            "per_frame_pct": [None if not math.isfinite(v) else round(float(v), 2) for v in pct],
            "segments_m": {k: round(float(v), 3) for k, v in self.segments.lengths().items()},
        }

    def at(self, i: int) -> tuple[FloatArray, float, float]:
        """Frame ``i``: the skeleton's (33, 2) normalised points, error in pixels and in % of height."""
        return self.image[i], float(self.error_px[i]), float(self.error_pct[i])


def fit_skeleton(
    track: PoseTrack, landmarks: LandmarkTrack, *, filter_options: FilterOptions | None = None
) -> SkeletonFit | None:
    """The fitted skeleton of ``track`` (angles from ``landmarks`` by ``landmark_files.landmarks_to_track``)
    in the image, or None when the landmarks have no image coordinates or their frames are not the track's."""
    if landmarks.image is None or landmarks.n_frames != track.n_frames:
        return None
    prepared = prepare_landmarks(landmarks, filter_options)
    if prepared.camera is None:
        return None
    segments = measured_segments(prepared)
    return project_skeleton(track.q, track.t, segments, prepared.camera, landmarks)


def project_skeleton(
    q: FloatArray, t: FloatArray, segments: Segments, camera: WeakPerspective, observed: LandmarkTrack | None = None
) -> SkeletonFit:
    """Forward kinematics of ``q`` (T, 46) with ``segments``, projected by ``camera``; the error against the
    ``observed`` image landmarks (and their visibility) when given."""
    if q.ndim != 2 or q.shape[1] != N_DOFS or q.shape[0] != camera.n_frames:
        raise ValueError(f"q: expected shape ({camera.n_frames}, {N_DOFS}), got {q.shape}")
    posed = np.isfinite(q).any(axis=1) & np.isfinite(camera.scale)
    points = np.full((q.shape[0], 33, 2), np.nan)
    if posed.any():
        world = forward_kinematics(q[posed], segments)
        points[posed] = _project(camera, posed, world)
    height_px = camera.scale * stature(segments)
    error: FloatArray = np.full(q.shape[0], np.nan)
    if observed is not None and observed.image is not None:
        error = _error(points, observed, camera)
    return SkeletonFit(
        t=np.asarray(t, dtype=np.float64),
        image=points,
        error_px=error,
        height_px=height_px,
        segments=segments,
        pixels=camera.pixels,
    )


def measured_segments(prepared: PreparedLandmarks) -> Segments:
    """Segment lengths (metres, in the camera's metric) of the person in ``prepared.fused`` (module docstring)."""
    fused = prepared.fused
    lengths, _ = segment_lengths(fused)
    values: dict[str, float] = {k: lengths[v] for k, v in _MEASURED.items() if v in lengths}
    if "shoulder_width" in lengths:
        values["shoulder_half_width"] = 0.5 * lengths["shoulder_width"]
    if "hip_width" in lengths:
        values["hip_half_width"] = 0.5 * lengths["hip_width"]
    trunk = _median_length(fused, ("left_hip", "right_hip"), ("left_shoulder", "right_shoulder"))
    if trunk is not None:
        values["trunk"] = trunk
    values.update(_foot(fused))
    ratios = [values[k] / getattr(ADULT, k) for k in values if getattr(ADULT, k) > 0]
    factor = float(np.median(ratios)) if ratios else 1.0
    scaled = {k: getattr(ADULT, k) * factor for k in ("neck", "hand")}
    return replace(ADULT, **{**scaled, **values})


def stature(segments: Segments) -> float:
    """Standing height (metres) of the skeleton: heel-to-eye height at q = 0 over the eye-level ratio."""
    points = skel_landmarks(np.zeros(N_DOFS), segments)[0]
    eye = 0.5 * (points[MP_INDEX["left_eye"], 1] + points[MP_INDEX["right_eye"], 1])
    heel = 0.5 * (points[MP_INDEX["left_heel"], 1] + points[MP_INDEX["right_heel"], 1])
    return float((eye - heel) / EYE_HEIGHT_RATIO)


# ------------------------------------------------------------------------------------------- helpers


def _project(camera: WeakPerspective, rows: NDArray[np.bool_], world: FloatArray) -> FloatArray:
    px = camera.scale[rows, None, None] * world[..., :2] + camera.offset[rows, None, :]
    return px / np.asarray(camera.size)


def _error(points: FloatArray, observed: LandmarkTrack, camera: WeakPerspective) -> FloatArray:
    assert observed.image is not None
    seen = (np.nan_to_num(observed.visibility[:, _ERROR]) >= MIN_VISIBILITY) & observed.detected[:, None]
    diff = (points[:, _ERROR] - observed.image[:, _ERROR]) * np.asarray(camera.size)
    dist = np.linalg.norm(diff, axis=-1)
    seen &= np.isfinite(dist)
    count = seen.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(count > 0, np.where(seen, dist, 0.0).sum(axis=1) / count, np.nan)


def _median_length(track: LandmarkTrack, a: tuple[str, ...], b: tuple[str, ...]) -> float | None:
    """Median distance between the midpoints of landmark groups ``a`` and ``b`` over frames where all are seen."""
    names = [*a, *b]
    idx = [MP_INDEX[n] for n in names]
    seen = np.isfinite(track.world[:, idx]).all(axis=(1, 2)) & (track.visibility[:, idx] >= MIN_VISIBILITY).all(axis=1)
    if not seen.any():
        return None
    pa = track.world[seen][:, [MP_INDEX[n] for n in a]].mean(axis=1)
    pb = track.world[seen][:, [MP_INDEX[n] for n in b]].mean(axis=1)
    return float(np.median(np.linalg.norm(pa - pb, axis=1)))


def _foot(track: LandmarkTrack) -> dict[str, float]:
    """Ankle height, heel-back and toe-front offsets from the ankle–heel (d1), ankle–toe (d2) and heel–toe
    (L) distances: heel_back + foot_front = L, ankle_height² + heel_back² = d1², ankle_height² + foot_front² = d2²."""
    d1, d2, length = [], [], []
    for s in ("left", "right"):
        d1.append(_median_length(track, (f"{s}_ankle",), (f"{s}_heel",)))
        d2.append(_median_length(track, (f"{s}_ankle",), (f"{s}_foot_index",)))
        length.append(_median_length(track, (f"{s}_heel",), (f"{s}_foot_index",)))
    values = [
        np.nanmean([v for v in xs if v is not None]) if any(v is not None for v in xs) else np.nan
        for xs in (d1, d2, length)
    ]
    a, b, foot = (float(v) for v in values)
    if not all(math.isfinite(v) and v > 0 for v in (a, b, foot)):
        return {}
    front = 0.5 * (foot + (b * b - a * a) / foot)
    back = foot - front
    height = math.sqrt(max(a * a - back * back, 0.0))
    if not (front > 0.0 and back >= 0.0 and height > 0.0):
        return {}
    return {"foot_front": front, "heel_back": back, "ankle_height": height}


def _stats(values: FloatArray) -> dict[str, float | None]:
    if values.size == 0:
        return {"median": None, "p90": None, "max": None}
    return {
        "median": _round(float(np.median(values))),
        "p90": _round(float(np.percentile(values, 90))),
        "max": _round(float(np.max(values))),
    }


def _round(x: float) -> float:
    return round(x, 2)
