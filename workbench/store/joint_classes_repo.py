"""Which joints of an exercise are dynamic and which static: append-only decisions about (joint, class)
pairs. A proposal (from a paper, an LLM or an expert) counts once a reviewer accepts it."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from workbench.skeleton import JOINT_NAMES
from workbench.store.session import Session, StoreError, ValidationError, utc_now
from workbench.store.versioned import Status

JointClass = Literal["static", "dynamic"]
JointClassSource = Literal["paper", "llm", "expert"]


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
        check_joints([joint], f"joint class {exercise}/{joint}")
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
        check_joints([*dynamic, *static], f"joint classes of {exercise}")
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


def check_joints(joints: Sequence[str], where: str) -> None:
    bad = [j for j in joints if j not in JOINT_NAMES]
    if bad:
        raise ValidationError(f"{where}: expected SKEL joint names (e.g. tibia_r), got {bad}")


__all__ = ["JointClass", "JointClassDecision", "JointClassRepository", "JointClassSource", "check_joints"]
