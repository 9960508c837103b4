"""Nothing half-written (issue 15, part 3): a clip row and a run appear only with their result, and a run whose
outputs were not all written is not "succeeded"."""

from __future__ import annotations

import errno
import json
from pathlib import Path
from typing import Any

import duckdb
import pytest

from tests.batch_support import make_clips, squat_store
from workbench.cli import main
from workbench.errors import PoseFileError
from workbench.io import outputs
from workbench.pipeline import analyze_clip

REAL_LANDMARKS = (
    Path(__file__).resolve().parents[2].parent
    / "shared"
    / "data"
    / "real_landmarks_dev"
    / "squat_side_home_man_yuyoujiang.landmarks.csv.gz"
)


def _rows(db: Path, sql: str) -> list[tuple[Any, ...]]:
    con = duckdb.connect(str(db), read_only=True)
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()


@pytest.fixture
def store(tmp_path: Path) -> Path:
    path = tmp_path / "store.duckdb"
    squat_store(path)
    return path


def test_a_clip_that_fails_to_decode_leaves_no_clip_row(store: Path, tmp_path: Path) -> None:
    """The probe found 13 clips rows for videos that failed to decode: the row is written with the pose only."""
    bad = tmp_path / "broken.landmarks.csv"
    bad.write_text("frame,t_s,detected\n0,0.0,1\n")
    with pytest.raises(PoseFileError):
        analyze_clip(bad, "squat", db=str(store))
    assert _rows(store, "SELECT count(*) FROM clips") == [(0,)]
    assert _rows(store, "SELECT count(*) FROM pose_tracks") == [(0,)]
    assert _rows(store, "SELECT count(*) FROM runs") == [(0,)]


@pytest.mark.realdata
def test_a_decoded_clip_is_registered_with_its_pose(store: Path) -> None:
    if not REAL_LANDMARKS.is_file():
        pytest.skip("../shared/data/real_landmarks_dev is not present in this checkout")
    result = analyze_clip(REAL_LANDMARKS, "squat", db=str(store))
    assert _rows(store, "SELECT count(*) FROM clips") == [(1,)]
    assert _rows(store, "SELECT count(*) FROM pose_tracks WHERE backend = 'landmarks'") == [(1,)]
    assert _rows(store, "SELECT id, status FROM runs") == [(result.analysis.provenance["run_id"], "succeeded")]


def test_a_run_is_succeeded_only_once_its_outputs_are_written(store: Path, tmp_path: Path) -> None:
    clip = make_clips(tmp_path / "clips", 1)[0]
    seen: list[int] = []

    def outputs_then_fail(result: Any) -> None:
        seen.append(result.analysis.provenance["run_id"])  # the outputs can name the run before it is recorded
        assert _rows(store, "SELECT count(*) FROM runs") == [(0,)]
        raise OSError(errno.ENOSPC, "No space left on device", str(tmp_path / "a.json"))

    with pytest.raises(OSError):
        analyze_clip(clip, "squat", db=str(store), outputs=outputs_then_fail)
    ((run_id, status, error),) = _rows(store, "SELECT id, status, error FROM runs")
    assert (run_id, status) == (seen[0], "failed") and "outputs not written" in error and "No space left" in error
    assert _rows(store, "SELECT count(*) FROM feedback_events") == [(0,)]

    written = analyze_clip(clip, "squat", db=str(store), outputs=lambda result: None)
    assert _rows(store, f"SELECT status FROM runs WHERE id = {written.analysis.provenance['run_id']}") == [
        ("succeeded",)
    ]


def test_json_not_written_means_a_failed_run(
    store: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """The probe found a run recorded "succeeded" whose --json was never written."""
    clip = make_clips(tmp_path / "clips", 1)[0]
    out = tmp_path / "a.json"

    def disk_full(path: Any, text: str) -> Path:
        raise OSError(errno.ENOSPC, "No space left on device", str(path))

    monkeypatch.setattr(outputs, "write_text", disk_full)
    assert main(["analyze", str(clip), "-e", "squat", "--db", str(store), "--json", str(out), "-q"]) == 2
    assert "No space left on device" in capsys.readouterr().err and not out.exists()
    assert _rows(store, "SELECT status FROM runs") == [("failed",)]
    monkeypatch.undo()
    assert main(["analyze", str(clip), "-e", "squat", "--db", str(store), "--json", str(out), "-q"]) == 0
    run_id = json.loads(out.read_text())["provenance"]["run_id"]
    assert _rows(store, f"SELECT status FROM runs WHERE id = {run_id}") == [("succeeded",)]


def test_a_batch_registers_only_the_clips_that_decoded(
    store: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = tmp_path / "clips"
    make_clips(folder, 2)
    (folder / "broken.npz").write_bytes(b"PK\x03\x04 not a zip")
    (folder / "empty.npz").write_bytes(b"")
    code = main(
        [
            "batch",
            "run",
            str(folder),
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
    )
    assert code == 1 and "4/8 done (0 already done), 4 failed" in capsys.readouterr().out
    assert sorted(Path(p).name for (p,) in _rows(store, "SELECT path FROM clips")) == ["squat_000.npz", "squat_001.npz"]


def test_an_output_file_is_whole_or_absent(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    target = tmp_path / "a.json"
    target.write_text('{"old": true}\n')

    class Interrupted(Exception):
        pass

    real_replace = outputs.os.replace

    def fail(*args: Any) -> None:
        raise Interrupted

    monkeypatch.setattr(outputs.os, "replace", fail)
    with pytest.raises(Interrupted):
        outputs.write_json(target, {"new": [1.0, float("nan")]})
    assert target.read_text() == '{"old": true}\n' and [p.name for p in tmp_path.iterdir()] == ["a.json"]
    monkeypatch.setattr(outputs.os, "replace", real_replace)
    outputs.write_json(target, {"new": [1.0, float("nan"), float("inf")]})
    assert json.loads(target.read_text()) == {"new": [1.0, None, None]}  # standard JSON: no NaN token
