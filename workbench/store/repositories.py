"""Typed repositories over a store session.

Versioned items (an exercise's rules body, its reference trajectory, each threshold, each salient-joint
label) are append-only: an edit inserts a new version row carrying its author, note, time and parent
version, and moves the item's pointer in ``current_versions`` — in one transaction. Every edit names the
version it was based on; the pointer moves only if that is still the current version (compare-and-swap),
otherwise :class:`ConflictError` says who changed it to what, and nothing changes. A revert is an edit
whose content is an old version's, so history only grows.

Use them through :meth:`Database.store`::

    with db.store() as store:
        current = store.thresholds.get("squat", "knee_depth")
        store.thresholds.edit("squat", "knee_depth", base_version=current.version, author="alice",
                              note="deeper squats for this group", bounds_deg=(100.0, None))
"""

from __future__ import annotations

import hashlib
import io
import json
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, fields, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

import duckdb
import numpy as np

from workbench.exercises.catalogue import Reference
from workbench.pose.landmarks import LandmarkTrack
from workbench.pose.track import PoseTrack
from workbench.skeleton import DOF_NAMES, JOINT_NAMES
from workbench.store.database import ConflictError, Session, StoreError, ValidationError, utc_now
from workbench.store.rules import (
    FloatArray,
    ThresholdSpec,
    canonical_json,
    rule_dict,
    trajectory_problems,
    validate_rules,
)

Kind = Literal["rules", "reference", "threshold", "label"]
JointClass = Literal["static", "dynamic"]
JointClassSource = Literal["paper", "llm", "expert"]
Status = Literal["proposed", "accepted", "rejected"]
RunStatus = Literal["running", "succeeded", "failed"]


def _when(at: datetime) -> str:
    return at.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


# ---------------------------------------------------------------------------------------------- pointers


@dataclass(frozen=True)
class _Item:
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


# The author and time of one version of an item, for conflict messages.
Describe = Callable[[int], tuple[str, datetime] | None]


class _Pointers:
    """The current-version pointers and the compare-and-swap every edit goes through."""

    def __init__(self, session: Session):
        self.s = session

    def current(self, item: _Item) -> int | None:
        value = self.s.scalar(
            "SELECT version FROM current_versions WHERE kind = ? AND scope = ? AND item = ?",
            [item.kind, item.scope, item.name],
        )
        return None if value is None else int(value)

    def require(self, item: _Item) -> int:
        version = self.current(item)
        if version is None:
            raise StoreError(f"{item.label} does not exist in the store")
        return version

    def advance(self, item: _Item, base: int | None, describe: Describe) -> int:
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
            raise _as_conflict(exc, item, base) from None
        if updated != 1:  # cannot happen after the check above inside one transaction; never move on if it does
            raise self._conflict(item, base, self.current(item), describe)
        return base + 1

    @staticmethod
    def _conflict(item: _Item, base: int | None, current: int | None, describe: Describe) -> ConflictError:
        if current is None:
            return ConflictError(
                f"{item.label} does not exist in the store; your edit was based on version {base}",
                item=item.label,
                base_version=base,
                current_version=None,
            )
        who = describe(current)
        by = "" if who is None else f" by {who[0]} at {_when(who[1])}"
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


def _as_conflict(exc: duckdb.Error, item: _Item, base: int | None) -> Exception:
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


def _insert_guarded(s: Session, item: _Item, base: int | None, sql: str, params: Sequence[object]) -> None:
    try:
        s.execute(sql, params)
    except duckdb.Error as exc:
        raise _as_conflict(exc, item, base) from None


# ---------------------------------------------------------------------------------------------- exercises


class ExerciseRepository:
    """The registry of exercise keys (the base keys of the rule files)."""

    def __init__(self, session: Session):
        self.s = session

    def all_keys(self) -> list[str]:
        return [str(r[0]) for r in self.s.all("SELECT key FROM exercises ORDER BY key")]

    def exists(self, key: str) -> bool:
        return bool(self.s.scalar("SELECT count(*) FROM exercises WHERE key = ?", [key]))

    def require(self, key: str) -> None:
        if not self.exists(key):
            raise StoreError(f"exercise {key!r} is not in the store; expected one of: {', '.join(self.all_keys())}")

    def create(self, key: str, *, author: str) -> None:
        self.s.execute("INSERT INTO exercises (key, created_by, created_at) VALUES (?, ?, ?)", [key, author, utc_now()])


# ---------------------------------------------------------------------------------------------- rules bodies


@dataclass(frozen=True)
class RulesVersion:
    """An exercise's rules apart from joint classes and thresholds (cycle, key frames, sources, …)."""

    exercise: str
    body: dict[str, Any]
    version: int
    author: str
    note: str
    created_at: datetime
    parent_version: int | None


class RuleRepository:
    def __init__(self, session: Session):
        self.s = session
        self.pointers = _Pointers(session)

    def get(self, exercise: str, version: int | None = None) -> RulesVersion:
        item = _Item("rules", exercise, "rules")
        version = self.pointers.require(item) if version is None else version
        row = self.s.one(
            "SELECT exercise, body_json, version, author, note, created_at, parent_version "
            "FROM rule_versions WHERE exercise = ? AND version = ?",
            [exercise, version],
        )
        if row is None:
            raise StoreError(f"{item.label} has no version {version}")
        return _rules_row(row)

    def history(self, exercise: str) -> list[RulesVersion]:
        rows = self.s.all(
            "SELECT exercise, body_json, version, author, note, created_at, parent_version "
            "FROM rule_versions WHERE exercise = ? ORDER BY version",
            [exercise],
        )
        return [_rules_row(r) for r in rows]

    def save(
        self,
        exercise: str,
        body: Mapping[str, Any],
        *,
        base_version: int | None,
        author: str,
        note: str,
        validate: bool = True,
    ) -> RulesVersion:
        """A new version, unless the body equals the current one (then the current version is returned).
        With ``validate``, the exercise as it would then read (with its thresholds) is checked first."""
        with self.s.transaction():
            if self.pointers.current(_Item("rules", exercise, "rules")) is not None:
                current = self.get(exercise)
                if canonical_json(current.body) == canonical_json(dict(body)):
                    return current
            if validate:
                validate_exercise(self.s, exercise, body=dict(body))
            return self._append(exercise, dict(body), base_version, author, note)

    def revert(
        self, exercise: str, to_version: int, *, author: str, note: str = "", base_version: int | None = None
    ) -> RulesVersion:
        with self.s.transaction():
            old = self.get(exercise, to_version)
            base = self.pointers.require(_Item("rules", exercise, "rules")) if base_version is None else base_version
            validate_exercise(self.s, exercise, body=old.body)  # today's thresholds may need what it lacks
            return self._append(exercise, old.body, base, author, _revert_note(to_version, note))

    def diff(self, exercise: str, v1: int, v2: int) -> dict[str, tuple[Any, Any]]:
        """Top-level fields whose value differs: ``{field: (value at v1, value at v2)}``."""
        a, b = self.get(exercise, v1).body, self.get(exercise, v2).body
        return {k: (a.get(k), b.get(k)) for k in sorted(set(a) | set(b)) if a.get(k) != b.get(k)}

    def _append(self, exercise: str, body: dict[str, Any], base: int | None, author: str, note: str) -> RulesVersion:
        item = _Item("rules", exercise, "rules")
        version = self.pointers.advance(item, base, self._describe(exercise))
        _insert_guarded(
            self.s,
            item,
            base,
            "INSERT INTO rule_versions (exercise, version, body_json, author, note, created_at, "
            "parent_version) VALUES (?, ?, ?, ?, ?, ?, ?)",
            [exercise, version, canonical_json(body), author, note, utc_now(), base],
        )
        return self.get(exercise, version)

    def _describe(self, exercise: str) -> Describe:
        return lambda v: _author_and_time(
            self.s, "SELECT author, created_at FROM rule_versions WHERE exercise = ? AND version = ?", [exercise, v]
        )


