"""`biocoach coach` as a user runs it: feedback events grounded in the evidence, in the JSON and the store."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import SHARED
from workbench.exercises import load_catalogue
from workbench.pose.posefile import save_npz
from workbench.pose.synthetic import Fault, synthesize
from workbench.skeleton import dof

BIOCOACH = [sys.executable, "-m", "workbench.cli"]
REAL = SHARED / "data" / "real_landmarks_dev"
EXAMPLE = Path(__file__).resolve().parents[2] / "references" / "examples" / "squat_cmu_14_14.npz"


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*BIOCOACH, *args], capture_output=True, text=True, timeout=300)


def assert_grounded(event: dict[str, Any]) -> None:
    """A corrective line names its worst violation's joint and quotes its value and target."""
    worst = event["evidence"]["violations"][0]
    generic = dof(worst["dof"]).label.split(" ", 1)[-1] if dof(worst["dof"]).side else dof(worst["dof"]).label
    assert generic in event["text"].lower(), (generic, event["text"])
    numbers = {float(x) for x in re.findall(r"(-?\d+(?:\.\d)?)°", event["text"])}
    assert round(worst["value_deg"]) in {round(x) for x in numbers} or worst["value_deg"] in numbers
    assert round(worst["target_deg"]) in {round(x) for x in numbers}


@pytest.fixture(scope="module")
def faulty_squat(tmp_path_factory: pytest.TempPathFactory) -> Path:
    ex = load_catalogue().get("squat")
    track, _ = synthesize(ex, 8, noise_deg=1.0, seed=3, faults=(Fault("shallow", (2, 5), 30),))
    return save_npz(track, tmp_path_factory.mktemp("coach") / "faulty_squat.npz")


def test_coach_on_a_faulty_synthetic_squat(faulty_squat: Path, tmp_path: Path) -> None:
    out = tmp_path / "coach.json"
    proc = run("coach", str(faulty_squat), "--exercise", "squat", "--json", str(out))
    assert proc.returncode == 0, proc.stderr
    doc = json.loads(out.read_text())
    assert doc["schema"] == "biocoach.analysis/1" and doc["provenance"]["coach"] == "rule"
    feedback = doc["feedback"]
    assert feedback[0]["kind"] == "instructional" and feedback[0]["t_s"] == 0.0 and feedback[0]["step"] == 0
    corrective = [f for f in feedback if f["kind"] == "corrective"]
    assert [f["evidence"]["rep"] for f in corrective] == [2, 5]
    for f in corrective:
        rep = doc["reps"][f["evidence"]["rep"]]
        assert rep["end_s"] <= f["t_s"] <= rep["end_s"] + 1.75 and f["t_s"] * 4 == f["step"]
        assert f["evidence"]["violations"][0] in rep["violations"]
        assert f["evidence"]["tags"][0] == f"rep {rep['index']}: {f['evidence']['violations'][0]['check']}"
        assert_grounded(f)
    assert all(f["n_tokens"] > 0 for f in feedback)
    assert "corrective" in proc.stdout and "↳ rep 2" in proc.stdout  # the printed timeline with its evidence

    from workbench.store.database import Database

    with Database(os.environ["BIOCOACH_DB"]).store() as store:
        stored = store.runs.feedback(doc["provenance"]["run_id"])
        run_record = store.runs.get(doc["provenance"]["run_id"])
    assert [e.text for e in stored] == [f["text"] for f in feedback]
    assert [e.kind for e in stored] == [f["kind"] for f in feedback]
    assert [(e.details or {}).get("rep") for e in stored if e.kind == "corrective"] == [2, 5]
    assert run_record.config["coach"] == "rule"


