"""QEVD-bio-fit-coach builder (BioCoach supplement §6): the same data, corrective lines made biomechanical.

Every utterance of every single-exercise segment is classified (corrective / instructional / motivational /
counting). Corrective and instructional ones are replaced by the motion-context feedback at the same time
stamp — what the motion analysis of the session's pose track finds wrong at that moment, in a coach's words;
motivational and counting lines, transitions and every
time stamp stay as they are. A line with no violation to report, or no pose track, keeps its text and the report
says why. The output is a split folder in the same format (the JSON's per-frame strings rewritten, the videos,
time stamps and pose sidecars copied) plus ``bio_rewrite_report.json``.

``feedback_fn(session, t_s) -> str | None`` supplies the replacement; by default
``workbench.coach.rule_coach.feedback_at``; the classifier ``workbench.coach.rule_coach.classify_utterance``.
(:func:`motion_feedback_at` and :func:`classify_utterance` here are the stricter variants a caller may pass:
no line before the first rep, and QEVD-fit-coach's own labels for posture cues.)
"""

from __future__ import annotations

import functools
import hashlib
import json
import re
import shutil
import warnings
from collections import Counter
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from workbench.coach.rule_coach import classify_utterance as rule_classifier
from workbench.coach.rule_coach import feedback_at
from workbench.coach.sessions import CoachingSession
from workbench.data.qevd import QevdFormatError, QevdWarning, collapse, read_records, segments, slice_track
from workbench.errors import WorkbenchError
from workbench.exercises import load_catalogue
from workbench.exercises.catalogue import Catalogue
from workbench.motion.analysis import analyze
from workbench.pose.posefile import load_npz
from workbench.pose.track import PoseTrack
from workbench.skeleton import dof

FeedbackFn = Callable[[CoachingSession, float], "str | None"]
Classifier = Callable[[str], str]
REPORT_FILE = "bio_rewrite_report.json"
MOTION_WINDOW_S = 3.0  # the paper's motion history (τ = 12 steps at 4 Hz)
REWRITTEN_KINDS = ("corrective", "instructional")

_NUMBER_WORDS = "one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|fifteen|twenty|thirty|last|final|half"
_COUNTING = re.compile(
    rf"^\W*(\d+|{_NUMBER_WORDS})\b[\w\s]{{0,20}}$|\b(\d+|{_NUMBER_WORDS})\s+(more|to go|left|reps?|seconds?|"
    rf"times?)\b|\b(rep|reps|count|counting|halfway)\b|^\W*(\d+|{_NUMBER_WORDS})\W*$",
    re.IGNORECASE,
)
_MOTIVATIONAL = re.compile(
    r"\b(good|great|nice|awesome|amazing|excellent|perfect|well done|keep it up|keep going|you got this|you can|"
    r"let'?s go|come on|almost there|way to go|love it|fantastic|beautiful|strong|push through|don'?t give up|"
    r"proud|crushing|killing it|looking good|that'?s it|yes|woo+|wow|relaxed)\b",
    re.IGNORECASE,
)
_CORRECTIVE = re.compile(
    r"\b(don'?t|do not|avoid|stop|too|more|less|lower|higher|deeper|straighten|straight|bend|tuck|lift|raise|drop|"
    r"fix|careful|watch|make sure|instead|not|further|wider|narrower|all the way|full range|sagging|arch|"
    r"faster|slower|slow down|speed up)\b",
    re.IGNORECASE,
)
_BODY = re.compile(
    r"\b(knees?|hips?|back|spine|chest|shoulders?|elbows?|arms?|legs?|feet|foot|heels?|toes?|core|head|neck|"
    r"butt|glutes?|torso|hands?|wrists?|ankles?|thighs?|body|posture|form|chin|bottom)\b",
    re.IGNORECASE,
)


def classify_utterance(text: str) -> str:
    """corrective / instructional / motivational / counting, from the words of a coaching line.

    Counting: numbers of reps or seconds. Corrective: a change asked of the movement ("go lower", "don't let
    your knees cave"). Instructional: how to do it, without a fault ("keep your chest up"). Motivational: praise
    and encouragement without a body part or an instruction in it.
    """
    t = text.strip()
    body, change = bool(_BODY.search(t)), bool(_CORRECTIVE.search(t))
    if _COUNTING.search(t) and not body:
        return "counting"
    if _MOTIVATIONAL.search(t) and not body and not change:
        return "motivational"
    if change and (body or re.search(r"\b(go|get|squat|push|jump|reach|sink|move|kick|pull)\b", t, re.I)):
        return "corrective"
    if body or change:
        return "instructional" if not change else "corrective"
    if re.match(r"^\W*(keep|hold|breathe|stay|try|focus|remember|engage|squeeze|use|look|make)\b", t, re.I):
        return "instructional"
    return "motivational"


