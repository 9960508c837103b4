"""An exercise's rules body (cycle, key frames, sources, …: its rule file apart from joint classes and
thresholds), one versioned JSON document per exercise."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from workbench.store.rules import canonical_json
from workbench.store.versioned import Item, VersionedRepository, revert_note


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


def _item(exercise: str) -> Item:
    return Item("rules", exercise, "rules")


class RuleRepository(VersionedRepository[RulesVersion]):
    kind = "rules"
    table = "rule_versions"
    key_columns = ("exercise",)
    columns = "t.exercise, t.body_json, t.version, t.author, t.note, t.created_at, t.parent_version"

    @staticmethod
    def _row(r: tuple[Any, ...]) -> RulesVersion:
        return RulesVersion(
            exercise=r[0],
            body=json.loads(r[1]),
            version=int(r[2]),
            author=r[3],
            note=r[4],
            created_at=r[5],
            parent_version=r[6],
        )

    def get(self, exercise: str, version: int | None = None) -> RulesVersion:
        return self._get(_item(exercise), [exercise], version)

    def history(self, exercise: str) -> list[RulesVersion]:
        return self._history([exercise])

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
            if self.pointers.current(_item(exercise)) is not None:
                current = self.get(exercise)
                if canonical_json(current.body) == canonical_json(dict(body)):
                    return current
            if validate:
                self.validate(self.s, exercise, body=dict(body))
            return self._write(exercise, dict(body), base_version, author, note)

    def revert(
        self, exercise: str, to_version: int, *, author: str, note: str = "", base_version: int | None = None
    ) -> RulesVersion:
        with self.s.transaction():
            old = self.get(exercise, to_version)
            base = self._revert_base(_item(exercise), base_version)
            self.validate(self.s, exercise, body=old.body)  # today's thresholds may need what it lacks
            return self._write(exercise, old.body, base, author, revert_note(to_version, note))

    def diff(self, exercise: str, v1: int, v2: int) -> dict[str, tuple[Any, Any]]:
        """Top-level fields whose value differs: ``{field: (value at v1, value at v2)}``."""
        a, b = self.get(exercise, v1).body, self.get(exercise, v2).body
        return {k: (a.get(k), b.get(k)) for k in sorted(set(a) | set(b)) if a.get(k) != b.get(k)}

    def _write(self, exercise: str, body: dict[str, Any], base: int | None, author: str, note: str) -> RulesVersion:
        values = {"body_json": canonical_json(body), "author": author, "note": note}
        return self.get(exercise, self._append(_item(exercise), [exercise], base, values))


__all__ = ["RuleRepository", "RulesVersion"]
