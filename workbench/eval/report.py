"""A static, self-contained HTML report of an evaluation: tables, a timeline per clip and metric distributions.

Plots are rendered with matplotlib (Agg) and inlined as base64 PNGs, so the file opens anywhere, offline.
"""

from __future__ import annotations

import base64
import html
import io
from pathlib import Path
from typing import Any

from workbench.eval.evaluate import _f

MAX_TIMELINE_CLIPS = 60  # beyond that the timeline figure is split into several images


def _png(fig: Any) -> str:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=90, bbox_inches="tight")
    import matplotlib.pyplot as plt

    plt.close(fig)
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode("ascii")


def timeline_figure(per_clip: list[dict[str, Any]]) -> str:
    """One row per clip: matched ground truth (green) joined to its prediction, missed ground truth (red),
    spurious predictions (orange)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    n = max(1, len(per_clip))
    fig, ax = plt.subplots(figsize=(10, 0.45 * n + 1.2))
    for row, clip in enumerate(per_clip):
        y = n - 1 - row
        for m in clip["matches"]:
            ax.plot([m["gt_t"], m["pred_t"]], [y + 0.12, y - 0.12], color="#2ca02c", lw=1)
            ax.scatter([m["gt_t"]], [y + 0.12], color="#2ca02c", marker="o", s=18, zorder=3)
            ax.scatter([m["pred_t"]], [y - 0.12], color="#2ca02c", marker="^", s=18, zorder=3)
        ax.scatter(
            [x["t"] for x in clip["missed"]],
            [y + 0.12] * len(clip["missed"]),
            color="#d62728",
            marker="o",
            s=18,
            zorder=3,
        )
        ax.scatter(
            [x["t"] for x in clip["spurious"]],
            [y - 0.12] * len(clip["spurious"]),
            color="#ff7f0e",
            marker="^",
            s=18,
            zorder=3,
        )
    ax.set_yticks(range(n))
    ax.set_yticklabels([c["clip_id"] for c in reversed(per_clip)] or [""], fontsize=7)
    ax.set_xlabel("time from the clip start (s)  —  ● ground truth (upper), ▲ prediction (lower)")
    from matplotlib.lines import Line2D

    ax.legend(
        handles=[
            Line2D([], [], color="#2ca02c", marker="o", label="matched (|Δt| < 1.5 s)"),
            Line2D([], [], color="#d62728", marker="o", ls="", label="missed ground truth"),
            Line2D([], [], color="#ff7f0e", marker="^", ls="", label="spurious prediction"),
        ],
        loc="upper right",
        fontsize=7,
    )
    ax.grid(axis="x", alpha=0.3)
    return _png(fig)


def distributions_figure(per_clip: list[dict[str, Any]]) -> str:
    """Histograms of the per-pair METEOR, ROUGE-L and BERTScore, and of the per-clip T-F-Score."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    series = {
        "METEOR (pairs)": [m["meteor"] for c in per_clip for m in c["matches"] if m.get("meteor") is not None],
        "ROUGE-L (pairs)": [m["rouge_l"] for c in per_clip for m in c["matches"] if m.get("rouge_l") is not None],
        "BERTScore (pairs)": [m["bertscore"] for c in per_clip for m in c["matches"] if m.get("bertscore") is not None],
        "T-F-Score (clips)": [c["t_f_score"] for c in per_clip],
    }
    fig, axes = plt.subplots(1, 4, figsize=(12, 2.6))
    for ax, (name, values) in zip(axes, series.items(), strict=True):
        if values:
            ax.hist(values, bins=10, range=(0, 1), color="#1f77b4")
        else:
            ax.text(0.5, 0.5, "none", ha="center", va="center", transform=ax.transAxes)
        ax.set_title(name, fontsize=9)
        ax.set_xlim(0, 1)
    fig.tight_layout()
    return _png(fig)


