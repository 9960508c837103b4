"""An expert's edit in the store reaches every coach and every surface alike (issue 16).

One synthetic squat whose reps reach 95° of knee flexion: clean under the shipped bound (90°), flawed once the
expert tightens ``knee_depth`` to 100°. After the edit, `biocoach coach` (rule), the batch's coaching stage
and the app's feedback timeline say the same lines at the same times, and the new target is in them; after a
change of the squat's salient-joint list, the neural coach reports and uses the store's list, not the YAML's.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import squat_track
from workbench.batch.driver import run_job
from workbench.batch.jobs import JobSpec, StageSpec
from workbench.batch.select import from_folder
from workbench.batch.stages import StagePlan
from workbench.coach.loading import load_coach
from workbench.config import Config
from workbench.dashboard.state import AppState
from workbench.pipeline import analyze_clip
from workbench.pose.posefile import save_npz
from workbench.store import Database, init_from_references
from workbench.store.batches import BatchRepository

NEW_JOINTS = ["femur_r", "femur_l", "tibia_r", "tibia_l"]


@pytest.fixture()
def clip(tmp_path: Path) -> Path:
    track = squat_track(4, period_s=2.5, depths_deg=[95.0] * 4, rest_s=0.5, noise_deg=0.3, seed=3)
    folder = tmp_path / "clips"
    folder.mkdir()
    return save_npz(track, folder / "squat95.npz")


@pytest.fixture()
def db(tmp_path: Path) -> Database:
    database = Database(tmp_path / "store.duckdb")
    init_from_references(database)
    return database


def _tighten_knee_depth(db: Database) -> None:
    with db.store() as store:
        t = store.thresholds.get("squat", "knee_depth")
        store.thresholds.edit(
            "squat", "knee_depth", base_version=t.version, author="expert", note="deeper", bounds_deg=(100.0, None)
        )


def _cli_feedback(clip: Path, db: Database, tmp_path: Path, *extra: str) -> dict[str, Any]:
    out = tmp_path / f"coach{len(list(tmp_path.glob('coach*.json')))}.json"
    cmd = [
        sys.executable,
        "-m",
        "workbench.cli",
        "coach",
        str(clip),
        "-e",
        "squat",
        "--db",
        str(db.path),
        "--json",
        str(out),
        "-q",
        *extra,
    ]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    return dict(json.loads(out.read_text()))


def _lines(feedback: list[dict[str, Any]]) -> list[tuple[float, str]]:
    return [(round(float(f["t_s"]), 3), str(f["text"])) for f in feedback]


@pytest.mark.slow
def test_a_tighter_bound_reaches_the_cli_the_batch_and_the_app_identically(
    clip: Path, db: Database, tmp_path: Path
) -> None:
    before = _lines(_cli_feedback(clip, db, tmp_path)["feedback"])
    assert not [t for _, t in before if "100°" in t]  # 95° passes the shipped 90° bound
    _tighten_knee_depth(db)

    cli = _lines(_cli_feedback(clip, db, tmp_path)["feedback"])
    corrections = [t for _, t in cli if "knee flexion" in t and "100°" in t]
    assert corrections, cli  # every rep now misses the target by about 5°
    assert cli != before

    plan = StagePlan(stages=["pose", "analysis", "coaching"], default_exercise="squat", db=db)
    spec = JobSpec(
        name="edit", selection={"test": "edit"}, stages=[StageSpec(s) for s in plan.stages], engine="local", workers=0
    )
    job = run_job(spec, from_folder(clip.parent), plan, db).job
    with db.store() as store:
        (item,) = BatchRepository(store.session).items(job.id, stage="coaching")
    batch = [(round(float(u["t_s"]), 3), str(u["text"])) for u in item.result["utterances"]]  # type: ignore[index]
    assert batch == cli

    state = AppState(db_path=str(db.path), data_dirs=[str(clip.parent)])
    app = _lines([f.to_json() for f in state.analyse(str(clip), "squat").analysis.feedback])
    assert app == cli


@pytest.mark.slow
def test_a_changed_salient_joint_list_reaches_the_neural_coach(clip: Path, db: Database) -> None:
    with db.store() as store:
        rules = store.rules.get("squat")
        assert sorted(rules.body["salient_joints"]) != sorted(NEW_JOINTS)
        store.rules.save(
            "squat",
            {**rules.body, "salient_joints": NEW_JOINTS},
            base_version=rules.version,
            author="expert",
            note="hips and knees only",
        )
    coach = load_coach("neural", Config())
    result = analyze_clip(clip, "squat", db=db, coach=coach)
    details = result.analysis.provenance["coach_details"]
    assert details["salient_joints"] == NEW_JOINTS  # the store's list, in its order (top-k keeps all four)
    assert list(coach.salient_joints) == NEW_JOINTS  # type: ignore[attr-defined]
    assert result.analysis.salient_joints == NEW_JOINTS  # the analysis used the same list
