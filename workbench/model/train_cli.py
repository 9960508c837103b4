"""`biocoach train`: declares arguments only (no torch import until the command runs)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from workbench.cli_args import add_db_option, store_path


def register_train(sub: Any) -> None:
    p = sub.add_parser("train", help="train the neural coach: stage 1 the DoF selector, stage 2 the fusion layers "
                       "(frozen backbone and language model)")  # fmt: skip
    p.add_argument("--data", default="synthetic", help="'synthetic' (generated sessions with rule-based feedback) or "
                   "a QEVD-fit-coach folder (default: synthetic)")  # fmt: skip
    p.add_argument("--stage", default="all", choices=["1", "2", "all"], help="which stage(s) to run (default all)")
    p.add_argument("--steps", type=int, default=20, help="optimiser steps per stage (default 20)")
    p.add_argument("--out", type=Path, default=Path("checkpoints/coach"), help="checkpoint folder "
                   "(default checkpoints/coach); point coach_checkpoint at it")  # fmt: skip
    p.add_argument("--resume", action="store_true", help="continue from the checkpoint in --out (optimizer, "
                   "step and RNG state)")  # fmt: skip
    p.add_argument("--sessions", type=int, default=32, help="synthetic sessions to generate (default 32)")
    p.add_argument("--batch-size", type=int, default=8, help="default 8 (paper)")
    p.add_argument("--lr", type=float, default=2e-5, help="AdamW learning rate (default 2e-5, paper)")
    p.add_argument("--alpha", type=float, default=0.1, help="<next> token loss weight (default 0.1, paper)")
    p.add_argument("--window-steps", type=int, default=32, help="decision steps per training window (default 32)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--config", type=Path, help="configuration file (language_model, model_cache_dir, …)")
    add_db_option(p, help="the store with accepted salient-joint labels (default: $BIOCOACH_DB); a --db that does not "
                  "exist is refused unless --create")  # fmt: skip
    p.add_argument("--quiet", "-q", action="store_true")
    p.set_defaults(func=cmd_train)


def cmd_train(args: argparse.Namespace) -> int:
    from workbench.config import load_config
    from workbench.errors import WorkbenchError
    from workbench.llm import load_causal_lm
    from workbench.model.configuration_coach import CONFIG_NAME
    from workbench.model.modeling_coach import CoachModel
    from workbench.model.stream import default_config
    from workbench.model.train import TrainSettings, load_sessions, prepare, salient_labels_from_store, train

    if args.steps < 1:
        raise WorkbenchError(f"--steps: expected a positive number of steps, got {args.steps}")
    db_path = store_path(args)  # refused before the language model is loaded
    config = load_config(args.config)
    lm = load_causal_lm(config.language_model, cache=config.model_cache_dir)
    if args.resume and (args.out / CONFIG_NAME).is_file():
        model = CoachModel.from_pretrained(args.out, lm.model)
    else:
        model = CoachModel(default_config(lm.model, lm.name, config.language_model), lm.model)
    if config.backbone_checkpoint is not None:
        from workbench.model.backbone import load_backbone_checkpoint

        load_backbone_checkpoint(model.backbone, config.require("backbone_checkpoint"))
    db = None
    if db_path is not None:
        from workbench.store.database import Database

        db = Database(db_path)
    labels = salient_labels_from_store(db)
    sessions = load_sessions(args.data, n_synthetic=args.sessions, seed=args.seed)
    settings = TrainSettings(stage=args.stage, steps=args.steps, lr=args.lr, batch_size=args.batch_size,
                             alpha=args.alpha, seed=args.seed, window_steps=args.window_steps,
                             data=args.data if args.data == "synthetic"
                             else str(Path(args.data).resolve()))  # fmt: skip
    dataset = prepare(sessions, lm.tokenizer, model.config, args.window_steps, labels)
    say = (lambda *a: None) if args.quiet else print
    source = f"store ({', '.join(sorted(labels))})" if labels else "catalogue defaults"
    say(f"training on {len(dataset)} windows from {len(sessions)} sessions ({args.data}); LM {lm.name}; "
        f"salient labels: {source}")  # fmt: skip

    def progress(stage: str, step: int, loss: float) -> None:
        if not args.quiet:
            print(f"stage {stage} step {step}/{args.steps} loss {loss:.4f}", file=sys.stderr)

    provenance = {"salient_labels": "store" if labels else "catalogue", "backbone": str(config.backbone_checkpoint)
                  if config.backbone_checkpoint else "random init (frozen)"}  # fmt: skip
    result = train(model, dataset, settings, args.out, resume=args.resume, provenance=provenance, progress=progress)
    stages = ", ".join(f"stage {k}: {v} steps" for k, v in result.steps_done.items())
    say(f"checkpoint written to {result.out} ({stages}"
        f", {result.seconds:.1f} s); set coach_checkpoint: {result.out} in biocoach.yaml")  # fmt: skip
    return 0
