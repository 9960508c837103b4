"""`biocoach batch` through the CLI entry point (in process, the in-driver engine): user errors exit 2 with
a message naming what was wrong; a run prints its summary and `status` reads it back from the store."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.batch_support import corrupt_clip, make_clips, squat_store
from workbench.cli import main


@pytest.fixture
def store(tmp_path: Path) -> Path:
    path = tmp_path / "store.duckdb"
    squat_store(path)
    return path


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--stages", "pose,render"], "--stages: expected a comma-separated subset of pose,analysis"),
        ([], "the analysis needs the clip's exercise; expected --exercise"),
        (["--where", "true"], "expected exactly one of SOURCE, --qevd or --where, got 2"),
    ],
)
def test_user_errors_exit_2_with_a_clear_message(
    args: list[str], message: str, store: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    make_clips(tmp_path / "clips", 1)
    code = main(["batch", "run", str(tmp_path / "clips"), "--db", str(store), "-j", "0", "--no-progress", *args])
    assert code == 2 and message in capsys.readouterr().err


def test_run_then_status(store: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    make_clips(tmp_path / "clips", 2)
    corrupt_clip(tmp_path / "clips")
    argv = [
        "batch",
        "run",
        str(tmp_path / "clips" / "*.npz"),
        "-e",
        "squat",
        "--db",
        str(store),
        "-j",
        "0",
        "--max-attempts",
        "1",
        "--no-progress",
    ]
    assert main(argv) == 1  # a failed item: the exit status says so
    out = capsys.readouterr().out
    assert "job 1 (" in out and "finished: 4/6 done (0 already done), 2 failed, 0 pending" in out
    assert "failed pose after 1 tries: " in out and "broken.npz: PoseFileError" in out
    assert main(["batch", "status", "1", "--db", str(store)]) == 0
    assert "finished: 4/6 done" in capsys.readouterr().out
    assert (
        main(
            [
                "batch",
                "run",
                str(tmp_path / "clips" / "squat_000.npz"),
                "-e",
                "squat",
                "--db",
                str(store),
                "-j",
                "0",
                "--no-progress",
            ]
        )
        == 0
    )
    assert "finished: 2/2 done (2 already done)" in capsys.readouterr().out
