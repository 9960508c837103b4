"""Training the coach on synthetic sessions with a tiny random Llama: data preparation through the streaming
loop, both stages, checkpoints with provenance, and resuming to exactly the same weights."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from tests.coach_support import tiny_model, tokenizer
from workbench.coach.sessions import CoachingSession, TimedUtterance
from workbench.coach.training_data import prepare as prepare_with
from workbench.coach.training_data import session_example as example_with
from workbench.exercises import load_catalogue
from workbench.model.configuration_coach import END, FEEDBACK, NEXT
from workbench.model.modeling_coach import CoachModel
from workbench.model.tokens import VIS, speech_skip
from workbench.model.train import STATE_NAME, TrainSettings, train, windows


def session_example(session: CoachingSession, tok: object, config: object) -> object:
    return example_with(session, tok, config, load_catalogue())  # type: ignore[arg-type]


def prepare(sessions: list[CoachingSession], tok: object, config: object, window_steps: int) -> object:
    return prepare_with(sessions, tok, config, window_steps, load_catalogue())  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def squat_session() -> CoachingSession:
    from workbench.exercises import load_catalogue
    from workbench.pose.synthetic import synthesize

    track, _ = synthesize(load_catalogue().get("squat"), 3, period_s=2.0, seed=0)
    utts = [
        TimedUtterance(1.1, "Sit back into your hips."),
        TimedUtterance(1.2, "Dropped: too close."),
        TimedUtterance(4.0, "Good depth, keep going."),
    ]
    return CoachingSession("s0", "squat", float(track.t[-1]), utts, track=track)


def test_session_replay_places_utterances_and_skips_speech_time(squat_session: CoachingSession) -> None:
    model = tiny_model()
    ex = session_example(squat_session, tokenizer(), model.config)
    assert ex is not None
    said = [(s.step, s.utterance) for s in ex.steps if s.utterance]
    # 1.1 s → first step at or after it is step 5 (1.25 s); the 1.2 s one falls due at the same step and is
    # dropped (one utterance per step); 4.0 s is step 16.
    assert said == [(5, "Sit back into your hips."), (16, "Good depth, keep going.")]
    n = len(tokenizer().encode(" Sit back into your hips.", add_special_tokens=False))
    called = [s.step for s in ex.steps]
    assert all(k not in called for k in range(6, 6 + speech_skip(n)))  # the coach is not called while speaking
    assert 6 + speech_skip(n) in called
    assert ex.steps[0].context_motion is not None and ex.labels.sum() == 8  # squat: 8 catalogue salient joints
    refreshes = [s.step for s in ex.steps if s.context_motion is not None]
    assert len(refreshes) >= 3  # step 0 and one per completed rep


def test_the_line_about_the_last_rep_is_taught_at_the_step_after_the_stream_ends(
    squat_session: CoachingSession,
) -> None:
    """The stream's last rep completes at ``finish`` (step k); a line due then is taught at k + 1, as every line
    due at a rep-completing step is, where the C_motion stating that rep is in view — not dropped."""
    track = squat_session.track
    assert track is not None
    finish_t = (int(float(track.t[-1]) * 4 + 1e-6) + 1) / 4  # the step finish() fires for the closed rep
    last = CoachingSession(
        "s2", "squat", squat_session.duration_s, [TimedUtterance(finish_t, "Last one!")], track=track
    )
    ex = session_example(last, tokenizer(), tiny_model().config)
    assert ex is not None
    k = ex.steps[-2]
    assert k.step == finish_t * 4 and k.context_motion is not None and k.utterance is None  # the refresh step
    assert (ex.steps[-1].step, ex.steps[-1].utterance) == (k.step + 1, "Last one!")


def test_windows_restate_c_motion_and_restart_steps(squat_session: CoachingSession) -> None:
    model = tiny_model()
    ex = session_example(squat_session, tokenizer(), model.config)
    assert ex is not None
    ws = windows(ex, 8)
    assert sum(len(w) for w in ws) == len(ex.steps)
    for w in ws:
        assert w[0].step == 0 and w[0].context_motion is not None


def test_plan_layout_and_weights(squat_session: CoachingSession) -> None:
    model = tiny_model()
    ds = prepare([squat_session], tokenizer(), model.config, window_steps=64)
    plan = ds.plans[0]
    c = model.config
    n_next = plan.labels.count(c.special_id(NEXT))
    assert c.special_id(NEXT) not in plan.ids  # predicted, never an input
    assert plan.ids.count(c.special_id(FEEDBACK)) == plan.ids.count(c.special_id(END)) == 2
    assert plan.labels.count(c.special_id(FEEDBACK)) == plan.labels.count(c.special_id(END)) == 2
    assert plan.ids.count(VIS) == n_next + 2  # one visual token per called step
    for i, tok in enumerate(plan.ids):
        label = plan.labels[i]
        if label == c.special_id(NEXT):
            assert tok == VIS and plan.weights[i] == pytest.approx(0.1)  # z_t predicts <next> …
        elif label == c.special_id(FEEDBACK):
            assert tok == VIS and plan.weights[i] == 1.0 and plan.ids[i + 1] == c.special_id(FEEDBACK)
        elif tok == c.special_id(FEEDBACK) or (0 <= tok < c.lm_vocab and label >= 0):
            assert plan.weights[i] == 1.0 and label == plan.ids[i + 1]  # teacher forcing inside an utterance
        else:
            assert label == -100 and plan.weights[i] == 0.0


def test_two_stages_then_resume_gives_identical_weights(tmp_path: Path, squat_session: CoachingSession) -> None:
    tok = tokenizer()
    settings = TrainSettings(stage="all", steps=2, batch_size=2, lr=1e-3, window_steps=16, save_every=1)
    model = tiny_model(seed=1)
    ds = prepare([squat_session], tok, model.config, settings.window_steps)
    assert len(ds) >= 2
    straight = train(model, ds, settings, tmp_path / "a")
    assert straight.steps_done == {"1": 2, "2": 2}
    assert straight.losses["1"][0] != straight.losses["1"][1]  # it trains
    # interrupted after stage 1 step 1 (a checkpoint every step), then resumed
    half = tiny_model(seed=1)
    train(half, ds, TrainSettings(**{**settings.__dict__, "steps": 1}), tmp_path / "b")
    state = torch.load(tmp_path / "b" / STATE_NAME, weights_only=False)
    assert state["done"] == {"1": 1, "2": 1} and state["optimizer_stage"] == "2"
    resumed_model = CoachModel.from_pretrained(tmp_path / "b", half.lm)
    assert resumed_model.config.selector_trained
    resumed = train(resumed_model, ds, settings, tmp_path / "b", resume=True)
    assert resumed.steps_done == straight.steps_done
    assert len(resumed.losses["1"]) == 2 and resumed.losses["1"][0] == straight.losses["1"][0]  # not redone
    prov = json.loads((tmp_path / "a" / "provenance.json").read_text())
    assert prov["steps"] == {"1": 2, "2": 2} and prov["seed"] == 0 and prov["language_model"] == "tiny-random-llama"
    assert prov["code_version"] == "coach/1" and prov["data"] == "synthetic" and "black" in prov["frames"]
    cfg = json.loads((tmp_path / "a" / "coach_config.json").read_text())
    assert cfg["selector_trained"] is True


def test_resume_mid_stage_restores_optimizer_and_rng(tmp_path: Path, squat_session: CoachingSession) -> None:
    tok = tokenizer()
    settings = TrainSettings(stage="2", steps=3, batch_size=2, lr=1e-3, window_steps=16, save_every=1)
    model = tiny_model(seed=2)
    ds = prepare([squat_session], tok, model.config, settings.window_steps)
    train(model, ds, settings, tmp_path / "a")
    first = tiny_model(seed=2)
    train(first, ds, TrainSettings(**{**settings.__dict__, "steps": 2}), tmp_path / "b")
    # a crash after step 2's checkpoint: the saved optimizer state is the one after 2 steps
    resumed = CoachModel.from_pretrained(tmp_path / "b", first.lm)
    out = train(resumed, ds, settings, tmp_path / "b", resume=True)
    assert out.steps_done == {"2": 3}
    a_model = CoachModel.from_pretrained(tmp_path / "a", model.lm)
    assert a_model.config.decode_window_steps == 16  # it decodes in the windows it was trained on
    a = a_model.state_dict()
    b = CoachModel.from_pretrained(tmp_path / "b", model.lm).state_dict()
    for k in a:
        torch.testing.assert_close(a[k], b[k], rtol=1e-6, atol=1e-7, msg=k)


def test_batch_moves_to_the_models_device(squat_session: CoachingSession) -> None:
    model = tiny_model()
    batch = prepare([squat_session], tokenizer(), model.config, 8).batch([0, 1])  # type: ignore[attr-defined]
    moved = batch.to("meta")  # a device without storage: the GPU's stand-in on a CPU-only machine
    tensors = [k for k, v in vars(batch).items() if isinstance(v, torch.Tensor)]
    assert "joint_labels" in tensors and all(getattr(moved, k).device.type == "meta" for k in tensors)
    assert moved.n_steps == batch.n_steps and moved.frames is None and batch.ids.device.type == "cpu"


def test_train_command_is_registered_without_heavy_imports() -> None:
    import subprocess
    import sys

    code = (
        "import sys, argparse; from workbench.cli.train import register_train; "
        "p = argparse.ArgumentParser(); register_train(p.add_subparsers()); "
        "a = p.parse_args(['train', '--stage', '2', '--steps', '3', '--resume']); "
        "print(a.stage, a.steps, a.resume, 'torch' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()
    assert out == ["2", "3", "True", "False"]


def test_streaming_decode_builds_the_training_sequence(squat_session: CoachingSession) -> None:
    """Replaying a session through the neural coach fills its KV cache with exactly the tokens of the training
    plan (refresh blocks after the action of the step a rep completed at, <next> between visual tokens)."""
    from workbench.coach.loop import run_coach
    from workbench.coach.neural import NeuralCoach

    model = tiny_model(seed=7)
    tok = tokenizer()
    silent = CoachingSession("s1", "squat", squat_session.duration_s, [], track=squat_session.track)
    ex = session_example(silent, tok, model.config)
    assert ex is not None
    plan = prepare([silent], tok, model.config, window_steps=10_000).plans[0]
    coach = NeuralCoach(model, tok, weights="float32")
    run_coach(coach, silent.track, load_catalogue().get("squat"), context_morph=ex.context_morph)  # type: ignore[arg-type]
    coach._wait()
    # the coach never speaks (zero output rows): the cache holds exactly the plan's tokens
    assert coach.decoder.pos == len(plan.ids)
    assert coach.stats.steps == len(ex.steps) and coach.stats.refreshes == sum(
        s.context_motion is not None for s in ex.steps
    )


def test_qevd_format_sessions_train(tmp_path: Path) -> None:
    """``--data QEVD_DIR``: the evaluation issue's loader on the miniature split in the published format."""
    from workbench.cli.train import load_sessions
    from workbench.data.miniature import build_miniature
    from workbench.model.train import TrainingError

    root = build_miniature(tmp_path / "qevd")
    sessions = load_sessions(str(root))
    assert sessions and all(s.track is not None for s in sessions)
    model = tiny_model(seed=9)
    ds = prepare(sessions, tokenizer(), model.config, window_steps=16)
    assert len(ds) > 0 and len(set(ds.sources)) == len(
        {s.session_id for s in sessions if s.track is not None and s.track.q.shape[0] > 0}
    )
    out = train(
        model, ds, TrainSettings(stage="2", steps=1, batch_size=2, window_steps=16, data=str(root)), tmp_path / "ck"
    )
    assert out.steps_done == {"2": 1}
    with pytest.raises(TrainingError, match="expected 'synthetic' or a QEVD-fit-coach folder"):
        load_sessions(str(tmp_path / "missing"))


def test_training_on_synthetic_sessions_and_a_bio_rewritten_split_together(tmp_path: Path) -> None:
    """`biocoach train --data synthetic --data BIO/`: the sessions of both sources, in order; the rewritten split's
    lines are the ones trained on (its corrective lines now state the motion analysis's numbers)."""
    from workbench.cli.train import training_sessions
    from workbench.data.bio_builder import build_bio
    from workbench.data.miniature import TRAIN_SPLIT, build_miniature
    from workbench.store.database import Database

    mini = build_miniature(tmp_path / "mini", splits=(TRAIN_SPLIT,))
    bio = tmp_path / "bio"
    build_bio(mini / TRAIN_SPLIT, bio)
    db = Database(tmp_path / "s.duckdb")
    sessions = training_sessions(["synthetic", str(bio)], n_synthetic=2, exercises=("squat",), db=db)
    sources = [s.source.split(":")[0] for s in sessions]
    assert sources[:2] == ["synthetic", "synthetic"] and len(sessions) > 2
    assert all(s.track is not None for s in sessions)
    rewritten = [u.text for s in sessions[2:] for u in s.utterances]
    assert any("°" in text for text in rewritten), rewritten  # the bio split's numbers, not the original cues
