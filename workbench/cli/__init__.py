"""The ``biocoach`` command line. Thin: it parses arguments, calls the library and prints.

Heavy imports (numpy, scipy, the engine) happen inside the commands, so ``biocoach --help`` is instant.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from workbench.batch.cli import register as register_batch
from workbench.calibration.cli import register as register_calibration
from workbench.calibration.cli import register_data
from workbench.cli.coach import register as register_coach
from workbench.cli.output import emit
from workbench.cli_args import (
    MAX_MASS_KG,
    add_db_option,
    check_output_dir,
    check_output_file,
    existing_file,
    integer,
    mass_kg,
    number,
    port,
    probability,
    store_path,
)
from workbench.eval.cli import register as register_eval
from workbench.review.cli import register as register_review

EXIT_OK, EXIT_INPUT = 0, 2


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return EXIT_OK
    from workbench.errors import WorkbenchError

    try:
        _use_config_limits(args)
        return int(args.func(args))
    except WorkbenchError as exc:
        print(f"biocoach: error: {exc}", file=sys.stderr)
        return EXIT_INPUT
    except KeyboardInterrupt:
        return 130
    except Exception as exc:  # the boundary: what bad data or a bad path raises below us ends in one line
        if not _expected_failure(exc) or os.environ.get("BIOCOACH_DEBUG"):
            raise
        print(f"biocoach: error: {_failure_line(exc)}", file=sys.stderr)
        return EXIT_INPUT


def _use_config_limits(args: argparse.Namespace) -> None:
    """A command's ``--config`` also sets the input limits (workbench.limits) for this run."""
    if getattr(args, "config", None):
        from workbench.config import load_config, use_limits

        use_limits(load_config(args.config).limits)


# Failures that bad input, a bad path or the machine cause, as opposed to a bug: turned into one line at the
# boundary (BIOCOACH_DEBUG=1 re-raises them with the traceback). Anything else is a bug and keeps its traceback.
_EXPECTED = (ValueError, OSError, RecursionError, MemoryError, EOFError, OverflowError)


def _expected_failure(exc: BaseException) -> bool:
    if isinstance(exc, _EXPECTED):
        return True
    return any(t.__module__ in ("duckdb", "_duckdb") for t in type(exc).__mro__)  # without importing duckdb


