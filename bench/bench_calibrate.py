"""Import + calibration of 500 labelled repetitions (issue 13 target: well under a minute on 2 cores).

Data: the UI-PRMD development half when ``../shared/data/uiprmd_dev`` is beside the repository (500 real
repetitions), else 500 synthetic ones written in the same Kinect layout (5 movements × 5 subjects × 10
correct and 10 incorrect, the incorrect ones 30° shallower). Baselines measured in the same run: parsing the
1,000 text files alone (the floor any importer pays) and one plain analysis of every imported repetition
(what calibration must at least do). Prints the times and both ratios.
"""

from __future__ import annotations

import os
import tempfile
import time
from pathlib import Path

from common import REPO

REAL = REPO.parent / "shared" / "data" / "uiprmd_dev"
MOVES = {"m01": "deep_squat", "m02": "hurdle_step", "m03": "inline_lunge", "m04": "side_lunge", "m05": "sit_to_stand"}


def synthetic_uiprmd(root: Path) -> Path:
    """500 repetitions in the UI-PRMD layout from the catalogue's synthetic performances."""
    from workbench.data.kinect import kinect_tables, skel_to_kinect, write_kinect_table
    from workbench.exercises import load_catalogue
    from workbench.pose.synthetic import Fault, synthesize

    catalogue = load_catalogue()
    seed = 0
    for code, key in MOVES.items():
        ex = catalogue.get(key)
        for subject in range(1, 6):
            for label in ("correct", "incorrect"):
                for episode in range(1, 11):
                    seed += 1
                    faults = (Fault("shallow", (0,), 30.0),) if label == "incorrect" else ()
                    track, _ = synthesize(ex, 1, noise_deg=1.0, faults=faults, seed=seed, rest_s=0.3)
                    positions, angles = kinect_tables(skel_to_kinect(track.q))
                    suffix = "_inc" if label == "incorrect" else ""
                    stem = f"{code}_s{subject:02d}_e{episode:02d}"
                    base = root / "kinect" / label
                    write_kinect_table(base / "positions" / f"{stem}_positions{suffix}.txt.gz", positions)
                    write_kinect_table(base / "angles" / f"{stem}_angles{suffix}.txt.gz", angles)
    return root


def main(synthetic: bool = False) -> dict[str, float]:
    from workbench.calibration.calibrate import calibrate
    from workbench.data.kinect import read_kinect_table
    from workbench.data.labelled import import_uiprmd, read_manifest
    from workbench.motion.analysis import analyze
    from workbench.pose.posefile import load_npz
    from workbench.store.database import Database
    from workbench.store.seed import init_from_references, load_store_catalogue

    with tempfile.TemporaryDirectory() as tmp:
        tmp_path = Path(tmp)
        real = REAL.is_dir() and not synthetic
        src = REAL if real else synthetic_uiprmd(tmp_path / "src")
        files = sorted(src.glob("kinect/*/*/*.txt*"))
        t0 = time.perf_counter()
        for f in files:
            read_kinect_table(f)
        parse_s = time.perf_counter() - t0

        t0 = time.perf_counter()
        report = import_uiprmd(src, tmp_path / "poses")
        import_s = time.perf_counter() - t0

        db = Database(tmp_path / "store.duckdb")
        init_from_references(db)
        rows = read_manifest(report.manifest)
        catalogue = load_store_catalogue(db).catalogue
        t0 = time.perf_counter()
        for r in rows:
            analyze(load_npz(r.path), catalogue.get(r.exercise))
        analyse_s = time.perf_counter() - t0

        os.environ.setdefault("BIOCOACH_DB", str(tmp_path / "store.duckdb"))
        t0 = time.perf_counter()
        aucs = {}
        for key in sorted({r.exercise for r in rows}):
            cal = calibrate(db, key, rows, author="bench")
            aucs[key] = cal.score.cv_auc
        calibrate_s = time.perf_counter() - t0
    n = len(rows)
    what = "UI-PRMD development half" if real else "synthetic UI-PRMD-layout"
    total = import_s + calibrate_s
    print(
        f"calibration: {n} {what} repetitions imported in {import_s:.1f} s and calibrated (5 movements) in "
        f"{calibrate_s:.1f} s: {total:.1f} s in all (target well under 60 s); baselines in the same run: parsing "
        f"the {len(files)} files {parse_s:.1f} s (import {import_s / parse_s:.2f}x), one plain analysis of every "
        f"repetition {analyse_s:.1f} s (calibration {calibrate_s / analyse_s:.2f}x); leave-one-subject-out AUC "
        + ", ".join(f"{k} {'n/a' if v is None else f'{v:.3f}'}" for k, v in aucs.items())
    )
    return {"import_s": import_s, "calibrate_s": calibrate_s, "parse_s": parse_s, "analyse_s": analyse_s}


if __name__ == "__main__":
    import sys

    main(synthetic="--synthetic" in sys.argv)
