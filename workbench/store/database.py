"""The DuckDB file behind the store: opening it, migrating it, and short transactional sessions.

Concurrency. DuckDB lets one process open a database file read-write at a time; a second process gets an
IO error ("Could not set lock on file") until the first closes it. So the store never keeps the file open:
each operation opens a :class:`Session`, runs its transaction and closes, and opening retries with
jittered backoff while another process holds the lock (:class:`StoreBusyError` after ``lock_timeout_s``).
Processes therefore take turns, and each edit is a compare-and-swap on the item's current version inside one
transaction (see ``repositories.py``): a writer whose base version is no longer current gets a
:class:`ConflictError` and changes nothing. Inside one process several sessions share DuckDB's database
instance; their transactions are isolated (MVCC) and a write-write collision is reported as a conflict.
Keep sessions short: a notebook that holds one open blocks every other process.
"""

from __future__ import annotations

import random
import re
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import duckdb

from workbench.errors import WorkbenchError

if TYPE_CHECKING:
    from workbench.store.repositories import Store

PROJECT_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_DB_PATH = PROJECT_ROOT / "db" / "biocoach.duckdb"
MIGRATIONS_DIR = PROJECT_ROOT / "db" / "migrations"
DEFAULT_LOCK_TIMEOUT_S = 30.0

_MIGRATION_NAME = re.compile(r"^(\d{4})_([a-z0-9_]+)\.sql$")


class StoreError(WorkbenchError):
    """Something about the store itself went wrong (missing item, bad migration folder, …)."""


class ConflictError(StoreError):
    """An edit was based on a version that is no longer current; nothing was changed."""

    def __init__(self, message: str, *, item: str, base_version: int | None, current_version: int | None):
        super().__init__(message)
        self.item = item
        self.base_version = base_version
        self.current_version = current_version


class StoreBusyError(StoreError):
    """Another process held the database file for longer than the lock timeout."""


class ValidationError(StoreError):
    """Data offered to the store (an edit or an imported file) is malformed; nothing was changed."""


class MigrationError(StoreError):
    """The migration files are inconsistent, or the database is newer than this code."""


def utc_now() -> datetime:
    return datetime.now(UTC)


# ---------------------------------------------------------------------------------------------- migrations


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    path: Path

    def sql(self) -> str:
        return self.path.read_text(encoding="utf-8")


def discover_migrations(directory: Path = MIGRATIONS_DIR) -> list[Migration]:
    """The migration files ``NNNN_name.sql`` in order; versions must run 1, 2, 3, … without gaps."""
    found = []
    for path in sorted(directory.glob("*.sql")):
        match = _MIGRATION_NAME.match(path.name)
        if match is None:
            raise MigrationError(f"{path}: expected a file name like 0003_add_things.sql, got {path.name!r}")
        found.append(Migration(int(match.group(1)), match.group(2), path))
    versions = [m.version for m in found]
    if versions != list(range(1, len(found) + 1)):
        raise MigrationError(f"{directory}: expected migrations numbered 1..{len(found)}, got {versions}")
    return found


# ---------------------------------------------------------------------------------------------- session


class Session:
    """One open connection. Every query consumes its result (DuckDB 2.0 refuses new work on a connection
    with an unfinished result), and parameters are always bound, never formatted into the SQL."""

    def __init__(self, con: duckdb.DuckDBPyConnection, path: Path):
        self.con = con
        self.path = path
        self._depth = 0

    def execute(self, sql: str, params: Sequence[object] = ()) -> None:
        self.con.execute(sql, list(params)).fetchall()

    def all(self, sql: str, params: Sequence[object] = ()) -> list[tuple[Any, ...]]:
        return self.con.execute(sql, list(params)).fetchall()

    def one(self, sql: str, params: Sequence[object] = ()) -> tuple[Any, ...] | None:
        rows = self.all(sql, params)
        return rows[0] if rows else None

    def scalar(self, sql: str, params: Sequence[object] = ()) -> Any:
        row = self.one(sql, params)
        return None if row is None else row[0]

    @property
    def in_transaction(self) -> bool:
        return self._depth > 0

    @contextmanager
    def transaction(self) -> Iterator[Session]:
        """BEGIN … COMMIT, rolled back on any exception. Re-entrant: an inner block joins the outer
        transaction, so a repository write is atomic alone and also inside a larger import."""
        if self._depth:
            self._depth += 1
            try:
                yield self
            finally:
                self._depth -= 1
            return
        self.con.execute("BEGIN TRANSACTION").fetchall()
        self._depth = 1
        try:
            yield self
        except BaseException:
            self._depth = 0
            # A DuckDB error may already have ended the transaction; the rollback is then a no-op error.
            with suppress(duckdb.Error):
                self.con.execute("ROLLBACK").fetchall()
            raise
        self._depth = 0
        self.con.execute("COMMIT").fetchall()


