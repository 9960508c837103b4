"""The 4 Hz streaming decision loop: step schedule, simulated speech, chunking, evidence, synthetic sessions."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pytest

from tests.conftest import squat_track
from workbench.coach.coaching import MAX_UTTERANCE_TOKENS, DecisionInput, Utterance
from workbench.coach.loop import CoachStream, live_phase, run_coach, speech_skip
from workbench.coach.rule_coach import RuleCoach
from workbench.coach.synthetic_sessions import synthetic_sessions
from workbench.exercises import load_catalogue
from workbench.exercises.catalogue import Exercise
from workbench.motion.analysis import analyze
from workbench.pose.synthetic import Fault, synthesize
from workbench.skeleton import dof


@dataclass
class ScriptedCoach:
    """Speaks ``script[step]`` tokens at the given steps, and records every step it was asked about."""

    script: dict[int, int] = field(default_factory=dict)
    calls: list[DecisionInput] = field(default_factory=list)
    resets: int = 0

    @property
    def name(self) -> str:
        return "scripted"

    def reset(self, exercise: Exercise, context_morph: str) -> None:
        self.resets += 1
        self.calls = []

    def decide(self, inp: DecisionInput) -> Utterance | None:
        self.calls.append(inp)
        n = self.script.get(inp.step)
        return None if n is None else Utterance(text="x " * n, n_tokens=n, kind="motivational")


@pytest.mark.parametrize(
    ("n", "skip"),
    [
        (0, 0),
        (1, 0),
        (2, 0),
        (3, 1),
        (5, 1),
        (6, 2),
        (11, 3),
        (12, 4),
        (13, 4),
        (36, 12),
        (127, 42),
        (128, 42),
        (500, 42),
    ],
)
def test_speech_skip_is_floor_n_over_12_times_4(n: int, skip: int) -> None:
    assert speech_skip(n) == skip


def test_steps_are_skipped_while_speaking() -> None:
    track = squat_track(3, rest_s=0.5)  # 7.5 s: steps 0 … 30
    coach = ScriptedCoach(script={0: 12, 5: 3, 7: 500})
    events = run_coach(coach, track, load_catalogue().get("squat"))
    called = [c.step for c in coach.calls]
    # 12 tokens at step 0 → steps 1-4 skipped; 3 at 5 → 6 skipped; 500 (capped to 128) at 7 → 8-49 skipped
    assert called == [0, 5, 7]
    assert [(e.step, e.t_s, e.n_tokens) for e in events] == [
        (0, 0.0, 12),
        (5, 1.25, 3),
        (7, 1.75, MAX_UTTERANCE_TOKENS),
    ]
    assert coach.resets == 1


def test_every_step_fires_once_at_its_time_and_sees_no_future_frame() -> None:
    track = squat_track(2, rest_s=0.5)  # 30 fps, 165 frames: t = 0 … 5.467 s
    coach = ScriptedCoach()
    run_coach(coach, track, load_catalogue().get("squat"))
    steps = [c.step for c in coach.calls]
    assert steps[:22] == list(range(22))  # t = 0, 0.25, … 5.25
    assert steps[22:] in ([], [22]) and (steps[22:] == [] or coach.calls[-1].new_reps)  # finish: only for a rep
    assert all(c.t_s == c.step / 4 for c in coach.calls)
    for c in coach.calls:  # every rep handed over was finished by then
        assert all(r.end_s <= c.t_s for r in c.new_reps)
    assert sum(len(c.new_reps) for c in coach.calls) == 2  # each rep handed over exactly once (the 2nd at finish)


def test_a_gap_in_the_frames_fires_the_missed_steps_together() -> None:
    ex = load_catalogue().get("squat")
    coach = ScriptedCoach()
    stream = CoachStream(coach, ex, np.ones(46, bool), 30.0)
    row = np.zeros(46)
    for t in (0.0, 0.1, 1.05, 1.1):
        stream.push(row, t)
    assert [c.step for c in coach.calls] == [0, 1, 2, 3, 4]  # 0 at t=0; 0.25 … 1.0 when the 1.05 s frame came


def test_video_frames_go_to_the_step_that_follows_them() -> None:
    track = squat_track(1, rest_s=0.5)
    video = [(i / 16, np.full((4, 6, 3), i, np.uint8)) for i in range(48)]  # 16 fps for 3 s
    coach = ScriptedCoach(script={2: 3})  # speaks at step 2 (0.5 s) → step 3 skipped
    run_coach(coach, track, load_catalogue().get("squat"), frames=video)
    got = {c.step: c.frames for c in coach.calls}
    assert got[0] is not None and got[0].shape == (1, 4, 6, 3)  # the frame at t = 0
    assert got[1] is not None and got[1][:, 0, 0, 0].tolist() == [1, 2, 3, 4]  # (0, 0.25]
    assert got[4] is not None and got[4][:, 0, 0, 0].tolist() == list(range(9, 17))  # (0.5, 1.0]: 3 was skipped
    assert 3 not in got


def test_pushing_frame_by_frame_gives_what_run_coach_gives() -> None:
    ex = load_catalogue().get("squat")
    track, _ = synthesize(ex, 8, jitter=0.05, noise_deg=1.5, seed=4, faults=(Fault("shallow", (2, 5), 30),))
    whole = run_coach(RuleCoach(seed=2, tokens="words"), track, ex)
    stream = CoachStream(RuleCoach(seed=2, tokens="words"), ex, track.observed, track.fps)
    live = []
    for row, t, conf in zip(track.q, track.t, track.confidence, strict=True):
        live += stream.push(row, float(t), float(conf))
    live += stream.finish()
    assert live == whole == stream.events
    assert stream.finish() == []  # idempotent


def test_rule_coach_corrects_the_shallow_reps_just_after_they_end() -> None:
    ex = load_catalogue().get("squat")
    track, _ = synthesize(ex, 8, noise_deg=1.0, seed=7, faults=(Fault("shallow", (2, 5), 30),))
    analysis = analyze(track, ex)
    events = run_coach(RuleCoach(tokens="words"), track, ex)
    corrective = [e for e in events if e.kind == "corrective"]
    assert [e.evidence.rep for e in corrective] == [2, 5]
    for e in corrective:
        rep = analysis.reps[e.evidence.rep]  # type: ignore[index]
        # the segmenter confirms a rep once the signal has risen again: within 1.5 s of its end, plus one step
        assert rep.end_s <= e.t_s <= rep.end_s + 1.5 + 0.25
        worst = e.evidence.violations[0]
        assert worst == max(rep.violations, key=lambda v: v.deviation_deg)
        assert dof(worst.dof).label.split(" ", 1)[1] in e.text.lower()  # "knee flexion"
        assert f"{worst.value_deg:.0f}° (target: {worst.target_deg:.0f}°)" in e.text
    assert events[0].kind == "instructional" and events[0].t_s == 0.0
    counts = [e for e in events if e.kind == "counting"]
    assert counts and all(str(e.evidence.rep + 1) in e.text for e in counts)  # type: ignore[operator]
    assert all(e.text.count(str(e.evidence.rep + 1)) for e in counts)  # type: ignore[operator]


def test_live_phase_goes_descent_then_ascent_within_a_rep() -> None:
    ex = load_catalogue().get("squat")
    track = squat_track(3, rest_s=0.5)
    stream = CoachStream(ScriptedCoach(), ex, track.observed, track.fps)
    phases = []
    for row, t in zip(track.q, track.t, strict=True):
        stream.push(row, float(t))
        phases.append(live_phase(stream.tracker))
    changes = [p for i, p in enumerate(phases) if i == 0 or p != phases[i - 1]]
    assert changes[:4] == [None, "descent", "ascent", None] or changes[:3] == [None, "descent", "ascent"]
    assert changes.count("descent") == 3 and changes.count("ascent") == 3


def test_synthetic_sessions_are_deterministic_and_grounded() -> None:
    sessions = synthetic_sessions(3, exercises=("squat", "plank"), seed=5)
    again = synthetic_sessions(1, exercises=("squat", "plank"), seed=5)
    assert again[0].utterances == sessions[0].utterances and again[0].session_id == sessions[0].session_id
    assert np.array_equal(again[0].track.q, sessions[0].track.q)  # type: ignore[union-attr]
    squat = sessions[0]
    assert squat.exercise == "squat" and squat.utterances[0].kind == "instructional"
    assert all(u.kind is not None for u in squat.utterances)
    times = [u.t_s for u in squat.utterances]
    assert times == sorted(times) and all(t * 4 == int(t * 4) for t in times)  # on the 4 Hz grid
    faults = squat.metadata["faults"]
    assert faults and any(u.kind == "corrective" for u in squat.utterances)
    corrected = {
        int(ev[0].split()[1].rstrip(":"))
        for ev in (e["evidence"] for e in squat.metadata["events"])
        if ev and ":" in ev[0]
    }
    assert corrected <= {int(k) for k in faults}  # type: ignore[union-attr]
    assert sessions[1].exercise == "plank" and any(u.kind == "counting" for u in sessions[1].utterances)
    other = synthetic_sessions(1, exercises=("squat",), seed=6)[0]
    assert not np.array_equal(other.track.q[:100], squat.track.q[:100])  # type: ignore[union-attr]


def test_a_minute_long_track_runs_far_above_real_time() -> None:
    """Perf guard (the measured figure is in BENCHMARKS.md): 60 s of frames in well under a second."""
    import time

    ex = load_catalogue().get("squat")
    track, _ = synthesize(ex, 24, noise_deg=1.0, seed=1, faults=(Fault("shallow", (3, 9), 30),))
    t0 = time.perf_counter()
    run_coach(RuleCoach(tokens="words"), track, ex)
    assert time.perf_counter() - t0 < track.duration_s / 20


def test_the_feedback_path_decodes_the_video_for_a_coach_that_wants_frames(tmp_path: Path) -> None:
    from workbench.coach.feedback import clip_feedback
    from workbench.io.video import write_video

    track = squat_track(1, rest_s=0.5)  # 3 s
    video = write_video(tmp_path / "clip.mp4", (np.full((32, 48, 3), 2 * i, np.uint8) for i in range(90)), 30.0)
    ex = load_catalogue().get("squat")

    def _coach_feedback(coach: ScriptedCoach, *_: object) -> list:  # type: ignore[type-arg]
        return clip_feedback(coach, track, ex, context_morph="", reps=(), video=video, min_confidence=0.3)

    seeing = ScriptedCoach(script={0: 1})
    seeing.video_fps = 16.0  # type: ignore[attr-defined]
    feedback = _coach_feedback(seeing)
    assert [f.step for f in feedback] == [0] and feedback[0].kind == "motivational"
    sizes = [0 if c.frames is None else len(c.frames) for c in seeing.calls]
    assert sizes[:3] == [1, 4, 4] and sum(sizes) == 48  # 16 fps over 3 s, each frame handed over once
    assert seeing.calls[1].frames.shape[1:] == (32, 48, 3)  # type: ignore[union-attr]

    blind = ScriptedCoach()
    _coach_feedback(blind)
    assert all(c.frames is None for c in blind.calls)


class MorphSpy:
    """A silent coach that records the C_morph each session was reset with."""

    name = "spy"

    def __init__(self) -> None:
        self.morphs: list[str] = []

    def reset(self, exercise: Exercise, context_morph: str) -> None:
        self.morphs.append(context_morph)

    def decide(self, inp: DecisionInput) -> Utterance | None:
        return None


def test_a_coach_is_shown_the_c_morph_it_was_trained_with() -> None:
    """The neural coach reads C_morph in its prefix. Training replays sessions with the session's C_morph ("not
    measured" without a body estimate); prediction and the loop once passed "" instead — a prompt the model
    never saw, which turned its opening "Let's do bodyweight squats!" into "Let's do a seated bench press!"."""
    from workbench.eval.baselines import predict_sessions
    from workbench.motion.context import morph_context

    session = synthetic_sessions(1, exercises=("squat",), seed=4)[0]
    spy = MorphSpy()
    run_coach(spy, session.track, load_catalogue().get("squat"))
    assert spy.morphs == [morph_context(None)] == [session.context_morph]
    session.metadata["context_morph"] = "User body: height 1.80m, mass 80.00kg, chest 1.00m, waist 0.85m, hips 1.00m."
    predict_sessions([session], spy, load_catalogue())
    assert spy.morphs[-1] == session.metadata["context_morph"]


@dataclass
class LaggingCoach(ScriptedCoach):
    """Reads a completed rep one step late, as the neural coach does: speaks at the step after reps complete."""

    context_lag_steps: int = 1
    _due: bool = False

    def decide(self, inp: DecisionInput) -> Utterance | None:
        self.calls.append(inp)
        due, self._due = self._due, bool(inp.new_reps)
        return Utterance(text="that one", n_tokens=2, kind="corrective") if due else None


@pytest.mark.parametrize("lag", [0, 1, 2])
def test_a_coach_that_reads_reps_a_step_late_still_gets_to_speak_about_the_last_one(lag: int) -> None:
    track = squat_track(2, rest_s=0.0)  # the second rep is only closed by finish()
    coach = LaggingCoach(context_lag_steps=lag)
    events = run_coach(coach, track, load_catalogue().get("squat"))
    last_frame_step = int(track.t[-1] * 4 + 1e-6)
    finish_step = next(c.step for c in reversed(coach.calls) if c.new_reps)
    assert finish_step == last_frame_step + 1  # the step finish() fires for the rep it closed
    if lag == 0:  # a coach without a lag is called once at finish, as before
        assert coach.calls[-1].step == finish_step and events[-1].step < finish_step
    else:  # one step more, at which it speaks; a longer lag stops once it has spoken
        assert [c.step for c in coach.calls if c.step > finish_step] == [finish_step + 1]
        assert events[-1].step == finish_step + 1 and events[-1].t_s == (finish_step + 1) / 4
