"""The streaming decision loop: pose frames in, timed feedback events out (EVALUATION.md, paper §3.6).

One loop drives every coach (``RuleCoach``, the neural coach) live or offline:

    stream = CoachStream(coach, exercise, observed, fps, context_morph=c_morph)
    for t, row, conf in frames:                     # live: as frames arrive
        for event in stream.push(row, t, conf):     # usually none
            speak(event.text)
    stream.finish()                                 # closes the last rep; may add one event
    stream.events                                   # everything said, in time order

    events = run_coach(coach, track, exercise)      # the same over a whole PoseTrack

``exercise`` is always a resolved ``Exercise`` (``workbench.pipeline.resolve``: the store's current rules,
reference, thresholds and salient joints, or the YAML catalogue without a store); the coach is reset with it.

Timing rules (all in track time, seconds):

- Decision step ``k`` happens at ``t0 + k / rate_hz`` (``t0`` = 0 by default, so ``t_s = k / 4``). It fires as
  soon as the first pose frame with ``t >= t0 + k / rate_hz`` has been pushed (that frame included), so a
  decision never sees the future. A gap in the frames fires the missed steps together, each with the same
  state.
- At a step that is not skipped the coach gets a ``DecisionInput``: C_motion now (``tracker.context()``),
  every rep so far, the reps completed since the previous *called* step (reps completed while the coach was
  speaking are handed over at the next called step, so none is lost), the live phase (``live_phase``), and
  the RGB frames pushed with ``push_image`` since the previous called step (``None`` for pose-only input).
- ``coach.decide`` returns ``None`` (``<next>``) or an ``Utterance`` (``<feedback>`` + text). The event's time
  is the step at which it starts. Its token count is capped at ``MAX_UTTERANCE_TOKENS`` (a coach must stop
  decoding there; the loop clamps the count it was told so the speech time stays bounded).
- Simulated speech: after an utterance of n tokens at step k, ``speech_skip(n) = floor(n / 12 × 4)`` steps
  (k+1 … k+skip) are skipped: the coach is not called.
- ``finish()`` ends the stream: the tracker closes the last cycle, and when that completes reps one more step
  (the next step index) is called, unless the coach is still speaking; a coach that sees a completed rep one
  step late (``context_lag``: the neural coach) gets that many steps more, until it speaks. Those steps lie
  past the last frame, as a coach's comment on the last rep does.

Video: ``run_coach(..., frames=iterator of (t, RGB H×W×3 uint8))`` interleaves video frames with the pose
frames by time. ``workbench.pipeline.analyze_clip(..., coach=c)`` (``biocoach coach``) decodes the clip's video
for a coach that has a ``video_fps`` attribute (the rate it wants, e.g. 16.0) and gives pose-only input
(``frames=None``) to one without.

The loop is chunking-invariant: pushing a track frame by frame, or through ``run_coach``, gives identical
events (the tracker is, and the step schedule depends only on frame times).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, replace
from fractions import Fraction
from typing import Any

import numpy as np
from numpy.typing import NDArray

from workbench.coach.coaching import (
    DECISION_HZ,
    MAX_UTTERANCE_TOKENS,
    SPEECH_TOKENS_PER_S,
    Coach,
    DecisionInput,
    Evidence,
    Utterance,
    UtteranceKind,
)
from workbench.coach.sessions import TimedUtterance
from workbench.exercises.catalogue import Exercise
from workbench.motion.analysis import prepare_track, side_view
from workbench.motion.context import morph_context
from workbench.motion.engine import DEFAULT_MIN_CONFIDENCE
from workbench.motion.results import FeedbackEvent, Rep
from workbench.motion.tracker import StreamingTracker
from workbench.pose.track import PoseTrack

STEP_EPS_S = 1e-6  # frame times are floats (i / fps): a frame at 0.5 - 1e-12 s counts as the 0.5 s step's


def speech_skip(n_tokens: int, rate_hz: float = DECISION_HZ, tokens_per_s: float = SPEECH_TOKENS_PER_S) -> int:
    """Decision steps skipped after an utterance of ``n_tokens``: floor(n / 12 × 4), exact (no float rounding)."""
    n = min(max(int(n_tokens), 0), MAX_UTTERANCE_TOKENS)
    return math.floor(Fraction(n) / Fraction(tokens_per_s) * Fraction(rate_hz))


def context_lag(coach: Coach) -> int:
    """Decision steps between a rep completing and the coach deciding on the C_motion that states it: 0 for a
    coach that reads ``DecisionInput`` afresh at every step (the rule coach), 1 for the neural coach, whose
    completing step decides on the context in its cache and appends the new C_motion after it (``NeuralCoach``,
    ``context_lag_steps``). ``finish`` gives such a coach its extra steps after the stream's last rep, which
    it would otherwise never get to correct."""
    return max(0, int(getattr(coach, "context_lag_steps", 0)))


@dataclass(frozen=True)
class CoachEvent:
    """One thing the coach said: when (the decision step it started at), what, and why."""

    step: int
    t_s: float
    utterance: Utterance
    # reps completed when it spoke (len(DecisionInput.reps)): with ``evidence.context_motion`` the context the
    # line was spoken against, which ``biocoach eval``'s numbers check reads (workbench.eval.numbers)
    reps_done: int | None = None

    @property
    def text(self) -> str:
        return self.utterance.text

    @property
    def kind(self) -> UtteranceKind:
        return self.utterance.kind

    @property
    def n_tokens(self) -> int:
        return self.utterance.n_tokens

    @property
    def evidence(self) -> Evidence:
        return self.utterance.evidence

    def tags(self) -> list[str]:
        """Short evidence tags ("rep 3: knee_depth"), as stored with a run and compared between runs."""
        ev = self.evidence
        return [f"rep {v.rep}: {v.check}" for v in ev.violations] or ([f"rep {ev.rep}"] if ev.rep is not None else [])

    def to_feedback(self) -> FeedbackEvent:
        """The analysis JSON's ``feedback`` item."""
        return FeedbackEvent(
            t_s=self.t_s,
            text=self.text,
            evidence=self.tags(),
            kind=self.kind,
            n_tokens=self.n_tokens,
            step=self.step,
            details=self.evidence.to_json() | ({} if self.reps_done is None else {"reps_done": self.reps_done}),
        )

    def to_timed(self) -> TimedUtterance:
        return TimedUtterance(t_s=self.t_s, text=self.text, kind=self.kind)


