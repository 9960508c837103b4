"""The HSMR backend (GPU): HSMR (Xia et al., CVPR 2025) regresses SKEL poses and SMPL shapes per frame.

Two ways in:

* ``run_hsmr(video, config)`` runs HSMR itself from a user's checkout of its code, with the user's
  checkpoint and SKEL model folder (paths in the configuration; a missing one stops with a message naming
  it and where it is obtained). It needs a CUDA GPU in practice.
* ``import_hsmr_outputs(path)`` reads what HSMR's own demo writes: one ``.npz`` per video (keys ``poses``
  N×46, ``betas`` N×10, ``patch_cam_t`` / ``full_cam_t`` N×3, optionally ``bbx_cs`` N×3 box centre and size,
  and ``frame`` or ``n_patch_per_img`` to say which frame each instance belongs to) or a folder of per-image
  ``.npz`` files (one frame each, sorted by name).

HSMR gives no confidence, no tracking and no smoothing; this module adds them: it follows the main subject
from frame to frame (largest box first, then the box nearest the last one), rotates the pelvis from HSMR's
camera frame (y down, z away from the camera) into SKEL's gravity-aligned frame (y up), derives a
confidence from box continuity and pose jumps, and leaves smoothing to the shared angle filter.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from workbench.config import Config
from workbench.errors import PoseFileError
from workbench.io.video import iter_frames
from workbench.pose.filtering import hold_last_valid, lowpass
from workbench.pose.track import PoseTrack
from workbench.skeleton import N_DOFS

# Camera frame (x right, y down, z away from the camera) to SKEL's world frame (y up; a person who faces
# the camera faces +z): a half turn about x. A tilted camera adds its pitch (positive = looking down).
_CAM_TO_WORLD = np.diag([1.0, -1.0, -1.0])
JUMP_DEG = 25.0  # a mean per-DoF change between frames this large is implausible at 30 fps


@dataclass(frozen=True)
class HsmrInstances:
    """HSMR's raw per-instance outputs with the frame each belongs to."""

    poses: NDArray[np.float64]  # (N, 46)
    betas: NDArray[np.float64]  # (N, 10)
    frame: NDArray[np.int64]  # (N,)
    boxes: NDArray[np.float64] | None  # (N, 3): centre x, centre y, size (pixels)


def pelvis_matrix(q: NDArray[np.float64]) -> NDArray[np.float64]:
    """(..., 3, 3) rotation of SKEL's pelvis DoFs: tilt about z, list about x, rotation about y, composed
    R = R_y(rotation) · R_x(list) · R_z(tilt) (each DoF left-multiplied in SKEL's order)."""
    a, b, c = q[..., 0], q[..., 1], q[..., 2]
    return _rot_y(c) @ _rot_x(b) @ _rot_z(a)


def pelvis_dofs(m: NDArray[np.float64]) -> NDArray[np.float64]:
    """Inverse of ``pelvis_matrix``: (..., 3) tilt, list, rotation."""
    b = np.arcsin(np.clip(-m[..., 1, 2], -1.0, 1.0))
    a = np.arctan2(m[..., 1, 0], m[..., 1, 1])
    c = np.arctan2(m[..., 0, 2], m[..., 2, 2])
    return np.stack([a, b, c], axis=-1)


def camera_to_world(q: NDArray[np.float64], camera_pitch_deg: float = 0.0) -> NDArray[np.float64]:
    """Rotate the pelvis DoFs of (N, 46) poses from HSMR's camera frame into the gravity-aligned frame."""
    out = q.copy()
    tilt = _rot_x(np.asarray(math.radians(camera_pitch_deg)))
    out[:, :3] = pelvis_dofs(tilt @ _CAM_TO_WORLD @ pelvis_matrix(q[:, :3]))
    return out


