"""Calibration and assessment on labelled repetitions with a known answer.

Synthetic one-rep files (``workbench.calibration.synthetic``): correct reps at each subject's own depth,
incorrect ones 30° shallower in every moving DoF. The bound that separates them is known (between the
deepest incorrect and the shallowest correct knee), the score must rank every incorrect rep above every
correct one, and a calibration followed by a revert must leave the analyses exactly as they were.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from workbench.calibration.assess import SCHEMA, assess
from workbench.calibration.calibrate import CalibrationError, calibrate, revert_calibration
from workbench.calibration.fit import Standardiser, auc_columns, feature_matrix, fit_score
from workbench.calibration.reps import check_values
from workbench.calibration.synthetic import write_labelled_set
from workbench.cli import main
from workbench.data.labelled import read_manifest, write_manifest
from workbench.exercises import load_catalogue
from workbench.exercises.scoring import ScoreFeature, Scoring, feature_value, rep_score
from workbench.motion.analysis import analyze
from workbench.pose.posefile import load_npz, save_npz
from workbench.pose.synthetic import synthesize
from workbench.skeleton import DOF_NAMES, N_DOFS, dof_index
from workbench.store.database import Database
from workbench.store.seed import init_from_references, load_store_catalogue


@pytest.fixture(scope="module")
def labelled(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("labelled")
    return write_labelled_set(load_catalogue().get("squat"), out, n_subjects=4, reps_per_label=6, seed=3).manifest


def fresh_db(tmp_path: Path) -> Database:
    db = Database(tmp_path / "store.duckdb")
    init_from_references(db)
    return db


def peak_knee(path: Path) -> float:
    q = load_npz(path).q
    return float(np.degrees(np.nanmax(q[:, [dof_index("knee_angle_r"), dof_index("knee_angle_l")]])))


# ------------------------------------------------------------------------------------------ the score


def test_feature_terms_and_weighted_mean() -> None:
    cycle = np.zeros((N_DOFS, 11))
    k = dof_index("knee_angle_r")
    cycle[k] = np.radians(np.linspace(0, 100, 11))
    high = ScoreFeature("knee_angle_r", "max", "high", center_deg=90.0, spread_deg=5.0, weight=0.75)
    low = ScoreFeature("knee_angle_r", "range", "low", center_deg=110.0, spread_deg=10.0, weight=0.25)
    assert high.term(100.0) == pytest.approx(2.0)
    assert low.term(100.0) == pytest.approx(1.0)
    assert ScoreFeature("knee_angle_r", "max", "both", 90.0, 5.0, 1.0).term(80.0) == pytest.approx(2.0)
    assert high.term(1e6) == pytest.approx(6.0)  # clipped: one wild value cannot dominate
    observed = np.ones(N_DOFS, bool)
    got = rep_score(cycle, observed, Scoring((high, low), {}), None, None, [])
    assert got is not None and got.value == pytest.approx(0.75 * 2.0 + 0.25 * 1.0)
    observed[k] = False  # the only scored DoF unobserved: nothing to say
    assert rep_score(cycle, observed, Scoring((high, low), {}), None, None, []) is None


def test_default_score_is_the_distance_from_the_reference_in_sds() -> None:
    ref = np.zeros((N_DOFS, 5))
    sd = np.full((N_DOFS, 5), np.radians(10.0))
    k = dof_index("knee_angle_r")
    ref[k] = np.radians([0, 40, 80, 40, 0])
    cycle = ref.copy()
    cycle[k] += np.radians(20.0)  # 2 SDs off everywhere
    got = rep_score(cycle, np.ones(N_DOFS, bool), None, ref, sd, [k])
    assert got is not None and got.value == pytest.approx(2.0)
    assert rep_score(ref, np.ones(N_DOFS, bool), None, ref, sd, [k]).value == pytest.approx(0.0)  # type: ignore[union-attr]


def test_vectorised_features_equal_the_analysis_features() -> None:
    rng = np.random.default_rng(0)
    cycles = rng.normal(0, 0.5, (3, N_DOFS, 20))
    mean, sd = rng.normal(0, 0.5, (N_DOFS, 20)), np.abs(rng.normal(0.1, 0.05, (N_DOFS, 20)))
    x, names = feature_matrix(cycles, mean, sd)
    for col in (0, 7, len(names) - 1):
        dof_name, stat = names[col].rsplit(".", 1)
        want = feature_value(cycles[1], stat, DOF_NAMES.index(dof_name), mean, sd)  # type: ignore[arg-type]
        assert x[1, col] == pytest.approx(want)


def test_auc_matches_scikit_learn() -> None:
    from sklearn.metrics import roc_auc_score

    rng = np.random.default_rng(1)
    y = rng.random(40) < 0.5
    s = rng.normal(size=(40, 3)) + y[:, None]
    s[:5, 0] = 1.0  # ties
    assert np.allclose(auc_columns(s, y), [roc_auc_score(y, s[:, j]) for j in range(3)])


def test_fit_score_finds_the_separating_feature() -> None:
    """Incorrect reps are 25° shallower in the knee only; everything else is noise: the heaviest feature is a
    knee feature in the 'low' direction and held-out people are ranked perfectly."""
    rng = np.random.default_rng(2)
    n, grid = 60, np.linspace(0, 1, 30)
    positive = np.arange(n) % 2 == 1
    subjects = [f"s{k % 5}" for k in range(n)]
    cycles = rng.normal(0, np.radians(3), (n, N_DOFS, grid.size))
    depth = np.radians(100 - 25 * positive + rng.normal(0, 3, n))
    cycles[:, dof_index("knee_angle_r")] += depth[:, None] * np.sin(np.pi * grid)[None]
    mean, sd = cycles[~positive].mean(axis=0), cycles[~positive].std(axis=0)
    fit = fit_score(cycles, positive, subjects, mean, sd)
    assert fit.scoring is not None and fit.cv_auc is not None and fit.cv_auc > 0.97
    top = fit.scoring.features[0]
    assert top.dof == "knee_angle_r" and top.direction == "low"
    assert sum(f.weight for f in fit.scoring.features) == pytest.approx(1.0)


def test_standardiser_floors_the_spread() -> None:
    x = np.array([[1.0, 0.5], [1.0, 0.5], [1.0, 0.5]])
    std = Standardiser.fit(x, ["a.max", "a.traj"])
    assert list(std.spread) == [1.0, 0.05]


# ------------------------------------------------------------------------------------- calibration


def test_calibration_recovers_the_separating_bound(labelled: Path, tmp_path: Path) -> None:
    db = fresh_db(tmp_path)
    rows = read_manifest(labelled)
    report = calibrate(db, "squat", rows, author="test", note="synthetic", dataset="synthetic")
    ex = load_store_catalogue(db).catalogue.get("squat")
    lo = ex.constraints[[c.id for c in ex.constraints].index("knee_depth")].bounds_deg[0]  # type: ignore[index]
    knees = {r.file: peak_knee(r.path) for r in rows}
    deepest_incorrect = max(v for r in rows if r.incorrect for v in [knees[r.file]])
    correct = sorted(knees[r.file] for r in rows if not r.incorrect)
    assert lo is not None and deepest_incorrect < lo < correct[len(correct) // 2]
    change = next(b for b in report.bounds if b.check == "knee_depth")
    assert change.detection == 1.0 and change.false_alarm <= 0.2
    assert report.score.cv_auc == pytest.approx(1.0)
    prov = ex.scoring.calibration  # type: ignore[union-attr]
    assert prov["id"] == report.calibration_id and prov["n_correct"] == 24 and prov["n_incorrect"] == 24
    assert prov["subjects"] == ["s01", "s02", "s03", "s04"] and prov["dataset"] == "synthetic"


def test_assessment_after_calibration_separates_and_names_each_row(labelled: Path, tmp_path: Path) -> None:
    db = fresh_db(tmp_path)
    rows = read_manifest(labelled)
    calibrate(db, "squat", rows, author="test")
    doc = assess(rows, load_store_catalogue(db).catalogue).to_json()
    assert doc["schema"] == SCHEMA
    ex = doc["exercises"]["squat"]
    assert ex["auc"] == 1.0 and ex["n_correct"] == 24 and ex["n_incorrect"] == 24
    assert ex["sensitivity"] == 1.0 and ex["specificity"] >= 0.75
    assert ex["checks"]["knee_depth"]["auc"] == 1.0
    assert [r["file"] for r in doc["reps"]] == [r.file for r in rows]
    assert all(r["n_reps_found"] == 1 for r in doc["reps"])
    json.dumps(doc, allow_nan=False)  # standard JSON


def test_a_file_with_two_reps_keeps_its_row_with_a_warning(labelled: Path, tmp_path: Path) -> None:
    squat = load_catalogue().get("squat")
    track, _ = synthesize(squat, 2, seed=4, noise_deg=1.0)
    save_npz(track, tmp_path / "two.npz")
    rows = read_manifest(labelled)
    lines = [(str(r.path), r.exercise, r.label, r.subject, r.episode, r.source) for r in rows]
    write_manifest(tmp_path / "m.csv", [*lines, ("two.npz", "squat", "correct", "s09", "e01", "x")])
    doc = assess(read_manifest(tmp_path / "m.csv"), load_catalogue()).to_json()
    row = next(r for r in doc["reps"] if r["file"] == "two.npz")
    assert row["n_reps_found"] == 2 and row["score"] is not None
    assert "2 repetitions found where one was expected" in row["warnings"][0]
    assert doc["exercises"]["squat"]["n_reps_not_one"] == 1


def test_revert_restores_the_judgments_exactly(labelled: Path, tmp_path: Path) -> None:
    db = fresh_db(tmp_path)
    squat = load_catalogue().get("squat")
    track, _ = synthesize(squat, 5, seed=7, noise_deg=2.0, depth_scale=0.85)

    def analysis() -> str:
        doc = analyze(track, load_store_catalogue(db).catalogue.get("squat")).to_json()
        doc["provenance"].pop("reference")  # names the store version, which a revert advances by design
        return json.dumps(doc, sort_keys=True)

    before = analysis()
    report = calibrate(db, "squat", read_manifest(labelled), author="test")
    assert analysis() != before
    reverted = revert_calibration(db, "squat", author="test")
    assert reverted.calibration_id == report.calibration_id
    assert set(reverted.reverted) == set(report.versions)
    assert analysis() == before
    with pytest.raises(CalibrationError, match="not written by a calibration"):
        revert_calibration(db, "squat", author="test")


def test_check_values_pool_both_sides_in_the_written_convention() -> None:
    squat = load_catalogue().get("squat")
    track, _ = synthesize(squat, 1, seed=1)
    from workbench.calibration.reps import LabelledRep
    from workbench.data.labelled import ManifestRow

    rep = analyze(track, squat).reps[0]
    row = ManifestRow("x", "squat", "correct", "s1", "e1", "", Path("x"))
    values = check_values([LabelledRep(row, rep, 1)], squat, "knee_depth")[0]
    assert len(values) == 2 and all(v > 90 for v in values)  # right and left knee, both deep


# -------------------------------------------------------------------------------------------- the CLI


def test_cli_calibrate_history_assess_and_revert(
    labelled: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = tmp_path / "cli.duckdb"
    assert main(["db", "--db", str(db), "init"]) == 0
    assert (
        main(["calibrate", "squat", "--manifest", str(labelled), "--db", str(db), "--author", "ann", "--note", "first"])
        == 0
    )
    out = capsys.readouterr().out
    assert "calibrated squat" in out and "leave-one-subject-out AUC 1.000" in out
    assert main(["db", "--db", str(db), "history", "squat"]) == 0
    assert "ann: calibration cal-" in capsys.readouterr().out
    js, page = tmp_path / "a.json", tmp_path / "a.html"
    assert main(["assess", str(labelled), "--db", str(db), "--json", str(js), "--html", str(page), "-q"]) == 0
    doc = json.loads(js.read_text())
    assert doc["exercises"]["squat"]["auc"] == 1.0 and len(doc["reps"]) == 48
    assert "data:image/png;base64," in page.read_text() and "http" not in page.read_text()
    assert main(["calibrate", "squat", "--revert", "--db", str(db)]) == 0
    assert "reverted calibration" in capsys.readouterr().out
    assert main(["calibrate", "nonsense", "--manifest", str(labelled), "--db", str(db)]) == 2
    assert main(["assess", str(labelled), "--json", str(tmp_path / "missing" / "a.json"), "--db", str(db)]) == 2
