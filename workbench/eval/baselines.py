"""Run a coach over a QEVD split's segments and write the challenge submission format.

``[{"mini_episode_id", "pred_feedbacks", "pred_feedback_timestamps", "pred_contexts"}]`` — the file ``biocoach eval``
reads; ``pred_contexts`` (our extension, optional for ``eval``) holds, per utterance, the context it was spoken
against (C_motion as the coach saw it and the reps completed; ``workbench.eval.numbers``). Each
segment needs a pose track: the miniature dataset ships one per session (our sidecar extension); real QEVD
segments get theirs from the video (``workbench.data.video_poses``); one left without is predicted empty and
listed, with the reason. A coach that wants video frames (``video_fps``: the neural coach) gets the segment's
frames by time (``workbench.coach.session_frames``, at its rate, on the segment's clock) when it has a video;
the rule coach gets pose only, as before.
"""

from __future__ import annotations

import time
import warnings
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import NDArray

from workbench.coach.coaching import Coach
from workbench.coach.loop import CoachEvent, run_coach
from workbench.coach.sessions import CoachingSession
from workbench.errors import UnknownExerciseError, WorkbenchError
from workbench.eval.numbers import grounding_context
from workbench.exercises.catalogue import Catalogue, Exercise
from workbench.io.outputs import json_text, write_text

if TYPE_CHECKING:
    from workbench.coach.session_frames import SessionVideo


@dataclass
class Predictions:
    items: list[dict[str, Any]]
    coach: str
    notes: list[str] = field(default_factory=list)
    seconds: float = 0.0
    track_seconds: float = 0.0  # session time the coach ran over

    def write(self, path: str | Path) -> Path:
        return write_text(path, json_text(self.items, indent=1))


def predict_sessions(sessions: list[CoachingSession], coach: Coach, catalogue: Catalogue) -> Predictions:
    """Every segment through ``run_coach`` with one coach, reset per segment with the segment's exercise as
    the caller's ``catalogue`` has it (the store's current rules, or the YAML ones)."""
    items, notes = [], []
    start = time.perf_counter()
    covered = 0.0
    for s in sessions:
        texts: list[str] = []
        times: list[float] = []
        contexts: list[str | None] = []
        if s.track is None:
            notes.append(str(s.metadata.get("skipped") or f"{s.session_id}: no pose track, predicted nothing"))
        else:
            try:
                ex = catalogue.get(s.exercise)
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    events = _coach_segment(coach, s, ex, notes)
                texts = [e.text for e in events]
                times = [round(float(e.t_s), 3) for e in events]
                contexts = [grounding_context(e.evidence.context_motion or None, e.reps_done) for e in events]
                covered += s.duration_s
            except UnknownExerciseError:
                notes.append(f"{s.session_id}: {s.exercise!r} is not in the catalogue; predicted nothing")
            except WorkbenchError as exc:
                notes.append(f"{s.session_id}: {s.exercise!r} could not be coached ({exc}); predicted nothing")
        items.append(
            {
                "mini_episode_id": s.session_id,
                "pred_feedbacks": texts,
                "pred_feedback_timestamps": times,
                "pred_contexts": contexts,
            }
        )
    return Predictions(
        items=items, coach=coach.name, notes=notes, seconds=time.perf_counter() - start, track_seconds=covered
    )


FRAME_CHUNK = 64  # frames decoded at a time (one seek per chunk)


def _coach_segment(coach: Coach, s: CoachingSession, ex: Exercise, notes: list[str]) -> list[CoachEvent]:
    """``run_coach`` over the segment's track, with its video frames for a coach that wants them; a video that
    cannot be read gives pose-only input and a note."""
    from workbench.coach.session_frames import SessionVideo, SessionVideoError

    assert s.track is not None
    video_fps = getattr(coach, "video_fps", None)  # optional part of the Coach protocol
    video = SessionVideo.of(s) if video_fps else None
    if video is None or not video_fps:
        return run_coach(coach, s.track, ex, context_morph=s.context_morph)
    try:
        video.n_frames  # noqa: B018 - reads the frame index: a missing or unreadable video is found here
        return run_coach(
            coach,
            s.track,
            ex,
            context_morph=s.context_morph,
            frames=session_frames(video, s.duration_s, float(video_fps)),
        )
    except SessionVideoError as exc:
        notes.append(f"{s.session_id}: video frames unreadable ({exc}); coached on pose only")
        return run_coach(coach, s.track, ex, context_morph=s.context_morph)


def session_frames(video: SessionVideo, duration_s: float, fps: float) -> Iterator[tuple[float, NDArray[np.uint8]]]:
    """(session time, upright RGB) every 1 / fps s from the session's start to its end: the frame shown at that
    time (``SessionVideo.indices``), decoded a chunk at a time."""
    grid: NDArray[np.float64] = np.arange(0.0, duration_s + 1e-9, 1.0 / fps, dtype=np.float64)
    for lo in range(0, len(grid), FRAME_CHUNK):
        times = grid[lo : lo + FRAME_CHUNK]
        rgb = video.frames(video.indices(times))
        yield from zip(times.tolist(), rgb, strict=True)
