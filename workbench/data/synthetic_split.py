"""Held-out synthetic coaching sessions written as a QEVD-fit-coach split, for ``biocoach data predict`` and
``biocoach eval`` (issue 19).

    build_synthetic_split("syn", 8, seed=1000, exercises=("squat", "lunge"))
    # syn/QEVD-FIT-COACH-Benchmark/feedbacks_long_range.json, long_range_videos/NNNN.mp4,
    # NNNN_timestamps.npy, NNNN_pose.npz, and syn/QEVD-FIT-COACH-Benchmark/synthetic_truth.json

The on-disk format is the miniature writer's (``workbench.data.miniature``): per-frame time stamps in
nanoseconds that convert as ns / 1e9 + 28800, one feedback string per frame, ``is_transition`` and
``feedback_timestamps`` per utterance, schematic frames (stored rotated for ids ≤ 145, as the loader expects)
and the pose sidecar the coaches read. Each video holds one session of ``workbench.coach.synthetic_sessions``,
one single-exercise segment: a lead-in, the transition "First up are <exercise>!" on the first frame of the
session's track, the coach's lines, and "That's it, great workout today!" after the track. The exercise is
named as QEVD would ("squats", "lunges"), a name ``workbench.data.qevd.exercise_key`` maps back to our key.

The ground truth is the rule coach's utterances over the session's track, spoken by the coach ``biocoach data
predict --model rule`` loads (``RuleCoach(seed=coach_seed)``, the packaged tokenizer's token counts when it is
on disk) over the track exactly as the loader reads it back from the sidecar. So the rule coach run through
the standard tools reproduces the ground truth (T-F-Score 1.0), and a neural coach is scored against the lines
it learned to imitate. ``synthetic_sessions`` itself seeds each session's coach with (seed, index): same
track, same faults and decisions, but the phrasings can differ (and, through their token counts, the speech
pauses), so those utterances are kept in the truth file as ``generator_utterances`` only.

An utterance's feedback strings start on the first frame at or after its time (one frame later when the
transition holds that frame), so a reader gets its time back within one frame; it lasts its spoken length
(tokens / 12 s) and ends at least one frame before the next one starts.

``synthetic_truth.json`` (beside ``feedbacks_long_range.json``; the loader ignores it) holds per session the
segment id ``NNNN_0``, the exercise, the injected faults (rep index → kinds), the true rep bounds and the
rule coach's utterances (times in seconds from the segment start, the clock of ``data predict`` and ``eval``),
with their decision step, token count and evidence.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from workbench.coach.coaching import SPEECH_TOKENS_PER_S
from workbench.coach.loop import CoachEvent, run_coach
from workbench.coach.rule_coach import RuleCoach, TokenCounter
from workbench.coach.sessions import CoachingSession
from workbench.coach.synthetic_sessions import DEFAULT_EXERCISES, synthetic_sessions
from workbench.data.miniature import END_OF_WORKOUT, TEST_SPLIT, TIME_OFFSET_S, _write_video
from workbench.data.qevd import RECORDS_FILE, exercise_key, needs_rotation
from workbench.data.video_poses import slice_track
from workbench.errors import WorkbenchError
from workbench.exercises import load_catalogue
from workbench.exercises.catalogue import Catalogue, Exercise
from workbench.pose.posefile import load_npz, save_npz
from workbench.pose.track import PoseTrack
from workbench.skeleton import N_DOFS

TRUTH_FILE = "synthetic_truth.json"
TRUTH_FORMAT = "biocoach.synthetic_truth/1"
DEFAULT_SPLIT = TEST_SPLIT  # `biocoach eval --gt OUT` finds it as the test split
LEAD_IN_S = 1.0  # silence before the session (a whole number of frames at 30 fps)
TRANSITION_S = 1.5  # how long a transition line lasts
GAP_S = 0.5  # silence between the session's last frame and the closing line
TAIL_S = 2.0  # silence after the closing line
BASE_CLOCK_S = 1_700_000_000.0  # the wall clock of the first video's first frame (QEVD's ns are 8 h behind)


@dataclass
class SyntheticSplit:
    """What :func:`build_synthetic_split` wrote: the split folder, the sessions (track and utterances as the
    loader reads them back) and the truth file's sessions."""

    folder: Path
    sessions: list[CoachingSession]
    truth: list[dict[str, Any]]


def qevd_name(ex: Exercise, catalogue: Catalogue) -> str:
    """The exercise as a QEVD transition names it (a plural: "squats", "lunges"), one the loader maps back to
    ``ex.key``."""
    plural = [a.replace("_", " ") for a in ex.aliases if a.endswith("s")]
    words = ex.key.replace("_", " ")
    for name in [*plural, *([words] if words.endswith("s") else []), f"{words}s", ex.name.lower(), words]:
        if exercise_key(name, catalogue) == ex.key:
            return name
    raise WorkbenchError(f"exercise {ex.key!r}: no QEVD-style name found that maps back to it")