def _rules_row(row: tuple[Any, ...]) -> RulesVersion:
    return RulesVersion(
        exercise=row[0],
        body=json.loads(row[1]),
        version=int(row[2]),
        author=row[3],
        note=row[4],
        created_at=row[5],
        parent_version=row[6],
    )


def _author_and_time(s: Session, sql: str, params: Sequence[object]) -> tuple[str, datetime] | None:
    row = s.one(sql, params)
    return None if row is None else (str(row[0]), row[1])


def _revert_note(to_version: int, note: str) -> str:
    return f"revert to version {to_version}" + (f": {note}" if note else "")


# ---------------------------------------------------------------------------------------------- thresholds


@dataclass(frozen=True)
class ThresholdVersion:
    exercise: str
    spec: ThresholdSpec
    version: int
    author: str
    note: str
    created_at: datetime
    parent_version: int | None

    @property
    def constraint_id(self) -> str:
        return self.spec.id


_THRESHOLD_COLUMNS = (
    "t.exercise, t.constraint_id, t.version, t.active, t.position, t.dof, t.kind, t.sidedness, t.key_frame, "
    "t.bound_low_deg, t.bound_high_deg, t.tolerance_low_deg, t.tolerance_high_deg, t.max_std_deg, t.max_diff_deg, "
    "t.requires_motion_deg, t.issue_low, t.issue_high, t.cue_low, t.cue_high, t.source, t.author, t.note, "
    "t.created_at, t.parent_version"
)
_THRESHOLD_INSERT = (
    "INSERT INTO threshold_versions (exercise, constraint_id, version, active, position, dof, kind, sidedness, "
    "key_frame, bound_low_deg, bound_high_deg, tolerance_low_deg, tolerance_high_deg, max_std_deg, max_diff_deg, "
    "requires_motion_deg, issue_low, issue_high, cue_low, cue_high, source, author, note, created_at, parent_version) "
    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
)
_CURRENT_THRESHOLDS = (
    f"SELECT {_THRESHOLD_COLUMNS} FROM threshold_versions t JOIN current_versions c ON c.kind = 'threshold' "
    "AND c.scope = t.exercise AND c.item = t.constraint_id AND c.version = t.version WHERE t.exercise = ? "
    "ORDER BY t.position, t.constraint_id"
)


class ThresholdRepository:
    """One versioned row per constraint of a rule file (before both_sides mirroring)."""

    def __init__(self, session: Session):
        self.s = session
        self.pointers = _Pointers(session)

    def current(self, exercise: str, *, include_removed: bool = False) -> list[ThresholdVersion]:
        rows = [_threshold_row(r) for r in self.s.all(_CURRENT_THRESHOLDS, [exercise])]
        return rows if include_removed else [r for r in rows if r.spec.active]

    def get(self, exercise: str, constraint_id: str, version: int | None = None) -> ThresholdVersion:
        item = _Item("threshold", exercise, constraint_id)
        version = self.pointers.require(item) if version is None else version
        row = self.s.one(
            f"SELECT {_THRESHOLD_COLUMNS} FROM threshold_versions t WHERE t.exercise = ? "
            "AND t.constraint_id = ? AND t.version = ?",
            [exercise, constraint_id, version],
        )
        if row is None:
            raise StoreError(f"{item.label} has no version {version}")
        return _threshold_row(row)

    def history(self, exercise: str, constraint_id: str) -> list[ThresholdVersion]:
        rows = self.s.all(
            f"SELECT {_THRESHOLD_COLUMNS} FROM threshold_versions t WHERE t.exercise = ? "
            "AND t.constraint_id = ? ORDER BY t.version",
            [exercise, constraint_id],
        )
        return [_threshold_row(r) for r in rows]

    def edit(
        self, exercise: str, constraint_id: str, *, base_version: int, author: str, note: str, **changes: Any
    ) -> ThresholdVersion:
        """Change some fields of a constraint (``bounds_deg=(100.0, None)``, ``max_std_deg=4.0``, …)."""
        allowed = {f.name for f in fields(ThresholdSpec)} - {"id"}
        unknown = sorted(set(changes) - allowed)
        if unknown:
            raise ValidationError(
                f"threshold {exercise}/{constraint_id}: expected fields among "
                f"{', '.join(sorted(allowed))}, got {', '.join(unknown)}"
            )
        with self.s.transaction():
            spec = replace(self.get(exercise, constraint_id, base_version).spec, **changes)
            return self.save(exercise, spec, base_version=base_version, author=author, note=note)

    def save(
        self,
        exercise: str,
        spec: ThresholdSpec,
        *,
        base_version: int | None,
        author: str,
        note: str,
        validate: bool = True,
    ) -> ThresholdVersion:
        """Write ``spec`` as the next version (``base_version`` None: a new constraint), unless it equals the
        current one (then the current version is returned). With ``validate``, the exercise as it would then
        read is checked first, so the store never holds rules the analysis rejects."""
        spec = _normalised(spec, f"threshold {exercise}/{spec.id}")
        with self.s.transaction():
            if self.pointers.current(_Item("threshold", exercise, spec.id)) is not None:
                current = self.get(exercise, spec.id)
                if current.spec == spec:
                    return current
            if validate:
                validate_exercise(self.s, exercise, replacing=spec)
            return self._append(exercise, spec, base_version, author, note)

    def remove(
        self, exercise: str, constraint_id: str, *, base_version: int, author: str, note: str
    ) -> ThresholdVersion:
        """Take a constraint out of the exercise — as a new version, so a revert brings it back."""
        return self.edit(exercise, constraint_id, base_version=base_version, author=author, note=note, active=False)

    def revert(
        self,
        exercise: str,
        constraint_id: str,
        to_version: int,
        *,
        author: str,
        note: str = "",
        base_version: int | None = None,
    ) -> ThresholdVersion:
        with self.s.transaction():
            old = self.get(exercise, constraint_id, to_version)
            base = (
                self.pointers.require(_Item("threshold", exercise, constraint_id))
                if base_version is None
                else base_version
            )
            validate_exercise(self.s, exercise, replacing=old.spec)  # a key frame it names may have gone since
            return self._append(exercise, old.spec, base, author, _revert_note(to_version, note))

    def diff(self, exercise: str, constraint_id: str, v1: int, v2: int) -> dict[str, tuple[Any, Any]]:
        """Fields that differ: ``{field: (value at v1, value at v2)}``."""
        a, b = self.get(exercise, constraint_id, v1), self.get(exercise, constraint_id, v2)
        return b.spec.changes_from(a.spec)

    def _append(self, exercise: str, spec: ThresholdSpec, base: int | None, author: str, note: str) -> ThresholdVersion:
        item = _Item("threshold", exercise, spec.id)
        version = self.pointers.advance(item, base, self._describe(exercise, spec.id))
        lo, hi = spec.bounds_deg or (None, None)
        tlo, thi = spec.tolerance_deg or (None, None)
        params = [
            exercise,
            spec.id,
            version,
            spec.active,
            spec.position,
            spec.dof,
            spec.kind,
            spec.sidedness,
            spec.key_frame,
            lo,
            hi,
            tlo,
            thi,
            spec.max_std_deg,
            spec.max_diff_deg,
            spec.requires_motion_deg,
            spec.issue_low,
            spec.issue_high,
            spec.cue_low,
            spec.cue_high,
            spec.source,
            author,
            note,
            utc_now(),
            base,
        ]
        _insert_guarded(self.s, item, base, _THRESHOLD_INSERT, params)
        return self.get(exercise, spec.id, version)

    def _describe(self, exercise: str, constraint_id: str) -> Describe:
        return lambda v: _author_and_time(
            self.s,
            "SELECT author, created_at FROM threshold_versions WHERE exercise = ? "
            "AND constraint_id = ? AND version = ?",
            [exercise, constraint_id, v],
        )


