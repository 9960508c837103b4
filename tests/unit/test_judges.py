"""LLM judges: reply parsing as the reference (one {...}, literal_eval, 'score'), dropping and counting the rest,
the prompts, and the endpoint path through a real HTTP server (fixed replies, so the expected mean is known)."""

from __future__ import annotations

import json

import pytest

from tests.eval_support import chat_server
from workbench.eval.judges import BIO_SYSTEM, judge_pairs, messages_for, parse_score
from workbench.llm import OpenAICompatibleClient


@pytest.mark.parametrize(
    ("reply", "score"),
    [
        ("{'score': 4}", 4),
        ('Sure! {"score": 2}', 2),
        ("{'score': 5.0}", 5),
        ("{'score': '3'}", 3),  # the reference's float() accepts a numeric string
        ("{'score': 4} {'score': 5}", None),  # two dicts: ambiguous, dropped as the reference does
        ("score: 4", None),
        ("{'score': 7}", None),  # outside 1–5
        ("{'score': 3.5}", None),  # not an integer
        ("{'accuracy': 3}", None),
        ("{'score': True}", None),
        ("{score: 4}", None),  # not a Python literal
    ],
)
def test_parse_score(reply: str, score: int | None) -> None:
    assert parse_score(reply) == score


def test_prompts_fill_ground_truth_and_prediction() -> None:
    msgs = messages_for("llm_bio_accuracy", "Knee flexion 85° (target: 90°).", "Go lower.")
    assert msgs[0]["content"] == BIO_SYSTEM and msgs[0]["content"].startswith("You are an expert biomechanics analyst.")
    assert "Knee flexion 85° (target: 90°)." in msgs[1]["content"] and "Go lower." in msgs[1]["content"]
    assert "<1>" not in msgs[1]["content"] and "<2>" not in msgs[1]["content"]
    acc = messages_for("llm_accuracy", "Three more!", "3 more")
    assert "Ground truth feedback: Three more!" in acc[1]["content"]
    assert "Predicted feedback: 3 more" in acc[1]["content"]


def test_endpoint_judge_drops_unparsable_replies_and_names_the_model(monkeypatch: pytest.MonkeyPatch) -> None:
    replies = iter(["{'score': 4}", "I would say it is good", "{'score': 2}", "{'score': 9}"])
    monkeypatch.setenv("BIOCOACH_JUDGE_API_KEY", "sk-test-secret")
    with chat_server(lambda body: next(replies), model="judge-70b") as (url, seen):
        client = OpenAICompatibleClient(url, "judge-70b", api_key_env="BIOCOACH_JUDGE_API_KEY", retries=0)
        pairs = [("a", "b"), ("c", "d"), ("e", "f"), ("g", "h")]
        result = judge_pairs(client, "llm_accuracy", pairs)
    assert result.scores == [4, 2] and result.mean == 3.0
    assert (result.n_asked, result.n_dropped, result.per_pair) == (4, 2, [4, None, 2, None])
    assert result.model == f"judge-70b @ {url}"
    body = seen[0]["body"]
    # the published decoding: sampling at 0.6 / top-p 0.9, 64 new tokens; seeded per pair
    assert (body["temperature"], body["top_p"], body["max_tokens"]) == (0.6, 0.9, 64)
    assert [s["body"]["seed"] for s in seen] == [0, 1, 2, 3]
    assert seen[0]["authorization"] == "Bearer sk-test-secret"
    assert "sk-test-secret" not in json.dumps(result.to_json()) and "sk-test-secret" not in repr(client)


def test_judge_limit_asks_only_the_first_pairs() -> None:
    with chat_server(lambda body: "{'score': 5}") as (url, seen):
        client = OpenAICompatibleClient(url, "m", retries=0)
        result = judge_pairs(client, "llm_bio_accuracy", [("a", "b")] * 5, limit=2)
    assert (result.n_asked, result.n_available, len(seen)) == (2, 5, 2)
    assert seen[0]["body"]["messages"][0]["content"] == BIO_SYSTEM
