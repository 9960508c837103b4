"""Repetition cycles, found incrementally so that offline and streaming analysis are one algorithm.

Repetitive moves (paper §3.4.2, supplement §10): on the smoothed representative signal, extrema are
confirmed by hysteresis: a peak once the signal has fallen ``prominence`` below it, a valley once it has
risen ``prominence`` above it. That is prominence-based detection that never looks back over the whole
history, so a frame costs O(1) and a cycle O(its length). A rep is valley → peak → valley; its bounds are
trimmed to where the signal leaves and regains rest (``TRIM`` of the amplitude), so pauses between reps do
not count towards the 0.8–5 s cycle-length bounds.

Alternating moves: each cycle runs from one upward crossing of the mid level to the next; the downward
crossing splits it into the working side's phase and the other side's (the paper's zero crossings of
q − cycle mean). Static holds: rolling standard deviation under a threshold, in windows of fixed length.

Safeguards for real footage (``CycleParams``; each is causal, so streaming and offline stay one algorithm):

- relative prominence: a reversal is confirmed only once it exceeds ``relative_prominence`` of the swing
  before it (as well as the absolute prominence), so a slow hold's jitter at the bottom or a wobble at rest
  merges into the rep around it instead of splitting it;
- amplitude: a candidate whose amplitude (the smaller of its rise and its fall) is under
  ``min_amplitude_ratio`` of the set's typical amplitude is not counted. Typical: the median of the last five
  candidates' amplitudes once there are two, before that the reference cycle's amplitude (at the lower
  ``min_reference_ratio``, since real angles often span less than the reference);
- observation: a candidate whose representative signal was seen (not held over a lost frame, its best-seen
  DoF's confidence at least the threshold) in under ``min_seen_fraction`` of its frames is not counted;
- posture: once the last three counted reps agree on the trunk's inclination from vertical (median over each
  rep's frames, within ``max_posture_change`` of their median), a candidate further than that from it is not
  counted (standing up or walking at the end of a set of push-ups). Three such candidates in a row that agree
  with one another mean the set itself is in that posture (what was counted first was the person getting
  ready): the third is counted and becomes the working posture, so the gate never locks a set out;
- sides together: in a bilateral exercise whose signal has both sides (``FrameCues.sides``), a candidate in
  which the two sides move in opposition over the cycle (Pearson correlation under 0: walking, stepping) is not
  counted.
"""

from __future__ import annotations

import math
import statistics
from dataclasses import dataclass, field
from typing import Literal

TRIM = 0.1  # fraction of a rep's amplitude that counts as still at rest
HISTORY = 5  # candidates behind the set's typical amplitude (a running median)
POSTURE_AGREE = 3  # counted reps that must agree on the trunk's inclination before the posture gate acts


@dataclass(frozen=True)
class FrameCues:
    """What the safeguards read of one frame besides the signal: whether the signal was seen, the trunk's
    inclination from vertical (radians, NaN unknown) and, for a bilateral signal with both sides, the two
    sides' values in one sign convention (NaN without)."""

    seen: bool = True
    posture: float = math.nan
    sides: tuple[float, float] = (math.nan, math.nan)


NO_CUES = FrameCues()


@dataclass(frozen=True)
class Phase:
    name: str  # "descent" / "ascent", "right" / "left", or "hold"
    start: int  # frame index, inclusive
    end: int  # frame index, inclusive


@dataclass(frozen=True)
class Cycle:
    """One detected repetition (or hold window), frame indices inclusive."""

    start: int
    end: int
    work: int  # frame of the working extreme of the representative signal
    kind: Literal["rep", "alternating", "hold"]
    phases: tuple[Phase, ...]
    # The whole excursion of a rep, valley to valley: the bounds above are trimmed to where the signal leaves and
    # regains rest, which cuts the ends of the movement off (per-rep measures read the whole). None: the bounds.
    valley_before: int | None = None
    valley_after: int | None = None

    @property
    def span(self) -> tuple[int, int]:
        """Frames (inclusive) of the rep's whole excursion: from the valley before it to the valley after it."""
        a = self.start if self.valley_before is None else min(self.start, self.valley_before)
        b = self.end if self.valley_after is None else max(self.end, self.valley_after)
        return a, b