def _normalised(spec: ThresholdSpec, where: str) -> ThresholdSpec:
    """Numbers as floats and pairs as tuples, so an edit given ints compares equal to what the store reads back."""

    def num(v: Any) -> float | None:
        return None if v is None else float(v)

    def pair(p: Any) -> tuple[float | None, float | None] | None:
        if p is None:
            return None
        if not isinstance(p, list | tuple) or len(p) != 2:
            raise ValueError(f"expected (low, high), got {p!r}")
        return (num(p[0]), num(p[1]))

    try:
        return replace(
            spec,
            bounds_deg=pair(spec.bounds_deg),
            tolerance_deg=pair(spec.tolerance_deg),
            max_std_deg=num(spec.max_std_deg),
            max_diff_deg=num(spec.max_diff_deg),
            requires_motion_deg=num(spec.requires_motion_deg),
        )
    except (TypeError, ValueError) as exc:
        raise ValidationError(f"{where}: expected numbers in degrees for bounds and limits, got {exc}") from None


def _pair_of(lo: float | None, hi: float | None) -> tuple[float | None, float | None] | None:
    return None if lo is None and hi is None else (lo, hi)


def _threshold_row(r: tuple[Any, ...]) -> ThresholdVersion:
    spec = ThresholdSpec(
        id=r[1],
        active=bool(r[3]),
        position=int(r[4]),
        dof=r[5],
        kind=r[6],
        sidedness=r[7],
        key_frame=r[8],
        bounds_deg=_pair_of(r[9], r[10]),
        tolerance_deg=_pair_of(r[11], r[12]),
        max_std_deg=r[13],
        max_diff_deg=r[14],
        requires_motion_deg=r[15],
        issue_low=r[16],
        issue_high=r[17],
        cue_low=r[18],
        cue_high=r[19],
        source=r[20],
    )
    return ThresholdVersion(
        exercise=r[0], spec=spec, version=int(r[2]), author=r[21], note=r[22], created_at=r[23], parent_version=r[24]
    )


# ---------------------------------------------------------------------------------------------- references


@dataclass(frozen=True, eq=False)
class ReferenceVersion:
    """A reference cycle: ``mean`` and ``sd`` (the envelope) are (46, N_ref) radians."""

    exercise: str
    mean: FloatArray
    sd: FloatArray
    digest: str
    version: int
    author: str
    note: str
    created_at: datetime
    parent_version: int | None

    @property
    def version_id(self) -> str:
        return f"store:{self.exercise}@v{self.version}"

    def as_reference(self) -> Reference:
        """The catalogue's Reference, its version naming this store version (for the analysis provenance)."""
        return Reference(mean=self.mean, sd=self.sd, version=self.version_id)


@dataclass(frozen=True)
class ReferenceDiff:
    """Largest absolute change per DoF between two versions, degrees (only DoFs that changed)."""

    exercise: str
    v1: int
    v2: int
    n_samples: tuple[int, int]
    mean_max_abs_deg: dict[str, float]
    sd_max_abs_deg: dict[str, float]


_REFERENCE_COLUMNS = (
    "exercise, version, n_dofs, n_samples, mean_f64, sd_f64, digest, author, note, created_at, parent_version"
)


