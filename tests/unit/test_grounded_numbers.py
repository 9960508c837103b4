"""Grounded numbers: an utterance's digits may spell only numbers its context states (``NumberGuard``), and the
neural coach allows the numbers of C_motion's findings, not the instantaneous pose line."""

from __future__ import annotations

import math

import pytest
import torch

from tests.coach_support import tiny_model, tokenizer
from workbench.model.grounded_numbers import NumberGuard, digit_runs, vocabulary_texts
from workbench.motion.context import findings
from workbench.motion.results import Rep, Violation

# A GPT-2-style vocabulary with multi-digit and mixed tokens, next to single digits.
VOCAB = ["a", " hip", "°", ".", "6", "9", "0", " 69", "12", "6th", "7", "5"]
ID = {t: i for i, t in enumerate(VOCAB)}


def _guard(*numbers: str) -> NumberGuard:
    guard = NumberGuard(enumerate(VOCAB))
    guard.allow(numbers)
    return guard


def _allowed(guard: NumberGuard, run: str) -> set[str]:
    logits = guard.constrain(torch.zeros(len(VOCAB) + 1), run)  # + one extra row (the end token)
    return {VOCAB[i] if i < len(VOCAB) else "<end>" for i in range(len(VOCAB) + 1) if math.isfinite(logits[i])}


def test_digit_runs_split_decimals_and_ignore_signs() -> None:
    assert digit_runs("Right hip flexion insufficient (68.7° detected, 75° required, -6° short)") == {
        "68",
        "7",
        "75",
        "6",
    }
    assert digit_runs("Form issues: none") == frozenset()


def test_a_digit_must_start_or_continue_an_allowed_number() -> None:
    guard = _guard("69", "75")
    # before a number: any non-digit, or a token whose digits start an allowed one (" 69" whole, "6", "7")
    assert _allowed(guard, "") == {"a", " hip", "°", ".", "6", " 69", "7", "<end>"}
    # after "6": only "9" — "60" is no number the context states, and "6" alone is not one either
    assert _allowed(guard, "6") == {"9"}
    # after "69": the number is complete, so anything but a further digit (" 69" starts a new one)
    assert _allowed(guard, "69") == {"a", " hip", "°", ".", " 69", "<end>"}


def test_a_complete_number_may_end_or_go_on() -> None:
    guard = _guard("6", "69")
    assert _allowed(guard, "6") == {"a", " hip", "°", ".", "9", " 69", "<end>"}
    assert guard.advance("", "6th") == ""  # "6" then letters: a complete number followed by text
    assert guard.advance("", "12") is None
    assert _guard("12").advance("", "12") == "12"


def test_no_allowed_number_means_no_digits_and_a_dead_end_falls_back() -> None:
    assert _allowed(_guard(), "") == {"a", " hip", "°", ".", "<end>"}
    guard = _guard("69")
    only_end = torch.full((len(VOCAB) + 1,), -math.inf)
    only_end[-1] = 0.0  # the utterance's token cap forces the end token mid-number: keep the cap
    assert torch.equal(guard.constrain(only_end, "6"), only_end)


def test_the_packaged_tokenizer_spells_numbers_digit_by_digit() -> None:
    tok = tokenizer()
    texts = vocabulary_texts(tok, len(tok))
    assert sorted(t for _, t in texts) == list("0123456789")


def test_findings_drop_the_pose_line_only() -> None:
    motion = (
        "Current pose: right hip 62°, left hip 60°.\n"
        "Form issues: Right hip flexion insufficient (69° detected, 75° required, 6° short)\n"
        "Reps completed: 4."
    )
    assert findings(motion) == motion.split("\n", 1)[1]
    assert digit_runs(findings(motion)) == {"69", "75", "6", "4"}


class _WantsSixty:
    """Stands in for the decoder's scoring (as in test_coach_model): <feedback> at the decision step, then an
    utterance that prefers "6", then "0" over "9", then "°", then the end token."""

    def __init__(self, dec: object, vocab: int):
        self.vocab, self.pos = vocab, 0
        ids = tokenizer().convert_tokens_to_ids
        self.script = [[ids("6")], [ids("0"), ids("9")], [tokenizer().encode("°")[0]], [vocab + 2]]

    def __call__(self, hidden: torch.Tensor, rows: torch.Tensor | None = None) -> torch.Tensor:
        assert rows is not None
        if rows.shape[0] == 2:
            return torch.tensor([0.0, 5.0])
        out = torch.zeros(self.vocab + 3)
        for rank, i in enumerate(self.script[min(self.pos, len(self.script) - 1)]):
            out[i] = 10.0 - rank
        self.pos += 1
        return out


@pytest.mark.parametrize(("mode", "said"), [("findings", "69°"), ("context", "60°"), ("off", "60°")])
def test_the_neural_coach_says_a_number_of_its_findings(mode: str, said: str) -> None:
    from workbench.coach.coaching import DecisionInput
    from workbench.coach.neural import NeuralCoach
    from workbench.exercises import load_catalogue

    coach = NeuralCoach(tiny_model(seed=4, grounded_numbers=mode), tokenizer(), weights="float32")
    coach.reset(load_catalogue().get("squat"), "User body: not measured.")
    coach.decoder.logits = _WantsSixty(coach.decoder, 49152)  # type: ignore[method-assign]
    message = "Right hip flexion insufficient (69° detected, 75° required, 6° short)"
    motion = f"Current pose: right hip 62°, left hip 60°.\nForm issues: {message}\nReps completed: 4."
    hip = Violation(
        3, "hip", "femur_r", "hip_flexion_r", "dynamic", 69.0, 75.0, (75, None), 6.0, message, "", "", 9.0, "x"
    )
    rep = Rep(3, 8.0, 9.7, "rep", None, (), (hip,))
    inp = DecisionInput(39, 9.75, "squat", "", motion, (rep,), (), None)
    out = coach.decide(inp)
    assert out is not None and out.text == said
    assert coach.provenance["grounded_numbers"] == mode
