"""Run a coach over a QEVD split's segments and write the challenge submission format.

``[{"mini_episode_id", "pred_feedbacks", "pred_feedback_timestamps"}]`` — the file ``biocoach eval`` reads. Each
segment needs a pose track: the miniature dataset ships one per session (our sidecar extension); real QEVD
segments without one are predicted empty and listed (estimate poses from the videos first).
"""

from __future__ import annotations

import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from workbench.model.sessions import CoachingSession


@dataclass
class Predictions:
    items: list[dict[str, Any]]
    coach: str
    notes: list[str] = field(default_factory=list)
    seconds: float = 0.0
    track_seconds: float = 0.0  # session time the coach ran over

    def write(self, path: str | Path) -> Path:
        from workbench.io.outputs import json_text, write_text

        return write_text(path, json_text(self.items, indent=1))


def predict_sessions(sessions: list[CoachingSession], coach_for: Callable[[str], Any]) -> Predictions:
    """Every segment through ``run_coach``; ``coach_for(exercise)`` gives the coach (cached per exercise)."""
    from workbench.errors import UnknownExerciseError, WorkbenchError
    from workbench.model.loop import run_coach

    coaches: dict[str, Any] = {}
    items, notes = [], []
    start = time.perf_counter()
    name = ""
    covered = 0.0
    for s in sessions:
        texts: list[str] = []
        times: list[float] = []
        if s.track is None:
            notes.append(f"{s.session_id}: no pose track, predicted nothing")
        else:
            try:
                if s.exercise not in coaches:
                    coaches[s.exercise] = coach_for(s.exercise)
                coach = coaches[s.exercise]
                name = name or str(getattr(coach, "name", type(coach).__name__))
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    events = run_coach(coach, s.track, s.exercise)
                texts = [e.text for e in events]
                times = [round(float(e.t_s), 3) for e in events]
                covered += s.duration_s
            except UnknownExerciseError:
                notes.append(f"{s.session_id}: {s.exercise!r} is not in the catalogue; predicted nothing")
            except WorkbenchError as exc:
                notes.append(f"{s.session_id}: {s.exercise!r} could not be coached ({exc}); predicted nothing")
        items.append({"mini_episode_id": s.session_id, "pred_feedbacks": texts, "pred_feedback_timestamps": times})
    return Predictions(items=items, coach=name, notes=notes, seconds=time.perf_counter() - start,
                       track_seconds=covered)  # fmt: skip


def coach_factory(model: str, *, config: Path | None = None, seed: int = 0) -> Callable[[str], Any]:
    """``rule`` or ``neural``, as ``biocoach coach --model`` loads them."""
    from workbench.model.cli import load_coach

    def make(exercise: str) -> Any:
        return load_coach(model, exercise, config=config, seed=seed)

    return make
