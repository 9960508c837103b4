"""A coach's predictions on a synthetic split (`biocoach data synthetic`) checked against the sessions' known
answer — the checks of issue 19 that the QEVD metrics miss:

* every shallow rep (an injected fault) is followed within 3 s by a line naming the knee or the hip with a number
  within 3° of that rep's depth as the analysis measured it;
* the share of clean reps after which the coach spoke (before the next rep ended);
* the longest utterance in words.

    .venv/bin/biocoach data synthetic heldout/ --sessions 12 --seed 7 --exercises squat
    .venv/bin/biocoach data predict heldout/QEVD-FIT-COACH-Benchmark neural.json --model neural
    .venv/bin/python bench/check_coach_synthetic.py neural.json heldout/QEVD-FIT-COACH-Benchmark

Prints one line per criterion and a JSON line. T-F-Score, METEOR, ROUGE-L and the numbers check come from
`biocoach eval neural.json --gt heldout/QEVD-FIT-COACH-Benchmark`.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path
from typing import Any

SPEAK_WITHIN_S = 3.0
DEPTH_TOLERANCE_DEG = 3.0


def _degrees(text: str) -> list[float]:
    return [float(x) for x in re.findall(r"(-?\d+(?:\.\d+)?)\s*°", text)]


def check(predictions: Path, split: Path) -> dict[str, Any]:
    from workbench.data.qevd import load_split
    from workbench.data.synthetic_split import load_truth
    from workbench.exercises import load_catalogue
    from workbench.motion.analysis import analyze

    truth = {t["mini_episode_id"]: t for t in load_truth(split)["sessions"]}
    sessions = {s.session_id: s for s in load_split(split)}
    preds = {p["mini_episode_id"]: p for p in json.loads(predictions.read_text())}
    catalogue = load_catalogue()
    shallow = corrected = clean = spoken_clean = 0
    missed: list[str] = []
    longest = 0
    for seg_id, session in sessions.items():
        p = preds.get(seg_id, {"pred_feedbacks": [], "pred_feedback_timestamps": []})
        said = list(zip(p["pred_feedback_timestamps"], p["pred_feedbacks"], strict=True))
        longest = max([longest, *(len(t.split()) for _, t in said)])
        info = truth[seg_id]
        faults = {int(k): v for k, v in info["faults"].items()}
        bounds = info["rep_bounds_s"]
        assert session.track is not None
        analysis = analyze(session.track, catalogue.get(session.exercise))
        for i, (_, end) in enumerate(bounds):
            if "shallow" in faults.get(i, []):
                shallow += 1
                rep = next((r for r in analysis.reps if r.index == i), None)
                depths = [v.value_deg for v in rep.violations if v.dof.startswith(("knee", "hip"))] if rep else []
                t_end = rep.end_s if rep else end
                ok = any(
                    t_end <= t <= t_end + SPEAK_WITHIN_S
                    and re.search(r"\b(knee|hip)\b", text, re.I)
                    and any(abs(d - v) <= DEPTH_TOLERANCE_DEG for d in _degrees(text) for v in depths)
                    for t, text in said
                )
                corrected += ok
                if not ok:
                    missed.append(f"{seg_id} rep {i}")
            else:
                until = bounds[i + 1][1] if i + 1 < len(bounds) else end + SPEAK_WITHIN_S
                clean += 1
                spoken_clean += any(end <= t < until for t, _ in said)
    return {
        "sessions": len(sessions),
        "shallow_reps": shallow,
        "shallow_reps_corrected": corrected,
        "missed": missed,
        "clean_reps": clean,
        "clean_reps_spoken_after": spoken_clean,
        "clean_spoken_share": spoken_clean / clean if clean else None,
        "longest_utterance_words": longest,
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("predictions", type=Path)
    ap.add_argument("split", type=Path)
    args = ap.parse_args(argv)
    r = check(args.predictions, args.split)
    print(
        f"shallow reps corrected within {SPEAK_WITHIN_S:g} s, knee/hip named within {DEPTH_TOLERANCE_DEG:g}°: "
        f"{r['shallow_reps_corrected']} / {r['shallow_reps']}"
        + (f" (missed: {', '.join(r['missed'])})" if r["missed"] else "")
    )
    share = r["clean_spoken_share"]
    print(f"clean reps followed by a line: {r['clean_reps_spoken_after']} / {r['clean_reps']} ({share:.2f})")
    print(f"longest utterance: {r['longest_utterance_words']} words")
    print(json.dumps(r))
    return 0


if __name__ == "__main__":
    sys.exit(main())