def live_phase(tracker: StreamingTracker) -> str | None:
    """The movement phase at the newest smoothed sample, from the segmenter's state (no look-ahead).

    rep cycles: "descent" once the signal has risen a quarter of the prominence above the last low (towards
    the working extreme), "ascent" after a peak is confirmed; holds: "hold" inside a still segment; None at
    rest, for alternating moves, and before the tracker has a signal. Reads the segmenter's internals on
    purpose: the phase is what the segmenter already knows, recomputing it would duplicate its hysteresis.
    """
    seg = tracker.segmenter
    kind = seg.params.kind
    if not seg.signal:
        return None
    if kind == "static_hold":
        hold = seg._hold
        return "hold" if hold is not None and hold.seg_start is not None else None
    if kind == "alternating":
        return None
    if seg._peak is not None:
        return "ascent"
    ex = seg._extrema
    if ex.looking_for_peak and seg.signal[-1] - ex.lo >= 0.25 * seg.params.prominence:
        return "descent"
    return None


class CoachStream:
    """The incremental loop around one ``StreamingTracker`` and one coach (see the module docstring)."""

    def __init__(
        self,
        coach: Coach,
        exercise: Exercise,
        observed: NDArray[np.bool_],
        fps: float,
        *,
        context_morph: str | None = None,
        rate_hz: float = DECISION_HZ,
        t0: float = 0.0,
        salient: Sequence[str] | None = None,
        min_confidence: float | None = None,
        side_view: bool = False,
        on_event: Callable[[CoachEvent], None] | None = None,
    ):
        # the joints the caller chose (a clip's reviewed labels) are the exercise's for this session
        self.exercise = _resolved(exercise, salient)
        conf = DEFAULT_MIN_CONFIDENCE if min_confidence is None else min_confidence
        self.tracker = StreamingTracker(self.exercise, observed, fps, salient, conf, side_view)
        self.coach = coach
        # None: the body was not measured, said as the pipeline and the training data say it (a neural coach
        # reads C_morph in its prefix; an empty one is a prompt it never saw in training)
        self.context_morph = morph_context(None) if context_morph is None else context_morph
        self.rate_hz = float(rate_hz)
        self.t0 = float(t0)
        self.on_event = on_event
        self.events: list[CoachEvent] = []
        self.next_step = 0  # the next decision step to fire
        self.resume_step = 0  # first step at which the coach may be called again (speech skip)
        self.steps_called = 0
        self._pending: list[Rep] = []  # reps completed since the last called step
        self._images: list[NDArray[np.uint8]] = []
        self._finished = False
        self._reps_seen: tuple[Rep, ...] = ()
        coach.reset(self.exercise, self.context_morph)

    # ------------------------------------------------------------------------------------- input
    def push(
        self,
        row: NDArray[np.float64],
        t: float,
        confidence: float = 1.0,
        dof_confidence: NDArray[np.float64] | None = None,
    ) -> list[CoachEvent]:
        """Add one pose frame (46 radians at time t, and optionally its per-DoF confidence); returns the events
        that started at the steps it fired."""
        self._pending += self.tracker.push(row, t, confidence, dof_confidence)
        out: list[CoachEvent] = []
        while self.step_time(self.next_step) <= t + STEP_EPS_S:
            event = self._fire(self.next_step)
            self.next_step += 1
            if event is not None:
                out.append(event)
        return out

    def push_image(self, t: float, rgb: NDArray[np.uint8]) -> None:
        """Add one RGB video frame (H×W×3); it goes to the next called step's ``DecisionInput.frames``."""
        del t  # images are ordered by the caller (``run_coach`` interleaves them by time)
        self._images.append(np.asarray(rgb, dtype=np.uint8))

    def finish(self) -> list[CoachEvent]:
        """End of stream: close the last cycle; when that completed reps, one more step (not while speaking),
        and after it the coach's ``context_lag_steps`` (see ``context_lag``) until it speaks."""
        if self._finished:
            return []
        self._finished = True
        self._pending += self.tracker.finish()
        if not self._pending:
            return []
        for _ in range(1 + context_lag(self.coach)):
            if self.next_step < self.resume_step:
                return []
            event = self._fire(self.next_step)
            self.next_step += 1
            if event is not None:
                return [event]
        return []

    # ------------------------------------------------------------------------------------ output
    def step_time(self, step: int) -> float:
        return self.t0 + step / self.rate_hz

    @property
    def speaking(self) -> bool:
        """Whether the next step is inside the simulated speech of the last utterance."""
        return self.next_step < self.resume_step

    def feedback(self) -> list[FeedbackEvent]:
        return [e.to_feedback() for e in self.events]

    # ---------------------------------------------------------------------------------- internals
    def _fire(self, step: int) -> CoachEvent | None:
        if step < self.resume_step:
            return None
        inp = self.decision_input(step)
        self._pending = []
        self._images = []
        self.steps_called += 1
        said = self.coach.decide(inp)
        if said is None:
            return None
        if said.n_tokens > MAX_UTTERANCE_TOKENS:
            said = Utterance(said.text, MAX_UTTERANCE_TOKENS, said.kind, said.evidence)
        event = CoachEvent(step=step, t_s=inp.t_s, utterance=said, reps_done=len(inp.reps))
        self.resume_step = step + 1 + speech_skip(said.n_tokens, self.rate_hz)
        self.events.append(event)
        if self.on_event is not None:
            self.on_event(event)
        return event

    def _reps(self) -> tuple[Rep, ...]:
        """Every rep so far, as a tuple rebuilt only when a rep was added (an hour holds 1,000+ reps)."""
        if len(self._reps_seen) != len(self.tracker.reps):
            self._reps_seen = tuple(self.tracker.reps)
        return self._reps_seen

    def decision_input(self, step: int) -> DecisionInput:
        """What the coach sees at ``step`` (does not consume the pending reps or frames)."""
        frames = np.stack(self._images) if self._images else None
        return DecisionInput(
            step=step,
            t_s=round(self.step_time(step), 9),
            exercise=self.exercise.key,
            context_morph=self.context_morph,
            context_motion=self.tracker.context(),
            reps=self._reps(),
            new_reps=tuple(self._pending),
            phase=live_phase(self.tracker),
            frames=frames,
        )


