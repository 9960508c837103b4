"""From an exercise's cycle rules to the representative signal and detection parameters in frames."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from workbench.exercises.catalogue import Exercise
from workbench.motion.cycles import CycleParams
from workbench.skeleton import DOF_NAMES, dof, dof_index

_TILT, _LIST = dof_index("pelvis_tilt"), dof_index("pelvis_list")

# Paper defaults (supplement §10), given in frames at 30 fps; kept constant in seconds at other rates.
SMOOTH_SIGMA_S = 2 / 30
HOLD_WINDOW_S = 10 / 30
HOLD_MIN_S = 10 / 30
# Counting safeguards for real footage (``cycles`` module docstring). Set wide of what clean sets do: reps in a
# set vary in depth by far less than a factor of 2.5, and real angles span at least half the reference's.
RELATIVE_PROMINENCE = 0.3  # a reversal exceeds 30 % of the swing before it
MIN_AMPLITUDE_RATIO = 0.4  # of the set's typical amplitude
MIN_REFERENCE_RATIO = 0.25  # of the reference cycle's amplitude, before the set has a typical one
MIN_SEEN_FRACTION = 0.5  # of a candidate's frames with the signal seen
MAX_POSTURE_CHANGE_DEG = 30.0  # trunk inclination away from the counted reps'


@dataclass(frozen=True)
class SignalSpec:
    """Which DoFs make the representative signal, and its orientation (+1: work is a maximum).

    ``pair``: for a ``first_observed`` signal whose DoF's mirror is also listed and observed, that mirror (its
    value in the DoF's sign convention). With per-DoF confidence, each frame then weighs the two sides by their
    confidence, so in a side view the near limb carries the signal rather than the far one, which the pose
    model guesses; without it (or without a pair) the signal is the DoF alone, as before.
    """

    dofs: tuple[int, ...]
    sign: float
    names: tuple[str, ...]
    pair: int | None = None
    pair_sign: float = 1.0

    def value(self, row: NDArray[np.float64], confidence: NDArray[np.float64] | None = None) -> float:
        """The signal at one frame, with the arithmetic of ``series`` element by element."""
        if self.pair is not None and confidence is not None:
            a, b = self.dofs[0], self.pair
            wa, wb = float(confidence[a]), float(confidence[b])
            xa, xb = float(row[a]), self.pair_sign * float(row[b])
            total = (wa * xa + wb * xb) / (wa + wb) if wa + wb > 0 else 0.5 * (xa + xb)
            return self.sign * total
        total = float(row[self.dofs[0]])
        for i in self.dofs[1:]:
            total = total + float(row[i])
        return self.sign * total

    def series(self, q: NDArray[np.float64], confidence: NDArray[np.float64] | None = None) -> NDArray[np.float64]:
        if self.pair is not None and confidence is not None:
            a, b = self.dofs[0], self.pair
            wa, wb = confidence[:, a], confidence[:, b]
            xa, xb = q[:, a], self.pair_sign * q[:, b]
            weight = wa + wb
            mixed = np.divide(wa * xa + wb * xb, weight, out=np.zeros_like(xa), where=weight > 0)
            return self.sign * np.where(weight > 0, mixed, 0.5 * (xa + xb))
        total = q[:, self.dofs[0]].copy()
        for i in self.dofs[1:]:
            total = total + q[:, i]
        return self.sign * total

    def seen(self, confidence: NDArray[np.float64], threshold: float) -> bool:
        """Whether the signal is seen at a frame: its best-seen DoF's confidence is at least ``threshold``."""
        best = max(float(confidence[i]) for i in self.dofs)
        if self.pair is not None:
            best = max(best, float(confidence[self.pair]))
        return best >= threshold


def trunk_inclination(row: NDArray[np.float64]) -> float:
    """Radians between the pelvis's long axis and vertical at one frame (0 standing, ~π/2 prone), from the
    pelvis's global tilt and list (SKEL applies rotation about the vertical last, which leaves it unchanged);
    NaN when either is missing. Scalar arithmetic, so the streaming and offline paths agree to the bit."""
    tilt, lst = float(row[_TILT]), float(row[_LIST])
    if math.isnan(tilt) or math.isnan(lst):
        return math.nan
    return math.acos(max(-1.0, min(1.0, math.cos(tilt) * math.cos(lst))))


def signal_spec(ex: Exercise, observed: NDArray[np.bool_]) -> SignalSpec | None:
    """The representative signal for this exercise given what the source observes; None if nothing is."""
    indices = [dof_index(n) for n in ex.cycle.signal]
    seen = [i for i in indices if observed[i]]
    if not seen:
        return None
    chosen = seen if ex.cycle.combine == "sum" else seen[:1]
    sign = 1.0 if ex.cycle.work == "max" else -1.0
    names = tuple(n for n in ex.cycle.signal if dof_index(n) in chosen)
    pair, pair_sign = None, 1.0
    if ex.cycle.combine == "first_observed":
        first = dof(DOF_NAMES[chosen[0]])
        if first.mirror in ex.cycle.signal and observed[dof_index(first.mirror)]:
            pair, pair_sign = dof_index(first.mirror), float(first.mirror_sign)
    return SignalSpec(dofs=tuple(chosen), sign=sign, names=names, pair=pair, pair_sign=pair_sign)


def cycle_params(ex: Exercise, fps: float, spec: SignalSpec | None = None) -> CycleParams:
    """Detection parameters in frames; with the signal ``spec`` (one joint angle), the reference cycle's
    amplitude seeds the amplitude safeguard."""
    lo, hi = ex.cycle.period_s
    reference_amplitude = None
    if spec is not None and ex.reference is not None and _one_angle(spec):
        reference_amplitude = float(np.ptp(spec.series(ex.reference.mean.T)))
    return CycleParams(
        prominence=math.radians(ex.cycle.prominence_deg),
        min_len=max(2, round(lo * fps)),
        max_len=max(3, round(hi * fps)),
        kind=ex.cycle.kind,
        hold_threshold=math.radians(ex.cycle.hold_max_std_deg),
        hold_window=max(2, round(HOLD_WINDOW_S * fps)),
        hold_min=max(2, round(HOLD_MIN_S * fps)),
        hold_chunk=max(2, round(ex.cycle.hold_window_s * fps)),
        relative_prominence=_or(ex.cycle.relative_prominence, RELATIVE_PROMINENCE),
        min_amplitude_ratio=_or(ex.cycle.min_amplitude_ratio, MIN_AMPLITUDE_RATIO),
        reference_amplitude=reference_amplitude,
        min_reference_ratio=_or(ex.cycle.min_reference_ratio, MIN_REFERENCE_RATIO),
        min_seen_fraction=MIN_SEEN_FRACTION,
        max_posture_change=math.radians(MAX_POSTURE_CHANGE_DEG),
        sides_together=ex.laterality == "bilateral" and spec is not None and spec.pair is not None,
    )


def _one_angle(spec: SignalSpec) -> bool:
    """Whether the signal is one joint angle (on one side or summed over both): only then does the reference's
    amplitude say what a rep must reach. A signal summing different angles (a jumping jack's legs and arm) keeps
    most of its reference amplitude in a part the source may not track."""
    first = spec.names[0]
    return all(n in (first, dof(first).mirror) for n in spec.names)


def _or(value: float | None, default: float) -> float:
    return default if value is None else value