@dataclass(frozen=True)
class Rejection:
    """A candidate cycle that was not kept, with the reason the user reads."""

    start: int
    end: int
    reason: str


@dataclass
class CycleParams:
    """Detection parameters in frames and signal units (radians)."""

    prominence: float
    min_len: int
    max_len: int
    kind: Literal["repetitive", "alternating", "static_hold"]
    hold_threshold: float = 0.0  # rolling std (radians) under which a frame is still
    hold_window: int = 10  # rolling-std window, frames
    hold_min: int = 10  # shortest hold segment kept, frames
    hold_chunk: int = 150  # long holds are judged in windows of this many frames
    # Safeguards (module docstring); the defaults leave them off, ``signal.cycle_params`` turns them on.
    relative_prominence: float = 0.0  # fraction of the previous swing a reversal must exceed
    min_amplitude_ratio: float = 0.0  # of the set's typical amplitude
    reference_amplitude: float | None = None  # radians: the typical amplitude before the set has one
    min_reference_ratio: float = 0.0  # of ``reference_amplitude``
    min_seen_fraction: float = 0.0  # of a candidate's frames whose signal was seen
    max_posture_change: float | None = None  # radians of trunk inclination away from the counted reps'
    sides_together: bool = False  # bilateral: reject candidates whose two sides move in opposition


@dataclass
class _Extrema:
    """Hysteresis extrema detector (peaks and valleys at least ``prominence`` apart)."""

    prominence: float
    relative: float = 0.0  # a reversal must also exceed this fraction of the swing that led to the extreme
    looking_for_peak: bool = True
    hi: float = float("-inf")
    hi_at: int = -1
    lo: float = float("inf")
    lo_at: int = -1
    last: float | None = None  # value of the last confirmed extreme

    def push(self, i: int, x: float) -> tuple[str, int] | None:
        if x > self.hi:
            self.hi, self.hi_at = x, i
        if x < self.lo:
            self.lo, self.lo_at = x, i
        if self.looking_for_peak:
            base = self.lo if self.last is None else self.last
            if x < self.hi - max(self.prominence, self.relative * (self.hi - base)):
                self.looking_for_peak = False
                self.last = self.hi
                self.lo, self.lo_at = x, i
                return ("peak", self.hi_at)
        else:
            base = self.hi if self.last is None else self.last
            if x > self.lo + max(self.prominence, self.relative * (base - self.lo)):
                self.looking_for_peak = True
                self.last = self.lo
                self.hi, self.hi_at = x, i
                return ("valley", self.lo_at)
        return None