def import_hsmr_outputs(
    path: str | Path, fps: float = 30.0, camera_pitch_deg: float = 0.0
) -> tuple[PoseTrack, list[str]]:
    """Read HSMR's demo outputs and return a tracked, gravity-aligned PoseTrack plus warnings."""
    instances = read_instances(Path(path))
    n_frames = int(instances.frame.max()) + 1 if instances.frame.size else 0
    chosen, warnings = follow_main_subject(instances, n_frames)
    q = np.full((n_frames, N_DOFS), np.nan)
    betas = np.full((n_frames, 10), np.nan)
    have = chosen >= 0
    q[have] = camera_to_world(instances.poses[chosen[have]], camera_pitch_deg)
    betas[have] = instances.betas[chosen[have]]
    confidence = pose_confidence(q, have)
    smoothed = smooth_angles(q, have, fps)
    if not have.all():
        warnings.append(f"no person in {int((~have).sum())} of {n_frames} frames: the last valid pose is kept there")
    track = PoseTrack.from_arrays(
        smoothed, fps=fps, confidence=confidence, betas=_fill_betas(betas), source=f"hsmr:{Path(path).name}"
    )
    return track, warnings


def read_instances(path: Path) -> HsmrInstances:
    if path.is_dir():
        return _read_folder(path)
    arrays = _load(path)
    poses, betas = _array(arrays, "poses", path, (None, N_DOFS)), _array(arrays, "betas", path, (None, 10))
    n = poses.shape[0]
    if betas.shape[0] != n:
        raise PoseFileError(f"{path}: key 'betas': expected {n} rows like 'poses', got {betas.shape[0]}")
    frame = _frames(arrays, n, path)
    boxes = _array(arrays, "bbx_cs", path, (n, 3)) if "bbx_cs" in arrays else None
    return HsmrInstances(poses.astype(np.float64), betas.astype(np.float64), frame, boxes)


def _frames(arrays: dict[str, NDArray[np.generic]], n: int, path: Path) -> NDArray[np.int64]:
    if "frame" in arrays:
        frame = np.asarray(arrays["frame"], dtype=np.int64).reshape(-1)
        if frame.shape != (n,) or (frame < 0).any():
            raise PoseFileError(f"{path}: key 'frame': expected {n} non-negative frame indices, got {frame.shape}")
        return frame
    if "n_patch_per_img" in arrays:
        counts = np.asarray(arrays["n_patch_per_img"], dtype=np.int64).reshape(-1)
        if counts.sum() != n:
            raise PoseFileError(f"{path}: key 'n_patch_per_img': expected counts summing to {n}, got {counts.sum()}")
        return np.repeat(np.arange(counts.size), counts)
    # HSMR's video demo writes one row per detected instance; without a frame index this is only right
    # when it ran with one instance per frame (--max_instances 1), which is what we then assume.
    return np.arange(n)


def _read_folder(folder: Path) -> HsmrInstances:
    files = sorted(folder.glob("*.npz"))
    if not files:
        raise PoseFileError(f"{folder}: expected HSMR per-image .npz files, found none")
    poses, betas, frames, boxes = [], [], [], []
    for k, file in enumerate(files):
        arrays = _load(file)
        p = _array(arrays, "poses", file, (None, N_DOFS))
        poses.append(p)
        betas.append(_array(arrays, "betas", file, (p.shape[0], 10)))
        frames.append(np.full(p.shape[0], k))
        if "bbx_cs" in arrays:
            boxes.append(np.asarray(arrays["bbx_cs"], dtype=np.float64).reshape(-1, 3)[: p.shape[0]])
    box = np.vstack(boxes) if len(boxes) == len(files) else None
    return HsmrInstances(
        np.vstack(poses).astype(np.float64),
        np.vstack(betas).astype(np.float64),
        np.concatenate(frames).astype(np.int64),
        box,
    )


def _load(path: Path) -> dict[str, NDArray[np.generic]]:
    if not path.exists():
        raise PoseFileError(f"{path}: no such file")
    try:
        with np.load(path, allow_pickle=False) as data:
            return {k: data[k] for k in data.files}
    except (OSError, ValueError) as exc:
        raise PoseFileError(f"{path}: expected an HSMR output .npz, got an unreadable file ({exc})") from None


