"""LoRA on the coach's language model (``biocoach train --lora-rank R``, workbench.model.lora) on a tiny random
Llama: rank 0 changes nothing; training moves the adapted LM's outputs while the shared LM's weight tensors stay
bit-identical; save → load gives the same logits; the streaming decoder runs the merged adapters; the fast
training path gives the padded path's loss and gradients with adapters."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from tests.coach_support import tiny_config, tiny_lm, tokenizer
from workbench.coach.synthetic_sessions import synthetic_sessions
from workbench.coach.training_data import prepare
from workbench.exercises import load_catalogue
from workbench.model.fastlm import FastDecoder
from workbench.model.fasttrain import FastLoss, FastOptions
from workbench.model.lora import LORA_TARGETS, lora_settings, with_lora
from workbench.model.modeling_coach import CoachModel
from workbench.model.train import TrainSettings, stage_loss, train, trainable_parameters

RANK = 4


def lora_model(lm: object, rank: int = RANK, seed: int = 0) -> CoachModel:
    torch.manual_seed(seed)
    return CoachModel(with_lora(tiny_config(lm), rank, alpha=8.0), lm)


@pytest.fixture(scope="module")
def data() -> object:
    lm = tiny_lm(seed=5)
    return prepare(synthetic_sessions(2, seed=3), tokenizer(), tiny_config(lm), 16, load_catalogue())


def _ids(lm: object) -> torch.Tensor:
    torch.manual_seed(11)
    return torch.randint(0, 49152, (2, 24))


def test_rank_zero_changes_nothing() -> None:
    lm = tiny_lm(seed=5)
    torch.manual_seed(0)
    plain = CoachModel(tiny_config(lm), lm)
    torch.manual_seed(0)
    zero = CoachModel(with_lora(tiny_config(lm), 0), lm)
    assert lora_settings(zero.config) is None and zero.config == plain.config
    assert zero.lm is lm and zero.lora is None  # the shared LM itself, no adapters
    assert set(zero.state_dict()) == set(plain.state_dict())
    for k, v in plain.state_dict().items():
        assert torch.equal(zero.state_dict()[k], v), k


def test_adapters_sit_on_q_and_v_of_a_twin_sharing_the_lm_tensors() -> None:
    lm = tiny_lm(seed=5)
    model = lora_model(lm)
    assert model.lm is not lm and model.base_lm is lm
    assert type(lm.model.layers[0].self_attn.q_proj) is torch.nn.Linear  # the shared LM is not modified
    att = model.lm.model.layers[0].self_attn
    assert att.q_proj.base_layer.weight is lm.model.layers[0].self_attn.q_proj.weight  # shared, not copied
    assert model.lm.model.embed_tokens.weight is lm.model.embed_tokens.weight
    assert type(att.k_proj) is torch.nn.Linear and type(att.o_proj) is torch.nn.Linear
    keys = [k for k in model.state_dict() if k.startswith("lora.")]
    assert len(keys) == 2 * 2 * len(LORA_TARGETS)  # 2 layers × (q, v) × (A, B)
    # B starts at zero: the untrained adapter is the LM
    ids = _ids(lm)
    with torch.no_grad():
        torch.testing.assert_close(model.lm(ids).logits, lm(ids).logits, rtol=0, atol=0)


def test_training_moves_the_lm_not_its_base_weights(tmp_path: Path, data: object) -> None:
    lm = tiny_lm(seed=5)
    before = {k: v.clone() for k, v in lm.state_dict().items()}
    model = lora_model(lm)
    settings = TrainSettings(stage="2", steps=3, batch_size=2, lr=1e-2, window_steps=16)
    train(model, data, settings, tmp_path / "ck")  # type: ignore[arg-type]
    for k, v in lm.state_dict().items():
        assert torch.equal(v, before[k]), k  # bit-identical
    assert all(not p.requires_grad or p.grad is None for p in lm.parameters())
    ids = _ids(lm)
    with torch.no_grad():
        moved = (model.lm(ids).logits - lm(ids).logits).abs().max()
    assert moved > 1e-4
    # the adapters are in the checkpoint; the LM's weights are not
    from safetensors.torch import load_file

    saved = load_file(str(tmp_path / "ck" / "coach.safetensors"))
    assert any(k.startswith("lora.") for k in saved) and not any("embed_tokens" in k for k in saved)
    # save → load: the same logits
    loaded = CoachModel.from_pretrained(tmp_path / "ck", lm)
    assert lora_settings(loaded.config) == lora_settings(model.config)
    with torch.no_grad():
        torch.testing.assert_close(loaded.lm(ids).logits, model.lm(ids).logits, rtol=1e-5, atol=1e-6)
        batch = data.batch([0, 1])  # type: ignore[attr-defined]
        torch.testing.assert_close(loaded(batch).loss, model(batch).loss, rtol=1e-5, atol=1e-6)
    for k, v in lm.state_dict().items():
        assert torch.equal(v, before[k]), k


def _trained_adapters(lm: object) -> CoachModel:
    model = lora_model(lm)
    with torch.no_grad():  # random, non-zero adapters (an untrained B is zero)
        torch.manual_seed(3)
        assert model.lora is not None
        for p in model.lora.parameters():
            p.normal_(0, 0.05)
    return model


def test_decoder_runs_the_merged_adapters() -> None:
    lm = tiny_lm(seed=5)
    before = {k: v.clone() for k, v in lm.state_dict().items()}
    model = _trained_adapters(lm)
    torch.manual_seed(2)
    x = torch.randn(1, 12, lm.config.hidden_size)
    with torch.no_grad():
        want = model.lm(inputs_embeds=x).logits[0]
        base = lm(inputs_embeds=x).logits[0]
    assert (want - base).abs().max() > 1e-3  # the adapters matter
    dec = FastDecoder(model.lm, max_len=64)  # fp32: merged weights give the HF forward to float rounding
    got = dec.logits(torch.cat([dec.append(x[:, :7]), dec.append(x[:, 7:])], dim=1))[0]
    torch.testing.assert_close(got, want, rtol=1e-4, atol=1e-4)
    shared = FastDecoder(model.lm, max_len=64, share_weights=True)  # the adapted layers run as they are
    torch.testing.assert_close(shared.logits(shared.append(x))[0], want, rtol=1e-4, atol=1e-4)
    q8 = FastDecoder(model.lm, max_len=64, quantize=True)  # int8: quantised adapted weights
    got8 = q8.logits(q8.append(x))[0]
    assert (got8 - want).abs().max() < 0.1 * (want - base).abs().max() + 0.05
    for k, v in lm.state_dict().items():  # merging copied: the shared LM is untouched
        assert torch.equal(v, before[k]), k


def test_fast_path_loss_and_gradients_with_adapters(data: object) -> None:
    lm = tiny_lm(seed=5)
    model = _trained_adapters(lm)
    params = trainable_parameters(model, "2")
    assert model.lora is not None and all(p.requires_grad for p in model.lora.parameters())
    model.eval()
    batch = data.batch([0, 1, 2])  # type: ignore[attr-defined]

    def grads(loss: torch.Tensor) -> list[torch.Tensor]:
        for p in params:
            p.grad = None
        loss.backward()
        return [p.grad.clone() if p.grad is not None else torch.zeros_like(p) for p in params]

    base = stage_loss(model, batch, "2", 0.1)
    g_base = grads(base)
    fast = FastLoss(model, FastOptions())
    assert fast.options.head == "grad"  # the adapted v_proj: no frozen head
    loss = fast.loss(batch, "2", 0.1)
    torch.testing.assert_close(loss, base, rtol=1e-5, atol=1e-6)
    for a, b in zip(grads(loss), g_base, strict=True):
        torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-6)
    lora_grads = [p.grad for p in model.lora.parameters()]
    assert all(g is not None and g.abs().sum() > 0 for g in lora_grads)


def test_stage1_leaves_the_adapters_frozen() -> None:
    model = lora_model(tiny_lm(seed=5))
    trainable_parameters(model, "1")
    assert model.lora is not None and not any(p.requires_grad for p in model.lora.parameters())
