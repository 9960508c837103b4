"""A damaged store file is named as corrupt, with the way to recover, by every command that meets the damage; and
`biocoach db check` reads the whole file.

Ground truth. Each test damages its own copy of one sound store (seeded, then three analyses recorded):
* cut in half, or by its last block: shorter than the blocks DuckDB says are in use → refused when opened;
* one bit flipped in a block of the rule_versions table → refused by any command that reads the rules;
* one bit flipped in a block no table uses (an index) → only the block checksum pass of `db check` sees it;
* one bit flipped in the catalogue block (read when the file is opened), random bytes, an empty file;
* a current-version pointer whose version row is gone, a schema version from the future.
The sound store itself must pass, although DuckDB gave its two trailing free blocks back to the file system
(its header counts 19 blocks, the file holds 17): a length check against the header would call it corrupt.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import duckdb
import pytest

from workbench.cli import main
from workbench.dashboard.state import EXAMPLE_CLIP
from workbench.pipeline import analyze_clip
from workbench.store.database import DATA_START, Database, StoreCorruptError, read_header
from workbench.store.integrity import check_database
from workbench.store.seed import init_from_references

REPO = Path(__file__).resolve().parents[2]
RECOVERY = ("is corrupt", "backup", "biocoach db init", "biocoach db check")


@pytest.fixture(scope="module")
def sound(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("sound") / "store.duckdb"
    db = Database(path)
    init_from_references(db)
    for _ in range(3):
        analyze_clip(EXAMPLE_CLIP, "squat", db=db)
    return path


@pytest.fixture
def copy(sound: Path, tmp_path: Path) -> Path:
    target = tmp_path / "copy.duckdb"
    shutil.copyfile(sound, target)
    return target


def _blocks(path: Path, sql: str) -> set[int]:
    con = duckdb.connect(str(path), read_only=True)
    try:
        return {int(r[0]) for r in con.execute(sql).fetchall() if r[0] is not None and int(r[0]) >= 0}
    finally:
        con.close()


def _table_blocks(path: Path, table: str) -> set[int]:
    return _blocks(path, f"SELECT block_id FROM pragma_storage_info('{table}') WHERE persistent")


def _index_block(path: Path) -> int:
    """A written block that no table and no metadata uses (DuckDB keeps the ART indexes there)."""
    con = duckdb.connect(str(path), read_only=True)
    tables = [r[0] for r in con.execute("SELECT table_name FROM duckdb_tables() WHERE schema_name = 'main'").fetchall()]
    con.close()
    used = set().union(*(_table_blocks(path, t) for t in tables))
    used |= _blocks(path, "SELECT block_id FROM pragma_metadata_info()")
    header = read_header(path)
    assert header is not None
    size = path.stat().st_size
    for block in range(header.block_count):
        start = DATA_START + block * header.block_size
        if block in used or start + header.block_size > size:
            continue
        with path.open("rb") as f:
            f.seek(start)
            if any(f.read(header.block_size)):
                return block
    raise AssertionError("no index block found")


def _flip(path: Path, block: int, at: int = 1000) -> None:
    header = read_header(path)
    assert header is not None
    offset = DATA_START + block * header.block_size + at
    with path.open("r+b") as f:
        f.seek(offset)
        byte = f.read(1)
        f.seek(offset)
        f.write(bytes([byte[0] ^ 0x04]))


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def _says_corrupt(err: str, path: Path) -> bool:
    lines = err.strip().splitlines()
    return len(lines) == 1 and str(path) in lines[0] and all(r in lines[0] for r in RECOVERY)


# ------------------------------------------------------------------------------------------- sound


def test_a_sound_store_passes_although_its_trailing_free_blocks_were_given_back(
    sound: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    header = read_header(sound)
    assert header is not None and DATA_START + header.block_count * header.block_size > sound.stat().st_size
    report = check_database(sound)
    assert report.ok, report.lines()
    assert report.schema_version == 5 and report.rows["runs"] == 3 and report.rows["exercises"] == 30
    assert report.blocks_verified >= 10
    code, out, err = _run(capsys, "db", "check", "--db", str(sound))
    assert code == 0 and out.startswith(f"{sound}: OK: schema version 5") and err == ""
    code, out, _ = _run(capsys, "db", "--db", str(sound), "status")
    assert code == 0 and "integrity              OK" in out
    Database(sound)  # opening it is fine too


def test_check_never_creates_the_file_it_is_asked_about(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    missing = tmp_path / "typo.duckdb"
    code, out, err = _run(capsys, "db", "check", "--db", str(missing))
    assert code == 2 and "no such file" in out and _says_corrupt(err, missing)
    assert not missing.exists()


# ------------------------------------------------------------------------------------------- damage

Damage = Callable[[Path], None]


def _half(path: Path) -> None:
    with path.open("r+b") as f:
        f.truncate(path.stat().st_size // 2)


def _last_block(path: Path) -> None:
    header = read_header(path)
    assert header is not None
    with path.open("r+b") as f:
        f.truncate(path.stat().st_size - header.block_size)


def _rules_block(path: Path) -> None:
    _flip(path, min(_table_blocks(path, "rule_versions")))


def _catalogue_block(path: Path) -> None:
    header = read_header(path)
    assert header is not None
    _flip(path, header.meta_block, at=100)


def _garbage(path: Path) -> None:
    path.write_bytes(bytes(range(256)) * 64)


def _empty(path: Path) -> None:
    path.write_bytes(b"")


DAMAGE: dict[str, Damage] = {
    "cut in half": _half,
    "last block cut": _last_block,
    "rules block flipped": _rules_block,
    "catalogue block flipped": _catalogue_block,
    "random bytes": _garbage,
    "empty file": _empty,
}
# What each command needs from the file: all of these read the rules (or the whole file).
COMMANDS: dict[str, Callable[[Path], list[str]]] = {
    "db status": lambda p: ["db", "--db", str(p), "status"],
    "db check": lambda p: ["db", "check", "--db", str(p)],
    "db history": lambda p: ["db", "--db", str(p), "history", "squat"],
    "db export": lambda p: ["db", "--db", str(p), "export", str(p.parent / "export")],
    "db init": lambda p: ["db", "--db", str(p), "init"],
    "analyze": lambda p: ["analyze", str(EXAMPLE_CLIP), "-e", "squat", "--db", str(p), "-q"],
}


@pytest.mark.parametrize("damage", list(DAMAGE))
@pytest.mark.parametrize("command", list(COMMANDS))
def test_every_command_names_a_damaged_store_and_changes_nothing(
    copy: Path, damage: str, command: str, capsys: pytest.CaptureFixture[str]
) -> None:
    DAMAGE[damage](copy)
    before = copy.read_bytes()
    code, _, err = _run(capsys, *COMMANDS[command](copy))
    assert code == 2, err
    assert _says_corrupt(err, copy), err
    assert "Traceback" not in err and "_duckdb" not in err
    assert copy.read_bytes() == before
    assert not (copy.parent / "export").exists()


def test_a_flipped_bit_in_a_block_no_query_reads_is_found_by_check_and_status(
    copy: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    block = _index_block(copy)
    _flip(copy, block)
    report = check_database(copy)
    start, end = DATA_START + block * 262144, DATA_START + (block + 1) * 262144 - 1
    assert report.problems == [f"block {block} (bytes {start}–{end}) fails its checksum"]
    for argv in (["db", "check", "--db", str(copy)], ["db", "--db", str(copy), "status"]):
        code, out, err = _run(capsys, *argv)
        assert code == 2 and f"block {block}" in out and _says_corrupt(err, copy)


def test_a_damaged_block_met_in_the_middle_of_a_query_is_named(copy: Path) -> None:
    db = Database(copy)  # opens fine: the damage is in a table's block
    _rules_block(copy)
    corrupt = r"is corrupt \(Corrupt database file: computed checksum"
    with pytest.raises(StoreCorruptError, match=corrupt), db.session() as s:
        s.all("SELECT body_json FROM rule_versions")


@pytest.mark.parametrize("damage", ["cut in half", "rules block flipped"])
def test_no_traceback_reaches_the_terminal(copy: Path, damage: str) -> None:
    DAMAGE[damage](copy)
    done = subprocess.run(
        [sys.executable, "-m", "workbench.cli", "db", "--db", str(copy), "status"],
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=120,
    )
    assert done.returncode == 2
    assert _says_corrupt(done.stderr, copy) and "Traceback" not in done.stderr + done.stdout


# ------------------------------------------------------------------------------------------- logic


def test_a_pointer_to_a_missing_version_fails_the_check(copy: Path, capsys: pytest.CaptureFixture[str]) -> None:
    con = duckdb.connect(str(copy))
    con.execute("DELETE FROM threshold_versions WHERE exercise = 'squat' AND constraint_id = 'knee_depth'")
    con.close()
    report = check_database(copy)
    assert report.problems == ["1 current threshold version(s) point at no stored version: squat/knee_depth v1"]
    code, out, err = _run(capsys, "db", "check", "--db", str(copy))
    assert code == 2 and "squat/knee_depth v1" in out and _says_corrupt(err, copy)


def test_a_schema_version_from_the_future_fails_the_check(copy: Path) -> None:
    con = duckdb.connect(str(copy))
    con.execute("INSERT INTO schema_version VALUES (99, 'future', now())")
    con.close()
    report = check_database(copy)
    assert not report.ok and "schema version 99 is newer than this code's 5" in report.problems[0]


def test_a_missing_table_fails_the_check(copy: Path) -> None:
    con = duckdb.connect(str(copy))
    con.execute("DROP TABLE review_sync")
    con.close()
    assert check_database(copy).problems == ["table review_sync is missing (schema version 5 has it)"]


def test_the_length_check_waits_for_the_only_connection(copy: Path) -> None:
    """While another session of this process is open, DuckDB's block counts may run ahead of the file (a write
    in flight), so opening the store then does not compare them; on its own it does."""
    db = Database(copy)
    _half(copy)
    with db.session():
        Database(copy)  # no false alarm from the counts of a connection that may be writing
    with pytest.raises(StoreCorruptError, match="truncated"):
        Database(copy)
