"""Whether a store file is sound: ``biocoach db check``.

The file is opened read-only and read in full, and nothing is written:

* its length against the blocks DuckDB says are in use (a copy cut short);
* DuckDB opens it (headers and catalogue pass their checksums);
* the schema version is one this code knows, with the tables and columns its migrations make;
* every column of every row of every table is read (``sum(hash(...))``, so DuckDB loads and checksums every
  data block a table uses);
* every block of the file passes DuckDB's checksum, indexes and blocks no query happened to read included
  (all-zero blocks are free space DuckDB gave back to the file system);
* every current-version pointer (rules, reference, thresholds, labels) and every review cursor points at a
  version that exists.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import duckdb
import numpy as np

from workbench.store.database import (
    DATA_START,
    DEFAULT_LOCK_TIMEOUT_S,
    MIGRATIONS_DIR,
    Migration,
    Session,
    StoreCorruptError,
    check_length,
    checksum,
    close_connection,
    connect,
    discover_migrations,
    is_corruption,
    read_header,
)

MAX_LISTED = 5  # problems of one kind listed by name; the rest are counted


@dataclass
class IntegrityReport:
    """What ``check_database`` found: ``problems`` empty means the file is sound."""

    path: Path
    problems: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    schema_version: int | None = None
    rows: dict[str, int] = field(default_factory=dict)
    blocks_verified: int = 0

    @property
    def ok(self) -> bool:
        return not self.problems

    def lines(self) -> list[str]:
        if self.ok:
            head = (
                f"{self.path}: OK: schema version {self.schema_version}, {len(self.rows)} tables read in full "
                f"({sum(self.rows.values())} rows), {self.blocks_verified} blocks pass their checksums, every "
                "current version exists"
            )
        else:
            head = f"{self.path}: {len(self.problems)} problem(s):"
        return [head, *(f"  - {p}" for p in self.problems), *(f"  note: {n}" for n in self.notes)]


def check_database(
    path: str | Path, *, migrations_dir: Path = MIGRATIONS_DIR, lock_timeout_s: float = DEFAULT_LOCK_TIMEOUT_S
) -> IntegrityReport:
    """Read the whole store file at ``path`` (read-only) and report what is wrong with it."""
    path = Path(path)
    report = IntegrityReport(path)
    if not path.is_file():
        report.problems.append("no such file" if not path.exists() else "not a regular file")
        return report
    try:
        con, _ = connect(path, lock_timeout_s=lock_timeout_s, read_only=True)
    except StoreCorruptError as exc:
        report.problems.append(_detail(exc))
        return report
    try:
        con.execute("SET enable_progress_bar = false").fetchall()  # a long scan must not draw on the terminal
        check_length(Session(con, path))
        migrations = discover_migrations(migrations_dir)
        if _check_schema(con, migrations, report):
            _scan_tables(con, report)
            _check_pointers(con, report)
    except StoreCorruptError as exc:
        report.problems.append(_detail(exc))
        return report
    finally:
        close_connection(con, path)
    _check_blocks(path, report)
    return report


def _detail(exc: StoreCorruptError) -> str:
    """The part of a corrupt-file message between its parentheses: what DuckDB or the header check said."""
    text = str(exc)
    start = text.find("(")
    end = text.rfind("); to recover")
    return text[start + 1 : end] if 0 <= start < end else text


# ------------------------------------------------------------------------------------------ schema


def _check_schema(con: duckdb.DuckDBPyConnection, migrations: list[Migration], report: IntegrityReport) -> bool:
    """The schema version is known and the tables its migrations create are there; False when nothing further
    can be checked (not a store at all, or a newer one)."""
    tables = _tables(con)
    if "schema_version" not in tables:
        report.problems.append("no schema_version table: not a BioCoach store (or an empty file)")
        return False
    try:
        applied = [
            (int(v), str(n))
            for v, n in con.execute("SELECT version, name FROM schema_version ORDER BY version").fetchall()
        ]
    except duckdb.Error as exc:
        report.problems.append(f"table schema_version: {_line(exc)}")
        return False
    known = [(m.version, m.name) for m in migrations]
    version = applied[-1][0] if applied else 0
    report.schema_version = version
    if version > len(known):
        report.problems.append(
            f"schema version {version} is newer than this code's {len(known)}; update BioCoach Workbench to check it"
        )
        return False
    if applied != known[:version]:
        report.problems.append(f"schema_version: expected the migrations {known[:version]}, got {applied}")
    if version < len(known):
        report.notes.append(
            f"schema version {version} of {len(known)}: the next command that opens the store upgrades it in place"
        )
    expected = _schema_of(migrations[:version])
    for table, columns in sorted(expected.items()):
        if table not in tables:
            report.problems.append(f"table {table} is missing (schema version {version} has it)")
        elif missing := [c for c in columns if c not in tables[table]]:
            report.problems.append(f"table {table}: columns {', '.join(missing)} are missing")
    return True


def _tables(con: duckdb.DuckDBPyConnection) -> dict[str, list[str]]:
    rows = con.execute(
        "SELECT table_name, column_name FROM duckdb_columns() WHERE schema_name = 'main' "
        "AND database_name = current_database() ORDER BY table_name, column_index"
    ).fetchall()
    tables: dict[str, list[str]] = {}
    for table, column in rows:
        tables.setdefault(str(table), []).append(str(column))
    return tables


def _schema_of(migrations: list[Migration]) -> dict[str, list[str]]:
    """The tables and columns the migrations make, applied to an empty in-memory database."""
    con = duckdb.connect(":memory:")
    try:
        for migration in migrations:
            con.execute(migration.sql()).fetchall()
        return _tables(con)
    finally:
        con.close()


# ------------------------------------------------------------------------------------------ data


def _scan_tables(con: duckdb.DuckDBPyConnection, report: IntegrityReport) -> None:
    """Read every value of every table (hashing forces DuckDB to load, and checksum, every block it uses)."""
    for table, columns in sorted(_tables(con).items()):
        values = ", ".join(_quoted(c) for c in columns)
        try:
            count, _ = con.execute(f"SELECT count(*), sum(hash({values})) FROM {_quoted(table)}").fetchall()[0]
        except duckdb.Error as exc:
            kind = "is damaged" if is_corruption(exc) else "cannot be read"
            report.problems.append(f"table {table} {kind} ({_line(exc)})")
            continue
        report.rows[table] = int(count)


def _line(exc: BaseException) -> str:
    return " ".join(str(exc).split())


def _quoted(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


# Each current-version pointer kind and the version rows it must point at.
_DANGLING = {
    "rules": "SELECT c.scope, c.item, c.version FROM current_versions c WHERE c.kind = 'rules' AND NOT EXISTS "
    "(SELECT 1 FROM rule_versions v WHERE v.exercise = c.scope AND v.version = c.version)",
    "reference": "SELECT c.scope, c.item, c.version FROM current_versions c WHERE c.kind = 'reference' AND NOT EXISTS "
    "(SELECT 1 FROM reference_versions v WHERE v.exercise = c.scope AND v.version = c.version)",
    "threshold": "SELECT c.scope, c.item, c.version FROM current_versions c WHERE c.kind = 'threshold' AND NOT EXISTS "
    "(SELECT 1 FROM threshold_versions v WHERE v.exercise = c.scope AND v.constraint_id = c.item "
    "AND v.version = c.version)",
    "label": "SELECT c.scope, c.item, c.version FROM current_versions c WHERE c.kind = 'label' AND NOT EXISTS "
    "(SELECT 1 FROM label_versions v WHERE v.clip_hash = c.scope AND CAST(v.label_id AS VARCHAR) = c.item "
    "AND v.version = c.version)",
    "review cursor": "SELECT c.proposal_id, c.reviewer, c.label_version FROM review_sync c WHERE NOT EXISTS "
    "(SELECT 1 FROM review_labels l WHERE l.proposal_id = c.proposal_id "
    "AND l.reviewer = c.reviewer AND l.version = c.label_version)",
}
_POINTER_TABLES = {"review cursor": ("review_sync", "review_labels")}


def _check_pointers(con: duckdb.DuckDBPyConnection, report: IntegrityReport) -> None:
    tables = _tables(con)
    for kind, sql in _DANGLING.items():
        if any(t not in tables or t not in report.rows for t in _POINTER_TABLES.get(kind, ("current_versions",))):
            continue  # an older schema, or a table already reported as unreadable
        try:
            dangling = con.execute(sql).fetchall()
        except duckdb.Error as exc:
            report.problems.append(f"{kind} pointers cannot be checked ({_line(exc)})")
            continue
        if dangling:
            named = ", ".join(f"{scope}/{item} v{version}" for scope, item, version in dangling[:MAX_LISTED])
            more = f" and {len(dangling) - MAX_LISTED} more" if len(dangling) > MAX_LISTED else ""
            report.problems.append(
                f"{len(dangling)} current {kind} version(s) point at no stored version: {named}{more}"
            )


# ------------------------------------------------------------------------------------------ blocks


def _check_blocks(path: Path, report: IntegrityReport) -> None:
    """Every block of the file against its checksum, the way DuckDB checks a block it reads."""
    header = read_header(path)
    if header is None:
        report.notes.append("block checksums not verified: the file's header is not in a layout this code reads")
        return
    bad: list[str] = []
    verified = 0
    with path.open("rb") as handle:
        for block in range(header.block_count):
            handle.seek(DATA_START + block * header.block_size)
            data = handle.read(header.block_size)
            if not data:  # DuckDB gives trailing free blocks back by truncating the file
                break
            if len(data) < header.block_size:  # …but never cuts a block in two
                bad.append(f"block {block} is cut short ({len(data)} of {header.block_size} bytes)")
                break
            if not any(data):  # free space given back to the file system (reads as zeros)
                continue
            stored = int(np.frombuffer(data[:8], dtype="<u8")[0])
            if stored == checksum(data[8:]):
                verified += 1
            elif block == header.meta_block and not bad and not report.problems:
                # DuckDB read this block to open the file: if our checksum disagrees, the layout is not ours.
                report.notes.append(
                    "block checksums not verified: this DuckDB's block layout is not the one this code knows"
                )
                return
            else:
                bad.append(
                    f"block {block} (bytes {DATA_START + block * header.block_size}–"
                    f"{DATA_START + (block + 1) * header.block_size - 1}) fails its checksum"
                )
    report.blocks_verified = verified
    if bad:
        more = f" and {len(bad) - MAX_LISTED} more" if len(bad) > MAX_LISTED else ""
        report.problems.append("; ".join(bad[:MAX_LISTED]) + more)
