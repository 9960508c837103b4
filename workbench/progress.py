"""Progress of long work (video frames through pose estimation): one small callback interface.

A worker counts with a ``ProgressMeter``; whoever shows progress passes a ``ProgressCallback``, a plain
function of a ``Progress`` snapshot (frames done, total, frames per second, time left). The command line
renders it on a terminal (``terminal_progress``: nothing with ``-q`` or when stderr is not a terminal); the
app's clip page keeps the latest snapshot and draws a progress bar from it.

    meter = ProgressMeter(callback, total=961, stage="pose")
    for frame in frames:
        ...
        meter.step()
    meter.close()             # the last call: finished=True, total = the frames actually done

Calls are throttled (every ``interval_s``, 0.25 s by default) so a fast loop is not slowed by its display;
``done`` never decreases, and the last call always comes, with the true total (a video's frame count is
known only approximately, from its duration, until it has been read).
"""

from __future__ import annotations

import math
import sys
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import TextIO

RATE_WINDOW_S = 3.0  # the frame rate shown is the rate over the last few seconds: it follows a slowdown


@dataclass(frozen=True)
class Progress:
    """One snapshot. ``total`` is None when unknown; ``fps`` is items per second (0 before any)."""

    stage: str
    done: int
    total: int | None
    elapsed_s: float
    fps: float
    finished: bool = False

    @property
    def fraction(self) -> float | None:
        """Done / total in [0, 1], or None without a total."""
        if self.finished:
            return 1.0
        if not self.total:
            return None
        return min(1.0, self.done / self.total)

    @property
    def eta_s(self) -> float | None:
        """Seconds left at the current rate; None without a total or a rate."""
        if self.finished:
            return 0.0
        if self.total is None or self.fps <= 0:
            return None
        return max(0, self.total - self.done) / self.fps

    def text(self, unit: str = "frames") -> str:
        """'pose: 312 / 961 frames · 31.4 fps · 0:21 left' (or 'done in 0:30' at the end)."""
        count = f"{self.done} / {self.total}" if self.total is not None else f"{self.done}"
        rate = f"{self.fps:.1f} fps" if self.fps > 0 else "… fps"
        if self.finished:
            return f"{self.stage}: {self.done} {unit} · {rate} · done in {_clock(self.elapsed_s)}"
        eta = self.eta_s
        left = f"{_clock(eta, up=True)} left" if eta is not None else "time left unknown"
        return f"{self.stage}: {count} {unit} · {rate} · {left}"


ProgressCallback = Callable[[Progress], None]


def _clock(seconds: float, up: bool = False) -> str:
    """'0:21', '1:02:03'; ``up``: round up (time left never reads 0:00 while work remains)."""
    s = max(0, math.ceil(seconds - 1e-9) if up else round(seconds))
    h, rest = divmod(s, 3600)
    return f"{h}:{rest // 60:02d}:{rest % 60:02d}" if h else f"{rest // 60}:{rest % 60:02d}"


class ProgressMeter:
    """Counts work done and reports it to a callback, at most every ``interval_s`` and once at the end."""

    def __init__(
        self,
        callback: ProgressCallback | None,
        total: int | None = None,
        stage: str = "pose",
        interval_s: float = 0.25,
        clock: Callable[[], float] = time.perf_counter,
    ) -> None:
        self.callback, self.total, self.stage = callback, total, stage
        self.interval_s, self._clock = interval_s, clock
        self.done = 0
        self.start = clock()
        self._last_report = -math.inf
        # (time, done) at the recent reports: the rate is measured between them, so the start-up before the
        # first item (loading a model) does not make the first rate look slow.
        self._recent: deque[tuple[float, int]] = deque()
        self._closed = False

    def step(self, n: int = 1) -> None:
        self.done += n
        if self.callback is None:
            return
        now = self._clock()
        if now - self._last_report >= self.interval_s:
            self._report(now, finished=False)

    def close(self) -> None:
        """The final report (once): finished, and the total is what was actually done."""
        if self._closed:
            return
        self._closed = True
        self.total = self.done
        if self.callback is not None:
            self._report(self._clock(), finished=True)

    def snapshot(self, now: float | None = None, finished: bool = False) -> Progress:
        now = self._clock() if now is None else now
        elapsed = now - self.start
        if finished:
            fps = self.done / elapsed if elapsed > 0 else 0.0
        elif self._recent:
            t0, n0 = self._recent[0]
            fps = (self.done - n0) / (now - t0) if now > t0 and self.done > n0 else 0.0
        else:
            fps = 0.0
        total = self.total if self.total is None or finished else max(self.total, self.done)
        return Progress(stage=self.stage, done=self.done, total=total, elapsed_s=elapsed, fps=fps, finished=finished)

    def _report(self, now: float, finished: bool) -> None:
        assert self.callback is not None
        self.callback(self.snapshot(now, finished))
        self._recent.append((now, self.done))
        while len(self._recent) > 1 and now - self._recent[1][0] >= RATE_WINDOW_S:
            self._recent.popleft()
        self._last_report = now


class TerminalProgress:
    """Renders progress on one terminal line (carriage return, no scrolling); the final state stays printed."""

    def __init__(self, stream: TextIO, unit: str = "frames") -> None:
        self.stream, self.unit = stream, unit
        self._width = 0

    def __call__(self, p: Progress) -> None:
        line = p.text(self.unit)
        frac = p.fraction
        if frac is not None and not p.finished:
            filled = round(20 * frac)
            line = f"[{'#' * filled}{'.' * (20 - filled)}] {line}"
        pad = " " * max(0, self._width - len(line))
        self._width = len(line)
        self.stream.write(f"\r{line}{pad}" + ("\n" if p.finished else ""))
        self.stream.flush()


def terminal_progress(quiet: bool = False, stream: TextIO | None = None) -> ProgressCallback | None:
    """The command line's renderer: None (nothing printed) when quiet or when the stream is not a terminal,
    so logs and pipes never fill with carriage returns."""
    out = sys.stderr if stream is None else stream
    if quiet or not _isatty(out):
        return None
    return TerminalProgress(out)


def _isatty(stream: TextIO) -> bool:
    isatty = getattr(stream, "isatty", None)
    return bool(isatty()) if callable(isatty) else False