def build_synthetic_split(
    out: str | Path,
    n: int,
    *,
    seed: int = 0,
    exercises: Sequence[str] = DEFAULT_EXERCISES,
    split: str = DEFAULT_SPLIT,
    coach_seed: int = 0,
    tokens: str | TokenCounter = "auto",
    catalogue: Catalogue | None = None,
) -> SyntheticSplit:
    """Write ``n`` synthetic sessions (``synthetic_sessions(n, exercises, seed=seed)``) as ``out/<split>``;
    the ground truth is ``RuleCoach(seed=coach_seed, tokens=tokens)``'s lines, ``biocoach data predict --model
    rule --seed <coach_seed>``'s coach (see the module's notes)."""
    if n < 1:
        raise ValueError(f"n: expected at least one session, got {n}")
    catalogue = catalogue or load_catalogue()
    folder = Path(out) / split
    (folder / "long_range_videos").mkdir(parents=True, exist_ok=True)
    generated = synthetic_sessions(n, exercises, seed=seed, catalogue=catalogue)
    coach = RuleCoach(seed=coach_seed, tokens=tokens)
    records, truth, sessions = [], [], []
    for i, gen in enumerate(generated):
        record, entry, session = _write_session(folder, f"{i:04d}", i, gen, coach, catalogue)
        records.append(record)
        truth.append(entry)
        sessions.append(session)
    (folder / RECORDS_FILE).write_text(json.dumps(records, indent=1), encoding="utf-8")
    doc = {
        "format": TRUTH_FORMAT,
        "split": split,
        "seed": seed,
        "exercises": list(exercises),
        "coach": {
            "kind": "rule",
            "seed": coach_seed,
            "tokens": tokens if isinstance(tokens, str) else getattr(tokens, "__name__", "custom"),
            "reproduce": f"biocoach data predict {folder} OUT.json --model rule --seed {coach_seed}",
        },
        "times": "seconds from the segment start (the transition's first frame), as data predict and eval use",
        "sessions": truth,
    }
    (folder / TRUTH_FILE).write_text(json.dumps(doc, indent=1), encoding="utf-8")
    return SyntheticSplit(folder=folder, sessions=sessions, truth=truth)


def load_truth(split_dir: str | Path) -> dict[str, Any]:
    """The ``synthetic_truth.json`` of a split written by :func:`build_synthetic_split`."""
    doc: dict[str, Any] = json.loads((Path(split_dir) / TRUTH_FILE).read_text(encoding="utf-8"))
    return doc