def motion_feedback_at(session: CoachingSession, t_s: float) -> str | None:
    """The biomechanical line for time ``t_s`` of a session: the largest violation of the rep under way at that
    moment, else of the last rep completed within the 3 s motion window; None when there is none."""
    analysis = _analysis(session)
    if analysis is None:
        return None
    current = [r for r in analysis.reps if r.start_s <= t_s <= r.end_s]
    recent = [r for r in analysis.reps if r.end_s <= t_s and t_s - r.end_s <= MOTION_WINDOW_S]
    for rep in current + sorted(recent, key=lambda r: -r.end_s):
        if rep.violations:
            return violation_text(max(rep.violations, key=lambda v: v.deviation_deg))
    return None


def violation_text(v: Any) -> str:
    """ "Right knee flexion 52° (target: 90°). Increase it by 38° at the bottom phase." (supplement §6 style)."""
    label = dof(v.dof).label
    label = label[:1].upper() + label[1:]
    if v.type == "stability":
        head = f"{label} variance {v.value_deg:.0f}° (target: < {v.target_deg:.0f}°)."
    elif v.type == "symmetry":
        head = f"{label} {v.value_deg:.0f}° apart from the other side (target: < {v.target_deg:.0f}°)."
    else:
        head = f"{label} {v.value_deg:.0f}° (target: {v.target_deg:.0f}°)."
    if v.type in ("dynamic", "posture"):
        verb = "Increase" if v.value_deg < v.target_deg else "Reduce"
        tail = f"{verb} it by {v.deviation_deg:.0f}°" + (f" at the {v.phase} phase." if v.phase else ".")
    else:
        tail = "Keep it steady through the movement."
    cue = f" {v.cue[:1].upper()}{v.cue[1:]}." if getattr(v, "cue", "") else ""
    return f"{head} {tail}{cue}".replace("..", ".")


# Analyses by content (the exercise and the track's arrays): a rewrite visits each segment's utterances one by
# one and they share the segment's track. Never keyed by id(track): ids are reused once a track is collected.
_ANALYSES: dict[str, Any] = {}
_ANALYSES_MAX = 256


def track_digest(exercise: str, track: PoseTrack) -> str:
    """sha256 of what an analysis of ``track`` as ``exercise`` depends on."""
    h = hashlib.sha256(exercise.encode())
    h.update(repr(track.nominal_fps).encode())
    for array in (track.q, track.t, track.confidence, track.observed, track.dof_confidence):
        if array is None:
            h.update(b"none")
            continue
        a = np.ascontiguousarray(array)
        h.update(f"{a.dtype.str}{a.shape}".encode())
        h.update(a.tobytes())
    return h.hexdigest()


def _analysis(session: CoachingSession) -> Any:
    if session.track is None:
        return None
    key = track_digest(session.exercise, session.track)
    if key not in _ANALYSES:
        if len(_ANALYSES) >= _ANALYSES_MAX:
            _ANALYSES.pop(next(iter(_ANALYSES)))

        try:
            _ANALYSES[key] = analyze(session.track, session.exercise)
        except (WorkbenchError, ValueError):
            _ANALYSES[key] = None
    return _ANALYSES[key]


def default_feedback_fn(catalogue: Catalogue | None = None) -> FeedbackFn:
    """The rule coach's ``feedback_at`` on the exercises of ``catalogue`` (references/ by default)."""
    return functools.partial(feedback_at, catalogue=catalogue or load_catalogue())


def default_classifier() -> Classifier:
    return rule_classifier


@dataclass
class Rewrite:
    video_id: str
    segment: str
    utterance: int  # index among the session's utterances
    t_s: float  # from the segment start
    kind: str
    original: str
    replacement: str | None  # None: kept
    note: str = ""


@dataclass
class BuildReport:
    source: str
    output: str
    feedback_source: str
    classifier: str
    n_utterances: int = 0
    kinds: dict[str, int] = field(default_factory=dict)
    n_rewritten: int = 0
    n_kept_no_context: int = 0
    rewrites: list[Rewrite] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        out = asdict(self)
        out["rewrites"] = [asdict(r) for r in self.rewrites]
        return out


