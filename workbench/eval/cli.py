"""`biocoach eval`, `biocoach evaluations` and `biocoach data …` (issue 7). register() declares arguments only."""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import Any

from workbench.cli_args import add_db_option, check_output_dir, check_output_file, integer, store_path

JUDGE_CHOICES = {
    "accuracy": ("llm_accuracy",),
    "bio": ("llm_bio_accuracy",),
    "both": ("llm_accuracy", "llm_bio_accuracy"),
}
DEFAULT_JUDGE_LIMIT = 200


def register(sub: Any) -> Any:
    """Add this package's commands to the ``biocoach`` subparsers; returns the ``data`` group's subparsers, to
    which other packages add their importers (``workbench.calibration.cli.register_data``)."""
    p = sub.add_parser(
        "eval",
        help="score predicted feedback against ground truth: T-F-Score, METEOR, ROUGE-L, "
        "BERTScore, optional LLM judges (QEVD-fit-coach protocol)",
    )
    p.add_argument(
        "predictions",
        type=Path,
        help="a submission JSON [{mini_episode_id, pred_feedbacks, "
        "pred_feedback_timestamps}], an analysis JSON, or a folder of analysis JSONs",
    )
    p.add_argument(
        "--gt",
        type=Path,
        help="a QEVD-fit-coach split folder (or the QEVD folder, see --split), or a "
        "JSON [{mini_episode_id, feedbacks, feedback_timestamps}] in seconds (default: qevd_dir of the "
        "configuration)",
    )
    p.add_argument(
        "--split",
        default="test",
        choices=["test", "train"],
        help="which split when --gt is the QEVD folder holding both (default test)",
    )
    p.add_argument("--json", dest="json_out", metavar="OUT", help="write the results JSON here ('-': stdout)")
    p.add_argument("--html", dest="html_out", type=Path, metavar="OUT", help="write a self-contained HTML report")
    p.add_argument(
        "--judge",
        choices=sorted(JUDGE_CHOICES),
        help="also run LLM judges (slow with the local model): accuracy = LLM-Accuracy, bio = LLM-Bio-Accuracy, both",
    )
    p.add_argument(
        "--judge-limit",
        type=integer(0, what="a number of pairs"),
        default=DEFAULT_JUDGE_LIMIT,
        metavar="N",
        help=f"judge at most the first N matched pairs (default {DEFAULT_JUDGE_LIMIT}; 0 = all)",
    )
    p.add_argument("--no-bertscore", action="store_true", help="skip BERTScore (saves loading an encoder)")
    p.add_argument("--no-text", action="store_true", help="timing only: skip METEOR, ROUGE-L and BERTScore")
    p.add_argument(
        "--skip-empty",
        action="store_true",
        help="leave out clips with no ground truth or no "
        "prediction (BioCoach's evaluator copy; off in the published protocol)",
    )
    p.add_argument("--name", help="a label for the stored evaluation (default: the predictions file name)")
    p.add_argument("--config", type=Path, help="configuration file (bertscore_model, judge_endpoint, …)")
    add_db_option(p)
    p.add_argument("--no-db", action="store_true", help="do not store the results")
    p.add_argument("--quiet", "-q", action="store_true", help="print only the overall table")
    p.set_defaults(func=cmd_eval)

    p = sub.add_parser("evaluations", help="stored evaluations: list them, show one, compare two")
    p.add_argument("--show", type=int, metavar="ID", help="one evaluation with its clips")
    p.add_argument("--compare", type=int, nargs=2, metavar=("A", "B"), help="two evaluations metric by metric")
    add_db_option(p)
    p.set_defaults(func=cmd_evaluations)

    p = sub.add_parser(
        "data",
        help="QEVD-fit-coach data: a miniature dataset, the QEVD-bio builder, coach predictions, a split's segments",
    )
    dsub = p.add_subparsers(title="data commands", metavar="DATA_COMMAND")
    d = dsub.add_parser("miniature", help="write a miniature dataset in the QEVD-fit-coach format (both splits)")
    d.add_argument("out", type=Path, help="output folder")
    d.add_argument("--seed", type=int, default=0)
    d.set_defaults(func=cmd_miniature)
    d = dsub.add_parser(
        "synthetic",
        help="write held-out synthetic coaching sessions as a QEVD-fit-coach split (ground truth: the rule coach)",
    )
    d.add_argument("out", type=Path, help="output folder (the split is written under it)")
    d.add_argument("--sessions", type=integer(1, what="a number of sessions"), required=True, metavar="N")
    d.add_argument("--seed", type=int, default=0, help="the synthetic sessions' seed (use one not trained on)")
    d.add_argument("--exercises", help="comma-separated catalogue keys (default: the synthetic sessions' set)")
    d.add_argument("--split", default=None, help="the split folder's name (default QEVD-FIT-COACH-Benchmark)")
    d.add_argument(
        "--coach-seed", type=int, default=0, help="the rule coach's seed, as `data predict --seed` (default 0)"
    )
    d.set_defaults(func=cmd_synthetic)
    d = dsub.add_parser(
        "build-bio",
        help="QEVD-bio-fit-coach: corrective/instructional lines replaced by the "
        "motion-context feedback at the same time (supplement §6)",
    )
    d.add_argument("split", type=Path, help="a QEVD-fit-coach split folder")
    d.add_argument("out", type=Path, help="output folder (the split is written under it, same name)")
    d.set_defaults(func=cmd_build_bio)
    d = dsub.add_parser("predict", help="run a coach over a split's segments; write the submission JSON")
    d.add_argument("split", type=Path, help="a QEVD-fit-coach split folder (segments need pose tracks)")
    d.add_argument("out", type=Path, help="the submission JSON to write")
    d.add_argument("--model", "-m", default="rule", choices=["rule", "neural"])
    d.add_argument("--config", type=Path, help="configuration file (coach_checkpoint for --model neural)")
    d.add_argument("--seed", type=int, default=0)
    add_db_option(d, help="the store caching poses estimated from the videos (default: $BIOCOACH_DB, else db/)")
    d.set_defaults(func=cmd_predict)
    d = dsub.add_parser("segments", help="list a split's single-exercise segments (the evaluation units)")
    d.add_argument("split", type=Path, help="a QEVD-fit-coach split folder")
    d.add_argument(
        "--json",
        dest="json_out",
        metavar="OUT",
        help="write the ground truth as JSON [{mini_episode_id, "
        "feedbacks, feedback_timestamps, exercise}] ('-': stdout)",
    )
    d.set_defaults(func=cmd_segments)
    p.set_defaults(func=lambda args: (p.print_help(), 0)[1])
    return dsub


