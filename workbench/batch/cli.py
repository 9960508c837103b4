"""Commands of workbench.batch. register() declares arguments only: no heavy imports here.

biocoach batch run clips/ --exercise squat --stages pose,analysis            # local process pool
biocoach batch run 'data/**/*.mp4' -e squat --engine ray --address ray://head:10001
biocoach batch run --where "exercise = 'squat'" --stages pose,analysis,coaching
biocoach batch run --qevd benchmark --stages pose,analysis,coaching,evaluation
biocoach batch status [JOB]
"""

from __future__ import annotations

import argparse
import itertools
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from workbench.cli_args import add_db_option, check_output_dir, integer, number, store_path

GLOB_CHARS = frozenset("*?[")
# Option values (argparse types: a bad one exits 2 naming the option, expected and got).
_WORKERS = integer(0, 1024, what="a number of workers")
_COUNT = integer(1, what="a count")
_TRIES = integer(1, 100, what="a number of tries")
_GPUS = number(0, 64, what="a number of GPUs")
_DELAY = number(0, 3600, what="seconds")


def register(sub: Any) -> None:
    """Add this package's commands to the ``biocoach`` subparsers."""
    p = sub.add_parser("batch", help="run pipeline stages over many clips, resumably, on a process pool or Ray")
    bsub = p.add_subparsers(title="batch commands", metavar="BATCH_COMMAND")

    r = bsub.add_parser("run", help="select clips and run stages over them (re-runs skip what is done)")
    r.add_argument(
        "source", nargs="?", help="a folder of clips (walked recursively), a glob ('data/**/*.mp4') or one clip"
    )
    r.add_argument("--qevd", metavar="SPLIT", help="the clips of a QEVD split (workbench.data.qevd; qevd_dir config)")
    r.add_argument(
        "--where",
        metavar="SQL",
        help="clips registered in the store matching this condition over the "
        "clips table (content_hash, path, exercise, duration_s, fps, n_bytes, registered_at)",
    )
    r.add_argument(
        "--stages",
        default="pose,analysis",
        help="comma-separated, from pose,analysis,coaching,evaluation "
        "(each brings the stages before it; default pose,analysis)",
    )
    r.add_argument("--exercise", "-e", help="exercise key of every clip (default: the clip's exercise in the store)")
    r.add_argument(
        "--backend",
        "-b",
        default="auto",
        choices=["auto", "mediapipe", "landmarks", "hsmr", "pose"],
        help="pose backend (auto: from the file type)",
    )
    r.add_argument("--coach", default="rule", choices=["rule", "neural"], help="coach of the coaching stage")
    r.add_argument("--coach-device", default="cpu", help="device of the neural coach (cuda asks Ray for a GPU)")
    r.add_argument("--engine", default="local", choices=["local", "ray"], help="local process pool (default) or Ray")
    r.add_argument(
        "--address",
        help="Ray cluster address (ray://head:10001 or auto); default: the ray_address "
        "config key, else a local Ray instance is started",
    )
    r.add_argument(
        "--ship-code",
        action="store_true",
        help="Ray: send the workbench package to the workers "
        "(runtime_env py_modules) instead of using their installed copy",
    )
    r.add_argument(
        "--workers",
        "-j",
        type=_WORKERS,
        default=2,
        help="worker processes (local) or CPUs of a local Ray instance (default 2; 0 = run in this process)",
    )
    r.add_argument(
        "--max-in-flight",
        type=_COUNT,
        help="tasks queued on workers at once (default 2 per worker): bounds memory however many clips are selected",
    )
    r.add_argument(
        "--max-attempts",
        type=_TRIES,
        default=3,
        help="a failing item is tried this often, then recorded as failed (default 3)",
    )
    r.add_argument("--retry-failed", action="store_true", help="give items that failed for good a fresh set of tries")
    r.add_argument(
        "--gpus",
        type=_GPUS,
        default=1.0,
        help="Ray GPUs asked for by a task with a GPU stage (HSMR pose, "
        "the neural coach on cuda; default 1, 0.5: two share one); other tasks ask for none",
    )
    r.add_argument(
        "--parquet",
        type=Path,
        metavar="DIR",
        help="write full analysis documents as Parquet shards "
        "here (large runs); the store keeps summaries and references",
    )
    r.add_argument("--shard-rows", type=_COUNT, default=500, help="rows per Parquet shard (default 500)")
    r.add_argument("--name", help="job name (default: from the selection)")
    add_db_option(r)
    r.add_argument("--config", type=Path, help="configuration file (qevd_dir, ray_address)")
    r.add_argument("--no-progress", action="store_true", help="no progress bar")
    r.add_argument("--delay", type=_DELAY, default=0.0, help=argparse.SUPPRESS)  # tests and demos of interruption
    r.set_defaults(func=cmd_run)

    s = bsub.add_parser("status", help="progress, throughput, ETA and errors of batch jobs")
    s.add_argument("job", nargs="?", type=integer(1, what="a job id"), help="job id (default: the latest jobs)")
    add_db_option(s)
    s.set_defaults(func=cmd_status)
    p.set_defaults(func=lambda args: (p.print_help(), 0)[1])


