"""Limits on what an input may hold, checked before anything is allocated for it.

A few kilobytes can describe gigabytes: a 300-frame pose file whose last time stamp is 1e5 s resamples to
three million frames, a 1.8 MB compressed array can hold ten million frames. So every reader checks the sizes
an input *declares* (array headers, frame counts, time spans, string lengths) against these limits first,
and refuses an input beyond one with a message naming the limit, the value and where to change it.

The defaults allow two hours of pose at up to 240 fps and keep the analysis of any input under 10 MB within
2 GB of memory (``tests/badinput``). Change them under ``limits:`` in the configuration file, e.g.::

    limits:
      max_duration_s: 14400     # four hours
      max_frames: 432000

``workbench.config.current_limits()`` is what the readers use: the defaults, overridden by the configuration
file (found as ``load_config`` finds it, or given with ``--config``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, fields, replace
from typing import Any

from workbench.errors import WorkbenchError


@dataclass(frozen=True)
class Limits:
    """What one input may hold (``biocoach.yaml``: ``limits:``)."""

    max_frames: int = 216_000  # frames in one pose or landmark track (2 h at 30 fps)
    max_duration_s: float = 7_200.0  # seconds one track spans (last time stamp − first)
    max_gap_s: float = 10.0  # the longest interval between two time stamps (longer is a recording pause)
    max_resampled_frames: int = 216_000  # frames a variable-rate track may become on its uniform grid
    min_fps: float = 1.0
    max_fps: float = 1_000.0
    max_array_elements: int = 20_000_000  # values in one array of an .npz (q: T × 46; landmarks: T × 33 × 3)
    max_string_chars: int = 10_000  # a text field of a file (a pose file's ``source``)
    max_input_bytes: int = 2_000_000_000  # a pose, landmark, predictions or ground-truth file on disk
    max_text_bytes: int = 50_000_000  # a landmark CSV, once decompressed (~15 min at 30 fps; longer: the .npz layout)
    max_json_bytes: int = 200_000_000  # a predictions or ground-truth JSON file
    max_json_depth: int = 64  # nesting of lists and objects in those files
    angle_margin_deg: float = 90.0  # a pose angle beyond SKEL's soft limits by more than this is refused

    def __post_init__(self) -> None:
        for f in fields(self):
            value = getattr(self, f.name)
            if isinstance(value, bool) or not isinstance(value, int | float) or not 0 < value < math.inf:
                raise WorkbenchError(f"limits.{f.name}: expected a positive number, got {value!r}")
        if self.min_fps >= self.max_fps:
            raise WorkbenchError(f"limits.min_fps: expected less than max_fps ({self.max_fps:g}), got {self.min_fps:g}")


DEFAULT = Limits()


def from_mapping(raw: Any, where: str) -> Limits:
    """Limits from the configuration's ``limits:`` mapping (unknown names and non-numbers refused)."""
    if raw is None:
        return DEFAULT
    if not isinstance(raw, dict):
        raise WorkbenchError(f"{where}: limits: expected a mapping of limit names to numbers, got {type(raw).__name__}")
    known = {f.name: f.type for f in fields(Limits)}
    unknown = sorted(set(raw) - set(known))
    if unknown:
        raise WorkbenchError(
            f"{where}: limits: unknown limit(s) {', '.join(map(str, unknown))}; expected {', '.join(sorted(known))}"
        )
    values: dict[str, Any] = {}
    for name, value in raw.items():
        if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
            raise WorkbenchError(f"{where}: limits.{name}: expected a finite number, got {value!r}")
        values[name] = int(value) if known[name] in ("int", int) else float(value)
    try:
        return replace(DEFAULT, **values)
    except WorkbenchError as exc:
        raise WorkbenchError(f"{where}: {exc}") from None


def exceeded(what: str, value: float, limit: float, name: str) -> str:
    """The message of a refusal: what, the value, the limit and where to change it."""
    return (
        f"{what}: expected at most {_number(limit)}, got {_number(value)} (limit {name}; raise it under "
        f"`limits:` in biocoach.yaml)"
    )


def _number(x: float) -> str:
    if isinstance(x, int) or (math.isfinite(x) and x == int(x) and abs(x) < 1e15):
        return f"{int(x):,}"
    return f"{x:.6g}"
