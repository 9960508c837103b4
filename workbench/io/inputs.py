"""Checks on an input file before it is read: what kind of file it is, and what sizes it declares.

A FIFO or a device (``/dev/zero``) never ends and is refused up front; so is a file over
``limits.max_input_bytes``. An ``.npz`` is a zip of ``.npy`` arrays, each starting with a header that states its
dtype and shape: :func:`npz_members` reads only those headers (a few hundred bytes decompressed per array), so
an array that would decompress to gigabytes is refused before it exists, and an object (pickled) array is named
as such by key. A gzip text file is counted as it decompresses, up to ``limits.max_text_bytes``.
"""

from __future__ import annotations

import gzip
import json
import math
import stat
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from workbench.config import current_limits
from workbench.errors import PoseFileError, WorkbenchError
from workbench.io.checks import check_duration, check_fps, check_times
from workbench.limits import Limits, exceeded


@dataclass(frozen=True)
class Member:
    """One array of an ``.npz`` as its header states it."""

    key: str
    dtype: np.dtype
    shape: tuple[int, ...]

    @property
    def size(self) -> int:
        n = 1
        for d in self.shape:
            n *= int(d)
        return n

    @property
    def kind(self) -> str:
        """'float', 'int', 'bool', 'complex', 'text', 'object' or the dtype's name."""
        k = self.dtype.kind
        names = {
            "f": "float",
            "i": "int",
            "u": "int",
            "b": "bool",
            "c": "complex",
            "U": "text",
            "S": "text",
            "O": "object",
        }
        return names.get(k, str(self.dtype))

    def describe(self) -> str:
        what = "pickled Python objects" if self.kind == "object" else f"dtype {self.dtype}"
        return f"{what} of shape {self.shape}"


def file_kind(mode: int) -> str:
    for test, name in (
        (stat.S_ISDIR, "a folder"),
        (stat.S_ISFIFO, "a FIFO (named pipe)"),
        (stat.S_ISCHR, "a character device"),
        (stat.S_ISBLK, "a block device"),
        (stat.S_ISSOCK, "a socket"),
    ):
        if test(mode):
            return name
    return "not a regular file"


def require_regular_file(
    path: str | Path, error: type[WorkbenchError] = PoseFileError, limits: Limits | None = None
) -> Path:
    """``path`` if it is a regular file (symlinks followed) within ``max_input_bytes``; else ``error`` naming it."""
    path = Path(path)
    try:
        info = path.stat()
    except FileNotFoundError:
        raise error(f"{path}: no such file") from None
    except OSError as exc:
        raise error(f"{path}: expected a readable file, got {exc.strerror or exc}") from None
    if not stat.S_ISREG(info.st_mode):
        raise error(f"{path}: expected a regular file, got {file_kind(info.st_mode)}")
    lim = limits or current_limits()
    if info.st_size > lim.max_input_bytes:
        raise error(f"{path}: {exceeded('bytes', info.st_size, lim.max_input_bytes, 'max_input_bytes')}")
    return path


def npz_members(path: Path) -> dict[str, Member]:
    """The arrays of an ``.npz`` by key, from their headers only; PoseFileError for anything else."""
    if not zipfile.is_zipfile(path):
        raise PoseFileError(f"{path}: expected a NumPy .npz archive (a zip of arrays), got {_sniff(path)}")
    members: dict[str, Member] = {}
    try:
        with zipfile.ZipFile(path) as archive:
            for info in archive.infolist():
                if not info.filename.endswith(".npy"):
                    continue
                key = info.filename[:-4]
                with archive.open(info) as handle:
                    members[key] = _header(handle, key, path)
    except (zipfile.BadZipFile, OSError, EOFError, RuntimeError, NotImplementedError) as exc:
        raise PoseFileError(f"{path}: expected a NumPy .npz archive, got an unreadable zip ({exc})") from None
    return members