@dataclass
class CycleSegmenter:
    """Consumes the smoothed representative signal one sample at a time and emits finished cycles.

    The signal is oriented so that the working extreme is a maximum. ``finish()`` closes the last cycle.
    Each sample may come with its ``FrameCues``, which the observation, posture and sides safeguards read.
    """

    params: CycleParams
    signal: list[float] = field(default_factory=list)
    rejected: list[Rejection] = field(default_factory=list)
    cues: list[FrameCues] = field(default_factory=list)
    _amplitudes: list[float] = field(default_factory=list)  # every candidate's, for the typical amplitude
    _postures: list[float] = field(default_factory=list)  # counted reps' median trunk inclination
    _off_posture: list[float] = field(default_factory=list)  # consecutive candidates the posture gate refused
    _extrema: _Extrema = field(init=False)
    _valley: int | None = None  # last confirmed valley
    _peak: int | None = None  # peak waiting for the valley after it
    _alt_start: int | None = None  # alternating: upward crossing that opened the current cycle
    _alt_down: int | None = None
    _alt_peak: int | None = None
    _alt_last_len: int | None = None  # length of the last accepted alternating cycle
    _hold: _HoldState | None = None

    def __post_init__(self) -> None:
        self._extrema = _Extrema(self.params.prominence, self.params.relative_prominence)
        if self.params.kind == "static_hold":
            self._hold = _HoldState(self.params)

    def push(self, x: float, cues: FrameCues = NO_CUES) -> list[Cycle]:
        i = len(self.signal)
        self.signal.append(x)
        self.cues.append(cues)
        if self._hold is not None:
            return self._hold.push(i, self.signal)
        event = self._extrema.push(i, x)
        if event is None:
            return []
        what, at = event
        if what == "peak":
            self._peak = at
            return []
        return self._close(at)

    def finish(self) -> list[Cycle]:
        """End of data: close a cycle whose falling edge is complete, or record why the last one is not."""
        if self._hold is not None:
            return self._hold.finish(self.signal)
        out = self._close_pending()
        if self.params.kind == "alternating":
            out += self.finish_alternating()
        return out

    def _close_pending(self) -> list[Cycle]:
        if self._peak is None:
            ex = self._extrema
            rising = self._valley is not None and ex.looking_for_peak and ex.hi_at > self._valley
            if rising and ex.hi - self.signal[self._valley] >= self.params.prominence:  # type: ignore[index]
                self.rejected.append(
                    Rejection(
                        self._valley,  # type: ignore[arg-type]
                        len(self.signal) - 1,
                        "partial repetition: the track ends inside it",
                    )
                )
            return []
        n = len(self.signal)
        # A set often ends in other movement: look for the closing valley within one cycle, not to the end.
        lo_at = min(range(self._peak, min(n, self._peak + self.params.max_len)), key=self.signal.__getitem__)
        if self.signal[self._peak] - self.signal[lo_at] < self.params.prominence:
            self.rejected.append(Rejection(self._peak, n - 1, "partial repetition: the track ends inside it"))
            self._peak = None
            return []
        return self._close(lo_at)

    # ---------------------------------------------------------------------------------------- reps
    def _close(self, valley: int) -> list[Cycle]:
        peak = self._peak
        previous = self._valley
        self._valley, self._peak = valley, None
        if peak is None:
            return []
        edge = previous is None
        if previous is None:
            previous = self._valley_before_first(peak)
            if previous is None:
                return []
        if self.params.kind == "alternating":
            return self._alternating(previous, peak, valley, edge)
        return self._rep(previous, peak, valley)

    def _valley_before_first(self, peak: int) -> int | None:
        s = self.signal
        lo = max(0, peak - self.params.max_len)
        at = min(range(lo, peak + 1), key=s.__getitem__)
        if s[peak] - s[at] < self.params.prominence:
            self.rejected.append(Rejection(0, peak, "partial repetition: the track starts inside it"))
            return None
        return at

    def _rep(self, v0: int, peak: int, v1: int) -> list[Cycle]:
        s = self.signal
        start = _last_at_or_below(s, peak, v0, s[v0] + TRIM * (s[peak] - s[v0]))
        end = _first_at_or_below(s, peak, v1, s[v1] + TRIM * (s[peak] - s[v1]))
        p = self.params
        if v1 - v0 < p.min_len:
            self.rejected.append(Rejection(start, end, f"shorter than the {p.min_len}-frame minimum cycle"))
            return []
        if end - start > p.max_len:
            self.rejected.append(Rejection(start, end, f"longer than the {p.max_len}-frame maximum cycle"))
            return []
        if not self._passes(start, end, min(s[peak] - s[v0], s[peak] - s[v1])):
            return []
        phases = (Phase("descent", start, peak), Phase("ascent", peak, end))
        return [Cycle(start, end, peak, "rep", phases, valley_before=v0, valley_after=v1)]

    # ---------------------------------------------------------------------------------- safeguards
    def _passes(self, start: int, end: int, amplitude: float) -> bool:
        """Whether a candidate of the right length is counted (module docstring); if not, say why."""
        posture = _median_finite([c.posture for c in self.cues[start : end + 1]])
        reason = (
            self._amplitude_reason(amplitude)
            or self._seen_reason(start, end)
            or self._sides_reason(start, end)
            or self._posture_reason(posture)
        )
        self._amplitudes.append(amplitude)
        if reason is not None:
            self.rejected.append(Rejection(start, end, reason))
            return False
        if posture is not None:
            self._postures.append(posture)
        return True

    def _amplitude_reason(self, amplitude: float) -> str | None:
        p = self.params
        recent = self._amplitudes[-HISTORY:]
        if len(recent) >= 2 and p.min_amplitude_ratio > 0:
            typical, ratio, what = statistics.median(recent), p.min_amplitude_ratio, "the set's typical"
        elif p.reference_amplitude is not None and p.min_reference_ratio > 0:
            typical, ratio, what = p.reference_amplitude, p.min_reference_ratio, "the reference cycle's"
        else:
            return None
        if amplitude >= ratio * typical:
            return None
        return f"amplitude {math.degrees(amplitude):.0f}° is under {ratio:.0%} of {what} {math.degrees(typical):.0f}°"

    def _seen_reason(self, start: int, end: int) -> str | None:
        p = self.params
        if p.min_seen_fraction <= 0:
            return None
        share = sum(c.seen for c in self.cues[start : end + 1]) / (end - start + 1)
        if share >= p.min_seen_fraction:
            return None
        return f"the movement was seen in only {share:.0%} of its frames (lost or low-confidence)"

    def _sides_reason(self, start: int, end: int) -> str | None:
        if not self.params.sides_together:
            return None
        r = _pearson([c.sides for c in self.cues[start : end + 1]])
        if r is None or r >= 0:
            return None
        return f"the two sides moved in opposition (correlation {r:.2f}), not together as in this exercise"

    def _posture_reason(self, here: float | None) -> str | None:
        """Refuse a candidate far from the counted reps' agreed posture; three refused in a row that agree with
        one another become the working posture (the third is counted)."""
        p = self.params
        recent = self._postures[-POSTURE_AGREE:]
        if p.max_posture_change is None or here is None or len(recent) < POSTURE_AGREE:
            return None
        typical = statistics.median(recent)
        if any(abs(x - typical) > p.max_posture_change for x in recent) or abs(here - typical) <= p.max_posture_change:
            self._off_posture.clear()
            return None
        self._off_posture.append(here)
        run = self._off_posture[-POSTURE_AGREE:]
        if len(run) == POSTURE_AGREE and all(abs(x - statistics.median(run)) <= p.max_posture_change for x in run):
            self._postures.extend(run[:-1])  # the set's posture is this one: the third is counted
            self._off_posture.clear()
            return None
        return (
            f"the trunk was inclined {math.degrees(here):.0f}° from vertical, against "
            f"{math.degrees(typical):.0f}° in the reps counted before it"
        )

    # --------------------------------------------------------------------------------- alternating
    def _alternating(self, v0: int, peak: int, v1: int, edge: bool) -> list[Cycle]:
        s = self.signal
        down_level = 0.5 * (s[peak] + s[v1])
        # Before the first confirmed valley the track may start anywhere; the falling half gives the level.
        up_level = down_level if edge else 0.5 * (s[v0] + s[peak])
        up = _first_at_or_above(s, v0, peak, up_level)
        down = _first_at_or_below(s, peak, v1, down_level)
        out: list[Cycle] = []
        if self._alt_start is not None and self._alt_down is not None and self._alt_peak is not None:
            out = self._alt_cycle(self._alt_start, self._alt_peak, self._alt_down, up - 1)
        self._alt_start, self._alt_peak, self._alt_down = up, peak, down
        return out

    def _alt_cycle(self, start: int, peak: int, down: int, end: int) -> list[Cycle]:
        p = self.params
        if not p.min_len <= end - start + 1 <= p.max_len:
            self.rejected.append(
                Rejection(start, end, f"cycle of {end - start + 1} frames is outside [{p.min_len}, {p.max_len}]")
            )
            return []
        if not self._passes(start, end, self.signal[peak] - min(self.signal[start : end + 1])):
            return []
        phases = (Phase("right", start, down - 1), Phase("left", down, end))
        self._alt_last_len = end - start + 1
        return [Cycle(start, end, peak, "alternating", phases)]

    def finish_alternating(self) -> list[Cycle]:
        """Close the last alternating cycle when the track covers its other-side phase."""
        if self._alt_start is None or self._alt_down is None or self._alt_peak is None:
            return []
        # No next upward crossing: assume the last cycle lasts as long as the one before it (the two sides'
        # phases need not be equally long, so the right phase alone says little).
        if self._alt_last_len is not None:
            end = self._alt_start + self._alt_last_len - 1
        else:
            end = self._alt_down + (self._alt_down - self._alt_start) - 1
        if end >= len(self.signal) or end < self._alt_down:
            self.rejected.append(
                Rejection(self._alt_start, len(self.signal) - 1, "partial cycle: the track ends inside it")
            )
            return []
        return self._alt_cycle(self._alt_start, self._alt_peak, self._alt_down, end)


