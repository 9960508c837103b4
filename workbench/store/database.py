"""The DuckDB file behind the store: opening it, migrating it, and short transactional sessions.

Concurrency. DuckDB lets one process open a database file read-write at a time; a second process gets an
IO error ("Could not set lock on file") until the first closes it. So the store never keeps the file open:
each operation opens a :class:`Session`, runs its transaction and closes, and opening retries with
jittered backoff while another process holds the lock (:class:`StoreBusyError` after ``lock_timeout_s``).
Processes therefore take turns, and each edit is a compare-and-swap on the item's current version inside one
transaction (see ``versioned.py``): a writer whose base version is no longer current gets a
:class:`ConflictError` and changes nothing. Inside one process several sessions share DuckDB's database
instance; their transactions are isolated (MVCC) and a write-write collision is reported as a conflict.
Keep sessions short: a notebook that holds one open blocks every other process.

Damage. A file cut short, overwritten or with a flipped bit is named as corrupt (:class:`StoreCorruptError`,
with the way to recover) wherever it shows: a file shorter than the blocks DuckDB says are in use when the store
is opened, a block whose checksum does not match when DuckDB reads it. ``workbench.store.integrity.check_database`` (the
command ``biocoach db check``) reads the whole file.
"""

from __future__ import annotations

import random
import re
import struct
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import duckdb
import numpy as np

from workbench.store.facade import Store
from workbench.store.session import (  # re-exported: the store's errors and its connection wrapper
    ConflictError,
    MigrationError,
    Session,
    StoreBusyError,
    StoreCorruptError,
    StoreError,
    ValidationError,
    _one_line,
    corrupt,
    is_corruption,
    utc_now,
)

__all__ = [
    "ConflictError",
    "Database",
    "MigrationError",
    "Session",
    "StoreBusyError",
    "StoreCorruptError",
    "StoreError",
    "ValidationError",
    "corrupt",
    "is_corruption",
    "utc_now",
]

PROJECT_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_DB_PATH = PROJECT_ROOT / "db" / "biocoach.duckdb"
MIGRATIONS_DIR = PROJECT_ROOT / "db" / "migrations"
DEFAULT_LOCK_TIMEOUT_S = 30.0

_MIGRATION_NAME = re.compile(r"^(\d{4})_([a-z0-9_]+)\.sql$")


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
            close_connection(con, self.path)

    @contextmanager
    def store(self) -> Iterator[Store]:
        """A session wrapped in the typed repositories (``store.thresholds``, ``store.references``, …)."""
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
            check_length(s)
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
        con, retries = connect(self.path, lock_timeout_s=self.lock_timeout_s)
        self.lock_retries += retries
        return con


def connect(
    path: Path, *, lock_timeout_s: float = DEFAULT_LOCK_TIMEOUT_S, read_only: bool = False
) -> tuple[duckdb.DuckDBPyConnection, int]:
    """Open the file, waiting with jittered backoff while another process holds its lock; returns the
    connection and how often it found the file locked. A damaged file is a :class:`StoreCorruptError`."""
    deadline = time.monotonic() + lock_timeout_s
    delay = 0.005
    retries = 0
    while True:
        try:
            con = duckdb.connect(str(path), read_only=read_only)
        except duckdb.Error as exc:
            if is_corruption(exc):
                raise corrupt(path, _one_line(exc)) from None
            if not isinstance(exc, duckdb.IOException) or "lock" not in str(exc).lower():
                raise StoreError(f"{path}: cannot open the database ({_one_line(exc)})") from None
            if time.monotonic() >= deadline:
                raise StoreBusyError(
                    f"{path}: another process has held the database for more than "
                    f"{lock_timeout_s:g} s ({_one_line(exc)}). Close other sessions (an open notebook "
                    f"connection holds the file) and retry."
                ) from None
        else:
            with _OPEN_LOCK:
                _OPEN[_key(path)] = _OPEN.get(_key(path), 0) + 1
            return con, retries
        retries += 1
        # Jitter keeps two waiting processes from retrying in lockstep.
        time.sleep(delay * random.uniform(0.5, 1.0))
        delay = min(delay * 1.5, 0.2)


# The connections this process has open to each file (check_length needs to know it holds the only one).
_OPEN: dict[str, int] = {}
_OPEN_LOCK = threading.Lock()


def _key(path: Path) -> str:
    return str(path.resolve())