def _header(handle: object, key: str, path: Path) -> Member:
    fmt = np.lib.format
    try:
        version = fmt.read_magic(handle)  # type: ignore[arg-type]
        read = fmt.read_array_header_1_0 if version == (1, 0) else fmt.read_array_header_2_0
        shape, _fortran, dtype = read(handle)  # type: ignore[operator]
    except (ValueError, OSError, EOFError, SyntaxError) as exc:
        raise PoseFileError(f"{path}: key {key!r}: expected a NumPy array, got an unreadable header ({exc})") from None
    return Member(key, np.dtype(dtype), tuple(int(d) for d in shape))


def check_npz(path: str | Path, limits: Limits | None = None) -> dict[str, Member]:
    """A regular ``.npz`` file whose arrays each hold at most ``max_array_elements`` values and no pickled
    objects; returns its members (headers)."""
    path = require_regular_file(path, limits=limits)
    lim = limits or current_limits()
    members = npz_members(path)
    for m in members.values():
        if m.kind == "object":
            raise PoseFileError(f"{path}: key {m.key!r}: expected numbers or text, got {m.describe()}")
        if m.size > lim.max_array_elements:
            what = f"key {m.key!r}: values (shape {m.shape})"
            raise PoseFileError(f"{path}: {exceeded(what, m.size, lim.max_array_elements, 'max_array_elements')}")
    return members


def check_gzip_text(path: Path, limits: Limits | None = None) -> None:
    """A gzip file that decompresses to at most ``max_text_bytes`` (counted as it decompresses)."""
    lim = limits or current_limits()
    total = 0
    try:
        with gzip.open(path, "rb") as handle:
            while chunk := handle.read(1 << 20):
                total += len(chunk)
                if total > lim.max_text_bytes:
                    what = "bytes once decompressed"
                    raise PoseFileError(
                        f"{path}: {exceeded(what, total, lim.max_text_bytes, 'max_text_bytes')} "
                        f"(counting stopped there)"
                    )
    except (OSError, EOFError, gzip.BadGzipFile) as exc:
        raise PoseFileError(f"{path}: expected a gzip-compressed text file, got an unreadable one ({exc})") from None


_SIGNATURES = (
    (b"\x93NUMPY", "a single NumPy .npy array"),
    (b"\x1f\x8b", "a gzip file"),
    (b"PK\x03\x04", "a zip archive (a NumPy .npz?)"),
    (b"\x1aE\xdf\xa3", "a Matroska/WebM video"),
    (b"RIFF", "a RIFF (AVI/WAV) file"),
    (b"\x89PNG", "a PNG image"),
    (b"\xff\xd8\xff", "a JPEG image"),
    (b"%PDF", "a PDF"),
    (b"SQLite format 3", "an SQLite database"),
    (b"\x80", "a Python pickle"),
)


def _sniff(path: Path) -> str:
    """What a file looks like from its first bytes (for messages only)."""
    try:
        with path.open("rb") as handle:
            head = handle.read(16)
    except OSError:
        return "an unreadable file"
    if not head:
        return "an empty file"
    if head[4:8] == b"ftyp":
        return "an MP4/MOV video"
    for magic, name in _SIGNATURES:
        if head.startswith(magic):
            return name
    if all(32 <= b < 127 or b in b"\t\r\n" for b in head):
        return "a text file"
    return "a file of another kind"


def check_input_file(path: Path, limits: Limits | None = None) -> None:
    """What every pose-backend input passes first: a regular file within the limits; an ``.npz`` whose arrays,
    frame count and time base are within them; a landmark CSV whose text is (gzip recognised by content)."""
    lim = limits or current_limits()
    require_regular_file(path, limits=lim)
    name = path.name.lower()
    if name.endswith(".npz"):
        _check_npz_time_base(path, check_npz(path, lim), lim)
    elif name.endswith((".csv", ".csv.gz", ".gz")):
        if _sniff(path) == "a gzip file":
            check_gzip_text(path, lim)
        elif path.stat().st_size > lim.max_text_bytes:
            size = path.stat().st_size
            raise PoseFileError(f"{path}: {exceeded('bytes of text', size, lim.max_text_bytes, 'max_text_bytes')}")


# The per-frame arrays of the .npz inputs (pose, landmark and HSMR files): their first axis is the frame (HSMR's
# ``poses`` is per detected instance, at most a few per frame).
_FRAME_KEYS = ("q", "landmarks_world", "visibility", "landmarks_image", "poses")