def test_coach_on_the_bundled_real_squat() -> None:
    proc = run("coach", str(EXAMPLE), "-e", "squat", "--no-db", "--json", "-")
    assert proc.returncode == 0, proc.stderr
    doc = json.loads(proc.stdout)
    assert len(doc["reps"]) == 2 and not any(r["violations"] for r in doc["reps"])  # two clean squats
    assert [f["kind"] for f in doc["feedback"]] == ["instructional"]  # nothing to correct: no invented fault
    assert "run_id" not in doc["provenance"]


@pytest.mark.realdata
@pytest.mark.skipif(not REAL.is_dir(), reason=f"real landmark tracks not present at {REAL}")
def test_coach_on_a_real_pushup_names_the_joint_and_number(tmp_path: Path) -> None:
    """Real MediaPipe landmarks of a phone video (8 push-ups); the elbows do not lock out at the top."""
    clip = REAL / "pushup_side_home_woman_independentstudy.landmarks.csv.gz"
    proc = run("coach", str(clip), "-e", "pushup", "--no-db", "--json", "-")
    assert proc.returncode == 0, proc.stderr
    doc = json.loads(proc.stdout)
    corrective = [f for f in doc["feedback"] if f["kind"] == "corrective"]
    assert corrective
    for f in corrective:
        assert_grounded(f)
        assert any(f["evidence"]["violations"][0] == v for r in doc["reps"] for v in r["violations"])


def test_unknown_exercise_and_bad_model_are_clear_errors(faulty_squat: Path) -> None:
    proc = run("coach", str(faulty_squat), "-e", "sqaut", "--no-db")
    assert proc.returncode == 2 and "sqaut" in proc.stderr
    proc = run("coach", str(faulty_squat), "-e", "squat", "--model", "gpt")
    assert proc.returncode == 2 and "invalid choice" in proc.stderr


@pytest.mark.slow
def test_neural_model_runs_through_the_same_loop(tmp_path: Path) -> None:
    """``--model neural`` loads the neural coach (the shipped checkpoint when none is configured) and drives it
    by the loop."""
    track, _ = synthesize(load_catalogue().get("squat"), 2, seed=1)  # 6 s: 24 decisions, the model load dominates
    clip = save_npz(track, tmp_path / "short.npz")
    out = tmp_path / "neural.json"
    proc = run("coach", str(clip), "-e", "squat", "--model", "neural", "--no-db", "--json", str(out))
    assert proc.returncode == 0, proc.stderr
    doc = json.loads(out.read_text())
    assert doc["provenance"]["coach"] not in ("", "rule") and isinstance(doc["feedback"], list)
    details = doc["provenance"]["coach_details"]  # which checkpoint spoke is in the JSON, not only on stderr
    assert details["trained"] is True and details["shipped"] is True
    assert Path(details["checkpoint"]).name == "coach" and details["training"]["data"] == "synthetic"
    assert details["salient_joints_source"] == "the exercise's salient joints"
    for f in doc["feedback"]:
        assert f["t_s"] * 4 == f["step"] and f["n_tokens"] <= 128


@pytest.mark.slow
def test_the_same_train_command_gives_the_same_checkpoint(tmp_path: Path) -> None:
    """`--seed` fixes the coach's initial weights as well as the batch order: two runs of one command end at
    bit-identical trainable weights (the shipped checkpoint's "reproduce it with one command")."""
    from safetensors.torch import load_file

    outs = []
    for k in range(2):
        out = tmp_path / f"run{k}"
        command = "train --data synthetic --exercises squat --sessions 1 --stage 2 --steps 1 --window-steps 4 "
        command += "--batch-size 1 --lora-rank 2 --seed 3 --create --quiet"
        done = run(*command.split(), "--db", str(tmp_path / "s.duckdb"), "--out", str(out))
        assert done.returncode == 0, done.stderr[-2000:]
        outs.append(load_file(str(out / "coach.safetensors")))
    assert outs[0].keys() == outs[1].keys() and len(outs[0]) > 0
    for name, tensor in outs[0].items():
        assert bool((tensor == outs[1][name]).all()), name
