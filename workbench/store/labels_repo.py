"""Versioned salient-joint labels of a clip (or of a segment of it), proposed and reviewed in the store."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any, Literal

from workbench.store.joint_classes_repo import check_joints
from workbench.store.session import StoreError, ValidationError, utc_now
from workbench.store.versioned import Item, Status, VersionedRepository, revert_note


@dataclass(frozen=True)
class SalientLabelVersion:
    """One version of a stored salient-joint label: the salient joints of a clip (``segment_s`` None) or of a
    segment of it, with its review state. (The review workflow's accepted labels, read from Label Studio
    reviews, are :class:`workbench.store.review_labels.SalientLabel`.)"""

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

    def changes_from(self, other: SalientLabelVersion) -> dict[str, tuple[Any, Any]]:
        keys = ("exercise", "segment_s", "joints", "proposer", "reviewer", "status")
        return {k: (getattr(other, k), getattr(self, k)) for k in keys if getattr(other, k) != getattr(self, k)}


class LabelRepository(VersionedRepository[SalientLabelVersion]):
    kind = "label"
    table = "label_versions"
    key_columns = ("label_id",)
    columns = (
        "t.label_id, t.version, t.clip_hash, t.exercise, t.segment_start_s, t.segment_end_s, t.joints_json, "
        "t.proposer, t.reviewer, t.status, t.author, t.note, t.created_at, t.parent_version"
    )

    @staticmethod
    def _row(r: tuple[Any, ...]) -> SalientLabelVersion:
        segment = None if r[4] is None else (float(r[4]), float(r[5]))
        return SalientLabelVersion(
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

    def propose(
        self,
        clip_hash: str,
        joints: Sequence[str],
        *,
        proposer: str,
        exercise: str | None = None,
        segment_s: tuple[float, float] | None = None,
        note: str = "",
    ) -> SalientLabelVersion:
        label_id = int(self.s.scalar("SELECT nextval('label_ids')"))
        draft = SalientLabelVersion(
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
            return self._write(draft, None)

    def get(self, label_id: int, version: int | None = None) -> SalientLabelVersion:
        item = self._item(label_id) if version is None else Item("label", "", str(label_id))
        return self._get(item, [label_id], version, missing=f"label {label_id}")

    def history(self, label_id: int) -> list[SalientLabelVersion]:
        return self._history([label_id])

    def for_clip(self, clip_hash: str) -> list[SalientLabelVersion]:
        """The current version of every label of a clip."""
        rows = self.s.all(
            f"SELECT {self.columns} "
            "FROM label_versions t JOIN current_versions c ON c.kind = 'label' "
            "AND c.scope = t.clip_hash AND c.item = CAST(t.label_id AS VARCHAR) AND c.version = t.version "
            "WHERE t.clip_hash = ? ORDER BY t.label_id",
            [clip_hash],
        )
        return [self._row(r) for r in rows]

    def review(
        self,
        label_id: int,
        *,
        status: Literal["accepted", "rejected"],
        reviewer: str,
        base_version: int,
        note: str = "",
    ) -> SalientLabelVersion:
        with self.s.transaction():
            old = self.get(label_id, base_version)
            new = replace(old, status=status, reviewer=reviewer, author=reviewer, note=note)
            return self._write(new, base_version)

    def edit(
        self,
        label_id: int,
        *,
        base_version: int,
        author: str,
        note: str,
        joints: Sequence[str] | None = None,
        segment_s: tuple[float, float] | None = None,
    ) -> SalientLabelVersion:
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
            return self._write(new, base_version)

    def revert(
        self, label_id: int, to_version: int, *, author: str, note: str = "", base_version: int | None = None
    ) -> SalientLabelVersion:
        with self.s.transaction():
            old = self.get(label_id, to_version)
            base = self._revert_base(self._item(label_id), base_version)
            return self._write(replace(old, author=author, note=revert_note(to_version, note)), base)

    def diff(self, label_id: int, v1: int, v2: int) -> dict[str, tuple[Any, Any]]:
        return self.get(label_id, v2).changes_from(self.get(label_id, v1))

    def _item(self, label_id: int) -> Item:
        clip = self.s.scalar("SELECT any_value(clip_hash) FROM label_versions WHERE label_id = ?", [label_id])
        if clip is None:
            raise StoreError(f"label {label_id} does not exist in the store")
        return Item("label", str(clip), str(label_id))

    def _write(self, label: SalientLabelVersion, base: int | None) -> SalientLabelVersion:
        check_joints(label.joints, f"label {label.label_id}")
        if label.segment_s is not None and not 0 <= label.segment_s[0] < label.segment_s[1]:
            raise ValidationError(
                f"label {label.label_id}: segment_s: expected (start, end) with 0 ≤ start < end "
                f"seconds, got {label.segment_s}"
            )
        start, end = label.segment_s or (None, None)
        values = {
            "clip_hash": label.clip_hash,
            "exercise": label.exercise,
            "segment_start_s": start,
            "segment_end_s": end,
            "joints_json": json.dumps(list(label.joints)),
            "proposer": label.proposer,
            "reviewer": label.reviewer,
            "status": label.status,
            "author": label.author,
            "note": label.note,
        }
        item = Item("label", label.clip_hash, str(label.label_id))
        return self.get(label.label_id, self._append(item, [label.label_id], base, values))


__all__ = ["LabelRepository", "SalientLabelVersion"]