def _check_npz_time_base(path: Path, members: dict[str, Member], lim: Limits) -> None:
    """Frames (from the headers), and ``fps`` / ``t`` (small arrays, loaded), within the limits."""
    for key in _FRAME_KEYS:
        m = members.get(key)
        if m is not None and m.shape and m.shape[0] > lim.max_frames:
            raise PoseFileError(f"{path}: key {key!r}: {exceeded('frames', m.shape[0], lim.max_frames, 'max_frames')}")
    wanted = [k for k in ("fps", "t", "frame") if k in members and members[k].kind in ("float", "int")]
    if not wanted:
        return  # absent or not numbers: the format's reader says what it expected
    try:
        with np.load(path, allow_pickle=False) as data:
            arrays = {k: np.asarray(data[k], dtype=np.float64) for k in wanted}
    except (zipfile.BadZipFile, OSError, ValueError, EOFError) as exc:
        raise PoseFileError(f"{path}: expected a NumPy .npz archive, got an unreadable file ({exc})") from None
    fps = arrays.get("fps")
    if fps is not None and fps.size == 1:
        check_fps(float(fps.reshape(())), f"{path}: key 'fps'", lim)
        n = next((members[k].shape[0] for k in _FRAME_KEYS if k in members and members[k].shape), 0)
        check_duration(max(n - 1, 0) / float(fps.reshape(())), f"{path}: key 'fps'", lim)
    t = arrays.get("t")
    if t is not None and t.ndim == 1:
        check_times(t, f"{path}: key 't'", lim)
    frame = arrays.get("frame")  # HSMR outputs: the frame index of each instance (the track is as long as the last)
    if frame is not None and frame.size and not np.nanmax(frame) < lim.max_frames:
        what = "key 'frame': the last frame index"
        raise PoseFileError(f"{path}: {exceeded(what, float(np.nanmax(frame)), lim.max_frames - 1, 'max_frames')}")


def read_json(path: Path, error: type[WorkbenchError] = WorkbenchError, limits: Limits | None = None) -> Any:
    """A JSON file read strictly: a regular UTF-8 file within ``max_json_bytes``, standard JSON only (``NaN`` and
    ``Infinity`` refused, as are numbers too large for a float), nested at most ``max_json_depth`` deep.
    Every failure is ``error`` naming the file, what was expected and what was found."""
    lim = limits or current_limits()
    path = require_regular_file(path, error, lim)
    if path.stat().st_size > lim.max_json_bytes:
        raise error(f"{path}: {exceeded('bytes', path.stat().st_size, lim.max_json_bytes, 'max_json_bytes')}")
    raw = path.read_bytes()
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        kind = _sniff(path)
        got = kind if kind != "a file of another kind" else f"bytes that are not UTF-8 (at byte {exc.start})"
        raise error(f"{path}: expected a UTF-8 JSON file, got {got}") from None
    try:
        data = json.loads(text, parse_constant=_refuse_constant, parse_float=_finite_float)
    except json.JSONDecodeError as exc:
        raise error(f"{path}: expected JSON, got a parse error ({exc})") from None
    except RecursionError:
        raise error(
            f"{path}: expected JSON nested at most {lim.max_json_depth} deep (limit max_json_depth), "
            f"got one nested deeper than Python can read"
        ) from None
    except ValueError as exc:  # NaN, Infinity, 1e999
        raise error(f"{path}: expected standard JSON numbers, got {exc}") from None
    depth = json_depth(data)
    if depth > lim.max_json_depth:
        raise error(f"{path}: {exceeded('levels of nesting', depth, lim.max_json_depth, 'max_json_depth')}")
    return data


def json_depth(value: Any) -> int:
    """How deeply lists and objects nest in ``value`` (a scalar: 0), without recursion."""
    deepest, stack = 0, [(value, 1)]
    while stack:
        item, depth = stack.pop()
        children = item.values() if isinstance(item, dict) else item if isinstance(item, list) else None
        if children is None:
            continue
        deepest = max(deepest, depth)
        stack.extend((child, depth + 1) for child in children)
    return deepest


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} (not a JSON number)")


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(f"{text[:40]} (beyond a float's range)")
    return value
