"""Helpers for the coaching-model tests: a tiny random Llama (real transformers code, 2 layers, hidden 64) that
shares the packaged SmolLM2 tokenizer, so tests run the real model code in milliseconds."""

from __future__ import annotations

from functools import cache
from typing import Any


@cache
def tokenizer() -> Any:
    from workbench.llm import load_causal_lm

    return load_causal_lm().tokenizer


def tiny_lm(seed: int = 0, vocab: int = 49152) -> Any:
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    torch.manual_seed(seed)
    cfg = LlamaConfig(
        vocab_size=vocab,
        hidden_size=64,
        intermediate_size=128,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=2048,
        tie_word_embeddings=True,
    )
    lm = LlamaForCausalLM(cfg).eval()
    for p in lm.parameters():
        p.requires_grad_(False)
    return lm


def tiny_config(lm: Any, **overrides: Any) -> Any:
    from workbench.coach.neural import default_config

    base = {"d_vis": 64, "backbone_channels": (8, 8, 16, 32), "selector_hidden": (512, 256), "context_window": 512}
    base.update(overrides)
    return default_config(lm, "tiny-random-llama", None, **base)


def tiny_model(seed: int = 0, **overrides: Any) -> Any:
    import torch

    from workbench.model.modeling_coach import CoachModel

    lm = tiny_lm(seed)
    torch.manual_seed(seed)
    return CoachModel(tiny_config(lm, **overrides), lm)
