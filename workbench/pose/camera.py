"""The camera, estimated from the landmarks themselves: weak perspective, one scale and offset per frame.

MediaPipe gives every landmark twice: in the image (normalised x, y; pixel accurate where the landmark is
seen) and in its world frame (metres, hip-centred, oriented like the camera: x image-right, y down, z away).
Both are the same body, so the image is the world seen through a camera. We model that camera as weak
perspective:

    u_t = s_t · X + o_t        (pixels; X the world x, y in metres; s_t pixels per metre; o_t (2,) pixels)

with no rotation (the world frame already has the camera's orientation). ``fit_camera`` finds s_t and o_t by
least squares between the image points in pixels and the world x, y of the 12 core landmarks (shoulders,
elbows, wrists, hips, knees, ankles), weighted by visibility and re-weighted twice with Huber weights so that
one misplaced landmark does not pull the fit; the scale is then low-passed over time (``SCALE_CUTOFF_HZ``: a
person walks towards the camera over seconds, limbs move faster) and the offsets refitted with it.

Why weak perspective rather than a pinhole: the landmark files carry no focal length (the CSV layout not even
the image size), and on the eight development clips the world landmarks reproject onto the image landmarks
best in the weak-perspective limit: a pinhole fit leaves a larger residual the wider its field of view
(30° to 110°), i.e. MediaPipe's world landmarks are themselves consistent with a distant camera. Its error
(near parts are magnified by about depth extent / camera distance) is absorbed segment by segment where it
matters, in the depth of ``pose.fusion``.

Without an image size (landmark CSV files) the aspect ratio is estimated: the per-frame ratio of the vertical
and the horizontal image-to-world scale (median over frames), rounded to the nearest common video format
(16:9, 4:3, 1:1, 3:4, 9:16); pixel units are then "image heights" (``pixels`` is False).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from workbench.pose.filtering import lowpass
from workbench.pose.landmarks import MP_INDEX, LandmarkTrack

FloatArray = NDArray[np.float64]

FIT_LANDMARKS: tuple[str, ...] = tuple(
    f"{s}_{j}" for s in ("left", "right") for j in ("shoulder", "elbow", "wrist", "hip", "knee", "ankle")
)
_FIT = np.array([MP_INDEX[n] for n in FIT_LANDMARKS])
SCALE_CUTOFF_HZ = 1.0
COMMON_ASPECTS: tuple[float, ...] = (16 / 9, 4 / 3, 1.0, 3 / 4, 9 / 16)
_MIN_WEIGHT = 0.05  # visibility floor in the fit: an occluded landmark still counts a little
_HUBER = 1.5  # residuals beyond this many times the frame's median residual are down-weighted
_IRLS_STEPS = 2


@dataclass(frozen=True, eq=False)
class WeakPerspective:
    """Per-frame weak-perspective camera. scale: (T,) pixels per metre (NaN where a frame has no pose);
    offset: (T, 2) pixels, the image position of the world origin; size: (width, height) in pixels, or in
    image heights (``pixels`` False) when the frame size is unknown and the aspect ratio was estimated."""

    scale: FloatArray
    offset: FloatArray
    size: tuple[float, float]
    pixels: bool = True

    @property
    def n_frames(self) -> int:
        return int(self.scale.shape[0])

    def to_pixels(self, image: FloatArray) -> FloatArray:
        """Normalised image coordinates (..., 2) → pixels (image heights when the size is unknown)."""
        return np.asarray(image, dtype=np.float64) * np.asarray(self.size)

    def project(self, world: FloatArray) -> FloatArray:
        """MediaPipe-frame points (T, K, 3) metres, relative to the world origin → normalised image (T, K, 2)."""
        px = self.scale[:, None, None] * np.asarray(world, dtype=np.float64)[..., :2] + self.offset[:, None, :]
        return px / np.asarray(self.size)

    def unproject(self, image: FloatArray) -> FloatArray:
        """Normalised image coordinates (T, K, 2) → metres (x, y) in the world frame's image plane."""
        with np.errstate(invalid="ignore", divide="ignore"):
            return (self.to_pixels(image) - self.offset[:, None, :]) / self.scale[:, None, None]

    def shifted(self, origin_xy: FloatArray) -> WeakPerspective:
        """The same camera for points re-centred by ``origin_xy`` (T, 2) metres (new = old − origin)."""
        offset = self.offset + self.scale[:, None] * np.asarray(origin_xy, dtype=np.float64)
        return WeakPerspective(scale=self.scale, offset=offset, size=self.size, pixels=self.pixels)


