"""The loss curves of ``biocoach train``: one row per optimiser step, as CSV and as TensorBoard scalars.

    <out>/logs/train.csv   stage, step, loss, ce_next, ce_other, lr, seconds, tokens_per_s, grad_norm
    <out>/logs/tb/         TensorBoard event files, tags ``stage1/loss``, ``stage2/ce_next``, … (step = the stage's
                           optimiser step); ``tensorboard --logdir <out>/logs/tb``

- ``loss``: the optimised loss (stage 1 balanced BCE; stage 2 Σ w·CE / targets, ``<next>`` weighted α).
- ``ce_next`` / ``ce_other``: stage 2's unweighted cross-entropy per ``<next>`` target and per other target
  (``<feedback>``, the utterance's tokens, ``<eos_fb>``); empty in stage 1 and when a batch has none.
- ``lr``: the learning rate of the step; ``seconds``: its wall time (loss, backward, optimiser step);
  ``tokens_per_s``: the batch's tokens (its windows' unpadded lengths) over ``seconds``;
  ``grad_norm``: the L2 norm of the trainable parameters' gradients before the step.

Numbers are written with Python's ``repr`` (they read back exactly). ``--resume`` appends; rows of steps after
the checkpoint it resumes from (logged, then lost in a crash) are dropped from the CSV first, so each
(stage, step) appears once. TensorBoard keeps such rows in its older event file (its viewer shows the newest).
A run that does not resume starts both logs afresh.
"""

from __future__ import annotations

import csv
import logging
import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

LOG_DIR = "logs"
CSV_NAME = "train.csv"
TB_DIR = "tb"
COLUMNS = ("stage", "step", "loss", "ce_next", "ce_other", "lr", "seconds", "tokens_per_s", "grad_norm")


@dataclass(frozen=True)
class StepRecord:
    stage: str
    step: int
    loss: float
    ce_next: float | None
    ce_other: float | None
    lr: float
    seconds: float
    tokens_per_s: float
    grad_norm: float

    def scalars(self) -> dict[str, float]:
        """The numbers of the row (None and non-finite values left out)."""
        out = {}
        for k, v in asdict(self).items():
            if k in ("stage", "step") or v is None or not math.isfinite(float(v)):
                continue
            out[k] = float(v)
        return out


class TrainLog:
    """Appends step records to ``<out>/logs/train.csv`` and TensorBoard event files under ``<out>/logs/tb``."""

    def __init__(
        self,
        out: Path,
        *,
        resume: bool = False,
        done: Mapping[str, int] | None = None,
        tensorboard: bool = True,
    ):
        self.folder = Path(out) / LOG_DIR
        self.csv_path = self.folder / CSV_NAME
        self.tb_path = self.folder / TB_DIR
        self.folder.mkdir(parents=True, exist_ok=True)
        if not resume:
            self.csv_path.unlink(missing_ok=True)
            for f in self.tb_path.glob("events.out.tfevents.*"):
                f.unlink()
        elif self.csv_path.is_file():
            self._drop_after(dict(done or {}))
        if not self.csv_path.is_file() or self.csv_path.stat().st_size == 0:
            with self.csv_path.open("w", newline="", encoding="utf-8") as fh:
                csv.writer(fh).writerow(COLUMNS)
        self.writer: Any = None
        if tensorboard:
            try:
                from torch.utils.tensorboard import SummaryWriter
            except ImportError as exc:  # tensorboard is a dependency; a stripped environment still gets the CSV
                log.warning("TensorBoard logs not written (%s); the CSV is", exc)
            else:
                self.writer = SummaryWriter(log_dir=str(self.tb_path))

    def _drop_after(self, done: dict[str, int]) -> None:
        """Keep only the rows of steps the checkpoint holds (a resumed run logs the later ones again)."""
        rows = read_log(self.csv_path)
        kept = [r for r in rows if int(r["step"]) <= done.get(str(r["stage"]), 0)]
        if len(kept) == len(rows):
            return
        tmp = self.csv_path.with_suffix(".csv.tmp")
        with tmp.open("w", newline="", encoding="utf-8") as fh:
            w = csv.writer(fh)
            w.writerow(COLUMNS)
            for r in kept:
                w.writerow([_text(r[c]) for c in COLUMNS])
        tmp.replace(self.csv_path)

    def log(self, rec: StepRecord) -> None:
        with self.csv_path.open("a", newline="", encoding="utf-8") as fh:
            csv.writer(fh).writerow([_text(getattr(rec, c)) for c in COLUMNS])
        if self.writer is not None:
            for name, value in rec.scalars().items():
                self.writer.add_scalar(f"stage{rec.stage}/{name}", value, rec.step)
            self.writer.flush()

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
            self.writer = None

    def __enter__(self) -> TrainLog:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _text(v: Any) -> str:
    if v is None:
        return ""
    if isinstance(v, float):
        return repr(v)
    return str(v)


def read_log(path: Path) -> list[dict[str, Any]]:
    """The CSV's rows: stage as text, step as int, the other columns as float (None where empty)."""
    out: list[dict[str, Any]] = []
    with Path(path).open(newline="", encoding="utf-8") as fh:
        for row in csv.DictReader(fh):
            rec: dict[str, Any] = {"stage": row["stage"], "step": int(row["step"])}
            for c in COLUMNS[2:]:
                rec[c] = float(row[c]) if row.get(c) not in (None, "") else None
            out.append(rec)
    return out
