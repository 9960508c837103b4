"""``biocoach calibrate``, ``biocoach assess`` and ``biocoach data import-uiprmd`` (arguments only here;
the work is in the package's modules, imported when a command runs)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from workbench.cli_args import add_db_option, check_output_dir, check_output_file, store_path

EXIT_OK = 0


def register(sub: Any) -> None:
    p = sub.add_parser(
        "calibrate",
        help="fit an exercise's reference, bounds and score to labelled repetitions "
        "and store them as new versions (or --revert the last calibration)",
    )
    p.add_argument("exercise", help="exercise key (see `biocoach exercises`)")
    p.add_argument("--manifest", type=Path, help="labelled manifest CSV (file,exercise,label,subject,episode,source)")
    add_db_option(p)
    p.add_argument("--author", default=_user(), help="who calibrated (default: the login name)")
    p.add_argument("--note", default="", help="why")
    p.add_argument(
        "--alpha",
        type=float,
        help="false-alarm rate of the bounds on correct reps (default: chosen by "
        "leave-one-subject-out cross-validation)",
    )
    p.add_argument("--dataset", default="", help="name of the data set, for the provenance")
    p.add_argument("--revert", action="store_true", help="undo the exercise's current calibration instead")
    p.add_argument("--calibration", help="with --revert: the calibration id to undo (default: the current one)")
    p.add_argument("--quiet", "-q", action="store_true")
    p.set_defaults(func=cmd_calibrate)

    p = sub.add_parser("assess", help="how well the store's judgments separate incorrect from correct repetitions")
    p.add_argument("manifest", type=Path, help="labelled manifest CSV")
    add_db_option(p)
    p.add_argument("--no-db", action="store_true", help="judge with references/ directly, without the store")
    p.add_argument("--json", dest="json_out", metavar="OUT", help="write the assessment JSON here ('-': stdout)")
    p.add_argument("--html", type=Path, metavar="OUT", help="write an HTML report with ROC curves and a strip plot")
    p.add_argument("--quiet", "-q", action="store_true")
    p.set_defaults(func=cmd_assess)


def register_data(dsub: Any) -> None:
    d = dsub.add_parser("import-uiprmd", help="UI-PRMD Kinect repetitions → one pose .npz each and manifest.csv")
    d.add_argument("src", type=Path, help="the data set folder (holding kinect/{correct,incorrect}/...)")
    d.add_argument("--out", type=Path, required=True, help="output folder")
    d.add_argument("--subjects", help="comma-separated subject numbers (default: all)")
    d.add_argument("--movements", help="comma-separated m01-m05 or exercise keys (default: all)")
    d.add_argument("--quiet", "-q", action="store_true")
    d.set_defaults(func=cmd_import_uiprmd)


# ------------------------------------------------------------------------------------------ commands


def cmd_import_uiprmd(args: argparse.Namespace) -> int:
    from workbench.data.labelled import import_uiprmd
    from workbench.errors import WorkbenchError

    try:
        subjects = [int(s) for s in args.subjects.split(",")] if args.subjects else None
    except ValueError:
        raise WorkbenchError(f"--subjects: expected comma-separated numbers, got {args.subjects!r}") from None
    movements = [m.strip() for m in args.movements.split(",")] if args.movements else None
    check_output_dir(args.out, "--out")
    report = import_uiprmd(
        args.src, args.out, subjects=subjects, movements=movements, progress=_progress(args.quiet, "importing")
    )
    if not args.quiet:
        print(report.message())
    return EXIT_OK


def cmd_calibrate(args: argparse.Namespace) -> int:
    from workbench.calibration.calibrate import calibrate, revert_calibration
    from workbench.data.labelled import read_manifest
    from workbench.errors import WorkbenchError
    from workbench.pipeline import default_database

    if not args.revert and args.manifest is None:
        raise WorkbenchError("calibrate: expected --manifest M.csv (or --revert)")
    if args.alpha is not None and not 0 < args.alpha < 0.5:
        raise WorkbenchError(f"--alpha: expected a false-alarm rate in (0, 0.5), got {args.alpha}")
    db = default_database(store_path(args))
    if args.revert:
        print(revert_calibration(db, args.exercise, author=args.author, calibration_id=args.calibration).message())
        return EXIT_OK
    rows = read_manifest(args.manifest)
    report = calibrate(
        db,
        args.exercise,
        rows,
        author=args.author,
        note=args.note,
        alpha=args.alpha,
        dataset=args.dataset or _dataset_of(rows),
        manifest=str(args.manifest),
        progress=_progress(args.quiet, "analysing"),
    )
    if not args.quiet:
        print(report.message())
    return EXIT_OK


def cmd_assess(args: argparse.Namespace) -> int:
    from workbench import __version__
    from workbench.calibration.assess import assess
    from workbench.calibration.report import write_html
    from workbench.data.labelled import read_manifest
    from workbench.io.outputs import json_text, write_text

    check_output_file(args.json_out, "--json")  # before any work
    check_output_file(args.html, "--html")
    db_path = None if args.no_db else store_path(args)
    rows = read_manifest(args.manifest)
    if args.no_db:
        from workbench.exercises import load_catalogue

        catalogue = load_catalogue()
        prov: dict[str, Any] = {"rules_from": "references/ (no store)"}
    else:
        from workbench.pipeline import default_database
        from workbench.store.seed import load_store_catalogue

        store_cat = load_store_catalogue(default_database(db_path))
        catalogue = store_cat.catalogue
        keys = sorted({catalogue.get(r.exercise).rule_file.stem for r in rows})
        prov = {"store": store_cat.database, "versions": {k: store_cat.provenance(k) for k in keys}}
    prov.update(tool="biocoach-workbench", version=__version__, manifest=str(args.manifest))
    result = assess(
        rows, catalogue, provenance=prov, progress=_progress(args.quiet or args.json_out == "-", "assessing")
    )
    doc = result.to_json()
    if args.json_out == "-":
        print(json_text(doc, indent=1))
    elif args.json_out:
        write_text(args.json_out, json_text(doc, indent=1) + "\n")
    if args.html:
        write_html(doc, args.html, {r.exercise: catalogue.get(r.exercise).key for r in rows})
    if not args.quiet and args.json_out != "-":
        print(summary(doc))
    return EXIT_OK


def summary(doc: dict[str, Any]) -> str:
    lines = [f"{'exercise':14s} {'correct':>7s} {'incorr.':>7s} {'AUC':>6s} {'AUC sev':>7s} {'sens':>5s} {'spec':>5s}"]
    for key, ex in doc["exercises"].items():
        lines.append(
            f"{key:14s} {ex['n_correct']:7d} {ex['n_incorrect']:7d} {_f(ex['auc']):>6s} "
            f"{_f(ex['auc_severity']):>7s} {_f(ex['sensitivity'], 2):>5s} "
            f"{_f(ex['specificity'], 2):>5s}"
        )
    if doc["warnings"]:
        lines.append(f"{len(doc['warnings'])} warning(s), e.g.: {doc['warnings'][0]}")
    return "\n".join(lines)


def _f(x: float | None, nd: int = 3) -> str:
    return "n/a" if x is None else f"{x:.{nd}f}"


def _dataset_of(rows: Any) -> str:
    sources = sorted({r.source.split(" ")[0] for r in rows if r.source})
    return ", ".join(sources[:3])


def _progress(quiet: bool, what: str) -> Any:
    if quiet or not sys.stderr.isatty():
        return None

    def show(done: int, total: int) -> None:
        end = "\n" if done == total else ""
        print(f"\r{what}: {done}/{total}", end=end, file=sys.stderr, flush=True)

    return show


def _user() -> str:
    from workbench.config import login_name

    return login_name()
