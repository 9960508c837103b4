"""The neural coach with the real packaged SmolLM2-135M: the incremental decoder against Hugging Face, loading
with and without a checkpoint, a whole session through the streaming loop, an overfit of the fusion layers,
and the GPU script's CPU smoke mode."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from workbench.config import Config, MissingModelError


@pytest.fixture(scope="module")
def smollm() -> object:
    from workbench.llm import load_causal_lm

    return load_causal_lm()


def test_fast_decoder_matches_hf_and_int8_keeps_the_greedy_token(smollm: object) -> None:
    from workbench.model.fastlm import FastDecoder

    lm, tok = smollm.model, smollm.tokenizer  # type: ignore[attr-defined]
    text = "The knee should bend to ninety degrees at the bottom of the"
    ids = torch.tensor([tok.encode(text, add_special_tokens=False)])
    with torch.inference_mode():
        emb = lm.get_input_embeddings()(ids)
        ref = lm(inputs_embeds=emb).logits[0, -1]
        fp32 = FastDecoder(lm, max_len=64)
        h = fp32.append(emb[:, :-1])
        h = fp32.append(emb[:, -1:])
        torch.testing.assert_close(fp32.logits(h[0, -1]), ref, rtol=1e-3, atol=1e-3)
        int8 = FastDecoder(lm, max_len=64, quantize=True)
        q = int8.logits(int8.append(emb)[0, -1])
    assert int(q.argmax()) == int(ref.argmax())
    top_ref = set(torch.topk(ref, 5).indices.tolist())
    assert len(top_ref & set(torch.topk(q, 5).indices.tolist())) >= 3
    assert lm.get_input_embeddings().weight.shape[0] == 49152  # the shared LM is untouched


def test_untrained_neural_coach_runs_a_session_and_says_so(
    smollm: object, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from workbench.coach import neural
    from workbench.coach.loop import run_coach
    from workbench.coach.neural import UNTRAINED_NOTE, load_neural_coach
    from workbench.exercises import load_catalogue
    from workbench.pose.synthetic import Fault, synthesize

    monkeypatch.setattr(neural, "SHIPPED_CHECKPOINT", tmp_path / "no-shipped-checkpoint")
    coach = load_neural_coach(Config())
    assert coach.provenance["trained"] is False and UNTRAINED_NOTE in coach.provenance["notes"]
    assert coach.decoder.quantized
    track, _ = synthesize(load_catalogue().get("squat"), 3, period_s=2.0, seed=0, faults=(Fault("shallow", (1,), 30),))
    events = run_coach(coach, track, load_catalogue().get("squat"))
    assert events == []  # untrained output rows: <next> always wins the tie
    duration = float(track.t[-1])
    # one step per 0.25 s of track; the last rep closes at finish(): one step for it, and one more because the
    # neural coach reads a completed rep a step late (loop.context_lag)
    assert coach.stats.steps == int(duration * 4) + 1 + 2
    assert coach.stats.refreshes == 1 + 3  # the first step and one per completed rep
    assert coach.provenance["salient_joints_source"] == "the exercise's salient joints"
    assert coach.salient_joints == load_catalogue().get("squat").salient_joints


def test_checkpoint_loads_through_the_config(tmp_path: Path, smollm: object) -> None:
    from workbench.coach.neural import default_config, load_neural_coach
    from workbench.model.modeling_coach import CoachModel

    lm = smollm.model  # type: ignore[attr-defined]
    model = CoachModel(default_config(lm, smollm.name), lm)  # type: ignore[attr-defined]
    with torch.no_grad():
        model.special_head.normal_(0, 0.01)
    model.save_pretrained(tmp_path / "ck", {"data": "synthetic", "steps": {"2": 1}})
    coach = load_neural_coach(Config(coach_checkpoint=tmp_path / "ck"))
    assert coach.provenance["trained"] is True and coach.provenance["training"]["data"] == "synthetic"
    assert torch.equal(coach.model.special_head, model.special_head)
    with pytest.raises(MissingModelError, match=r"nowhere.*does not exist"):
        load_neural_coach(Config(coach_checkpoint=tmp_path / "nowhere"))


@pytest.mark.slow
def test_fusion_layers_overfit_one_batch_with_the_real_lm(smollm: object) -> None:
    from workbench.coach.neural import default_config
    from workbench.model.modeling_coach import CoachModel
    from workbench.model.tokens import StepExample, build_plan, collate
    from workbench.model.train import trainable_parameters

    lm, tok = smollm.model, smollm.tokenizer  # type: ignore[attr-defined]
    torch.manual_seed(0)
    model = CoachModel(default_config(lm, "smollm2"), lm)
    steps = [
        StepExample(
            0,
            "Current pose: right knee 85°.\nForm issues: Right knee flexion insufficient (85° detected, 90° required)",
        ),
        StepExample(1, None),
        StepExample(2, None, "Knee flexion 85°. Bend to 90°."),
    ]
    plan = build_plan(tok, model.config, "squat", "User body: height 1.80m.", steps)
    batch = collate([plan], [tok.encode("User body: height 1.80m.", add_special_tokens=False)], pad_id=2)
    opt = torch.optim.AdamW(trainable_parameters(model, "2"), lr=1e-2)
    model.train()
    losses = []
    for _ in range(20):
        loss = model(batch).loss
        losses.append(float(loss.detach()))
        opt.zero_grad()
        loss.backward()
        opt.step()
    assert losses[-1] < losses[0] / 3, losses


def test_gpu_script_smoke_mode(capsys: pytest.CaptureFixture[str]) -> None:
    import importlib.util

    path = Path(__file__).resolve().parents[2] / "bench" / "gpu_coach.py"
    spec = importlib.util.spec_from_file_location("gpu_coach", path)
    assert spec is not None and spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    assert mod.main(["--smoke", "--lm-tokens", "1"]) == 0
    out = capsys.readouterr().out
    result = json.loads(out.strip().splitlines()[-1])
    rows = result["sweeps"]["1"]["rows"]
    assert [r["batch"] for r in rows] == [1, 2, 4]
    assert all(r["decisions_per_s"] == pytest.approx(r["batch"] * 1000 / r["step_ms"], rel=0.01) for r in rows)
    # the training run (SmolLM2 coach, stage 2, LoRA): the device row (the CPU in smoke mode) and the CPU row
    trained = result["train"]
    assert trained["settings"]["lora_rank"] == 8 and trained["windows"] > 0
    for row in (trained["device_row"], trained["cpu_row"]):
        assert row["steps"] == len(row["step_s"]) == 2 and row["steps_per_s"] > 0 and row["tokens_per_s"] > 0
        assert len(row["losses"]) == row["warmup_steps"] + row["steps"]
    assert trained["ratio_device_over_cpu"] > 0 and trained["max_rel_loss_diff"] == 0.0  # CPU twice: same steps
    assert "training:" in out and "steps/s" in out
    if not torch.cuda.is_available():
        assert mod.main([]) == 0
        assert "skipped: no CUDA device" in capsys.readouterr().out
