"""From an exercise's cycle rules to the representative signal and detection parameters in frames."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from workbench.exercises.catalogue import Exercise
from workbench.motion.cycles import CycleParams
from workbench.skeleton import dof_index

# Paper defaults (supplement §10), given in frames at 30 fps; kept constant in seconds at other rates.
SMOOTH_SIGMA_S = 2 / 30
HOLD_WINDOW_S = 10 / 30
HOLD_MIN_S = 10 / 30


@dataclass(frozen=True)
class SignalSpec:
    """Which DoFs make the representative signal, and its orientation (+1: work is a maximum)."""

    dofs: tuple[int, ...]
    sign: float
    names: tuple[str, ...]

    def value(self, row: NDArray[np.float64]) -> float:
        """The signal at one frame, summed in the order the offline path sums."""
        total = float(row[self.dofs[0]])
        for i in self.dofs[1:]:
            total = total + float(row[i])
        return self.sign * total

    def series(self, q: NDArray[np.float64]) -> NDArray[np.float64]:
        total = q[:, self.dofs[0]].copy()
        for i in self.dofs[1:]:
            total = total + q[:, i]
        return self.sign * total


def signal_spec(ex: Exercise, observed: NDArray[np.bool_]) -> SignalSpec | None:
    """The representative signal for this exercise given what the source observes; None if nothing is."""
    indices = [dof_index(n) for n in ex.cycle.signal]
    seen = [i for i in indices if observed[i]]
    if not seen:
        return None
    chosen = seen if ex.cycle.combine == "sum" else seen[:1]
    sign = 1.0 if ex.cycle.work == "max" else -1.0
    names = tuple(n for n in ex.cycle.signal if dof_index(n) in chosen)
    return SignalSpec(dofs=tuple(chosen), sign=sign, names=names)


def cycle_params(ex: Exercise, fps: float) -> CycleParams:
    lo, hi = ex.cycle.period_s
    return CycleParams(
        prominence=math.radians(ex.cycle.prominence_deg),
        min_len=max(2, round(lo * fps)),
        max_len=max(3, round(hi * fps)),
        kind=ex.cycle.kind,
        hold_threshold=math.radians(ex.cycle.hold_max_std_deg),
        hold_window=max(2, round(HOLD_WINDOW_S * fps)),
        hold_min=max(2, round(HOLD_MIN_S * fps)),
        hold_chunk=max(2, round(ex.cycle.hold_window_s * fps)),
    )