def _db_path(args: argparse.Namespace) -> Path | None:
    return store_path(args) or (Path(os.environ["BIOCOACH_DB"]) if os.environ.get("BIOCOACH_DB") else None)


def _write_json(doc: Any, target: str) -> None:
    """Standard JSON (a non-finite number is null) to stdout, or to a file written whole."""
    from workbench.io.outputs import json_text, write_text

    text = json_text(doc, indent=1, default=str)
    if target == "-":
        sys.stdout.write(text + "\n")
    else:
        write_text(target, text)


def cmd_eval(args: argparse.Namespace) -> int:
    from workbench import __version__
    from workbench.config import load_config
    from workbench.eval.evaluate import EvalSettings, clip_table, evaluate, load_ground_truth, load_predictions

    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    check_output_file(args.json_out, "--json")  # before any work
    check_output_file(args.html_out, "--html")
    db_path = None if args.no_db else _db_path(args)
    config = load_config(args.config)
    gt_path = args.gt if args.gt is not None else config.require("qevd_dir")
    dataset, gt = load_ground_truth(gt_path, args.split)
    preds = load_predictions(args.predictions)
    judges = JUDGE_CHOICES[args.judge] if args.judge else ()
    limit = None if args.judge_limit is not None and args.judge_limit <= 0 else args.judge_limit
    settings = EvalSettings(
        text_metrics=not args.no_text,
        bertscore=not (args.no_bertscore or args.no_text),
        judges=judges,
        judge_limit=limit,
        skip_empty=args.skip_empty,
    )
    to_stdout = args.json_out == "-"
    log = sys.stderr if to_stdout else sys.stdout

    def say(msg: str) -> None:
        if not args.quiet:
            print(msg, file=log, flush=True)

    result = evaluate(
        preds,
        gt,
        settings=settings,
        config=config,
        dataset=dataset,
        predictions_label=str(args.predictions),
        ground_truth_label=str(gt_path),
        progress=say,
    )
    doc = result.to_json()
    if not args.quiet:
        print(clip_table(result), file=log)
        print(file=log)
    from workbench.eval.evaluate import overall_table

    print(overall_table(result), file=log)
    for w in result.warnings:
        print(f"note: {w}", file=log)
    if judges:
        n_pairs = int(doc["n_matched"])
        asked = n_pairs if limit is None else min(n_pairs, limit)
        print(
            f"judges: {asked} of {n_pairs} matched pairs judged by {result.models.get('judge')}"
            + (f" (--judge-limit {limit})" if limit is not None and n_pairs > limit else ""),
            file=log,
        )
    else:
        print("judges: not run (add --judge accuracy|bio|both; slow with the local model)", file=log)
    print("models: " + "; ".join(f"{k}: {v}" for k, v in result.models.items()), file=log)
    if args.json_out:
        _write_json(doc, args.json_out)
    if args.html_out:
        from workbench.eval.report import write_html

        write_html(doc, args.html_out, title=f"BioCoach evaluation — {args.name or args.predictions.name}")
        print(f"wrote {args.html_out}", file=log)
    if not args.no_db:
        from workbench.store.database import Database
        from workbench.store.evaluations import EvaluationRepository

        db = Database(db_path)
        with db.session() as s:
            eid = EvaluationRepository(s).save(doc, name=args.name or args.predictions.name, code_version=__version__)
        print(f"stored as evaluation {eid} in {db.path}", file=log)
    return 0


