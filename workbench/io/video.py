"""Video in and out through PyAV (FFmpeg): probe, decode to upright RGB frames, write H.264 mp4.

Timestamps are real: ``pts × time_base`` of each decoded frame, shifted so the first frame is at 0 s.
Analysis wants a uniform rate, phones record variable frame rate (VFR) and 60 fps, so ``iter_frames``
resamples to the analysis rate by *sample and hold*: for each target time ``k / fps`` it emits the latest
decoded frame whose timestamp is at or before that time (one time-base tick of tolerance absorbs
timestamp rounding). Nothing is interpolated, so every output frame is a real picture; a 60 fps clip gives
every second frame, a VFR clip repeats a frame across a long gap and skips frames inside a burst.

Rotation: phones store the sensor image as recorded plus a display matrix (or the legacy ``rotate`` tag)
saying how to turn it for display. ``VideoInfo.rotation`` is that turn as clockwise degrees (0, 90, 180,
270, the value of the legacy tag), and every frame comes out already turned upright.

Bad input never crashes with an FFmpeg traceback: it raises ``VideoError`` naming the file, what was
expected and what was found. A file that breaks off after some good frames (truncated download, damaged
tail) yields the frames it has and records a warning instead.
"""

from __future__ import annotations

import math
import queue
import sys
import threading
import warnings
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Any, TypeVar

import av
import av.error
import cv2
import numpy as np
from av.container import InputContainer
from av.video.frame import VideoFrame
from av.video.stream import VideoStream
from numpy.typing import NDArray

from workbench.errors import WorkbenchError

RGBArray = NDArray[np.uint8]
T = TypeVar("T")

# FFmpeg demuxers that read a single still image; a photo renamed .mp4 opens as a one-frame "video".
_STILL_IMAGE_FORMATS = ("image2", "_pipe")
# Packets inspected by ``probe`` to decide whether the frame rate is variable (30 s at 30 fps).
_VFR_PACKETS = 900
# Frame intervals may differ by this fraction of the median (or two time-base ticks) and still be constant.
_VFR_TOLERANCE = 0.02
# A clip whose last frame falls this far short of the duration the container states has lost its tail.
_SHORT_FRACTION = 0.9
# Decoding gives up after this many consecutive undecodable packets (garbage, not a damaged patch).
_MAX_BAD_PACKETS = 50
# Output arrays kept for reuse, and the reference count of one nobody else holds (pool list, loop
# variable, getrefcount's argument). The pool covers the frames ``read_ahead`` keeps in flight.
_POOL_SIZE = 10
# Frames decoded ahead of their consumer by ``read_ahead``: enough to absorb jitter, few enough that the
# pool recycles them (in flight: the queue, the one being queued, the consumer's, the held one).
READ_AHEAD = 4
_FREE_REFS = 3
# Clockwise display rotation → the cv2 quarter turn that applies it.
_TURN = {90: cv2.ROTATE_90_CLOCKWISE, 180: cv2.ROTATE_180, 270: cv2.ROTATE_90_COUNTERCLOCKWISE}


class VideoError(WorkbenchError):
    """A video file is missing, empty, not a video, corrupt, or has no frames."""


class VideoWarning(UserWarning):
    """A video was read only in part (damaged or truncated); the frames before the damage are kept."""


@dataclass(frozen=True)
class VideoInfo:
    """What a video file holds. ``width``/``height`` are as displayed, after ``rotation`` is applied."""

    path: Path
    width: int
    height: int
    fps: float  # average frame rate
    n_frames: int  # from the container when it says, else duration × fps (an estimate)
    duration_s: float
    rotation: int  # clockwise degrees that turn the stored picture upright: 0, 90, 180 or 270
    codec: str
    container: str
    is_vfr: bool

    @property
    def portrait(self) -> bool:
        return self.height > self.width


