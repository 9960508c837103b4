"""The ``landmarks`` backend: MediaPipe-layout world landmarks from files, turned into a PoseTrack.

Formats
  ``.npz``: ``landmarks_world`` (T×33×3 float, metres, MediaPipe world frame and landmark order; NaN rows
  = no detection), ``visibility`` (T×33 in [0, 1]), exactly one of ``fps`` (scalar) or ``t`` (T seconds,
  strictly increasing); optional ``landmarks_image`` (T×33×2 normalised image coordinates),
  ``image_size`` (width, height) and ``source`` (text).
  ``.csv`` / ``.csv.gz`` (the layout of ../shared/data/real_landmarks_dev): one row per frame with columns
  ``frame``, ``t_s``, ``detected`` (0/1), then per landmark ``<name>_x, _y`` (normalised image), ``_z``
  (relative depth, not used), ``_vis`` and ``<name>_wx, _wy, _wz`` (world, metres); other columns are
  ignored. Rows with ``detected`` = 0 have no pose. Gzip is recognised by its content, not its name. The
  layout has no frame size: the image + depth points (``pose.fusion``) then estimate the aspect ratio.

Image coordinates, when a file has them, are used with the world landmarks' depth for the angles
(``pose.fusion``); without them the world landmarks alone are.

A malformed file raises PoseFileError naming the file, the key or column, what was expected and what was got.
"""

from __future__ import annotations

import gzip
import io
import zipfile
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from workbench.config import current_limits
from workbench.errors import PoseFileError
from workbench.pose.dof_confidence import dof_confidence
from workbench.pose.filtering import FilterOptions, describe_ranges, frame_ranges
from workbench.pose.fusion import prepare_landmarks
from workbench.pose.ik import UNOBSERVED_DOFS, IKOptions, IKResult, landmarks_ik
from workbench.pose.landmarks import MP_NAMES, N_LANDMARKS, LandmarkTrack
from workbench.pose.track import PoseTrack, angle_range, implausible_angles
from workbench.skeleton import DOF_NAMES, dof, dof_index

FloatArray = NDArray[np.float64]

NPZ_KEYS = ("landmarks_world", "visibility", "fps", "t", "landmarks_image", "image_size", "source")
_GZIP_MAGIC = b"\x1f\x8b"


def read_landmarks(path: str | Path) -> LandmarkTrack:
    """Read a landmark file, choosing the reader by its suffix (.npz, .csv, .csv.gz)."""
    path = Path(path)
    if not path.exists():
        raise PoseFileError(f"{path}: no such file")
    suffixes = [s.lower() for s in path.suffixes]
    if suffixes[-1:] == [".npz"]:
        return read_landmarks_npz(path)
    if ".csv" in suffixes[-2:]:
        return read_landmarks_csv(path)
    raise PoseFileError(f"{path}: expected a landmark file ending in .npz, .csv or .csv.gz, got {path.suffix!r}")


# ------------------------------------------------------------------------------------------------ npz


def read_landmarks_npz(path: str | Path) -> LandmarkTrack:
    """Read the landmark ``.npz`` format (module docstring)."""
    path = Path(path)
    arrays = _load_npz(path)
    world = _array(arrays, "landmarks_world", path, (None, N_LANDMARKS, 3))
    n = world.shape[0]
    if n == 0:
        raise PoseFileError(f"{path}: key 'landmarks_world': expected at least one frame, got 0")
    if np.isinf(world).any():
        raise PoseFileError(f"{path}: key 'landmarks_world': expected finite metres or NaN, got inf")
    visibility = _visibility(_array(arrays, "visibility", path, (n, N_LANDMARKS)), path, "key 'visibility'")
    t = _times(arrays, path, n)
    image = _array(arrays, "landmarks_image", path, (n, N_LANDMARKS, 2)) if "landmarks_image" in arrays else None
    size = _image_size(arrays["image_size"], path) if "image_size" in arrays else None
    source = str(arrays["source"]) if "source" in arrays else f"npz:{path.name}"
    return _track(path, world, visibility, t, image, size, source)


def _load_npz(path: Path) -> dict[str, NDArray[Any]]:
    if not path.exists():
        raise PoseFileError(f"{path}: no such file")
    try:
        with np.load(path, allow_pickle=False) as data:
            return {k: data[k] for k in data.files}
    except (zipfile.BadZipFile, OSError, ValueError, EOFError) as exc:
        raise PoseFileError(f"{path}: expected a NumPy .npz archive, got an unreadable file ({exc})") from None


