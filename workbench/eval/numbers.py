"""The numbers check of ``biocoach eval``: does every number a coach states come from what it was shown?

A metric the text metrics miss: "Knee at 84°, target 90°" scores the same METEOR whether the context said
84° or 61°. Every number in a predicted utterance (an angle "84°", a target "90°", a count "10 reps") must
equal, within ``TOLERANCE`` (1, i.e. one degree or one rep), a number stated in the context it was spoken
against: C_motion as the coach saw it (``Evidence.context_motion``; it states the reps completed, "Reps
completed: 4.") — for a C_motion without that line, the count of reps completed by then (``CoachEvent.reps_done``)
is added.

- ``numbers_grounded``: grounded numbers / numbers checked (None when no utterance stated a number);
- ``utterances_all_grounded``: utterances whose numbers are all grounded / utterances checked; an utterance
  without numbers counts as grounded, and how many had none is reported (``n_utterances_without_numbers``);
- utterances without a recorded context (a submission without ``pred_contexts``, an offline review line) are
  not checked and are counted (``n_utterances_without_context``).

Number extraction (``numbers_in``): integers and decimals, signed ("-5°", "−5°"), with or without a unit
stuck to them (°, %, s, m, cm, mm, kg, x); a number inside a word ("SmolLM2", "3D", "2nd") is not one, and
"5-10" / "70–80°" are two numbers (5 and 10). Spelled-out numbers ("five") are not read.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

TOLERANCE = 1.0
CONTEXT_REPS = "Reps completed: {n}"

# a sign only where it cannot be a range's dash (nothing word-like or a digit right before it)
_NUMBER = re.compile(
    r"(?<![\w.])(?P<num>(?:(?<![\d])[-−])?\d+(?:\.\d+)?)(?:°|%|cm|mm|kg|ms|m|s|x)?(?!\w)",
)


def numbers_in(text: str) -> list[float]:
    """The numbers ``text`` states, in order (see the module docstring for what counts)."""
    out = []
    for m in _NUMBER.finditer(text):
        raw = m.group("num").replace("−", "-")
        start = m.start("num")
        if raw.startswith("-") and start > 0 and (text[start - 1].isalnum() or text[start - 1] in ".-–"):
            raw = raw[1:]  # "0.63-2.37": a range's dash, not a sign
        out.append(float(raw))
    return out


def grounding_context(context_motion: str | None, reps_done: int | None) -> str | None:
    """The text an utterance is checked against: C_motion as the coach saw it, and the reps completed when it
    spoke unless that C_motion states its own count (then the coach's view stands)."""
    if context_motion is None and reps_done is None:
        return None
    parts = [context_motion or ""]
    if reps_done is not None and "reps completed:" not in (context_motion or "").lower():
        parts.append(CONTEXT_REPS.format(n=int(reps_done)))
    return "\n".join(p for p in parts if p)


@dataclass(frozen=True)
class UtteranceCheck:
    text: str
    numbers: tuple[float, ...]
    ungrounded: tuple[float, ...]

    @property
    def all_grounded(self) -> bool:
        return not self.ungrounded


def check_utterance(text: str, context: str, tolerance: float = TOLERANCE) -> UtteranceCheck:
    """Which of ``text``'s numbers the context states (within ``tolerance``)."""
    stated = numbers_in(context)
    said = numbers_in(text)
    bad = tuple(x for x in said if not any(abs(x - y) <= tolerance + 1e-9 for y in stated))
    return UtteranceCheck(text, tuple(said), bad)


@dataclass
class NumbersReport:
    n_utterances: int = 0  # with a context, checked
    n_without_numbers: int = 0
    n_without_context: int = 0
    n_numbers: int = 0
    n_grounded: int = 0
    n_utterances_all_grounded: int = 0
    ungrounded: list[dict[str, Any]] = field(default_factory=list)  # {t, text, numbers, context}

    def add(self, text: str, context: str | None, t: float | None = None, tolerance: float = TOLERANCE) -> None:
        if context is None:
            self.n_without_context += 1
            return
        c = check_utterance(text, context, tolerance)
        self.n_utterances += 1
        self.n_numbers += len(c.numbers)
        self.n_grounded += len(c.numbers) - len(c.ungrounded)
        self.n_without_numbers += not c.numbers
        self.n_utterances_all_grounded += c.all_grounded
        if not c.all_grounded:
            self.ungrounded.append({"t": t, "text": text, "numbers": list(c.ungrounded), "context": context})

    def merge(self, others: Iterable[NumbersReport]) -> NumbersReport:
        for o in others:
            self.n_utterances += o.n_utterances
            self.n_without_numbers += o.n_without_numbers
            self.n_without_context += o.n_without_context
            self.n_numbers += o.n_numbers
            self.n_grounded += o.n_grounded
            self.n_utterances_all_grounded += o.n_utterances_all_grounded
            self.ungrounded += o.ungrounded
        return self

    @property
    def numbers_grounded(self) -> float | None:
        return self.n_grounded / self.n_numbers if self.n_numbers else None

    @property
    def utterances_all_grounded(self) -> float | None:
        return self.n_utterances_all_grounded / self.n_utterances if self.n_utterances else None

    def summary(self) -> dict[str, Any]:
        return {
            "numbers_grounded": self.numbers_grounded,
            "utterances_all_grounded": self.utterances_all_grounded,
            "n_numbers_checked": self.n_numbers,
            "n_numbers_grounded": self.n_grounded,
            "n_utterances_checked": self.n_utterances,
            "n_utterances_without_numbers": self.n_without_numbers,
            "n_utterances_without_context": self.n_without_context,
        }


def check_clip(
    texts: Sequence[str], contexts: Sequence[str | None], times: Sequence[float], tolerance: float = TOLERANCE
) -> NumbersReport:
    """One clip's predictions (``contexts`` may be shorter: the missing ones have none)."""
    rep = NumbersReport()
    for j, text in enumerate(texts):
        rep.add(text, contexts[j] if j < len(contexts) else None, times[j] if j < len(times) else None, tolerance)
    return rep
