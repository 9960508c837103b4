"""Streaming analysis (supplement §12.2): fed one frame at a time, the pose state is current every frame
and violations update whenever a cycle completes. It finds exactly what the offline analysis finds: both
run the same repair, smoothing arithmetic, segmenter and evaluator (``engine``), and the per-frame cost is
O(1) amortised: one smoothed sample and one segmenter step; a cycle's own frames are smoothed once, when it
completes."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from numpy.typing import NDArray

from workbench.exercises.catalogue import Exercise
from workbench.motion.context import NO_POSE_YET, motion_context, pose_state, reps_completed
from workbench.motion.cycles import Cycle, CycleSegmenter, FrameCues
from workbench.motion.engine import DEFAULT_MIN_CONFIDENCE, CycleEvaluator, FrameRepair, default_salient
from workbench.motion.results import Rep, Violation
from workbench.motion.smoothing import correlate_valid, radius_of, smooth_one
from workbench.skeleton import N_DOFS


def reflect_index(j: int, n: int) -> int:
    """scipy 'reflect' boundary for index j of a length-n signal (same mapping as ``reflect_pad``)."""
    j %= 2 * n
    return 2 * n - 1 - j if j >= n else j


class StreamingTracker:
    """Incremental motion analysis of one exercise."""

    def __init__(
        self,
        exercise: Exercise,
        observed: NDArray[np.bool_],
        fps: float,
        salient: Sequence[str] | None = None,
        min_confidence: float = DEFAULT_MIN_CONFIDENCE,
        skip_symmetry: bool = False,
    ):
        self.exercise = exercise
        self.observed = np.asarray(observed, dtype=bool)
        self.salient = default_salient(exercise, salient)
        self.evaluator = CycleEvaluator(exercise, self.observed, fps, self.salient, skip_symmetry)
        self.repair = FrameRepair(self.observed, min_confidence)
        self.kernel = self.evaluator.kernel
        self.radius = radius_of(self.kernel)
        self.segmenter = CycleSegmenter(self.evaluator.params)
        self._q: NDArray[np.float64] = np.empty((1024, N_DOFS))
        self._t: list[float] = []
        self._raw_signal: list[float] = []
        self._cues: list[FrameCues] = []  # per kept frame: what the counting safeguards read
        self._dof_conf: NDArray[np.float64] | None = None  # (capacity, 46) once a frame brings per-DoF confidence
        self._n = 0
        self._frame_in = 0
        self.reps: list[Rep] = []
        self.last_violations: tuple[Violation, ...] = ()

    # ------------------------------------------------------------------------------------- input
    def push(
        self,
        row: NDArray[np.float64],
        t: float,
        confidence: float = 1.0,
        dof_confidence: NDArray[np.float64] | None = None,
    ) -> list[Rep]:
        """Add one frame (46 radians, and optionally its 46 per-DoF confidences); returns the reps completed by
        it (usually none). Give ``dof_confidence`` with every frame or with none."""
        index = self._frame_in
        self._frame_in += 1
        fixed = self.repair.repair(index, row, confidence)
        if fixed is None:
            return []
        if self._n == self._q.shape[0]:
            self._q = np.concatenate([self._q, np.empty_like(self._q)])
            if self._dof_conf is not None:
                self._dof_conf = np.concatenate([self._dof_conf, np.empty_like(self._dof_conf)])
        self._q[self._n] = fixed
        if dof_confidence is not None:
            if self._dof_conf is None:
                self._dof_conf = np.empty_like(self._q)
            self._dof_conf[self._n] = dof_confidence
        self._t.append(t)
        self._n += 1
        spec = self.evaluator.spec
        if spec is None:
            return []
        self._raw_signal.append(spec.value(fixed, dof_confidence))
        self._cues.append(self.evaluator.frame_cues(fixed, self.repair.held_now, dof_confidence))
        i = self._n - 1 - self.radius  # the newest sample whose smoothing window is complete
        if i < 0:
            return []
        return self._step(i, self._window(i, self._n))

    def finish(self) -> list[Rep]:
        """End of stream: smooth the tail (reflecting at the end, as offline) and close the last cycle."""
        if self.evaluator.spec is None or self._n == 0:
            return []
        done: list[Rep] = []
        for i in range(max(0, self._n - self.radius), self._n):
            done += self._step(i, self._window(i, self._n))
        return done + self._evaluate(self.segmenter.finish())

    # ------------------------------------------------------------------------------------ output
    @property
    def n_frames(self) -> int:
        return self._n

    def pose_state(self) -> str:
        if self._n == 0:
            return NO_POSE_YET
        conf = self.dof_confidence()
        trusted = None if conf is None else self.evaluator.trusted(conf[-1:])
        return pose_state(self._q[self._n - 1], self.salient, self.observed, trusted)

    def context(self) -> str:
        """C_motion now: the current pose, the last completed cycle's violations and (rep exercises) the reps
        completed so far."""
        return motion_context(self.pose_state(), self.last_violations, reps_completed(self.exercise, self.reps))

    def q(self) -> NDArray[np.float64]:
        return self._q[: self._n]

    def t(self) -> NDArray[np.float64]:
        return np.asarray(self._t)

    def dof_confidence(self) -> NDArray[np.float64] | None:
        """(frames kept, 46) per-DoF confidence, None when the frames brought none."""
        return None if self._dof_conf is None else self._dof_conf[: self._n]

    # ---------------------------------------------------------------------------------- internals
    def _window(self, i: int, n: int) -> list[float]:
        s, r = self._raw_signal, self.radius
        if i - r >= 0 and i + r < n:
            return s[i - r : i + r + 1]
        return [s[reflect_index(j, n)] for j in range(i - r, i + r + 1)]

    def _step(self, i: int, window: list[float]) -> list[Rep]:
        cycles = self.segmenter.push(smooth_one(window, self.kernel), self._cues[i])
        assert len(self.segmenter.signal) == i + 1
        return self._evaluate(cycles) if cycles else []

    def _evaluate(self, cycles: list[Cycle]) -> list[Rep]:
        out = []
        for c in cycles:
            q = self._smoothed_q(c.start, c.end + 1)
            t = np.asarray(self._t[c.start : c.end + 1])
            signal = np.asarray(self.segmenter.signal[c.start : c.end + 1])
            raw = self._q[c.start : c.end + 1]
            conf = None if self._dof_conf is None else self._dof_conf[c.start : c.end + 1]
            a, b = c.span
            span = (
                (raw, t, signal)
                if (a, b) == (c.start, c.end)
                else (self._q[a : b + 1], np.asarray(self._t[a : b + 1]), np.asarray(self.segmenter.signal[a : b + 1]))
            )
            rep = self.evaluator.rep(len(self.reps), c, q, raw, t, signal, conf, span)
            self.reps.append(rep)
            self.last_violations = rep.violations
            out.append(rep)
        return out

    def _smoothed_q(self, a: int, b: int) -> NDArray[np.float64]:
        """Smoothed angles of frames [a, b): the same per-element arithmetic as ``smoothing.smooth``."""
        r = self.radius
        idx = [reflect_index(j, self._n) for j in range(a - r, b + r)]
        return correlate_valid(self._q[idx], self.kernel)
