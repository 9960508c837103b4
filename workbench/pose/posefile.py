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

from workbench.config import current_limits
from workbench.errors import PoseFileError
from workbench.io.checks import check_duration, check_fps, check_times
from workbench.io.inputs import Member, check_npz
from workbench.limits import Limits, exceeded
from workbench.pose.track import PoseTrack, check_angles, check_frame_count
from workbench.skeleton import DOF_NAMES, N_DOFS

_KNOWN_KEYS = {"q", "fps", "t", "observed", "confidence", "betas", "source", "dof_confidence"}


def load_npz(path: str | Path, limits: Limits | None = None) -> PoseTrack:
    """Read a pose ``.npz``; a malformed file, or one beyond a limit of ``workbench.limits``, raises
    PoseFileError naming the file, key, expected and got. Sizes, dtypes and the source's length are checked
    from the array headers before any array is read."""
    path = Path(path)
    lim = limits or current_limits()
    members = check_npz(path, lim)
    if "q" not in members:
        raise PoseFileError(f"{path}: expected key 'q' (T×{N_DOFS} radians), got keys {sorted(members)}")
    _check_members(path, members, lim)
    try:
        with np.load(path, allow_pickle=False) as data:
            arrays = {k: data[k] for k in _KNOWN_KEYS if k in members}
    except (zipfile.BadZipFile, OSError, ValueError, EOFError) as exc:
        raise PoseFileError(f"{path}: expected a NumPy .npz archive, got an unreadable file ({exc})") from None
    q = arrays["q"]
    check_frame_count(q.shape[0], f"{path}: key 'q'", lim)
    fps = _scalar(arrays, "fps", path)
    t = arrays.get("t")
    if (fps is None) == (t is None):
        got = "both" if t is not None else "neither"
        raise PoseFileError(f"{path}: expected exactly one of keys 'fps' or 't', got {got}")
    if fps is not None:
        check_fps(fps, f"{path}: key 'fps'", lim)
        check_duration((q.shape[0] - 1) / fps, f"{path}: keys 'q' and 'fps'", lim)  # the span they imply
    else:
        assert t is not None
        if t.shape != (q.shape[0],):
            raise PoseFileError(f"{path}: key 't': expected shape ({q.shape[0]},) (one per frame of q), got {t.shape}")
        check_times(np.asarray(t, dtype=np.float64), f"{path}: key 't'", lim)
    observed = _observed(arrays.get("observed"), path)
    check_angles(np.asarray(q, dtype=np.float64), observed, f"{path}: key 'q'", lim)
    source = str(arrays["source"]) if "source" in arrays else f"npz:{path.name}"
    try:
        track = PoseTrack.from_arrays(
            q,
            fps=fps,
            t=t,
            confidence=arrays.get("confidence"),
            observed=observed,
            betas=arrays.get("betas"),
            source=source,
        )
        if "dof_confidence" in arrays:
            track = track.with_q(track.q, dof_confidence=np.asarray(arrays["dof_confidence"], dtype=np.float64))
        return track
    except ValueError as exc:
        raise PoseFileError(f"{path}: {exc}") from None


# What each key's array may be (checked on the headers, before loading): real numbers for the measurements,
# booleans for the mask, text for the source.
_FLOAT_KEYS = ("q", "t", "confidence", "betas", "dof_confidence")


def _check_members(path: Path, members: dict[str, Member], lim: Limits) -> None:
    for key in _FLOAT_KEYS:
        m = members.get(key)
        if m is not None and m.kind != "float":
            raise PoseFileError(f"{path}: key {key!r}: expected floating-point numbers, got {m.describe()}")
    q = members["q"]
    if len(q.shape) != 2 or q.shape[1] != N_DOFS:
        raise PoseFileError(f"{path}: key 'q': expected shape (T, {N_DOFS}), got {q.shape}")
    fps = members.get("fps")
    if fps is not None and (fps.kind not in ("float", "int") or fps.size != 1):
        raise PoseFileError(f"{path}: key 'fps': expected a number, got {fps.describe()}")
    observed = members.get("observed")
    if observed is not None and (observed.kind not in ("bool", "int") or observed.shape != (N_DOFS,)):
        raise PoseFileError(f"{path}: key 'observed': expected shape ({N_DOFS},) booleans, got {observed.describe()}")
    source = members.get("source")
    if source is not None:
        if source.kind != "text" or source.size != 1:
            raise PoseFileError(f"{path}: key 'source': expected one text string, got {source.describe()}")
        chars = source.dtype.itemsize // (4 if source.dtype.kind == "U" else 1)
        if chars > lim.max_string_chars:
            what = "key 'source': characters"
            raise PoseFileError(f"{path}: {exceeded(what, chars, lim.max_string_chars, 'max_string_chars')}")


def _observed(raw: np.ndarray | None, path: Path) -> np.ndarray:
    if raw is None:
        return np.ones(N_DOFS, bool)
    if raw.dtype.kind != "b" and not np.isin(raw, (0, 1)).all():
        got = sorted(set(raw.tolist()))[:5]
        raise PoseFileError(f"{path}: key 'observed': expected booleans (or 0/1), got values {got}")
    return raw.astype(bool)


def _scalar(arrays: dict[str, np.ndarray], key: str, path: Path) -> float | None:
    if key not in arrays:
        return None
    value = arrays[key]
    if value.size != 1 or value.dtype.kind not in "fiu":
        raise PoseFileError(f"{path}: key {key!r}: expected a number, got {value.dtype} of shape {value.shape}")
    return float(value.reshape(()))


def save_npz(track: PoseTrack, path: str | Path) -> Path:
    """Write a track in the documented ``.npz`` format (``fps`` for uniform tracks, else ``t``)."""
    path = Path(path)
    arrays: dict[str, np.ndarray] = {
        "q": track.q,
        "observed": track.observed,
        "confidence": track.confidence,
        "source": np.array(track.source),
    }
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
        return sorted(set(data.files) - _KNOWN_KEYS)[:20]