def cmd_evaluations(args: argparse.Namespace) -> int:
    from workbench.store.database import Database
    from workbench.store.evaluations import EvaluationRepository

    db = Database(_db_path(args))
    with db.session() as s:
        repo = EvaluationRepository(s)
        if args.compare:
            rows = repo.compare(*args.compare)
            print(f"{'metric':<18} {'A':>8} {'B':>8} {'B - A':>8}  scorer")
            for r in rows:
                fmt = [("–" if r[k] is None else f"{r[k]:.4f}") for k in ("A", "B", "B - A")]
                flag = "" if r["comparable"] else f"  NOT COMPARABLE ({r['scorer A']} vs {r['scorer B']})"
                print(f"{r['metric']:<18} {fmt[0]:>8} {fmt[1]:>8} {fmt[2]:>8}  {r['scorer A'] or r['scorer B']}{flag}")
            return 0
        if args.show is not None:
            ev = repo.get(args.show)
            print(
                json.dumps(
                    {**ev.summary.row(), "models": ev.summary.models, "settings": ev.summary.settings},
                    indent=1,
                    default=str,
                )
            )
            for c in ev.clips:
                print(
                    f"  {c['clip_id']:<16} gt {c['n_gt']:>3} pred {c['n_pred']:>3} matched {c['matched_gt']:>3} "
                    f"T-F {c['t_f_score']:.3f}"
                )
            return 0
        rows = [e.row() for e in repo.all()]
    if not rows:
        print("no evaluations stored yet (run `biocoach eval`)")
        return 0
    for r in rows:
        meteor = "–" if r["meteor"] is None else f"{r['meteor']:.3f}"
        bert = "–" if r["bertscore"] is None else f"{r['bertscore']:.3f}"
        print(
            f"{r['id']:>4}  {r['created']}  {r['name'][:28]:<28} {r['dataset'][:26]:<26} T-F {r['T-F']:.3f}  "
            f"METEOR {meteor}  BERTScore {bert}  [{r['bertscore model']}]"
        )
    return 0


def cmd_miniature(args: argparse.Namespace) -> int:
    from workbench.data.miniature import build_miniature

    check_output_dir(args.out, "data miniature OUT")
    out = build_miniature(args.out, seed=args.seed)
    for split in sorted(p.name for p in out.iterdir() if (p / "feedbacks_long_range.json").is_file()):
        print(f"wrote {out / split}")
    return 0


