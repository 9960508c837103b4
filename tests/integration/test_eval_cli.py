"""`biocoach data …` and `biocoach eval` as a user runs them, offline: the miniature dataset, the rule-coach
baseline, the --json document, the HTML report, the stored evaluation, and the LLM judge through a real local
OpenAI-compatible server (fixed replies, so the judged means are known; and one judgement by the packaged
SmolLM2 behind the same kind of server)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest

from tests.eval_support import chat_server, local_model_reply
from workbench.data import miniature as mini
from workbench.eval.tfscore import ClipFeedback, t_f_score

BIOCOACH = [sys.executable, "-m", "workbench.cli"]
SPLIT = mini.TEST_SPLIT
JSON_KEYS = {
    "t_f_score",
    "precision",
    "recall",
    "n_gt",
    "n_pred",
    "n_matched",
    "meteor",
    "rouge_l",
    "bertscore",
    "models",
    "per_clip",
}


def run(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    # No network: any proxy-routed request fails fast; Hugging Face libraries are told to stay offline.
    offline = dict(
        os.environ,
        HF_HUB_OFFLINE="1",
        TRANSFORMERS_OFFLINE="1",
        HTTP_PROXY="http://127.0.0.1:9",
        HTTPS_PROXY="http://127.0.0.1:9",
        NO_PROXY="127.0.0.1,localhost",
        **(env or {}),
    )
    return subprocess.run([*BIOCOACH, *args], capture_output=True, text=True, timeout=300, env=offline)


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("mini")
    proc = run("data", "miniature", str(root))
    assert proc.returncode == 0, proc.stderr
    assert f"wrote {root / SPLIT}" in proc.stdout
    return root


@pytest.fixture(scope="module")
def rule_predictions(data: Path) -> Path:
    out = data / "rule.json"
    proc = run("data", "predict", str(data / SPLIT), str(out), "--model", "rule")
    assert proc.returncode == 0, proc.stderr
    assert "'burpee_twists' is not in the catalogue; predicted nothing" in proc.stdout
    return out


def test_rule_baseline_evaluation_end_to_end(data: Path, rule_predictions: Path, tmp_path: Path) -> None:
    db = tmp_path / "store.duckdb"
    out, html = tmp_path / "eval.json", tmp_path / "eval.html"
    proc = run(
        "eval",
        str(rule_predictions),
        "--gt",
        str(data / SPLIT),
        "--json",
        str(out),
        "--html",
        str(html),
        "--db",
        str(db),
        "--create",
        "--name",
        "rule-baseline",
    )
    assert proc.returncode == 0, proc.stderr
    doc = json.loads(out.read_text())
    assert doc.keys() >= JSON_KEYS
    # T-F from the same files through the metric alone: the CLI's pooling and reading must agree
    subs = {i["mini_episode_id"]: i for i in json.loads(rule_predictions.read_text())}
    seg = run("data", "segments", str(data / SPLIT), "--json", "-")
    gt = {g["mini_episode_id"]: g for g in json.loads(seg.stdout)}
    clips = [
        ClipFeedback(
            k,
            tuple(g["feedbacks"]),
            tuple(g["feedback_timestamps"]),
            tuple(subs[k]["pred_feedbacks"]),
            tuple(subs[k]["pred_feedback_timestamps"]),
        )
        for k, g in sorted(gt.items())
    ]
    ref = t_f_score(clips)
    assert doc["t_f_score"] == pytest.approx(ref.f_score, abs=1e-6)
    assert (doc["n_gt"], doc["n_pred"], doc["n_matched"]) == (ref.n_gt, ref.n_pred, ref.matched_gt)
    assert (ref.n_gt, ref.n_pred) == (16, sum(len(s["pred_feedbacks"]) for s in subs.values()))
    assert [c["clip_id"] for c in doc["per_clip"]] == ["0007_0", "0007_1", "0150_0", "0150_2", "0150_3"]
    assert "all-MiniLM-L6-v2" in doc["models"]["bertscore"] and "WordNet" in doc["models"]["meteor"]
    assert 0.0 <= doc["bertscore"] <= 1.0 and doc["llm_accuracy"] is None
    # every model used is named on the terminal too
    assert "all-MiniLM-L6-v2" in proc.stdout and "judges: not run" in proc.stdout
    page = html.read_text()
    assert page.count("src='data:image/png;base64,") == 2 and "http" not in page.split("<body>")[1].split("<h2>")[0]
    con = duckdb.connect(str(db), read_only=True)
    try:
        ((n_eval, name, tf),) = con.execute(
            "SELECT count(*), any_value(name), any_value(t_f_score) FROM evaluations"
        ).fetchall()
        assert (n_eval, name) == (1, "rule-baseline") and tf == pytest.approx(doc["t_f_score"])
        assert con.execute("SELECT count(*) FROM evaluation_clips").fetchone() == (5,)
        rows = dict(con.execute("SELECT metric, value FROM evaluation_results WHERE evaluation_id = 1").fetchall())
        assert rows["t_f_score"] == pytest.approx(doc["t_f_score"]) and "llm_accuracy" not in rows
    finally:
        con.close()
    listed = run("evaluations", "--db", str(db))
    assert "rule-baseline" in listed.stdout


def test_perfect_predictions_score_one_and_runs_compare(data: Path, tmp_path: Path) -> None:
    seg = run("data", "segments", str(data / SPLIT), "--json", str(tmp_path / "gt.json"))
    assert seg.returncode == 0, seg.stderr
    gt = json.loads((tmp_path / "gt.json").read_text())
    perfect = [
        {
            "mini_episode_id": g["mini_episode_id"],
            "pred_feedbacks": g["feedbacks"],
            "pred_feedback_timestamps": g["feedback_timestamps"],
        }
        for g in gt
    ]
    (tmp_path / "perfect.json").write_text(json.dumps(perfect))
    empty = [
        {"mini_episode_id": g["mini_episode_id"], "pred_feedbacks": [], "pred_feedback_timestamps": []} for g in gt
    ]
    (tmp_path / "empty.json").write_text(json.dumps(empty))
    db = str(tmp_path / "store.duckdb")
    for name in ("perfect", "empty"):
        proc = run(
            "eval",
            str(tmp_path / f"{name}.json"),
            "--gt",
            str(tmp_path / "gt.json"),
            "--no-bertscore",
            "--json",
            str(tmp_path / f"{name}_eval.json"),
            "--db",
            db,
            "--create",
            "-q",
        )
        assert proc.returncode == 0, proc.stderr
    doc = json.loads((tmp_path / "perfect_eval.json").read_text())
    assert doc["t_f_score"] == pytest.approx(1.0) and doc["rouge_l"] == pytest.approx(1.0)
    assert (doc["n_gt"], doc["n_matched"], doc["bertscore"]) == (16, 16, None)
    assert 0.9 < doc["meteor"] < 1.0  # METEOR's fragmentation penalty keeps identical short lines below 1
    zero = json.loads((tmp_path / "empty_eval.json").read_text())
    assert (zero["t_f_score"], zero["n_pred"], zero["meteor"]) == (0.0, 0, 0.0)
    cmp = run("evaluations", "--db", db, "--compare", "1", "2")
    assert cmp.returncode == 0, cmp.stderr
    line = next(ln for ln in cmp.stdout.splitlines() if ln.startswith("t_f_score"))
    assert line.split()[1:4] == ["1.0000", "0.0000", "-1.0000"]


def test_bad_predictions_are_refused_naming_item_and_field(data: Path, tmp_path: Path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text(
        json.dumps([{"mini_episode_id": "0007_0", "pred_feedbacks": ["a", "b"], "pred_feedback_timestamps": [1.0]}])
    )
    proc = run("eval", str(bad), "--gt", str(data / SPLIT), "--no-db")
    assert proc.returncode == 2
    assert "bad.json item 0: expected as many pred_feedback_timestamps as pred_feedbacks, got 1 and 2" in proc.stderr


@pytest.mark.server
def test_judges_through_an_openai_compatible_endpoint(data: Path, rule_predictions: Path, tmp_path: Path) -> None:
    replies = iter(["{'score': 4}", "It matches well.", "{'score': 2}", "{'score': 5}"])
    with chat_server(lambda body: next(replies), model="judge-70b") as (url, seen):
        config = tmp_path / "biocoach.yaml"
        config.write_text(f"judge_endpoint: {url}\njudge_model: judge-70b\n")
        out = tmp_path / "judged.json"
        proc = run(
            "eval",
            str(rule_predictions),
            "--gt",
            str(data / SPLIT),
            "--no-text",
            "--judge",
            "both",
            "--judge-limit",
            "2",
            "--config",
            str(config),
            "--json",
            str(out),
            "--no-db",
            env={"BIOCOACH_JUDGE_API_KEY": "sk-local-secret"},
        )
    assert proc.returncode == 0, proc.stderr
    doc = json.loads(out.read_text())
    acc, bio = doc["judges"]["llm_accuracy"], doc["judges"]["llm_bio_accuracy"]
    # accuracy got "{'score': 4}" and an unparsable reply; bio got 2 and 5
    assert (doc["llm_accuracy"], acc["n_scored"], acc["n_dropped"], acc["n_asked"]) == (4.0, 1, 1, 2)
    assert (doc["llm_bio_accuracy"], bio["n_scored"], bio["n_dropped"]) == (3.5, 2, 0)
    assert acc["n_available"] == doc["n_matched"] > 2
    assert doc["models"]["judge"] == acc["model"] == f"judge-70b @ {url}"
    assert [s["body"]["model"] for s in seen] == ["judge-70b"] * 4
    assert all(s["authorization"] == "Bearer sk-local-secret" for s in seen)
    assert "sk-local-secret" not in proc.stdout + proc.stderr + out.read_text()
    assert f"2 of {doc['n_matched']} matched pairs judged by judge-70b @ {url} (--judge-limit 2)" in proc.stdout
    assert "LLM-Accuracy" in proc.stdout and "1 unparsable dropped" in proc.stdout


@pytest.mark.slow
@pytest.mark.server
def test_the_local_model_answers_through_the_endpoint_path() -> None:
    """The packaged SmolLM2 behind a real OpenAI-compatible HTTP server; one judgement (slow on a busy CPU)."""
    from workbench.eval.judges import judge_pairs
    from workbench.llm import OpenAICompatibleClient
    from workbench.llm.models import DEFAULT_MODEL_NAME

    with chat_server(local_model_reply(), model=DEFAULT_MODEL_NAME) as (url, seen):
        client = OpenAICompatibleClient(url, DEFAULT_MODEL_NAME, timeout_s=900, retries=0)
        result = judge_pairs(client, "llm_bio_accuracy", [("Right knee flexion 65° (target: 90°).", "Go lower!")])
    assert result.model == f"{DEFAULT_MODEL_NAME} @ {url}" and result.n_asked == 1
    assert len(result.scores) + result.n_dropped == 1  # a 135 M judge often rambles instead of answering {...}
    assert seen[0]["body"]["max_tokens"] == 64 and seen[0]["body"]["temperature"] == 0.6
