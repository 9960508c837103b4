"""One versioned row per constraint of a rule file (before both_sides mirroring): the thresholds experts edit.
A stored threshold is the catalogue's :class:`~workbench.exercises.catalogue.Constraint`."""

from __future__ import annotations

from dataclasses import dataclass, fields, replace
from datetime import datetime
from typing import Any

from workbench.exercises.catalogue import Constraint
from workbench.store.session import ValidationError
from workbench.store.versioned import Item, VersionedRepository, revert_note


@dataclass(frozen=True)
class ThresholdVersion:
    exercise: str
    spec: Constraint
    version: int
    author: str
    note: str
    created_at: datetime
    parent_version: int | None

    @property
    def constraint_id(self) -> str:
        return self.spec.id


_COLUMNS = (
    "t.exercise, t.constraint_id, t.version, t.active, t.position, t.dof, t.kind, t.sidedness, t.key_frame, "
    "t.bound_low_deg, t.bound_high_deg, t.tolerance_low_deg, t.tolerance_high_deg, t.max_std_deg, t.max_diff_deg, "
    "t.requires_motion_deg, t.issue_low, t.issue_high, t.cue_low, t.cue_high, t.source, t.author, t.note, "
    "t.created_at, t.parent_version"
)
_CURRENT = (
    f"SELECT {_COLUMNS} FROM threshold_versions t JOIN current_versions c ON c.kind = 'threshold' "
    "AND c.scope = t.exercise AND c.item = t.constraint_id AND c.version = t.version WHERE t.exercise = ? "
    "ORDER BY t.position, t.constraint_id"
)


def _item(exercise: str, constraint_id: str) -> Item:
    return Item("threshold", exercise, constraint_id)


class ThresholdRepository(VersionedRepository[ThresholdVersion]):
    """One versioned row per constraint of a rule file (before both_sides mirroring)."""

    kind = "threshold"
    table = "threshold_versions"
    key_columns = ("exercise", "constraint_id")
    columns = _COLUMNS

    @staticmethod
    def _row(r: tuple[Any, ...]) -> ThresholdVersion:
        spec = Constraint(
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
            exercise=r[0],
            spec=spec,
            version=int(r[2]),
            author=r[21],
            note=r[22],
            created_at=r[23],
            parent_version=r[24],
        )

    def current(self, exercise: str, *, include_removed: bool = False) -> list[ThresholdVersion]:
        rows = [self._row(r) for r in self.s.all(_CURRENT, [exercise])]
        return rows if include_removed else [r for r in rows if r.spec.active]

    def get(self, exercise: str, constraint_id: str, version: int | None = None) -> ThresholdVersion:
        return self._get(_item(exercise, constraint_id), [exercise, constraint_id], version)

    def history(self, exercise: str, constraint_id: str) -> list[ThresholdVersion]:
        return self._history([exercise, constraint_id])

    def edit(
        self, exercise: str, constraint_id: str, *, base_version: int, author: str, note: str, **changes: Any
    ) -> ThresholdVersion:
        """Change some fields of a constraint (``bounds_deg=(100.0, None)``, ``max_std_deg=4.0``, …)."""
        allowed = {f.name for f in fields(Constraint)} - {"id"}
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
        spec: Constraint,
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
            if self.pointers.current(_item(exercise, spec.id)) is not None:
                current = self.get(exercise, spec.id)
                if current.spec == spec:
                    return current
            if validate:
                self.validate(self.s, exercise, replacing=spec)
            return self._write(exercise, spec, base_version, author, note)

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
            base = self._revert_base(_item(exercise, constraint_id), base_version)
            self.validate(self.s, exercise, replacing=old.spec)  # a key frame it names may have gone
            return self._write(exercise, old.spec, base, author, revert_note(to_version, note))

    def diff(self, exercise: str, constraint_id: str, v1: int, v2: int) -> dict[str, tuple[Any, Any]]:
        """Fields that differ: ``{field: (value at v1, value at v2)}``."""
        a, b = self.get(exercise, constraint_id, v1), self.get(exercise, constraint_id, v2)
        return b.spec.changes_from(a.spec)

    def _write(self, exercise: str, spec: Constraint, base: int | None, author: str, note: str) -> ThresholdVersion:
        lo, hi = spec.bounds_deg or (None, None)
        tlo, thi = spec.tolerance_deg or (None, None)
        values = {
            "active": spec.active,
            "position": spec.position,
            "dof": spec.dof,
            "kind": spec.kind,
            "sidedness": spec.sidedness,
            "key_frame": spec.key_frame,
            "bound_low_deg": lo,
            "bound_high_deg": hi,
            "tolerance_low_deg": tlo,
            "tolerance_high_deg": thi,
            "max_std_deg": spec.max_std_deg,
            "max_diff_deg": spec.max_diff_deg,
            "requires_motion_deg": spec.requires_motion_deg,
            "issue_low": spec.issue_low,
            "issue_high": spec.issue_high,
            "cue_low": spec.cue_low,
            "cue_high": spec.cue_high,
            "source": spec.source,
            "author": author,
            "note": note,
        }
        version = self._append(_item(exercise, spec.id), [exercise, spec.id], base, values)
        return self.get(exercise, spec.id, version)


def _normalised(spec: Constraint, where: str) -> Constraint:
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


__all__ = ["ThresholdRepository", "ThresholdVersion"]
