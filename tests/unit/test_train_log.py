"""The training log (workbench.model.trainlog): one CSV row and one set of TensorBoard scalars per optimiser
step, read back exactly; a resumed run appends (dropping rows the checkpoint does not hold); `biocoach train`
writes it under <out>/logs."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from tests.coach_support import tiny_model, tokenizer
from workbench.coach.synthetic_sessions import synthetic_sessions
from workbench.coach.training_data import prepare
from workbench.exercises import load_catalogue
from workbench.model.train import TrainSettings, train
from workbench.model.trainlog import COLUMNS, StepRecord, TrainLog, read_log


def _scalars(folder: Path) -> dict[str, list[tuple[int, float]]]:
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    out: dict[str, list[tuple[int, float]]] = {}
    for f in sorted(folder.glob("events.out.tfevents.*")):
        acc = EventAccumulator(str(f), size_guidance={"scalars": 0})
        acc.Reload()
        for tag in acc.Tags()["scalars"]:
            out.setdefault(tag, []).extend((e.step, e.value) for e in acc.Scalars(tag))
    return out


RECORDS = [
    StepRecord("1", 1, 0.6931, None, None, 2e-5, 0.25, 1234.5, 0.125),
    StepRecord("2", 1, 3.75, 0.0625, 5.1234567, 2e-5, 1.5, 800.0, 2.5),
    StepRecord("2", 2, 3.5, None, 4.875, 1e-5, 1.25, 900.0, 1.75),
]


def test_rows_and_event_scalars_read_back_exactly(tmp_path: Path) -> None:
    with TrainLog(tmp_path) as log:
        for r in RECORDS:
            log.log(r)
    rows = read_log(tmp_path / "logs" / "train.csv")
    assert (tmp_path / "logs" / "train.csv").read_text().splitlines()[0] == ",".join(COLUMNS)
    assert rows == [{c: getattr(r, c) for c in COLUMNS} for r in RECORDS]  # repr floats: exact, None stays None
    tb = _scalars(tmp_path / "logs" / "tb")
    f32 = lambda x: float(np.float32(x))  # noqa: E731 - TensorBoard stores scalars as float32
    assert tb["stage1/loss"] == [(1, f32(0.6931))]
    assert tb["stage1/grad_norm"] == [(1, 0.125)] and tb["stage1/tokens_per_s"] == [(1, 1234.5)]
    assert "stage1/ce_next" not in tb  # stage 1 has no cross-entropy terms
    assert tb["stage2/loss"] == [(1, 3.75), (2, 3.5)]
    assert tb["stage2/ce_next"] == [(1, 0.0625)]  # step 2 had no <next> target
    assert tb["stage2/ce_other"] == [(1, f32(5.1234567)), (2, 4.875)]
    assert tb["stage2/lr"] == [(1, f32(2e-5)), (2, f32(1e-5))]
    assert tb["stage2/seconds"] == [(1, 1.5), (2, 1.25)]


def test_resume_appends_and_drops_rows_past_the_checkpoint(tmp_path: Path) -> None:
    with TrainLog(tmp_path) as log:
        for r in RECORDS:
            log.log(r)
    # the checkpoint held stage 2 step 1 only (step 2 was logged, then lost): resume from there
    with TrainLog(tmp_path, resume=True, done={"1": 1, "2": 1}) as log:
        log.log(StepRecord("2", 2, 3.25, 0.5, 4.5, 1e-5, 1.0, 1000.0, 1.5))
    rows = read_log(tmp_path / "logs" / "train.csv")
    assert [(r["stage"], r["step"], r["loss"]) for r in rows] == [("1", 1, 0.6931), ("2", 1, 3.75), ("2", 2, 3.25)]
    # a run that does not resume starts afresh
    with TrainLog(tmp_path) as log:
        log.log(RECORDS[0])
    assert len(read_log(tmp_path / "logs" / "train.csv")) == 1
    assert _scalars(tmp_path / "logs" / "tb")["stage1/loss"] == [(1, float(np.float32(0.6931)))]


@pytest.mark.parametrize("fast", [True, False], ids=["fast", "padded"])
def test_training_logs_every_step(tmp_path: Path, fast: bool) -> None:
    model = tiny_model(seed=6)
    ds = prepare(synthetic_sessions(2, seed=4), tokenizer(), model.config, 16, load_catalogue())
    settings = TrainSettings(stage="all", steps=2, batch_size=2, lr=1e-3, window_steps=16, fast=fast)
    res = train(model, ds, settings, tmp_path)
    rows = read_log(tmp_path / "logs" / "train.csv")
    assert [(r["stage"], r["step"]) for r in rows] == [("1", 1), ("1", 2), ("2", 1), ("2", 2)]
    assert [r["loss"] for r in rows] == res.losses["1"] + res.losses["2"]
    for r in rows:
        assert r["lr"] == 1e-3 and r["seconds"] > 0 and r["tokens_per_s"] > 0 and r["grad_norm"] > 0
        if r["stage"] == "1":
            assert r["ce_next"] is None and r["ce_other"] is None
        else:  # loss = (α·Σ CE_next + Σ CE_other) / n: both terms present and the loss between their weights
            assert r["ce_next"] is not None and r["ce_other"] is not None
            assert math.isfinite(r["ce_next"]) and r["ce_other"] > 0
            assert 0.1 * min(r["ce_next"], r["ce_other"]) <= r["loss"] <= max(r["ce_next"], r["ce_other"])
    tb = _scalars(tmp_path / "logs" / "tb")
    assert [v for _, v in tb["stage2/loss"]] == [float(np.float32(x)) for x in res.losses["2"]]
    # resume with more steps appends the new ones
    res2 = train(model, ds, TrainSettings(**{**settings.__dict__, "steps": 3}), tmp_path, resume=True)
    rows = read_log(tmp_path / "logs" / "train.csv")
    assert [(r["stage"], r["step"]) for r in rows][-2:] == [("1", 3), ("2", 3)]
    assert [r["loss"] for r in rows if r["stage"] == "2"] == res2.losses["2"]
