"""The rule-based coach: feedback sentences straight from violations and counts (supplement §6 style).

``RuleCoach`` implements the ``Coach`` protocol (``workbench.coach.coaching``) and runs in the streaming loop
(``workbench.coach.loop``) like the neural coach. It is the evaluation's baseline and the text generator of
the synthetic coaching sessions. At a decision step it says, in this order of priority:

- instructional, at the first step: "Let's do bodyweight squats! Sit deeper at the bottom, and push the knees
  out over the toes." (from the exercise's own cues);
- corrective, when a rep completed with violations: the worst one first, quantified as in the supplement
  ("Right knee flexion 75° (target: 90°). Increase knee flexion by 15° at the bottom: sit deeper at the
  bottom."). A coach does not repeat one line every rep: when the same check fails on consecutive reps the
  coach rotates to the rep's next violation, or escalates (shorter, more insistent phrasings that still carry
  the joint and the numbers), and from the fourth consecutive time on speaks about it every other rep only;
- motivational, when a clean rep follows a corrected one ("That's better, keep it up!") and after every fifth
  clean rep in a row ("Great depth, keep it up!");
- counting, every fifth rep when nothing else is due ("That's 5!"; not in holds, whose "reps" are windows of
  the hold), and every 10 s of a static hold
  ("10 seconds, hold it there!").

Phrasings are chosen with a ``random.Random`` seeded from the coach's seed and the exercise, so a session is
reproducible. Token counts (which drive the simulated speech time) come from the packaged language model's
tokenizer when its files are on disk (``tokenizer.json`` of the cached SmolLM2 copy, read with ``tokenizers``:
no torch), else ceil(words × 1.3); pass ``tokens=word_tokens`` to pin the fallback.

Two functions for the evaluation's QEVD-bio-fit-coach builder:

- ``feedback_at(session_or_analysis, t_s, catalogue=…) -> str | None``: the corrective/instructional sentence a
  coach would say at time t: the rule coach's first-level sentence for the worst violation of the most recent completed
  rep (end ≤ t) that has violations, else the exercise's instructional cue, else None. Accepts an
  ``Analysis``, its JSON dict (``biocoach.analysis/1``), or a ``CoachingSession`` with a pose track (analysed
  offline first; pass ``analysis=`` to reuse one). The exercises come from the ``catalogue`` the caller passes
  (the store's or the YAML one); without one the sentences carry no key frame or cue and there is no opening.

``review_reps(reps, exercise)`` is the rule coach's offline review of a whole clip: one corrective line per
flawed rep, at its end. It is the feedback of ``biocoach analyze`` (the default when the caller chose no
streaming coach).
- ``classify_utterance(text) -> UtteranceKind``: corrective / instructional / motivational / counting by
  keyword and pattern rules, covering QEVD-style phrases ("Nice job!", "Keep going", "That's 10", "Go lower",
  "Keep your back straight", "5 more reps").
"""

from __future__ import annotations

import logging
import math
import random
import re
import zlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

from tokenizers import Tokenizer

from workbench.coach.coaching import DecisionInput, Evidence, Utterance, UtteranceKind
from workbench.coach.sessions import CoachingSession
from workbench.errors import UnknownExerciseError
from workbench.exercises.catalogue import Catalogue, Exercise
from workbench.llm.models import cached_tokenizer_file
from workbench.motion.analysis import analyze
from workbench.motion.results import Analysis, FeedbackEvent, Rep, Violation
from workbench.pose.track import PoseTrack
from workbench.skeleton import DOF_NAMES, dof

COUNT_EVERY = 5  # reps between counting lines
# clean reps in a row between motivational lines (praising every third, it spoke after over half the clean reps)
PRAISE_EVERY = 5
HOLD_CHECK_S = 10.0  # seconds between time checks in a static hold
MAX_STREAK_EVERY_REP = 3  # a check corrected this many reps in a row is then mentioned every other rep
ROTATE_MIN_FRACTION = 0.5  # rotate to another issue only when it is at least this share of the repeated one

TokenCounter = Callable[[str], int]

log = logging.getLogger(__name__)


# ------------------------------------------------------------------------------------------- tokens


def word_tokens(text: str) -> int:
    """The cheap estimate: ceil(words × 1.3) (English BPE averages about 1.3 tokens a word)."""
    return max(1, math.ceil(len(text.split()) * 1.3))