def _write_session(
    folder: Path, video_id: str, index: int, gen: CoachingSession, coach: RuleCoach, catalogue: Catalogue
) -> tuple[dict[str, Any], dict[str, Any], CoachingSession]:
    track = gen.track
    if track is None:
        raise WorkbenchError(f"{gen.session_id}: a synthetic session without a track")
    ex = catalogue.get(gen.exercise)
    name = qevd_name(ex, catalogue)
    fps = float(track.fps)

    # the frame clock (seconds from the video's first frame): lead-in, the track's own frames, gap and tail
    n_lead = round(LEAD_IN_S * fps)
    lead = n_lead / fps
    track_t = np.asarray(track.t, dtype=np.float64) - float(track.t[0])
    n_after = round((GAP_S + TRANSITION_S + TAIL_S + 10.0) * fps)  # trimmed once the closing line is placed
    clock = np.concatenate(
        [np.arange(n_lead) / fps, lead + track_t, lead + track_t[-1] + np.arange(1, n_after + 1) / fps]
    )
    base_s = BASE_CLOCK_S + 3600.0 * index
    ns = ((base_s - TIME_OFFSET_S) + clock) * 1e9
    seconds = ns / 1e9 + TIME_OFFSET_S  # what the loader computes back, float64 rounding included
    rel = seconds - seconds[0]  # the loader's frame times (and segment start) on the video's clock

    # the pose sidecar: the track's frames, timed as the loader will read them (so its slice starts exactly on
    # the transition's frame); then the segment's track as `data predict` sees it
    track_frames = slice(n_lead, n_lead + track.n_frames)
    sidecar = folder / f"long_range_videos/{video_id}_pose.npz"
    stored = PoseTrack.from_arrays(
        track.q,
        t=rel[track_frames],
        confidence=track.confidence,
        observed=track.observed,
        betas=track.betas,
        source=f"synthetic-split:seed={gen.source.split('seed=')[-1]}",
    )
    if track.dof_confidence is not None:
        stored = stored.with_q(stored.q, dof_confidence=track.dof_confidence)
    save_npz(stored, sidecar)
    seen = slice_track(load_npz(sidecar), float(rel[n_lead]), float(rel[-1]))

    coach_events = run_coach(coach, seen, ex)
    spans, first_frames = _spans(rel, n_lead, track.n_frames, name, coach_events, fps)
    keep = min(len(clock), spans[-1][1] + round(TAIL_S * fps))  # silence after the closing line, then the end
    clock, ns, seconds, rel = clock[:keep], ns[:keep], seconds[:keep], rel[:keep]

    feedbacks = [""] * len(clock)
    for first, end, text, _ in spans:
        feedbacks[first:end] = [text] * (end - first)
    ts_rel = f"long_range_videos/{video_id}_timestamps.npy"
    np.save(folder / ts_rel, ns.astype(np.float64))
    q_full = np.zeros((clock.size, N_DOFS))
    local = np.clip(clock - lead, 0.0, track_t[-1])
    for d in range(N_DOFS):
        q_full[:, d] = np.interp(local, track_t, np.nan_to_num(track.q[:, d]))
    video_rel = f"long_range_videos/{video_id}.mp4"
    _write_video(folder / video_rel, q_full, rotate=needs_rotation(video_id))
    record = {
        "long_range_video_file": video_rel,
        "video_timestamps": ts_rel,
        "feedbacks": feedbacks,
        "is_transition": [s[3] for s in spans],
        "feedback_timestamps": [float(seconds[s[0]]) for s in spans],
    }

    utterances = [e.to_timed() for e in coach_events]
    meta = dict(gen.metadata)
    faults = meta.get("faults")
    bounds = meta.get("rep_bounds_s")
    faults = {str(k): v for k, v in faults.items()} if isinstance(faults, dict) else {}
    bounds = list(bounds) if isinstance(bounds, list) else []
    entry = {
        "mini_episode_id": f"{video_id}_0",
        "video_id": video_id,
        "synthetic_session_id": gen.session_id,
        "source": gen.source,
        "exercise": ex.key,
        "exercise_name": name,
        "duration_s": round(float(seen.duration_s), 4),
        "n_reps": len(bounds),
        "faults": faults,
        "rep_bounds_s": bounds,
        "utterances": [
            {
                "t_s": round(float(e.t_s), 4),
                "text": e.text,
                "kind": e.kind,
                "step": e.step,
                "n_tokens": e.n_tokens,
                "evidence": e.tags(),
                "first_frame_t_s": round(float(rel[f] - rel[n_lead]), 4),  # where the strings start
            }
            for e, f in zip(coach_events, first_frames, strict=True)
        ],
        "generator_utterances": [{"t_s": round(u.t_s, 4), "text": u.text} for u in gen.utterances],
    }
    session = CoachingSession(
        session_id=f"{video_id}_0",
        exercise=ex.key,
        duration_s=float(seen.duration_s),
        utterances=utterances,
        track=seen,
        video=folder / video_rel,
        video_start_s=float(rel[n_lead]),
        video_frame_times_s=rel,
        video_rotate_90_cw=needs_rotation(video_id),
        source=f"synthetic-split:{folder.name}/{video_id}",
        metadata={
            **meta,
            "events": [{"step": e.step, "n_tokens": e.n_tokens, "evidence": e.tags()} for e in coach_events],
            "coach": f"rule:seed={coach.seed}",
            "generator_source": gen.source,
        },
    )
    return record, entry, session


def _spans(
    rel: NDArray[np.float64], n_lead: int, n_track: int, name: str, events: list[CoachEvent], fps: float
) -> tuple[list[tuple[int, int, str, bool]], list[int]]:
    """(first frame, end frame (excluded), text, is_transition) of every line, and each event's first frame."""
    start = float(rel[n_lead])
    n_frames = len(rel)
    transition_frames = max(1, round(TRANSITION_S * fps))
    desired = [int(np.searchsorted(rel, start + float(e.t_s) - 1e-6, side="left")) for e in events]
    first_end = min(n_lead + transition_frames, desired[0]) if desired else n_lead + transition_frames
    spans = [(n_lead, max(n_lead + 1, first_end), f"First up are {name}!", True)]
    firsts = []
    for j, e in enumerate(events):
        _, prev_end, prev_text, _ = spans[-1]
        first = max(desired[j], prev_end + (1 if prev_text == e.text else 0))
        length = max(1, math.ceil(e.n_tokens / SPEECH_TOKENS_PER_S * fps))
        end = first + length
        if j + 1 < len(events):
            end = min(end, max(first + 1, desired[j + 1] - 1))  # a silent frame before the next line
        spans.append((first, end, e.text, False))
        firsts.append(first)
    closing = max(n_lead + n_track + round(GAP_S * fps), spans[-1][1] + 1)
    end = closing + transition_frames
    if end + 1 >= n_frames:  # the collapse needs silence after the closing line (the clock has room for it)
        raise WorkbenchError(f"synthetic split: no room for the closing line ({end} of {n_frames} frames)")
    spans.append((closing, end, END_OF_WORKOUT, True))
    return spans, firsts
