"""The parts of the analysis that offline and streaming share, so they cannot drift apart:
frame repair, the representative signal, and the evaluation of one finished cycle."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field, replace

import numpy as np
from numpy.typing import NDArray

from workbench.exercises.catalogue import Constraint, Exercise, Reference
from workbench.exercises.scoring import RepScore, rep_score
from workbench.motion.align import cycle_quality, resample_cycle
from workbench.motion.build_references import Variant, build_variants
from workbench.motion.constraints import CycleView, evaluate
from workbench.motion.cycles import Cycle, CycleParams, FrameCues
from workbench.motion.measures import rep_measures
from workbench.motion.results import PhaseSpan, Rep
from workbench.motion.signal import SMOOTH_SIGMA_S, SignalSpec, cycle_params, signal_spec, trunk_inclination
from workbench.motion.smoothing import gaussian_kernel, sigma_frames
from workbench.skeleton import DOF_NAMES, MIRROR_PERMUTATION, dof, dof_index, joint, mirror_pose

DEFAULT_MIN_CONFIDENCE = 0.3
# Per-side trust: a DoF whose per-frame confidence (``PoseTrack.dof_confidence``) has a median under this over a
# rep's frames is not judged in that rep, and is left out of the pose state. 0.5: the landmarks that determine
# the DoF are, on the pose backend's scale, as likely hidden as seen (MediaPipe: the far side of a side view).
DEFAULT_MIN_DOF_CONFIDENCE = 0.5
# Counting asks less: a frame sees the movement when the representative signal's best-seen DoF has at least this
# confidence. The far limb in a side view (confidence up to about 0.5 on MediaPipe's scale) still shows the
# rhythm of a rep; a limb out of frame or lost (near 0) does not.
DEFAULT_MIN_SIGNAL_CONFIDENCE = 0.25
DEFAULT_CYCLE_SAMPLES = 100  # time-normalised cycle length when the exercise has no reference
# Unilateral moves: the working side is told only when the two sides' work extremes differ by at least this.
SIDE_MARGIN_DEG = 10.0


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
    held_now: bool = False  # whether the last repaired frame was lost and kept the last valid pose

    def repair(self, index: int, row: NDArray[np.float64], confidence: float) -> NDArray[np.float64] | None:
        bad = np.isnan(row) & self.observed
        lost = confidence < self.min_confidence or bool(bad[self.observed].all())
        self.held_now = False
        if self.last is None:
            if lost or bad.any():
                self.n_dropped += 1
                return None
            self.last = row
            return row
        if lost:
            self._note_held(index)
            self.held_now = True
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
            out.append(
                f"{self.n_held} lost frame(s) (low confidence or no estimate) kept the last valid pose: {spans}{more}"
            )
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
    min_dof_confidence: float = DEFAULT_MIN_DOF_CONFIDENCE
    min_signal_confidence: float = DEFAULT_MIN_SIGNAL_CONFIDENCE
    spec: SignalSpec | None = field(init=False)
    params: CycleParams = field(init=False)
    kernel: tuple[float, ...] = field(init=False)
    _mirror: Exercise | None = field(init=False, default=None)
    _posture_seen: bool = field(init=False, default=False)
    skipped: set[str] = field(init=False, default_factory=set)  # checks whose DoF never moved in a cycle
    side_unknown: list[int] = field(init=False, default_factory=list)  # reps whose working side the data do not tell
    variants: tuple[Variant, ...] = field(init=False, default=())  # reference variants (``exercises.build``)
    untrusted: dict[str, list[int]] = field(init=False, default_factory=dict)  # DoF → reps it was not judged in

    def __post_init__(self) -> None:
        self.spec = signal_spec(self.exercise, self.observed)
        self.params = cycle_params(self.exercise, self.fps, self.spec)
        self.kernel = gaussian_kernel(sigma_frames(SMOOTH_SIGMA_S, self.fps))
        self.variants = build_variants(self.exercise) if self.exercise.reference is not None else ()
        self._posture_seen = bool(self.observed[dof_index("pelvis_tilt")] and self.observed[dof_index("pelvis_list")])

    def frame_cues(self, row: NDArray[np.float64], held: bool, dof_confidence: NDArray[np.float64] | None) -> FrameCues:
        """What the counting safeguards read of one repaired frame: whether the representative signal was seen
        (not held over a lost frame; its best-seen DoF's confidence at least ``min_signal_confidence``), the
        trunk's inclination from vertical (NaN when the source does not observe the pelvis's orientation) and,
        when the signal has both sides of a bilateral move, their values."""
        seen = not held
        if seen and dof_confidence is not None and self.spec is not None:
            seen = self.spec.seen(dof_confidence, self.min_signal_confidence)
        posture = trunk_inclination(row) if self._posture_seen else math.nan
        sides = (math.nan, math.nan)
        if self.params.sides_together and self.spec is not None and self.spec.pair is not None:
            sides = (float(row[self.spec.dofs[0]]), self.spec.pair_sign * float(row[self.spec.pair]))
        return FrameCues(seen, posture, sides)

    def trusted(self, dof_confidence: NDArray[np.float64] | None) -> NDArray[np.bool_] | None:
        """(46,) whether each DoF is trusted over these frames: the median of its confidence over them is at
        least ``min_dof_confidence``; None without per-DoF confidence (every observed DoF is)."""
        if dof_confidence is None or dof_confidence.shape[0] == 0:
            return None
        return np.asarray(np.median(dof_confidence, axis=0) >= self.min_dof_confidence)

    def rep(
        self,
        index: int,
        cycle: Cycle,
        q: NDArray[np.float64],
        raw: NDArray[np.float64],
        t: NDArray[np.float64],
        signal: NDArray[np.float64],
        dof_confidence: NDArray[np.float64] | None = None,
        span: tuple[NDArray[np.float64], ...] | None = None,
    ) -> Rep:
        """``q`` (smoothed), ``raw``, ``t``, ``signal`` and ``dof_confidence`` (per-DoF confidence, when the
        source gives it) cover exactly the cycle's frames; ``span`` is (raw, t, signal) over the rep's whole
        excursion, ``cycle.span``, for its measures (without it they read the cycle's frames)."""
        ex = self.exercise
        trusted = self.trusted(dof_confidence)
        side, side_known = self._working_side(q) if ex.laterality == "unilateral" else (None, True)
        mirrored = side is not None and side != ex.reference_side
        constraints: Sequence[Constraint] = ex.constraints
        salient = self.salient
        variant = next((v for v in self.variants if v.matches(q)), None)
        chosen = ex.reference if variant is None else variant.reference
        reference = None if chosen is None else chosen.mean
        if mirrored:
            ex = self._mirrored_exercise()
            constraints = [c.mirrored() for c in self.exercise.constraints]
            salient = tuple(joint(j).mirror for j in salient)
            reference = None if reference is None else mirror_pose(reference.T).T
        view = CycleView(cycle=cycle, q=q, raw=raw, t=t, signal=signal, reference=reference)
        if self.skip_symmetry:
            constraints = [c for c in constraints if c.kind != "symmetry"]
        constraints, not_judged = self._judgeable(constraints, set(salient), trusted, index)
        values: dict[str, float] = {}
        held_to: dict[str, tuple[float | None, float | None]] = {}
        violations = evaluate(ex, constraints, view, index, self.observed, set(salient), self.skipped, values, held_to)
        phases = tuple(
            PhaseSpan(p.name, float(t[p.start - cycle.start]), float(t[p.end - cycle.start])) for p in cycle.phases
        )
        normalised = self._normalised(q, mirrored, chosen)
        score = self._score(normalised, mirrored, trusted, chosen)
        if not side_known:
            self.side_unknown.append(index)
        quality = self._quality(raw, reference, salient, trusted)
        if span is None:
            span, cycle = (raw, t, signal), replace(cycle, valley_before=None, valley_after=None)
        measured = [i for j in self.salient for i in joint(j).dofs if self.observed[i]]
        span_raw, span_t, span_signal = span
        measures = rep_measures(
            cycle, span_raw, span_t, span_signal, measured, quality=quality, values=values, bounds=held_to
        )
        return Rep(
            index=index,
            start_s=float(t[0]),
            end_s=float(t[-1]),
            kind=cycle.kind,
            quality=quality,
            phases=phases,
            violations=tuple(violations),
            measures=measures,
            side=side,
            start_frame=cycle.start,
            end_frame=cycle.end,
            score=None if score is None else score.value,
            score_terms=() if score is None else score.terms,
            cycle=normalised,
            check_values=values,
            not_judged=not_judged,
            side_known=side_known,
            variant=None if variant is None else variant.name,
        )

    def _judgeable(
        self, constraints: Sequence[Constraint], salient: set[str], trusted: NDArray[np.bool_] | None, index: int
    ) -> tuple[list[Constraint], tuple[str, ...]]:
        """The checks whose DoFs are trusted in this rep, and the DoFs (SKEL names) of those that would have been
        judged but are not trusted (recorded in ``untrusted`` for the warning)."""
        if trusted is None:
            return list(constraints), ()
        keep: list[Constraint] = []
        dropped: list[str] = []
        for c in constraints:
            i = dof_index(c.dof)
            if not self.observed[i] or c.joint not in salient:
                keep.append(c)  # not judged anyway; ``evaluate`` passes over it
                continue
            needs = [i, dof_index(dof(c.dof).mirror)] if c.kind == "symmetry" else [i]
            unseen = [DOF_NAMES[k] for k in needs if not trusted[k]]
            if not unseen:
                keep.append(c)
                continue
            for name in unseen:
                if name not in dropped:
                    dropped.append(name)
                reps = self.untrusted.setdefault(name, [])
                if index not in reps:
                    reps.append(index)
        return keep, tuple(dropped)

    def _normalised(self, q: NDArray[np.float64], mirrored: bool, ref: Reference | None) -> NDArray[np.float64]:
        """The smoothed cycle on the reference grid, seen from the reference side (46, n_ref)."""
        n_ref = ref.n_samples if ref is not None else DEFAULT_CYCLE_SAMPLES
        seen = mirror_pose(q) if mirrored else q
        return np.ascontiguousarray(resample_cycle(seen, n_ref).T)

    def _score(
        self, normalised: NDArray[np.float64], mirrored: bool, trusted: NDArray[np.bool_] | None, ref: Reference | None
    ) -> RepScore | None:
        seen = self.observed if trusted is None else self.observed & trusted
        observed = seen[MIRROR_PERMUTATION] if mirrored else seen
        salient = [i for j in self.exercise.salient_joints for i in joint(j).dofs]
        return rep_score(
            normalised,
            observed,
            self.exercise.scoring,
            None if ref is None else ref.mean,
            None if ref is None else ref.sd,
            salient,
        )

    def _mirrored_exercise(self) -> Exercise:
        """Key frames seen from the other side: a DoF's extreme becomes its mirror's, right phases left."""
        if self._mirror is None:
            swap = {"right": "left", "left": "right"}
            frames = tuple(
                replace(
                    k,
                    dof=None if k.dof is None else dof(k.dof).mirror,
                    phase=None if k.phase is None else swap.get(k.phase, k.phase),
                )
                for k in self.exercise.key_frames
            )
            self._mirror = replace(self.exercise, key_frames=frames)
        return self._mirror

    def _working_side(self, q: NDArray[np.float64]) -> tuple[str, bool]:
        """The side that works in this rep, and whether the data tell it: the side DoF with the larger work
        extreme (the front leg's hip flexes most in a lunge, the curling arm's elbow in a curl), told only when
        the two extremes differ by ``SIDE_MARGIN_DEG``; otherwise the reference side is assumed."""
        if self.exercise.fixed_side is not None:
            return self.exercise.fixed_side, True
        assert self.exercise.cycle.side_dofs is not None
        right_name, left_name = self.exercise.cycle.side_dofs
        sign = 1.0 if self.exercise.cycle.work == "max" else -1.0
        # Compare like with like: the left DoF in the right side's sign convention (SKEL's mirror rules).
        r = float(np.max(sign * q[:, dof_index(right_name)]))
        lft = float(np.max(sign * dof(left_name).mirror_sign * q[:, dof_index(left_name)]))
        if not abs(r - lft) >= math.radians(SIDE_MARGIN_DEG):
            return self.exercise.reference_side, False
        return ("right" if r > lft else "left"), True

    def _quality(
        self,
        q: NDArray[np.float64],
        reference: NDArray[np.float64] | None,
        salient: tuple[str, ...],
        trusted: NDArray[np.bool_] | None,
    ) -> float | None:
        if reference is None or q.shape[0] < 2:
            return None
        dofs = [i for j in salient for i in joint(j).dofs if self.observed[i] and (trusted is None or trusted[i])]
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


def describe_untrusted(untrusted: dict[str, list[int]], threshold: float) -> list[str]:
    """One warning for every DoF that was not judged in some reps because it was seen too poorly."""
    if not untrusted:
        return []
    parts = [f"{dof(name).label} in {_rep_list(reps)}" for name, reps in untrusted.items()]
    return [
        f"seen too poorly to judge (median confidence under {threshold:.2f} over the rep), so not checked: "
        + "; ".join(parts)
    ]


def _rep_list(reps: list[int]) -> str:
    """'rep 3', 'reps 0-4, 7'."""
    runs: list[list[int]] = []
    for r in sorted(reps):
        if runs and r == runs[-1][1] + 1:
            runs[-1][1] = r
        else:
            runs.append([r, r])
    text = ", ".join(str(a) if a == b else f"{a}-{b}" for a, b in runs)
    return ("rep " if len(reps) == 1 else "reps ") + text


def describe_side_unknown(ex: Exercise, reps: list[int]) -> list[str]:
    """One warning for the reps of a unilateral move whose working side the data could not tell."""
    if not reps:
        return []
    return [
        f"working side not told by the data in {_rep_list(reps)} (both sides' "
        f"{', '.join(dof(n).label for n in ex.cycle.side_dofs or ())} within {SIDE_MARGIN_DEG:.0f}°): "
        f"judged as the {ex.reference_side} side"
    ]


def describe_unobserved(ex: Exercise, observed: NDArray[np.bool_]) -> list[str]:
    """Warnings for checks that cannot run because the source does not observe their DoF."""
    skipped = sorted({c.dof for c in ex.constraints if not observed[dof_index(c.dof)]})
    if not skipped:
        return []
    return [f"not observed by this source, so not checked: {', '.join(dof(n).label for n in skipped)}"]