def _array(arrays: dict[str, NDArray[Any]], key: str, path: Path, shape: tuple[int | None, ...]) -> FloatArray:
    if key not in arrays:
        raise PoseFileError(f"{path}: expected key {key!r}, got keys {sorted(arrays)}")
    value = arrays[key]
    if not np.issubdtype(value.dtype, np.number):
        raise PoseFileError(f"{path}: key {key!r}: expected numbers, got dtype {value.dtype}")
    if value.ndim != len(shape) or any(s is not None and s != v for s, v in zip(shape, value.shape, strict=True)):
        want = "(" + ", ".join("T" if s is None else str(s) for s in shape) + ("," if len(shape) == 1 else "") + ")"
        raise PoseFileError(f"{path}: key {key!r}: expected shape {want}, got {value.shape}")
    return np.asarray(value, dtype=np.float64)


def _times(arrays: dict[str, NDArray[Any]], path: Path, n: int) -> FloatArray:
    has_fps, has_t = "fps" in arrays, "t" in arrays
    if has_fps == has_t:
        raise PoseFileError(f"{path}: expected exactly one of keys 'fps' or 't', got {'both' if has_t else 'neither'}")
    if has_fps:
        fps = arrays["fps"]
        value = float(fps.reshape(())) if fps.size == 1 and np.issubdtype(fps.dtype, np.number) else float("nan")
        if not np.isfinite(value) or value <= 0:
            raise PoseFileError(f"{path}: key 'fps': expected a positive number, got {fps!r}")
        return np.arange(n, dtype=np.float64) / value
    return _check_t(_array(arrays, "t", path, (n,)), path, "key 't'")


def _check_t(t: FloatArray, path: Path, where: str) -> FloatArray:
    if not np.isfinite(t).all():
        row = int(np.argmin(np.isfinite(t)))
        raise PoseFileError(f"{path}: {where}: expected finite seconds, got NaN or inf at row {row}")
    if t.shape[0] > 1 and not (np.diff(t) > 0).all():
        bad = int(np.argmin(np.diff(t) > 0)) + 1
        raise PoseFileError(
            f"{path}: {where}: expected strictly increasing times, got {t[bad]} after {t[bad - 1]} at row {bad}"
        )
    return t


def _visibility(vis: FloatArray, path: Path, where: str) -> FloatArray:
    finite = vis[np.isfinite(vis)]
    if finite.size and (finite.min() < 0 or finite.max() > 1):
        raise PoseFileError(f"{path}: {where}: expected values in [0, 1], got {finite.min():.3g} to {finite.max():.3g}")
    return np.nan_to_num(vis, nan=0.0)


def _image_size(value: NDArray[Any], path: Path) -> tuple[int, int]:
    if value.shape != (2,) or not np.issubdtype(value.dtype, np.number) or (value <= 0).any():
        raise PoseFileError(f"{path}: key 'image_size': expected (width, height) in pixels, got {value!r}")
    return int(value[0]), int(value[1])


def _track(
    path: Path,
    world: FloatArray,
    vis: FloatArray,
    t: FloatArray,
    image: FloatArray | None,
    size: tuple[int, int] | None,
    source: str,
) -> LandmarkTrack:
    try:
        return LandmarkTrack(world=world, visibility=vis, t=t, image=image, image_size=size, source=source)
    except ValueError as exc:
        raise PoseFileError(f"{path}: {exc}") from None


# ------------------------------------------------------------------------------------------------ csv


def csv_columns() -> list[str]:
    """The columns the CSV reader needs, in the development data's order."""
    image = [f"{n}_{a}" for n in MP_NAMES for a in ("x", "y", "z", "vis")]
    world = [f"{n}_{a}" for n in MP_NAMES for a in ("wx", "wy", "wz")]
    return ["frame", "t_s", "detected", *image, *world]


