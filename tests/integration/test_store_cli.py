"""The store through the command line, as an expert uses it: export, edit a threshold, import, and the next
analysis uses (and names) the new version; a bad import changes nothing."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from workbench.exercises import load_catalogue
from workbench.pose.posefile import save_npz
from workbench.pose.synthetic import Fault, synthesize

pytestmark = pytest.mark.slow


def biocoach(db: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, BIOCOACH_DB=str(db))
    return subprocess.run(
        [sys.executable, "-m", "workbench.cli", *args], capture_output=True, text=True, env=env, timeout=300
    )


def _edit(path: Path, check: str, old: str, new: str) -> None:
    text = path.read_text()
    start = text.index(f"- id: {check}")
    at = text.index(old, start)
    path.write_text(text[:at] + new + text[at + len(old) :])


def _tree(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def test_threshold_edit_reaches_the_next_analysis(tmp_path: Path) -> None:
    db = tmp_path / "s.duckdb"
    track, _ = synthesize(
        load_catalogue().get("squat"), 4, noise_deg=1.0, seed=3, faults=(Fault("shallow", (1, 2), 10),)
    )  # knees reach ~95° in reps 1 and 2
    clip = save_npz(track, tmp_path / "squat.npz")
    assert biocoach(db, "db", "init").returncode == 0
    before = json.loads(biocoach(db, "analyze", str(clip), "-e", "squat", "--json", "-").stdout)
    assert biocoach(db, "db", "export", str(tmp_path / "x")).returncode == 0
    _edit(
        tmp_path / "x" / "exercises" / "squat.yaml",
        "knee_depth",
        "bounds_deg: [90.0, null]",
        "bounds_deg: [100.0, null]",
    )
    imported = biocoach(db, "db", "import", str(tmp_path / "x"), "--author", "alice", "--note", "deeper")
    assert imported.returncode == 0 and "knee_depth: version 1 → 2" in imported.stdout
    history = biocoach(db, "db", "history", "squat").stdout
    assert "knee_depth" in history and "v2" in history and "alice: deeper" in history
    after = json.loads(biocoach(db, "analyze", str(clip), "-e", "squat", "--json", "-").stdout)
    assert before["provenance"]["threshold_versions"]["knee_depth"] == 1
    assert after["provenance"]["threshold_versions"]["knee_depth"] == 2
    depth = [[v["check"] for v in r["violations"] if "knee_depth" in v["check"]] for r in after["reps"]]
    assert [len(d) for d in depth] == [0, 2, 2, 0]
    assert all(not r["violations"] for r in before["reps"])


def test_a_bad_import_exits_non_zero_and_changes_nothing(tmp_path: Path) -> None:
    db = tmp_path / "s.duckdb"
    assert biocoach(db, "db", "init").returncode == 0
    assert biocoach(db, "db", "export", str(tmp_path / "a")).returncode == 0
    before = _tree(tmp_path / "a")
    _edit(tmp_path / "a" / "exercises" / "squat.yaml", "knee_depth", "dof: knee_angle_r", "dof: knee_angel_r")
    proc = biocoach(db, "db", "import", str(tmp_path / "a"))
    assert proc.returncode == 2
    assert "squat.yaml" in proc.stderr and "knee_angel_r" in proc.stderr and "Traceback" not in proc.stderr
    assert biocoach(db, "db", "export", str(tmp_path / "b")).returncode == 0
    assert _tree(tmp_path / "b") == before
