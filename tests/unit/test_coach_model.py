"""The coaching model's pieces on a tiny random Llama: shapes, causality, masking, top-K, fusion init, the
α-weighted loss, the incremental decoder, save → load, constrained decoding."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
import torch

from tests.coach_support import tiny_config, tiny_lm, tiny_model, tokenizer
from workbench.exercises import load_catalogue
from workbench.model.backbone import BackboneCheckpointError, CausalVisualBackbone, load_backbone_checkpoint
from workbench.model.configuration_coach import END, FEEDBACK, NEXT, CoachConfig, CoachConfigError
from workbench.model.modeling_coach import (
    CoachModel,
    DoFSelector,
    balanced_bce,
    constrain_utterance_logits,
    top_k_joints,
)
from workbench.model.tokens import StepExample, build_plan, collate, dof_mask, masked_motion_context, speech_skip
from workbench.motion.results import Violation
from workbench.skeleton import JOINT_NAMES, N_DOFS, dof_index

SMALL = CoachConfig(d_vis=64, backbone_channels=(8, 8, 16, 32))


def _frames(t: int, seed: int = 0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return torch.rand(1, t, 3, 224, 160, generator=g)


# ------------------------------------------------------------------------------------------- backbone
def test_backbone_gives_35_tokens_per_4_frames_at_4hz() -> None:
    torch.manual_seed(0)
    bb = CausalVisualBackbone(SMALL).eval()
    with torch.no_grad():
        out = bb(_frames(16))
    assert out.shape == (1, 4, 35, 64)  # 16 frames at 16 fps = 1 s = 4 decision steps of 7×5 tokens


def test_backbone_is_causal_and_step_equals_clip() -> None:
    torch.manual_seed(0)
    bb = CausalVisualBackbone(SMALL).eval()
    a = _frames(12, seed=1)
    b = a.clone()
    b[:, 8:] = torch.rand(1, 4, 3, 224, 160)  # change only the last step's frames
    with torch.no_grad():
        ya, yb = bb(a), bb(b)
        assert torch.equal(ya[:, :2], yb[:, :2])  # earlier tokens never see later frames
        assert not torch.allclose(ya[:, 2], yb[:, 2])
        state = bb.initial_state()
        steps = []
        for k in range(3):
            tok, state = bb.step(a[:, 4 * k : 4 * k + 4], state)
            steps.append(tok)
    torch.testing.assert_close(torch.stack(steps, 1), ya, rtol=1e-5, atol=1e-5)


def test_backbone_rejects_wrong_frame_size() -> None:
    bb = CausalVisualBackbone(SMALL)
    with pytest.raises(ValueError, match=r"expected \(batch, T, 3, 224, 160\).*got \(1, 4, 3, 160, 224\)"):
        bb(torch.zeros(1, 4, 3, 160, 224))


def test_backbone_checkpoint_loads_with_prefix_and_names_mismatch(tmp_path: Path) -> None:
    from safetensors.torch import save_file

    torch.manual_seed(1)
    src = CausalVisualBackbone(SMALL)
    good = tmp_path / "good.safetensors"
    save_file({f"backbone.{k}": v.contiguous() for k, v in src.state_dict().items()}, str(good))
    dst = CausalVisualBackbone(SMALL)
    load_backbone_checkpoint(dst, good)
    assert all(torch.equal(dst.state_dict()[k], v) for k, v in src.state_dict().items())
    other = CausalVisualBackbone(CoachConfig(d_vis=128, backbone_channels=(8, 8, 16, 32)))
    bad = tmp_path / "bad.safetensors"
    save_file({k: v.contiguous() for k, v in other.state_dict().items()}, str(bad))
    with pytest.raises(BackboneCheckpointError) as err:
        load_backbone_checkpoint(dst, bad)
    msg = str(err.value)
    assert "spatial.8.weight: expected (64, 32, 3, 3), got (128, 32, 3, 3)" in msg and "d_vis=64" in msg
    with pytest.raises(BackboneCheckpointError, match="does not exist"):
        load_backbone_checkpoint(dst, tmp_path / "missing.safetensors")


# ------------------------------------------------------------------------------------ DoF selection
def test_selector_architecture_and_top_k() -> None:
    sel = DoFSelector(CoachConfig())
    linears = [m for m in sel.mlp if isinstance(m, torch.nn.Linear)]
    assert [(m.in_features, m.out_features) for m in linears] == [(256, 512), (512, 256), (256, 24)]
    drops = [m.p for m in sel.mlp if isinstance(m, torch.nn.Dropout)]
    assert drops == [0.1, 0.1]
    sel.eval()
    s = sel(torch.randn(3, 256))
    assert s.shape == (3, 24) and bool(((s > 0) & (s < 1)).all())
    scores = torch.tensor([[0.1 * i for i in range(24)]])  # joint 23 best, then 22, …
    assert top_k_joints(scores, 12).tolist() == [list(range(23, 11, -1))]


def test_balanced_bce_weights_classes_equally() -> None:
    labels = torch.zeros(1, 24)
    labels[0, :4] = 1
    scores = torch.full((1, 24), 0.5)
    assert float(balanced_bce(scores, labels)) == pytest.approx(math.log(2), rel=1e-5)  # 0.5·ln2 + 0.5·ln2
    scores = torch.where(labels > 0, 0.9, 0.5)  # only positives improve: half the loss moves
    assert float(balanced_bce(scores, labels)) == pytest.approx(0.5 * -math.log(0.9) + 0.5 * math.log(2), rel=1e-5)


def test_only_selected_joints_dofs_enter_c_motion() -> None:
    mask = dof_mask(["tibia_r", "femur_l"])
    assert mask.shape == (N_DOFS,)
    expected = {
        dof_index("knee_angle_r"),
        dof_index("hip_flexion_l"),
        dof_index("hip_adduction_l"),
        dof_index("hip_rotation_l"),
    }
    assert set(torch.nonzero(mask).flatten().tolist()) == expected
    v_knee = Violation(
        rep=1,
        check="depth",
        joint="tibia_r",
        dof="knee_angle_r",
        type="dynamic",
        value_deg=85,
        target_deg=90,
        bounds_deg=(90, None),
        deviation_deg=5,
        message="Right knee flexion insufficient (85° detected, 90° required)",
        cue="",
        phase="bottom",
        t_s=1.0,
        source="x",
    )
    v_spine = Violation(
        rep=1,
        check="spine",
        joint="lumbar_body",
        dof="lumbar_extension",
        type="stability",
        value_deg=7,
        target_deg=5,
        bounds_deg=(None, 5),
        deviation_deg=2,
        message="Lumbar extension unstable (7.0° variation, under 5° required)",
        cue="",
        phase="",
        t_s=1.0,
        source="x",
    )
    text = "Current pose: right knee 85°, left knee 88°, lumbar spine -3°.\nForm issues: x"
    out = masked_motion_context(text, [v_knee, v_spine], ["tibia_r", "tibia_l"])
    assert out == (
        "Current pose: right knee 85°, left knee 88°.\n"
        "Form issues: Right knee flexion insufficient (85° detected, 90° required)"
    )
    assert masked_motion_context(text, [v_knee], ["humerus_r"]).startswith("Current pose: no salient joint")


# --------------------------------------------------------------------------------------------- fusion
def test_cross_attention_init_and_residual() -> None:
    model = tiny_model()
    f = model.fusion
    for lin in (f.q, f.k, f.v, f.o):
        bound = 0.1 * math.sqrt(6.0 / (lin.in_features + lin.out_features))
        assert float(lin.weight.abs().max()) <= bound + 1e-7
        assert float(lin.weight.abs().max()) > 0.5 * bound  # really initialised, not zero
    assert f.heads == 8 and f.k.in_features == 64  # keys come from the LM's hidden size
    vis, ctx = torch.randn(2, 35, 64), torch.randn(2, 7, 64)
    with torch.no_grad():
        f.o.weight.zero_()
        assert torch.equal(f(vis, ctx), vis)  # residual: z = F + CrossAttn(F, m, m)


def _batch(model: CoachModel, alpha: float = 0.1) -> tuple[object, int]:
    tok = tokenizer()
    steps = [
        StepExample(0, "Current pose: right knee 85°.\nForm issues: none"),
        StepExample(1, None),
        StepExample(2, None, "Bend your knees more."),
        StepExample(3 + speech_skip(6), None),
    ]
    plans = [
        build_plan(tok, model.config, "squat", "User body: height 1.80m.", steps, alpha=alpha),
        build_plan(tok, model.config, "squat", "User body: height 1.60m.", steps[:2], alpha=alpha),
    ]
    morph = [
        tok.encode("User body: height 1.80m.", add_special_tokens=False),
        tok.encode("User body: height 1.60m.", add_special_tokens=False),
    ]
    return collate(plans, morph, pad_id=2), sum(p.labels.count(model.config.special_id(NEXT)) for p in plans)


def test_forward_shapes_and_alpha_weighting_is_exact() -> None:
    model = tiny_model().eval()
    batch, n_next = _batch(model)
    assert n_next == 5
    with torch.no_grad():
        a = model(batch, alpha=0.1)
        b = model(batch, alpha=1.0)
        c = model(batch, alpha=0.0)
    assert a.scores.shape == (2, 24)
    # targets: 5 <next> + (<feedback> + text + <eos_fb>)
    n_text = len(tokenizer().encode(" Bend your knees more.", add_special_tokens=False))
    assert a.n_targets == 5 + 1 + n_text + 1
    expected = (1.0 - 0.1) * float(a.ce_next_sum) / a.n_targets
    assert float(b.loss - a.loss) == pytest.approx(expected, rel=1e-5)
    assert float(c.loss) == pytest.approx(float(a.ce_other_sum) / a.n_targets, rel=1e-6)


def test_one_batch_overfit_of_fusion_layers() -> None:
    """The decision targets (<next>, <feedback>, <eos_fb>) are what the fusion layers and the added tokens'
    rows can fit on their own; the utterance text goes through the frozen LM's own head, which a random 2-layer
    LM cannot be steered to memorise (the real-LM overfit is in tests/integration/test_neural_coach.py)."""
    from workbench.model.train import trainable_parameters

    model = tiny_model(seed=3)
    batch, _ = _batch(model)
    batch.weights[(batch.labels >= 0) & (batch.labels < model.config.lm_vocab)] = 0.0  # decision targets only
    params = trainable_parameters(model, "2")
    names = {n for n, p in model.named_parameters() if p.requires_grad}
    assert names and all(n.startswith(("fusion.", "project.", "special_")) for n in names)
    assert not any(p.requires_grad for p in model.lm.parameters())
    opt = torch.optim.AdamW(params, lr=3e-2)
    model.train()
    first = None
    for _ in range(40):
        loss = model(batch).loss
        first = float(loss.detach()) if first is None else first
        opt.zero_grad()
        loss.backward()
        opt.step()
    with torch.no_grad():
        last = float(model(batch).loss)
    assert last < first / 20, (first, last)


def test_lm_is_not_modified_and_added_tokens_live_in_the_coach() -> None:
    lm = tiny_lm(0)
    before = {k: v.clone() for k, v in lm.state_dict().items()}
    model = CoachModel(tiny_config(lm), lm)
    assert model.config.special_tokens == (NEXT, FEEDBACK, END)
    assert [model.config.special_id(t) for t in (NEXT, FEEDBACK, END)] == [49152, 49153, 49154]
    batch, _ = _batch(model)
    model(batch).loss.backward()
    assert lm.get_input_embeddings().weight.shape[0] == 49152
    assert all(torch.equal(before[k], v) for k, v in lm.state_dict().items())
    assert not any(k.startswith("lm.") for k in model.state_dict())
    logits = model.output_logits(torch.randn(3, 64))
    assert logits.shape == (3, 49155)


def test_save_load_round_trip_is_bit_identical(tmp_path: Path) -> None:
    model = tiny_model(seed=5).eval()
    with torch.no_grad():
        model.special_head.normal_()  # not the init values: the file must carry them
    model.save_pretrained(tmp_path / "ck", {"data": "test"})
    again = CoachModel.from_pretrained(tmp_path / "ck", model.lm)
    assert again.config == model.config
    for k, v in model.state_dict().items():
        assert torch.equal(again.state_dict()[k], v), k
    batch, _ = _batch(model)
    with torch.no_grad():
        assert torch.equal(model(batch).loss, again(batch).loss)
    assert (tmp_path / "ck" / "provenance.json").read_text().count('"data": "test"') == 1


def test_checkpoint_for_another_lm_is_refused(tmp_path: Path) -> None:
    from workbench.model.modeling_coach import CoachCheckpointError

    model = tiny_model()
    model.save_pretrained(tmp_path / "ck")
    other = tiny_lm(0, vocab=32000)
    with pytest.raises(CoachCheckpointError, match=r"vocabulary 49152.*vocabulary 32000"):
        CoachModel.from_pretrained(tmp_path / "ck", other)


def test_config_json_round_trip_and_errors(tmp_path: Path) -> None:
    cfg = CoachConfig.paper()
    assert (cfg.d_vis, cfg.lm_visual_tokens, cfg.fusion_heads, cfg.d_vis // cfg.fusion_heads) == (1280, 35, 8, 160)
    cfg.save(tmp_path)
    assert CoachConfig.load(tmp_path) == cfg
    with pytest.raises(CoachConfigError, match="unknown key"):
        CoachConfig.from_json({"bogus": 1})
    with pytest.raises(CoachConfigError, match=r"coach_config\.json is missing"):
        CoachConfig.load(tmp_path / "nowhere")


# ------------------------------------------------------------------------------- incremental decoder
def test_fast_decoder_matches_the_hugging_face_forward() -> None:
    from workbench.model.fastlm import FastDecoder

    lm = tiny_lm(2)
    emb = lm.get_input_embeddings()(torch.randint(0, 49152, (1, 20)))
    with torch.no_grad():
        ref = lm(inputs_embeds=emb, output_hidden_states=True)
    dec = FastDecoder(lm, max_len=64)
    h1 = dec.append(emb[:, :13])
    h2 = dec.append(emb[:, 13:19])
    h3 = dec.append(emb[:, 19:])
    got = torch.cat([h1, h2, h3], dim=1)
    torch.testing.assert_close(got, ref.hidden_states[-1], rtol=1e-4, atol=1e-5)
    torch.testing.assert_close(dec.logits(h3[0, -1]), ref.logits[0, -1], rtol=1e-4, atol=1e-5)
    rows = lm.get_input_embeddings().weight[[5, 7]]
    torch.testing.assert_close(dec.logits(h3[0, -1], rows), ref.logits[0, -1, [5, 7]], rtol=1e-4, atol=1e-5)
    shared = FastDecoder(lm, max_len=64, share_weights=True)  # the LM's own modules, no copies
    torch.testing.assert_close(shared.append(emb), ref.hidden_states[-1], rtol=1e-4, atol=1e-5)
    with pytest.raises(ValueError, match="share_weights"):
        FastDecoder(lm, share_weights=True, quantize=True)
    dec.reset(13)  # back to a prefix: appending the same tokens gives the same states
    torch.testing.assert_close(dec.append(emb[:, 13:19]), h2)
    with pytest.raises(RuntimeError, match="KV cache full"):
        dec.append(torch.zeros(1, 60, 64))


# ------------------------------------------------------------------------------ constrained decoding
def test_utterance_logits_ban_actions_and_cap_length() -> None:
    cfg = CoachConfig(lm_vocab=10)
    logits = torch.arange(13, dtype=torch.float32)  # <eos_fb> (12) highest, then <feedback> (11), <next> (10)
    inside = constrain_utterance_logits(logits, 3, cfg)
    assert inside[10] == -math.inf and inside[11] == -math.inf and int(inside.argmax()) == 12
    logits = torch.zeros(13)
    logits[4] = 5.0
    assert int(constrain_utterance_logits(logits, 127, cfg).argmax()) == 4
    capped = constrain_utterance_logits(logits, 128, cfg)
    assert int(capped.argmax()) == 12 and bool(torch.isinf(capped[:12]).all())


class _ScriptedScores:
    """Stands in for the decoder's scoring: action rows say <feedback>, the text never ends by itself."""

    def __init__(self, dec: object, vocab: int, say: bool = True):
        self.real = dec.logits  # type: ignore[attr-defined]
        self.vocab, self.say, self.action_calls = vocab, say, 0

    def __call__(self, hidden: torch.Tensor, rows: torch.Tensor | None = None) -> torch.Tensor:
        assert rows is not None
        if rows.shape[0] == 2:  # a decision step: only <next>/<feedback> are scored
            self.action_calls += 1
            return torch.tensor([0.0, 1.0 if self.say else -1.0])
        assert rows.shape[0] == self.vocab + 3
        out = torch.zeros(self.vocab + 3)
        out[self.vocab + 1] = 100.0  # <feedback> would win inside an utterance if it were allowed
        out[self.vocab + 2] = -100.0  # the end token never wins on its own
        out[42] = 1.0
        return out