@cache
def packaged_tokenizer_counter() -> TokenCounter | None:
    """Token counts with the packaged LM's tokenizer, read from its cached ``tokenizer.json`` (no torch);
    None when the cached copy has not been written yet (the first ``load_causal_lm()`` writes it)."""
    file = Path(cached_tokenizer_file())
    if not file.is_file():
        return None
    try:
        tok = Tokenizer.from_file(str(file))
    except (OSError, ValueError, RuntimeError) as exc:  # a broken cache must not stop a rule-based coach
        log.warning("%s: unreadable tokenizer (%s); token counts estimated from words", file, exc)
        return None

    def count(text: str) -> int:
        return max(1, len(tok.encode(text, add_special_tokens=False).ids))

    return count


def token_counter(tokens: str | TokenCounter = "auto") -> TokenCounter:
    """``"auto"``: the packaged tokenizer when available, else ``word_tokens``; ``"words"``; or a callable."""
    if callable(tokens):
        return tokens
    if tokens == "auto":
        return packaged_tokenizer_counter() or word_tokens
    if tokens == "words":
        return word_tokens
    raise ValueError(f"tokens: expected 'auto', 'words' or a callable, got {tokens!r}")


# ---------------------------------------------------------------------------------------- sentences


def _cap(text: str) -> str:
    return text[:1].upper() + text[1:]


def dof_label(name: str) -> str:
    """'knee_angle_r' → 'right knee flexion' (the skeleton's human-readable label)."""
    return dof(name).label if name in DOF_NAMES else name.replace("_", " ")


def _generic(label: str) -> str:
    """'right knee flexion' → 'knee flexion' (the side is said once, in the measurement)."""
    for side in ("right ", "left "):
        if label.startswith(side):
            return label[len(side) :]
    return label


def _where(v: Violation, key_frame: str | None) -> str:
    if key_frame:
        return f"at the {key_frame.replace('_', ' ')}"
    return f"in the {v.phase} phase" if v.phase else "through the movement"


def _bounds_text(v: Violation) -> str:
    lo, hi = v.bounds_deg
    if lo is not None and hi is not None:
        return f"{lo:.0f}–{hi:.0f}°"
    return f"{v.target_deg:.0f}°"


def _deg(x: float, other: float | None = None) -> str:
    """Whole degrees, as a coach says them; a decimal where whole degrees would hide the point (85.4° against a
    target of 85°, or a deviation under 1°)."""
    if (other is not None and round(x) == round(other) and abs(x - other) >= 0.05) or (other is None and abs(x) < 1):
        return f"{x:.1f}°"
    return f"{x:.0f}°"


def worst_first(violations: Sequence[Violation]) -> list[Violation]:
    """Largest deviation first; ties broken by check id, so the order never depends on evaluation order."""
    return sorted(violations, key=lambda v: (-v.deviation_deg, v.check))


def corrective_text(v: Violation, level: int = 0, key_frame: str | None = None, variant: int = 0) -> str:
    """The quantified line for one violation. Level 0 is the supplement's form; 1 and 2 are the shorter,
    more insistent lines of a repeated correction. Every level names the joint and the value and target."""
    label = dof_label(v.dof)
    what, cue = _cap(label), (v.cue.strip().rstrip(".") if v.cue else "")
    value, target, dev = _deg(v.value_deg, v.target_deg), _deg(v.target_deg, v.value_deg), _deg(v.deviation_deg)
    low = v.value_deg < v.target_deg
    if v.type == "stability":
        head = f"{what} variance {value} (target: < {target})."
        fix = f"Keep the {_generic(label)} steady" + (f": {cue}." if cue else ".")
        short = [
            f"Still {value} of {_generic(label)} wobble, under {target} please",
            f"Steady the {label}: {value}, keep it under {target}",
        ]
    elif v.type == "symmetry":
        head = f"{what} {value} apart from the other side (target: < {target})."
        fix = "Move both sides together" + (f": {cue}." if cue else ".")
        short = [
            f"Even it out: {label} {value} off the other side, keep within {target}",
            f"Still {value} between the sides at the {_generic(label)}, aim under {target}",
        ]
    else:
        target_text = _bounds_text(v) if v.type == "posture" else target
        verb = "Increase" if low else "Reduce"
        head = f"{what} {value} (target: {target_text})."
        fix = f"{verb} {_generic(label)} by {dev} {_where(v, key_frame)}" + (f": {cue}." if cue else ".")
        short = [
            f"Still {label} {value}, aim for {target}" + (f": {cue}" if cue else ""),
            f"{label} only {value}, the target is {target}" if low else f"{label} {value}, keep it to {target}",
        ]
    if level <= 0:
        return f"{head} {fix}"
    if level == 1:
        return _cap(short[variant % 2]) + "."
    urgent = _cap(cue) + "!" if cue else "Watch your form!"
    return f"{urgent} {_cap(label)} {value}, target {target}."


