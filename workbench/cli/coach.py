"""`biocoach coach` and `biocoach train`. register() declares arguments only; the pipeline and the coaches are
imported when the command runs (start-up reason: ``biocoach --help`` under 0.5 s, bench/bench_help.py)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from workbench.cli.output import emit
from workbench.cli.train import register_train
from workbench.cli_args import add_db_option, check_output_file, integer, probability, store_path


def register(sub: Any) -> None:
    """Add this package's commands to the ``biocoach`` subparsers."""
    p = sub.add_parser(
        "coach",
        help="coaching feedback for a video or pose file: what a coach says, when, and why (4 Hz streaming decisions)",
    )
    p.add_argument(
        "input",
        type=Path,
        help="a video, a landmark file (.npz/.csv[.gz]), HSMR outputs, or a pose "
        "track (.npz), as for `biocoach analyze`",
    )
    p.add_argument("--exercise", "-e", required=True, help="exercise key (see `biocoach exercises`)")
    p.add_argument(
        "--model",
        "-m",
        default="rule",
        choices=["rule", "neural"],
        help="rule: feedback straight from violations and counts; neural: the trained coaching model "
        "(coach_checkpoint in the configuration)",
    )
    p.add_argument(
        "--json",
        dest="json_out",
        metavar="OUT",
        help="write the analysis JSON, feedback filled by the coach, here ('-': stdout)",
    )
    p.add_argument("--config", type=Path, help="configuration file (default: biocoach.yaml, see biocoach.example.yaml)")
    p.add_argument(
        "--backend",
        "-b",
        default="auto",
        choices=["auto", "mediapipe", "landmarks", "hsmr", "pose"],
        help="how to get SKEL angles (auto: from the file type)",
    )
    add_db_option(
        p,
        help="the store: current rules, pose cache, run record with the feedback events (default: "
        "$BIOCOACH_DB or db/biocoach.duckdb, created on first use; a --db that does not exist is refused "
        "unless --create)",
    )
    p.add_argument("--no-db", action="store_true", help="use references/ directly, without the store or its cache")
    p.add_argument(
        "--seed",
        type=integer(0, 2**32 - 1, what="a seed"),
        default=0,
        help="rule coach: seed of the choice among phrasings (default 0)",
    )
    p.add_argument("--min-confidence", type=probability, default=0.3, help="frames below this are lost (default 0.3)")
    p.add_argument("--quiet", "-q", action="store_true", help="print nothing but errors")
    p.set_defaults(func=cmd_coach)
    _register_train(sub)


def _register_train(sub: Any) -> None:
    register_train(sub)


def cmd_coach(args: argparse.Namespace) -> int:
    from workbench.coach.loading import load_coach
    from workbench.config import load_config
    from workbench.pipeline import analyze_clip, default_database, resolve

    check_output_file(args.json_out, "--json")  # before any work
    database = None if args.no_db else default_database(store_path(args) if args.db else None)
    resolve(args.exercise, database)  # an unknown exercise fails before a model is loaded
    coach = load_coach(args.model, load_config(args.config), seed=args.seed)
    progress = not args.quiet and sys.stderr.isatty()
    written: list[dict[str, Any]] = []

    def outputs(clip: Any) -> None:  # written before the run is recorded as succeeded
        written.append(clip.analysis.to_json())
        if args.json_out:
            emit(written[0], args.json_out, quiet=True)

    analyze_clip(
        args.input,
        args.exercise,
        backend=args.backend,
        db=database,
        min_confidence=args.min_confidence,
        config_path=args.config,
        progress=progress,
        coach=coach,
        outputs=outputs,
    )
    doc = written[0]
    if not args.quiet and args.json_out != "-":
        print(timeline(doc))
        if args.json_out:
            print(f"\nanalysis written to {args.json_out}")
    return 0


def timeline(doc: dict[str, Any]) -> str:
    """The feedback as a coach said it: time, kind, text, and what it was grounded on."""
    reps = doc["reps"]
    coach = doc["provenance"].get("coach", "?")
    lines = [
        f"{doc['exercise']}: {len(reps)} rep(s) in {doc['duration_s']:.1f} s; coach: {coach}; "
        f"{len(doc['feedback'])} feedback event(s)"
    ]
    for f in doc["feedback"]:
        lines.append(f"  {f['t_s']:7.2f} s  {f.get('kind') or '':13s} {f['text']}")
        summary = evidence_summary(f.get("evidence"))
        if summary:
            lines.append(f"  {'':7s}    {'':13s} ↳ {summary}")
    if doc["warnings"]:
        lines += ["", "warnings:"] + [f"  - {w}" for w in doc["warnings"]]
    return "\n".join(lines)


def evidence_summary(evidence: Any) -> str:
    """'rep 3, descent: knee_angle_r 75° (target 90°), hip_flexion_r 64° (target 75°)'."""
    if not isinstance(evidence, dict):
        return ", ".join(map(str, evidence or []))
    parts = []
    if evidence.get("rep") is not None:
        parts.append(f"rep {evidence['rep']}")
    if evidence.get("phase"):
        parts.append(str(evidence["phase"]))
    head = ", ".join(parts)
    vs = [f"{v['dof']} {v['value_deg']:.0f}° (target {v['target_deg']:.0f}°)" for v in evidence.get("violations", [])]
    if vs:
        return f"{head}: {', '.join(vs[:3])}" + (f" (+{len(vs) - 3} more)" if len(vs) > 3 else "")
    return head
