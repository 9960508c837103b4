"""The parts of the analysis that offline and streaming share, so they cannot drift apart:
frame repair, the representative signal, and the evaluation of one finished cycle."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace

import numpy as np
from numpy.typing import NDArray

from workbench.exercises.catalogue import Constraint, Exercise
from workbench.exercises.scoring import RepScore, rep_score
from workbench.motion.align import cycle_quality, resample_cycle
from workbench.motion.constraints import CycleView, evaluate
from workbench.motion.cycles import Cycle, CycleParams
from workbench.motion.results import PhaseSpan, Rep
from workbench.motion.signal import SMOOTH_SIGMA_S, SignalSpec, cycle_params, signal_spec
from workbench.motion.smoothing import gaussian_kernel, sigma_frames
from workbench.skeleton import MIRROR_PERMUTATION, dof, dof_index, joint, mirror_pose

DEFAULT_MIN_CONFIDENCE = 0.3
DEFAULT_CYCLE_SAMPLES = 100  # time-normalised cycle length when the exercise has no reference


@dataclass
class FrameRepair:
    """Supplement §11.3: when a frame is lost (low confidence, or no observed DoF estimated) keep the last
    valid pose; a single missing DoF keeps its own last value. Frames before the first complete one are
    dropped, since there is nothing valid to keep yet."""

    observed: NDArray[np.bool_]
    min_confidence: float = DEFAULT_MIN_CONFIDENCE
    last: NDArray[np.float64] | None = None
    n_dropped: int = 0
    n_held: int = 0
    n_partial: int = 0
    held_ranges: list[list[int]] = field(default_factory=list)

    def repair(self, index: int, row: NDArray[np.float64], confidence: float) -> NDArray[np.float64] | None:
        bad = np.isnan(row) & self.observed
        lost = confidence < self.min_confidence or bool(bad[self.observed].all())
        if self.last is None:
            if lost or bad.any():
                self.n_dropped += 1
                return None
            self.last = row
            return row
        if lost:
            self._note_held(index)
            return self.last
        if bad.any():
            self.n_partial += 1
            row = np.where(bad, self.last, row)
        self.last = row
        return row

    def _note_held(self, index: int) -> None:
        self.n_held += 1
        if self.held_ranges and self.held_ranges[-1][1] == index - 1:
            self.held_ranges[-1][1] = index
        else:
            self.held_ranges.append([index, index])

    def warnings(self, t: NDArray[np.float64] | None = None) -> list[str]:
        out = []
        if self.n_dropped:
            out.append(f"{self.n_dropped} leading frame(s) had no complete pose estimate and were skipped")
        if self.n_held:
            spans = ", ".join(f"frames {a}-{b}" for a, b in self.held_ranges[:5])
            more = "" if len(self.held_ranges) <= 5 else f" and {len(self.held_ranges) - 5} more"
            out.append(f"{self.n_held} lost frame(s) (low confidence or no estimate) kept the last valid pose: "
                       f"{spans}{more}")  # fmt: skip
        if self.n_partial:
            out.append(f"{self.n_partial} frame(s) missed some observed DoFs; those kept their last value")
        return out


@dataclass
class CycleEvaluator:
    """Turns a finished cycle into a Rep: laterality, reference alignment, quality and constraint checks."""

    exercise: Exercise
    observed: NDArray[np.bool_]
    fps: float
    salient: tuple[str, ...]
    skip_symmetry: bool = False  # side views: the far limb is seen too poorly to compare sides
    spec: SignalSpec | None = field(init=False)
    params: CycleParams = field(init=False)
    kernel: tuple[float, ...] = field(init=False)
    _mirror: Exercise | None = field(init=False, default=None)
    skipped: set[str] = field(init=False, default_factory=set)  # checks whose DoF never moved in a cycle

    def __post_init__(self) -> None:
        self.spec = signal_spec(self.exercise, self.observed)
        self.params = cycle_params(self.exercise, self.fps)
        self.kernel = gaussian_kernel(sigma_frames(SMOOTH_SIGMA_S, self.fps))

    def rep(self, index: int, cycle: Cycle, q: NDArray[np.float64], raw: NDArray[np.float64],
            t: NDArray[np.float64], signal: NDArray[np.float64]) -> Rep:  # fmt: skip
        """``q`` (smoothed), ``raw``, ``t`` and ``signal`` cover exactly the cycle's frames."""
        ex = self.exercise
        side = self._working_side(q) if ex.laterality == "unilateral" else None
        mirrored = side is not None and side != ex.reference_side
        constraints: Sequence[Constraint] = ex.constraints
        salient = self.salient
        reference = None if ex.reference is None else ex.reference.mean
        if mirrored:
            ex = self._mirrored_exercise()
            constraints = [c.mirrored() for c in self.exercise.constraints]
            salient = tuple(joint(j).mirror for j in salient)
            reference = None if reference is None else mirror_pose(reference.T).T
        view = CycleView(cycle=cycle, q=q, raw=raw, t=t, signal=signal, reference=reference)
        if self.skip_symmetry:
            constraints = [c for c in constraints if c.kind != "symmetry"]
        values: dict[str, float] = {}
        violations = evaluate(ex, constraints, view, index, self.observed, set(salient), self.skipped, values)
        phases = tuple(PhaseSpan(p.name, float(t[p.start - cycle.start]), float(t[p.end - cycle.start]))
                       for p in cycle.phases)  # fmt: skip
        normalised = self._normalised(q, mirrored)
        score = self._score(normalised, mirrored)
        return Rep(
            index=index, start_s=float(t[0]), end_s=float(t[-1]), kind=cycle.kind,
            quality=self._quality(raw, reference, salient), phases=phases, violations=tuple(violations), side=side,
            start_frame=cycle.start, end_frame=cycle.end, score=None if score is None else score.value,
            score_terms=() if score is None else score.terms, cycle=normalised, check_values=values,
        )  # fmt: skip

    def _normalised(self, q: NDArray[np.float64], mirrored: bool) -> NDArray[np.float64]:
        """The smoothed cycle on the reference grid, seen from the reference side (46, n_ref)."""
        ref = self.exercise.reference
        n_ref = ref.n_samples if ref is not None else DEFAULT_CYCLE_SAMPLES
        seen = mirror_pose(q) if mirrored else q
        return np.ascontiguousarray(resample_cycle(seen, n_ref).T)

    def _score(self, normalised: NDArray[np.float64], mirrored: bool) -> RepScore | None:
        ref = self.exercise.reference
        observed = self.observed[MIRROR_PERMUTATION] if mirrored else self.observed
        salient = [i for j in self.exercise.salient_joints for i in joint(j).dofs]
        return rep_score(normalised, observed, self.exercise.scoring, None if ref is None else ref.mean,
                         None if ref is None else ref.sd, salient)  # fmt: skip

    def _mirrored_exercise(self) -> Exercise:
        """Key frames seen from the other side: a DoF's extreme becomes its mirror's, right phases left."""
        if self._mirror is None:
            swap = {"right": "left", "left": "right"}
            frames = tuple(replace(k, dof=None if k.dof is None else dof(k.dof).mirror,
                                   phase=None if k.phase is None else swap.get(k.phase, k.phase))
                           for k in self.exercise.key_frames)  # fmt: skip
            self._mirror = replace(self.exercise, key_frames=frames)
        return self._mirror

    def _working_side(self, q: NDArray[np.float64]) -> str:
        if self.exercise.fixed_side is not None:
            return self.exercise.fixed_side
        assert self.exercise.cycle.side_dofs is not None
        right_name, left_name = self.exercise.cycle.side_dofs
        sign = 1.0 if self.exercise.cycle.work == "max" else -1.0
        # Compare like with like: the left DoF in the right side's sign convention (SKEL's mirror rules).
        r = float(np.max(sign * q[:, dof_index(right_name)]))
        lft = float(np.max(sign * dof(left_name).mirror_sign * q[:, dof_index(left_name)]))
        return "right" if r >= lft else "left"

    def _quality(self, q: NDArray[np.float64], reference: NDArray[np.float64] | None,
                 salient: tuple[str, ...]) -> float | None:  # fmt: skip
        if reference is None or q.shape[0] < 2:
            return None
        dofs = [i for j in salient for i in joint(j).dofs if self.observed[i]]
        if not dofs:
            return None
        user = resample_cycle(q[:, dofs], reference.shape[1]).T  # (dof, n_ref)
        quality = cycle_quality(user, reference[dofs])
        return None if quality is None else quality.score


def default_salient(ex: Exercise, salient: Sequence[str] | None) -> tuple[str, ...]:
    """The salient joint set: given by the caller (a trained DoF selector, an expert), else the catalogue's."""
    if salient is None:
        return ex.salient_joints
    for j in salient:
        joint(j)  # raises with the valid names
    return tuple(salient)


def describe_unobserved(ex: Exercise, observed: NDArray[np.bool_]) -> list[str]:
    """Warnings for checks that cannot run because the source does not observe their DoF."""
    skipped = sorted({c.dof for c in ex.constraints if not observed[dof_index(c.dof)]})
    if not skipped:
        return []
    return [f"not observed by this source, so not checked: {', '.join(dof(n).label for n in skipped)}"]