@dataclass(frozen=True, eq=False)
class Frame:
    """One upright RGB frame. With resampling, ``index``/``t_s`` are the output grid and ``source_*`` the
    decoded frame that was picked for it. A frame held over several grid points shares one array, and
    arrays are recycled once nothing refers to them: copy ``rgb`` before drawing on it in place."""

    index: int
    t_s: float
    rgb: RGBArray  # (H, W, 3) uint8
    source_index: int
    source_t_s: float


@dataclass
class _Report:
    """What went wrong while decoding; turned into warnings (some frames) or a VideoError (none)."""

    name: str
    packets: int = 0
    bad_packets: int = 0  # undecodable packets skipped, in all
    bad_run: int = 0  # ... and in a row right now
    out_of_order: int = 0
    stopped: str | None = None  # why decoding ended before the end of the file
    last_t: float = 0.0  # timestamp of the last frame decoded
    last_error: str | None = None


# ---------------------------------------------------------------------------------------------- opening


def _sniff(path: Path) -> str:
    """What the first bytes look like, for error messages ('a JPEG image', 'a text file')."""
    with path.open("rb") as fh:
        head = fh.read(512)
    signatures = (
        (b"\xff\xd8\xff", "a JPEG image"),
        (b"\x89PNG", "a PNG image"),
        (b"GIF8", "a GIF image"),
        (b"%PDF", "a PDF document"),
        (b"PK\x03\x04", "a ZIP archive"),
        (b"\x1a\x45\xdf\xa3", "a Matroska/WebM file"),
        (b"RIFF", "a RIFF (AVI/WAV) file"),
        (b"ID3", "an MP3 audio file"),
        (b"fLaC", "a FLAC audio file"),
    )
    for magic, what in signatures:
        if head.startswith(magic):
            return what
    if head[4:8] in (b"ftyp", b"moov", b"mdat", b"free", b"wide"):
        return "an MP4/QuickTime file"
    try:
        head.decode("utf-8")
    except UnicodeDecodeError:
        return "binary data of a kind FFmpeg does not recognise"
    return "a text file"


def _check_file(path: str | Path) -> Path:
    p = Path(path)
    if not p.exists():
        raise VideoError(f"{p}: video file not found (expected a video file such as .mp4/.mov/.mkv/.webm)")
    if not p.is_file():
        raise VideoError(f"{p}: expected a video file, got a directory or special file")
    if p.stat().st_size == 0:
        raise VideoError(f"{p.name}: the file is empty (0 bytes); expected a video")
    return p


def _mp4_boxes(path: Path) -> list[bytes]:
    """Top-level box types of an MP4/QuickTime file (reading only the 8-byte headers)."""
    boxes: list[bytes] = []
    size_total = path.stat().st_size
    with path.open("rb") as fh:
        pos = 0
        while pos + 8 <= size_total and len(boxes) < 64:
            fh.seek(pos)
            size, kind = int.from_bytes(fh.read(4), "big"), fh.read(4)
            if size == 1:  # 64-bit size follows the type
                size = int.from_bytes(fh.read(8), "big")
            boxes.append(kind)
            if size < 8:  # 0 = "to the end of the file"; anything else smaller is garbage
                break
            pos += size
    return boxes


def _open_error(p: Path, exc: av.error.FFmpegError) -> VideoError:
    what = _sniff(p)
    if what == "an MP4/QuickTime file" and b"moov" not in _mp4_boxes(p):
        return VideoError(
            f"{p.name}: truncated or corrupt MP4: its index (the 'moov' box) is missing, as when a "
            f"recording or download was cut off; expected a complete video ({exc.strerror})"
        )
    if what in ("an MP4/QuickTime file", "a Matroska/WebM file", "a RIFF (AVI/WAV) file"):
        return VideoError(f"{p.name}: {what} that FFmpeg cannot read: truncated or corrupt ({exc.strerror})")
    return VideoError(
        f"{p.name}: not a video FFmpeg can read; expected a video container (mp4, mov, mkv, "
        f"webm, avi…), got {what} ({exc.strerror})"
    )