def build_bio(
    split_dir: str | Path,
    out_dir: str | Path,
    *,
    feedback_fn: FeedbackFn | None = None,
    classifier: Classifier | None = None,
) -> BuildReport:
    """Write the QEVD-bio version of a split folder into ``out_dir/<split name>``; returns the report."""
    src = Path(split_dir)
    dst = Path(out_dir) / src.name
    if dst.resolve() == src.resolve():
        raise QevdFormatError(f"{dst}: the output folder must differ from the source split {src}")
    fn = feedback_fn or default_feedback_fn()
    classify = classifier or default_classifier()
    report = BuildReport(source=str(src), output=str(dst), feedback_source=_name(fn), classifier=_name(classify))
    records = read_records(src)
    out_records = []
    for record in records:
        feedbacks = list(record.feedbacks)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", QevdWarning)
            segs = segments(record, src.name)
        full = _sidecar(record.video)
        for seg in segs:
            if full is not None:
                seg.track = slice_track(full, seg.video_start_s, seg.video_start_s + seg.duration_s)
            indices = list(seg.metadata["utterance_indices"])  # type: ignore[call-overload]
            for j, utt in zip(indices, seg.utterances, strict=True):
                kind = str(classify(utt.text))
                report.n_utterances += 1
                report.kinds[kind] = report.kinds.get(kind, 0) + 1
                if kind not in REWRITTEN_KINDS:
                    continue
                new = fn(seg, utt.t_s)
                entry = Rewrite(record.video_id, seg.session_id, j, round(utt.t_s, 3), kind, utt.text, None)
                if not new:
                    entry.note = "no violation in the motion context at this time (or no pose track): kept"
                    report.n_kept_no_context += 1
                elif _would_merge(record.spans, j, new):
                    entry.note = "the new text equals the neighbouring utterance it touches (they would merge): kept"
                    report.n_kept_no_context += 1
                else:
                    span = record.spans[j]
                    feedbacks[span.first : span.last + 1] = [new] * (span.last - span.first + 1)
                    entry.replacement = new
                    report.n_rewritten += 1
                report.rewrites.append(entry)
        if len(collapse(feedbacks)) != len(record.spans):  # every utterance and time stamp must survive
            raise QevdFormatError(f"{record.video_id}: rewriting changed the number of utterances; nothing written")
        out_records.append({**record.raw, "feedbacks": feedbacks})
    _write_split(src, dst, records, out_records)
    (dst / REPORT_FILE).write_text(json.dumps(report.to_json(), indent=1, ensure_ascii=False), encoding="utf-8")
    return report


def _would_merge(spans: list[Any], j: int, new: str) -> bool:
    before = spans[j - 1] if j > 0 else None
    after = spans[j + 1] if j + 1 < len(spans) else None
    return bool(
        (before and before.last + 1 == spans[j].first and before.text == new)
        or (after and spans[j].last + 1 == after.first and after.text == new)
    )


def _sidecar(video: Path) -> Any:
    path = video.with_name(f"{video.stem}_pose.npz")
    if not path.is_file():
        return None

    return load_npz(path)


def _write_split(src: Path, dst: Path, records: list[Any], out_records: list[dict[str, Any]]) -> None:
    """Copy the media (videos, time stamps, pose sidecars) and write the JSON last."""
    dst.mkdir(parents=True, exist_ok=True)
    for record in records:
        for path in (record.video, record.timestamps_path, record.video.with_name(f"{record.video_id}_pose.npz")):
            if path.is_file():
                target = dst / path.relative_to(src)
                target.parent.mkdir(parents=True, exist_ok=True)
                if not target.exists():
                    shutil.copy2(path, target)
    tmp = dst / "feedbacks_long_range.json.tmp"
    tmp.write_text(json.dumps(out_records, ensure_ascii=False), encoding="utf-8")
    tmp.replace(dst / "feedbacks_long_range.json")


def _name(fn: Callable[..., Any]) -> str:
    fn = fn.func if isinstance(fn, functools.partial) else fn  # the function, not its bound catalogue
    return f"{getattr(fn, '__module__', '?')}.{getattr(fn, '__qualname__', repr(fn))}"


def kind_counts(texts: list[str], classifier: Classifier | None = None) -> dict[str, int]:
    classify = classifier or default_classifier()
    return dict(Counter(classify(t) for t in texts))
