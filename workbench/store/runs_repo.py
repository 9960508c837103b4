"""Runs: what each analysis ran with (config, code, model, store versions) and what it produced — its
feedback, stored as the analysis's own :class:`~workbench.motion.results.FeedbackEvent`."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from workbench.motion.results import FeedbackEvent
from workbench.store.rules import canonical_json
from workbench.store.session import Session, StoreError, utc_now

RunStatus = Literal["running", "succeeded", "failed"]


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


_RUN_COLUMNS = (
    "id, status, exercise, clip_hash, config_json, code_version, model, reference_version, rules_version, "
    "threshold_versions, timings_json, error, started_at, finished_at"
)


def feedback_severity(event: FeedbackEvent) -> str:
    """'warning' for a corrective line (a rule line has no kind and is corrective), 'info' otherwise."""
    return "warning" if event.kind in (None, "corrective") else "info"


def feedback_rep(event: FeedbackEvent) -> int | None:
    rep = (event.details or {}).get("rep")
    return int(rep) if rep is not None else None


def feedback_check(event: FeedbackEvent) -> str | None:
    """The first evidence tag's check ("rep 3: knee_depth" → "knee_depth")."""
    tag = event.evidence[0] if event.evidence else ""
    return tag.split(": ", 1)[1] if ": " in tag else None


def _payload(event: FeedbackEvent) -> dict[str, Any]:
    """``evidence`` stays the list of tags (runs are compared by it); a coach's event adds what it knew."""
    payload: dict[str, Any] = {"evidence": list(event.evidence)}
    if event.kind is not None:
        payload.update(kind=event.kind, n_tokens=event.n_tokens, step=event.step, details=event.details)
    return payload


def _event(t_s: float | None, message: str, payload_json: str) -> FeedbackEvent:
    payload = json.loads(payload_json) or {}
    evidence = payload.get("evidence") or []
    if isinstance(evidence, dict):  # written by batches before the store kept FeedbackEvents
        evidence = evidence.get("tags", [])
    return FeedbackEvent(
        t_s=float("nan") if t_s is None else float(t_s),
        text=message,
        evidence=[str(e) for e in evidence],
        kind=payload.get("kind"),
        n_tokens=payload.get("n_tokens"),
        step=payload.get("step"),
        details=payload.get("details"),
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

    def record_succeeded(
        self,
        *,
        config: Mapping[str, Any],
        code_version: str,
        exercise: str | None,
        clip_hash: str | None,
        model: str | None,
        reference_version: int | None,
        rules_version: int | None,
        threshold_versions: Mapping[str, int] | None,
        timings: Mapping[str, float],
        feedback: Sequence[FeedbackEvent] = (),
    ) -> int:
        """A finished, succeeded run with its feedback in two statements: the rows :meth:`start`, :meth:`finish`
        and :meth:`add_feedback` would write (a batch's writes bound its throughput on small clips)."""
        now = utc_now()
        run_id = int(
            self.s.scalar(
                "INSERT INTO runs (status, exercise, clip_hash, config_json, code_version, model, reference_version, "
                "rules_version, threshold_versions, timings_json, started_at, finished_at) "
                "VALUES ('succeeded', ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id",
                [
                    exercise,
                    clip_hash,
                    canonical_json(dict(config)),
                    code_version,
                    model,
                    reference_version,
                    rules_version,
                    canonical_json(dict(threshold_versions or {})),
                    canonical_json(dict(timings)),
                    now,
                    now,
                ],
            )
        )
        self.add_feedback(run_id, feedback)
        return run_id

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

    def recent_ids(self, limit: int) -> list[int]:
        """The ids of the latest ``limit`` runs, newest first."""
        return [int(r[0]) for r in self.s.all("SELECT id FROM runs ORDER BY id DESC LIMIT ?", [limit])]

    def add_feedback(self, run_id: int, events: Sequence[FeedbackEvent]) -> None:
        """Store the run's feedback lines, in order, in one statement; ``severity``, ``rep`` and
        ``constraint_id`` are derived from each event so the table can be queried by them."""
        if not events:
            return
        self.s.execute(
            "INSERT INTO feedback_events (run_id, rep, t_s, constraint_id, severity, message, payload_json, "
            "created_at) SELECT ?, unnest(?::INTEGER[]), unnest(?::DOUBLE[]), unnest(?::VARCHAR[]), "
            "unnest(?::VARCHAR[]), unnest(?::VARCHAR[]), unnest(?::VARCHAR[]), ?",
            [
                run_id,
                [feedback_rep(e) for e in events],
                [e.t_s for e in events],
                [feedback_check(e) for e in events],
                [feedback_severity(e) for e in events],
                [e.text for e in events],
                [canonical_json(_payload(e)) for e in events],
                utc_now(),
            ],
        )

    def replace_feedback(
        self, run_id: int, events: Sequence[FeedbackEvent], *, config: Mapping[str, Any] | None = None
    ) -> None:
        """Replace the run's feedback lines with ``events`` (a coach's lines instead of the analysis review), and
        merge ``config`` into the run's config (which produced them), in one transaction: on any error the run
        keeps its old rows and config."""
        with self.s.transaction():
            current = self.s.scalar("SELECT config_json FROM runs WHERE id = ?", [run_id])
            if current is None:
                raise StoreError(f"run {run_id} does not exist in the store")
            self.s.execute("DELETE FROM feedback_events WHERE run_id = ?", [run_id])
            self.add_feedback(run_id, events)
            if config:
                merged = {**json.loads(current), **dict(config)}
                self.s.execute("UPDATE runs SET config_json = ? WHERE id = ?", [canonical_json(merged), run_id])

    def feedback(self, run_id: int) -> list[FeedbackEvent]:
        rows = self.s.all(
            "SELECT t_s, message, payload_json FROM feedback_events WHERE run_id = ? ORDER BY id", [run_id]
        )
        return [_event(r[0], r[1], r[2]) for r in rows]

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


__all__ = ["FeedbackEvent", "Run", "RunRepository", "RunStatus"]