def _failure_line(exc: BaseException) -> str:
    """One line naming what failed and what was found, with where to look for more."""
    if isinstance(exc, OSError) and exc.filename is not None:
        text = f"{exc.filename}: {exc.strerror or exc} ({type(exc).__name__})"
    elif isinstance(exc, RecursionError):
        text = "the input is nested too deeply to read (RecursionError)"
    elif isinstance(exc, MemoryError):
        text = (
            "out of memory (MemoryError): the input is larger than this machine can hold; see `limits:` in "
            "biocoach.example.yaml"
        )
    else:
        text = f"{type(exc).__name__}: {' '.join(str(exc).split())[:500]}"
    return f"{text} [BIOCOACH_DEBUG=1 shows where]"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="biocoach",
        description="BioCoach Workbench: biomechanics-grounded exercise analysis and coaching.",
    )
    sub = parser.add_subparsers(title="commands", metavar="COMMAND")

    p = sub.add_parser("analyze", help="analyse a video or pose file: reps, alignment, violations, context text")
    p.add_argument(
        "input",
        type=Path,
        help="a video, a landmark file (.npz/.csv[.gz]), HSMR outputs, or a "
        "pose track (.npz: q T×46 radians in SKEL order, fps or t)",
    )
    p.add_argument(
        "--backend",
        "-b",
        default="auto",
        choices=["auto", "mediapipe", "landmarks", "hsmr", "pose"],
        help="how to get SKEL angles (auto: from the file type; videos use mediapipe)",
    )
    p.add_argument("--overlay", type=Path, metavar="OUT.mp4", help="write the video with skeleton, angles and issues")
    p.add_argument(
        "--overlay-landmarks",
        action="store_true",
        help="in the overlay, also draw MediaPipe's raw landmarks (faint) under the fitted SKEL skeleton",
    )
    p.add_argument("--config", type=Path, help="configuration file (default: biocoach.yaml, see biocoach.example.yaml)")
    p.add_argument(
        "--body-model", type=existing_file, help="SMPL-layout body model .npz for measurements from the shape"
    )
    p.add_argument("--mass", type=mass_kg, help=f"the user's mass in kg, for C_morph (0 < mass ≤ {MAX_MASS_KG:g})")
    p.add_argument(
        "--height",
        type=float,
        metavar="METRES",
        help="the user's height in metres (e.g. 1.78): "
        "replaces the camera's estimate in C_morph and rescales every body length",
    )
    p.add_argument("--save-pose", type=Path, metavar="OUT.npz", help="also save the estimated pose track")
    add_db_option(
        p,
        help="the store: current references and thresholds, pose cache, run records (default: "
        "$BIOCOACH_DB or db/biocoach.duckdb, created on first use; a --db that does not exist is refused "
        "unless --create)",
    )
    p.add_argument("--no-db", action="store_true", help="use references/ directly, without the store or its cache")
    p.add_argument("--exercise", "-e", required=True, help="exercise key (see `biocoach exercises`)")
    p.add_argument("--json", dest="json_out", metavar="OUT", help="write the analysis JSON here ('-': stdout)")
    p.add_argument("--stream", action="store_true", help="run the frame-by-frame streaming tracker")
    p.add_argument("--salient", help="comma-separated SKEL joints to judge instead of the catalogue's")
    p.add_argument("--min-confidence", type=probability, default=0.3, help="frames below this are lost (default 0.3)")
    p.add_argument("--quiet", "-q", action="store_true", help="print nothing but errors")
    p.set_defaults(func=cmd_analyze)

    p = sub.add_parser("demo", help="analyse the bundled example (a real squat) with the embedded defaults")
    p.add_argument("--json", dest="json_out", metavar="OUT", help="also write the analysis JSON here")
    p.set_defaults(func=cmd_demo)

    p = sub.add_parser("exercises", help="list the exercise catalogue, or show one exercise's rules")
    p.add_argument("key", nargs="?", help="exercise to show")
    p.set_defaults(func=cmd_exercises)

    p = sub.add_parser("synth", help="write a synthetic pose track of known reps and faults (.npz)")
    p.add_argument("exercise")
    p.add_argument("out", type=Path)
    p.add_argument("--reps", type=integer(1, 10_000, what="a number of reps"), default=10)
    p.add_argument(
        "--period",
        type=number(0.1, 600, what="seconds"),
        default=None,
        help="seconds per rep (default: the reference's)",
    )
    p.add_argument(
        "--jitter", type=number(0, 0.5, what="a relative SD"), default=0.0, help="relative SD of the rep period"
    )
    p.add_argument("--noise", type=number(0, 90, what="degrees"), default=0.0, help="angle noise SD, degrees")
    p.add_argument(
        "--dropout", type=number(0, 1, high_open=True, what="a fraction"), default=0.0, help="fraction of frames lost"
    )
    p.add_argument(
        "--fault",
        action="append",
        default=[],
        metavar="KIND:REPS:DEG",
        help="inject a fault, e.g. shallow:2,5:30 or wobble:3:10 or lag:4:15",
    )
    p.add_argument("--fps", type=number(1, 1000, what="frames per second"), default=30.0)
    p.add_argument("--seed", type=integer(0, 2**32 - 1, what="a seed"), default=0)
    p.set_defaults(func=cmd_synth)

    p = sub.add_parser(
        "export",
        help="analyse a clip and write its per-rep measures and angle curves: DIR/reps.csv "
        "(one row per rep), DIR/angles.csv (one row per frame), and the same as .parquet",
    )
    p.add_argument("input", type=Path, help="what `biocoach analyze` reads: a video, a landmark file or a pose track")
    p.add_argument("--exercise", "-e", required=True, help="exercise key (see `biocoach exercises`)")
    p.add_argument("--out", type=Path, required=True, metavar="DIR", help="folder to write into (created if needed)")
    p.add_argument(
        "--backend",
        "-b",
        default="auto",
        choices=["auto", "mediapipe", "landmarks", "hsmr", "pose"],
        help="how to get SKEL angles (auto: from the file type; videos use mediapipe)",
    )
    add_db_option(p, help="the store, as for `biocoach analyze` (default: $BIOCOACH_DB or db/biocoach.duckdb)")
    p.add_argument("--no-db", action="store_true", help="use references/ directly, without the store or its cache")
    p.add_argument("--min-confidence", type=probability, default=0.3, help="frames below this are lost (default 0.3)")
    p.add_argument("--quiet", "-q", action="store_true", help="print nothing but errors")
    p.set_defaults(func=cmd_export)

    p = sub.add_parser("export-mot", help="convert a pose .npz to an OpenSim .mot (degrees)")
    p.add_argument("input", type=Path)
    p.add_argument("out", type=Path)
    p.set_defaults(func=cmd_export_mot)

    p = sub.add_parser("serve", help="serve the workbench app (Panel) on 127.0.0.1, opening the bundled example")
    p.add_argument("--port", type=port, default=5006)
    p.add_argument("--address", default="127.0.0.1", help="bind address (default 127.0.0.1: this machine only)")
    p.add_argument("--data-dir", action="append", default=[], help="a folder clips may be opened from (repeatable)")
    p.add_argument(
        "--allow-host",
        "--allow-websocket-origin",
        dest="allow_host",
        action="append",
        default=[],
        metavar="NAME[:PORT]",
        help="also answer requests (and websockets) for this host name, e.g. a "
        "reverse proxy's public name (repeatable; default: the address served only)",
    )
    add_db_option(p)
    p.add_argument("--show", action="store_true", help="open a browser")
    p.set_defaults(func=cmd_serve)

    p = sub.add_parser("db", help="the versioned store of references and thresholds (DuckDB)")
    add_db_option(
        p,
        help="database file (default: $BIOCOACH_DB or db/biocoach.duckdb); also taken after the "
        "subcommand; only `db init` (or --create) makes one that does not exist",
    )
    dbs = p.add_subparsers(dest="db_command", metavar="DB_COMMAND", required=True)
    q = dbs.add_parser("init", help="create the database and seed it from references/ (idempotent)")
    add_db_option(q, suppress=True, help="database file (as `biocoach db --db`)")
    q = dbs.add_parser("export", help="write current rules (YAML) and references (.npy) to DIR, deterministically")
    q.add_argument("dir", type=Path)
    add_db_option(q, suppress=True, help="database file (as `biocoach db --db`)")
    q = dbs.add_parser("import", help="validate DIR and store what changed as new versions (all or nothing)")
    q.add_argument("dir", type=Path)
    q.add_argument("--author", default=_user(), help="who made the edit (default: the login name)")
    q.add_argument("--note", default="imported", help="why")
    add_db_option(q, suppress=True, help="database file (as `biocoach db --db`)")
    q = dbs.add_parser("history", help="every version of an exercise's rules, reference and thresholds")
    q.add_argument("exercise")
    add_db_option(q, suppress=True, help="database file (as `biocoach db --db`)")
    q = dbs.add_parser("status", help="schema version and row counts, then the check below")
    add_db_option(q, suppress=True, help="database file (as `biocoach db --db`)")
    q = dbs.add_parser(
        "check",
        help="read the whole file (read-only): every table, every block's checksum, the "
        "schema version, the current-version pointers; OK or what is wrong (exit 0 / 2)",
    )
    q.add_argument("--db", type=Path, default=argparse.SUPPRESS, help="database file (as `biocoach db --db`)")
    p.set_defaults(func=cmd_db)

    p = sub.add_parser("references", help="rebuild references/trajectories/*.npy from the rule files")
    p.set_defaults(func=cmd_references)

    # Command groups that live with their packages; each register() only declares arguments (no heavy imports).
    register_coach(sub)
    data_commands = register_eval(sub)
    register_data(data_commands)  # `biocoach data import-uiprmd`: the calibration's importer
    for register in (register_review, register_batch, register_calibration):
        register(sub)
    return parser


