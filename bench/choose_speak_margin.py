"""Choose a trained coach's ``speak_margin`` on validation sessions: the second step of reproducing the shipped
checkpoint (references/coach/README.md), after `biocoach train`.

The margin is a decoding setting, not learned (speak when the ``<feedback>`` logit beats ``<next>`` by more than
it), and its best value differs from one training run to the next: the shipped checkpoint's is 2.0, a rerun of
the same command scored best at 2.5. Each margin of ``--margins`` decodes the validation split with the
checkpoint's other settings (int8, ``decode_window_steps``); the one with the highest T-F-Score against the
split's lines wins (ties: the larger margin, the quieter coach). Never run it on the evaluation seeds.

    .venv/bin/biocoach data synthetic val/ --sessions 12 --seed 3 --exercises squat
    .venv/bin/python bench/choose_speak_margin.py references/coach val/QEVD-FIT-COACH-Benchmark --write

Prints one line per margin and a JSON line; ``--write`` stores the chosen margin in the checkpoint's
coach_config.json.
"""

from __future__ import annotations

import argparse
import json
from dataclasses import replace
from pathlib import Path
from typing import Any

# Steps of 0.5 on 12 validation sessions. On 6 sessions with 1 / 1.5 / 2 / 3 a retraining chose 3.0 and was too quiet
# on held-out sessions (recall 0.64; at 2.0 it spoke after half the clean reps); on 12 with this grid it chose 2.5
# and scored within the stated tolerance of the shipped checkpoint (references/coach/README.md).
DEFAULT_MARGINS = "1.5,2,2.5,3,3.5"


def scores(checkpoint: Path, split: Path, margins: list[float]) -> dict[float, float]:
    """T-F-Score on ``split`` for each margin (one coach, its margin changed between passes)."""
    from workbench.coach.neural import NeuralCoach
    from workbench.config import load_config
    from workbench.data.qevd import find_split, load_split
    from workbench.eval.baselines import predict_sessions
    from workbench.eval.tfscore import ClipFeedback, t_f_score
    from workbench.exercises import load_catalogue
    from workbench.llm import load_causal_lm
    from workbench.model.modeling_coach import CoachModel

    config = load_config(None)
    lm = load_causal_lm(config.language_model, cache=config.model_cache_dir)
    coach = NeuralCoach(CoachModel.from_pretrained(checkpoint, lm.model), lm.tokenizer)
    sessions = load_split(find_split(split))
    truth = {s.session_id: s.utterances for s in sessions}
    out = {}
    for margin in margins:
        coach.config = replace(coach.config, speak_margin=margin)
        items = predict_sessions(sessions, coach, load_catalogue()).items
        clips = [
            ClipFeedback(
                item["mini_episode_id"],
                tuple(u.text for u in truth[item["mini_episode_id"]]),
                tuple(u.t_s for u in truth[item["mini_episode_id"]]),
                tuple(item["pred_feedbacks"]),
                tuple(item["pred_feedback_timestamps"]),
            )
            for item in items
        ]
        out[margin] = t_f_score(clips).f_score
        print(f"speak_margin {margin:g}: T-F-Score {out[margin]:.3f}")
    return out


def main() -> dict[str, Any]:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("checkpoint", type=Path)
    ap.add_argument("split", type=Path, help="a validation split (`biocoach data synthetic`), not the test seeds")
    ap.add_argument("--margins", default=DEFAULT_MARGINS)
    ap.add_argument("--write", action="store_true", help="store the chosen margin in coach_config.json")
    args = ap.parse_args()
    by_margin = scores(args.checkpoint, args.split, [float(m) for m in args.margins.split(",")])
    chosen = max(by_margin, key=lambda m: (round(by_margin[m], 6), m))
    if args.write:
        path = args.checkpoint / "coach_config.json"
        config = json.loads(path.read_text(encoding="utf-8"))
        config["speak_margin"] = chosen
        path.write_text(json.dumps(config, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    result = {"chosen": chosen, "t_f_by_margin": {str(m): round(f, 4) for m, f in by_margin.items()}}
    print(json.dumps(result))
    return result


if __name__ == "__main__":
    main()
