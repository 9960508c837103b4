"""Caches are keyed by content, and per session where they hold session state (issue 16).

Each test fails with the old behaviour: bio_builder keyed its analyses by ``id(track)`` (ids are reused once
a track is collected, and the exercise was not in the key), and the editor's clip cache was one module dict
shared by every browser session.
"""

from __future__ import annotations

import gc
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np
import pytest

from workbench.coach.sessions import CoachingSession
from workbench.dashboard import editing
from workbench.dashboard.state import EXAMPLE_CLIP, AppState
from workbench.data import bio_builder
from workbench.pose.track import PoseTrack
from workbench.skeleton import N_DOFS


def _session(value: float, exercise: str = "squat") -> CoachingSession:
    track = PoseTrack.from_arrays(np.full((10, N_DOFS), value), fps=30.0)
    return CoachingSession(session_id=f"s{value}", exercise=exercise, duration_s=1.0, utterances=[], track=track)


@pytest.fixture
def fake_analyze(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, float]]:
    """``analyze`` replaced by one that says what it was given (and records each call)."""
    calls: list[tuple[str, float]] = []

    def analyze(track: PoseTrack, exercise: str) -> tuple[str, float]:
        calls.append((exercise, float(track.q[0, 0])))
        return calls[-1]

    monkeypatch.setattr(bio_builder, "analyze", analyze)
    monkeypatch.setattr(bio_builder, "_ANALYSES", {})
    return calls


def test_bio_builder_tracks_with_the_same_id_get_their_own_analysis(
    monkeypatch: pytest.MonkeyPatch, fake_analyze: list[tuple[str, float]]
) -> None:
    # Every object having the same id is what CPython does to a track collected and one allocated after it.
    monkeypatch.setattr(bio_builder, "id", lambda obj: 1, raising=False)
    assert bio_builder._analysis(_session(0.1)) == ("squat", 0.1)
    assert bio_builder._analysis(_session(0.2)) == ("squat", 0.2)
    assert bio_builder._analysis(_session(0.1)) == ("squat", 0.1)  # same content: a hit
    assert fake_analyze == [("squat", 0.1), ("squat", 0.2)]


def test_bio_builder_same_track_as_another_exercise_is_analysed_again(fake_analyze: list[tuple[str, float]]) -> None:
    session = _session(0.3)
    lunge = CoachingSession(session_id="l", exercise="lunge", duration_s=1.0, utterances=[], track=session.track)
    assert bio_builder._analysis(session) == ("squat", 0.3)
    assert bio_builder._analysis(lunge) == ("lunge", 0.3)


def test_editor_clip_cache_is_per_session(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    analysed: list[str] = []

    def analyze_clip(path: Path, exercise: str, db: Any = None) -> object:
        analysed.append(str(path))
        return SimpleNamespace(path=path)

    monkeypatch.setattr(editing, "analyze_clip", analyze_clip)
    monkeypatch.setattr(editing, "resolve", lambda exercise, db: (None, {"rules_version": 1}))
    monkeypatch.setattr(AppState, "database", lambda self: SimpleNamespace(path=tmp_path / "store.duckdb"))
    a, b = AppState(), AppState()
    first = editing.analyse_clip_cached(a, "squat", str(EXAMPLE_CLIP))
    assert editing.analyse_clip_cached(a, "squat", str(EXAMPLE_CLIP)) is first  # the session's own hit
    other = editing.analyse_clip_cached(b, "squat", str(EXAMPLE_CLIP))
    assert other is not first  # another session never gets this session's object
    assert analysed == [str(EXAMPLE_CLIP)] * 2
    del a
    gc.collect()
    assert len(editing._CLIP_CACHES) == 1  # a closed session's cache goes with it