def _video_stream(p: Path, container: InputContainer) -> VideoStream:
    """The main video stream, rejecting still images, audio-only files and cover art."""
    fmt = container.format.name
    if fmt == _STILL_IMAGE_FORMATS[0] or fmt.endswith(_STILL_IMAGE_FORMATS[1]):
        raise VideoError(f"{p.name}: expected a video, got a still image ({_sniff(p)}, read as {fmt})")
    videos = [s for s in container.streams.video if not s.disposition & av.stream.Disposition.attached_pic]
    if not videos:
        found = ", ".join(_describe(s) for s in container.streams) or "no streams at all"
        hint = " (an empty container: zero-length video)" if not container.streams else ""
        raise VideoError(f"{p.name}: expected a video stream, found {found}{hint}")
    # Several video streams (rare: multi-angle, thumbnails): the largest picture is the recording.
    return max(videos, key=lambda s: (s.width or 0) * (s.height or 0))


def _describe(stream: av.stream.Stream) -> str:
    if stream.disposition & av.stream.Disposition.attached_pic:
        return f"a cover picture ({stream.codec_context.name})"
    return f"{stream.type} ({stream.codec_context.name})"


@contextmanager
def _open(path: str | Path) -> Iterator[tuple[Path, InputContainer, VideoStream]]:
    p = _check_file(path)
    try:
        container = av.open(str(p), mode="r")
    except av.error.FFmpegError as exc:
        raise _open_error(p, exc) from exc
    try:
        stream = _video_stream(p, container)
        # Frame + slice threads: H.264/HEVC decode scales with cores; results are identical to 1 thread.
        stream.thread_type = "AUTO"
        stream.thread_count = 0
        yield p, container, stream
    finally:
        container.close()


# --------------------------------------------------------------------------------------------- decoding


def _tick(stream: VideoStream) -> float:
    return float(stream.time_base) if stream.time_base else 1e-3


def _nominal_fps(stream: VideoStream) -> float:
    for rate in (stream.average_rate, stream.guessed_rate, stream.base_rate):
        if rate and rate > 0:
            return float(rate)
    return 30.0  # no rate anywhere in the file: only used to extrapolate missing timestamps


def _decoded(container: InputContainer, stream: VideoStream, report: _Report) -> Iterator[tuple[float, VideoFrame]]:
    """Decoded frames with real timestamps (first frame at 0), strictly increasing; damage is recorded in
    ``report`` instead of raised, so the caller decides between a warning and an error."""
    tick, step = _tick(stream), 1.0 / _nominal_fps(stream)
    origin: int | None = None
    last_t = -math.inf
    for frame in _frames(container, stream, report):
        if frame.pts is None:  # some AVI/raw streams: continue the clock at the nominal rate
            t = last_t + step if last_t > -math.inf else 0.0
        else:
            origin = frame.pts if origin is None else origin
            t = (frame.pts - origin) * tick
        if t <= last_t:  # a repeated or backwards timestamp cannot be placed on the time axis
            report.out_of_order += 1
            continue
        last_t = report.last_t = t
        yield t, frame


def _frames(container: InputContainer, stream: VideoStream, report: _Report) -> Iterator[VideoFrame]:
    packets = container.demux(stream)
    while True:
        try:
            packet = next(packets)
        except StopIteration:
            break
        except av.error.FFmpegError as exc:  # the container itself breaks off (truncated, damaged index)
            report.stopped = f"the container could not be read further ({exc.strerror})"
            break
        report.packets += packet.size > 0
        try:
            yield from packet.decode()
            report.bad_run = 0
        except av.error.FFmpegError as exc:
            report.bad_packets += 1
            report.bad_run += 1
            report.last_error = str(exc.strerror)
            if report.bad_run >= _MAX_BAD_PACKETS:
                report.stopped = f"{_MAX_BAD_PACKETS} packets in a row could not be decoded ({exc.strerror})"
                return
    yield from _flush(stream)