def _plural(ex: Exercise) -> str:
    name = re.sub(r"\s*\(.*?\)", "", ex.name).strip().lower()
    if name.endswith("feet"):
        return name
    if ex.cycle.kind == "static_hold" or name.endswith(("s", "stretch")):
        return f"a {name}" if not name.endswith("s") else name
    return name + "s"


def instruction_text(ex: Exercise) -> str:
    """The opening line: the exercise and its two leading cues."""
    cues: list[str] = []
    for c in ex.constraints:
        for cue in (c.cue_low, c.cue_high):
            cue = cue.strip().rstrip(".")
            if cue and cue not in cues:
                cues.append(cue)
    verb = "hold" if ex.cycle.kind == "static_hold" else "do"
    opening = f"Let's {verb} {_plural(ex)}!"
    if not cues:
        return opening
    return f"{opening} {_cap(cues[0])}" + (f", and {cues[1]}." if len(cues) > 1 else ".")


MOTIVATION = (
    "Great form, keep it up!",
    "Nice and controlled, keep going!",
    "Looking strong, keep it up!",
    "Good rhythm, keep going!",
)
DEPTH_MOTIVATION = ("Great depth, keep it up!", "Nice and deep, keep going!")
BETTER = ("That's better, keep it up!", "Much better, nice job!", "Yes, that's it!")
COUNTS = ("That's {n}!", "{n} reps, keep going!", "That's {n}, nice work!")
HOLD_CHECKS = ("{s} seconds, hold it there!", "{s} seconds, keep holding!", "{s} seconds, stay strong!")


# ---------------------------------------------------------------------------------------- the coach


@dataclass
class _State:
    exercise: Exercise | None = None
    context_morph: str = ""
    rng: random.Random = field(default_factory=random.Random)
    introduced: bool = False
    last_check: str | None = None  # check (mirrored copies merged) corrected at the last corrective line
    last_rep: int | None = None  # rep of the last corrective line
    times: dict[str, int] = field(default_factory=dict)  # corrections per check in this run of flawed reps
    corrected_last_rep: bool = False  # whether the most recent rep had a correction due
    clean_run: int = 0  # clean reps in a row
    hold_start_s: float | None = None
    hold_checks: int = 0


