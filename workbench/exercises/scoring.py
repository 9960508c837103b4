"""The per-rep ranking score: how far a repetition is from the reference, in units of its spread.

Every rep is time-normalised onto the reference's grid (Eq. 5) and seen from the reference side (a left
rep of a unilateral move is mirrored first). From that cycle come *features*: per DoF its ``max``, ``min``,
``range`` and ``mean`` over the cycle, and ``traj``, the RMS over the cycle of (angle − reference mean) /
reference SD, the trajectory's distance from the reference.

- A calibrated exercise (``scoring:`` in its rules, written by ``biocoach calibrate``) names a few features,
  each with the centre and spread of its value over correct repetitions and the direction in which
  incorrect ones deviate. A feature's z = (value − centre) / spread, clipped at ±Z_LIMIT; its term is +z for
  ``high``, −z for ``low`` and |z| for ``both``; the score is the weighted mean of the terms (weights sum to
  1; a feature the rep does not measure counts as typical, term 0). 0 is the typical correct rep,
  1 is one spread further off in the direction that marks errors, and a rep better than typical scores
  below 0 (that keeps the ranking among good reps, which a clipped score would tie).
- Without calibration: the mean of ``traj`` over the salient DoFs that move in the reference, with each
  SD floored at ``MIN_SPREAD_DEG`` (a hand-built reference's SD is a guess, and a tiny one would let
  noise dominate): a plain distance from the reference in SD units, never below 0.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
from numpy.typing import NDArray

from workbench.skeleton import DOF_NAMES, dof_index

FloatArray = NDArray[np.float64]
Stat = Literal["max", "min", "range", "mean", "traj"]
Direction = Literal["high", "low", "both"]
STATS: tuple[Stat, ...] = ("max", "min", "range", "mean", "traj")
DIRECTIONS: tuple[Direction, ...] = ("high", "low", "both")
MIN_SPREAD_DEG = 5.0  # uncalibrated score: floor of the reference SD
MIN_FEATURE_SPREAD_DEG = 1.0  # calibrated features: floor of a feature's spread (sensor resolution)
MOVING_DEG = 2.0  # a reference DoF that moves less than this carries no shape (as in motion.align)
MAX_TERMS_SHOWN = 5  # the analysis JSON lists the features that move a rep's score most
Z_LIMIT = 6.0  # a feature's z is clipped here: one wild frame must not outweigh every other feature


@dataclass(frozen=True)
class ScoreFeature:
    """One term of a calibrated score. ``center_deg``/``spread_deg`` describe correct reps (for ``traj``
    the values are in reference-SD units, not degrees)."""

    dof: str
    stat: Stat
    direction: Direction
    center_deg: float
    spread_deg: float
    weight: float

    @property
    def name(self) -> str:
        return f"{self.dof}.{self.stat}"

    def term(self, value: float) -> float:
        z = min(max((value - self.center_deg) / self.spread_deg, -Z_LIMIT), Z_LIMIT)
        return z if self.direction == "high" else -z if self.direction == "low" else abs(z)

    def to_json(self) -> dict[str, Any]:
        return {
            "dof": self.dof,
            "stat": self.stat,
            "direction": self.direction,
            "center_deg": round(self.center_deg, 4),
            "spread_deg": round(self.spread_deg, 4),
            "weight": round(self.weight, 6),
        }


@dataclass(frozen=True)
class Scoring:
    """A calibrated score (see the module doc) and how it was made (free-form, for the provenance)."""

    features: tuple[ScoreFeature, ...]
    calibration: dict[str, Any]


@dataclass(frozen=True)
class RepScore:
    value: float
    terms: tuple[tuple[str, float, float], ...]  # (feature name, value, term), calibrated scores only


def feature_value(
    cycle: FloatArray,
    stat: Stat,
    i: int,
    ref_mean: FloatArray | None,
    ref_sd: FloatArray | None,
    min_sd_deg: float = MIN_FEATURE_SPREAD_DEG,
) -> float:
    """One feature of a time-normalised cycle (46, n) radians: degrees, or reference-SD units for traj."""
    x = np.degrees(cycle[i])
    if stat == "max":
        return float(x.max())
    if stat == "min":
        return float(x.min())
    if stat == "range":
        return float(np.ptp(x))
    if stat == "mean":
        return float(x.mean())
    if ref_mean is None or ref_sd is None:
        return float("nan")
    m, sd = np.degrees(_on(ref_mean[i], x.size)), np.maximum(np.degrees(_on(ref_sd[i], x.size)), min_sd_deg)
    return float(np.sqrt(np.mean(((x - m) / sd) ** 2)))


def all_features(
    cycle: FloatArray, observed: NDArray[np.bool_], ref_mean: FloatArray | None, ref_sd: FloatArray | None
) -> dict[str, float]:
    """Every candidate feature (``dof.stat``) of a cycle over the observed DoFs (calibration's search space)."""
    out: dict[str, float] = {}
    for i in np.flatnonzero(observed):
        if not np.isfinite(cycle[i]).all():
            continue
        for stat in STATS:
            value = feature_value(cycle, stat, int(i), ref_mean, ref_sd)
            if np.isfinite(value):
                out[f"{DOF_NAMES[i]}.{stat}"] = value
    return out


def rep_score(
    cycle: FloatArray,
    observed: NDArray[np.bool_],
    scoring: Scoring | None,
    ref_mean: FloatArray | None,
    ref_sd: FloatArray | None,
    salient_dofs: Sequence[int],
) -> RepScore | None:
    """The score of one time-normalised cycle (module doc); None when nothing can be scored."""
    if scoring is not None and scoring.features:
        terms, total, weights = [], 0.0, 0.0
        for f in scoring.features:
            i = dof_index(f.dof)
            if not observed[i] or not np.isfinite(cycle[i]).all():
                continue
            value = feature_value(cycle, f.stat, i, ref_mean, ref_sd)
            if not np.isfinite(value):
                continue
            term = f.term(value)
            terms.append((f.name, value, term))
            total, weights = total + f.weight * term, weights + f.weight
        if weights <= 0:
            return None
        total_weight = sum(f.weight for f in scoring.features)
        top = sorted(terms, key=lambda x: -abs(x[2]) * _weight_of(scoring, x[0]))[:MAX_TERMS_SHOWN]
        return RepScore(value=total / total_weight, terms=tuple(top))
    if ref_mean is None or ref_sd is None:
        return None
    moving = [
        i
        for i in salient_dofs
        if observed[i] and np.ptp(np.degrees(ref_mean[i])) >= MOVING_DEG and np.isfinite(cycle[i]).all()
    ]
    if not moving:
        return None
    dists = [feature_value(cycle, "traj", i, ref_mean, ref_sd, MIN_SPREAD_DEG) for i in moving]
    return RepScore(value=float(np.mean(dists)), terms=())


def _weight_of(scoring: Scoring, name: str) -> float:
    return next((f.weight for f in scoring.features if f.name == name), 0.0)


def _on(row: FloatArray, n: int) -> FloatArray:
    """A reference row on an n-point grid (the cycle's), by linear interpolation over the phase."""
    if row.size == n:
        return row
    return np.interp(np.linspace(0.0, 1.0, n), np.linspace(0.0, 1.0, row.size), row)


# ------------------------------------------------------------------------------------------- rule files


def parse_scoring(raw: Any, where: str) -> Scoring | None:
    """The ``scoring:`` section of a rule file; raises ValueError with the field that is wrong."""
    if raw is None:
        return None
    if not isinstance(raw, dict):
        raise ValueError(f"{where}: scoring: expected a mapping with 'features', got {type(raw).__name__}")
    unknown = sorted(set(raw) - {"features", "calibration"})
    if unknown:
        raise ValueError(f"{where}: scoring: expected the fields features, calibration, got unknown {unknown}")
    items = raw.get("features") or []
    if not isinstance(items, list):
        raise ValueError(f"{where}: scoring.features: expected a list, got {type(items).__name__}")
    features = tuple(_feature(item, f"{where}: scoring.features[{k}]") for k, item in enumerate(items))
    calibration = raw.get("calibration") or {}
    if not isinstance(calibration, dict):
        raise ValueError(f"{where}: scoring.calibration: expected a mapping, got {type(calibration).__name__}")
    return Scoring(features=features, calibration=dict(calibration))


def _feature(item: Any, here: str) -> ScoreFeature:
    if not isinstance(item, dict):
        raise ValueError(f"{here}: expected a mapping, got {type(item).__name__}")
    known = {"dof", "stat", "direction", "center_deg", "spread_deg", "weight"}
    if set(item) != known:
        raise ValueError(f"{here}: expected exactly the fields {', '.join(sorted(known))}, got {sorted(item)}")
    if item["dof"] not in DOF_NAMES:
        raise ValueError(f"{here}.dof: expected a SKEL DoF name, got {item['dof']!r}")
    if item["stat"] not in STATS:
        raise ValueError(f"{here}.stat: expected one of {', '.join(STATS)}, got {item['stat']!r}")
    if item["direction"] not in DIRECTIONS:
        raise ValueError(f"{here}.direction: expected one of {', '.join(DIRECTIONS)}, got {item['direction']!r}")
    try:
        center, spread, weight = (float(item[k]) for k in ("center_deg", "spread_deg", "weight"))
    except (TypeError, ValueError):
        raise ValueError(
            f"{here}: center_deg, spread_deg and weight: expected numbers, got "
            f"{item['center_deg']!r}, {item['spread_deg']!r}, {item['weight']!r}"
        ) from None
    if not (np.isfinite(center) and np.isfinite(spread) and spread > 0 and np.isfinite(weight) and weight > 0):
        raise ValueError(
            f"{here}: expected a finite centre, a positive spread and a positive weight, got "
            f"{center}, {spread}, {weight}"
        )
    return ScoreFeature(
        dof=item["dof"],
        stat=item["stat"],
        direction=item["direction"],
        center_deg=center,
        spread_deg=spread,
        weight=weight,
    )


def scoring_to_rule(scoring: Scoring) -> dict[str, Any]:
    return {"features": [f.to_json() for f in scoring.features], "calibration": scoring.calibration}
