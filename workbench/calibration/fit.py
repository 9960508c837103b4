"""Fitting judgments to labelled repetitions: the reference cycle, the checks' bounds and the ranking score.

Method (``biocoach calibrate``; every tuned choice is made by leave-one-subject-out cross-validation):

1. **Reference**: the time-normalised mean and SD per DoF over the correct repetitions (each rep already
   resampled onto the reference grid and seen from the reference side), for the DoFs the data observe;
   the others keep the previous reference's rows.
2. **Bounds**: each check's bound is set at a false-alarm rate ``alpha`` on correct repetitions: a lower
   bound at the alpha-quantile of the correct reps' values (a rep counts its worse side), an upper bound,
   a stability or a symmetry limit at the (1 − alpha)-quantile; the side(s) the rule file bounds stay the
   side(s) bounded. With incorrect repetitions present, alpha is chosen from ``ALPHAS`` by the balanced
   accuracy (Youden's J) of "this rep has a violation" on held-out subjects; without, it is ``DEFAULT_ALPHA``.
3. **Score** (``exercises.scoring``): candidate features are every observed DoF's max, min, range, mean and
   trajectory distance, each standardised by the correct reps' median and SD (z clipped at ±Z_CLIP, so one
   wild frame cannot dominate; a feature missing in a rep reads as typical). An L2-regularised logistic
   regression (scikit-learn) on those z's gives each feature its direction (the sign) and weight; the score
   is the weighted mean of the oriented z's. Many weak but consistent deviations add up, which ranked
   held-out people better than the few strongest features did (BENCHMARKS.md, calibration). Two candidate
   feature sets (``FEATURE_SETS``) and the regularisation (``REGULARISATION_GRID``) are chosen by the pooled
   AUC over left-out subjects, and that pooled AUC is reported as the cross-validated AUC. Without incorrect
   repetitions the score is the mean trajectory distance over the salient DoFs (exercises.scoring's default).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

import numpy as np
from numpy.typing import NDArray
from scipy.stats import rankdata
from sklearn.linear_model import LogisticRegression

from workbench.exercises.scoring import STATS, Z_LIMIT, ScoreFeature, Scoring
from workbench.skeleton import DOF_NAMES, N_DOFS

FloatArray = NDArray[np.float64]
BoolArray = NDArray[np.bool_]

ALPHAS = (0.01, 0.025, 0.05, 0.1, 0.2)
DEFAULT_ALPHA = 0.05
REGULARISATION_GRID = (0.001, 0.003, 0.01, 0.03, 0.1, 0.3)  # inverse L2 strength of the logistic regression
DEFAULT_REGULARISATION = 0.01
MIN_WEIGHT = 0.005  # features below this share of the total weight are left out of the stored score
MIN_COVERAGE = 0.8  # a candidate feature must be measured in this share of the reps
# Candidate feature sets, simplest first. "extremes" leaves out the posture-level features (mean, trajectory
# distance) that carry a person's own style, which a new person does not share.
FEATURE_SETS: dict[str, tuple[str, ...]] = {"extremes": ("max", "min", "range"), "extremes+shape": STATS}
MIN_SPREAD = {"traj": 0.05}  # traj is in reference-SD units; every other stat in degrees
MIN_SPREAD_DEG = 1.0
TRAJ_SD_FLOOR_DEG = 1.0  # as exercises.scoring.MIN_FEATURE_SPREAD_DEG
Z_CLIP = Z_LIMIT


# ------------------------------------------------------------------------------------------ reference


def fit_reference(
    cycles: FloatArray, previous_mean: FloatArray | None, previous_sd: FloatArray | None
) -> tuple[FloatArray, FloatArray]:
    """Mean and SD (46, n) radians over ``cycles`` (reps, 46, n); DoFs with NaN keep the previous rows."""
    if cycles.ndim != 3 or cycles.shape[1] != N_DOFS or cycles.shape[0] < 2:
        raise ValueError(f"cycles: expected (reps >= 2, {N_DOFS}, n), got {cycles.shape}")
    n = cycles.shape[2]
    mean = np.zeros((N_DOFS, n)) if previous_mean is None else _on_grid(previous_mean, n)
    sd = np.zeros((N_DOFS, n)) if previous_sd is None else _on_grid(previous_sd, n)
    seen = np.isfinite(cycles).all(axis=(0, 2))
    mean[seen] = cycles[:, seen].mean(axis=0)
    sd[seen] = cycles[:, seen].std(axis=0, ddof=1)
    return mean, sd


def _on_grid(array: FloatArray, n: int) -> FloatArray:
    if array.shape[1] == n:
        return array.astype(np.float64).copy()
    x_old, x_new = np.linspace(0, 1, array.shape[1]), np.linspace(0, 1, n)
    return np.vstack([np.interp(x_new, x_old, row) for row in array])


# ------------------------------------------------------------------------------------------- features


def feature_matrix(
    cycles: FloatArray,
    ref_mean: FloatArray,
    ref_sd: FloatArray,
    dofs: Sequence[int] | None = None,
    stats: Sequence[str] = STATS,
) -> tuple[FloatArray, list[str]]:
    """(reps, features) of every DoF × stat (exercises.scoring.feature_value, vectorised) and their names;
    a feature measured in fewer than MIN_COVERAGE of the reps is left out (elsewhere it is NaN)."""
    deg = np.degrees(cycles)
    m, sd = np.degrees(ref_mean)[None], np.maximum(np.degrees(ref_sd), TRAJ_SD_FLOOR_DEG)[None]
    by_stat = {
        "max": deg.max(axis=2),
        "min": deg.min(axis=2),
        "range": np.ptp(deg, axis=2),
        "mean": deg.mean(axis=2),
        "traj": np.sqrt(np.mean(((deg - m) / sd) ** 2, axis=2)),
    }
    columns, names = [], []
    for i, dof_name in enumerate(DOF_NAMES):
        if dofs is not None and i not in dofs:
            continue
        for stat in stats:
            col = by_stat[stat][:, i]
            if np.isfinite(col).mean() >= MIN_COVERAGE:
                columns.append(col)
                names.append(f"{dof_name}.{stat}")
    return (np.column_stack(columns) if columns else np.zeros((cycles.shape[0], 0))), names


@dataclass(frozen=True)
class Standardiser:
    """Centre and spread of each feature over correct reps."""

    center: FloatArray
    spread: FloatArray

    @classmethod
    def fit(cls, x: FloatArray, names: Sequence[str]) -> Standardiser:
        floors = np.array([MIN_SPREAD.get(n.rsplit(".", 1)[1], MIN_SPREAD_DEG) for n in names])
        with np.errstate(all="ignore"):
            center = np.nan_to_num(np.nanmedian(x, axis=0))
            spread = np.nanstd(x, axis=0, ddof=1) if x.shape[0] > 1 else floors
        spread = np.maximum(np.nan_to_num(spread), floors)
        return cls(center=center, spread=spread)


def auc_columns(scores: FloatArray, positive: BoolArray) -> FloatArray:
    """ROC AUC of each column (Mann–Whitney U over mid-ranks, ties counted half): the fast form of
    sklearn's roc_auc_score for the search; reported figures use sklearn itself."""
    n_pos, n_neg = int(positive.sum()), int((~positive).sum())
    if n_pos == 0 or n_neg == 0:
        return np.full(scores.shape[1], np.nan)
    ranks = rankdata(scores, axis=0)
    return np.asarray((ranks[positive].sum(axis=0) - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


@dataclass(frozen=True)
class ScoreFit:
    scoring: Scoring | None
    cv_auc: float | None
    cv_auc_by_setting: dict[str, float]  # "feature set, C" → pooled held-out AUC
    feature_set: str | None
    regularisation: float | None
    n_features: int


def standard_scores(x: FloatArray, std: Standardiser) -> FloatArray:
    """z = (x − centre) / spread, clipped at ±Z_CLIP; a feature missing in a rep reads as typical (0)."""
    z = np.clip((x - std.center) / std.spread, -Z_CLIP, Z_CLIP)
    return np.nan_to_num(z, nan=0.0)


def _weights(z: FloatArray, positive: BoolArray, c: float) -> FloatArray:
    model = LogisticRegression(C=c, solver="lbfgs", max_iter=5000)
    model.fit(z, positive)
    return np.asarray(model.coef_[0], dtype=np.float64)


def fit_score(
    cycles: FloatArray,
    positive: BoolArray,
    subjects: Sequence[str],
    ref_mean: FloatArray,
    ref_sd: FloatArray,
    *,
    grid: Sequence[float] = REGULARISATION_GRID,
) -> ScoreFit:
    """The calibrated score (module doc, step 3); without incorrect reps, no scoring (the default applies)."""
    if not positive.any() or positive.all():
        return ScoreFit(None, None, {}, None, None, 0)
    subj = np.asarray(subjects)
    by_setting: dict[tuple[str, float], float] = {}
    for set_name, stats in FEATURE_SETS.items():
        for c, auc in _held_out_aucs(cycles, positive, subj, ref_mean, ref_sd, stats, grid).items():
            by_setting[(set_name, c)] = auc
    # Ties (within 0.005 of the best held-out AUC) go to the simpler feature set and the stronger regularisation.
    order = list(FEATURE_SETS)
    best = max(by_setting.values()) if by_setting else None
    near = [k for k, a in by_setting.items() if a >= (best or 0.0) - 0.005]
    set_name, c_best = (
        min(near, key=lambda k: (order.index(k[0]), k[1])) if near else (order[0], DEFAULT_REGULARISATION)
    )
    x, names = feature_matrix(cycles, ref_mean, ref_sd, stats=FEATURE_SETS[set_name])
    std = Standardiser.fit(x[~positive], names)
    w = _weights(standard_scores(x, std), positive, c_best)
    total = float(np.abs(w).sum())
    features = []
    for j in np.argsort(-np.abs(w)):
        if total <= 0 or abs(w[j]) < MIN_WEIGHT * total:
            break
        dof_name, stat = names[j].rsplit(".", 1)
        features.append(
            ScoreFeature(
                dof=dof_name,
                stat=stat,  # type: ignore[arg-type]
                direction="high" if w[j] > 0 else "low",
                center_deg=float(std.center[j]),
                spread_deg=float(std.spread[j]),
                weight=abs(float(w[j])),
            )
        )
    kept = sum(f.weight for f in features)
    features = [replace(f, weight=f.weight / kept) for f in features]
    labelled = {f"{k[0]}, C={k[1]:g}": round(v, 4) for k, v in sorted(by_setting.items())}
    return ScoreFit(
        Scoring(features=tuple(features), calibration={}),
        by_setting.get((set_name, c_best)),
        labelled,
        set_name,
        c_best,
        len(features),
    )


def _held_out_aucs(
    cycles: FloatArray,
    positive: BoolArray,
    subj: NDArray[np.str_],
    ref_mean: FloatArray,
    ref_sd: FloatArray,
    stats: Sequence[str],
    grid: Sequence[float],
) -> dict[float, float]:
    """Pooled AUC over left-out subjects of each regularisation (reference, standardiser and weights refitted
    without the subject, so nothing of the held-out person leaks in)."""
    folds = sorted(set(subj.tolist()))
    oof = {c: np.full(len(subj), np.nan) for c in grid}
    for held in folds if len(folds) > 1 else []:
        train, test = subj != held, subj == held
        if not positive[train].any() or positive[train].all():
            continue
        mean_f, sd_f = fit_reference(cycles[train & ~positive], ref_mean, ref_sd)
        x, names = feature_matrix(cycles, mean_f, sd_f, stats=stats)
        std = Standardiser.fit(x[train & ~positive], names)
        z = standard_scores(x, std)
        for c in grid:
            oof[c][test] = z[test] @ _weights(z[train], positive[train], c)
    out = {}
    for c, s in oof.items():
        ok = np.isfinite(s)
        if ok.sum() and positive[ok].any() and not positive[ok].all():
            out[c] = float(auc_columns(s[ok][:, None], positive[ok])[0])
    return out


# ---------------------------------------------------------------------------------------------- bounds


@dataclass(frozen=True)
class BoundSide:
    """Which limits a rule-file check has: a lower bound, an upper bound, or an upper limit (std/diff)."""

    lower: bool
    upper: bool


def quantile_bounds(values: FloatArray, side: BoundSide, alpha: float) -> tuple[float | None, float | None]:
    """New (low, high) at false-alarm rate ``alpha`` from correct reps' worst values (module doc, step 2)."""
    a = alpha / 2 if side.lower and side.upper else alpha
    lo = float(np.quantile(values, a)) if side.lower else None
    hi = float(np.quantile(values, 1 - a)) if side.upper else None
    return (None if lo is None else round(lo, 1), None if hi is None else round(hi, 1))


def youden(flags: BoolArray, positive: BoolArray) -> float:
    """Sensitivity + specificity − 1 of a yes/no judgment."""
    if not positive.any() or positive.all():
        return float("nan")
    return float(flags[positive].mean() + (~flags[~positive]).mean() - 1.0)
