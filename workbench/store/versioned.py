"""The one base of the store's versioned repositories: append-only versions behind a compare-and-swap pointer.

Versioned items (an exercise's rules body, its reference trajectory, each threshold, each salient-joint
label) are append-only: an edit inserts a new version row carrying its author, note, time and parent
version, and moves the item's pointer in ``current_versions`` — in one transaction. Every edit names the
version it was based on; the pointer moves only if that is still the current version (compare-and-swap),
otherwise :class:`ConflictError` says who changed it to what, and nothing changes. A revert is an edit
whose content is an old version's, so history only grows.

:class:`VersionedRepository` owns that logic (reading a version, the history, the guarded append, the base
of a revert); a repository supplies only its table, the columns that name one item, the columns it reads,
and how a row becomes its version type.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, ClassVar, Generic, Literal, Protocol, TypeVar

import duckdb

from workbench.exercises.catalogue import Constraint
from workbench.store.session import ConflictError, Session, StoreError, utc_now

Kind = Literal["rules", "reference", "threshold", "label"]
Status = Literal["proposed", "accepted", "rejected"]

# The author and time of one version of an item, for conflict messages.
Describe = Callable[[int], tuple[str, datetime] | None]

V = TypeVar("V")


def when(at: datetime) -> str:
    return at.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def revert_note(to_version: int, note: str) -> str:
    return f"revert to version {to_version}" + (f": {note}" if note else "")


@dataclass(frozen=True)
class Item:
    """One versioned item and how messages name it ("threshold squat/knee_depth")."""

    kind: Kind
    scope: str
    name: str

    @property
    def label(self) -> str:
        return (
            f"{self.kind} {self.scope}"
            if self.kind in ("rules", "reference")
            else f"{self.kind} {self.scope}/{self.name}"
        )


class Pointers:
    """The current-version pointers and the compare-and-swap every edit goes through."""

    def __init__(self, session: Session):
        self.s = session

    def current(self, item: Item) -> int | None:
        value = self.s.scalar(
            "SELECT version FROM current_versions WHERE kind = ? AND scope = ? AND item = ?",
            [item.kind, item.scope, item.name],
        )
        return None if value is None else int(value)

    def require(self, item: Item) -> int:
        version = self.current(item)
        if version is None:
            raise StoreError(f"{item.label} does not exist in the store")
        return version

    def advance(self, item: Item, base: int | None, describe: Describe) -> int:
        """Move the pointer from ``base`` (None: the item is new) to the next version and return it.
        Must run inside the transaction that inserts the new version row."""
        current = self.current(item)
        if current != base:
            raise self._conflict(item, base, current, describe)
        try:
            if base is None:
                self.s.execute(
                    "INSERT INTO current_versions (kind, scope, item, version) VALUES (?, ?, ?, 1)",
                    [item.kind, item.scope, item.name],
                )
                return 1
            # The WHERE on the old version makes this the compare-and-swap: a concurrent session of this process
            # that moved the pointer first makes DuckDB raise a write conflict here.
            updated = self.s.scalar(
                "UPDATE current_versions SET version = ? WHERE kind = ? AND scope = ? AND item = ? AND version = ?",
                [base + 1, item.kind, item.scope, item.name, base],
            )
        except duckdb.Error as exc:
            raise as_conflict(exc, item, base) from None
        if updated != 1:  # cannot happen after the check above inside one transaction; never move on if it does
            raise self._conflict(item, base, self.current(item), describe)
        return base + 1

    @staticmethod
    def _conflict(item: Item, base: int | None, current: int | None, describe: Describe) -> ConflictError:
        if current is None:
            return ConflictError(
                f"{item.label} does not exist in the store; your edit was based on version {base}",
                item=item.label,
                base_version=base,
                current_version=None,
            )
        who = describe(current)
        by = "" if who is None else f" by {who[0]} at {when(who[1])}"
        if base is None:
            message = f"{item.label} already exists (version {current}{by}); your edit would create it anew"
        else:
            message = f"{item.label} was changed to version {current}{by}; your edit was based on version {base}"
        return ConflictError(
            message + ". Reload it and apply your change again.",
            item=item.label,
            base_version=base,
            current_version=current,
        )


def as_conflict(exc: duckdb.Error, item: Item, base: int | None) -> Exception:
    """DuckDB's write-write conflict (another session of this process got there first) as a ConflictError."""
    text = str(exc).lower()
    if "conflict" in text or "duplicate key" in text:
        return ConflictError(
            f"{item.label} is being changed by another session at the same moment; your edit was "
            f"based on version {base}. Reload it and apply your change again.",
            item=item.label,
            base_version=base,
            current_version=None,
        )
    return exc


