"""Proposals decode through the coach's int8 FastDecoder: on a short prompt its greedy tokens are exactly
those of transformers ``generate`` with the packaged SmolLM2-135M."""

from __future__ import annotations

import pytest
import torch

from workbench.llm.client import LocalClient
from workbench.review.decoding import INT8_NOTE, FastLocalClient, greedy_tokens

pytestmark = [pytest.mark.slow]

PROMPT = [{"role": "user", "content": "Name the joint between the thigh and the shin."}]


def test_int8_greedy_tokens_equal_transformers_generate() -> None:
    fast = FastLocalClient()
    loaded = fast._model()
    tok, model = loaded.tokenizer, loaded.model
    ids = tok.apply_chat_template(PROMPT, add_generation_prompt=True, return_tensors="pt", return_dict=True)
    with torch.inference_mode():
        out = model.generate(
            input_ids=ids["input_ids"],
            attention_mask=ids["attention_mask"],
            max_new_tokens=16,
            do_sample=False,
            temperature=None,
            top_p=None,
            top_k=None,
            pad_token_id=tok.eos_token_id,
        )
    reference = out[0, ids["input_ids"].shape[1] :].tolist()
    decoder = fast.decoder()
    assert decoder.quantized
    assert greedy_tokens(decoder, ids["input_ids"][0], 16, fast._eos) == reference
    # the same through the chat interface, with the decoding named in the model
    completion = fast.complete(PROMPT, max_new_tokens=16)  # type: ignore[arg-type]
    assert completion.text == LocalClient().complete(PROMPT, max_new_tokens=16).text  # type: ignore[arg-type]
    assert completion.model.endswith(INT8_NOTE) and fast.model_name == completion.model