def _flush(stream: VideoStream) -> Iterator[VideoFrame]:
    """Frames still inside the decoder when the container broke off (demux ends without a flush packet)."""
    try:
        yield from stream.decode(None)
    except av.error.FFmpegError:
        return  # already flushed (normal end of file) or the decoder is wedged: nothing more to get


def _rotation(stream: VideoStream, first: VideoFrame) -> int:
    """Clockwise degrees to display upright, from the display matrix (FFmpeg reports its counter-clockwise
    angle on each frame) or the legacy ``rotate`` tag of older muxers."""
    ccw = first.rotation
    if ccw:
        return round(-ccw / 90) * 90 % 360  # odd angles (never seen from cameras) snap to the nearest quarter
    tag = stream.metadata.get("rotate", "0")
    try:
        return round(float(tag) / 90) * 90 % 360
    except ValueError:
        return 0


# ------------------------------------------------------------------------------------------ conversion


@dataclass
class _Converter:
    """VideoFrame → upright RGB array at a fixed output size (scaling and colour conversion in one swscale
    pass, then a lossless quarter turn). The size is fixed on the first frame so a mid-stream resolution
    change still gives arrays of one shape."""

    rotation: int
    width: int  # decoded (pre-rotation) output size
    height: int
    pool: list[RGBArray] = field(default_factory=list)

    @classmethod
    def for_frame(cls, frame: VideoFrame, rotation: int, max_side: int | None) -> _Converter:
        w, h = frame.width, frame.height
        if max_side is not None and max(w, h) > max_side:
            s = max_side / max(w, h)
            w, h = max(1, round(w * s)), max(1, round(h * s))
        return cls(rotation, w, h)

    def __call__(self, frame: VideoFrame) -> RGBArray:
        if (frame.width, frame.height) == (self.width, self.height):
            view = frame.to_ndarray(format="rgb24")  # a view into FFmpeg's buffer, rows maybe padded
        else:
            view = frame.reformat(self.width, self.height, "rgb24", interpolation="AREA").to_ndarray()
        quarter = self.rotation in (90, 270)
        out = self._buffer((self.width, self.height, 3) if quarter else (self.height, self.width, 3))
        if self.rotation in _TURN:
            return np.asarray(cv2.rotate(view, _TURN[self.rotation], dst=out), dtype=np.uint8)
        np.copyto(out, view)
        return out

    def _buffer(self, shape: tuple[int, int, int]) -> RGBArray:
        """A pooled array that nothing outside the pool refers to any more (the caller dropped that frame
        and every view of it), else a new one. Why: allocating a fresh ~1 MB array per frame while the
        previous one is still alive makes glibc map new pages every time, and those page faults cost more
        than decoding (1.7k → 2.6k frames/s at 640×360 on one core)."""
        for buf in self.pool:
            if sys.getrefcount(buf) == _FREE_REFS and buf.shape == shape:
                return buf
        buf = np.empty(shape, np.uint8)
        if len(self.pool) < _POOL_SIZE:
            self.pool.append(buf)
        return buf


# -------------------------------------------------------------------------------------------- resampling


def resample_latest(
    times: Iterable[tuple[float, T]], fps: float, tol_s: float = 1e-6
) -> Iterator[tuple[int, float, T, float]]:
    """Sample and hold onto the grid ``k / fps``: for each target time the latest item at or before it.

    ``times`` yields ``(t, item)`` with strictly increasing ``t`` starting at 0. Yields
    ``(k, k / fps, item, t_item)`` for every target from 0 up to the last item's time. ``tol_s`` lets an
    item that is late by timestamp rounding (millisecond time bases) still count as "at" the target.
    """
    k = 0
    prev: tuple[float, T] | None = None
    for t, item in times:
        while prev is not None and k / fps < t - tol_s:
            yield k, k / fps, prev[1], prev[0]
            k += 1
        prev = (t, item)
    while prev is not None and k / fps <= prev[0] + tol_s:
        yield k, k / fps, prev[1], prev[0]
        k += 1