def iter_coach(
    coach: Coach,
    track: PoseTrack,
    exercise: Exercise,
    *,
    context_morph: str | None = None,
    frames: Iterable[tuple[float, NDArray[np.uint8]]] | None = None,
    rate_hz: float = DECISION_HZ,
    salient: Sequence[str] | None = None,
    min_confidence: float | None = None,
    t0: float = 0.0,
) -> Iterator[CoachEvent]:
    """Yield events as the track's frames are pushed (``frames``: optional (t, RGB) video frames, in time order,
    handed to the step that follows them; ``t0``: the time of step 0, the session's start on the track's
    clock). The track is made uniform first, as the analysis does."""
    track, _ = prepare_track(track)
    stream = CoachStream(
        coach,
        exercise,
        track.observed,
        track.fps,
        context_morph=context_morph,
        rate_hz=rate_hz,
        salient=salient,
        min_confidence=min_confidence,
        side_view=side_view(track),
        t0=t0,
    )
    images = iter(frames) if frames is not None else None
    held: tuple[float, NDArray[np.uint8]] | None = None
    dof_conf = track.dof_confidence
    for k, (row, t_i, conf) in enumerate(zip(track.q, track.t.tolist(), track.confidence.tolist(), strict=True)):
        if images is not None:
            held, images = _feed_images(stream, images, held, t_i)
        yield from stream.push(row, t_i, conf, None if dof_conf is None else dof_conf[k])
    yield from stream.finish()


