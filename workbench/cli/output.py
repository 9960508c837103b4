"""What the CLI prints and writes: the analysis JSON and its human-readable digest."""

from __future__ import annotations

from typing import Any

from workbench.io import outputs


def emit(doc: dict[str, Any], json_out: str | None, quiet: bool) -> None:
    """The analysis JSON (standard JSON: a non-finite number is null) to stdout or a file written whole."""
    text = outputs.json_text(doc, indent=2)
    if json_out == "-":
        print(text)
        return
    if json_out:
        outputs.write_text(json_out, text + "\n")
    if not quiet:
        print(summary(doc))
        if json_out:
            print(f"\nanalysis written to {json_out}")


def summary(doc: dict[str, Any]) -> str:
    """A human-readable digest of an analysis JSON."""
    lines = [
        f"exercise {doc['exercise']}: {len(doc['reps'])} rep(s) in {doc['duration_s']:.1f} s at {doc['fps']:.1f} fps"
    ]
    for rep in doc["reps"]:
        q = "-" if rep["quality"] is None else f"{rep['quality']:.2f}"
        side = f" {rep['side']}" if rep.get("side") else ""
        lines.append(
            f"  rep {rep['index'] + 1:>3}{side}: {rep['start_s']:7.2f}-{rep['end_s']:7.2f} s  quality {q}  "
            f"{len(rep['violations'])} issue(s)"
        )
        lines += [f"        {v['message']}" for v in rep["violations"]]
    lines += ["", doc["context"]["morph"], doc["context"]["motion"]]
    if doc["feedback"]:
        lines += ["", "feedback:"] + [f"  {f['t_s']:7.2f} s  {f['text']}" for f in doc["feedback"]]
    if doc["warnings"]:
        lines += ["", "warnings:"] + [f"  - {w}" for w in doc["warnings"]]
    return "\n".join(lines)
