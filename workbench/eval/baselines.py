"""Run a coach over a QEVD split's segments and write the challenge submission format.

``[{"mini_episode_id", "pred_feedbacks", "pred_feedback_timestamps"}]`` — the file ``biocoach eval`` reads. Each
segment needs a pose track: the miniature dataset ships one per session (our sidecar extension); real QEVD
segments without one are predicted empty and listed (estimate poses from the videos first).
"""

from __future__ import annotations

import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from workbench.coach.coaching import Coach
from workbench.coach.loop import run_coach
from workbench.coach.sessions import CoachingSession
from workbench.errors import UnknownExerciseError, WorkbenchError
from workbench.exercises.catalogue import Catalogue
from workbench.io.outputs import json_text, write_text


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
        if s.track is None:
            notes.append(f"{s.session_id}: no pose track, predicted nothing")
        else:
            try:
                ex = catalogue.get(s.exercise)
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    events = run_coach(coach, s.track, ex)
                texts = [e.text for e in events]
                times = [round(float(e.t_s), 3) for e in events]
                covered += s.duration_s
            except UnknownExerciseError:
                notes.append(f"{s.session_id}: {s.exercise!r} is not in the catalogue; predicted nothing")
            except WorkbenchError as exc:
                notes.append(f"{s.session_id}: {s.exercise!r} could not be coached ({exc}); predicted nothing")
        items.append({"mini_episode_id": s.session_id, "pred_feedbacks": texts, "pred_feedback_timestamps": times})
    return Predictions(
        items=items, coach=coach.name, notes=notes, seconds=time.perf_counter() - start, track_seconds=covered
    )