class ReferenceRepository:
    def __init__(self, session: Session):
        self.s = session
        self.pointers = _Pointers(session)

    def current(self, exercise: str) -> ReferenceVersion | None:
        version = self.pointers.current(_Item("reference", exercise, "reference"))
        return None if version is None else self.get(exercise, version)

    def get(self, exercise: str, version: int | None = None) -> ReferenceVersion:
        item = _Item("reference", exercise, "reference")
        version = self.pointers.require(item) if version is None else version
        row = self.s.one(
            f"SELECT {_REFERENCE_COLUMNS} FROM reference_versions WHERE exercise = ? AND version = ?",
            [exercise, version],
        )
        if row is None:
            raise StoreError(f"{item.label} has no version {version}")
        return _reference_row(row)

    def history(self, exercise: str) -> list[ReferenceVersion]:
        rows = self.s.all(
            f"SELECT {_REFERENCE_COLUMNS} FROM reference_versions WHERE exercise = ? ORDER BY version", [exercise]
        )
        return [_reference_row(r) for r in rows]

    def save(
        self, exercise: str, mean: FloatArray, sd: FloatArray, *, base_version: int | None, author: str, note: str
    ) -> ReferenceVersion:
        """A new version, unless the arrays equal the current ones (then the current version is returned)."""
        mean, sd = _f64(mean), _f64(sd)
        problems = trajectory_problems(mean, sd, f"reference {exercise} mean", f"reference {exercise} sd")
        if problems:
            raise ValidationError("\n".join(problems))
        digest = reference_digest(mean, sd)
        with self.s.transaction():
            current = self.current(exercise)
            if current is not None and current.digest == digest:
                return current
            return self._append(exercise, mean, sd, digest, base_version, author, note)

    def revert(
        self, exercise: str, to_version: int, *, author: str, note: str = "", base_version: int | None = None
    ) -> ReferenceVersion:
        with self.s.transaction():
            old = self.get(exercise, to_version)
            base = (
                self.pointers.require(_Item("reference", exercise, "reference"))
                if base_version is None
                else base_version
            )
            return self._append(exercise, old.mean, old.sd, old.digest, base, author, _revert_note(to_version, note))

    def diff(self, exercise: str, v1: int, v2: int) -> ReferenceDiff:
        """Max |Δ| per DoF in degrees; cycles of different lengths are compared on a common phase grid."""
        a, b = self.get(exercise, v1), self.get(exercise, v2)
        n = max(a.mean.shape[1], b.mean.shape[1])
        return ReferenceDiff(
            exercise=exercise,
            v1=v1,
            v2=v2,
            n_samples=(a.mean.shape[1], b.mean.shape[1]),
            mean_max_abs_deg=_max_abs_deg(_on_grid(a.mean, n), _on_grid(b.mean, n)),
            sd_max_abs_deg=_max_abs_deg(_on_grid(a.sd, n), _on_grid(b.sd, n)),
        )

    def _append(
        self, exercise: str, mean: FloatArray, sd: FloatArray, digest: str, base: int | None, author: str, note: str
    ) -> ReferenceVersion:
        item = _Item("reference", exercise, "reference")
        version = self.pointers.advance(item, base, self._describe(exercise))
        _insert_guarded(
            self.s,
            item,
            base,
            f"INSERT INTO reference_versions ({_REFERENCE_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [
                exercise,
                version,
                mean.shape[0],
                mean.shape[1],
                _blob(mean),
                _blob(sd),
                digest,
                author,
                note,
                utc_now(),
                base,
            ],
        )
        return self.get(exercise, version)

    def _describe(self, exercise: str) -> Describe:
        return lambda v: _author_and_time(
            self.s,
            "SELECT author, created_at FROM reference_versions WHERE exercise = ? AND version = ?",
            [exercise, v],
        )


def _f64(array: FloatArray) -> FloatArray:
    return np.ascontiguousarray(array, dtype="<f8")


def _blob(array: FloatArray) -> bytes:
    return _f64(array).tobytes(order="C")


def _from_blob(blob: bytes, shape: tuple[int, int]) -> FloatArray:
    return np.frombuffer(blob, dtype="<f8").reshape(shape).astype(np.float64)


def reference_digest(mean: FloatArray, sd: FloatArray) -> str:
    h = hashlib.sha256()
    for array in (mean, sd):
        h.update(repr(array.shape).encode())
        h.update(_blob(array))
    return h.hexdigest()


def _reference_row(r: tuple[Any, ...]) -> ReferenceVersion:
    shape = (int(r[2]), int(r[3]))
    return ReferenceVersion(
        exercise=r[0],
        version=int(r[1]),
        mean=_from_blob(r[4], shape),
        sd=_from_blob(r[5], shape),
        digest=r[6],
        author=r[7],
        note=r[8],
        created_at=r[9],
        parent_version=r[10],
    )


def _on_grid(array: FloatArray, n: int) -> FloatArray:
    if array.shape[1] == n:
        return array
    old, new = np.linspace(0.0, 1.0, array.shape[1]), np.linspace(0.0, 1.0, n)
    return np.vstack([np.interp(new, old, row) for row in array])


def _max_abs_deg(a: FloatArray, b: FloatArray) -> dict[str, float]:
    delta = np.degrees(np.abs(b - a).max(axis=1))
    return {name: float(d) for name, d in zip(DOF_NAMES, delta, strict=True) if d > 0}


# ---------------------------------------------------------------------------------------------- joint classes


@dataclass(frozen=True)
class JointClassDecision:
    id: int
    exercise: str
    joint: str
    joint_class: JointClass
    source: JointClassSource
    status: Status
    position: int
    who: str
    created_at: datetime
    note: str


_JOINT_CLASS_COLUMNS = "id, exercise, joint, joint_class, source, status, position, who, created_at, note"


