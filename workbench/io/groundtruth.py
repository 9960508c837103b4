"""Ground-truth coaching feedback for a clip, when an expert or a dataset provides it.

A sidecar file next to the clip, ``<clip name>.feedback.json``: a JSON list of ``{"t_s": seconds, "text": …}``
(seconds from the clip's start). The QEVD-fit-coach loader (evaluation stage) writes this same shape.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from workbench.errors import WorkbenchError
from workbench.io.inputs import read_json


@dataclass(frozen=True)
class TruthEvent:
    t_s: float
    text: str


def sidecar_path(clip: str | Path) -> Path:
    clip = Path(clip)
    return clip.with_name(clip.name + ".feedback.json")


def load_ground_truth(clip: str | Path) -> list[TruthEvent] | None:
    """The clip's ground-truth feedback, None when it has no sidecar; a malformed one is a clear error."""
    path = sidecar_path(clip)
    if not path.exists():
        return None
    raw = read_json(path)  # strict: UTF-8, standard numbers, within the input limits
    if not isinstance(raw, list):
        raise WorkbenchError(f"{path}: expected a list of {{t_s, text}} objects, got {type(raw).__name__}")
    events = []
    for i, item in enumerate(raw):
        if not isinstance(item, dict) or not _seconds(item.get("t_s")) or not isinstance(item.get("text"), str):
            raise WorkbenchError(
                f'{path}: item {i}: expected {{"t_s": seconds ≥ 0, "text": string}}, got {json.dumps(item)[:80]}'
            )
        events.append(TruthEvent(float(item["t_s"]), item["text"]))
    return sorted(events, key=lambda e: e.t_s)


def _seconds(x: object) -> bool:
    return isinstance(x, int | float) and not isinstance(x, bool) and 0 <= x < float("inf")
