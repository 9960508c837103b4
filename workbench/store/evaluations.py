"""Stored evaluations (migration 0003): one row per `biocoach eval` run, its per-clip rows and metric rows.

``save`` writes everything of one evaluation in one transaction (a failure leaves nothing); ``all`` gives the
summaries newest first, ``get`` one evaluation with its clips, ``compare`` two side by side.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from workbench.io.outputs import json_text
from workbench.store.rules import canonical_json
from workbench.store.session import Session, StoreError, utc_now

METRICS = ("t_f_score", "precision", "recall", "meteor", "rouge_l", "bertscore", "llm_accuracy", "llm_bio_accuracy")


@dataclass(frozen=True)
class EvaluationSummary:
    id: int
    name: str
    dataset: str
    predictions: str
    ground_truth: str
    t_f_score: float
    precision: float
    recall: float
    n_gt: int
    n_pred: int
    n_matched: int
    metrics: dict[str, float | None]
    models: dict[str, str]
    settings: dict[str, Any]
    code_version: str
    created_at: datetime

    def row(self) -> dict[str, Any]:
        """A flat row for tables (the dashboard, `biocoach eval list`)."""
        return {
            "id": self.id,
            "name": self.name,
            "dataset": self.dataset,
            "T-F": round(self.t_f_score, 4),
            "P": round(self.precision, 4),
            "R": round(self.recall, 4),
            **{
                k: (None if self.metrics.get(k) is None else round(float(self.metrics[k] or 0.0), 4))
                for k in ("meteor", "rouge_l", "bertscore", "llm_accuracy", "llm_bio_accuracy")
            },
            "gt/pred/matched": f"{self.n_gt}/{self.n_pred}/{self.n_matched}",
            "bertscore model": self.models.get("bertscore", ""),
            "judge": self.models.get("judge", ""),
            "created": self.created_at.strftime("%Y-%m-%d %H:%M:%S"),
        }


@dataclass(frozen=True)
class StoredEvaluation:
    summary: EvaluationSummary
    document: dict[str, Any]  # the --json document without per-clip rows
    clips: list[dict[str, Any]]


_COLUMNS = (
    "id, name, dataset, predictions, ground_truth, t_f_score, precision, recall, n_gt, n_pred, n_matched, "
    "models_json, settings_json, summary_json, code_version, created_at"
)


class EvaluationRepository:
    def __init__(self, session: Session):
        self.s = session

    def save(self, document: Mapping[str, Any], *, name: str, code_version: str) -> int:
        """Store a ``biocoach eval --json`` document (with ``per_clip``); returns the evaluation id."""
        doc = dict(document)
        clips = list(doc.pop("per_clip", []))
        with self.s.transaction():
            eid = int(
                self.s.scalar(
                    f"INSERT INTO evaluations ({_COLUMNS.replace('id, ', '', 1)}) VALUES "
                    "(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id",
                    [
                        name,
                        str(doc.get("dataset", "")),
                        str(doc.get("predictions", "")),
                        str(doc.get("ground_truth", "")),
                        float(doc["t_f_score"]),
                        float(doc["precision"]),
                        float(doc["recall"]),
                        int(doc["n_gt"]),
                        int(doc["n_pred"]),
                        int(doc["n_matched"]),
                        canonical_json(dict(doc.get("models", {}))),
                        canonical_json(dict(doc.get("settings", {}))),
                        _json(doc),
                        code_version,
                        utc_now(),
                    ],
                )
            )
            for c in clips:
                details = {k: c.get(k) for k in ("matches", "missed", "spurious", "precision", "recall")}
                self.s.execute(
                    "INSERT INTO evaluation_clips (evaluation_id, clip_id, exercise, n_gt, n_pred, matched_gt, "
                    "matched_pred, f_score, meteor, rouge_l, bertscore, details_json) "
                    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    [
                        eid,
                        c["clip_id"],
                        c.get("exercise"),
                        int(c["n_gt"]),
                        int(c["n_pred"]),
                        int(c["matched_gt"]),
                        int(c["matched_pred"]),
                        float(c["t_f_score"]),
                        c.get("meteor"),
                        c.get("rouge_l"),
                        c.get("bertscore"),
                        _json(details),
                    ],
                )
            models = dict(doc.get("models", {}))
            for metric in METRICS:
                value = doc.get(metric)
                if value is None:
                    continue
                model = models.get("judge") if metric.startswith("llm_") else models.get(metric)
                self.s.execute(
                    "INSERT INTO evaluation_results (run_id, dataset, metric, value, details_json, created_at, "
                    "evaluation_id) VALUES (NULL, ?, ?, ?, ?, ?, ?)",
                    [
                        str(doc.get("dataset", "")),
                        metric,
                        float(value),
                        canonical_json({"model": model} if model else {}),
                        utc_now(),
                        eid,
                    ],
                )
        return eid

    def all(self, limit: int = 200) -> list[EvaluationSummary]:
        rows = self.s.all(f"SELECT {_COLUMNS} FROM evaluations ORDER BY id DESC LIMIT ?", [limit])
        return [self._summary(r) for r in rows]

    def get(self, evaluation_id: int) -> StoredEvaluation:
        r = self.s.one(f"SELECT {_COLUMNS} FROM evaluations WHERE id = ?", [evaluation_id])
        if r is None:
            raise StoreError(f"evaluation {evaluation_id} does not exist in the store")
        rows = self.s.all(
            "SELECT clip_id, exercise, n_gt, n_pred, matched_gt, matched_pred, f_score, meteor, rouge_l, bertscore, "
            "details_json FROM evaluation_clips WHERE evaluation_id = ? ORDER BY clip_id",
            [evaluation_id],
        )
        clips = [
            {
                "clip_id": c[0],
                "exercise": c[1],
                "n_gt": c[2],
                "n_pred": c[3],
                "matched_gt": c[4],
                "matched_pred": c[5],
                "t_f_score": c[6],
                "meteor": c[7],
                "rouge_l": c[8],
                "bertscore": c[9],
                **json.loads(c[10]),
            }
            for c in rows
        ]
        return StoredEvaluation(self._summary(r), json.loads(r[13]), clips)

    def metric_rows(self, evaluation_id: int) -> list[tuple[str, float, dict[str, Any]]]:
        rows = self.s.all(
            "SELECT metric, value, details_json FROM evaluation_results WHERE evaluation_id = ? ORDER BY id",
            [evaluation_id],
        )
        return [(str(m), float(v), json.loads(d)) for m, v, d in rows]

    def compare(self, a: int, b: int) -> list[dict[str, Any]]:
        """Metric by metric: A, B, B − A, and who scored (numbers from different scorers are flagged)."""
        ea, eb = self.get(a).summary, self.get(b).summary
        out = []
        for metric in METRICS:
            va, vb = ea.metrics.get(metric), eb.metrics.get(metric)
            scorer_key = "judge" if metric.startswith("llm_") else metric
            ma, mb = ea.models.get(scorer_key, ""), eb.models.get(scorer_key, "")
            out.append(
                {
                    "metric": metric,
                    "A": va,
                    "B": vb,
                    "B - A": None if va is None or vb is None else vb - va,
                    "comparable": ma == mb,
                    "scorer A": ma,
                    "scorer B": mb,
                }
            )
        return out

    @staticmethod
    def _summary(r: tuple[Any, ...]) -> EvaluationSummary:
        doc = json.loads(r[13])
        metrics = {m: doc.get(m) for m in METRICS}
        return EvaluationSummary(
            id=int(r[0]),
            name=r[1],
            dataset=r[2],
            predictions=r[3],
            ground_truth=r[4],
            t_f_score=float(r[5]),
            precision=float(r[6]),
            recall=float(r[7]),
            n_gt=int(r[8]),
            n_pred=int(r[9]),
            n_matched=int(r[10]),
            metrics=metrics,
            models=json.loads(r[11]),
            settings=json.loads(r[12]),
            code_version=r[14],
            created_at=r[15],
        )


def _json(value: Any) -> str:
    """Standard JSON for the store (a non-finite number is null, never the NaN token)."""
    return json_text(value, indent=None, default=str, sort_keys=True)