def read_landmarks_csv(path: str | Path) -> LandmarkTrack:
    """Read the CSV layout of ../shared/data/real_landmarks_dev (plain or gzip)."""
    path = Path(path)
    header, rows = _read_csv_table(path)
    column = {name: i for i, name in enumerate(header)}
    missing = [c for c in csv_columns() if c not in column]
    if missing:
        more = f" (and {len(missing) - 1} more)" if len(missing) > 1 else ""
        raise PoseFileError(
            f"{path}: expected column {missing[0]!r}{more}, got a header of {len(header)} columns without it"
        )
    needed = [column[c] for c in csv_columns()]
    table = np.full((len(rows), len(header)), np.nan)
    table[:, needed] = _numeric(path, header, rows, needed)  # other columns are ignored, whatever they hold

    def cols(suffixes: tuple[str, ...]) -> FloatArray:
        idx = [[column[f"{n}_{s}"] for s in suffixes] for n in MP_NAMES]
        return table[:, np.array(idx)]

    detected = table[:, column["detected"]]
    if not np.isin(detected, (0.0, 1.0)).all():
        row = int(np.argmin(np.isin(detected, (0.0, 1.0))))
        raise PoseFileError(f"{path}: column 'detected': expected 0 or 1, got {detected[row]} at data row {row + 1}")
    world = cols(("wx", "wy", "wz"))
    world[detected == 0] = np.nan
    bad = (detected == 1) & ~np.isfinite(world).all(axis=(1, 2))
    if bad.any():
        row = int(np.argmax(bad))
        raise PoseFileError(
            f"{path}: world columns (<name>_wx/_wy/_wz): expected numbers in a detected row, "
            f"got an empty or non-finite value at data row {row + 1}"
        )
    vis = _visibility(np.where(detected[:, None] == 1, cols(("vis",))[..., 0], 0.0), path, "columns '<name>_vis'")
    t = _check_t(table[:, column["t_s"]], path, "column 't_s'")
    image = cols(("x", "y"))
    image[detected == 0] = np.nan
    return _track(path, world, vis, t, image, None, f"csv:{path.name}")


def _read_csv_table(path: Path) -> tuple[list[str], list[list[str]]]:
    import csv

    if not path.exists():
        raise PoseFileError(f"{path}: no such file")
    raw = path.read_bytes()
    try:
        text = gzip.decompress(raw).decode("utf-8") if raw[:2] == _GZIP_MAGIC else raw.decode("utf-8")
    except (OSError, EOFError, UnicodeDecodeError) as exc:
        raise PoseFileError(
            f"{path}: expected UTF-8 CSV text (optionally gzip), got an unreadable file ({exc})"
        ) from None
    lines = list(csv.reader(io.StringIO(text)))
    if not lines or not lines[0]:
        raise PoseFileError(f"{path}: expected a header row, got an empty file")
    rows = [r for r in lines[1:] if r]
    if not rows:
        raise PoseFileError(f"{path}: expected at least one frame, got a header only")
    return [h.strip() for h in lines[0]], rows


def _numeric(path: Path, header: list[str], rows: list[list[str]], columns: list[int]) -> FloatArray:
    """The given columns as floats (empty cells = NaN), or a PoseFileError naming the first bad cell."""
    width = len(header)
    for i, row in enumerate(rows):
        if len(row) != width:
            raise PoseFileError(f"{path}: data row {i + 1}: expected {width} values (the header's), got {len(row)}")
    cells = np.array(rows, dtype=object)[:, columns]
    cells[cells == ""] = "nan"
    try:
        return cells.astype(np.float64)
    except ValueError:
        for i, row in enumerate(cells.tolist()):
            for j, cell in zip(columns, row, strict=True):
                try:
                    float(cell)
                except ValueError:
                    raise PoseFileError(
                        f"{path}: column {header[j]!r}: expected a number, got {cell!r} at data row {i + 1}"
                    ) from None
        raise


# ----------------------------------------------------------------------------------------- to a track


def landmarks_to_track(
    track: LandmarkTrack,
    *,
    filter_options: FilterOptions | None = None,
    ik_options: IKOptions | None = None,
    fps: float | None = None,
) -> tuple[PoseTrack, list[str]]:
    """Filtering (lost frames, swaps, smoothing), the image + depth points (``pose.fusion``: image-plane x, y
    through the camera estimated from the landmarks, world depth; the world landmarks alone without image
    landmarks) + inverse kinematics → a PoseTrack with per-frame confidence, per-DoF confidence
    (``pose.dof_confidence``) and the observed mask, and human-readable warnings about what was repaired or held.

    ``fps``: the source's stated frame rate, kept as the track's nominal rate; without it, a uniform
    time base gives its rate rounded to 1e-6 (so 30 fps reads 30.0, not 30.000000000000007)."""
    prepared = prepare_landmarks(track, filter_options)
    report = prepared.report
    result = landmarks_ik(prepared.fused, ik_options)
    view, yaw = camera_view(result.q, result.confidence)
    observed = result.observed.copy()
    implausible, notes = _untrust_implausible(result.q, observed, track.t)
    if view == "side":
        # Seen from the side, the frontal-plane hip angles hang on the depth of a single camera, which
        # MediaPipe estimates poorly (real side-view squats read ±25° of hip rotation): not judged.
        observed[[dof_index(n) for n in SIDE_VIEW_UNRELIABLE]] = False
        notes.append(
            f"side view (body turned {yaw:.0f}° from the camera): hip adduction and rotation are not "
            f"judged, and neither is left/right symmetry (the far side is seen poorly)"
        )
    pose = PoseTrack(
        q=result.q,
        t=np.asarray(track.t, dtype=np.float64),
        confidence=result.confidence,
        observed=observed,
        source=f"landmarks:{track.source}",
        nominal_fps=fps or _uniform_fps(track.t),
        meta={
            "lost_frames": str(report.n_lost + report.n_leading_lost),
            "swapped_frames": str(report.n_swapped),
            "view": view,
            "angles_from": "image+depth" if prepared.camera is not None else "world",
        },
        dof_confidence=np.where(implausible, 0.0, dof_confidence(prepared.clean, result.q, observed, result.held)),
    )
    return pose, report.warnings(track.t) + _ik_warnings(result, track.t) + notes


