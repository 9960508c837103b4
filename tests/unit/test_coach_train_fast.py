"""The fast training path (workbench.model.fasttrain) gives the loss and gradients of the current one
(CoachModel.forward on right-padded batches) on the tiny random Llama, each optimisation on its own."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from tests.coach_support import tiny_model, tokenizer
from workbench.coach.synthetic_sessions import synthetic_sessions
from workbench.coach.training_data import prepare
from workbench.exercises import load_catalogue
from workbench.model.fasttrain import FastLoss, FastOptions, FrozenLM
from workbench.model.train import TrainSettings, stage_loss, train, trainable_parameters


@pytest.fixture(scope="module")
def setup() -> tuple[object, object]:
    model = tiny_model(seed=3)
    ds = prepare(synthetic_sessions(3, seed=1), tokenizer(), model.config, 16, load_catalogue())
    assert len(ds) >= 4
    return model, ds


def _grads(model: object, params: list[torch.nn.Parameter], loss: torch.Tensor) -> list[torch.Tensor]:
    for p in params:
        p.grad = None
    loss.backward()
    return [p.grad.clone() if p.grad is not None else torch.zeros_like(p) for p in params]


OPTIONS = [
    FastOptions(unpadded=False, fused_lm=False, head="grad"),
    FastOptions(fused_lm=False, head="grad"),
    FastOptions(head="grad"),
    FastOptions(head="no_grad"),
    FastOptions(),
]


@pytest.mark.parametrize("options", OPTIONS, ids=lambda o: f"unpadded={o.unpadded},fused={o.fused_lm},head={o.head}")
def test_fast_loss_and_gradients_equal_the_baseline(setup: tuple[object, object], options: FastOptions) -> None:
    model, ds = setup
    params = trainable_parameters(model, "2")  # type: ignore[arg-type]
    model.eval()  # type: ignore[attr-defined]
    batch = ds.batch(list(range(4)))  # type: ignore[attr-defined]
    base = stage_loss(model, batch, "2", 0.1)  # type: ignore[arg-type]
    g_base = _grads(model, params, base)
    fast = FastLoss(model, options)  # type: ignore[arg-type]
    for _ in range(2):  # the second time from the cache
        loss = fast.loss(batch, "2", 0.1)
        g = _grads(model, params, loss)
        torch.testing.assert_close(loss, base, rtol=1e-5, atol=1e-6)
        for a, b in zip(g, g_base, strict=True):
            torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-6)
    if options.head == "cached":
        assert len(fast.heads) == 4


def test_stage1_loss_equals_the_baseline(setup: tuple[object, object]) -> None:
    model, ds = setup
    trainable_parameters(model, "1")  # type: ignore[arg-type]
    model.eval()  # type: ignore[attr-defined]
    fast = FastLoss(model, max_steps=max(p.n_steps for p in ds.plans))  # type: ignore[arg-type, attr-defined]
    for idx in ([0, 1, 2], [3], [1, 2]):  # the backbone output computed once for the longest window, sliced
        batch = ds.batch(idx)  # type: ignore[attr-defined]
        want = stage_loss(model, batch, "1", 0.1)  # type: ignore[arg-type]
        torch.testing.assert_close(fast.loss(batch, "1", 0.1), want, rtol=1e-6, atol=1e-7)


def test_frozen_lm_equals_hugging_face(setup: tuple[object, object]) -> None:
    model, _ = setup
    lm = model.lm  # type: ignore[attr-defined]
    x = torch.randn(1, 40, lm.config.hidden_size)
    want = lm.model(inputs_embeds=x).last_hidden_state
    for attention in ("sdpa", "math"):
        flm = FrozenLM(lm, attention=attention)
        torch.testing.assert_close(flm.forward(x, None), want, rtol=1e-5, atol=1e-5)
        torch.testing.assert_close(flm.forward(x[:, 25:], flm.head(x[:, :25])), want[:, 25:], rtol=1e-5, atol=1e-5)


def test_fast_and_baseline_training_end_at_the_same_weights(tmp_path: Path, setup: tuple[object, object]) -> None:
    _, ds = setup
    out = {}
    for fast in (False, True):
        model = tiny_model(seed=4)
        settings = TrainSettings(stage="all", steps=2, batch_size=3, lr=1e-3, window_steps=16, fast=fast)
        res = train(model, ds, settings, tmp_path / str(fast))  # type: ignore[arg-type]
        out[fast] = (res.losses, model.state_dict())
    for stage in ("1", "2"):
        assert out[True][0][stage] == pytest.approx(out[False][0][stage], rel=1e-5)
    for k, v in out[False][1].items():
        torch.testing.assert_close(out[True][1][k], v, rtol=1e-4, atol=1e-6, msg=k)


def test_bf16_loss_is_within_one_percent(setup: tuple[object, object]) -> None:
    model, ds = setup
    trainable_parameters(model, "2")  # type: ignore[arg-type]
    model.eval()  # type: ignore[attr-defined]
    batch = ds.batch([0, 1, 2, 3])  # type: ignore[attr-defined]
    with torch.no_grad():
        base = stage_loss(model, batch, "2", 0.1)  # type: ignore[arg-type]
        loss = FastLoss(model, FastOptions(bf16=True)).loss(batch, "2", 0.1)  # type: ignore[arg-type]
    assert abs(float(loss) - float(base)) <= 0.01 * float(base)