def _pearson(pairs: list[tuple[float, float]]) -> float | None:
    """Correlation of the two sides over a cycle; None when a side is missing or does not move."""
    n = len(pairs)
    if n < 3 or any(math.isnan(a) or math.isnan(b) for a, b in pairs):
        return None
    ma = math.fsum(a for a, _ in pairs) / n
    mb = math.fsum(b for _, b in pairs) / n
    sab = math.fsum((a - ma) * (b - mb) for a, b in pairs)
    saa = math.fsum((a - ma) ** 2 for a, _ in pairs)
    sbb = math.fsum((b - mb) ** 2 for _, b in pairs)
    if saa <= 0 or sbb <= 0:
        return None
    return sab / math.sqrt(saa * sbb)


def _median_finite(values: list[float]) -> float | None:
    finite = [v for v in values if math.isfinite(v)]
    return statistics.median(finite) if finite else None


def _last_at_or_below(s: list[float], frm: int, stop: int, level: float) -> int:
    """Walking back from ``frm`` towards ``stop``, the first index whose value is <= level."""
    for j in range(frm, stop - 1, -1):
        if s[j] <= level:
            return j
    return stop


def _first_at_or_below(s: list[float], frm: int, stop: int, level: float) -> int:
    for j in range(frm, stop + 1):
        if s[j] <= level:
            return j
    return stop