def _untrust_implausible(
    q: FloatArray, observed: NDArray[np.bool_], t: FloatArray
) -> tuple[NDArray[np.bool_], list[str]]:
    """IK of noisy landmarks can land beyond any body's range (a held twist, an Euler angle wrapping past ±180°
    when a joint is badly placed). Such a value is no estimate: it is clipped to the edge of the range, so the
    frame keeps its other DoFs, and its per-DoF confidence becomes 0 (the analysis does not judge a DoF it does
    not trust); a note names it. Returns the mask (T, 46) and the notes."""
    bad = implausible_angles(q, observed)
    if not bad.any():
        return bad, []
    margin = np.radians(current_limits().angle_margin_deg)
    low, high = angle_range()
    q[:] = np.where(bad, np.clip(q, low - margin, high + margin), q)
    names = [DOF_NAMES[i] for i in np.flatnonzero(bad.any(axis=0))]
    frames = np.asarray(bad.any(axis=1), dtype=bool)
    return bad, [
        f"{int(bad.sum())} angle(s) beyond the body's range in {int(frames.sum())} frame(s) clipped and "
        f"not trusted ({', '.join(names)}): {describe_ranges(frame_ranges(frames), t, limit=3)}"
    ]


SIDE_VIEW_UNRELIABLE = ("hip_adduction_r", "hip_adduction_l", "hip_rotation_r", "hip_rotation_l")
SIDE_VIEW_DEG = 55.0


def camera_view(q: FloatArray, confidence: FloatArray) -> tuple[str, float]:
    """ "front", "side" or "oblique" from the median |pelvis rotation| (0 = facing the camera, 90 = side on)."""
    rot = q[confidence > 0, dof_index("pelvis_rotation")]
    rot = rot[np.isfinite(rot)]
    if rot.size == 0:
        return "unknown", float("nan")
    yaw = float(np.degrees(np.median(np.abs(np.angle(np.exp(1j * rot))))))  # wrapped to [0, 180]
    yaw = min(yaw, 180.0 - yaw)  # facing away reads like facing the camera
    if yaw >= SIDE_VIEW_DEG:
        return "side", yaw
    return ("front" if yaw <= 25.0 else "oblique"), yaw


def _uniform_fps(t: FloatArray) -> float | None:
    if t.shape[0] < 2:
        return None
    dt = np.diff(t)
    rate = 1.0 / float(np.median(dt))
    return round(rate, 6) if np.ptp(dt) <= 0.01 * np.median(dt) else None


def load_landmark_track(path: str | Path, **kwargs: Any) -> tuple[PoseTrack, list[str]]:
    """Read a landmark file and turn it into a PoseTrack (keyword arguments go to ``landmarks_to_track``)."""
    return landmarks_to_track(read_landmarks(path), **kwargs)


def _ik_warnings(result: IKResult, t: FloatArray) -> list[str]:
    out = []
    undetermined = [DOF_NAMES[i] for i in np.flatnonzero(~result.observed) if _determinable(DOF_NAMES[i])]
    if undetermined:
        out.append(
            "never well determined by the landmarks, so treated as unobserved: "
            + ", ".join(dof(n).label for n in undetermined)
        )
    detected = result.confidence > 0
    for k, word in enumerate(("right", "left")):
        held = (result.held[:, k] > 0.5) & detected
        if not held.any() or not result.observed[dof_index(f"hip_rotation_{word[0]}")]:
            continue
        share = held.sum() / max(int(detected.sum()), 1)
        where = f": {describe_ranges(frame_ranges(held), t, limit=3)}" if share < 1 else ""
        out.append(
            f"{word} hip rotation held from a bent-knee frame (knee nearly straight) in {share:.0%} of frames{where}"
        )
    return out


def _determinable(name: str) -> bool:
    return name not in UNOBSERVED_DOFS
