"""Gaussian smoothing that gives bit-identical numbers offline and one frame at a time.

scipy's ``gaussian_filter1d`` (paper supplement §10, sigma = 2 frames) sums in an order of its own, so a
streaming re-implementation would differ in the last bits and could move a peak on a plateau. Here every
smoothed sample is ``sum_k w[k] * x[i + k]`` accumulated in the same k order whether it is computed for a
whole array (vectorised over time) or for one sample (plain floats): the same IEEE operations, the same bits.
Edges use scipy's 'reflect' mode (…c b a | a b c…), truncation at 4 sigma, so values match scipy to ~1e-15.
"""

from __future__ import annotations

import math
from functools import cache

import numpy as np
from numpy.typing import NDArray


@cache
def gaussian_kernel(sigma: float, truncate: float = 4.0) -> tuple[float, ...]:
    """Normalised Gaussian weights, radius = int(truncate * sigma + 0.5), as scipy builds them."""
    if sigma <= 0:
        return (1.0,)
    radius = int(truncate * sigma + 0.5)
    x = np.arange(-radius, radius + 1, dtype=np.float64)
    w = np.exp(-0.5 / (sigma * sigma) * x * x)
    return tuple(float(v) for v in w / w.sum())


def radius_of(kernel: tuple[float, ...]) -> int:
    return (len(kernel) - 1) // 2


def reflect_pad(x: NDArray[np.float64], radius: int) -> NDArray[np.float64]:
    """Pad along axis 0 in scipy's 'reflect' mode (half-sample symmetric), repeating for short inputs."""
    n = x.shape[0]
    if n == 0 or radius == 0:
        return x
    period = 2 * n
    wrapped = np.mod(np.arange(-radius, n + radius), period)
    return x[np.where(wrapped >= n, period - 1 - wrapped, wrapped)]


def correlate_valid(padded: NDArray[np.float64], kernel: tuple[float, ...]) -> NDArray[np.float64]:
    """out[i] = sum_k kernel[k] * padded[i + k] for every full window, accumulated in k order."""
    n_out = padded.shape[0] - len(kernel) + 1
    acc = kernel[0] * padded[0:n_out]
    for k in range(1, len(kernel)):
        acc = acc + kernel[k] * padded[k : k + n_out]
    return acc


def smooth(x: NDArray[np.float64], sigma: float) -> NDArray[np.float64]:
    """Gaussian-smooth along axis 0 (time); works for (time,) and (time, channels)."""
    kernel = gaussian_kernel(sigma)
    return correlate_valid(reflect_pad(np.asarray(x, dtype=np.float64), radius_of(kernel)), kernel)


def smooth_one(window: list[float], kernel: tuple[float, ...]) -> float:
    """One smoothed sample from ``len(kernel)`` consecutive values, in the same order as ``correlate_valid``."""
    acc = kernel[0] * window[0]
    for k in range(1, len(kernel)):
        acc = acc + kernel[k] * window[k]
    return acc


def sigma_frames(sigma_s: float, fps: float) -> float:
    """The paper gives sigma in frames at 30 fps; keep it constant in seconds at other rates."""
    return sigma_s * fps if math.isfinite(fps) else 0.0