def test_neural_coach_speaks_only_through_the_rules() -> None:
    from workbench.coach.coaching import DecisionInput
    from workbench.coach.neural import NeuralCoach

    model = tiny_model(seed=4)
    coach = NeuralCoach(model, tokenizer(), weights="float32")
    coach.reset(load_catalogue().get("squat"), "User body: not measured.")
    scripted = _ScriptedScores(coach.decoder, 49152)
    coach.decoder.logits = scripted  # type: ignore[method-assign]
    inp = DecisionInput(
        step=0,
        t_s=0.0,
        exercise="squat",
        context_morph="",
        reps=(),
        new_reps=(),
        phase=None,
        context_motion="Current pose: right knee 85°.\nForm issues: none",
    )
    said = coach.decide(inp)
    assert said is not None and said.n_tokens == 128  # capped: the end token was forced
    assert said.text == tokenizer().decode([42] * 128).strip()
    assert scripted.action_calls == 1
    assert coach.salient_joints == tuple(JOINT_NAMES[i] for i in (0, 1, 6, 2, 7, 3, 8, 11))  # catalogue squat
    scripted.say = False
    pos = coach.decoder.pos
    assert coach.decide(DecisionInput(**{**inp.__dict__, "step": 1, "t_s": 0.25})) is None
    # one step after an utterance appends the end token, then this step's visual token: 2 positions
    assert coach.decoder.pos == pos + 2
    pos = coach.decoder.pos
    assert coach.decide(DecisionInput(**{**inp.__dict__, "step": 2, "t_s": 0.5})) is None
    assert coach.decoder.pos == pos + 1  # a silent step appends its visual token only: <next> is not fed back