# ------------------------------------------------------------------------------------------- public API


def probe(path: str | Path) -> VideoInfo:
    """Describe a video, decoding only its first frame (the display matrix reaches us on decoded frames)."""
    with _open(path) as (p, container, stream):
        report = _Report(p.name)
        first = next(_decoded(container, stream, report), None)
        if first is None:
            raise _no_frames(p, stream, report)
        rotation = _rotation(stream, first[1])
        fps, duration = _nominal_fps(stream), _duration(container, stream)
        w, h = (first[1].height, first[1].width) if rotation in (90, 270) else (first[1].width, first[1].height)
        codec, fmt = stream.codec_context.name, container.format.name
        n_frames = stream.frames if stream.frames > 0 else round(duration * fps)
    with _open(path) as (_, container, stream):  # a fresh demuxer: seeking back is unreliable in some formats
        is_vfr = _is_vfr(container, stream)
    return VideoInfo(
        path=p,
        width=w,
        height=h,
        fps=fps,
        n_frames=n_frames,
        duration_s=duration,
        rotation=rotation,
        codec=codec,
        container=fmt,
        is_vfr=is_vfr,
    )


def iter_frames(
    path: str | Path,
    fps: float | None = 30.0,
    max_side: int | None = None,
    *,
    warnings_out: list[str] | None = None,
) -> Iterator[Frame]:
    """Upright RGB frames of a video.

    fps: the analysis rate. Frames are resampled onto ``k / fps`` by sample and hold (module docstring),
        so ``t_s`` is uniform whatever the source rate. ``None`` keeps every decoded frame with its real
        timestamp.
    max_side: downscale (never upscale) so the longer side is at most this many pixels.
    warnings_out: damage that ended decoding early is appended here; without a list it is issued as a
        ``VideoWarning``.

    Raises ``VideoError`` (on the first ``next``, as this is a generator) when the file is missing, empty,
    not a video, or holds no decodable frame at all.
    """
    if fps is not None and not (math.isfinite(fps) and fps > 0):
        raise ValueError(f"fps: expected a positive number or None, got {fps}")
    with _open(path) as (p, container, stream):
        report = _Report(p.name)
        decoded = _Numbered(_decoded(container, stream, report))
        yield from _emit(decoded, stream, fps, max_side)
        if decoded.count == 0:
            raise _no_frames(p, stream, report)
        _finish(report, stream, _duration(container, stream), decoded.count, warnings_out)


def read_frame_at(path: str | Path, t_s: float, max_side: int | None = None) -> Frame:
    """The frame shown at ``t_s`` seconds (the latest at or before it; the last frame past the end)."""
    with _open(path) as (p, container, stream):
        report = _Report(p.name)
        tol = _tick(stream)
        best: tuple[int, float, VideoFrame] | None = None
        for i, (t, frame) in enumerate(_decoded(container, stream, report)):
            if best is not None and t > t_s + tol:
                break
            best = (i, t, frame)
        if best is None:
            raise _no_frames(p, stream, report)
        i, t, frame = best
        rgb = _Converter.for_frame(frame, _rotation(stream, frame), max_side)(frame)
        return Frame(index=i, t_s=t, rgb=rgb, source_index=i, source_t_s=t)


