"""The store facade: every repository over one session, and the cross-repository views (history, status)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime

from workbench.store.clips_repo import ClipRepository
from workbench.store.exercises_repo import ExerciseRepository
from workbench.store.joint_classes_repo import JointClassRepository
from workbench.store.labels_repo import LabelRepository
from workbench.store.poses_repo import PoseCacheRepository
from workbench.store.references_repo import ReferenceRepository
from workbench.store.rules_repo import RuleRepository
from workbench.store.runs_repo import RunRepository
from workbench.store.session import Session
from workbench.store.thresholds_repo import ThresholdRepository
from workbench.store.validation import validate_exercise
from workbench.store.versioned import Kind


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
        self.rules = RuleRepository(session, validate_exercise)
        self.thresholds = ThresholdRepository(session, validate_exercise)
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


__all__ = ["HistoryEntry", "Store", "StoreStatus"]
