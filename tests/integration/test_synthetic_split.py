"""`biocoach data synthetic` → `data predict --model rule` → `eval` (issue 19): held-out synthetic sessions as a
QEVD-fit-coach split, scored by the project's standard tools. The rule coach predicting its own lines (the
split's truth is spoken by the coach `data predict --model rule` loads, over the track as stored) scores
T-F-Score 1, ROUGE-L 1, METEOR at nltk's ceiling for identical sentences, and every number grounded."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from workbench.data.synthetic_split import DEFAULT_SPLIT, TRUTH_FILE

BIOCOACH = [sys.executable, "-m", "workbench.cli"]

pytestmark = pytest.mark.slow  # three CLI processes, about 35 s on a busy 2-core machine


def run(*args: str) -> subprocess.CompletedProcess[str]:
    offline = dict(os.environ, HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1")
    return subprocess.run([*BIOCOACH, *args], capture_output=True, text=True, timeout=300, env=offline)


def test_rule_coach_round_trip_scores_its_own_lines(tmp_path: Path) -> None:
    out = tmp_path / "syn"
    proc = run("data", "synthetic", str(out), "--sessions", "4", "--seed", "7", "--exercises", "squat")
    assert proc.returncode == 0, proc.stderr
    split = out / DEFAULT_SPLIT
    assert f"wrote {split}" in proc.stdout
    truth = json.loads((split / TRUTH_FILE).read_text())
    assert [s["mini_episode_id"] for s in truth["sessions"]] == ["0000_0", "0001_0", "0002_0", "0003_0"]
    n_truth = sum(len(s["utterances"]) for s in truth["sessions"])

    preds = tmp_path / "rule.json"
    proc = run("data", "predict", str(split), str(preds), "--model", "rule")
    assert proc.returncode == 0, proc.stderr
    items = {i["mini_episode_id"]: i for i in json.loads(preds.read_text())}
    for s in truth["sessions"]:  # the very lines, at the very decision steps
        assert items[s["mini_episode_id"]]["pred_feedbacks"] == [u["text"] for u in s["utterances"]]
        assert items[s["mini_episode_id"]]["pred_feedback_timestamps"] == pytest.approx(
            [u["t_s"] for u in s["utterances"]], abs=1e-3
        )

    proc = run("eval", str(preds), "--gt", str(split), "--no-db", "--no-bertscore", "--json", "-", "-q")
    assert proc.returncode == 0, proc.stderr
    doc = json.loads(proc.stdout)
    assert doc["n_gt"] == doc["n_pred"] == doc["n_matched"] == n_truth
    assert doc["t_f_score"] == pytest.approx(1.0, abs=1e-9)
    assert doc["precision"] == pytest.approx(1.0, abs=1e-9)
    assert doc["recall"] == pytest.approx(1.0, abs=1e-9)
    assert doc["rouge_l"] == pytest.approx(1.0, abs=1e-9)
    assert doc["meteor"] > 0.998  # nltk's METEOR of a sentence with itself stays just under 1 (0.999 here)
    assert doc["numbers_grounded"] == 1.0
    assert doc["utterances_all_grounded"] == 1.0
    assert doc["n_numbers_checked"] > 0