class Validator(Protocol):
    """Raises ValidationError when the exercise, with ``replacing`` or ``body`` applied, is not a valid rule file."""

    def __call__(
        self, s: Session, exercise: str, *, replacing: Constraint | None = None, body: dict[str, Any] | None = None
    ) -> None: ...


def _accept(
    s: Session, exercise: str, *, replacing: Constraint | None = None, body: dict[str, Any] | None = None
) -> None:
    del s, exercise, replacing, body  # a repository built without the facade checks nothing


class VersionedRepository(Generic[V]):
    """Append-only versions of one kind of item in one table.

    A subclass sets ``kind``, ``table`` (the version rows), ``key_columns`` (the columns of ``table`` that
    name one item, e.g. ``("exercise", "constraint_id")``), ``columns`` (what :meth:`_row` reads, from the
    table aliased ``t``) and implements :meth:`_row`; its public methods name items their own way and call
    :meth:`_get`, :meth:`_history`, :meth:`_append` and :meth:`_revert_base`.
    """

    kind: ClassVar[Kind]
    table: ClassVar[str]
    key_columns: ClassVar[tuple[str, ...]]
    columns: ClassVar[str]

    def __init__(self, session: Session, validate: Validator | None = None):
        self.s = session
        self.pointers = Pointers(session)
        # how an edit is checked before it is committed (store.validation, handed in by the Store facade so
        # that the repositories and the validation, which reads them, do not import each other)
        self.validate: Validator = validate or _accept

    # ------------------------------------------------------------------ what a repository supplies

    @staticmethod
    def _row(r: tuple[Any, ...]) -> V:
        raise NotImplementedError

    # ------------------------------------------------------------------ what every repository shares

    def _where(self) -> str:
        return " AND ".join(f"t.{c} = ?" for c in self.key_columns)

    def _get(self, item: Item, key: Sequence[object], version: int | None, missing: str | None = None) -> V:
        """Version ``version`` (None: the current one) of the item named by ``key`` (values of key_columns)."""
        version = self.pointers.require(item) if version is None else version
        row = self.s.one(
            f"SELECT {self.columns} FROM {self.table} t WHERE {self._where()} AND t.version = ?", [*key, version]
        )
        if row is None:
            raise StoreError(f"{missing or item.label} has no version {version}")
        return self._row(row)

    def _history(self, key: Sequence[object]) -> list[V]:
        rows = self.s.all(f"SELECT {self.columns} FROM {self.table} t WHERE {self._where()} ORDER BY t.version", key)
        return [self._row(r) for r in rows]

    def _describe(self, key: Sequence[object]) -> Describe:
        def describe(version: int) -> tuple[str, datetime] | None:
            row = self.s.one(
                f"SELECT t.author, t.created_at FROM {self.table} t WHERE {self._where()} AND t.version = ?",
                [*key, version],
            )
            return None if row is None else (str(row[0]), row[1])

        return describe

    def _revert_base(self, item: Item, base_version: int | None) -> int:
        return self.pointers.require(item) if base_version is None else base_version

    def _append(self, item: Item, key: Sequence[object], base: int | None, values: Mapping[str, object]) -> int:
        """Move the item's pointer from ``base`` and insert the new version row: ``key`` (values of
        key_columns) and ``values`` (the other columns, author and note among them) plus version, time and
        parent. Returns the new version; must run inside a transaction."""
        version = self.pointers.advance(item, base, self._describe(key))
        row = {
            **dict(zip(self.key_columns, key, strict=True)),
            "version": version,
            **values,
            "created_at": utc_now(),
            "parent_version": base,
        }
        marks = ", ".join("?" for _ in row)
        try:
            self.s.execute(f"INSERT INTO {self.table} ({', '.join(row)}) VALUES ({marks})", list(row.values()))
        except duckdb.Error as exc:
            raise as_conflict(exc, item, base) from None
        return version


__all__ = [
    "Describe",
    "Item",
    "Kind",
    "Pointers",
    "Status",
    "VersionedRepository",
    "as_conflict",
    "revert_note",
    "when",
]
