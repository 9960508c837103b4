"""``--db`` everywhere the same way (issue 15, part 4) and the input limits' configuration (part 1)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from tests.badinput.cases import good_pose
from tests.batch_support import squat_store
from workbench.cli import build_parser, main
from workbench.config import current_limits, load_config, use_limits
from workbench.errors import WorkbenchError
from workbench.limits import DEFAULT, Limits, from_mapping

# Every command that touches the store, with --db after its own subcommand.
STORE_COMMANDS = [
    ["analyze", "x.npz", "-e", "squat"],
    ["coach", "x.npz", "-e", "squat"],
    ["serve"],
    ["db", "init"],
    ["db", "export", "out"],
    ["db", "import", "in"],
    ["db", "history", "squat"],
    ["db", "status"],
    ["db", "check"],
    ["eval", "p.json"],
    ["evaluations"],
    ["batch", "run", "clips"],
    ["batch", "status"],
    ["review", "propose", "-e", "squat"],
    ["review", "push"],
    ["review", "pull"],
    ["review", "status"],
    ["calibrate", "squat"],
    ["assess", "m.csv"],
    ["train"],
]


@pytest.mark.parametrize("argv", STORE_COMMANDS, ids=lambda a: " ".join(a[:2]))
def test_every_store_command_takes_db_after_its_subcommand(argv: list[str]) -> None:
    args = build_parser().parse_args([*argv, "--db", "elsewhere.duckdb"])
    assert args.db == Path("elsewhere.duckdb")


def test_db_before_the_db_subcommand_still_works(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    store = tmp_path / "s.duckdb"
    squat_store(store)
    assert main(["db", "--db", str(store), "status"]) == 0
    assert main(["db", "status", "--db", str(store)]) == 0
    out = capsys.readouterr().out
    assert out.count(f"{store}: schema version") == 2


def test_only_init_or_create_makes_a_store_that_does_not_exist(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    clip = good_pose(tmp_path)
    typo = tmp_path / "stoer.duckdb"
    assert main(["analyze", str(clip), "-e", "squat", "--db", str(typo), "-q"]) == 2
    assert f"--db {typo}: expected an existing store" in capsys.readouterr().err and not typo.exists()
    assert main(["db", "status", "--db", str(typo)]) == 2 and not typo.exists()

    made = tmp_path / "new" / "made.duckdb"
    assert main(["db", "init", "--db", str(made)]) == 0 and made.is_file()  # init creates, folders too
    assert main(["analyze", str(clip), "-e", "squat", "--db", str(made), "-q"]) == 0

    created = tmp_path / "created.duckdb"
    assert main(["analyze", str(clip), "-e", "squat", "--db", str(created), "--create", "-q"]) == 0
    assert created.is_file()

    default = tmp_path / "default" / "biocoach.duckdb"  # the default store is still created on first use
    monkeypatch.setenv("BIOCOACH_DB", str(default))
    assert main(["analyze", str(clip), "-e", "squat", "-q"]) == 0 and default.is_file()


def test_limits_come_from_the_configuration_file(tmp_path: Path) -> None:
    config = tmp_path / "biocoach.yaml"
    config.write_text("limits:\n  max_frames: 1000\n  max_gap_s: 2.5\n")
    limits = load_config(config).limits
    assert (limits.max_frames, limits.max_gap_s, limits.max_duration_s) == (1000, 2.5, DEFAULT.max_duration_s)
    assert isinstance(limits.max_frames, int) and isinstance(limits.max_gap_s, float)
    for bad, says in (
        ({"max_frames": 0}, "positive"),
        ({"frames": 3}, "unknown limit"),
        ({"max_gap_s": "long"}, "finite number"),
        ({"max_fps": 0.5}, "min_fps"),
    ):
        with pytest.raises(WorkbenchError, match=says):
            from_mapping(bad, "biocoach.yaml")


def test_a_raised_limit_lets_the_input_through(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """The probe's 5 MB source string: refused by default, accepted (and kept whole) with the limit raised."""
    from workbench.pose.posefile import load_npz

    monkeypatch.setenv("BIOCOACH_DB", str(tmp_path / "s.duckdb"))
    path = tmp_path / "long_source.npz"
    q = np.zeros((60, 46))
    np.savez(path, q=q, fps=np.array(30.0), source=np.array("x" * 5_000_000))
    try:
        assert main(["analyze", str(path), "-e", "squat", "--no-db", "-q"]) == 2
        assert "limit max_string_chars" in capsys.readouterr().err
        config = tmp_path / "big.yaml"
        config.write_text("limits:\n  max_string_chars: 6000000\n")
        assert main(["analyze", str(path), "-e", "squat", "--no-db", "-q", "--config", str(config)]) == 0
        assert current_limits().max_string_chars == 6_000_000
        assert len(load_npz(path).source) == 5_000_000
    finally:
        use_limits(None)
    assert current_limits() == Limits()
