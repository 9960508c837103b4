"""Proposal decoding on the CPU with the coach's int8 decoder instead of transformers ``generate``.

``FastLocalClient`` is an ``LLMClient`` (``workbench.llm.client``) over the same local causal LM as
``LocalClient`` (the packaged SmolLM2-135M by default), but it decodes through
``workbench.model.fastlm.FastDecoder``: its own fused int8 weight-only copy of the LM's linear layers and a
static KV cache, so each new token costs one pass over ~4× fewer weight bytes and no per-step Python dispatch
through transformers. It lives in ``workbench.review`` because ``workbench.llm`` sits below
``workbench.model`` and may not import it.

Greedy decoding only (what proposals use: temperature 0); a request with temperature > 0 goes to a plain
``LocalClient`` (transformers ``generate`` with seeded sampling). int8 weights are an approximation of the fp32
model: on the proposal prompts tried (squat and lunge reps, roles, a short question; BENCHMARKS.md) the greedy
tokens equal transformers ``generate``'s, and tests/unit/test_review_decoding.py checks a short prompt, but a
near-tie between two tokens could go the other way. So the model name every completion carries says
"int8 weight-only decoding", and proposals from this client are stored apart from those of ``LocalClient``
(their id includes the model name).
"""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

import torch

from workbench.llm.client import ChatMessage, Completion, LocalClient
from workbench.llm.models import DEFAULT_MODEL_NAME, LoadedModel, load_causal_lm
from workbench.model.fastlm import FastDecoder

INT8_NOTE = "int8 weight-only decoding (FastDecoder)"
_MIN_CACHE = 1024  # KV positions allocated up front; a longer prompt + reply reallocates once


class FastLocalClient:
    """A local causal LM decoded greedily through ``FastDecoder`` (int8 weights by default)."""

    def __init__(
        self, path: Path | None = None, *, cache: Path | None = None, quantize: bool = True, threads: int | None = None
    ):
        self._path, self._cache, self.quantize, self.threads = path, cache, quantize, threads
        self._decoder: FastDecoder | None = None
        self._loaded: LoadedModel | None = None
        self._eos: set[int] = set()
        self._lock = threading.Lock()  # one decoder, one KV cache: one completion at a time
        self._sampler: LocalClient | None = None

    @property
    def model_name(self) -> str:
        base = str(self._path) if self._path is not None else DEFAULT_MODEL_NAME
        return f"{base}; {INT8_NOTE if self.quantize else 'fp32 FastDecoder'}"

    def _model(self) -> LoadedModel:
        if self._loaded is None:
            self._loaded = load_causal_lm(self._path, cache=self._cache)
            self._eos = _eos_ids(self._loaded)
        return self._loaded

    def decoder(self, need: int = 0) -> FastDecoder:
        """The decoder (built on first use: the int8 copy of the weights), with room for ``need`` positions."""
        if self._decoder is None or self._decoder.max_len < need:
            self._decoder = FastDecoder(
                self._model().model, max_len=max(_MIN_CACHE, need), quantize=self.quantize, device="cpu"
            )
        return self._decoder

    def complete(
        self,
        messages: list[ChatMessage],
        *,
        max_new_tokens: int = 64,
        temperature: float = 0.0,
        top_p: float = 1.0,
        seed: int = 0,
    ) -> Completion:
        if temperature > 0:  # sampling: transformers generate, as LocalClient does it
            if self._sampler is None:
                self._sampler = LocalClient(self._path, cache=self._cache)
            return self._sampler.complete(
                messages, max_new_tokens=max_new_tokens, temperature=temperature, top_p=top_p, seed=seed
            )
        start = time.perf_counter()
        if self.threads:
            torch.set_num_threads(self.threads)
        with self._lock:
            tok = self._model().tokenizer
            ids = tok.apply_chat_template(
                list(messages), add_generation_prompt=True, return_tensors="pt", return_dict=True
            )["input_ids"][0]
            decoder = self.decoder(int(ids.shape[0]) + max_new_tokens)
            out = greedy_tokens(decoder, ids, max_new_tokens, self._eos)
        text = tok.decode(out, skip_special_tokens=True).strip()
        return Completion(text=text, model=self.model_name, prompt=list(messages), seconds=time.perf_counter() - start)


def greedy_tokens(decoder: FastDecoder, prompt_ids: torch.Tensor, max_new_tokens: int, eos: set[int]) -> list[int]:
    """Greedy continuation of ``prompt_ids`` (1-D): the prompt is prefilled in one pass, then one token per
    step over the full vocabulary, until an end token (included, as ``generate`` returns it) or
    ``max_new_tokens``."""
    out: list[int] = []
    if max_new_tokens <= 0:
        return out
    with torch.inference_mode():
        decoder.reset(0)
        hidden = decoder.append(decoder.embed_ids(prompt_ids)[None])[0, -1]
        while True:
            nxt = int(torch.argmax(decoder.logits(hidden)))
            out.append(nxt)
            if nxt in eos or len(out) >= max_new_tokens:
                return out
            hidden = decoder.append(decoder.embed_ids(torch.tensor([nxt]))[None])[0, -1]


def _eos_ids(loaded: LoadedModel) -> set[int]:
    """The tokens that end a reply: the generation config's (an int or a list) and the tokenizer's."""
    found: set[int] = set()
    config: Any = getattr(loaded.model, "generation_config", None)
    for value in (getattr(config, "eos_token_id", None), getattr(loaded.tokenizer, "eos_token_id", None)):
        if isinstance(value, int):
            found.add(value)
        elif isinstance(value, list | tuple):
            found.update(int(v) for v in value)
    return found
