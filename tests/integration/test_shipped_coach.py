"""The shipped neural-coach checkpoint (references/coach) on synthetic squats it was not trained on (issue 19).

The checkpoint was trained on sessions of ``synthetic_sessions(48, ("squat",), seed=0)`` (its provenance.json);
these use other seeds, so their rep counts, tempos, noise and fault patterns are new. What a user gets from
``biocoach coach --model neural`` with no configuration, checked against the session's known answer:

- after a shallow rep (an injected fault) it speaks within 3 s, naming the knee or the hip with a number within
  3° of that rep's depth as the analysis measured it (at least 3 reps in 4);
- it stays silent after most clean reps;
- every utterance is under 40 words, and every number it states is one its context stated (within 1) — one of
  the findings' numbers, exactly (``grounded_numbers``);
- its timing against the rule coach's lines on the same sessions: T-F-Score ≥ 0.6.
"""

from __future__ import annotations

import re
from typing import Any

import pytest

from workbench.coach.loop import run_coach
from workbench.coach.neural import SHIPPED_CHECKPOINT, load_neural_coach
from workbench.coach.synthetic_sessions import synthetic_sessions
from workbench.config import Config
from workbench.eval.numbers import check_utterance, grounding_context
from workbench.eval.tfscore import ClipFeedback, t_f_score
from workbench.exercises import load_catalogue
from workbench.model.configuration_coach import CONFIG_NAME
from workbench.model.grounded_numbers import digit_runs
from workbench.motion.analysis import analyze
from workbench.motion.context import findings

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not (SHIPPED_CHECKPOINT / CONFIG_NAME).is_file(), reason="no shipped coach checkpoint"),
]
SEEDS = (101, 202)  # not the training seed (0)
DEPTH_TOLERANCE_DEG = 3.0
SPEAK_WITHIN_S = 3.0


@pytest.fixture(scope="module")
def coached() -> list[tuple[Any, list[Any]]]:
    """(session, the shipped coach's events) for one held-out squat session per seed."""
    coach = load_neural_coach(Config())
    assert coach.provenance["trained"] is True and coach.provenance["shipped"] is True
    squat = load_catalogue().get("squat")
    out = []
    for seed in SEEDS:
        session = synthetic_sessions(1, ("squat",), seed=seed)[0]
        out.append((session, run_coach(coach, session.track, squat)))
    return out


def _shallow_reps(session: Any) -> list[int]:
    return sorted(int(r) for r, kinds in session.metadata["faults"].items() if "shallow" in kinds)


def _degrees(text: str) -> list[float]:
    return [float(x) for x in re.findall(r"(-?\d+(?:\.\d+)?)\s*°", text)]


def test_it_corrects_the_shallow_reps_with_the_measured_depth(coached: list[tuple[Any, list[Any]]]) -> None:
    """A shallow rep is corrected when, within 3 s of its end, a line names the knee or the hip with a number
    within 3° of that rep's depth as measured. The shipped coach corrects 20 of 23 on the 12 held-out sessions of
    references/coach/README.md (a miss is mostly a rep ending while it still speaks about the one before), so
    at least 3 in 4 here, and never a line naming a depth the analysis did not measure."""
    squat = load_catalogue().get("squat")
    corrected, missed = 0, []
    for session, events in coached:
        analysis = analyze(session.track, squat)
        for r in _shallow_reps(session):
            rep = next(x for x in analysis.reps if x.index == r)
            depths = {v.dof: v.value_deg for v in rep.violations if v.dof.startswith(("knee", "hip"))}
            assert depths, f"{session.session_id}: rep {r} has no knee/hip violation to name"
            said = [e for e in events if rep.end_s <= e.t_s <= rep.end_s + SPEAK_WITHIN_S]
            named = [
                e
                for e in said
                if re.search(r"\b(knee|hip)\b", e.text, re.I)
                and any(abs(d - v) <= DEPTH_TOLERANCE_DEG for d in _degrees(e.text) for v in depths.values())
            ]
            if named:
                corrected += 1
            else:
                missed.append((session.session_id, r, round(rep.end_s, 2), [(round(e.t_s, 2), e.text) for e in events]))
    total = corrected + len(missed)
    assert total > 0 and corrected / total >= 0.75, missed


def test_it_is_mostly_silent_after_clean_reps(coached: list[tuple[Any, list[Any]]]) -> None:
    clean = spoken = 0
    for session, events in coached:
        bounds = session.metadata["rep_bounds_s"]
        faulty = set(_shallow_reps(session))
        for i, (_, end) in enumerate(bounds):
            if i in faulty:
                continue
            until = bounds[i + 1][1] if i + 1 < len(bounds) else end + SPEAK_WITHIN_S
            clean += 1
            spoken += any(end <= e.t_s < until for e in events)
    assert clean > 0 and spoken / clean < 0.5, f"spoke after {spoken} of {clean} clean reps"


def test_every_utterance_is_short_and_states_only_numbers_of_its_context(
    coached: list[tuple[Any, list[Any]]],
) -> None:
    for _, events in coached:
        assert events
        for e in events:
            assert len(e.text.split()) < 40, e.text
            context = grounding_context(e.utterance.evidence.context_motion or None, e.reps_done)
            if context is not None:
                assert check_utterance(e.text, context).all_grounded, (e.text, context)
            # stricter, what the decoder enforces (grounded_numbers "findings"): every digit run is one of the
            # findings' numbers, never an instantaneous angle of the pose line
            motion = e.utterance.evidence.context_motion or ""
            assert digit_runs(e.text) <= digit_runs(findings(motion)), (e.text, motion)


def test_its_timing_matches_the_rule_coach(coached: list[tuple[Any, list[Any]]]) -> None:
    clips = [
        ClipFeedback(
            s.session_id,
            tuple(u.text for u in s.utterances),
            tuple(u.t_s for u in s.utterances),
            tuple(e.text for e in events),
            tuple(float(e.t_s) for e in events),
        )
        for s, events in coached
    ]
    score = t_f_score(clips)
    assert score.f_score >= 0.6, (score.precision, score.recall)


def test_choosing_the_speak_margin_on_a_validation_split(tmp_path: Any) -> None:
    """bench/choose_speak_margin.py (reproducing the checkpoint, step 2) scores each margin with the same T-F-Score
    as `biocoach eval`: a margin no logit gap reaches never speaks (0), the shipped one does; the larger of two
    equal scores wins."""
    import importlib.util
    from pathlib import Path

    from workbench.data.synthetic_split import build_synthetic_split

    spec = importlib.util.spec_from_file_location("choose", Path(__file__).parents[2] / "bench/choose_speak_margin.py")
    assert spec is not None and spec.loader is not None
    choose = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(choose)
    split = build_synthetic_split(tmp_path / "val", 1, seed=303, exercises=("squat",))
    scores = choose.scores(SHIPPED_CHECKPOINT, split.folder, [2.0, 1000.0])
    assert scores[1000.0] == 0.0 and scores[2.0] >= 0.6