# ------------------------------------------------------------------------------------------ commands


def cmd_analyze(args: argparse.Namespace) -> int:
    from workbench.pipeline import analyze_clip
    from workbench.progress import terminal_progress

    salient = [s.strip() for s in args.salient.split(",")] if args.salient else None
    if salient is not None:
        _check_joints(salient)
    _check_analyze_outputs(args)  # before any work: an hour of video must not end in "No such file"
    db = None if args.no_db else (str(store_path(args)) if args.db else "default")
    analyze_clip(
        args.input,
        args.exercise,
        backend=args.backend,
        db=db,
        salient=salient,
        min_confidence=args.min_confidence,
        stream=args.stream,
        body_model=args.body_model,
        mass_kg=args.mass,
        height_m=args.height,
        config_path=args.config,
        progress=terminal_progress(args.quiet),
        need_landmarks=bool(args.overlay),
        outputs=lambda clip: _write_analyze_outputs(args, clip),
    )
    if args.overlay and not args.quiet:
        print(f"overlay written to {args.overlay}")
    return EXIT_OK


def _check_analyze_outputs(args: argparse.Namespace) -> None:
    from workbench.errors import WorkbenchError
    from workbench.pose.backends import is_video

    check_output_file(args.json_out, "--json")
    check_output_file(args.save_pose, "--save-pose")
    check_output_file(args.overlay, "--overlay")
    if args.overlay and not (is_video(args.input) and args.backend in ("auto", "mediapipe", "hsmr")):
        raise WorkbenchError(
            f"--overlay: needs a video input (expected one the mediapipe or hsmr backend decodes), "
            f"got {args.input} with backend {args.backend}"
        )


