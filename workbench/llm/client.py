"""One chat interface for every language model the workbench asks a question of (judges, label proposals).

``LocalClient`` runs a local transformers model (the packaged SmolLM2 by default); ``OpenAICompatibleClient``
posts to ``{endpoint}/chat/completions`` of any OpenAI-compatible server (vLLM, llama.cpp, TGI, a hosted API)
with the key read from an environment variable. The key is never stored on the object's repr, logged or
put in an error message. Every completion says which model produced it.
"""

from __future__ import annotations

import json
import os
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, Protocol, TypedDict

from workbench.config import load_config
from workbench.errors import WorkbenchError
from workbench.llm.models import DEFAULT_MODEL_NAME, load_causal_lm


class ChatMessage(TypedDict):
    role: Literal["system", "user", "assistant"]
    content: str


@dataclass(frozen=True)
class Completion:
    text: str
    model: str  # the model that answered: reported with every number derived from it
    prompt: list[ChatMessage] = field(default_factory=list)  # kept with proposals and judgements
    seconds: float = 0.0


class LLMError(WorkbenchError):
    """A language model could not answer (endpoint unreachable, bad reply, missing model)."""


class LLMClient(Protocol):
    @property
    def model_name(self) -> str: ...

    def complete(
        self,
        messages: list[ChatMessage],
        *,
        max_new_tokens: int = 64,
        temperature: float = 0.0,
        top_p: float = 1.0,
        seed: int = 0,
    ) -> Completion: ...


class LocalClient:
    """A local causal LM through its chat template; greedy when temperature is 0, seeded sampling otherwise."""

    def __init__(self, path: Path | None = None, *, device: str = "cpu", cache: Path | None = None):
        self._path, self._device, self._cache = path, device, cache
        self._loaded: Any = None

    def _model(self) -> Any:
        if self._loaded is None:
            self._loaded = load_causal_lm(self._path, device=self._device, cache=self._cache)
        return self._loaded

    @property
    def model_name(self) -> str:
        if self._path is not None:
            return str(self._path)

        return DEFAULT_MODEL_NAME

    def complete(
        self,
        messages: list[ChatMessage],
        *,
        max_new_tokens: int = 64,
        temperature: float = 0.0,
        top_p: float = 1.0,
        seed: int = 0,
    ) -> Completion:
        import torch

        loaded = self._model()
        tok, model = loaded.tokenizer, loaded.model
        start = time.perf_counter()
        ids = tok.apply_chat_template(list(messages), add_generation_prompt=True, return_tensors="pt", return_dict=True)
        input_ids = ids["input_ids"].to(model.device)
        sample = temperature > 0
        kwargs: dict[str, Any] = {
            "max_new_tokens": max_new_tokens,
            "do_sample": sample,
            "pad_token_id": tok.pad_token_id or tok.eos_token_id,
        }
        if sample:
            kwargs.update(temperature=temperature, top_p=top_p)
            torch.manual_seed(seed)
        else:  # greedy: drop sampling settings a model's generation_config may carry
            kwargs.update(temperature=None, top_p=None, top_k=None)
        with torch.inference_mode():
            out = model.generate(input_ids=input_ids, attention_mask=ids["attention_mask"].to(model.device), **kwargs)
        text = tok.decode(out[0, input_ids.shape[1] :], skip_special_tokens=True).strip()
        return Completion(text=text, model=loaded.name, prompt=list(messages), seconds=time.perf_counter() - start)


class OpenAICompatibleClient:
    """``POST {endpoint}/chat/completions``; retries with exponential backoff on connection errors and 5xx."""

    def __init__(
        self,
        endpoint: str,
        model: str,
        *,
        api_key_env: str = "BIOCOACH_LLM_API_KEY",
        timeout_s: float = 60.0,
        retries: int = 3,
        backoff_s: float = 1.0,
    ):
        self.endpoint = endpoint.rstrip("/")
        self.model = model
        self.api_key_env = api_key_env  # the variable's name, never its value
        self.timeout_s, self.retries, self.backoff_s = timeout_s, retries, backoff_s

    def __repr__(self) -> str:
        return f"OpenAICompatibleClient(endpoint={self.endpoint!r}, model={self.model!r})"

    @property
    def model_name(self) -> str:
        return f"{self.model} @ {self.endpoint}"

    def complete(
        self,
        messages: list[ChatMessage],
        *,
        max_new_tokens: int = 64,
        temperature: float = 0.0,
        top_p: float = 1.0,
        seed: int = 0,
    ) -> Completion:
        body = {
            "model": self.model,
            "messages": list(messages),
            "max_tokens": max_new_tokens,
            "temperature": temperature,
            "top_p": top_p,
            "seed": seed,
        }
        start = time.perf_counter()
        reply = self._post("/chat/completions", body)
        try:
            text = str(reply["choices"][0]["message"]["content"]).strip()
        except (KeyError, IndexError, TypeError):
            raise LLMError(
                f"{self.endpoint}/chat/completions: expected choices[0].message.content in the reply, "
                f"got {json.dumps(reply)[:200]}"
            ) from None
        model = str(reply.get("model") or self.model)
        return Completion(
            text=text, model=f"{model} @ {self.endpoint}", prompt=list(messages), seconds=time.perf_counter() - start
        )

    def _post(self, route: str, body: dict[str, Any]) -> dict[str, Any]:
        headers = {"Content-Type": "application/json"}
        key = os.environ.get(self.api_key_env)
        if key:
            headers["Authorization"] = f"Bearer {key}"
        request = urllib.request.Request(self.endpoint + route, data=json.dumps(body).encode(), headers=headers)
        last = ""
        for attempt in range(self.retries + 1):
            try:
                with urllib.request.urlopen(request, timeout=self.timeout_s) as response:
                    return dict(json.loads(response.read().decode("utf-8")))
            except urllib.error.HTTPError as exc:
                last = f"HTTP {exc.code} {exc.reason}"
                if exc.code < 500 and exc.code != 429:
                    break  # a client error does not get better by asking again
            except (urllib.error.URLError, TimeoutError, ConnectionError) as exc:
                last = str(getattr(exc, "reason", exc))
            except json.JSONDecodeError:
                last = "a reply that is not JSON"
                break
            if attempt < self.retries:
                time.sleep(self.backoff_s * 2**attempt)
        raise LLMError(
            f"{self.endpoint}{route}: no answer after {self.retries + 1} attempt(s) ({last}); check that "
            f"the server is up and that ${self.api_key_env} holds its key"
        )


def get_client(config: Any = None, *, role: Literal["llm", "judge"] = "llm") -> LLMClient:
    """The configured client for a role: an endpoint when one is set, else the local model.

    ``judge`` falls back to the ``llm`` settings, then to the local model (numbers from a local judge are
    labelled with its name and are not comparable with published ones).
    """
    if config is None:
        config = load_config()
    endpoint = getattr(config, f"{role}_endpoint", None) or getattr(config, "llm_endpoint", None)
    if endpoint:
        model = getattr(config, f"{role}_model", None) or getattr(config, "llm_model", None) or "default"
        key_env = getattr(config, f"{role}_api_key_env", None) or "BIOCOACH_LLM_API_KEY"
        return OpenAICompatibleClient(endpoint, model, api_key_env=key_env)
    device = "cuda" if getattr(config, "device", "cpu") == "cuda" else "cpu"
    return LocalClient(
        getattr(config, "language_model", None), device=device, cache=getattr(config, "model_cache_dir", None)
    )
