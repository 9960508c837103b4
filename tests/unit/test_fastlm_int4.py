"""int4 weight-only decode (``workbench.model.fastlm.Int4WeightLinear``) against fp32, and the measured thread
choice of the CPU decode (``workbench.coach.neural.auto_threads``)."""

from __future__ import annotations

import os
import time

import pytest
import torch
from torch import nn

from tests.coach_support import tiny_lm, tiny_model, tokenizer


def test_int4_linear_is_the_group_dequantised_product() -> None:
    from workbench.model.fastlm import Int4WeightLinear

    torch.manual_seed(0)
    lin = nn.Linear(128, 96)
    q = Int4WeightLinear(lin)
    # the stored weight is (at most half a step per group) off the fp32 one: 4 bits over each group's range
    w = lin.weight.detach().reshape(96, 2, 64)
    step = (w.amax(-1) - w.amin(-1)) / 15
    eye = torch.eye(128)
    deq = (q(eye) - lin.bias.detach()).T  # (96, 128): the weight the kernel uses
    err = (deq.reshape(96, 2, 64) - w).abs().amax(-1)
    assert bool((err <= 0.5 * step * 1.05 + 2e-3).all())  # + bf16 rounding of scale, zero and product
    x = torch.randn(3, 5, 128)
    torch.testing.assert_close(q(x), lin(x), rtol=0.0, atol=0.15)
    with pytest.raises(ValueError, match="divisible"):
        Int4WeightLinear(nn.Linear(100, 8))


def test_int4_decoder_logits_are_close_to_fp32_and_greedy_agrees() -> None:
    from workbench.model.fastlm import FastDecoder

    lm = tiny_lm(3)
    emb = lm.get_input_embeddings()(torch.randint(0, 49152, (1, 24), generator=torch.Generator().manual_seed(4)))
    fp32 = FastDecoder(lm, max_len=64)
    int4 = FastDecoder(lm, max_len=64, quantize="int4")
    assert int4.quantized and int4.weight_format == "int4" and fp32.weight_format == "float32"
    ref, got = fp32.logits(fp32.append(emb)[0, -1]), int4.logits(int4.append(emb)[0, -1])
    # tolerance: the logits' error is within 5 % of their spread, and the greedy token is the same
    assert float((got - ref).abs().max()) <= 0.05 * float(ref.max() - ref.min())
    assert int(got.argmax()) == int(ref.argmax())
    with pytest.raises(ValueError, match="quantize"):
        FastDecoder(lm, quantize="int3")


def test_int4_neural_coach_takes_the_same_action_as_fp32() -> None:
    from workbench.coach.neural import NeuralCoach
    from workbench.exercises import load_catalogue

    model = tiny_model(1)
    with torch.no_grad():  # a clear <feedback> preference on this input, as a trained coach has
        model.special_head.normal_(0, 1.0)
    squat = load_catalogue().get("squat")
    margins = {}
    for weights in ("float32", "int4"):
        coach = NeuralCoach(model, tokenizer(), weights=weights, threads=1)
        assert coach.decoder.weight_format == weights and coach.provenance["decode_weights"] == weights
        coach.reset(squat, "User body: height 1.78m.")
        with torch.inference_mode():
            z = torch.randn(1, 1, coach.decoder.hidden, generator=torch.Generator().manual_seed(7))
            margins[weights] = coach.decoder.logits(coach.decoder.append(z)[0, -1], coach.rows_action)
    ref, got = margins["float32"], margins["int4"]
    assert int(got.argmax()) == int(ref.argmax())  # <next> vs <feedback>
    torch.testing.assert_close(got, ref, rtol=0.0, atol=0.05 * float(ref.abs().max()) + 0.05)


@pytest.mark.skipif(len(os.sched_getaffinity(0)) < 2, reason="needs 2 cores to choose between")
def test_auto_threads_keeps_the_faster_thread_count() -> None:
    from workbench.coach.neural import auto_threads

    before = torch.get_num_threads()
    cores = len(os.sched_getaffinity(0))
    try:
        # a step that is slower with more threads (the other core busy): one thread
        assert auto_threads(lambda: time.sleep(0.002 * torch.get_num_threads()), rounds=3) == 1
        assert torch.get_num_threads() == 1
        # a step that is faster with more threads (an idle machine): all cores
        assert auto_threads(lambda: time.sleep(0.004 / torch.get_num_threads()), rounds=3) == cores
        assert torch.get_num_threads() == cores
    finally:
        torch.set_num_threads(before)


def test_an_automatic_neural_coach_times_its_threads(monkeypatch: pytest.MonkeyPatch) -> None:
    import workbench.coach.neural as neural

    seen: list[object] = []

    def fake(probe: object = None, rounds: int = 5) -> int:
        seen.append(probe)
        if probe is not None:
            probe()  # type: ignore[operator]
        return 1

    before = torch.get_num_threads()
    monkeypatch.setattr(neural, "auto_threads", fake)
    try:
        coach = neural.NeuralCoach(tiny_model(0), tokenizer(), weights="int4", threads=0)
        assert seen[-1] is not None and coach.decoder.pos == 0  # timed a real step, then rewound
        seen.clear()
        neural.NeuralCoach(tiny_model(0), tokenizer(), threads=1)
        assert seen == []  # an explicit count is kept
    finally:
        torch.set_num_threads(before)
