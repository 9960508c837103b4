"""Image + depth: the 3-D points inverse kinematics reads, from MediaPipe's image and world landmarks together.

Why: MediaPipe's world landmarks (metres) come from a learned 3-D prior that lets the foot follow the shank
and smooths the elbow (a deep side-view squat read −12° to −26° of ankle plantarflexion with the shin far
forward; locked-out push-ups 22–48° of elbow flexion), while its image landmarks are pixel accurate wherever
the landmark is seen. So each point takes

  x, y   from the image landmarks, in metres through the per-frame weak-perspective camera that maps the
         world landmarks onto the image landmarks (``pose.camera``), re-centred on the hip centre;
  z      (depth) from the world landmarks, relative to the hip centre. Along each limb (shoulder → elbow →
         wrist → hand points, hip → knee → ankle → heel / foot_index) the world's depth step of a segment is
         multiplied by that segment's ratio of image-plane to world-plane extent over the clip (visibility-
         weighted, clipped to [0.5, 2]), so that a segment's depth and its image-plane offset are in the same
         units: this absorbs the magnification of limbs nearer the camera than the hips (perspective, which
         the weak-perspective camera leaves out) and MediaPipe's own proportions (its world feet are about
         1.6 times shorter than the image shows). Trunk and face points keep the world depth.

The image landmarks are low-passed like the world landmarks (``filtering.lowpass``, same cutoff) before the
camera is fitted. A frame the camera cannot map (an image point missing, a degenerate fit) keeps its world
landmarks. Without image landmarks (landmark CSV or npz files without them, Kinect imports) the world
landmarks are used unchanged. Synthetic check: tests/unit/test_fusion.py recovers known SKEL angles (ankle
and elbow included) from image + depth input where the world landmarks alone do not.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
from numpy.typing import NDArray

from workbench.pose.camera import WeakPerspective, fit_camera
from workbench.pose.filtering import FilterOptions, FilterReport, clean_landmarks, lowpass
from workbench.pose.landmarks import MP_INDEX, LandmarkTrack

FloatArray = NDArray[np.float64]

# Parent → child links whose depth step is rescaled (module docstring), from the trunk outwards.
LIMB_LINKS: tuple[tuple[str, str], ...] = tuple(
    (f"{s}_{a}", f"{s}_{b}")
    for s in ("left", "right")
    for a, b in (
        ("shoulder", "elbow"),
        ("elbow", "wrist"),
        ("wrist", "pinky"),
        ("wrist", "index"),
        ("wrist", "thumb"),
        ("hip", "knee"),
        ("knee", "ankle"),
        ("ankle", "heel"),
        ("ankle", "foot_index"),
    )
)
DEPTH_RATIO_RANGE = (0.5, 2.0)
_HIPS = (MP_INDEX["left_hip"], MP_INDEX["right_hip"])


@dataclass(frozen=True)
class PreparedLandmarks:
    """A landmark track made ready for inverse kinematics.

    clean: filtered landmarks (lost frames held, left/right swaps repaired, world and image low-passed).
    fused: what IK reads: image-plane x, y and world depth (module docstring), or ``clean`` without image.
    camera: the weak-perspective camera of ``fused`` (projecting its points gives the filtered image
        landmarks exactly), or None without image landmarks.
    depth_ratio: per limb link, the depth multiplier used (1 without image landmarks).
    """

    clean: LandmarkTrack
    fused: LandmarkTrack
    camera: WeakPerspective | None
    report: FilterReport
    depth_ratio: dict[tuple[str, str], float]


def prepare_landmarks(track: LandmarkTrack, options: FilterOptions | None = None) -> PreparedLandmarks:
    """Filtering (``filtering.clean_landmarks``), then the image + depth points of the module docstring."""
    opts = options or FilterOptions()
    clean, report = clean_landmarks(track, opts)
    if clean.image is not None and opts.smooth_cutoff_hz > 0:
        clean = replace(clean, image=_smooth(clean.image, clean.t, opts))
    camera = fit_camera(clean)
    if camera is None:
        return PreparedLandmarks(clean=clean, fused=clean, camera=None, report=report, depth_ratio={})
    fused, camera, ratios = fuse_image_depth(clean, camera)
    return PreparedLandmarks(clean=clean, fused=fused, camera=camera, report=report, depth_ratio=ratios)


def fuse_image_depth(
    track: LandmarkTrack, camera: WeakPerspective
) -> tuple[LandmarkTrack, WeakPerspective, dict[tuple[str, str], float]]:
    """The fused track (world = image x, y in metres + rescaled world depth, hip-centred), its camera
    (re-centred with it) and the depth ratio of each limb link."""
    if track.image is None:
        raise ValueError("image landmarks: expected (T, 33, 2) normalised coordinates, got None")
    with np.errstate(invalid="ignore"):
        xy = np.where((camera.scale > 0)[:, None, None], camera.unproject(track.image), np.nan)
    centre_xy = xy[:, _HIPS].mean(axis=1)
    world = track.world - track.world[:, _HIPS].mean(axis=1, keepdims=True)
    depth = world[..., 2].copy()
    ratios: dict[tuple[str, str], float] = {}
    for parent, child in LIMB_LINKS:
        a, b = MP_INDEX[parent], MP_INDEX[child]
        ratio = _depth_ratio(
            xy[:, b] - xy[:, a],
            world[:, b, :2] - world[:, a, :2],
            np.minimum(track.visibility[:, a], track.visibility[:, b]),
        )
        ratios[(parent, child)] = ratio
        depth[:, b] = depth[:, a] + ratio * (world[:, b, 2] - world[:, a, 2])
    fused = np.concatenate([xy - centre_xy[:, None], depth[..., None]], axis=-1)
    # A frame the camera cannot map (no image point, a degenerate fit) keeps its world landmarks.
    unmapped = ~np.isfinite(fused).all(axis=(1, 2))
    fused[unmapped] = world[unmapped]
    return replace(track, world=fused), camera.shifted(np.where(unmapped[:, None], 0.0, centre_xy)), ratios


def _depth_ratio(image_step: FloatArray, world_step: FloatArray, weight: FloatArray) -> float:
    """Σ w |image-plane step| / Σ w |world-plane step| over the frames where both are finite."""
    img, wld = np.linalg.norm(image_step, axis=-1), np.linalg.norm(world_step, axis=-1)
    ok = np.isfinite(img) & np.isfinite(wld)
    den = float(np.sum(weight[ok] * wld[ok]))
    if den <= 1e-9:
        return 1.0
    lo, hi = DEPTH_RATIO_RANGE
    return float(np.clip(np.sum(weight[ok] * img[ok]) / den, lo, hi))


def _smooth(image: FloatArray, t: FloatArray, opts: FilterOptions) -> FloatArray:
    out = np.array(image, dtype=np.float64, copy=True)
    valid = np.isfinite(out).all(axis=(1, 2))
    if valid.sum() > 1:
        fps = float(1.0 / np.median(np.diff(t))) if t.shape[0] > 1 else 30.0
        out[valid] = lowpass(out[valid], fps, opts.smooth_cutoff_hz, opts.smooth_order)
    return out