def _array(
    arrays: dict[str, NDArray[np.generic]], key: str, path: Path, shape: tuple[int | None, int]
) -> NDArray[np.float64]:
    if key not in arrays:
        raise PoseFileError(f"{path}: expected key {key!r} (HSMR output), got keys {sorted(arrays)}")
    a = np.asarray(arrays[key], dtype=np.float64)
    rows, cols = shape
    if a.ndim != 2 or a.shape[1] != cols or (rows is not None and a.shape[0] != rows):
        want = f"({'N' if rows is None else rows}, {cols})"
        raise PoseFileError(f"{path}: key {key!r}: expected shape {want}, got {a.shape}")
    return a


def follow_main_subject(inst: HsmrInstances, n_frames: int) -> tuple[NDArray[np.int64], list[str]]:
    """Index of the followed instance per frame (-1: none). Start with the largest box; then keep the box
    nearest the last chosen one (in units of its size); without boxes, the pose nearest the last one."""
    chosen = np.full(n_frames, -1, dtype=np.int64)
    last: int | None = None
    switches = 0
    for f in range(n_frames):
        cand = np.flatnonzero(inst.frame == f)
        if cand.size == 0:
            continue
        pick = int(cand[0]) if cand.size == 1 else _pick(inst, cand, last)
        if last is not None and inst.boxes is not None:
            jump = np.linalg.norm(inst.boxes[pick, :2] - inst.boxes[last, :2]) / max(inst.boxes[last, 2], 1.0)
            switches += int(jump > 1.0)
        chosen[f] = pick
        last = pick
    warnings = []
    if np.bincount(inst.frame, minlength=n_frames).max(initial=0) > 1:
        warnings.append("several people in view: followed the main subject (largest, then nearest box)")
    if switches:
        warnings.append(f"the followed person's box jumped more than its own size {switches} time(s): check identity")
    return chosen, warnings


def _pick(inst: HsmrInstances, cand: NDArray[np.intp], last: int | None) -> int:
    if inst.boxes is None:
        if last is None:
            return int(cand[0])
        d = np.abs(inst.poses[cand] - inst.poses[last]).mean(axis=1)
        return int(cand[np.argmin(d)])
    if last is None:
        return int(cand[np.argmax(inst.boxes[cand, 2])])
    d = np.linalg.norm(inst.boxes[cand, :2] - inst.boxes[last, :2], axis=1)
    return int(cand[np.argmin(d)])


def smooth_angles(q: NDArray[np.float64], have: NDArray[np.bool_], fps: float) -> NDArray[np.float64]:
    """HSMR's per-frame estimates jitter; the shared zero-phase low-pass (which keeps a fast rep's range,
    workbench.pose.filtering) smooths them. Frames without a person hold the last pose while filtering (so the
    filter does not ring into the gap) and stay NaN in the output; angles are unwrapped first."""
    if not have.any():
        return q
    filled = hold_last_valid(q, ~have)
    first = int(np.argmax(have))
    filled[:first] = filled[first]  # before the first detection: the first pose, only for the filter
    out = lowpass(np.asarray(np.unwrap(filled, axis=0), dtype=np.float64), fps)
    out[~have] = np.nan
    return out


def pose_confidence(q: NDArray[np.float64], have: NDArray[np.bool_]) -> NDArray[np.float64]:
    """HSMR reports no confidence; a frame whose pose jumps implausibly from its neighbours gets less.
    conf = exp(-(mean |Δq| / JUMP_DEG)^2) on the smaller of the jumps to the previous and next frame."""
    conf = np.where(have, 1.0, 0.0)
    if q.shape[0] < 2:
        return conf
    step = np.abs(np.diff(q[:, 3:], axis=0))  # body DoFs, not the root
    valid = ~np.isnan(step)
    dq = np.degrees(np.where(valid, step, 0.0).sum(axis=1) / np.maximum(valid.sum(axis=1), 1))
    jump = np.minimum(np.r_[dq[:1], dq], np.r_[dq, dq[-1:]])
    return np.where(have, np.exp(-((jump / JUMP_DEG) ** 2)), 0.0)


def _fill_betas(betas: NDArray[np.float64]) -> NDArray[np.float64] | None:
    valid = np.asarray(~np.isnan(betas).any(axis=1), dtype=bool)
    if not valid.any():
        return None
    mean = betas[valid].mean(axis=0)  # shape is constant: frames without a person take the session mean
    return np.where(valid[:, None], betas, mean)


