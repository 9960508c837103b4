"""`biocoach train`: declares arguments only; torch and the language model are imported when the command runs
(start-up reason: ``biocoach --help`` stays under 0.5 s, bench/bench_help.py)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from workbench.cli_args import add_db_option, store_path


def register_train(sub: Any) -> None:
    p = sub.add_parser(
        "train",
        help="train the neural coach: stage 1 the DoF selector, stage 2 the fusion layers "
        "(frozen backbone and language model)",
    )
    p.add_argument(
        "--data",
        action="append",
        metavar="SOURCE",
        help="'synthetic' (generated sessions with the rule coach as teacher) or a QEVD-fit-coach folder (e.g. "
        "one written by `biocoach data build-bio`); repeat to train on several together "
        "(default: synthetic)",
    )
    p.add_argument("--stage", default="all", choices=["1", "2", "all"], help="which stage(s) to run (default all)")
    p.add_argument("--steps", type=int, default=20, help="optimiser steps per stage (default 20)")
    p.add_argument(
        "--out",
        type=Path,
        default=Path("checkpoints/coach"),
        help="checkpoint folder (default checkpoints/coach); point coach_checkpoint at it",
    )
    p.add_argument(
        "--resume", action="store_true", help="continue from the checkpoint in --out (optimizer, step and RNG state)"
    )
    p.add_argument("--sessions", type=int, default=32, help="synthetic sessions to generate (default 32)")
    p.add_argument(
        "--exercises",
        default=None,
        help="synthetic sessions only: comma-separated exercise keys to cycle through "
        "(default: the generator's seven, squat to plank)",
    )
    p.add_argument("--batch-size", type=int, default=8, help="default 8 (paper)")
    p.add_argument("--lr", type=float, default=2e-5, help="AdamW learning rate (default 2e-5, paper)")
    p.add_argument("--alpha", type=float, default=0.1, help="<next> token loss weight (default 0.1, paper)")
    p.add_argument("--window-steps", type=int, default=32, help="decision steps per training window (default 32)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument(
        "--bf16",
        action="store_true",
        help="run the frozen language model's pass in bfloat16 (about 2× "
        "faster on a CPU with AVX-512 BF16; the loss moves by < 1 %%, BENCHMARKS.md)",
    )
    p.add_argument(
        "--lora-rank",
        type=int,
        metavar="R",
        help="also train LoRA adapters of rank R on the language model's attention query and value projections "
        "(q_proj, v_proj) in stage 2, through peft; the adapters are saved in the coach checkpoint, the base LM's "
        "weights stay frozen and untouched; runs on the fast path too (its frozen-head cache is off: the adapted "
        "v_proj changes the head's keys and values). Default 0: frozen LM (paper); with --resume: the checkpoint's",
    )
    p.add_argument(
        "--lora-alpha",
        type=float,
        metavar="A",
        help="LoRA scale numerator: the adapter's update is (A / R)·B·A_lora (default 2R)",
    )
    p.add_argument("--config", type=Path, help="configuration file (language_model, model_cache_dir, …)")
    add_db_option(
        p,
        help="the store with accepted salient-joint labels (default: $BIOCOACH_DB); a --db that does not "
        "exist is refused unless --create",
    )
    p.add_argument("--quiet", "-q", action="store_true")
    p.set_defaults(func=cmd_train)


def cmd_train(args: argparse.Namespace) -> int:
    from workbench.coach.neural import default_config
    from workbench.coach.training_data import prepare
    from workbench.config import load_config
    from workbench.errors import WorkbenchError
    from workbench.llm import load_causal_lm
    from workbench.model.backbone import load_backbone_checkpoint
    from workbench.model.configuration_coach import CONFIG_NAME
    from workbench.model.lora import lora_settings, with_lora
    from workbench.model.modeling_coach import CoachModel
    from workbench.model.train import TrainSettings, train
    from workbench.pipeline import default_database, resolve_catalogue

    if args.steps < 1:
        raise WorkbenchError(f"--steps: expected a positive number of steps, got {args.steps}")
    if args.lora_rank is not None and args.lora_rank < 0:
        raise WorkbenchError(f"--lora-rank: expected 0 (frozen LM) or a positive rank, got {args.lora_rank}")
    if args.lora_alpha is not None and (args.lora_alpha <= 0 or not args.lora_rank):
        raise WorkbenchError(f"--lora-alpha: expected a positive number with --lora-rank R > 0, got {args.lora_alpha}")
    db_path = store_path(args)  # refused before the language model is loaded
    config = load_config(args.config)
    lm = load_causal_lm(config.language_model, cache=config.model_cache_dir)
    import torch

    # --seed fixes the coach's initial weights too (fusion, projection, added tokens, LoRA A), not only the batch
    # order: the same command then starts from the same model (``train`` seeds again for the steps).
    torch.manual_seed(args.seed)
    if args.resume and (args.out / CONFIG_NAME).is_file():
        model = CoachModel.from_pretrained(args.out, lm.model)
        have = lora_settings(model.config)
        if args.lora_rank is not None and args.lora_rank != (have.rank if have else 0):
            raise WorkbenchError(
                f"--lora-rank {args.lora_rank}: the checkpoint in {args.out} was trained with "
                f"{f'LoRA rank {have.rank}' if have else 'a frozen LM (rank 0)'}; resume without --lora-rank or "
                "start a new --out"
            )
    else:
        coach_config = default_config(lm.model, lm.name, config.language_model)
        if args.lora_rank:
            coach_config = with_lora(coach_config, args.lora_rank, args.lora_alpha)
        model = CoachModel(coach_config, lm.model)
    if config.backbone_checkpoint is not None:
        load_backbone_checkpoint(model.backbone, config.require("backbone_checkpoint"))
    db = default_database(db_path) if db_path is not None else default_database()
    catalogue, _ = resolve_catalogue(db)  # the exercises as the store has them now
    labels = salient_labels_from_store(db)
    exercises = tuple(e.strip() for e in args.exercises.split(",") if e.strip()) if args.exercises else None
    sources = args.data or ["synthetic"]
    sessions = training_sessions(sources, args.sessions, args.seed, exercises, catalogue, db)
    settings = TrainSettings(
        stage=args.stage,
        steps=args.steps,
        lr=args.lr,
        batch_size=args.batch_size,
        alpha=args.alpha,
        seed=args.seed,
        window_steps=args.window_steps,
        bf16=args.bf16,
        data=" + ".join(d if d == "synthetic" else str(Path(d).resolve()) for d in sources),
    )
    dataset = prepare(sessions, lm.tokenizer, model.config, args.window_steps, catalogue, labels)
    say = (lambda *a: None) if args.quiet else print
    source = f"store ({', '.join(sorted(labels))})" if labels else "catalogue defaults"
    adapters = lora_settings(model.config)
    say(
        f"training on {len(dataset)} windows from {len(sessions)} sessions ({' + '.join(sources)}); LM {lm.name}"
        + (
            f" with LoRA rank {adapters.rank}, alpha {adapters.alpha:g} on {'/'.join(adapters.targets)}"
            if adapters
            else " (frozen)"
        )
        + f"; salient labels: {source}; logs in {args.out / 'logs'}"
    )

    def progress(stage: str, step: int, loss: float) -> None:
        if not args.quiet:
            print(f"stage {stage} step {step}/{args.steps} loss {loss:.4f}", file=sys.stderr)

    provenance = {
        "salient_labels": "store" if labels else "catalogue",
        "backbone": str(config.backbone_checkpoint) if config.backbone_checkpoint else "random init (frozen)",
        "code_commit": code_version(),
        "command": "biocoach " + " ".join(sys.argv[1:]),
    }
    result = train(model, dataset, settings, args.out, resume=args.resume, provenance=provenance, progress=progress)
    stages = ", ".join(f"stage {k}: {v} steps" for k, v in result.steps_done.items())
    say(
        f"checkpoint written to {result.out} ({stages}"
        f", {result.seconds:.1f} s); set coach_checkpoint: {result.out} in biocoach.yaml"
    )
    return 0


def code_version() -> str:
    """The project's git commit (with "+changes" when the working tree differs from it), or the installed
    package version outside a checkout: what a checkpoint's provenance says it was trained with."""
    import subprocess
    from importlib.metadata import PackageNotFoundError, version

    repo = Path(__file__).resolve().parents[2]
    try:
        head = subprocess.run(
            ["git", "-C", str(repo), "rev-parse", "HEAD"], capture_output=True, text=True, check=True, timeout=10
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "-C", str(repo), "status", "--porcelain", "--untracked-files=no"],
            capture_output=True,
            text=True,
            check=True,
            timeout=10,
        ).stdout.strip()
        return head + ("+changes" if dirty else "")
    except (OSError, subprocess.SubprocessError):
        try:
            return f"biocoach-workbench {version('biocoach-workbench')}"
        except PackageNotFoundError:
            return "unknown"