class JointClassRepository:
    """Which joints of an exercise are dynamic and which static: append-only decisions about (joint, class)
    pairs. A proposal (from a paper, an LLM or an expert) counts once a reviewer accepts it."""

    def __init__(self, session: Session):
        self.s = session

    def current(self, exercise: str) -> tuple[tuple[str, ...], tuple[str, ...]]:
        """(dynamic joints, static joints), each in its list order."""
        rows = self.s.all(
            "SELECT joint, joint_class FROM (SELECT joint, joint_class, status, position, row_number() OVER "
            "(PARTITION BY joint, joint_class ORDER BY id DESC) AS latest FROM joint_classes "
            "WHERE exercise = ? AND status <> 'proposed') WHERE latest = 1 AND status = 'accepted' "
            "ORDER BY position, joint",
            [exercise],
        )
        return (tuple(j for j, c in rows if c == "dynamic"), tuple(j for j, c in rows if c == "static"))

    def history(self, exercise: str) -> list[JointClassDecision]:
        rows = self.s.all(
            f"SELECT {_JOINT_CLASS_COLUMNS} FROM joint_classes WHERE exercise = ? ORDER BY id", [exercise]
        )
        return [JointClassDecision(*r) for r in rows]

    def propose(
        self, exercise: str, joint: str, joint_class: JointClass, *, source: JointClassSource, who: str, note: str = ""
    ) -> JointClassDecision:
        _check_joints([joint], f"joint class {exercise}/{joint}")
        return self._insert(exercise, joint, joint_class, source, "proposed", self._next_position(exercise), who, note)

    def review(
        self, decision_id: int, *, status: Literal["accepted", "rejected"], who: str, note: str = ""
    ) -> JointClassDecision:
        """Accept or reject a proposal. Accepting one class of a joint rejects the other (a joint is one or
        the other), in the same transaction."""
        row = self.s.one(f"SELECT {_JOINT_CLASS_COLUMNS} FROM joint_classes WHERE id = ?", [decision_id])
        if row is None:
            raise StoreError(f"joint class decision {decision_id} does not exist")
        p = JointClassDecision(*row)
        with self.s.transaction():
            if status == "accepted":
                other: JointClass = "static" if p.joint_class == "dynamic" else "dynamic"
                if p.joint in self.current(p.exercise)[0 if other == "dynamic" else 1]:
                    self._insert(
                        p.exercise,
                        p.joint,
                        other,
                        p.source,
                        "rejected",
                        p.position,
                        who,
                        f"superseded by decision {decision_id}",
                    )
            return self._insert(p.exercise, p.joint, p.joint_class, p.source, status, p.position, who, note)

    def set_lists(
        self,
        exercise: str,
        dynamic: Sequence[str],
        static: Sequence[str],
        *,
        source: JointClassSource,
        who: str,
        note: str,
    ) -> int:
        """Make the accepted lists equal ``dynamic`` and ``static`` (as a rule file states them), writing a
        decision only for pairs that change; returns how many decisions were written."""
        _check_joints([*dynamic, *static], f"joint classes of {exercise}")
        wanted = _positions(dynamic, static)
        have = _positions(*self.current(exercise))
        written = 0
        with self.s.transaction():
            for (joint, cls), position in sorted(wanted.items(), key=lambda kv: (kv[0][1], kv[1])):
                if have.get((joint, cls)) != position:
                    self._insert(exercise, joint, cls, source, "accepted", position, who, note)
                    written += 1
            for (joint, cls), position in sorted(have.items()):
                if (joint, cls) not in wanted:
                    self._insert(exercise, joint, cls, source, "rejected", position, who, note)
                    written += 1
        return written

    def _next_position(self, exercise: str) -> int:
        return int(
            self.s.scalar("SELECT coalesce(max(position) + 1, 0) FROM joint_classes WHERE exercise = ?", [exercise])
        )

    def _insert(
        self,
        exercise: str,
        joint: str,
        joint_class: JointClass,
        source: JointClassSource,
        status: Status,
        position: int,
        who: str,
        note: str,
    ) -> JointClassDecision:
        row = self.s.one(
            "INSERT INTO joint_classes (exercise, joint, joint_class, source, status, position, who, created_at, note) "
            f"VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING {_JOINT_CLASS_COLUMNS}",
            [exercise, joint, joint_class, source, status, position, who, utc_now(), note],
        )
        assert row is not None
        return JointClassDecision(*row)


def _positions(dynamic: Sequence[str], static: Sequence[str]) -> dict[tuple[str, JointClass], int]:
    """{(joint, class): position in its list}."""
    out: dict[tuple[str, JointClass], int] = {(j, "dynamic"): i for i, j in enumerate(dynamic)}
    return out | {(j, "static"): i for i, j in enumerate(static)}


def _check_joints(joints: Sequence[str], where: str) -> None:
    bad = [j for j in joints if j not in JOINT_NAMES]
    if bad:
        raise ValidationError(f"{where}: expected SKEL joint names (e.g. tibia_r), got {bad}")


# ---------------------------------------------------------------------------------------------- labels


@dataclass(frozen=True)
class SalientLabel:
    """The salient joints of a clip (``segment_s`` None) or of a segment of it, with its review state."""

    label_id: int
    clip_hash: str
    exercise: str | None
    segment_s: tuple[float, float] | None
    joints: tuple[str, ...]
    proposer: str
    reviewer: str | None
    status: Status
    version: int
    author: str
    note: str
    created_at: datetime
    parent_version: int | None

    def changes_from(self, other: SalientLabel) -> dict[str, tuple[Any, Any]]:
        keys = ("exercise", "segment_s", "joints", "proposer", "reviewer", "status")
        return {k: (getattr(other, k), getattr(self, k)) for k in keys if getattr(other, k) != getattr(self, k)}


_LABEL_COLUMNS = (
    "label_id, version, clip_hash, exercise, segment_start_s, segment_end_s, joints_json, proposer, "
    "reviewer, status, author, note, created_at, parent_version"
)


class LabelRepository:
    def __init__(self, session: Session):
        self.s = session
        self.pointers = _Pointers(session)

    def propose(
        self,
        clip_hash: str,
        joints: Sequence[str],
        *,
        proposer: str,
        exercise: str | None = None,
        segment_s: tuple[float, float] | None = None,
        note: str = "",
    ) -> SalientLabel:
        label_id = int(self.s.scalar("SELECT nextval('label_ids')"))
        draft = SalientLabel(
            label_id,
            clip_hash,
            exercise,
            segment_s,
            tuple(joints),
            proposer,
            None,
            "proposed",
            0,
            proposer,
            note,
            utc_now(),
            None,
        )
        with self.s.transaction():
            return self._append(draft, None)

    def get(self, label_id: int, version: int | None = None) -> SalientLabel:
        version = self.pointers.require(self._item(label_id)) if version is None else version
        row = self.s.one(
            f"SELECT {_LABEL_COLUMNS} FROM label_versions WHERE label_id = ? AND version = ?", [label_id, version]
        )
        if row is None:
            raise StoreError(f"label {label_id} has no version {version}")
        return _label_row(row)

    def history(self, label_id: int) -> list[SalientLabel]:
        rows = self.s.all(
            f"SELECT {_LABEL_COLUMNS} FROM label_versions WHERE label_id = ? ORDER BY version", [label_id]
        )
        return [_label_row(r) for r in rows]

    def for_clip(self, clip_hash: str) -> list[SalientLabel]:
        """The current version of every label of a clip."""
        rows = self.s.all(
            f"SELECT {', '.join('l.' + c.strip() for c in _LABEL_COLUMNS.split(','))} "
            "FROM label_versions l JOIN current_versions c ON c.kind = 'label' "
            "AND c.scope = l.clip_hash AND c.item = CAST(l.label_id AS VARCHAR) AND c.version = l.version "
            "WHERE l.clip_hash = ? ORDER BY l.label_id",
            [clip_hash],
        )
        return [_label_row(r) for r in rows]

    def review(
        self,
        label_id: int,
        *,
        status: Literal["accepted", "rejected"],
        reviewer: str,
        base_version: int,
        note: str = "",
    ) -> SalientLabel:
        with self.s.transaction():
            old = self.get(label_id, base_version)
            new = replace(old, status=status, reviewer=reviewer, author=reviewer, note=note)
            return self._append(new, base_version)

    def edit(
        self,
        label_id: int,
        *,
        base_version: int,
        author: str,
        note: str,
        joints: Sequence[str] | None = None,
        segment_s: tuple[float, float] | None = None,
    ) -> SalientLabel:
        """Change the joints or segment; the label goes back to 'proposed' until it is reviewed again."""
        with self.s.transaction():
            old = self.get(label_id, base_version)
            new = replace(
                old,
                joints=old.joints if joints is None else tuple(joints),
                segment_s=old.segment_s if segment_s is None else segment_s,
                status="proposed",
                reviewer=None,
                author=author,
                note=note,
            )
            return self._append(new, base_version)

    def revert(
        self, label_id: int, to_version: int, *, author: str, note: str = "", base_version: int | None = None
    ) -> SalientLabel:
        with self.s.transaction():
            old = self.get(label_id, to_version)
            base = self.pointers.require(self._item(label_id)) if base_version is None else base_version
            return self._append(replace(old, author=author, note=_revert_note(to_version, note)), base)

    def diff(self, label_id: int, v1: int, v2: int) -> dict[str, tuple[Any, Any]]:
        return self.get(label_id, v2).changes_from(self.get(label_id, v1))

    def _item(self, label_id: int) -> _Item:
        clip = self.s.scalar("SELECT any_value(clip_hash) FROM label_versions WHERE label_id = ?", [label_id])
        if clip is None:
            raise StoreError(f"label {label_id} does not exist in the store")
        return _Item("label", str(clip), str(label_id))

    def _append(self, label: SalientLabel, base: int | None) -> SalientLabel:
        _check_joints(label.joints, f"label {label.label_id}")
        if label.segment_s is not None and not 0 <= label.segment_s[0] < label.segment_s[1]:
            raise ValidationError(
                f"label {label.label_id}: segment_s: expected (start, end) with 0 ≤ start < end "
                f"seconds, got {label.segment_s}"
            )
        item = _Item("label", label.clip_hash, str(label.label_id))
        version = self.pointers.advance(
            item,
            base,
            lambda v: _author_and_time(
                self.s,
                "SELECT author, created_at FROM label_versions WHERE label_id = ? AND version = ?",
                [label.label_id, v],
            ),
        )
        start, end = label.segment_s or (None, None)
        _insert_guarded(
            self.s,
            item,
            base,
            f"INSERT INTO label_versions ({_LABEL_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [
                label.label_id,
                version,
                label.clip_hash,
                label.exercise,
                start,
                end,
                json.dumps(list(label.joints)),
                label.proposer,
                label.reviewer,
                label.status,
                label.author,
                label.note,
                utc_now(),
                base,
            ],
        )
        return self.get(label.label_id, version)