# ---------------------------------------------------------------------------------------------- database


class Database:
    """A store file: created and migrated to the latest schema on construction.

    ``target_version`` stops the migrations early (tests build old databases with it).
    """

    def __init__(
        self,
        path: str | Path | None = None,
        *,
        migrations_dir: Path = MIGRATIONS_DIR,
        lock_timeout_s: float = DEFAULT_LOCK_TIMEOUT_S,
        target_version: int | None = None,
    ):
        self.path = Path(path) if path is not None else DEFAULT_DB_PATH
        self.lock_timeout_s = float(lock_timeout_s)
        self.lock_retries = 0  # how often opening found the file locked by another process (diagnostics)
        self.migrations = discover_migrations(migrations_dir)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.applied = self.migrate(target_version)

    def __repr__(self) -> str:
        return f"Database({str(self.path)!r})"

    @contextmanager
    def session(self) -> Iterator[Session]:
        """An open connection for one short piece of work; closed (and the file unlocked) on exit."""
        con = self._connect()
        try:
            yield Session(con, self.path)
        finally:
            con.close()

    @contextmanager
    def store(self) -> Iterator[Store]:
        """A session wrapped in the typed repositories (``store.thresholds``, ``store.references``, …)."""
        from workbench.store.repositories import Store

        with self.session() as session:
            yield Store(session)

    def schema_version(self) -> int:
        with self.session() as s:
            return _schema_version(s)

    def migrate(self, target_version: int | None = None) -> list[int]:
        """Apply the pending migrations (up to ``target_version``), each in its own transaction, and return
        the versions applied. A database newer than the code is refused rather than guessed at."""
        latest = len(self.migrations)
        target = latest if target_version is None else target_version
        if not 0 <= target <= latest:
            raise MigrationError(f"target_version: expected 0..{latest}, got {target}")
        applied: list[int] = []
        with self.session() as s:
            current = _schema_version(s)
            if current > latest:
                raise MigrationError(
                    f"{self.path}: schema version {current} is newer than this code's {latest}; "
                    f"update BioCoach Workbench"
                )
            for migration in self.migrations[current:target]:
                _apply_migration(s, migration)
                applied.append(migration.version)
        return applied

    def _connect(self) -> duckdb.DuckDBPyConnection:
        """Open the file, waiting with jittered backoff while another process holds its lock."""
        deadline = time.monotonic() + self.lock_timeout_s
        delay = 0.005
        while True:
            try:
                return duckdb.connect(str(self.path))
            except duckdb.IOException as exc:
                if "lock" not in str(exc).lower():
                    raise StoreError(f"{self.path}: cannot open the database ({_one_line(exc)})") from None
                if time.monotonic() >= deadline:
                    raise StoreBusyError(
                        f"{self.path}: another process has held the database for more than "
                        f"{self.lock_timeout_s:g} s ({_one_line(exc)}). Close other sessions (an open notebook "
                        f"connection holds the file) and retry."
                    ) from None
            self.lock_retries += 1
            # Jitter keeps two waiting processes from retrying in lockstep.
            time.sleep(delay * random.uniform(0.5, 1.0))
            delay = min(delay * 1.5, 0.2)


def _apply_migration(s: Session, migration: Migration) -> None:
    """One migration and its schema_version row in one transaction: a failing file leaves no trace."""
    try:
        with s.transaction():
            # The file's statements carry no values, so executing it as written is safe.
            s.con.execute(migration.sql()).fetchall()
            s.execute(
                "INSERT INTO schema_version (version, name, applied_at) VALUES (?, ?, ?)",
                [migration.version, migration.name, utc_now()],
            )
    except duckdb.Error as exc:
        raise MigrationError(
            f"{migration.path}: expected a migration that applies, got an error ({_one_line(exc)}); "
            f"the database stays at schema version {migration.version - 1}"
        ) from None


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split())


def _schema_version(s: Session) -> int:
    exists = s.scalar(
        "SELECT count(*) FROM duckdb_tables() WHERE table_name = ? AND schema_name = 'main' "
        "AND database_name = current_database()",
        ["schema_version"],
    )
    if not exists:
        return 0
    return int(s.scalar("SELECT coalesce(max(version), 0) FROM schema_version"))