def salient_labels_from_store(db: Any) -> dict[str, tuple[str, ...]]:
    """Accepted salient-joint labels per exercise from the review store (the most frequent joint set); an
    exercise no expert has labelled is absent, and the catalogue's joints are used for it."""
    from workbench.store.review_labels import accepted_salient_labels

    by_ex: dict[str, dict[tuple[str, ...], int]] = {}
    for lab in accepted_salient_labels(db):
        key = tuple(sorted(lab.joints))
        by_ex.setdefault(lab.exercise, {}).setdefault(key, 0)
        by_ex[lab.exercise][key] += 1
    return {ex: max(counts, key=lambda k: counts[k]) for ex, counts in by_ex.items() if counts}


def training_sessions(
    sources: list[str],
    n_synthetic: int = 32,
    seed: int = 0,
    exercises: tuple[str, ...] | None = None,
    catalogue: Any = None,
    db: Any = None,
) -> list[Any]:
    """The sessions of every ``--data`` source, in order (e.g. synthetic squats and a bio-rewritten split)."""
    return [
        s
        for source in sources
        for s in load_sessions(source, n_synthetic, seed, exercises=exercises, catalogue=catalogue, db=db)
    ]


def load_sessions(
    data: str,
    n_synthetic: int = 32,
    seed: int = 0,
    exercises: tuple[str, ...] | None = None,
    catalogue: Any = None,
    db: Any = None,
) -> list[Any]:
    """``synthetic`` (the project's generator) or a QEVD folder (the evaluation issue's loader; segments
    without a pose sidecar get theirs from the video, cached in ``db``, else the default store)."""
    from workbench.coach.synthetic_sessions import synthetic_sessions
    from workbench.data import qevd
    from workbench.data.video_poses import VideoPoses
    from workbench.model.train import TrainingError

    if data == "synthetic":
        if exercises is None:
            return synthetic_sessions(n_synthetic, seed=seed, catalogue=catalogue)
        return synthetic_sessions(n_synthetic, exercises, seed=seed, catalogue=catalogue)
    folder = Path(data)
    if not folder.is_dir():
        raise TrainingError(f"--data: expected 'synthetic' or a QEVD-fit-coach folder, got {data!r} (not a folder)")
    poses: Any = "store" if db is None else VideoPoses(db=db)
    sessions = [s for s in qevd.load_sessions(folder, video_poses=poses) if s.track is not None]
    if not sessions:
        raise TrainingError(f"{folder}: no QEVD session with a pose track (run the pose stage on the clips first)")
    return sessions