def test_untrained_coach_stays_silent_and_says_which_joints() -> None:
    from workbench.coach.coaching import DecisionInput
    from workbench.coach.neural import DEFAULT_JOINTS_NOTE, NeuralCoach

    coach = NeuralCoach(tiny_model(seed=6), tokenizer(), weights="float32")
    coach.reset(load_catalogue().get("pushup"), "User body: not measured.")
    out = [
        coach.decide(
            DecisionInput(
                step=k,
                t_s=k / 4,
                exercise="pushup",
                context_morph="",
                reps=(),
                new_reps=(),
                phase=None,
                context_motion="Current pose: no pose yet.\nForm issues: none",
            )
        )
        for k in range(4)
    ]
    assert out == [None] * 4  # zero output rows: <next> and <feedback> tie, and a tie is <next>
    assert DEFAULT_JOINTS_NOTE in coach.provenance["notes"]
    assert coach.provenance["salient_joints_source"] == "the exercise's salient joints"
    assert np.isfinite(coach.stats.step_ms).all() and coach.stats.refreshes == 1


def test_video_frames_drive_a_trained_selector_and_fix_the_joints() -> None:
    from workbench.coach.coaching import DecisionInput
    from workbench.coach.neural import NeuralCoach

    model = tiny_model(seed=8, selector_trained=True)
    coach = NeuralCoach(model, tokenizer(), weights="float32")
    assert coach.video_fps == 16.0
    coach.reset(load_catalogue().get("squat"), "User body: not measured.")
    rng = np.random.default_rng(0)
    frames = [rng.integers(0, 255, (6, 90, 120, 3), dtype=np.uint8) for _ in range(5)]  # any size, any count
    for k, f in enumerate(frames):
        coach.decide(
            DecisionInput(
                step=k,
                t_s=k / 4,
                exercise="squat",
                context_morph="",
                reps=(),
                new_reps=(),
                phase=None,
                context_motion="Current pose: no pose yet.\nForm issues: none",
                frames=f,
            )
        )
    # the selector saw the pooled features of the first 4 steps; J* is its top 12, fixed from then on
    state = model.backbone.initial_state()
    pooled = []
    with torch.no_grad():
        for f in frames[:4]:
            vis, state = model.backbone.step(coach._frames_tensor(f), state)
            pooled.append(vis.mean(dim=1))
        scores = model.selector.eval()(torch.cat(pooled).mean(0, keepdim=True))[0]
    expected = tuple(JOINT_NAMES[i] for i in torch.topk(scores, 12).indices.tolist())
    assert coach.salient_joints == expected and len(set(expected)) == 12
    assert coach.provenance["salient_joints_source"] == "DoF selector"


