"""Grounded numbers: constrained decoding that lets an utterance's digits spell only numbers its context states.

The issue-19 check "every number the coach states equals what its context says" is a property a 135M model
meets most of the time and misses in a way no text metric sees: in a held-out session the shipped coach said
"Right hip flexion 60°" where the rep's violation read 69° — it copied the first digit and then the hip's
instantaneous angle from the "Current pose" line. Copying is the model's job; *which* strings are numbers it may
say is a fact the decoder knows. So, while an utterance is generated, every maximal run of digits must be a
prefix of a number in the allowed set, and may only end (a non-digit token, or the end of the utterance) where
it spells one in full. The model still chooses among the allowed numbers; it cannot invent a new one.

Tokenizers differ: SmolLM2 and LLaMA spell numbers one digit per token, GPT-2-style ones have multi-digit and
mixed tokens ("Ġ12", "3rd"). Each digit-bearing token is checked by walking its characters, so both work; the
tokens without digits are checked as one block. A decimal ("85.4°") is two runs, "85" and "4", both of which
the context's "85.4" allows.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

import torch
from torch import Tensor

_RUN = re.compile(r"[0-9]+")  # ASCII digits: "²" is a digit to str.isdigit, and no number
DIGITS = frozenset("0123456789")


def digit_runs(text: str) -> frozenset[str]:
    """The maximal digit runs of ``text``: the numbers a guard built on it allows ("85.4°, 90°" → 85, 4, 90)."""
    return frozenset(_RUN.findall(text))


class NumberGuard:
    """Masks next-token logits so the utterance's digit runs stay within ``allowed`` (see the module doc).

    Built once per vocabulary (``token_texts``: id → decoded text for every token; only those with a digit are
    kept); ``allow`` sets the numbers for the next utterance, ``constrain`` masks one step's logits given the
    digit run the utterance currently ends in, and ``after`` gives the run after the chosen token."""

    def __init__(self, token_texts: Iterable[tuple[int, str]]):
        self._text_of = {i: t for i, t in token_texts if any(ch in DIGITS for ch in t)}
        self._digit_ids = torch.tensor(list(self._text_of), dtype=torch.long)
        self._digit_texts = list(self._text_of.values())
        self._numbers: frozenset[str] = frozenset()
        self._prefixes: frozenset[str] = frozenset()

    def allow(self, numbers: Iterable[str]) -> None:
        self._numbers = frozenset(n for n in numbers if n and set(n) <= DIGITS)
        self._prefixes = frozenset(n[:k] for n in self._numbers for k in range(1, len(n) + 1))

    def advance(self, run: str, text: str) -> str | None:
        """The digit run after ``text`` follows ``run``, or None when ``text`` would leave the allowed numbers
        (a digit no allowed number continues with, or a run cut short before it spells one)."""
        for ch in text:
            if ch in DIGITS:
                run += ch
                if run not in self._prefixes:
                    return None
            else:
                if run and run not in self._numbers:
                    return None
                run = ""
        return run

    def after(self, run: str, token_id: int) -> str:
        """The digit run after a token ``constrain`` let through: a token without a digit ends the run."""
        text = self._text_of.get(token_id)
        return "" if text is None else self.advance(run, text) or ""

    def constrain(self, logits: Tensor, run: str) -> Tensor:
        """``logits`` (the vocabulary and any extra rows after it) with the forbidden tokens at -inf. ``run`` is
        the digit run the utterance ends in now ("" after a non-digit)."""
        out = logits.clone()
        ok = torch.tensor([self.advance(run, t) is not None for t in self._digit_texts], dtype=torch.bool)
        out[self._digit_ids[~ok]] = float("-inf")
        if run and run not in self._numbers:  # mid-number: only a digit that continues an allowed number
            keep = out[self._digit_ids].clone()
            out.fill_(float("-inf"))
            out[self._digit_ids] = keep
        if not bool(torch.isfinite(out).any()):  # e.g. the utterance's last allowed token falls mid-number
            return logits
        return out


def vocabulary_texts(tokenizer: Any, size: int) -> list[tuple[int, str]]:
    """(id, decoded text) for the tokens of a Hugging Face tokenizer that carry a digit: the raw token strings
    are scanned first (digits are ASCII in byte-level and SentencePiece vocabularies alike), and only those
    are decoded."""
    raw = tokenizer.convert_ids_to_tokens(list(range(size)))
    return [(i, tokenizer.decode([i])) for i, t in enumerate(raw) if t is not None and any(ch in DIGITS for ch in t)]