def _feed_images(
    stream: CoachStream,
    images: Iterator[tuple[float, NDArray[np.uint8]]] | None,
    held: tuple[float, NDArray[np.uint8]] | None,
    t: float,
) -> tuple[tuple[float, NDArray[np.uint8]] | None, Iterator[Any] | None]:
    """Push every video frame with time <= t (the pose frame about to be pushed)."""
    while True:
        if held is None:
            if images is None:
                return None, None
            nxt = next(images, None)
            if nxt is None:
                return None, None
            held = nxt
        if held[0] > t + STEP_EPS_S:
            return held, images
        stream.push_image(held[0], held[1])
        held = None


def run_coach(
    coach: Coach,
    track: PoseTrack,
    exercise: Exercise,
    *,
    context_morph: str | None = None,
    frames: Iterable[tuple[float, NDArray[np.uint8]]] | None = None,
    rate_hz: float = DECISION_HZ,
    salient: Sequence[str] | None = None,
    min_confidence: float | None = None,
    t0: float = 0.0,
) -> list[CoachEvent]:
    """Every event of a coach over a whole track (``iter_coach`` collected)."""
    return list(
        iter_coach(
            coach,
            track,
            exercise,
            context_morph=context_morph,
            frames=frames,
            rate_hz=rate_hz,
            salient=salient,
            min_confidence=min_confidence,
            t0=t0,
        )
    )


def feedback_events(events: Iterable[CoachEvent]) -> list[FeedbackEvent]:
    """The analysis JSON's ``feedback`` list."""
    return [e.to_feedback() for e in events]


def _resolved(exercise: Exercise, salient: Sequence[str] | None) -> Exercise:
    """A coach is reset with the exercise as the caller resolved it (store versions included), never a name
    it would have to look up itself."""
    if not isinstance(exercise, Exercise):
        raise TypeError(
            f"the coaching loop needs a resolved Exercise (workbench.pipeline.resolve or "
            f"Catalogue.get), got {type(exercise).__name__} {exercise!r}"
        )
    return exercise if salient is None else replace(exercise, salient_joints=tuple(salient))