def test_a_checkpoint_trained_without_video_keeps_to_black_frames() -> None:
    """A coach whose fusion layers only ever saw black frames (``trained_on_frames=False``) gives a video's
    frames exactly the fused token of black frames, and says so; one trained on video uses them."""
    from workbench.coach.coaching import DecisionInput
    from workbench.coach.neural import FRAMES_NOT_USED_NOTE, NeuralCoach

    rng = np.random.default_rng(1)
    frames = rng.integers(0, 255, (6, 90, 120, 3), dtype=np.uint8)
    tokens = {}
    for flag in (False, True):
        coach = NeuralCoach(tiny_model(seed=9, trained_on_frames=flag), tokenizer(), weights="float32")
        coach.reset(load_catalogue().get("squat"), "User body: not measured.")
        coach.decide(
            DecisionInput(
                step=0,
                t_s=0.0,
                exercise="squat",
                context_morph="",
                reps=(),
                new_reps=(),
                phase=None,
                context_motion="Current pose: no pose yet.\nForm issues: none",
                frames=frames,
            )
        )
        with torch.inference_mode():
            tokens[flag] = (coach._visual_token(frames), coach._visual_token(None), coach.provenance["notes"])
    with_frames, black, notes = tokens[False]
    assert torch.equal(with_frames, black) and FRAMES_NOT_USED_NOTE in notes
    with_frames, black, notes = tokens[True]
    assert not torch.allclose(with_frames, black) and FRAMES_NOT_USED_NOTE not in notes


