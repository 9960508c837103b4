"""Reference alignment: Eq. 5 resampling and the four similarity measures behind s_cycle (supplement §10)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

# Weights of the cycle quality score (supplement §10).
W_COS, W_PEARSON, W_VEL, W_AMP = 0.4, 0.3, 0.2, 0.1
MOVING_DEG = 2.0  # a reference DoF that moves less than this carries no shape to compare


@dataclass(frozen=True)
class CycleQuality:
    cosine: float
    pearson: float
    velocity: float
    amplitude: float

    @property
    def score(self) -> float:
        s = W_COS * self.cosine + W_PEARSON * self.pearson + W_VEL * self.velocity + W_AMP * self.amplitude
        return float(np.clip(s, 0.0, 1.0))


def resample_cycle(x: NDArray[np.float64], n_ref: int) -> NDArray[np.float64]:
    """Eq. 5: linear interpolation of a (time, …) cycle onto ``n_ref`` evenly spaced points
    (phi maps reference index k to user time i_s + k (i_e - i_s) / (n_ref - 1))."""
    n = x.shape[0]
    if n == 1:
        return np.repeat(x, n_ref, axis=0)
    phi = np.linspace(0.0, n - 1, n_ref)
    lo = np.floor(phi).astype(int)
    hi = np.minimum(lo + 1, n - 1)
    frac = (phi - lo).reshape((-1,) + (1,) * (x.ndim - 1))
    return x[lo] + frac * (x[hi] - x[lo])


def cycle_quality(user: NDArray[np.float64], ref: NDArray[np.float64]) -> CycleQuality | None:
    """Compare time-normalised cycles, both (dof, n_ref) radians over the same DoFs.

    Only DoFs that move in the reference carry shape; None when none do.
    """
    moving = np.ptp(ref, axis=1) >= np.radians(MOVING_DEG)
    if not moving.any():
        return None
    u, r = user[moving], ref[moving]
    cos = _cosine(_zscore(u.ravel()), _zscore(r.ravel()))
    pearson = float(np.mean([_pearson(a, b) for a, b in zip(u, r, strict=True)]))
    vel = _cosine(np.diff(u, axis=1).ravel(), np.diff(r, axis=1).ravel())
    rom_u, rom_r = np.ptp(u, axis=1), np.ptp(r, axis=1)
    amp = float(np.mean(np.minimum(rom_u, rom_r) / np.maximum(np.maximum(rom_u, rom_r), 1e-12)))
    return CycleQuality(cosine=_unit(cos), pearson=_unit(pearson), velocity=_unit(vel), amplitude=_unit(amp))


def _unit(x: float) -> float:
    return float(np.clip(x, 0.0, 1.0)) if np.isfinite(x) else 0.0


def _zscore(x: NDArray[np.float64]) -> NDArray[np.float64]:
    sd = x.std()
    return (x - x.mean()) / sd if sd > 0 else x - x.mean()


def _cosine(a: NDArray[np.float64], b: NDArray[np.float64]) -> float:
    na, nb = np.linalg.norm(a), np.linalg.norm(b)
    return float(a @ b / (na * nb)) if na > 0 and nb > 0 else 0.0


def _pearson(a: NDArray[np.float64], b: NDArray[np.float64]) -> float:
    if a.std() == 0 or b.std() == 0:
        return 0.0
    return float(np.corrcoef(a, b)[0, 1])
