"""LLM-as-judge metrics: LLM-Accuracy and LLM-Bio-Accuracy, scored 1–5 on the matched pairs.

Both go through one ``workbench.llm`` client (``get_client(config, role="judge")``): the packaged SmolLM2 by
default, any OpenAI-compatible endpoint by configuration. Decoding follows the published setup (sampling at
temperature 0.6, top-p 0.9, 64 new tokens; seeded per pair here so a rerun gives the same numbers). A reply
counts only when it holds exactly one ``{...}`` that parses as a Python dict with an integer-like ``score``
from 1 to 5; every other reply is dropped and counted. Every result names the judge model: numbers from
different judges (a 135 M local model vs. LLaMA-3-70B) are not comparable.

Prompts. LLM-Bio-Accuracy uses the system prompt and template of the BioCoach supplement (§7). LLM-Accuracy
uses our wording of the FitCoach judge's instructions (compare with the ground truth; synonyms and paraphrases
match; repetition counts may be digits or words; answer only ``{'score': n}``).
"""

from __future__ import annotations

import ast
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from workbench.llm.client import ChatMessage, LLMClient

JudgeKind = Literal["llm_accuracy", "llm_bio_accuracy"]
TEMPERATURE, TOP_P, MAX_NEW_TOKENS = 0.6, 0.9, 64

ACCURACY_SYSTEM = (
    "You judge the feedback a virtual fitness coach gave a person during exercise, and you always answer with a "
    "Python dictionary string.\n"
    "Compare the predicted feedback with the ground-truth feedback for accuracy:\n"
    "-It should be factually correct, relevant, and agree with the ground-truth feedback.\n"
    "-Synonyms and paraphrases count as matches.\n"
    "-Repetition counts may be written in digits or in words."
)
ACCURACY_USER = (
    "Please evaluate the following predicted feedback:\n"
    "-Ground truth feedback: <1>\n"
    "-Predicted feedback: <2>\n\n"
    "Give an accuracy score as an integer from 1 to 5, where 5 is the most accurate. Reply with a Python "
    "dictionary string with the single key 'score' whose value is an INTEGER, e.g. {'score': 3}. "
    "Output nothing else: no text, no explanation."
)
# BioCoach supplement §7, as printed.
BIO_SYSTEM = (
    "You are an expert biomechanics analyst. Your role is to evaluate the factual accuracy and relevance of the "
    "biomechanical feedback generated for a user's exercise performance. Always respond as a python dictionary "
    "string."
)
BIO_USER = (
    "Please evaluate the following predicted biomechanical feedback:\n"
    "-Ground truth biomechanical context:\n<1>\n"
    "-Predicted biomechanical feedback:\n<2>\n"
    "Compare the predicted biomechanical feedback against the ground truth context. Focus on maintaining factual "
    "accuracy regarding joint angles, posture, balance, and other factors. biomechanical observations. Provide an "
    "integer accuracy score between 1 and 5 (5 = perfect alignment). Respond strictly as a Python dictionary "
    "string: {'score': int(score)} with no extra text."
)
PROMPTS: dict[JudgeKind, tuple[str, str]] = {
    "llm_accuracy": (ACCURACY_SYSTEM, ACCURACY_USER),
    "llm_bio_accuracy": (BIO_SYSTEM, BIO_USER),
}


def fill(template: str, ground_truth: str, prediction: str) -> str:
    return template.replace("<1>", ground_truth).replace("<2>", prediction)


def messages_for(kind: JudgeKind, ground_truth: str, prediction: str) -> list[ChatMessage]:
    system, user = PROMPTS[kind]
    return [{"role": "system", "content": system}, {"role": "user", "content": fill(user, ground_truth, prediction)}]


_BRACES = re.compile(r"\{(.*?)\}", re.DOTALL)


def parse_score(reply: str) -> int | None:
    """The 1–5 score in a reply like ``{'score': 4}``; None for anything else (no dict, several, bad value)."""
    found = _BRACES.findall(reply)
    if len(found) != 1:
        return None
    try:
        value = ast.literal_eval("{" + found[0] + "}")
    except (SyntaxError, ValueError, TypeError, MemoryError, RecursionError):
        return None
    if not isinstance(value, dict) or "score" not in value:
        return None
    raw = value["score"]
    if isinstance(raw, bool):
        return None
    try:
        score = float(raw)
    except (TypeError, ValueError):
        return None
    if not score.is_integer() or not 1 <= score <= 5:
        return None
    return int(score)


@dataclass
class JudgeResult:
    kind: JudgeKind
    model: str  # the judge that produced the scores
    scores: list[int] = field(default_factory=list)
    n_asked: int = 0
    n_dropped: int = 0  # unparsable replies
    dropped_replies: list[str] = field(default_factory=list)  # the first few, for the report
    n_available: int = 0  # matched pairs there were (n_asked < n_available when limited)
    per_pair: list[int | None] = field(default_factory=list)  # aligned with the pairs asked

    @property
    def mean(self) -> float | None:
        return sum(self.scores) / len(self.scores) if self.scores else None

    def to_json(self) -> dict[str, Any]:
        return {
            "mean": self.mean,
            "model": self.model,
            "n_scored": len(self.scores),
            "n_asked": self.n_asked,
            "n_dropped": self.n_dropped,
            "n_available": self.n_available,
            "dropped_examples": self.dropped_replies[:5],
        }


def judge_pairs(
    client: LLMClient,
    kind: JudgeKind,
    pairs: Sequence[tuple[str, str]],
    *,
    limit: int | None = None,
    seed: int = 0,
    progress: Callable[[int, int], None] | None = None,
) -> JudgeResult:
    """Score (ground truth, prediction) pairs; the first ``limit`` pairs only when a limit is given."""
    chosen = list(pairs) if limit is None else list(pairs)[: max(0, limit)]
    result = JudgeResult(kind=kind, model=client.model_name, n_available=len(pairs))
    for i, (gt, pred) in enumerate(chosen):
        completion = client.complete(
            messages_for(kind, gt, pred),
            max_new_tokens=MAX_NEW_TOKENS,
            temperature=TEMPERATURE,
            top_p=TOP_P,
            seed=seed + i,
        )
        result.model = completion.model or result.model
        result.n_asked += 1
        score = parse_score(completion.text)
        result.per_pair.append(score)
        if score is None:
            result.n_dropped += 1
            if len(result.dropped_replies) < 5:
                result.dropped_replies.append(completion.text[:200])
        else:
            result.scores.append(score)
        if progress is not None:
            progress(i + 1, len(chosen))
    return result