def cmd_synthetic(args: argparse.Namespace) -> int:
    from workbench.coach.synthetic_sessions import DEFAULT_EXERCISES
    from workbench.data.synthetic_split import DEFAULT_SPLIT, TRUTH_FILE, build_synthetic_split
    from workbench.errors import WorkbenchError

    check_output_dir(args.out, "data synthetic OUT")
    split = args.split or DEFAULT_SPLIT
    if (args.out / split).is_dir() and any((args.out / split).iterdir()):
        raise WorkbenchError(f"data synthetic OUT {args.out}: {split}/ already holds files; expected an empty folder")
    exercises = (
        tuple(e.strip() for e in args.exercises.split(",") if e.strip()) if args.exercises else DEFAULT_EXERCISES
    )
    built = build_synthetic_split(
        args.out, args.sessions, seed=args.seed, exercises=exercises, split=split, coach_seed=args.coach_seed
    )
    n = sum(len(s.utterances) for s in built.sessions)
    print(f"{len(built.sessions)} sessions, {n} rule-coach utterances; wrote {built.folder}")
    print(f"truth (faults, rep bounds, utterances): {built.folder / TRUTH_FILE}")
    return 0


def cmd_build_bio(args: argparse.Namespace) -> int:
    from workbench.data.bio_builder import REPORT_FILE, build_bio

    check_output_dir(args.out, "data build-bio OUT")
    report = build_bio(args.split, args.out)
    kinds = ", ".join(f"{k} {v}" for k, v in sorted(report.kinds.items()))
    print(f"{report.n_utterances} utterances in segments: {kinds}")
    print(f"rewritten {report.n_rewritten}; kept (no motion context) {report.n_kept_no_context}")
    print(f"replacement text from {report.feedback_source}; classifier {report.classifier}")
    print(f"wrote {report.output} and {Path(report.output) / REPORT_FILE}")
    return 0


def cmd_predict(args: argparse.Namespace) -> int:
    import warnings

    from workbench.coach.loading import load_coach
    from workbench.config import load_config
    from workbench.data.qevd import QevdWarning, load_split
    from workbench.data.video_poses import QevdPoseWarning, VideoPoses
    from workbench.eval.baselines import predict_sessions
    from workbench.exercises import load_catalogue
    from workbench.store import Database

    check_output_file(args.out, "data predict OUT")
    db_path = _db_path(args)  # refused now when a --db given does not exist
    poses = VideoPoses(open_db=lambda: Database(db_path))  # segments without a pose sidecar: from the video, cached
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", QevdWarning)
        warnings.simplefilter("ignore", QevdPoseWarning)  # listed below with the coach's notes
        sessions = load_split(args.split, video_poses=poses)
    if poses.estimated or poses.cached:
        print(f"poses from video: {poses.estimated} estimated, {poses.cached} from the store's cache")
    coach = load_coach(args.model, load_config(args.config), seed=args.seed)
    preds = predict_sessions(sessions, coach, load_catalogue())
    preds.write(args.out)
    n = sum(len(i["pred_feedbacks"]) for i in preds.items)
    print(
        f"{preds.coach or args.model}: {n} utterances over {len(preds.items)} segments in {preds.seconds:.1f} s "
        f"({preds.track_seconds:.0f} s of session); wrote {args.out}"
    )
    for note in preds.notes:
        print(f"note: {note}")
    return 0


def cmd_segments(args: argparse.Namespace) -> int:
    import warnings

    from workbench.data.qevd import load_split

    check_output_file(args.json_out, "--json")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        sessions = load_split(args.split, with_tracks=False)
    if args.json_out:
        _write_json(
            [
                {
                    "mini_episode_id": s.session_id,
                    "exercise": s.exercise,
                    "feedbacks": [u.text for u in s.utterances],
                    "feedback_timestamps": [round(u.t_s, 4) for u in s.utterances],
                }
                for s in sessions
            ],
            args.json_out,
        )
        if args.json_out == "-":
            return 0
    for s in sessions:
        print(
            f"{s.session_id:<12} {s.exercise:<22} {s.duration_s:7.2f} s  {len(s.utterances):3d} utterances  "
            f"({s.metadata['exercise_name']})"
        )
    for w in caught:
        print(f"warning: {w.message}")
    return 0
