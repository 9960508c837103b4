"""The review loop's tables (migration 0004): proposals, versioned expert labels, push and pull state.

Use it over a store session, like the other repositories::

    with db.store() as store:
        reviews = ReviewRepository(store.session)
        reviews.add_proposal(proposal_row)

Labels are append-only: a reviewer's change to an annotation in Label Studio becomes a new version of
(proposal, reviewer), never an UPDATE. The pull writes one task's labels and cursors in one transaction
(:meth:`ReviewRepository.record_pulled`), so an interrupted pull leaves whole tasks or nothing.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from workbench.store.session import Session, StoreError, utc_now

ProposalKind = Literal["salient", "roles"]
ParseStatus = Literal["parsed", "partial", "unparsable"]
LabelStatus = Literal["accepted", "rejected", "corrected"]


@dataclass(frozen=True)
class ProposalRow:
    """One stored proposal. ``content``: salient — [{"joint", "source"}]; roles — {joint: {"role", "source"}}."""

    id: str
    kind: ProposalKind
    exercise: str
    content: Any
    model: str
    prompt: list[dict[str, Any]]
    reply: str
    parse_status: ParseStatus
    clip_hash: str | None = None
    clip_path: str | None = None
    video_path: str | None = None
    start_s: float | None = None
    end_s: float | None = None
    segment: str = ""
    status: Literal["proposed", "reviewed"] = "proposed"
    created_at: datetime | None = None

    @property
    def joints(self) -> tuple[str, ...]:
        """Salient proposals: the proposed joints, in the stored order."""
        return tuple(item["joint"] for item in self.content) if self.kind == "salient" else ()

    @property
    def roles(self) -> dict[str, str]:
        """Roles proposals: {joint: 'static' | 'dynamic'}."""
        return {j: v["role"] for j, v in self.content.items()} if self.kind == "roles" else {}

    @property
    def model_joints(self) -> tuple[str, ...]:
        """Salient proposals: the joints the model itself named (source 'llm'); what its quality is measured on."""
        return tuple(c["joint"] for c in self.content if c["source"] == "llm") if self.kind == "salient" else ()

    @property
    def catalogue_joints(self) -> tuple[str, ...]:
        """Salient proposals: the joints filled in from the exercise catalogue (not the model's proposal)."""
        return tuple(c["joint"] for c in self.content if c["source"] != "llm") if self.kind == "salient" else ()

    @property
    def model_roles(self) -> dict[str, str]:
        """Roles proposals: the roles the model itself gave (the others came from the catalogue)."""
        if self.kind != "roles":
            return {}
        return {j: v["role"] for j, v in self.content.items() if v["source"] == "llm"}


@dataclass(frozen=True)
class LabelRow:
    """One version of one reviewer's decision on one proposal."""

    proposal_id: str
    reviewer: str
    version: int
    status: LabelStatus
    content: Any  # salient: [joint, …]; roles: {joint: role}
    comment: str
    reviewed_at: datetime
    server: str
    ls_task_id: int
    ls_annotation_id: int
    parent_version: int | None
    created_at: datetime


@dataclass(frozen=True)
class PulledLabel:
    """What the pull read from one annotation, before it is written."""

    proposal_id: str
    reviewer: str
    status: LabelStatus
    content: Any
    comment: str
    reviewed_at: datetime
    ls_task_id: int
    ls_annotation_id: int
    ls_updated_at: str


_PROPOSAL_COLUMNS = (
    "id, kind, exercise, content_json, model, prompt_json, reply, parse_status, clip_hash, clip_path, video_path, "
    "start_s, end_s, segment, status, created_at"
)
_LABEL_COLUMNS = (
    "proposal_id, reviewer, version, status, content_json, comment, reviewed_at, server, ls_task_id, "
    "ls_annotation_id, parent_version, created_at"
)


def _proposal(r: tuple[Any, ...]) -> ProposalRow:
    return ProposalRow(
        id=r[0],
        kind=r[1],
        exercise=r[2],
        content=json.loads(r[3]),
        model=r[4],
        prompt=json.loads(r[5]),
        reply=r[6],
        parse_status=r[7],
        clip_hash=r[8],
        clip_path=r[9],
        video_path=r[10],
        start_s=None if r[11] is None else float(r[11]),
        end_s=None if r[12] is None else float(r[12]),
        segment=r[13],
        status=r[14],
        created_at=r[15],
    )


def _label(r: tuple[Any, ...]) -> LabelRow:
    return LabelRow(
        proposal_id=r[0],
        reviewer=r[1],
        version=int(r[2]),
        status=r[3],
        content=json.loads(r[4]),
        comment=r[5],
        reviewed_at=r[6],
        server=r[7],
        ls_task_id=int(r[8]),
        ls_annotation_id=int(r[9]),
        parent_version=None if r[10] is None else int(r[10]),
        created_at=r[11],
    )


def _canonical(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"))


class ReviewRepository:
    def __init__(self, session: Session):
        self.s = session

    # ------------------------------------------------------------------------------------------ proposals

    def add_proposal(self, p: ProposalRow) -> bool:
        """Store a proposal; False (nothing written) when one with its id exists (same question, same model)."""
        with self.s.transaction():
            if self.s.scalar("SELECT count(*) FROM review_proposals WHERE id = ?", [p.id]):
                return False
            self.s.execute(
                f"INSERT INTO review_proposals ({_PROPOSAL_COLUMNS}) VALUES "
                "(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [
                    p.id,
                    p.kind,
                    p.exercise,
                    _canonical(p.content),
                    p.model,
                    _canonical(p.prompt),
                    p.reply,
                    p.parse_status,
                    p.clip_hash,
                    p.clip_path,
                    p.video_path,
                    p.start_s,
                    p.end_s,
                    p.segment,
                    "proposed",
                    p.created_at or utc_now(),
                ],
            )
        return True

    def has_proposal(self, proposal_id: str) -> bool:
        return bool(self.s.scalar("SELECT count(*) FROM review_proposals WHERE id = ?", [proposal_id]))

    def proposal(self, proposal_id: str) -> ProposalRow:
        row = self.s.one(f"SELECT {_PROPOSAL_COLUMNS} FROM review_proposals WHERE id = ?", [proposal_id])
        if row is None:
            raise StoreError(f"review proposal {proposal_id!r} does not exist in the store")
        return _proposal(row)

    def proposals(self, kind: ProposalKind | None = None, exercise: str | None = None) -> list[ProposalRow]:
        rows = self.s.all(
            f"SELECT {_PROPOSAL_COLUMNS} FROM review_proposals WHERE (? IS NULL OR kind = ?) "
            "AND (? IS NULL OR exercise = ?) ORDER BY kind, exercise, clip_hash, start_s, id",
            [kind, kind, exercise, exercise],
        )
        return [_proposal(r) for r in rows]

    # ------------------------------------------------------------------------------------------ push state

    def pushed(self, server: str) -> dict[str, tuple[int, int]]:
        """{proposal id: (project id, task id)} as recorded for a server."""
        rows = self.s.all("SELECT proposal_id, project_id, task_id FROM review_tasks WHERE server = ?", [server])
        return {r[0]: (int(r[1]), int(r[2])) for r in rows}

    def record_pushed(self, server: str, items: Sequence[tuple[str, int, int]]) -> None:
        """(proposal id, project id, task id) for each task now on the server, in one transaction."""
        with self.s.transaction():
            for proposal_id, project_id, task_id in items:
                self.s.execute("DELETE FROM review_tasks WHERE proposal_id = ? AND server = ?", [proposal_id, server])
                self.s.execute(
                    "INSERT INTO review_tasks (proposal_id, server, project_id, task_id, pushed_at) "
                    "VALUES (?, ?, ?, ?, ?)",
                    [proposal_id, server, project_id, task_id, utc_now()],
                )

    # ------------------------------------------------------------------------------------------ labels

    def cursor(self, server: str, annotation_id: int) -> str | None:
        """The Label Studio updated_at of an annotation when it was last pulled (None: never)."""
        value = self.s.scalar(
            "SELECT ls_updated_at FROM review_sync WHERE server = ? AND ls_annotation_id = ?", [server, annotation_id]
        )
        return None if value is None else str(value)

    def record_pulled(self, server: str, labels: Sequence[PulledLabel]) -> int:
        """Write one task's pulled annotations (new label versions + cursors) in one transaction; returns how
        many new versions were written. An annotation whose content equals its reviewer's current version
        only moves the cursor: history records changes, not re-saves."""
        written = 0
        with self.s.transaction():
            for lab in labels:
                current = self.current_label(lab.proposal_id, lab.reviewer)
                same = current is not None and (current.status, _canonical(current.content), current.comment) == (
                    lab.status,
                    _canonical(lab.content),
                    lab.comment,
                )
                version = current.version if current is not None else 0
                if not same:
                    version += 1
                    self.s.execute(
                        f"INSERT INTO review_labels ({_LABEL_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                        [
                            lab.proposal_id,
                            lab.reviewer,
                            version,
                            lab.status,
                            _canonical(lab.content),
                            lab.comment,
                            lab.reviewed_at,
                            server,
                            lab.ls_task_id,
                            lab.ls_annotation_id,
                            None if current is None else current.version,
                            utc_now(),
                        ],
                    )
                    written += 1
                self.s.execute(
                    "DELETE FROM review_sync WHERE server = ? AND ls_annotation_id = ?", [server, lab.ls_annotation_id]
                )
                self.s.execute(
                    "INSERT INTO review_sync (server, ls_annotation_id, ls_updated_at, proposal_id, reviewer, "
                    "label_version, pulled_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
                    [
                        server,
                        lab.ls_annotation_id,
                        lab.ls_updated_at,
                        lab.proposal_id,
                        lab.reviewer,
                        version,
                        utc_now(),
                    ],
                )
                self.s.execute(
                    "UPDATE review_proposals SET status = 'reviewed' WHERE id = ? AND status <> 'reviewed'",
                    [lab.proposal_id],
                )
        return written

    def current_label(self, proposal_id: str, reviewer: str) -> LabelRow | None:
        row = self.s.one(
            f"SELECT {_LABEL_COLUMNS} FROM review_labels WHERE proposal_id = ? AND reviewer = ? "
            "ORDER BY version DESC LIMIT 1",
            [proposal_id, reviewer],
        )
        return None if row is None else _label(row)

    def history(self, proposal_id: str) -> list[LabelRow]:
        rows = self.s.all(
            f"SELECT {_LABEL_COLUMNS} FROM review_labels WHERE proposal_id = ? ORDER BY reviewer, version",
            [proposal_id],
        )
        return [_label(r) for r in rows]

    def current_labels(self, kind: ProposalKind | None = None, exercise: str | None = None) -> list[LabelRow]:
        """The current version of every (proposal, reviewer) label, optionally of one kind and exercise."""
        cols = ", ".join("l." + c.strip() for c in _LABEL_COLUMNS.split(","))
        rows = self.s.all(
            f"SELECT {cols} FROM review_labels l JOIN review_proposals p ON p.id = l.proposal_id "
            "WHERE (? IS NULL OR p.kind = ?) AND (? IS NULL OR p.exercise = ?) AND l.version = "
            "(SELECT max(version) FROM review_labels m WHERE m.proposal_id = l.proposal_id "
            "AND m.reviewer = l.reviewer) ORDER BY l.proposal_id, l.reviewer",
            [kind, kind, exercise, exercise],
        )
        return [_label(r) for r in rows]

    def counts(self) -> dict[str, int]:
        """Proposals by kind and status, label versions, and current labels by status (for status lines)."""
        out: dict[str, int] = {}
        for kind, status, n in self.s.all("SELECT kind, status, count(*) FROM review_proposals GROUP BY ALL"):
            out[f"{kind} proposals {status}"] = int(n)
        out["label versions"] = int(self.s.scalar("SELECT count(*) FROM review_labels"))
        for label in self.current_labels():
            key = f"labels {label.status}"
            out[key] = out.get(key, 0) + 1
        return out
