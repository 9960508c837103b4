"""Checks of the time axis every input shares (frame rate, time stamps, span), within the configured limits.

They live below ``workbench.pose`` so that readers of any file format (``workbench.io.inputs``) and the pose
track (``workbench.pose.track``, which re-exports them) use one definition.
"""

from __future__ import annotations

import math

import numpy as np
from numpy.typing import NDArray

from workbench.config import current_limits
from workbench.errors import PoseFileError
from workbench.limits import Limits, exceeded

FloatArray = NDArray[np.float64]

__all__ = ["check_duration", "check_fps", "check_times"]


def _limits(limits: Limits | None) -> Limits:
    return limits if limits is not None else current_limits()  # the configuration file's, read once


def check_fps(fps: float, where: str, limits: Limits | None = None) -> None:
    """A stated frame rate within [min_fps, max_fps]."""
    lim = _limits(limits)
    if not (math.isfinite(fps) and lim.min_fps <= fps <= lim.max_fps):
        raise PoseFileError(
            f"{where}: expected frames per second in [{lim.min_fps:g}, {lim.max_fps:g}] "
            f"(limits min_fps, max_fps), got {fps:g}"
        )


def check_times(t: FloatArray, where: str, limits: Limits | None = None, *, from_zero: bool = True) -> None:
    """Time stamps: finite, from 0 s on (unless not ``from_zero``), strictly increasing, spanning at most
    ``max_duration_s`` with no interval over ``max_gap_s``."""
    lim = _limits(limits)
    bad = np.flatnonzero(~np.isfinite(t))
    if bad.size:
        raise PoseFileError(f"{where}: expected finite seconds, got {t[bad[0]]} at frame {bad[0]}")
    if from_zero and t.size and t[0] < 0:
        raise PoseFileError(f"{where}: expected seconds from 0 on, got {t[0]:g} at frame 0")
    if t.size < 2:
        return
    dt = np.diff(t)
    if not (dt > 0).all():
        k = int(np.argmin(dt > 0)) + 1
        raise PoseFileError(f"{where}: expected strictly increasing times, got t[{k}]={t[k]:g} after {t[k - 1]:g}")
    check_duration(float(t[-1] - t[0]), where, lim)
    k = int(np.argmax(dt))
    if dt[k] > lim.max_gap_s:
        what = f"seconds between frames {k} and {k + 1}"
        raise PoseFileError(f"{where}: {exceeded(what, float(dt[k]), lim.max_gap_s, 'max_gap_s')}")


def check_duration(span_s: float, where: str, limits: Limits | None = None) -> None:
    """The seconds a track spans, at most ``max_duration_s``."""
    lim = _limits(limits)
    if not span_s <= lim.max_duration_s:
        raise PoseFileError(f"{where}: {exceeded('seconds spanned', span_s, lim.max_duration_s, 'max_duration_s')}")