def _label_row(r: tuple[Any, ...]) -> SalientLabel:
    segment = None if r[4] is None else (float(r[4]), float(r[5]))
    return SalientLabel(
        label_id=int(r[0]),
        version=int(r[1]),
        clip_hash=r[2],
        exercise=r[3],
        segment_s=segment,
        joints=tuple(json.loads(r[6])),
        proposer=r[7],
        reviewer=r[8],
        status=r[9],
        author=r[10],
        note=r[11],
        created_at=r[12],
        parent_version=r[13],
    )


# ---------------------------------------------------------------------------------------------- clips and poses


@dataclass(frozen=True)
class Clip:
    content_hash: str
    path: str
    exercise: str | None
    duration_s: float | None
    fps: float | None
    n_bytes: int
    registered_at: datetime


def sha256_file(path: str | Path) -> str:
    """sha256 of a file's bytes, read in chunks (videos can be large)."""
    digest = hashlib.sha256()
    with Path(path).open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


class ClipRepository:
    """Clips by content: the same bytes under another name or folder are the same clip."""

    def __init__(self, session: Session):
        self.s = session

    def register(
        self,
        path: str | Path,
        *,
        exercise: str | None = None,
        duration_s: float | None = None,
        fps: float | None = None,
    ) -> Clip:
        """Register a clip (idempotent); a known clip keeps its first registration, updated with any new
        path, exercise, duration or fps given."""
        path = Path(path)
        if not path.is_file():
            raise StoreError(f"{path}: no such file")
        content_hash = sha256_file(path)
        with self.s.transaction():
            if self.get(content_hash) is None:
                self.s.execute(
                    "INSERT INTO clips (content_hash, path, exercise, duration_s, fps, n_bytes, "
                    "registered_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
                    [content_hash, str(path), exercise, duration_s, fps, path.stat().st_size, utc_now()],
                )
            else:
                self.s.execute(
                    "UPDATE clips SET path = ?, exercise = coalesce(?, exercise), duration_s = "
                    "coalesce(?, duration_s), fps = coalesce(?, fps) WHERE content_hash = ?",
                    [str(path), exercise, duration_s, fps, content_hash],
                )
        clip = self.get(content_hash)
        assert clip is not None
        return clip

    def get(self, content_hash: str) -> Clip | None:
        row = self.s.one(
            "SELECT content_hash, path, exercise, duration_s, fps, n_bytes, registered_at FROM clips "
            "WHERE content_hash = ?",
            [content_hash],
        )
        return None if row is None else Clip(*row)


def canonical_params(params: str | Mapping[str, Any]) -> str:
    """Pose parameters as canonical JSON, so {"a": 1, "b": 2} and {"b": 2, "a": 1} hit the same cache row."""
    if isinstance(params, str):
        try:
            params = json.loads(params)
        except json.JSONDecodeError as exc:
            raise ValidationError(f"params_json: expected a JSON object, got {params!r} ({exc})") from None
    if not isinstance(params, Mapping):
        raise ValidationError(f"params_json: expected a JSON object, got {type(params).__name__}")
    return canonical_json(dict(params))


def track_to_npz(track: PoseTrack) -> bytes:
    """A lossless .npz of a track: the pose-file keys plus ``nominal_fps`` and ``meta`` (t kept exactly)."""
    arrays: dict[str, Any] = {
        "q": track.q,
        "t": track.t,
        "confidence": track.confidence,
        "observed": track.observed,
        "source": np.array(track.source),
        "meta": np.array(json.dumps(track.meta, sort_keys=True)),
    }
    if track.betas is not None:
        arrays["betas"] = track.betas
    if track.nominal_fps is not None:
        arrays["nominal_fps"] = np.array(track.nominal_fps)
    if track.dof_confidence is not None:
        arrays["dof_confidence"] = track.dof_confidence
    return _npz_bytes(arrays)


def _npz_bytes(arrays: dict[str, Any]) -> bytes:
    buffer = io.BytesIO()
    np.savez_compressed(buffer, **arrays)
    return buffer.getvalue()


def _npz_arrays(blob: bytes) -> dict[str, Any]:
    with np.load(io.BytesIO(blob), allow_pickle=False) as data:
        return {k: data[k] for k in data.files}


def track_from_npz(blob: bytes) -> PoseTrack:
    a = _npz_arrays(blob)
    return PoseTrack(
        q=a["q"],
        t=a["t"],
        confidence=a["confidence"],
        observed=a["observed"],
        betas=a.get("betas"),
        source=str(a["source"]),
        meta=json.loads(str(a["meta"])),
        nominal_fps=float(a["nominal_fps"]) if "nominal_fps" in a else None,
        dof_confidence=a.get("dof_confidence"),
    )


