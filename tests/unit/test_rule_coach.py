"""The rule-based coach: its sentences, its decisions at hand-built steps, and the evaluation helpers."""

from __future__ import annotations

import re

import pytest

from tests.conftest import squat_track
from workbench.coach.coaching import DecisionInput
from workbench.coach.rule_coach import (
    RuleCoach,
    classify_utterance,
    corrective_text,
    feedback_at,
    instruction_text,
    word_tokens,
)
from workbench.coach.sessions import CoachingSession
from workbench.exercises import load_catalogue
from workbench.motion.analysis import analyze
from workbench.motion.results import PhaseSpan, Rep, Violation


def violation(
    check: str = "knee_depth",
    dof: str = "knee_angle_r",
    value: float = 85.0,
    target: float = 90.0,
    kind: str = "dynamic",
    cue: str = "sit deeper at the bottom",
    rep: int = 0,
    bounds: tuple[float | None, float | None] = (90.0, None),
) -> Violation:
    return Violation(
        rep=rep,
        check=check,
        joint="tibia_r",
        dof=dof,
        type=kind,
        value_deg=value,
        target_deg=target,
        bounds_deg=bounds,
        deviation_deg=abs(target - value),
        message="",
        cue=cue,
        phase="descent",
        t_s=1.0,
        source="test",
    )


def rep(index: int, *violations: Violation) -> Rep:
    return Rep(
        index=index,
        start_s=2.0 * index,
        end_s=2.0 * index + 2.0,
        kind="rep",
        quality=0.9,
        phases=(PhaseSpan("descent", 2.0 * index, 2.0 * index + 1.0),),
        violations=violations,
    )


def step(k: int, reps: list[Rep], new: list[Rep]) -> DecisionInput:
    return DecisionInput(
        step=k,
        t_s=k / 4,
        exercise="squat",
        context_morph="",
        context_motion="ctx",
        reps=tuple(reps),
        new_reps=tuple(new),
        phase="descent",
    )


# ---------------------------------------------------------------------------------------- sentences


def test_corrective_sentence_is_the_supplements_form() -> None:
    text = corrective_text(violation(), key_frame="bottom")
    assert text == (
        "Right knee flexion 85° (target: 90°). Increase knee flexion by 5° at the bottom: sit deeper at the bottom."
    )


def test_stability_and_excess_sentences_carry_their_numbers() -> None:
    wobble = violation(
        "lumbar_stability", "lumbar_extension", 12.0, 5.0, "stability", "keep a neutral spine", bounds=(None, 5.0)
    )
    assert corrective_text(wobble).startswith("Lumbar extension variance 12° (target: < 5°). Keep the lumbar")
    cave = violation("knee_valgus", "hip_adduction_l", 16.0, 10.0, cue="push the knees out", bounds=(None, 10.0))
    assert corrective_text(cave, key_frame="bottom") == (
        "Left hip adduction 16° (target: 10°). Reduce hip adduction by 6° at the bottom: push the knees out."
    )


def test_a_value_that_rounds_onto_its_target_keeps_a_decimal() -> None:
    text = corrective_text(violation(value=89.6), key_frame="bottom")
    assert "89.6° (target: 90.0°)" in text and "by 0.4°" in text


@pytest.mark.parametrize("level", [1, 2])
def test_escalated_lines_still_name_the_joint_and_numbers(level: int) -> None:
    for variant in (0, 1):
        text = corrective_text(violation(value=78.0), level=level, variant=variant)
        assert "knee flexion" in text.lower() and "78°" in text and "90°" in text
        assert len(text) < len(corrective_text(violation(value=78.0)))


def test_instruction_names_the_exercise_and_its_cues() -> None:
    from workbench.exercises import load_catalogue

    cat = load_catalogue()
    assert instruction_text(cat.get("squat")).startswith("Let's do bodyweight squats! Sit deeper at the bottom")
    assert instruction_text(cat.get("plank")).startswith("Let's hold a plank!")


@pytest.mark.parametrize(
    ("text", "kind"),
    [
        ("Nice job!", "motivational"),
        ("Keep going", "motivational"),
        ("Keep it up!", "motivational"),
        ("Let's go!", "motivational"),
        ("You got this", "motivational"),
        ("That's better, keep it up!", "motivational"),
        ("That's 10", "counting"),
        ("5 more reps", "counting"),
        ("Ten!", "counting"),
        ("One more!", "counting"),
        ("20 seconds, hold it there!", "counting"),
        ("Last one, make it count", "counting"),
        ("Go lower", "corrective"),
        ("Keep your back straight", "corrective"),
        ("Lower your body more", "corrective"),
        ("Don't lean forward", "corrective"),
        ("Push your knees out", "corrective"),
        ("Knee flexion 85° (target: 90°). Increase knee flexion by 5° at the bottom phase.", "corrective"),
        ("Let's start with some squats", "instructional"),
        ("Get into a plank position", "instructional"),
        ("Stand with your feet shoulder-width apart", "instructional"),
        ("Breathe out as you push up.", "instructional"),
        ("Push it!", "motivational"),
    ],
)
def test_classify_utterance_on_qevd_style_phrases(text: str, kind: str) -> None:
    assert classify_utterance(text) == kind