def _write_analyze_outputs(args: argparse.Namespace, clip: Any) -> None:
    """What `analyze` writes; the pipeline records the run as succeeded only once all of it is written."""
    from workbench.pose.posefile import save_npz, unknown_keys

    estimate, result = clip.estimate, clip.analysis
    if estimate.backend == "pose" and args.input.suffix == ".npz":
        extra = unknown_keys(args.input)
        if extra:
            result.warnings.append(f"{args.input}: ignored keys not in the pose format: {', '.join(extra)}")
    if args.save_pose:
        save_npz(estimate.track, args.save_pose)
    if args.overlay:
        from workbench.render.overlay import render_overlay

        assert estimate.video is not None
        render_overlay(
            estimate.video,
            estimate.landmarks,
            estimate.track,
            result,
            args.overlay,
            fps=estimate.track.fps,
            fit=clip.fit,
            raw_landmarks=args.overlay_landmarks,
        )
    emit(result.to_json(), args.json_out, quiet=args.quiet)


def cmd_serve(args: argparse.Namespace) -> int:
    """The app factory served by Panel (each browser session gets its own state), answering only the hosts it is
    served under (workbench.dashboard.serve)."""
    from workbench.config import load_config
    from workbench.dashboard.app import create_app
    from workbench.dashboard.serve import allowed_hosts, serve
    from workbench.pipeline import default_database

    data_dirs = [str(d) for d in (args.data_dir or load_config().data_dirs)]
    db_path = str(store_path(args) or _env_db() or "")
    allowed_hosts(args.address, args.port, args.allow_host)  # a bad --allow-host is refused before anything starts
    default_database(db_path or None)  # a corrupt or unreadable store is named now, not in every browser session

    def factory() -> object:  # Panel calls plain functions only (a functools.partial is shown as text)
        return create_app(db_path=db_path, data_dirs=data_dirs)

    serve(factory, port=args.port, address=args.address, allow_hosts=args.allow_host, show=args.show)
    return EXIT_OK


def cmd_db(args: argparse.Namespace) -> int:
    """The versioned store: init, export, import, history, status, check."""
    from workbench.store.database import DEFAULT_DB_PATH, Database
    from workbench.store.seed import export, import_dir, init_from_references

    if args.db_command == "check":  # read-only: never creates, migrates or seeds the file it verifies
        _check_store(Path(args.db or _env_db() or DEFAULT_DB_PATH))
        return EXIT_OK
    if args.db_command == "export":
        check_output_dir(args.dir, "db export")
    db = Database(store_path(args, create=args.db_command == "init") or _env_db())
    if args.db_command == "init":
        message = init_from_references(db).message()
        _check_store(db.path, quiet=True)  # "already initialised" must not vouch for a damaged file
        print(message)
    elif args.db_command == "export":
        report = export(db, args.dir)
        print(
            f"exported {sum(f.suffix == '.yaml' for f in report.files)} exercises ({len(report.files)} files) "
            f"to {report.directory}"
        )
    elif args.db_command == "import":
        print(_report(import_dir(db, args.dir, author=args.author, note=args.note)))
    elif args.db_command == "history":
        _print_history(db, args.exercise)
    else:
        with db.store() as store:
            status = store.status()
        print(f"{status.path}: schema version {status.schema_version}")
        for name, count in status.counts.items():
            print(f"  {name:22s} {count}")
        _check_store(db.path, quiet=True)
        print("  integrity              OK (every table and block read; details: `biocoach db check`)")
    return EXIT_OK


def _check_store(path: Path, quiet: bool = False) -> None:
    """Print what ``check_database`` found (problems only when ``quiet``); a failed check is a corrupt store."""
    from workbench.store.database import corrupt
    from workbench.store.integrity import check_database

    report = check_database(path)
    if not quiet or not report.ok:
        print("\n".join(report.lines()), flush=True)
    if not report.ok:
        more = f" and {len(report.problems) - 1} more problem(s)" if len(report.problems) > 1 else ""
        raise corrupt(path, report.problems[0] + more)