def read_ahead(items: Iterable[T], depth: int = READ_AHEAD) -> Iterator[T]:
    """``items`` produced by a background thread, up to ``depth`` ahead of the consumer: decoding the next
    frames overlaps the work on this one (FFmpeg and MediaPipe release the GIL while they work), so the video
    path costs about what its slowest stage costs on its own.

    The same items in the same order; an exception raised while producing them re-raises here, after the
    items before it. Closing this iterator early (``break``, an error downstream) stops the thread and closes
    ``items`` (a generator: its video file is closed)."""
    if depth < 1:
        raise ValueError(f"depth: expected at least 1, got {depth}")
    slots: queue.Queue[tuple[str, Any]] = queue.Queue(maxsize=depth)
    stop = threading.Event()

    def put(entry: tuple[str, Any]) -> bool:
        while not stop.is_set():
            try:
                slots.put(entry, timeout=0.05)
                return True
            except queue.Full:
                continue
        return False

    def produce() -> None:
        source = iter(items)
        try:
            for item in source:
                if not put(("item", item)):
                    return
            put(("end", None))
        except BaseException as exc:  # handed to the consumer, which re-raises it in its own thread
            put(("error", exc))
        finally:
            close = getattr(source, "close", None)
            if callable(close):
                close()

    thread = threading.Thread(target=produce, name="biocoach-read-ahead", daemon=True)
    thread.start()
    try:
        while True:
            kind, value = slots.get()
            if kind == "item":
                yield value
            elif kind == "error":
                raise value
            else:
                return
    finally:
        stop.set()
        thread.join()


def write_video(
    path: str | Path, frames_rgb: Iterable[RGBArray], fps: float, crf: int = 23, *, preset: str = "veryfast"
) -> Path:
    """Write RGB frames as H.264 (yuv420p) mp4 that browsers and phones play.

    yuv420p needs even dimensions: an odd width/height is padded by repeating the last column/row (nothing
    is cropped away). All frames must have the first frame's shape. Returns the path written.
    """
    out = Path(path)
    rate = Fraction(fps).limit_denominator(1001)
    container = av.open(str(out), mode="w", options={"movflags": "+faststart"})
    n = 0
    try:
        stream: VideoStream | None = None
        shape: tuple[int, ...] = ()
        for rgb in frames_rgb:
            if stream is None:
                shape = rgb.shape
                stream = _add_h264(container, rgb, rate, crf, preset)
            _check_frame(out, rgb, shape, n)
            frame = VideoFrame.from_ndarray(_even(rgb), format="rgb24")
            frame.pts, frame.time_base = n, 1 / rate
            container.mux(stream.encode(frame))
            n += 1
        if stream is None:
            raise VideoError(f"{out.name}: no frames to write (expected at least one RGB frame)")
        container.mux(stream.encode(None))
    except BaseException:
        container.close()
        out.unlink(missing_ok=True)  # never leave a half-written file that looks like a result
        raise
    container.close()
    return out


# ----------------------------------------------------------------------------------------------- helpers


class _Numbered:
    """Decoded frames with their running index; remembers how many came out (for the end-of-file checks)."""

    def __init__(self, items: Iterator[tuple[float, VideoFrame]]) -> None:
        self._items = items
        self.count = 0

    def __iter__(self) -> Iterator[tuple[float, tuple[int, VideoFrame]]]:
        for t, frame in self._items:
            yield t, (self.count, frame)
            self.count += 1


def _emit(decoded: _Numbered, stream: VideoStream, fps: float | None, max_side: int | None) -> Iterator[Frame]:
    convert: _Converter | None = None
    cache: tuple[int, RGBArray] | None = None  # sample and hold repeats a frame: convert it once
    if fps is None:
        picks: Iterator[tuple[int, float, tuple[int, VideoFrame], float]] = (
            (item[0], t, item, t) for t, item in decoded
        )
    else:
        picks = resample_latest(decoded, fps, _tick(stream))
    for k, t, (src, frame), t_src in picks:
        if convert is None:
            convert = _Converter.for_frame(frame, _rotation(stream, frame), max_side)
        if cache is None or cache[0] != src:
            cache = None  # release the held array first, so the pool can recycle it
            cache = (src, convert(frame))
        yield Frame(index=k, t_s=t, rgb=cache[1], source_index=src, source_t_s=t_src)


def _duration(container: InputContainer, stream: VideoStream) -> float:
    if stream.duration and stream.time_base:
        return float(stream.duration * stream.time_base)
    if container.duration:
        return container.duration / 1_000_000  # AV_TIME_BASE
    if stream.frames > 0:
        return stream.frames / _nominal_fps(stream)
    return 0.0