# ----------------------------------------------------------------------------------------- decisions


def test_decisions_follow_the_coaching_rules() -> None:
    coach = RuleCoach(seed=3, tokens="words")
    coach.reset(load_catalogue().get("squat"), "")
    said = coach.decide(step(0, [], []))
    assert said is not None and said.kind == "instructional" and said.n_tokens == word_tokens(said.text)
    assert coach.decide(step(1, [], [])) is None  # nothing new: <next>

    knee, hip = violation(value=80.0), violation("hip_depth", "hip_flexion_r", 68.0, 75.0, cue="hips back")
    reps = [rep(0, knee, hip)]
    said = coach.decide(step(8, reps, reps[-1:]))
    assert said is not None and said.kind == "corrective"
    assert said.text.startswith("Right knee flexion 80° (target: 90°)")  # the worst first
    assert said.evidence.rep == 0 and said.evidence.violations[0] is knee and said.evidence.context_motion == "ctx"

    reps.append(rep(1, violation(value=81.0, rep=1), violation("hip_depth", "hip_flexion_r", 70.0, 75.0, rep=1)))
    said = coach.decide(step(16, reps, reps[-1:]))
    assert said is not None and "hip flexion 70°" in said.text  # rotated: not the same cue twice in a row

    reps.append(rep(2, violation(value=82.0, rep=2)))
    said = coach.decide(step(24, reps, reps[-1:]))
    assert said is not None and "82°" in said.text and not said.text.startswith("Right knee flexion 82° (")  # level 1

    reps.append(rep(3))
    said = coach.decide(step(32, reps, reps[-1:]))
    assert said is not None and said.kind == "motivational"  # a clean rep after corrections

    reps.append(rep(4))
    said = coach.decide(step(40, reps, reps[-1:]))
    assert said is not None and said.kind == "counting" and re.search(r"\b5\b", said.text)


def test_a_repeated_fault_escalates_then_is_mentioned_every_other_rep() -> None:
    coach = RuleCoach(tokens="words")
    coach.reset(load_catalogue().get("squat"), "")
    coach.decide(step(0, [], []))
    reps: list[Rep] = []
    spoken = []
    for k in range(7):
        reps.append(rep(k, violation(value=80.0 + k, rep=k)))
        said = coach.decide(step(8 * (k + 1), reps, reps[-1:]))
        spoken.append(None if said is None else said.text)
    assert spoken[0] is not None and spoken[0].startswith("Right knee flexion 80° (target: 90°).")
    assert spoken[2] is not None and spoken[2].startswith("Sit deeper at the bottom!")  # level 2: the cue first
    assert [s is None for s in spoken[3:]] == [True, False, True, False]


def test_same_seed_same_words_and_holds_count_seconds() -> None:
    def run(seed: int) -> list[str]:
        coach = RuleCoach(seed=seed, tokens="words")
        coach.reset(load_catalogue().get("plank"), "")
        out = []
        for k in range(0, 200):
            inp = DecisionInput(
                step=k,
                t_s=k / 4,
                exercise="plank",
                context_morph="",
                context_motion="",
                reps=(),
                new_reps=(),
                phase="hold" if k >= 8 else None,
            )
            said = coach.decide(inp)
            if said is not None:
                out.append(f"{inp.t_s}:{said.kind}:{said.text}")
        return out

    first = run(1)
    assert first == run(1)
    checks = [line for line in first if ":counting:" in line]
    # the hold starts at step 8 (2.0 s): 10, 20, 30, 40 s held at 12, 22, 32, 42 s
    assert [float(c.split(":")[0]) for c in checks] == [12.0, 22.0, 32.0, 42.0]
    assert [re.search(r"(\d+) seconds", c).group(1) for c in checks] == ["10", "20", "30", "40"]  # type: ignore[union-attr]


# ----------------------------------------------------------------------------- evaluation helpers


def test_feedback_at_quotes_the_latest_flawed_rep() -> None:
    track = squat_track(4, depths_deg=[100, 80, 100, 100], rest_s=0.5)
    analysis = analyze(track, "squat")
    flawed = analysis.reps[1]
    worst = max(flawed.violations, key=lambda v: v.deviation_deg)
    assert worst.value_deg == pytest.approx(80.0, abs=1.0)
    cat = load_catalogue()
    assert feedback_at(analysis, flawed.end_s - 0.01, catalogue=cat) == instruction_text_of("squat")  # none yet
    assert feedback_at(analysis, flawed.end_s - 0.01) is None  # no catalogue: no opening line to quote
    text = feedback_at(analysis, flawed.end_s, catalogue=cat)
    assert text is not None and f"{worst.value_deg:.0f}° (target: 90°)" in text and "knee flexion" in text
    assert feedback_at(analysis, 1e6, catalogue=cat) == text  # later clean reps: the last flawed one is the answer
    assert feedback_at(analysis.to_json(), flawed.end_s + 0.5, catalogue=cat) == text
    session = CoachingSession("s", "squat", track.duration_s, [], track=track)
    assert feedback_at(session, flawed.end_s + 0.5, catalogue=cat) == text


def instruction_text_of(key: str) -> str:
    from workbench.exercises import load_catalogue

    return instruction_text(load_catalogue().get(key))
