"""An exercise's reference cycle (mean and envelope, (46, N_ref) radians), one versioned pair of arrays."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import numpy as np

from workbench.exercises.catalogue import Reference
from workbench.skeleton import DOF_NAMES
from workbench.store.rules import FloatArray, trajectory_problems
from workbench.store.session import ValidationError
from workbench.store.versioned import Item, VersionedRepository, revert_note


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


def _item(exercise: str) -> Item:
    return Item("reference", exercise, "reference")


class ReferenceRepository(VersionedRepository[ReferenceVersion]):
    kind = "reference"
    table = "reference_versions"
    key_columns = ("exercise",)
    columns = (
        "t.exercise, t.version, t.n_dofs, t.n_samples, t.mean_f64, t.sd_f64, t.digest, t.author, t.note, "
        "t.created_at, t.parent_version"
    )

    @staticmethod
    def _row(r: tuple[Any, ...]) -> ReferenceVersion:
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

    def current(self, exercise: str) -> ReferenceVersion | None:
        version = self.pointers.current(_item(exercise))
        return None if version is None else self.get(exercise, version)

    def get(self, exercise: str, version: int | None = None) -> ReferenceVersion:
        return self._get(_item(exercise), [exercise], version)

    def history(self, exercise: str) -> list[ReferenceVersion]:
        return self._history([exercise])

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
            return self._write(exercise, mean, sd, digest, base_version, author, note)

    def revert(
        self, exercise: str, to_version: int, *, author: str, note: str = "", base_version: int | None = None
    ) -> ReferenceVersion:
        with self.s.transaction():
            old = self.get(exercise, to_version)
            base = self._revert_base(_item(exercise), base_version)
            return self._write(exercise, old.mean, old.sd, old.digest, base, author, revert_note(to_version, note))

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

    def _write(
        self, exercise: str, mean: FloatArray, sd: FloatArray, digest: str, base: int | None, author: str, note: str
    ) -> ReferenceVersion:
        values = {
            "n_dofs": mean.shape[0],
            "n_samples": mean.shape[1],
            "mean_f64": _blob(mean),
            "sd_f64": _blob(sd),
            "digest": digest,
            "author": author,
            "note": note,
        }
        return self.get(exercise, self._append(_item(exercise), [exercise], base, values))


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


def _on_grid(array: FloatArray, n: int) -> FloatArray:
    if array.shape[1] == n:
        return array
    old, new = np.linspace(0.0, 1.0, array.shape[1]), np.linspace(0.0, 1.0, n)
    return np.vstack([np.interp(new, old, row) for row in array])


def _max_abs_deg(a: FloatArray, b: FloatArray) -> dict[str, float]:
    delta = np.degrees(np.abs(b - a).max(axis=1))
    return {name: float(d) for name, d in zip(DOF_NAMES, delta, strict=True) if d > 0}


__all__ = ["ReferenceDiff", "ReferenceRepository", "ReferenceVersion", "reference_digest"]