def _first_at_or_above(s: list[float], frm: int, stop: int, level: float) -> int:
    for j in range(frm, stop + 1):
        if s[j] >= level:
            return j
    return stop


@dataclass
class _HoldState:
    """Static holds: rolling std of the signal over ``hold_window`` frames under ``hold_threshold``."""

    params: CycleParams
    seg_start: int | None = None  # first frame of the current still segment
    chunk_start: int | None = None
    last_end: int = -1

    def push(self, i: int, s: list[float]) -> list[Cycle]:
        w = self.params.hold_window
        if i + 1 < w:
            return []
        still = rolling_std(s, i - w + 1, w) < self.params.hold_threshold
        if still and self.seg_start is None:
            self.seg_start = self.chunk_start = max(i - w + 1, self.last_end + 1)
            return []
        if still:
            assert self.chunk_start is not None
            if i - self.chunk_start + 1 >= self.params.hold_chunk:
                return [self._emit(self.chunk_start, i, next_start=i + 1)]
            return []
        return self._end_segment(i - 1)

    def finish(self, s: list[float]) -> list[Cycle]:
        return self._end_segment(len(s) - 1)

    def _end_segment(self, last: int) -> list[Cycle]:
        out: list[Cycle] = []
        if self.chunk_start is not None and last - self.chunk_start + 1 >= self.params.hold_min:
            out.append(self._emit(self.chunk_start, last, next_start=None))
        self.seg_start = self.chunk_start = None
        return out

    def _emit(self, start: int, end: int, next_start: int | None) -> Cycle:
        self.chunk_start = next_start
        self.last_end = end
        return Cycle(start, end, (start + end) // 2, "hold", (Phase("hold", start, end),))


def rolling_std(s: list[float], start: int, w: int) -> float:
    """Population std of s[start:start+w], summed in index order (the offline path does the same)."""
    total = s[start]
    for k in range(1, w):
        total = total + s[start + k]
    mean = total / w
    d = s[start] - mean
    acc = d * d
    for k in range(1, w):
        d = s[start + k] - mean
        acc = acc + d * d
    return float((acc / w) ** 0.5)