def _selection(args: argparse.Namespace, db: Any, config: Any) -> tuple[Any, dict[str, Any], int | None]:
    """The clip stream, its description (provenance) and, where cheap, how many clips it has."""
    from workbench.batch import select
    from workbench.batch.stages import BatchError

    chosen = [x for x in (args.source, args.qevd, args.where) if x]
    if len(chosen) != 1:
        raise BatchError(f"batch run: expected exactly one of SOURCE, --qevd or --where, got {len(chosen)}")
    if args.qevd:
        desc = select.selection_description(qevd=args.qevd, root=config.qevd_dir)
        return _primed(select.from_qevd(args.qevd, config.qevd_dir, args.exercise)), desc, None
    if args.where:
        return _primed(select.from_store(db, args.where, args.exercise)), {"where": args.where}, None
    source = str(args.source)
    path = Path(source)
    if path.is_dir():
        n = sum(1 for _ in select.from_folder(path))
        return select.from_folder(path, args.exercise), {"folder": str(path.resolve())}, n
    if GLOB_CHARS & set(source):
        n = sum(1 for _ in select.from_glob(source))
        return select.from_glob(source, args.exercise), {"glob": source}, n
    if path.is_file():
        from workbench.batch.jobs import ClipRef

        return iter([ClipRef(path=path, exercise=args.exercise, source="file")]), {"file": str(path.resolve())}, 1
    raise BatchError(f"{source}: expected a folder, a glob pattern or a clip file, got nothing at that path")


def _primed(clips: Iterator[Any]) -> Iterator[Any]:
    """The stream with its first clip read now: a bad --where or a missing QEVD split is refused before the
    job is recorded, not from inside it."""
    head = list(itertools.islice(clips, 1))
    return itertools.chain(head, clips)


def cmd_run(args: argparse.Namespace) -> int:
    from workbench.batch.driver import run_job
    from workbench.batch.jobs import JobSpec
    from workbench.batch.progress import describe
    from workbench.batch.stages import StagePlan, parse_stages
    from workbench.config import load_config
    from workbench.pipeline import default_database

    config = load_config(args.config)
    stages = parse_stages(args.stages)
    check_output_dir(args.parquet, "--parquet")
    db = default_database(store_path(args))
    clips, selection, n_clips = _selection(args, db, config)
    _check_exercise(args, stages, db)  # before the job is recorded
    plan = StagePlan(
        stages=stages,
        backend=args.backend,
        coach=args.coach,
        coach_device=args.coach_device,
        default_exercise=args.exercise,
        db=db,
    )
    address = args.address or (config.ray_address if args.engine == "ray" else None)
    name = args.name or next(iter(selection.values()), "batch")
    spec = JobSpec(
        name=str(name),
        selection=selection,
        stages=[],
        engine=args.engine,
        workers=args.workers,
        max_in_flight=args.max_in_flight,
        max_attempts=args.max_attempts,
        address=address,
        shard_dir=args.parquet.resolve() if args.parquet else None,
        shard_rows=args.shard_rows,
        gpus_per_task=args.gpus,
        ship_code=args.ship_code,
        delay_s=args.delay,
    )
    spec = _with_stage_names(spec, stages)
    report = run_job(
        spec,
        clips,
        plan,
        db,
        progress=not args.no_progress,
        total_hint=n_clips * len(stages) if n_clips is not None else None,
        retry_failed=args.retry_failed,
    )
    print(describe(report.job))
    if report.missing:
        print(f"  {len(report.missing)} selected clip(s) missing, skipped: {', '.join(report.missing[:5])}")
    for path, stage, failures, error in report.errors[:10]:
        print(f"  failed {stage} after {failures} tries: {path}: {error}")
    return 0 if report.job.n_failed == 0 else 1


def _check_exercise(args: argparse.Namespace, stages: Sequence[str], db: Any) -> None:
    """An unknown ``--exercise``, or an analysis of clips from a folder, glob or file without one, is refused
    before the job exists (clips of a QEVD split or the store may carry their own)."""
    from workbench.batch.stages import BatchError
    from workbench.pipeline import resolve

    if args.exercise:
        resolve(args.exercise, db)
    elif "analysis" in stages and args.source:
        raise BatchError(
            f"{args.source}: the analysis needs the clip's exercise; expected --exercise (clips from a "
            f"folder, glob or file carry none), got none"
        )


def _with_stage_names(spec: Any, stages: Sequence[str]) -> Any:
    """The job's provenance names the stages (their per-clip parameters are in each item)."""
    from dataclasses import replace

    from workbench.batch.jobs import StageSpec

    return replace(spec, stages=[StageSpec(s) for s in stages])  # type: ignore[arg-type]


def cmd_status(args: argparse.Namespace) -> int:
    from workbench.batch.progress import describe
    from workbench.pipeline import default_database
    from workbench.store.batches import BatchRepository

    db = default_database(store_path(args))
    with db.store() as store:
        repo = BatchRepository(store.session)
        jobs = [repo.job(args.job)] if args.job is not None else repo.jobs(10)
        errors = {j.id: repo.errors(j.id, limit=5) for j in jobs}
    if not jobs:
        print("no batch jobs in the store")
    for job in jobs:
        print(describe(job))
        for path, stage, failures, error in errors[job.id]:
            print(f"  failed {stage} after {failures} tries: {path}: {error}")
    return 0