def _env_db() -> str | None:
    import os

    return os.environ.get("BIOCOACH_DB") or None


def _report(report: Any) -> str:
    return str(report.message()) if hasattr(report, "message") else str(report)


def _print_history(db: Any, exercise: str) -> None:
    from workbench.store.seed import load_store_catalogue

    key = load_store_catalogue(db).catalogue.get(exercise).rule_file.stem
    with db.store() as store:
        entries = store.history(key)
    print(f"history of {key} (newest last):")
    for e in entries:
        mark = "*" if e.current else " "
        when = f"{e.created_at:%Y-%m-%d %H:%M:%S}"
        print(f"  {when} {mark} {e.kind:9s} {e.item:28s} v{e.version:<3d} {e.author}: {e.note}")


def cmd_demo(args: argparse.Namespace) -> int:
    """The main job on the embedded defaults: a real squat, then a synthetic session with a known answer."""
    from workbench.exercises import load_catalogue
    from workbench.exercises.catalogue import REFERENCES_DIR
    from workbench.pose.posefile import load_npz
    from workbench.pose.synthetic import Fault, synthesize

    example = REFERENCES_DIR / "examples" / "squat_cmu_14_14.npz"
    print(f"1. {example.name}: real CMU motion capture of two bodyweight squats\n")
    result = _run(load_npz(example), "squat", None, 0.3, stream=False)
    result.provenance["input"] = str(example)
    emit(result.to_json(), args.json_out, quiet=False)

    squat = load_catalogue().get("squat")
    track, truth = synthesize(
        squat, 6, jitter=0.08, noise_deg=2.0, seed=1, faults=(Fault("shallow", (2,), 30), Fault("wobble", (4,), 12))
    )
    print(
        "\n2. a synthetic squat session with a known answer: 6 reps, rep 3 made 30° shallower, "
        "a 12° lumbar wobble in rep 5; analysed frame by frame by the streaming tracker\n"
    )
    streamed = _run(track, squat, None, 0.3, stream=True)
    emit(streamed.to_json(), None, quiet=False)
    found = {r.index: sorted({v.type for v in r.violations}) for r in streamed.reps if r.violations}
    print(f"\nground truth faults (rep index from 0): {truth.faults}; found: {found}")

    from workbench.coach.loop import run_coach
    from workbench.coach.rule_coach import RuleCoach

    print(
        "\n3. the same session coached live: the rule-based coach decides 4 times a second from the streaming "
        "tracker (speech simulated at 12 tokens/s; `biocoach coach` does this for any clip)\n"
    )
    for event in run_coach(RuleCoach(seed=0), track, squat):
        print(f"  {event.t_s:6.2f} s  [{event.kind}] {event.text}")
    return EXIT_OK


def cmd_exercises(args: argparse.Namespace) -> int:
    from workbench.exercises import load_catalogue

    catalogue = load_catalogue()
    if args.key:
        ex = catalogue.get(args.key)
        print(f"{ex.key}: {ex.name} ({ex.cycle.kind}, {ex.laterality}); rules in {ex.rule_file}")
        print(
            f"  cycle signal: {', '.join(ex.cycle.signal)} (work = {ex.cycle.work}), "
            f"period {ex.cycle.period_s[0]}-{ex.cycle.period_s[1]} s"
        )
        print(f"  salient joints: {', '.join(ex.salient_joints)}")
        for c in ex.constraints:
            print(f"  - {c.id}: {c.kind} {c.dof} {_bounds_text(c)} [{c.source}]")
        return EXIT_OK
    for ex in catalogue:
        print(f"{ex.key:28s} {ex.cycle.kind:12s} {ex.name}")
    return EXIT_OK


def cmd_synth(args: argparse.Namespace) -> int:
    from workbench.exercises import load_catalogue
    from workbench.pose.posefile import save_npz
    from workbench.pose.synthetic import synthesize

    check_output_file(args.out, "synth OUT")
    ex = load_catalogue().get(args.exercise)
    faults = tuple(_parse_fault(f) for f in args.fault)
    track, truth = synthesize(
        ex,
        args.reps,
        period_s=args.period,
        jitter=args.jitter,
        noise_deg=args.noise,
        dropout=args.dropout,
        faults=faults,
        fps=args.fps,
        seed=args.seed,
    )
    save_npz(track, args.out)
    print(
        json.dumps(
            {"out": str(args.out), "n_reps": truth.n_reps, "rep_bounds_s": truth.rep_bounds_s, "faults": truth.faults}
        )
    )
    return EXIT_OK