def render_html(doc: dict[str, Any], title: str = "BioCoach evaluation") -> str:
    per_clip = doc.get("per_clip", [])
    models = doc.get("models", {})
    judges = doc.get("judges", {})
    overall = [
        ("T-F-Score", _f(doc["t_f_score"])),
        ("precision", _f(doc["precision"])),
        ("recall", _f(doc["recall"])),
        ("ground truth", doc["n_gt"]),
        ("predicted", doc["n_pred"]),
        ("matched", doc["n_matched"]),
        ("METEOR", _f(doc.get("meteor"))),
        ("ROUGE-L", _f(doc.get("rouge_l"))),
        ("BERTScore", _f(doc.get("bertscore"))),
    ]
    for kind, label in (("llm_accuracy", "LLM-Accuracy"), ("llm_bio_accuracy", "LLM-Bio-Accuracy")):
        j = judges.get(kind)
        overall.append(
            (
                label,
                f"{_f(j['mean'])} (judge {j['model']}; {j['n_scored']} scored, {j['n_dropped']} dropped)"
                if j
                else "not judged",
            )
        )
    e = html.escape
    parts = [
        f"<!doctype html><html><head><meta charset='utf-8'><title>{e(title)}</title><style>"
        "body{font-family:sans-serif;margin:2em;max-width:1200px}table{border-collapse:collapse;margin:1em 0}"
        "td,th{border:1px solid #ccc;padding:3px 8px;font-size:13px;text-align:left}th{background:#f3f3f3}"
        ".num{text-align:right}img{max-width:100%}</style></head><body>",
        f"<h1>{e(title)}</h1>",
        f"<p>Predictions: <code>{e(str(doc.get('predictions', '')))}</code><br>Ground truth: "
        f"<code>{e(str(doc.get('ground_truth', '')))}</code> ({e(str(doc.get('dataset', '')))})</p>",
        "<h2>Overall</h2><table>",
    ]
    parts += [f"<tr><th>{e(k)}</th><td class='num'>{e(str(v))}</td></tr>" for k, v in overall]
    parts.append("</table><h2>Models that scored</h2><table>")
    parts += [f"<tr><th>{e(k)}</th><td>{e(str(v))}</td></tr>" for k, v in models.items()]
    parts.append(
        "</table><p>Numbers scored by different models (BERTScore encoder, LLM judge) are not comparable "
        "with each other or with published ones.</p>"
    )
    for w in doc.get("warnings", []):
        parts.append(f"<p><b>Note:</b> {e(w)}</p>")
    parts.append(f"<h2>Timeline</h2><img alt='timeline' src='{timeline_figure(per_clip[:MAX_TIMELINE_CLIPS])}'>")
    parts.append(f"<h2>Metric distributions</h2><img alt='distributions' src='{distributions_figure(per_clip)}'>")
    parts.append(
        "<h2>Per clip</h2><table><tr><th>clip</th><th>exercise</th><th>gt</th><th>pred</th><th>matched gt"
        "</th><th>matched pred</th><th>T-F</th><th>METEOR</th><th>ROUGE-L</th><th>BERTScore</th></tr>"
    )
    for c in per_clip:
        parts.append(
            f"<tr><td>{e(c['clip_id'])}</td><td>{e(str(c.get('exercise') or ''))}</td>"
            f"<td class='num'>{c['n_gt']}</td><td class='num'>{c['n_pred']}</td>"
            f"<td class='num'>{c['matched_gt']}</td><td class='num'>{c['matched_pred']}</td>"
            f"<td class='num'>{_f(c['t_f_score'])}</td><td class='num'>{_f(c.get('meteor'))}</td>"
            f"<td class='num'>{_f(c.get('rouge_l'))}</td><td class='num'>{_f(c.get('bertscore'))}</td></tr>"
        )
    parts.append(
        "</table><h2>Matched pairs</h2><table><tr><th>clip</th><th>gt t</th><th>ground truth</th>"
        "<th>pred t</th><th>prediction</th><th>METEOR</th><th>ROUGE-L</th><th>BERTScore</th></tr>"
    )
    for c in per_clip:
        for m in c["matches"]:
            parts.append(
                f"<tr><td>{e(c['clip_id'])}</td><td class='num'>{m['gt_t']:.2f}</td><td>{e(m['gt'])}</td>"
                f"<td class='num'>{m['pred_t']:.2f}</td><td>{e(m['pred'])}</td>"
                f"<td class='num'>{_f(m.get('meteor'))}</td><td class='num'>{_f(m.get('rouge_l'))}</td>"
                f"<td class='num'>{_f(m.get('bertscore'))}</td></tr>"
            )
    parts.append("</table></body></html>")
    return "\n".join(parts)


def write_html(doc: dict[str, Any], path: str | Path, title: str = "BioCoach evaluation") -> Path:
    out = Path(path)
    out.write_text(render_html(doc, title), encoding="utf-8")
    return out
