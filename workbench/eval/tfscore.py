"""Temporal F-Score (T-F-Score), exactly as the QEVD-fit-coach reference evaluator computes it.

The protocol (EVALUATION.md): walk the "rows" (ground truth for recall) in order; for each, take the single
nearest "column" (prediction) by time — the first one on a tie, as ``argmin`` does — and accept the pair only if
|Δt| < tolerance/2 (strictly), the column comes after the last accepted column (order is preserved), it is not
already taken and its text is not empty. A rejected nearest column is *not* replaced by the second nearest.
Precision runs the same routine with the roles swapped. Counts are summed over all clips (micro average) and
F = 2·P·R / (P + R + eps) with P and R each divided by (n + eps), eps = 1e-12, as the reference does.

BioCoach's copy of the evaluator skips clips with no ground truth or no prediction; ``skip_empty=True`` gives
that variant (off by default: the published protocol counts them).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

EPS = 1e-12
TOLERANCE_S = 3.0  # the reference's "tolerance"; the window is ±tolerance/2 = ±1.5 s


@dataclass(frozen=True)
class ClipFeedback:
    """One evaluation unit: the ground truth and the predictions of one clip (times in seconds from its start)."""

    clip_id: str
    gt_texts: tuple[str, ...]
    gt_times: tuple[float, ...]
    pred_texts: tuple[str, ...]
    pred_times: tuple[float, ...]

    def __post_init__(self) -> None:
        if len(self.gt_texts) != len(self.gt_times):
            raise ValueError(f"{self.clip_id}: {len(self.gt_texts)} ground-truth texts but {len(self.gt_times)} times")
        if len(self.pred_texts) != len(self.pred_times):
            raise ValueError(f"{self.clip_id}: {len(self.pred_texts)} predicted texts but {len(self.pred_times)} times")


@dataclass(frozen=True)
class ClipMatch:
    """What the two passes found in one clip."""

    clip_id: str
    n_gt: int
    n_pred: int
    matched_gt: int  # pass 1 (recall)
    matched_pred: int  # pass 2, roles swapped (precision)
    pairs: tuple[tuple[int, int], ...]  # (gt index, pred index) of pass 1: the text metrics score these


@dataclass(frozen=True)
class TFScore:
    """Micro-averaged counts over every clip, and the score computed from them."""

    n_gt: int
    n_pred: int
    matched_gt: int
    matched_pred: int
    clips: tuple[ClipMatch, ...] = field(default=())
    skipped: tuple[str, ...] = ()  # clip ids left out by skip_empty

    @property
    def precision(self) -> float:
        return self.matched_pred / (self.n_pred + EPS)

    @property
    def recall(self) -> float:
        return self.matched_gt / (self.n_gt + EPS)

    @property
    def f_score(self) -> float:
        p, r = self.precision, self.recall
        return 2 * (p * r / (p + r + EPS))


def align(
    row_times: Sequence[float], col_times: Sequence[float], col_texts: Sequence[str], tolerance_s: float = TOLERANCE_S
) -> list[tuple[int, int]]:
    """The reference's greedy, order-preserving matching of rows to columns: (row index, column index) pairs."""
    pairs: list[tuple[int, int]] = []
    if not col_times:
        return pairs
    taken: set[int] = set()
    last = -1
    half = tolerance_s / 2.0
    for i, x in enumerate(row_times):
        # argmin of the squared difference: the first column wins a tie
        j = min(range(len(col_times)), key=lambda k: ((col_times[k] - x) ** 2, k))
        if abs(x - col_times[j]) < half and j > last and j not in taken and col_texts[j] != "":
            pairs.append((i, j))
            taken.add(j)
            last = j
    return pairs


def match_clip(clip: ClipFeedback, tolerance_s: float = TOLERANCE_S) -> ClipMatch:
    """Both passes on one clip: ground truth → predictions (recall), predictions → ground truth (precision)."""
    forward = align(clip.gt_times, clip.pred_times, clip.pred_texts, tolerance_s)
    backward = align(clip.pred_times, clip.gt_times, clip.gt_texts, tolerance_s)
    return ClipMatch(
        clip_id=clip.clip_id,
        n_gt=len(clip.gt_times),
        n_pred=len(clip.pred_times),
        matched_gt=len(forward),
        matched_pred=len(backward),
        pairs=tuple(forward),
    )


def t_f_score(clips: Iterable[ClipFeedback], *, skip_empty: bool = False, tolerance_s: float = TOLERANCE_S) -> TFScore:
    """The dataset's T-F-Score: counts of every clip summed, then P, R and F from the sums."""
    matches: list[ClipMatch] = []
    skipped: list[str] = []
    for clip in clips:
        if skip_empty and (not clip.gt_times or not clip.pred_times):
            skipped.append(clip.clip_id)
            continue
        matches.append(match_clip(clip, tolerance_s))
    return TFScore(
        n_gt=sum(m.n_gt for m in matches),
        n_pred=sum(m.n_pred for m in matches),
        matched_gt=sum(m.matched_gt for m in matches),
        matched_pred=sum(m.matched_pred for m in matches),
        clips=tuple(matches),
        skipped=tuple(skipped),
    )
