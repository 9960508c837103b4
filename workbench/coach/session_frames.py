"""A coaching session's video frames by time, decoded on demand: what the neural coach's backbone sees in training.

A session's clock starts at ``video_start_s`` inside its video. A frame's time is the session's
``video_frame_times_s`` entry when there is one (QEVD's time stamps: the videos are not uniformly timed), else
the container's presentation time; the frame shown at time t is the latest at or before t (the first before
the video starts). Pictures are turned upright: the container's display rotation, then 90° clockwise for
sessions stored on their side (``video_rotate_90_cw``).

Nothing is held open or decoded up front: :meth:`SessionVideo.frames` seeks to the key frame before the first
frame asked for and decodes forward to the last, so a training batch reads only its windows' stretch of video.
The only thing kept is the frame index (each frame's presentation time, read once without decoding).

The backbone sees ``frames_per_token`` (4) frames per decision step at its ``fps`` (16): for step k at time
t_k, the frames at t_k − 3/16, t_k − 2/16, t_k − 1/16 and t_k (not before the session's start), turned into
the backbone's input by :func:`workbench.coach.neural.frames_tensor`, the streaming coach's own preprocessing.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from numpy.typing import NDArray

from workbench.coach.neural import frames_tensor
from workbench.coach.sessions import CoachingSession
from workbench.errors import WorkbenchError
from workbench.model.configuration_coach import DECISION_HZ, CoachConfig


class SessionVideoError(WorkbenchError):
    """A session's video cannot be read (missing, not a video, no frames)."""