def cmd_export(args: argparse.Namespace) -> int:
    from workbench.io.tables import columns_of, write_csv, write_parquet
    from workbench.motion.measures import angle_rows, rep_rows
    from workbench.pipeline import analyze_clip
    from workbench.progress import terminal_progress

    check_output_dir(args.out, "--out")
    db = None if args.no_db else (str(store_path(args)) if args.db else "default")
    clip = analyze_clip(
        args.input,
        args.exercise,
        backend=args.backend,
        db=db,
        min_confidence=args.min_confidence,
        progress=terminal_progress(args.quiet),
    )
    track, reps = clip.estimate.track, clip.analysis.reps
    args.out.mkdir(parents=True, exist_ok=True)
    tables = {"reps": rep_rows(reps), "angles": angle_rows(track.t, track.q, track.observed, reps)}
    written = []
    for name, rows in tables.items():
        columns = columns_of(rows) or (["rep"] if name == "reps" else ["frame", "t_s", "rep"])
        written += [
            write_csv(args.out / f"{name}.csv", rows, columns),
            write_parquet(args.out / f"{name}.parquet", rows, columns),
        ]
    if not args.quiet:
        print(f"{len(reps)} rep(s), {track.n_frames} frame(s): " + ", ".join(str(p) for p in written))
    return EXIT_OK


def cmd_export_mot(args: argparse.Namespace) -> int:
    from workbench.pose.posefile import export_mot, load_npz

    check_output_file(args.out, "export-mot OUT")
    export_mot(load_npz(args.input), args.out)
    print(args.out)
    return EXIT_OK


def cmd_references(args: argparse.Namespace) -> int:
    from workbench.motion.build_references import write_references

    for path in write_references():
        print(path)
    return EXIT_OK


# ------------------------------------------------------------------------------------------- helpers


def _user() -> str:
    from workbench.config import login_name

    return login_name()


def _run(
    track: Any, exercise: Any, salient: list[str] | None, min_confidence: float, stream: bool, body: Any = None
) -> Any:
    from workbench.coach.feedback import clip_feedback
    from workbench.exercises import load_catalogue
    from workbench.motion.analysis import analyze, analyze_streaming

    ex = load_catalogue().get(exercise) if isinstance(exercise, str) else exercise
    run = analyze_streaming if stream else analyze
    analysis = run(track, ex, salient=salient, min_confidence=min_confidence, body=body)
    # the analysis JSON's feedback is the rule coach's per-rep review, as `biocoach analyze` gives it
    analysis.feedback = clip_feedback(None, track, ex, context_morph=analysis.context_morph, reps=analysis.reps)
    return analysis


def _check_joints(names: list[str]) -> None:
    from workbench.errors import WorkbenchError
    from workbench.skeleton import JOINT_NAMES

    bad = [n for n in names if n not in JOINT_NAMES]
    if bad:
        raise WorkbenchError(f"--salient: expected SKEL joint names ({', '.join(JOINT_NAMES)}), got {', '.join(bad)}")


def _parse_fault(text: str) -> Any:
    from workbench.errors import WorkbenchError
    from workbench.pose.synthetic import Fault

    try:
        kind, reps, deg = text.split(":")
        return Fault(kind=kind, reps=tuple(int(r) for r in reps.split(",")), deg=float(deg))  # type: ignore[arg-type]
    except ValueError:
        raise WorkbenchError(f"--fault: expected KIND:REPS:DEG (e.g. shallow:2,5:30), got {text!r}") from None


def _bounds_text(c: Any) -> str:
    if c.kind == "stability":
        return f"std <= {c.max_std_deg}°"
    if c.kind == "symmetry":
        return f"|left - right| <= {c.max_diff_deg}°"
    lo, hi = c.bounds_deg or c.tolerance_deg
    rel = " from the reference" if c.tolerance_deg else ""
    return f"[{'-inf' if lo is None else lo}, {'+inf' if hi is None else hi}]°{rel}" + (
        f" at {c.key_frame}" if c.key_frame else ""
    )


def _sha256(path: Path) -> str:
    import hashlib

    return hashlib.sha256(path.read_bytes()).hexdigest()


if __name__ == "__main__":
    sys.exit(main())
