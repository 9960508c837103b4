"""A session on the store (one open DuckDB connection) and the store's errors.

They sit below ``workbench.store.database`` (which opens files, migrates and locks) so that the repositories and
the ``Store`` facade depend on a session without depending on the ``Database`` that hands them one.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager, suppress
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import duckdb

from workbench.errors import WorkbenchError


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


class StoreCorruptError(StoreError):
    """The database file is damaged (cut short, overwritten, a block failing its checksum) or is no DuckDB file."""


def corrupt(path: str | Path, detail: str) -> StoreCorruptError:
    """The one-line error for a damaged store file: what is wrong, where, and how to recover."""
    return StoreCorruptError(
        f"{path}: the database file is corrupt ({detail}); to recover, put back a backup copy of it (or run "
        f"`biocoach db --db BACKUP export DIR` on a backup and `biocoach db import DIR` into a new store), or move "
        f"it aside and run `biocoach db init`; `biocoach db check` verifies a file"
    )


# What DuckDB says when the bytes of the file are wrong (as opposed to a lock, a full disk or a bad query).
_CORRUPTION_SIGNS = (
    "corrupt database file",
    "does not match stored checksum",
    "could not read enough bytes",
    "not a valid duckdb database file",
    "database has been invalidated",
    "failed to deserialize",
)


def is_corruption(exc: BaseException) -> bool:
    """Whether a DuckDB error says the database file itself is damaged."""
    text = str(exc).lower()
    return isinstance(exc, duckdb.Error) and any(sign in text for sign in _CORRUPTION_SIGNS)


def utc_now() -> datetime:
    return datetime.now(UTC)


# ---------------------------------------------------------------------------------------------- migrations


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split())


class Session:
    """One open connection. Every query consumes its result (DuckDB 2.0 refuses new work on a connection
    with an unfinished result), and parameters are always bound, never formatted into the SQL."""

    def __init__(self, con: duckdb.DuckDBPyConnection, path: Path):
        self.con = con
        self.path = path
        self._depth = 0

    def execute(self, sql: str, params: Sequence[object] = ()) -> None:
        self.all(sql, params)

    def all(self, sql: str, params: Sequence[object] = ()) -> list[tuple[Any, ...]]:
        try:
            return self.con.execute(sql, list(params)).fetchall()
        except duckdb.Error as exc:
            if is_corruption(exc):
                raise corrupt(self.path, _one_line(exc)) from None
            raise

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
        self.execute("BEGIN TRANSACTION")
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
        self.execute("COMMIT")