@dataclass
class SessionVideo:
    path: Path
    frame_times_s: NDArray[np.float64] | None = None  # per frame, from the video's first frame; None: container's
    rotate_90_cw: bool = False
    start_s: float = 0.0  # the session's start inside the video
    _pts: NDArray[np.int64] | None = field(default=None, repr=False)  # presentation times, in frame order
    _times: NDArray[np.float64] | None = field(default=None, repr=False)
    _turn: int = field(default=0, repr=False)  # clockwise quarter turns, display rotation included
    decoded: int = field(default=0, repr=False)  # frames decoded so far (for tests and benchmarks)

    @classmethod
    def of(cls, session: CoachingSession) -> SessionVideo | None:
        """The session's video, or None when it has none."""
        if session.video is None:
            return None
        return cls(
            Path(session.video),
            session.video_frame_times_s,
            bool(session.video_rotate_90_cw or session.metadata.get("rotate_90_cw")),
            float(session.video_start_s),
        )

    # ------------------------------------------------------------------------------------------ index
    def _open(self) -> Any:
        import av

        if not self.path.is_file():
            raise SessionVideoError(f"{self.path}: video missing")
        try:
            return av.open(str(self.path))
        except (av.error.FFmpegError, OSError, ValueError) as exc:
            why = getattr(exc, "strerror", None) or str(exc)
            raise SessionVideoError(f"{self.path}: not a readable video ({why})") from None

    def _index(self) -> tuple[NDArray[np.int64], NDArray[np.float64]]:
        """Every frame's presentation time (demuxed, not decoded) and its time on the session video's clock."""
        if self._pts is not None and self._times is not None:
            return self._pts, self._times
        import av

        from workbench.io.video import VideoError, probe

        container = self._open()
        try:
            if not container.streams.video:
                raise SessionVideoError(f"{self.path}: no video stream")
            stream = container.streams.video[0]
            pts = sorted(int(p.pts) for p in container.demux(stream) if p.pts is not None and p.size > 0)
            tb = float(stream.time_base) if stream.time_base is not None else 1.0
        except av.error.FFmpegError as exc:
            raise SessionVideoError(f"{self.path}: not a readable video ({exc})") from None
        finally:
            container.close()
        if not pts:
            raise SessionVideoError(f"{self.path}: no video frames")
        try:
            rotation = probe(self.path).rotation
        except VideoError as exc:
            raise SessionVideoError(str(exc)) from None
        self._turn = (rotation // 90 + (1 if self.rotate_90_cw else 0)) % 4
        self._pts = np.asarray(pts, dtype=np.int64)
        own = (self._pts - self._pts[0]) * tb
        if self.frame_times_s is not None and len(self.frame_times_s) > 0:
            given = np.asarray(self.frame_times_s, dtype=np.float64)
            n = min(len(given), len(own))
            self._pts, self._times = self._pts[:n], given[:n]
        else:
            self._times = own
        return self._pts, self._times

    @property
    def n_frames(self) -> int:
        return len(self._index()[0])

    def indices(self, t_s: NDArray[np.float64]) -> NDArray[np.int64]:
        """The frame shown at each session time (the latest at or before it; the first before the video)."""
        _, times = self._index()
        at = np.asarray(t_s, dtype=np.float64) + self.start_s
        idx = np.searchsorted(times, at + 1e-9, side="right") - 1
        return np.clip(idx, 0, len(times) - 1).astype(np.int64)

    # ----------------------------------------------------------------------------------------- decode
    def frames(self, idx: NDArray[np.int64]) -> NDArray[np.uint8]:
        """Frames by index, upright RGB (N, H, W, 3); an index asked twice is decoded once."""
        want = sorted({int(i) for i in np.asarray(idx).ravel()})
        if not want:
            raise ValueError("frames: no frame asked for")
        got = self._decode(want, seek=True)
        if len(got) < len(want):  # a stream whose seek lands past a wanted frame: read from the start
            got = self._decode(want, seek=False)
        if len(got) < len(want):
            missing = [i for i in want if i not in got][:3]
            raise SessionVideoError(f"{self.path}: frame(s) {missing} could not be decoded")
        return np.stack([got[int(i)] for i in np.asarray(idx).ravel()])

    def _decode(self, want: list[int], *, seek: bool) -> dict[int, NDArray[np.uint8]]:
        import av

        pts, _ = self._index()
        where = {int(p): i for i, p in enumerate(pts)}
        need = set(want)
        out: dict[int, NDArray[np.uint8]] = {}
        container = self._open()
        try:
            stream = container.streams.video[0]
            if seek and want[0] > 0:
                container.seek(int(pts[want[0]]), stream=stream, backward=True, any_frame=False)
            for frame in container.decode(stream):
                i = where.get(int(frame.pts)) if frame.pts is not None else None
                if i is None:
                    continue
                if i in need:
                    out[i] = self._upright(np.asarray(frame.to_ndarray(format="rgb24"), dtype=np.uint8))
                    self.decoded += 1
                if i >= want[-1]:
                    break
        except av.error.FFmpegError as exc:
            raise SessionVideoError(f"{self.path}: decoding failed ({exc})") from None
        finally:
            container.close()
        return out

    def _upright(self, rgb: NDArray[np.uint8]) -> NDArray[np.uint8]:
        return np.ascontiguousarray(np.rot90(rgb, -self._turn)) if self._turn else rgb

    def iter_frames(self, max_fps: float | None = None) -> Iterator[tuple[int, float, NDArray[np.uint8]]]:
        """(index, time from the video's first frame, upright RGB) for every frame in order, or for the first
        frame at or after each 1 / max_fps tick (the pose stage's rate)."""
        import av

        pts, times = self._index()
        where = {int(p): i for i, p in enumerate(pts)}
        step = 0.0 if not max_fps else 1.0 / max_fps
        next_t = -np.inf
        container = self._open()
        try:
            for frame in container.decode(container.streams.video[0]):
                i = where.get(int(frame.pts)) if frame.pts is not None else None
                if i is None or times[i] < next_t - 1e-9:
                    continue
                next_t = times[i] + step
                self.decoded += 1
                yield i, float(times[i]), self._upright(np.asarray(frame.to_ndarray(format="rgb24"), dtype=np.uint8))
        except av.error.FFmpegError as exc:
            raise SessionVideoError(f"{self.path}: decoding failed ({exc})") from None
        finally:
            container.close()


def step_frame_times(
    first_step: int, n_steps: int, config: CoachConfig, *, t0_s: float = 0.0, rate_hz: float = DECISION_HZ
) -> NDArray[np.float64]:
    """Session times of the backbone's frames for decision steps first_step … first_step + n_steps − 1 (step k
    at t0_s + k / rate_hz, as the streaming loop fires them): ``frames_per_token`` per step, the last at the
    step's time, 1 / fps apart, none before 0."""
    f = config.frames_per_token
    steps = np.arange(first_step, first_step + n_steps, dtype=np.float64)
    offsets = (np.arange(f, dtype=np.float64) - (f - 1)) / config.fps
    return np.maximum((t0_s + steps[:, None] / rate_hz + offsets[None, :]).ravel(), 0.0)


def step_frames(
    video: SessionVideo, first_step: int, n_steps: int, config: CoachConfig, *, t0_s: float = 0.0
) -> torch.Tensor:
    """The backbone's input for a window of decision steps, (n_steps × 4, 3, H, W) in [0, 1]."""
    f = config.frames_per_token
    rgb = video.frames(video.indices(step_frame_times(first_step, n_steps, config, t0_s=t0_s)))
    return torch.cat([frames_tensor(rgb[k * f : (k + 1) * f], config)[0] for k in range(n_steps)])