def run_hsmr(video: str | Path, config: object, fps: float = 30.0) -> tuple[PoseTrack, list[str]]:
    """Run HSMR from the user's checkout on a video (GPU). Every missing piece is named before anything runs."""
    assert isinstance(config, Config)
    code = config.require("hsmr_code")
    checkpoint = config.require("hsmr_checkpoint")
    config.require("skel_model_dir")
    try:
        import torch
    except ImportError:
        raise PoseFileError("the hsmr backend needs PyTorch with CUDA (install HSMR's requirements)") from None
    if not torch.cuda.is_available() and config.device != "cpu":
        raise PoseFileError(
            "the hsmr backend needs a CUDA GPU (none is visible); set `device: cpu` in the "
            "configuration to force a very slow CPU run"
        )
    return _run_hsmr_checkout(Path(video), code, checkpoint, fps, "cuda" if torch.cuda.is_available() else "cpu")


def _run_hsmr_checkout(
    video: Path, code: Path, checkpoint: Path, fps: float, device: str
) -> tuple[PoseTrack, list[str]]:
    """Drive HSMR's own demo functions frame by frame and keep every instance with its frame index."""
    import sys
    import tempfile

    sys.path.insert(0, str(code))
    from lib.kits.hsmr_demo import (  # type: ignore[import-not-found]  # the user's HSMR checkout
        build_detector,
        build_inference_pipeline,
        imgs_det2patches,
    )

    frames = [f.rgb for f in iter_frames(video, fps=fps)]
    detector = build_detector(batch_size=8, max_img_size=512, device=device)
    patches, meta = imgs_det2patches(frames, *detector(frames), 4)
    pipeline = build_inference_pipeline(model_root=checkpoint.parent.parent, device=device)
    poses, betas = _recover(pipeline, patches, device)
    counts = np.asarray(meta["n_patch_per_img"])
    boxes = np.asarray(meta["bbx_cs"]).reshape(-1, 3) if "bbx_cs" in meta else None
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "hsmr.npz"
        arrays = {"poses": poses, "betas": betas, "n_patch_per_img": counts}
        if boxes is not None and boxes.shape[0] == poses.shape[0]:
            arrays["bbx_cs"] = boxes
        np.savez(out, **arrays)  # type: ignore[arg-type]
        return import_hsmr_outputs(out, fps=fps)


def _recover(
    pipeline: object, patches: list[NDArray[np.uint8]], device: str
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    import torch

    mean = np.array([0.485, 0.456, 0.406]) * 255
    std = np.array([0.229, 0.224, 0.225]) * 255
    poses, betas = [], []
    for start in range(0, len(patches), 16):
        batch = (np.concatenate(patches[start : start + 16]) - mean) / std
        with torch.no_grad():
            out = pipeline(batch.transpose(0, 3, 1, 2))  # type: ignore[operator]
        poses.append(out["pd_params"]["poses"].detach().cpu().numpy())
        betas.append(out["pd_params"]["betas"].detach().cpu().numpy())
    return np.vstack(poses).astype(np.float64), np.vstack(betas).astype(np.float64)


def _rot_x(t: NDArray[np.float64]) -> NDArray[np.float64]:
    c, s = np.cos(t), np.sin(t)
    o, z = np.ones_like(t), np.zeros_like(t)
    return np.stack([np.stack([o, z, z], -1), np.stack([z, c, -s], -1), np.stack([z, s, c], -1)], -2)


def _rot_y(t: NDArray[np.float64]) -> NDArray[np.float64]:
    c, s = np.cos(t), np.sin(t)
    o, z = np.ones_like(t), np.zeros_like(t)
    return np.stack([np.stack([c, z, s], -1), np.stack([z, o, z], -1), np.stack([-s, z, c], -1)], -2)


def _rot_z(t: NDArray[np.float64]) -> NDArray[np.float64]:
    c, s = np.cos(t), np.sin(t)
    o, z = np.ones_like(t), np.zeros_like(t)
    return np.stack([np.stack([c, -s, z], -1), np.stack([s, c, z], -1), np.stack([z, z, o], -1)], -2)