def landmarks_to_npz(track: LandmarkTrack) -> bytes:
    arrays: dict[str, Any] = {"world": track.world, "visibility": track.visibility, "t": track.t,
                              "source": np.array(track.source)}  # fmt: skip
    if track.image is not None:
        arrays["image"] = track.image
    if track.image_size is not None:
        arrays["image_size"] = np.array(track.image_size)
    return _npz_bytes(arrays)


def landmarks_from_npz(blob: bytes) -> LandmarkTrack:
    a = _npz_arrays(blob)
    size = tuple(int(v) for v in a["image_size"]) if "image_size" in a else None
    return LandmarkTrack(world=a["world"], visibility=a["visibility"], t=a["t"], image=a.get("image"),
                         image_size=size, source=str(a["source"]))  # type: ignore[arg-type]  # fmt: skip


class PoseCacheRepository:
    """Pose tracks per clip content hash, backend and parameters: re-analysing a clip after a threshold
    edit reads the track here instead of running pose extraction again."""

    def __init__(self, session: Session):
        self.s = session

    def put_pose(
        self,
        clip_hash: str,
        backend: str,
        params_json: str | Mapping[str, Any],
        track: PoseTrack,
        *,
        extract_s: float | None = None,
    ) -> None:
        """Store (or replace) the track; ``extract_s`` is how long extraction took, for the benchmark."""
        self.s.execute(
            "INSERT OR REPLACE INTO pose_tracks (clip_hash, backend, params_json, npz, n_frames, "
            "created_at, extract_s) VALUES (?, ?, ?, ?, ?, ?, ?)",
            [
                clip_hash,
                backend,
                canonical_params(params_json),
                track_to_npz(track),
                track.n_frames,
                utc_now(),
                extract_s,
            ],
        )

    def get_pose(self, clip_hash: str, backend: str, params_json: str | Mapping[str, Any]) -> PoseTrack | None:
        blob = self.s.scalar(
            "SELECT npz FROM pose_tracks WHERE clip_hash = ? AND backend = ? AND params_json = ?",
            [clip_hash, backend, canonical_params(params_json)],
        )
        return None if blob is None else track_from_npz(blob)

    # The landmarks behind a track (for the overlay and the landmark body estimate) live in the same table
    # under the backend's name with a ":landmarks" suffix, so no schema change was needed for them.
    def put_landmarks(self, clip_hash: str, backend: str, params_json: str | Mapping[str, Any],
                      landmarks: LandmarkTrack) -> None:  # fmt: skip
        self.s.execute(
            "INSERT OR REPLACE INTO pose_tracks (clip_hash, backend, params_json, npz, n_frames, created_at) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            [clip_hash, f"{backend}:landmarks", canonical_params(params_json), landmarks_to_npz(landmarks),
             landmarks.n_frames, utc_now()],
        )  # fmt: skip

    def get_landmarks(self, clip_hash: str, backend: str, params_json: str | Mapping[str, Any]) -> LandmarkTrack | None:
        blob = self.s.scalar(
            "SELECT npz FROM pose_tracks WHERE clip_hash = ? AND backend = ? AND params_json = ?",
            [clip_hash, f"{backend}:landmarks", canonical_params(params_json)],
        )
        return None if blob is None else landmarks_from_npz(blob)


# ---------------------------------------------------------------------------------------------- runs


@dataclass(frozen=True)
class Run:
    id: int
    status: RunStatus
    exercise: str | None
    clip_hash: str | None
    config: dict[str, Any]
    code_version: str
    model: str | None
    reference_version: int | None
    rules_version: int | None
    threshold_versions: dict[str, int]
    timings: dict[str, float]
    error: str | None
    started_at: datetime
    finished_at: datetime | None


@dataclass(frozen=True)
class FeedbackEvent:
    message: str
    severity: str = "info"
    rep: int | None = None
    t_s: float | None = None
    constraint_id: str | None = None
    payload: dict[str, Any] | None = None


_RUN_COLUMNS = (
    "id, status, exercise, clip_hash, config_json, code_version, model, reference_version, rules_version, "
    "threshold_versions, timings_json, error, started_at, finished_at"
)


class RunRepository:
    """What each analysis ran with (config, code, model, store versions) and what it produced."""

    def __init__(self, session: Session):
        self.s = session

    def start(
        self,
        *,
        config: Mapping[str, Any],
        code_version: str,
        exercise: str | None = None,
        clip_hash: str | None = None,
        model: str | None = None,
        reference_version: int | None = None,
        rules_version: int | None = None,
        threshold_versions: Mapping[str, int] | None = None,
        run_id: int | None = None,
    ) -> int:
        """A run row in status 'running'; ``run_id``: one drawn earlier with :meth:`reserve_id`."""
        return int(
            self.s.scalar(
                "INSERT INTO runs (id, status, exercise, clip_hash, config_json, code_version, model, "
                "reference_version, rules_version, threshold_versions, started_at) "
                "VALUES (coalesce(?, nextval('run_ids')), 'running', ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id",
                [
                    run_id,
                    exercise,
                    clip_hash,
                    canonical_json(dict(config)),
                    code_version,
                    model,
                    reference_version,
                    rules_version,
                    canonical_json(dict(threshold_versions or {})),
                    utc_now(),
                ],
            )
        )

    def reserve_id(self) -> int:
        """A run id no other run will get, for outputs that must name their run before it is recorded (the
        pipeline writes them first and records the run, succeeded, only once they are all written)."""
        return int(self.s.scalar("SELECT nextval('run_ids')"))

    def finish(
        self,
        run_id: int,
        *,
        status: Literal["succeeded", "failed"],
        timings: Mapping[str, float],
        error: str | None = None,
    ) -> Run:
        self.s.execute(
            "UPDATE runs SET status = ?, timings_json = ?, error = ?, finished_at = ? WHERE id = ?",
            [status, canonical_json(dict(timings)), error, utc_now(), run_id],
        )
        return self.get(run_id)

    def get(self, run_id: int) -> Run:
        r = self.s.one(f"SELECT {_RUN_COLUMNS} FROM runs WHERE id = ?", [run_id])
        if r is None:
            raise StoreError(f"run {run_id} does not exist in the store")
        return Run(
            id=int(r[0]),
            status=r[1],
            exercise=r[2],
            clip_hash=r[3],
            config=json.loads(r[4]),
            code_version=r[5],
            model=r[6],
            reference_version=r[7],
            rules_version=r[8],
            threshold_versions=json.loads(r[9]),
            timings=json.loads(r[10]),
            error=r[11],
            started_at=r[12],
            finished_at=r[13],
        )

    def add_feedback(self, run_id: int, events: Sequence[FeedbackEvent]) -> None:
        with self.s.transaction():
            for e in events:
                self.s.execute(
                    "INSERT INTO feedback_events (run_id, rep, t_s, constraint_id, severity, message, "
                    "payload_json, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                    [
                        run_id,
                        e.rep,
                        e.t_s,
                        e.constraint_id,
                        e.severity,
                        e.message,
                        canonical_json(e.payload or {}),
                        utc_now(),
                    ],
                )

    def feedback(self, run_id: int) -> list[FeedbackEvent]:
        rows = self.s.all(
            "SELECT message, severity, rep, t_s, constraint_id, payload_json FROM feedback_events "
            "WHERE run_id = ? ORDER BY id",
            [run_id],
        )
        return [FeedbackEvent(r[0], r[1], r[2], r[3], r[4], json.loads(r[5])) for r in rows]

    def add_evaluation(
        self,
        *,
        dataset: str,
        metric: str,
        value: float,
        run_id: int | None = None,
        details: Mapping[str, Any] | None = None,
    ) -> int:
        return int(
            self.s.scalar(
                "INSERT INTO evaluation_results (run_id, dataset, metric, value, details_json, "
                "created_at) VALUES (?, ?, ?, ?, ?, ?) RETURNING id",
                [run_id, dataset, metric, float(value), canonical_json(dict(details or {})), utc_now()],
            )
        )

    def evaluations(self, run_id: int) -> list[tuple[str, str, float]]:
        """(dataset, metric, value) of a run's evaluation results."""
        rows = self.s.all(
            "SELECT dataset, metric, value FROM evaluation_results WHERE run_id = ? ORDER BY id", [run_id]
        )
        return [(str(d), str(m), float(v)) for d, m, v in rows]