def test_the_coach_decodes_in_the_windows_it_was_trained_on() -> None:
    """``decode_window_steps`` W: after every W decisions the context starts again from the prefix and the latest
    C_motion (as each training window does), so the next step sees prefix + C_motion + its visual token — the
    positions of a training window's first step — never a longer visual history."""
    from workbench.coach.coaching import DecisionInput
    from workbench.coach.neural import NeuralCoach, motion_block

    coach = NeuralCoach(tiny_model(seed=6, decode_window_steps=3), tokenizer(), weights="float32")
    coach.reset(load_catalogue().get("squat"), "User body: not measured.")
    prefix = coach.decoder.pos

    def step(k: int, motion: str) -> None:
        inp = DecisionInput(
            step=k,
            t_s=k / 4,
            exercise="squat",
            context_morph="",
            reps=(),
            new_reps=(),
            phase=None,
            context_motion=motion,
        )
        assert coach.decide(inp) is None  # untrained: silent

    first = "Current pose: right knee 10°.\nForm issues: none"
    later = "Current pose: right knee 85°.\nForm issues: none"
    block = len(coach.tokenizer(motion_block(first))["input_ids"])
    for k in range(3):
        step(k, first)
    coach._wait()  # the restart's prefill runs between decisions
    assert coach.stats.window_resets == 1
    assert coach.decoder.pos == prefix + len(coach.tokenizer(motion_block(first))["input_ids"])
    step(3, later)  # the new window's first step: its visual token after the restated C_motion
    assert coach.decoder.pos == prefix + block + 1
    for k in range(4, 6):
        step(k, later)
    coach._wait()
    assert coach.stats.window_resets == 2 and coach._context_motion is not None and "85°" in coach._context_motion
