"""Offline motion analysis of a whole pose track: cycles, alignment, checks and context.

Feedback is not the analysis's: the coach the caller chose writes it (``workbench.coach``; the rule coach's
per-rep review by default, ``workbench.pipeline.analyze_clip``). ``Analysis.feedback`` is empty here.

It feeds the same engine as the streaming tracker, vectorised where the arithmetic is per element
(smoothing), so the two find identical reps and violations.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from workbench import __version__
from workbench.body.measurements import Measurements
from workbench.exercises.catalogue import Catalogue, Exercise, load_catalogue
from workbench.motion.context import morph_context, motion_context, pose_state, reps_completed
from workbench.motion.cycles import Cycle, CycleSegmenter, Phase
from workbench.motion.engine import (
    DEFAULT_MIN_CONFIDENCE,
    CycleEvaluator,
    FrameRepair,
    default_salient,
    describe_side_unknown,
    describe_unobserved,
    describe_untrusted,
)
from workbench.motion.results import Analysis, Rep, unique
from workbench.motion.signal import SMOOTH_SIGMA_S
from workbench.motion.smoothing import sigma_frames, smooth
from workbench.motion.tracker import StreamingTracker
from workbench.pose.track import PoseTrack, check_track
from workbench.skeleton import DOF_NAMES


def resolve_exercise(exercise: str | Exercise, catalogue: Catalogue | None = None) -> Exercise:
    if isinstance(exercise, Exercise):
        return exercise
    return (catalogue or load_catalogue()).get(exercise)


def prepare_track(track: PoseTrack) -> tuple[PoseTrack, list[str]]:
    """Track-level fixes before frame-by-frame analysis: uniform time base, DoFs with no data unobserved.

    A track beyond the input limits (``workbench.limits``: frames, time span, gaps, rate, the length a
    variable rate resamples to) is refused here with a PoseFileError, before anything sized by it is made."""
    check_track(track, track.source)
    warnings: list[str] = []
    if not track.is_uniform:
        fps = 1.0 / float(np.median(np.diff(track.t)))
        warnings.append(f"variable frame rate: resampled to a uniform {fps:.2f} fps")
        track = track.resampled(fps)
    empty = track.observed & np.isnan(track.q).all(axis=0)
    if empty.any():
        names = [DOF_NAMES[i] for i in np.flatnonzero(empty)]
        warnings.append(f"no estimate at all for {', '.join(names)}: treated as unobserved")
        track = track.with_q(track.q, observed=track.observed & ~empty)
    return track, warnings


def analyze(
    track: PoseTrack,
    exercise: str | Exercise,
    *,
    catalogue: Catalogue | None = None,
    salient: Sequence[str] | None = None,
    min_confidence: float = DEFAULT_MIN_CONFIDENCE,
    body: Measurements | None = None,
) -> Analysis:
    """Analyse a whole track. Bad data gives warnings in the result, never an exception, except an
    unknown exercise (UnknownExerciseError)."""
    ex = resolve_exercise(exercise, catalogue)
    track, warnings = prepare_track(track)
    salient_joints = default_salient(ex, salient)
    evaluator = CycleEvaluator(ex, track.observed, track.fps, salient_joints, side_view(track))
    frames = _repaired(track, min_confidence)
    reps: list[Rep] = []
    seg_warnings: list[str] = []
    if evaluator.spec is not None and frames.q.shape[0] > 0:
        reps, seg_warnings = _reps(evaluator, frames)
    return _assemble(
        ex,
        track,
        evaluator,
        frames.q,
        frames.t,
        reps,
        warnings + _repair_notes(track, frames.repair) + seg_warnings,
        salient,
        mode="offline",
        body=body,
        dof_confidence=frames.dof_confidence,
    )


def analyze_streaming(
    track: PoseTrack,
    exercise: str | Exercise,
    *,
    catalogue: Catalogue | None = None,
    salient: Sequence[str] | None = None,
    min_confidence: float = DEFAULT_MIN_CONFIDENCE,
    body: Measurements | None = None,
) -> Analysis:
    """The same analysis, fed frame by frame through the streaming tracker (what a live session sees)."""
    ex = resolve_exercise(exercise, catalogue)
    track, warnings = prepare_track(track)
    tracker = StreamingTracker(ex, track.observed, track.fps, salient, min_confidence, side_view(track))
    dof_conf = track.dof_confidence
    for k, (row, t_i, conf) in enumerate(zip(track.q, track.t.tolist(), track.confidence.tolist(), strict=True)):
        tracker.push(row, t_i, conf, None if dof_conf is None else dof_conf[k])
    tracker.finish()
    seg_warnings = [
        f"candidate cycle {tracker.t()[r.start]:.2f}-{tracker.t()[r.end]:.2f} s not counted: {r.reason}"
        for r in tracker.segmenter.rejected
    ]
    return _assemble(
        ex,
        track,
        tracker.evaluator,
        tracker.q(),
        tracker.t(),
        tracker.reps,
        warnings + _repair_notes(track, tracker.repair) + seg_warnings,
        salient,
        mode="stream",
        body=body,
        dof_confidence=tracker.dof_confidence(),
    )


def _assemble(
    ex: Exercise,
    track: PoseTrack,
    evaluator: CycleEvaluator,
    q: np.ndarray,
    t: np.ndarray,
    reps: list[Rep],
    warnings: list[str],
    salient: Sequence[str] | None,
    mode: str,
    body: Measurements | None = None,
    dof_confidence: np.ndarray | None = None,
) -> Analysis:
    warnings = warnings + describe_unobserved(ex, track.observed)
    warnings += describe_untrusted(evaluator.untrusted, evaluator.min_dof_confidence)
    warnings += describe_side_unknown(ex, evaluator.side_unknown)
    if evaluator.skipped:
        warnings.append(
            "checks skipped in cycles where their joint did not move (untracked, or held still): "
            + ", ".join(sorted(evaluator.skipped))
        )
    if evaluator.spec is None:
        warnings.append(f"cannot detect repetitions: none of {', '.join(ex.cycle.signal)} is observed")
    elif not q.shape[0]:
        warnings.append("no frame with a complete pose estimate: nothing to analyse")
    elif not reps:
        warnings.append(_no_rep_reason(ex, t))
    joints = evaluator.salient
    trusted = None if dof_confidence is None or not q.shape[0] else evaluator.trusted(dof_confidence[-1:])
    state = pose_state(q[-1], joints, track.observed, trusted) if q.shape[0] else "Current pose: no valid frame."
    last = reps[-1].violations if reps else ()
    prov = provenance(ex, track, salient is None)
    prov["mode"] = mode
    if evaluator.variants:
        prov["reference_variants"] = {v.name: v.reference.version for v in evaluator.variants}
    return Analysis(
        exercise=ex.key,
        fps=track.fps,
        n_frames=track.n_frames,
        duration_s=track.duration_s,
        salient_joints=list(joints),
        reps=reps,
        context_morph=morph_context(body),
        context_motion=motion_context(state, last, reps_completed(ex, reps)),
        feedback=[],
        warnings=unique(warnings + (list(body.warnings) if body is not None else [])),
        provenance=prov,
        body=None if body is None else body.to_json(),
    )


def side_view(track: PoseTrack) -> bool:
    """Whether the pose backend saw the person side on (it says so in the track's meta)."""
    return track.meta.get("view") == "side"


def _repair_notes(track: PoseTrack, repair: FrameRepair) -> list[str]:
    """What the frame repair did, unless the pose backend already held lost frames and said so itself
    (its note names the cause and times; the engine's would repeat it with less)."""
    return [] if "lost_frames" in track.meta else repair.warnings()


@dataclass(frozen=True)
class RepairedFrames:
    """The frames the analysis runs on: repaired angles, times, whether each was a lost frame holding the last
    valid pose, and the per-DoF confidence of the frames kept (None when the track has none)."""

    q: np.ndarray  # (frames kept, 46) radians
    t: np.ndarray  # (frames kept,) seconds
    held: np.ndarray  # (frames kept,) bool
    dof_confidence: np.ndarray | None  # (frames kept, 46)
    repair: FrameRepair


def _repaired(track: PoseTrack, min_confidence: float) -> RepairedFrames:
    repair = FrameRepair(track.observed, min_confidence)
    clean = not np.isnan(track.q[:, track.observed]).any() and bool((track.confidence >= min_confidence).all())
    if clean and track.n_frames:
        repair.last = track.q[-1]
        return RepairedFrames(track.q, track.t, np.zeros(track.n_frames, bool), track.dof_confidence, repair)
    rows, kept, held = [], [], []
    for i in range(track.n_frames):
        row = repair.repair(i, track.q[i], float(track.confidence[i]))
        if row is not None:
            rows.append(row)
            kept.append(i)
            held.append(repair.held_now)
    dof_conf = None if track.dof_confidence is None else track.dof_confidence[kept]
    if not rows:
        return RepairedFrames(np.empty((0, track.q.shape[1])), np.empty(0), np.zeros(0, bool), dof_conf, repair)
    return RepairedFrames(np.vstack(rows), track.t[kept], np.asarray(held, bool), dof_conf, repair)


def _reps(evaluator: CycleEvaluator, frames: RepairedFrames) -> tuple[list[Rep], list[str]]:
    assert evaluator.spec is not None
    q, t, conf = frames.q, frames.t, frames.dof_confidence
    sigma = sigma_frames(SMOOTH_SIGMA_S, evaluator.fps)  # the sigma behind the tracker's kernel
    q_s = smooth(q, sigma)
    sig = smooth(evaluator.spec.series(q, conf), sigma)
    segmenter = CycleSegmenter(evaluator.params)
    cycles = []
    for k, x in enumerate(sig.tolist()):
        found = segmenter.push(x, evaluator.frame_cues(q[k], bool(frames.held[k]), None if conf is None else conf[k]))
        if found:
            cycles += found
    cycles += segmenter.finish()
    reps = [
        evaluator.rep(
            k,
            c,
            q_s[c.start : c.end + 1],
            q[c.start : c.end + 1],
            t[c.start : c.end + 1],
            sig[c.start : c.end + 1],
            None if conf is None else conf[c.start : c.end + 1],
            _span(c, q, t, sig),
        )
        for k, c in enumerate(cycles)
    ]
    warnings = [
        f"candidate cycle {t[r.start]:.2f}-{t[r.end]:.2f} s not counted: {r.reason}" for r in segmenter.rejected
    ]
    return reps, warnings


def _span(c: Cycle, q: np.ndarray, t: np.ndarray, sig: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Repaired angles, times and smoothed signal over the rep's whole excursion (its measures read them)."""
    a, b = c.span
    return q[a : b + 1], t[a : b + 1], sig[a : b + 1]


def whole_track_rep(
    track: PoseTrack,
    exercise: str | Exercise,
    *,
    catalogue: Catalogue | None = None,
    min_confidence: float = DEFAULT_MIN_CONFIDENCE,
) -> Rep | None:
    """The whole track judged as one repetition (a segmented data set's file whose cycle was not found
    as exactly one rep), through the same evaluator; None when it has no usable frame."""
    ex = resolve_exercise(exercise, catalogue)
    track, _ = prepare_track(track)
    evaluator = CycleEvaluator(ex, track.observed, track.fps, default_salient(ex, None), side_view(track))
    frames = _repaired(track, min_confidence)
    q, t = frames.q, frames.t
    if evaluator.spec is None or q.shape[0] < 2:
        return None
    sigma = sigma_frames(SMOOTH_SIGMA_S, evaluator.fps)
    q_s, sig = smooth(q, sigma), smooth(evaluator.spec.series(q, frames.dof_confidence), sigma)
    n = q.shape[0]
    work = int(np.argmax(sig))
    cycle = Cycle(0, n - 1, work, "rep", (Phase("descent", 0, work), Phase("ascent", work, n - 1)))
    return evaluator.rep(0, cycle, q_s, q, t, sig, frames.dof_confidence)


def _no_rep_reason(ex: Exercise, t: np.ndarray) -> str:
    span = float(t[-1] - t[0]) if t.size else 0.0
    lo = ex.cycle.period_s[0]
    if span < lo:
        return f"no repetition found: the track ({span:.2f} s) is shorter than one cycle ({lo:.1f} s minimum)"
    return (
        f"no repetition found: the {ex.cycle.signal[0]} signal never moved by the {ex.cycle.prominence_deg:.1f}° "
        f"prominence that a repetition needs"
    )


def provenance(ex: Exercise, track: PoseTrack, default_joints: bool) -> dict[str, Any]:
    return {
        "tool": "biocoach-workbench",
        "version": __version__,
        "source": track.source,
        "rules": ex.rule_file.name,
        "reference": None if ex.reference is None else ex.reference.version,
        "salient_joints_from": "catalogue default" if default_joints else "caller",
        "parameters": {
            "smoothing_sigma_s": round(SMOOTH_SIGMA_S, 6),
            "prominence_deg": round(ex.cycle.prominence_deg, 3),
            "cycle_period_s": list(ex.cycle.period_s),
        },
    }