# ---------------------------------------------------------------------------------------------- file layout
#
# DuckDB's single-file layout (storage of DuckDB 1.x-2.x): a main header (4 KiB: checksum, b"DUCK", …), two
# database headers (4 KiB each: checksum, iteration, meta block, free list, block count, block size, …; the one
# with the higher iteration is current), then ``block count`` blocks of ``block size`` bytes, each starting
# with the checksum of the rest. Every header and block checksum is DuckDB's: 5381 XOR, over the 8-byte
# little-endian words w, of w * 0xbf58476d1ce4e5b9 (mod 2**64).

HEADER_BYTES = 4096
DATA_START = 3 * HEADER_BYTES
_CHECKSUM_MULTIPLIER = np.uint64(0xBF58476D1CE4E5B9)
_BLOCK_SIZES = frozenset(2**k for k in range(14, 29))  # 16 KiB … 256 MiB


@dataclass(frozen=True)
class FileHeader:
    iteration: int
    meta_block: int
    block_count: int
    block_size: int


def checksum(data: bytes) -> int:
    """DuckDB's checksum of a header or block body (a multiple of 8 bytes here)."""
    words = np.frombuffer(data[: len(data) // 8 * 8], dtype="<u8")
    with np.errstate(over="ignore"):
        mixed = words * _CHECKSUM_MULTIPLIER
    return int(np.bitwise_xor.reduce(mixed)) ^ 5381 if len(words) else 5381


def read_header(path: Path) -> FileHeader | None:
    """The current database header of a DuckDB file, or None where the file does not carry one this code can
    read (too short, not DuckDB, another layout): DuckDB's own errors then say what is wrong."""
    with path.open("rb") as handle:
        head = handle.read(DATA_START)
    if len(head) < DATA_START or head[8:12] != b"DUCK":
        return None
    found = []
    for offset in (HEADER_BYTES, 2 * HEADER_BYTES):
        raw = head[offset : offset + HEADER_BYTES]
        stored, iteration, meta, _free, count, size = struct.unpack_from("<QQQQQQ", raw)
        if stored == checksum(raw[8:]) and count < 2**40 and size in _BLOCK_SIZES:
            found.append(FileHeader(iteration, meta & (2**56 - 1), count, size))
    return max(found, key=lambda h: h.iteration) if found else None


def check_length(s: Session) -> None:
    """Refuse a file shorter than the blocks DuckDB says are in use (cut short by a copy, a full disk or a crash):
    DuckDB opens such a file and fails later, or never, depending on which blocks a command happens to read.

    DuckDB's counts run ahead of the file while another connection of this process writes, so the check runs
    only on the process's sole connection to the file, and new connections wait for it."""
    if read_header(s.path) is None:
        return  # a layout this code does not read: DuckDB's own errors speak for it
    with _OPEN_LOCK:
        if _OPEN.get(_key(s.path), 0) != 1:
            return
        rows = s.all(
            "SELECT block_size, used_blocks FROM pragma_database_size() WHERE database_name = current_database()"
        )
    if not rows:
        return
    block_size, used = (int(v) for v in rows[0])
    size, needed = s.path.stat().st_size, DATA_START + used * block_size
    if size < needed:
        raise corrupt(s.path, f"truncated: {size} bytes, where its {used} blocks in use need {needed}")


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
    except StoreCorruptError:
        raise
    except duckdb.Error as exc:
        if is_corruption(exc):
            raise corrupt(s.path, _one_line(exc)) from None
        raise MigrationError(
            f"{migration.path}: expected a migration that applies, got an error ({_one_line(exc)}); "
            f"the database stays at schema version {migration.version - 1}"
        ) from None


def close_connection(con: duckdb.DuckDBPyConnection, path: Path) -> None:
    """Close a connection opened by :func:`connect`; DuckDB checkpoints then, and a damaged block found there
    is named as such."""
    try:
        con.close()
    except duckdb.Error as exc:
        if is_corruption(exc):
            raise corrupt(path, _one_line(exc)) from None
        raise
    finally:
        with _OPEN_LOCK:
            left = _OPEN.get(_key(path), 1) - 1
            if left > 0:
                _OPEN[_key(path)] = left
            else:
                _OPEN.pop(_key(path), None)


def _schema_version(s: Session) -> int:
    exists = s.scalar(
        "SELECT count(*) FROM duckdb_tables() WHERE table_name = ? AND schema_name = 'main' "
        "AND database_name = current_database()",
        ["schema_version"],
    )
    if not exists:
        return 0
    return int(s.scalar("SELECT coalesce(max(version), 0) FROM schema_version"))
