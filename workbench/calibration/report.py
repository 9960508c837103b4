"""The assessment as a self-contained HTML page: per exercise the ROC curves of the score and of the
severity, a per-rep strip plot of the score by label, and the per-check table. Plots are inlined PNGs
(matplotlib, Agg), so the page opens offline."""

from __future__ import annotations

import html
from pathlib import Path
from typing import Any

from workbench.eval.report import _png


def roc_figure(ex: dict[str, Any], title: str) -> str:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(3.6, 3.4))
    for key, label, style in (("roc", "score", "-"), ("roc_severity", "severity_deg", "--")):
        roc = ex.get(key)
        if roc:
            auc = ex.get("auc" if key == "roc" else "auc_severity")
            ax.plot(roc["fpr"], roc["tpr"], style, label=f"{label} (AUC {auc:.3f})")
    ax.plot([0, 1], [0, 1], ":", color="grey", lw=0.8)
    ax.set_xlabel("false-alarm rate (correct reps)")
    ax.set_ylabel("detection rate (incorrect reps)")
    ax.set_title(title, fontsize=9)
    ax.legend(fontsize=7, loc="lower right")
    return _png(fig)


def strip_figure(reps: list[dict[str, Any]], exercise: str) -> str:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    fig, ax = plt.subplots(figsize=(4.2, 3.4))
    rng = np.random.default_rng(0)
    for k, label in enumerate(("correct", "incorrect")):
        values = [
            r["score"] for r in reps if r["exercise_key"] == exercise and r["label"] == label and r["score"] is not None
        ]
        flagged = [
            r["n_violations"] > 0
            for r in reps
            if r["exercise_key"] == exercise and r["label"] == label and r["score"] is not None
        ]
        x = k + rng.uniform(-0.18, 0.18, len(values))
        colours = ["#d62728" if f else "#1f77b4" for f in flagged]
        ax.scatter(x, values, s=10, c=colours, alpha=0.8)
    ax.set_xticks([0, 1])
    ax.set_xticklabels(["correct", "incorrect"])
    ax.set_ylabel("score (spreads from the reference)")
    ax.set_title(f"{exercise}: per-rep score (red: has a violation)", fontsize=9)
    return _png(fig)


def write_html(doc: dict[str, Any], path: str | Path, exercise_keys: dict[str, str]) -> Path:
    """``exercise_keys`` maps each rep row's manifest exercise name to its catalogue key."""
    path = Path(path)
    reps = [dict(r, exercise_key=exercise_keys.get(r["exercise"], r["exercise"])) for r in doc["reps"]]
    parts = [
        "<!doctype html><meta charset='utf-8'><title>BioCoach assessment</title>",
        "<style>body{font-family:sans-serif;margin:1.5em}table{border-collapse:collapse}"
        "td,th{border:1px solid #ccc;padding:2px 6px;font-size:13px}img{margin:4px}</style>",
        "<h1>How well the judgments separate incorrect from correct repetitions</h1>",
    ]
    for key, ex in doc["exercises"].items():
        parts.append(f"<h2>{html.escape(key)}</h2>")
        parts.append(
            f"<p>{ex['n_correct']} correct, {ex['n_incorrect']} incorrect; score AUC {_f(ex['auc'])}, "
            f"severity AUC {_f(ex['auc_severity'])}; at the stored bounds sensitivity "
            f"{_f(ex['sensitivity'])}, specificity {_f(ex['specificity'])}; "
            f"files not found as exactly one rep: {ex['n_reps_not_one']}</p>"
        )
        parts.append(f"<img src='{roc_figure(ex, key)}'><img src='{strip_figure(reps, key)}'>")
        parts.append(
            "<table><tr><th>check</th><th>AUC of its margin</th><th>judged</th><th>sensitivity</th>"
            "<th>specificity</th></tr>"
        )
        for check, c in ex["checks"].items():
            parts.append(
                f"<tr><td>{html.escape(check)}</td><td>{_f(c['auc'])}</td><td>{c['n_judged']}</td>"
                f"<td>{_f(c['sensitivity'])}</td><td>{_f(c['specificity'])}</td></tr>"
            )
        parts.append("</table>")
        for kind, title in (
            ("missed_incorrect", "incorrect reps with no violation"),
            ("flagged_correct", "correct reps flagged"),
        ):
            rows = ex["drivers"][kind]
            if rows:
                items = "".join(_driver_item(r) for r in rows)
                parts.append(f"<h3>{title}</h3><ul>{items}</ul>")
    if doc.get("warnings"):
        parts.append("<h2>Warnings</h2><ul>" + "".join(f"<li>{html.escape(w)}</li>" for w in doc["warnings"]) + "</ul>")
    path.write_text("\n".join(parts), encoding="utf-8")
    return path


def _driver_item(r: dict[str, Any]) -> str:
    checks = html.escape(", ".join(r["checks"]))
    return f"<li>{html.escape(r['file'])} (subject {html.escape(r['subject'])}, score {_f(r['score'])}) {checks}</li>"


def _f(x: float | None) -> str:
    return "n/a" if x is None else f"{x:.3f}"