# ---------------------------------------------------------------------------------------------- the facade


@dataclass(frozen=True)
class HistoryEntry:
    """One version of one item of an exercise, for ``biocoach db history``."""

    kind: Kind
    item: str
    version: int
    author: str
    note: str
    created_at: datetime
    current: bool


@dataclass(frozen=True)
class StoreStatus:
    path: str
    schema_version: int
    counts: dict[str, int]


class Store:
    """All repositories over one session; ``with store.transaction():`` makes several writes one."""

    def __init__(self, session: Session):
        self.session = session
        self.exercises = ExerciseRepository(session)
        self.rules = RuleRepository(session)
        self.thresholds = ThresholdRepository(session)
        self.references = ReferenceRepository(session)
        self.joint_classes = JointClassRepository(session)
        self.labels = LabelRepository(session)
        self.clips = ClipRepository(session)
        self.poses = PoseCacheRepository(session)
        self.runs = RunRepository(session)

    @contextmanager
    def transaction(self) -> Iterator[Store]:
        with self.session.transaction():
            yield self

    def history(self, exercise: str) -> list[HistoryEntry]:
        """Every version of the exercise's rules, reference and thresholds, oldest first."""
        self.exercises.require(exercise)
        rows = self.session.all(_HISTORY_SQL, [exercise, exercise, exercise])
        return [
            HistoryEntry(
                kind=r[0], item=r[1], version=int(r[2]), author=r[3], note=r[4], created_at=r[5], current=bool(r[6])
            )
            for r in rows
        ]

    def status(self) -> StoreStatus:
        counts = {name: int(self.session.scalar(sql)) for name, sql in _STATUS_COUNTS.items()}
        version = int(self.session.scalar("SELECT max(version) FROM schema_version"))
        return StoreStatus(path=str(self.session.path), schema_version=version, counts=counts)


_HISTORY_SQL = """
WITH versions AS (
    SELECT 'rules' AS kind, exercise AS scope, 'rules' AS item, version, author, note, created_at
      FROM rule_versions WHERE exercise = ?
    UNION ALL
    SELECT 'reference', exercise, 'reference', version, author, note, created_at
      FROM reference_versions WHERE exercise = ?
    UNION ALL
    SELECT 'threshold', exercise, constraint_id, version, author, note, created_at
      FROM threshold_versions WHERE exercise = ?
)
SELECT v.kind, v.item, v.version, v.author, v.note, v.created_at, c.version IS NOT NULL AS is_current
FROM versions v LEFT JOIN current_versions c
  ON c.kind = v.kind AND c.scope = v.scope AND c.item = v.item AND c.version = v.version
ORDER BY v.created_at, v.kind, v.item, v.version
"""

_STATUS_COUNTS = {
    "exercises": "SELECT count(*) FROM exercises",
    "rule_versions": "SELECT count(*) FROM rule_versions",
    "reference_versions": "SELECT count(*) FROM reference_versions",
    "threshold_versions": "SELECT count(*) FROM threshold_versions",
    "label_versions": "SELECT count(*) FROM label_versions",
    "clips": "SELECT count(*) FROM clips",
    "pose_tracks": "SELECT count(*) FROM pose_tracks",
    "runs": "SELECT count(*) FROM runs",
}


# ---------------------------------------------------------------------------------------------- validation


def current_rule_dict(
    s: Session, exercise: str, *, replacing: ThresholdSpec | None = None, body: dict[str, Any] | None = None
) -> dict[str, Any]:
    """The exercise's rule file as the store currently holds it, optionally with one threshold or the body
    replaced."""
    body = RuleRepository(s).get(exercise).body if body is None else body
    dynamic, static = JointClassRepository(s).current(exercise)
    specs = {t.spec.id: t.spec for t in ThresholdRepository(s).current(exercise, include_removed=True)}
    if replacing is not None:
        specs[replacing.id] = replacing
    return rule_dict(exercise, body, dynamic, static, tuple(specs.values()))


def validate_exercise(
    s: Session, exercise: str, *, replacing: ThresholdSpec | None = None, body: dict[str, Any] | None = None
) -> None:
    """Raise ValidationError if the exercise, with ``replacing`` or ``body`` applied, is not a valid rule file."""
    ExerciseRepository(s).require(exercise)
    rules = current_rule_dict(s, exercise, replacing=replacing, body=body)
    validate_rules(rules, f"{s.path}::exercises/{exercise}.yaml")


__all__ = [
    "Clip",
    "ClipRepository",
    "ExerciseRepository",
    "FeedbackEvent",
    "HistoryEntry",
    "JointClassDecision",
    "JointClassRepository",
    "LabelRepository",
    "PoseCacheRepository",
    "ReferenceDiff",
    "ReferenceRepository",
    "ReferenceVersion",
    "RuleRepository",
    "RulesVersion",
    "Run",
    "RunRepository",
    "SalientLabel",
    "Store",
    "StoreStatus",
    "ThresholdRepository",
    "ThresholdVersion",
    "canonical_params",
    "sha256_file",
    "track_from_npz",
    "track_to_npz",
]
