"""The pose ``.npz`` format and the OpenSim ``.mot`` export.

``.npz`` keys (documented in the README):
  q           (T, 46) float, radians, SKEL order (NaN = no estimate for that frame and DoF)
  fps         scalar, frames per second            } one of the two
  t           (T,) float, seconds                  }
  observed    (46,) bool, optional: which DoFs the source measures (default: all)
  confidence  (T,) float in [0, 1], optional (default: 1)
  betas       (T, 10) float, optional: SMPL shape coefficients
  dof_confidence (T, 46) float in [0, 1], optional: per-frame, per-DoF confidence
  source      str, optional
"""

from __future__ import annotations

import zipfile
from pathlib import Path

import numpy as np

from workbench.errors import PoseFileError
from workbench.pose.track import PoseTrack
from workbench.skeleton import DOF_NAMES, N_DOFS

_KNOWN_KEYS = {"q", "fps", "t", "observed", "confidence", "betas", "source", "dof_confidence"}


def load_npz(path: str | Path) -> PoseTrack:
    """Read a pose ``.npz``; a malformed file raises PoseFileError naming the file, key, expected and got."""
    path = Path(path)
    if not path.exists():
        raise PoseFileError(f"{path}: no such file")
    try:
        with np.load(path, allow_pickle=False) as data:
            arrays = {k: data[k] for k in data.files}
    except (zipfile.BadZipFile, OSError, ValueError, EOFError) as exc:
        raise PoseFileError(f"{path}: expected a NumPy .npz archive, got an unreadable file ({exc})") from None
    if "q" not in arrays:
        raise PoseFileError(f"{path}: expected key 'q' (T×{N_DOFS} radians), got keys {sorted(arrays)}")
    q = arrays["q"]
    if q.ndim != 2 or q.shape[1] != N_DOFS:
        raise PoseFileError(f"{path}: key 'q': expected shape (T, {N_DOFS}), got {q.shape}")
    if q.shape[0] == 0:
        raise PoseFileError(f"{path}: key 'q': expected at least one frame, got 0")
    if not np.issubdtype(q.dtype, np.number):
        raise PoseFileError(f"{path}: key 'q': expected numbers, got dtype {q.dtype}")
    fps = _scalar(arrays, "fps", path)
    t = arrays.get("t")
    if (fps is None) == (t is None):
        got = "both" if t is not None else "neither"
        raise PoseFileError(f"{path}: expected exactly one of keys 'fps' or 't', got {got}")
    source = str(arrays["source"]) if "source" in arrays else f"npz:{path.name}"
    try:
        track = PoseTrack.from_arrays(
            q, fps=fps, t=t, confidence=arrays.get("confidence"), observed=arrays.get("observed"),
            betas=arrays.get("betas"), source=source,
        )  # fmt: skip
        if "dof_confidence" in arrays:
            track = track.with_q(track.q, dof_confidence=np.asarray(arrays["dof_confidence"], dtype=np.float64))
        return track
    except ValueError as exc:
        raise PoseFileError(f"{path}: {exc}") from None


def _scalar(arrays: dict[str, np.ndarray], key: str, path: Path) -> float | None:
    if key not in arrays:
        return None
    value = arrays[key]
    if value.size != 1 or not np.issubdtype(value.dtype, np.number):
        raise PoseFileError(f"{path}: key {key!r}: expected a number, got {value.dtype} of shape {value.shape}")
    return float(value.reshape(()))


def save_npz(track: PoseTrack, path: str | Path) -> Path:
    """Write a track in the documented ``.npz`` format (``fps`` for uniform tracks, else ``t``)."""
    path = Path(path)
    arrays: dict[str, np.ndarray] = {
        "q": track.q, "observed": track.observed, "confidence": track.confidence,
        "source": np.array(track.source),
    }  # fmt: skip
    if track.is_uniform and track.n_frames > 1 and np.isclose(track.t[0], 0.0):
        arrays["fps"] = np.array(track.fps)
    else:
        arrays["t"] = track.t
    if track.betas is not None:
        arrays["betas"] = track.betas
    if track.dof_confidence is not None:
        arrays["dof_confidence"] = track.dof_confidence
    np.savez_compressed(path, **arrays)  # type: ignore[arg-type]
    return path


def export_mot(track: PoseTrack, path: str | Path) -> Path:
    """Write an OpenSim motion file (degrees). The header states the SKEL convention, which differs from
    OpenSim's own models: zero is SKEL's T-pose, so shoulder angles are measured from arms horizontal."""
    path = Path(path)
    names = list(DOF_NAMES)
    header = [
        path.stem,
        "version=1",
        f"nRows={track.n_frames}",
        f"nColumns={len(names) + 1}",
        "inDegrees=yes",
        "",
        "Joint angles of the SKEL 46-DoF model (Keller et al. 2023), exported by BioCoach Workbench.",
        "Convention: zero is SKEL's T-pose (arms horizontal), not OpenSim's arms-down default pose;",
        "positive hip/knee/elbow = flexion, positive ankle = dorsiflexion. Unobserved DoFs are written as 0.",
        f"Source: {track.source}",
        "endheader",
        "\t".join(["time", *names]),
    ]
    values = np.degrees(np.where(track.observed[None, :], track.q, 0.0))
    rows = np.column_stack([track.t, np.nan_to_num(values)])
    with path.open("w", encoding="utf-8") as handle:
        handle.write("\n".join(header) + "\n")
        np.savetxt(handle, rows, fmt="%.6f", delimiter="\t")
    return path


def unknown_keys(path: str | Path) -> list[str]:
    """Keys of a pose ``.npz`` that the format does not define (reported as a warning, not an error)."""
    with np.load(path, allow_pickle=False) as data:
        return sorted(set(data.files) - _KNOWN_KEYS)