def fit_camera(track: LandmarkTrack, *, smooth: bool = True) -> WeakPerspective | None:
    """The weak-perspective camera of a landmark track with image landmarks (None without them, or when no
    frame has both). Frames without a pose get NaN."""
    if track.image is None:
        return None
    world, image = track.world[:, _FIT, :2], track.image[:, _FIT]
    ok = np.isfinite(world).all(axis=(1, 2)) & np.isfinite(image).all(axis=(1, 2))
    if not ok.any():
        return None
    if track.image_size is not None:
        size, pixels = (float(track.image_size[0]), float(track.image_size[1])), True
    else:
        size, pixels = (estimate_aspect(world[ok], image[ok], track.visibility[ok][:, _FIT]), 1.0), False
    weights = np.maximum(np.nan_to_num(track.visibility[:, _FIT]), _MIN_WEIGHT)
    scale = np.full(track.n_frames, np.nan)
    offset = np.full((track.n_frames, 2), np.nan)
    px = image[ok] * np.asarray(size)
    s, o = _robust_fit(world[ok], px, weights[ok])
    if smooth and ok.sum() > 1:
        s = lowpass(s, _fps(track.t[ok]), SCALE_CUTOFF_HZ)
        o = _offsets(world[ok], px, weights[ok] * _huber(world[ok], px, s, o, weights[ok]), s)
    scale[ok], offset[ok] = s, o
    return WeakPerspective(scale=scale, offset=offset, size=size, pixels=pixels)


def estimate_aspect(world_xy: FloatArray, image: FloatArray, visibility: FloatArray) -> float:
    """Width / height of the frames from (T, K, 2) world x, y and normalised image points: the median over
    frames of the ratio of the per-axis least-squares scales, rounded to the nearest common video format."""
    w = np.maximum(np.nan_to_num(visibility), _MIN_WEIGHT)[..., None]
    total = w.sum(axis=1, keepdims=True)
    dx = world_xy - (w * world_xy).sum(axis=1, keepdims=True) / total
    du = image - (w * image).sum(axis=1, keepdims=True) / total
    with np.errstate(invalid="ignore", divide="ignore"):
        per_axis = (w * dx * du).sum(axis=1) / (w * dx * dx).sum(axis=1)  # (T, 2) scale / (width, height)
        ratio = per_axis[:, 1] / per_axis[:, 0]
    ratio = ratio[np.isfinite(ratio) & (ratio > 0)]
    if ratio.size == 0:
        return COMMON_ASPECTS[0]
    estimate = float(np.median(ratio))
    return min(COMMON_ASPECTS, key=lambda a: abs(np.log(a / estimate)))


def _robust_fit(world: FloatArray, px: FloatArray, weights: FloatArray) -> tuple[FloatArray, FloatArray]:
    """Per-frame scale (T,) and offset (T, 2) by weighted least squares, then Huber re-weighting."""
    scale, offset = _similarity(world, px, weights)
    for _ in range(_IRLS_STEPS):
        scale, offset = _similarity(world, px, weights * _huber(world, px, scale, offset, weights))
    return scale, offset


def _similarity(world: FloatArray, px: FloatArray, w: FloatArray) -> tuple[FloatArray, FloatArray]:
    """Minimise Σ_k w_k |s X_k + o − u_k|² per frame (one s for both axes): closed form."""
    total = w.sum(axis=1, keepdims=True)
    xm = (w[..., None] * world).sum(axis=1) / total
    um = (w[..., None] * px).sum(axis=1) / total
    dx, du = world - xm[:, None], px - um[:, None]
    scale = (w[..., None] * dx * du).sum(axis=(1, 2)) / np.maximum((w[..., None] * dx * dx).sum(axis=(1, 2)), 1e-12)
    return scale, um - scale[:, None] * xm


def _offsets(world: FloatArray, px: FloatArray, w: FloatArray, scale: FloatArray) -> FloatArray:
    """The best offsets for given scales."""
    total = w.sum(axis=1, keepdims=True)
    return ((w[..., None] * (px - scale[:, None, None] * world)).sum(axis=1)) / total


def _huber(world: FloatArray, px: FloatArray, scale: FloatArray, offset: FloatArray, w: FloatArray) -> FloatArray:
    residual = np.linalg.norm(scale[:, None, None] * world + offset[:, None] - px, axis=-1)
    typical = np.median(residual, axis=1, keepdims=True)
    limit = _HUBER * np.maximum(typical, 1e-9)
    return np.asarray(np.minimum(1.0, limit / np.maximum(residual, 1e-12)))


def _fps(t: FloatArray) -> float:
    return float(1.0 / np.median(np.diff(t))) if t.shape[0] > 1 else 30.0
