"""The one feedback path: what the coach the caller chose says about a clip.

The analysis (``workbench.motion``) finds reps, violations and context; the feedback is always a coach's:

- ``coach=None``: the rule coach's offline review, one corrective line per flawed rep at its end
  (``rule_coach.review_reps``): ``biocoach analyze`` and the analysis JSON's default ``feedback``;
- a ``Coach`` (rule or neural): its 4 Hz streaming decisions over the clip (``loop.run_coach``), with video
  frames for a coach that wants them: ``biocoach coach``, the batch's coaching stage, the app's clip page.

Every caller passes the exercise it resolved (the store's current rules), so an expert's edit reaches every
coach and every surface alike.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from workbench.coach.coaching import Coach
from workbench.coach.loop import CoachEvent, feedback_events, run_coach
from workbench.coach.rule_coach import review_reps
from workbench.exercises.catalogue import Exercise
from workbench.io.video import iter_frames
from workbench.motion.results import FeedbackEvent, Rep
from workbench.pose.track import PoseTrack


def coach_events(
    coach: Coach,
    track: PoseTrack,
    exercise: Exercise,
    *,
    context_morph: str,
    video: Path | None = None,
    salient: Sequence[str] | None = None,
    min_confidence: float | None = None,
) -> list[CoachEvent]:
    """A streaming coach's events over a clip. A coach that wants video frames says at what rate
    (``video_fps``); it gets them when the clip has a video."""
    video_fps = getattr(coach, "video_fps", None)  # optional part of the Coach protocol
    frames = _frames(video, float(video_fps)) if video_fps and video is not None else None
    return run_coach(
        coach,
        track,
        exercise,
        context_morph=context_morph,
        frames=frames,
        salient=salient,
        min_confidence=min_confidence,
    )


def clip_feedback(
    coach: Coach | None,
    track: PoseTrack,
    exercise: Exercise,
    *,
    context_morph: str,
    reps: Sequence[Rep],
    video: Path | None = None,
    salient: Sequence[str] | None = None,
    min_confidence: float | None = None,
) -> list[FeedbackEvent]:
    """The analysis JSON's ``feedback``: the rule coach's per-rep review without a coach, else the coach's."""
    if coach is None:
        return review_reps(reps, exercise)
    events = coach_events(
        coach, track, exercise, context_morph=context_morph, video=video, salient=salient, min_confidence=min_confidence
    )
    return feedback_events(events)


def _frames(video: Path, fps: float) -> Iterator[tuple[float, NDArray[np.uint8]]]:
    return ((f.t_s, f.rgb) for f in iter_frames(video, fps=fps))