class RuleCoach:
    """Deterministic, violation-grounded coaching (see the module docstring)."""

    def __init__(self, seed: int = 0, tokens: str | TokenCounter = "auto"):
        self.seed = seed
        self.count_tokens = token_counter(tokens)
        self.state = _State()

    @property
    def name(self) -> str:
        return "rule"

    def reset(self, exercise: Exercise, context_morph: str) -> None:
        """A new session on ``exercise`` as resolved by the caller: its cues, key frames and checks are the
        store's current ones."""
        rng = random.Random(zlib.crc32(f"{self.seed}:{exercise.key}".encode()))
        self.state = _State(exercise=exercise, context_morph=context_morph, rng=rng)

    # ------------------------------------------------------------------------------------ decide
    def decide(self, inp: DecisionInput) -> Utterance | None:
        st = self.state
        if st.exercise is None or st.exercise.key != inp.exercise:
            raise RuntimeError(
                f"RuleCoach.decide: reset the coach with the {inp.exercise!r} exercise first "
                f"(it was reset with {None if st.exercise is None else st.exercise.key!r})"
            )
        if not st.introduced:
            st.introduced = True
            return self._say(instruction_text(st.exercise), "instructional", inp)
        flawed = [r for r in inp.new_reps if r.violations]
        if flawed:
            said = self._correct(flawed[-1], inp)
            if said is not None:
                return said
        elif inp.new_reps:
            said = self._clean(inp)
            if said is not None:
                return said
        return self._hold_check(inp)

    def _correct(self, rep: Rep, inp: DecisionInput) -> Utterance | None:
        st = self.state
        ranked = worst_first(rep.violations)
        consecutive = st.last_rep is not None and rep.index - st.last_rep == 1
        if not consecutive:
            st.times.clear()
        pick = ranked[0]
        if consecutive and _base(pick.check) == st.last_check:
            # rotate to another issue of this rep, unless it is much smaller than the one just corrected
            others = [v for v in ranked if _base(v.check) != st.last_check]
            if others and others[0].deviation_deg >= ROTATE_MIN_FRACTION * pick.deviation_deg:
                pick = others[0]
        check = _base(pick.check)
        st.times[check] = times = st.times.get(check, 0) + 1
        st.corrected_last_rep, st.clean_run = True, 0
        st.last_check, st.last_rep = check, rep.index
        if times > MAX_STREAK_EVERY_REP and times % 2 == 0:
            return None  # let them work on it: every other rep from here on
        key_frame = key_frame_of(st.exercise, pick.check)
        text = corrective_text(pick, level=min(times - 1, 2), key_frame=key_frame, variant=st.rng.randrange(2))
        ordered = (pick, *[v for v in ranked if v is not pick])
        return self._say(text, "corrective", inp, violations=ordered, rep=rep.index)

    def _clean(self, inp: DecisionInput) -> Utterance | None:
        st = self.state
        n = len(inp.reps)
        rep = inp.new_reps[-1].index
        st.clean_run += len(inp.new_reps)
        st.times.clear()
        if st.corrected_last_rep:
            st.corrected_last_rep = False
            st.last_check = None
            return self._say(st.rng.choice(BETTER), "motivational", inp, rep=rep)
        if n % COUNT_EVERY == 0 and st.exercise is not None and st.exercise.cycle.kind != "static_hold":
            return self._say(st.rng.choice(COUNTS).format(n=n), "counting", inp, rep=rep)
        if st.clean_run >= PRAISE_EVERY:
            st.clean_run = 0
            lines = DEPTH_MOTIVATION if _has_depth_check(st.exercise) else MOTIVATION
            return self._say(st.rng.choice(lines), "motivational", inp, rep=rep)
        return None

    def _hold_check(self, inp: DecisionInput) -> Utterance | None:
        st = self.state
        if st.exercise is None or st.exercise.cycle.kind != "static_hold":
            return None
        if inp.phase != "hold":
            st.hold_start_s, st.hold_checks = None, 0
            return None
        if st.hold_start_s is None:
            st.hold_start_s = inp.t_s
        held = inp.t_s - st.hold_start_s
        if held < HOLD_CHECK_S * (st.hold_checks + 1):
            return None
        st.hold_checks = int(held // HOLD_CHECK_S)
        seconds = int(st.hold_checks * HOLD_CHECK_S)
        return self._say(st.rng.choice(HOLD_CHECKS).format(s=seconds), "counting", inp)

    def _say(
        self,
        text: str,
        kind: UtteranceKind,
        inp: DecisionInput,
        violations: Sequence[Violation] = (),
        rep: int | None = None,
    ) -> Utterance:
        if rep is None and inp.reps:
            rep = inp.reps[-1].index
        evidence = Evidence(violations=tuple(violations), rep=rep, phase=inp.phase, context_motion=inp.context_motion)
        return Utterance(text=text, n_tokens=self.count_tokens(text), kind=kind, evidence=evidence)


def _base(check: str) -> str:
    """'knee_depth@knee_angle_l' → 'knee_depth': a mirrored copy is the same issue for a coach."""
    return check.split("@", 1)[0]


def key_frame_of(ex: Exercise | None, check: str) -> str | None:
    if ex is None:
        return None
    for c in ex.constraints:
        if c.id in (check, _base(check)):
            return c.key_frame
    return None


def _has_depth_check(ex: Exercise | None) -> bool:
    return ex is not None and any("depth" in c.id for c in ex.constraints)


# ------------------------------------------------------------------------------ evaluation helpers


def feedback_at(
    session_or_analysis: Analysis | dict[str, Any] | CoachingSession,
    t_s: float,
    *,
    analysis: Analysis | None = None,
    catalogue: Catalogue | None = None,
) -> str | None:
    """The corrective/instructional sentence a coach would say at ``t_s`` (see the module docstring)."""
    source: Any = session_or_analysis
    if isinstance(source, CoachingSession):
        if analysis is None:
            if source.track is None:
                return _instruction_or_none(_lookup(catalogue, source.exercise))
            analysis = _session_analysis(source.track, source.exercise, catalogue)
        source = analysis
    if isinstance(source, Analysis):
        key, reps = source.exercise, [(r.end_s, list(r.violations)) for r in source.reps]
    elif isinstance(source, dict):
        key = str(source["exercise"])
        cues = _cues(_lookup(catalogue, key))
        reps = [
            (float(r["end_s"]), [_violation_from_json(v, int(r["index"]), cues) for v in r["violations"]])
            for r in source.get("reps", [])
        ]
    else:
        raise TypeError(f"feedback_at: expected an Analysis, its JSON dict or a CoachingSession, got {type(source)}")
    done = [vs for end, vs in reps if end <= t_s + 1e-9 and vs]
    ex = _lookup(catalogue, key)
    if not done:
        return _instruction_or_none(ex)
    worst = worst_first(done[-1])[0]
    return corrective_text(worst, level=0, key_frame=key_frame_of(ex, worst.check))


def _lookup(catalogue: Catalogue | None, key: str) -> Exercise | None:
    """The exercise in the caller's catalogue; None without one, or for an exercise outside it (its sentences
    then carry no key frame or cue, and there is no opening line)."""
    if catalogue is None:
        return None
    try:
        return catalogue.get(key)
    except UnknownExerciseError:
        return None


_ANALYSES: list[tuple[PoseTrack, str, Analysis]] = []  # the last few sessions' analyses (a builder asks many t)


def _session_analysis(track: PoseTrack, exercise: str, catalogue: Catalogue | None) -> Analysis:
    # identity, not id(): the list holds the track, so it cannot be collected and its id reused
    for cached_track, key, result in _ANALYSES:
        if cached_track is track and key == exercise:
            return result
    result = analyze(track, exercise, catalogue=catalogue)
    _ANALYSES.insert(0, (track, exercise, result))
    del _ANALYSES[8:]
    return result


def _instruction_or_none(ex: Exercise | None) -> str | None:
    return None if ex is None else instruction_text(ex)


def _cues(ex: Exercise | None) -> dict[str, tuple[str, str]]:
    """check id → (cue when too low, cue when too high): the analysis JSON does not carry the cue."""
    return {} if ex is None else {c.id: (c.cue_low, c.cue_high) for c in ex.constraints}


def review_reps(reps: Sequence[Rep], ex: Exercise | None = None) -> list[FeedbackEvent]:
    """The rule coach's offline review of a clip: one corrective line per flawed rep, at its end, from its
    largest violation (``biocoach analyze``'s feedback)."""
    events = []
    for rep in reps:
        if not rep.violations:
            continue
        ranked = worst_first(rep.violations)
        worst = ranked[0]
        text = corrective_text(worst, key_frame=key_frame_of(ex, worst.check))
        evidence = Evidence(violations=tuple(ranked), rep=rep.index, phase=worst.phase)
        events.append(
            FeedbackEvent(
                t_s=rep.end_s,
                text=text,
                evidence=[f"rep {rep.index}: {worst.check}"],
                kind="corrective",
                details=evidence.to_json(),
            )
        )
    return events


def _violation_from_json(v: dict[str, Any], rep: int, cues: dict[str, tuple[str, str]]) -> Violation:
    lo, hi = v.get("bounds_deg", [None, None])
    low, high = cues.get(str(v["check"]), ("", ""))
    cue = v.get("cue") or (low if float(v["value_deg"]) < float(v["target_deg"]) else high)
    return Violation(
        rep=int(v.get("rep", rep)),
        check=str(v["check"]),
        joint=str(v.get("joint", "")),
        dof=str(v["dof"]),
        type=str(v["type"]),
        value_deg=float(v["value_deg"]),
        target_deg=float(v["target_deg"]),
        bounds_deg=(lo, hi),
        deviation_deg=float(v["deviation_deg"]),
        message=str(v.get("message", "")),
        cue=str(cue),
        phase=str(v.get("phase", "")),
        t_s=float(v.get("t_s", 0.0)),
        source=str(v.get("source", "")),
    )


_NUM = r"(\d+|one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|fifteen|twenty|thirty)"
_COUNTING = [
    rf"\bthat'?s\s+{_NUM}\b",
    rf"\bthat\s+is\s+{_NUM}\b",
    rf"\b{_NUM}\s+(more|to\s+go|left|down|reps?|times?)\b",
    rf"^\W*{_NUM}\W*$",
    r"\b(last|final)\s+(one|rep|few)\b",
    r"\bone\s+more\b",
    r"\bhalf\s*way\b",
    rf"\b{_NUM}\s+seconds?\b",
    rf"\brep(etition)?s?\s+{_NUM}\b",
    r"\bcount\b",
]
_CORRECTIVE = [
    r"\d+\s*°",
    r"\btarget\b",
    r"\b(increase|decrease|reduce)\b",
    r"\b(go|get|sit|squat|bend)\s+(lower|deeper)\b",
    r"\blower\s+(your|the)\b",
    r"\bdeeper\b",
    r"\bdon'?t\b",
    r"\bdo\s+not\b",
    r"\bavoid\b",
    r"\bstraight(en)?\b",
    r"\btoo\s+(much|far|fast|high|low|wide|narrow|deep|early)\b",
    r"\bkeep\s+(your|the)\s+(back|chest|knees?|hips?|"
    r"elbows?|arms?|core|spine|head|shoulders?|legs?|feet|heels?|body|torso|neck|wrists?)\b",
    r"\b(engage|tighten|brace|squeeze)\b",
    r"\b(knees?|elbows?|hips?|back|spine|chest|shoulders?|heels?|core|torso)\s+"
    r"(up|down|out|in|back|forward|straight|tight|level|aligned)\b",
    r"\bmake\s+sure\b",
    r"\btry\s+to\b",
    r"\b(watch|careful|focus\s+on|fix)\b",
    r"\b(higher|lower|wider|further|fully|all\s+the\s+way)\b",
    r"\b(lean(ing)?|arch(ing)?|sag(ging)?|cav(e|ing))\b",
    r"\bnot\s+(so|too)\b",
]
_INSTRUCTIONAL = [
    r"\blet'?s\b(?!\s+go\b)",
    r"\b(start|begin|starting|beginning)\b",
    r"\bnext\b",
    r"\b(we'?re|we\s+are)\s+going\s+to\b",
    r"\bget\s+(into|in|ready)\b",
    r"\bposition\b",
    r"\bstand\s+(with|tall|up)\b",
    r"\bready\b",
    r"\bswitch\b",
    r"\bshoulder[- ]width\b",
    r"\b(breathe|inhale|exhale)\b",
    r"\bfirst\b",
    r"\bthen\b",
    r"\bnow\b",
    r"\b(hold|stay)\s+(it|there|the|this)\b",
]
_MOTIVATIONAL = [
    r"\b(nice|good|great|awesome|amazing|excellent|perfect|beautiful|fantastic|brilliant|super|well\s+done)\b",
    r"\bkeep\s+(it\s+up|going|moving|pushing|that\s+up|at\s+it)\b",
    r"\byou'?(ve)?\s+got\s+(this|it)\b",
    r"\b(come\s+on|let'?s\s+go|push\s+(it|through|harder)|almost\s+(there|done)|strong|love\s+(it|that)|way\s+to\s+go|yes|yeah|woo+)\b",
    r"\b(better|much\s+better)\b",
    r"\b(proud|crushing|killing)\b",
]
_PATTERNS = {
    "counting": _COUNTING,
    "corrective": _CORRECTIVE,
    "instructional": _INSTRUCTIONAL,
    "motivational": _MOTIVATIONAL,
}
_RULES = {k: [re.compile(p, re.IGNORECASE) for p in ps] for k, ps in _PATTERNS.items()}


def classify_utterance(text: str) -> UtteranceKind:
    """corrective / instructional / motivational / counting, by keyword and pattern rules.

    Quantified lines (degrees, "target") are corrective; a number of reps or seconds makes a line counting
    unless it also corrects; otherwise the category with the most matching patterns wins, ties going to
    corrective, then instructional, then motivational. A line matching nothing: short exclamations are
    motivational, anything else instructional.
    """
    hits = {k: sum(bool(p.search(text)) for p in ps) for k, ps in _RULES.items()}
    if re.match(r"\W*let'?s\b(?!\s+go\b)", text, re.IGNORECASE):
        return "instructional"  # "Let's do squats! Sit deep…": an opening, whatever cues it names
    if re.search(r"\d+\s*°|\btarget\b", text, re.IGNORECASE):
        return "corrective"
    if hits["counting"] and hits["corrective"] <= hits["counting"]:
        return "counting"
    order: list[UtteranceKind] = ["corrective", "instructional", "motivational"]
    best = max(order, key=lambda k: (hits[k], -order.index(k)))
    if hits[best]:
        return best
    return "motivational" if text.strip().endswith("!") and len(text.split()) <= 5 else "instructional"