def _is_vfr(container: InputContainer, stream: VideoStream) -> bool:
    """Irregular frame intervals among the first packets (demux only, no decoding). Presentation order:
    B-frames make decode-order timestamps jump about, so sort first."""
    pts: list[int] = []
    try:
        for packet in container.demux(stream):
            if packet.pts is not None:
                pts.append(packet.pts)
            if len(pts) >= _VFR_PACKETS:
                break
    except av.error.FFmpegError:
        pass  # a damaged tail: judge from what was read
    if len(pts) < 3:
        return False
    dt = np.diff(np.sort(np.asarray(pts, dtype=np.float64))) * _tick(stream)
    dt = dt[dt > 0]
    return bool(dt.size > 1 and np.ptp(dt) > max(_VFR_TOLERANCE * float(np.median(dt)), 2 * _tick(stream)))


def _no_frames(p: Path, stream: VideoStream, report: _Report) -> VideoError:
    desc = f"{stream.codec_context.name} {stream.width}×{stream.height}"
    if report.packets == 0:
        return VideoError(f"{p.name}: zero-length video: the video stream ({desc}) holds no frames")
    why = report.stopped or report.last_error or "the decoder returned nothing"
    return VideoError(
        f"{p.name}: corrupt video: {report.packets} packets of the {desc} stream read but no frame "
        f"could be decoded ({why})"
    )


def _finish(report: _Report, stream: VideoStream, duration: float, n: int, out: list[str] | None) -> None:
    """Warnings for a clip that was read only in part."""
    notes = []
    expected = stream.frames
    if report.stopped:
        notes.append(f"{report.name}: decoding stopped after {n} frames: {report.stopped}")
    elif expected > 0 and n < _SHORT_FRACTION * expected:
        notes.append(
            f"{report.name}: truncated or damaged: the container lists {expected} frames, only {n} could be decoded"
        )
    elif expected <= 0 and report.last_t + 1 / _nominal_fps(stream) < _SHORT_FRACTION * duration:
        notes.append(
            f"{report.name}: truncated or damaged: the container states {duration:.2f} s, "
            f"frames were decoded up to {report.last_t:.2f} s only"
        )
    if report.bad_packets and not report.stopped:
        notes.append(f"{report.name}: {report.bad_packets} damaged packets skipped ({report.last_error})")
    if report.out_of_order:
        notes.append(f"{report.name}: {report.out_of_order} frames with repeated or backwards timestamps dropped")
    for note in notes:
        if out is not None:
            out.append(note)
        else:
            warnings.warn(note, VideoWarning, stacklevel=3)


def _add_h264(
    container: av.container.OutputContainer, rgb: RGBArray, rate: Fraction, crf: int, preset: str
) -> VideoStream:
    stream = container.add_stream("libx264", rate=rate, options={"crf": str(crf), "preset": preset})
    h, w = rgb.shape[:2]
    stream.width, stream.height = w + w % 2, h + h % 2
    stream.pix_fmt = "yuv420p"
    return stream


def _check_frame(out: Path, rgb: RGBArray, shape: tuple[int, ...], n: int) -> None:
    if rgb.dtype != np.uint8 or rgb.ndim != 3 or rgb.shape[2] != 3:
        raise VideoError(f"{out.name}: frame {n}: expected an H×W×3 uint8 RGB array, got {rgb.dtype} {rgb.shape}")
    if rgb.shape != shape:
        raise VideoError(f"{out.name}: frame {n}: expected the first frame's shape {shape}, got {rgb.shape}")


def _even(rgb: RGBArray) -> RGBArray:
    h, w = rgb.shape[:2]
    if h % 2 == 0 and w % 2 == 0:
        return rgb
    return np.pad(rgb, ((0, h % 2), (0, w % 2), (0, 0)), mode="edge")
