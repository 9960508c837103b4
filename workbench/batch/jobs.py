"""What a batch job is made of: stages with parameters, clips, work items keyed by content, and results.

A work item is one stage on one clip. Its key is ``<clip sha256>:<stage>:<parameter hash>``, so the key says
everything the result depends on: the clip's bytes (not its name), the stage, and the stage's parameters
(backend, code version, the store's rules/reference/threshold versions, the coach). A re-run computes the same
keys and finds them done; an edit of a threshold changes the analysis parameters and so the key.

Everything here is plain data that pickles: tasks travel to worker processes or Ray workers and results come
back to the driver, which alone writes the store.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

StageName = Literal["pose", "analysis", "coaching", "evaluation"]
STAGE_ORDER: tuple[StageName, ...] = ("pose", "analysis", "coaching", "evaluation")
ItemStatus = Literal["pending", "running", "done", "failed"]
DEFAULT_MAX_ATTEMPTS = 3


def canonical(obj: Any) -> str:
    """Sorted-key compact JSON: equal parameters give equal text, hence equal hashes."""
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), default=str)


def params_hash(stage: str, params: dict[str, Any]) -> str:
    return hashlib.sha256(canonical({"stage": stage, "params": params}).encode()).hexdigest()[:16]


def work_key(clip_hash: str, stage: str, params: dict[str, Any]) -> str:
    return f"{clip_hash}:{stage}:{params_hash(stage, params)}"


@dataclass(frozen=True)
class StageSpec:
    """One stage with the parameters its result depends on (all of them: they form the work key)."""

    name: StageName
    params: dict[str, Any] = field(default_factory=dict)

    @property
    def params_hash(self) -> str:
        return params_hash(self.name, self.params)

    def key(self, clip_hash: str) -> str:
        return work_key(clip_hash, self.name, self.params)


@dataclass(frozen=True)
class ClipRef:
    """A clip as the selection yields it; the content hash is filled in by the driver (it reads the file)."""

    path: Path
    exercise: str | None = None
    source: str = ""  # where it came from: "folder", "glob", "qevd:<split>", "store"
    content_hash: str | None = None
    start_s: float = 0.0  # a segment of a longer video (QEVD sessions); 0 = from the start
    metadata: dict[str, Any] = field(default_factory=dict)


@dataclass
class Task:
    """What one worker call does: the pending stages of one clip, in order. ``inputs`` carries the results
    of earlier stages already done (a pose track's npz bytes), so a resumed job never recomputes them."""

    clip: ClipRef
    stages: list[StageSpec]
    keys: list[str]
    inputs: dict[str, Any] = field(default_factory=dict)
    context: dict[str, Any] = field(default_factory=dict)  # resolved once by the driver: exercises, versions
    delay_s: float = 0.0  # artificial slowdown per stage (demos and tests of interruption)
    record: frozenset[str] = frozenset()  # keys whose results the driver records (others are recomputed inputs)
    num_gpus: float = 0.0


@dataclass
class StageResult:
    key: str
    stage: StageName
    ok: bool
    seconds: float
    error: str | None = None
    summary: dict[str, Any] = field(default_factory=dict)  # small: goes into batch_items.result_json
    payload: dict[str, Any] = field(default_factory=dict)  # large: pose npz bytes, full analysis JSON


@dataclass
class TaskResult:
    clip: ClipRef
    worker: str
    started_at: float  # epoch seconds on the worker
    finished_at: float
    results: list[StageResult]


@dataclass(frozen=True)
class JobSpec:
    """A whole job as the user asked for it; stored as the job's provenance (spec_json)."""

    name: str
    selection: dict[str, Any]
    stages: list[StageSpec]
    engine: Literal["local", "ray"] = "local"
    workers: int = 2
    max_in_flight: int | None = None  # default: 2 per worker
    max_attempts: int = DEFAULT_MAX_ATTEMPTS
    address: str | None = None
    shard_dir: Path | None = None
    shard_rows: int = 500
    gpus_per_task: float = 1.0  # what a task with a GPU stage asks Ray for (0.5: two share a GPU)
    ship_code: bool = False  # Ray: send the workbench package with runtime_env py_modules
    delay_s: float = 0.0

    @property
    def window(self) -> int:
        return self.max_in_flight or max(2, 2 * self.workers)

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "selection": self.selection,
            "stages": [{"name": s.name, "params": s.params} for s in self.stages],
            "engine": self.engine,
            "workers": self.workers,
            "max_in_flight": self.window,
            "max_attempts": self.max_attempts,
            "address": self.address,
            "shard_dir": str(self.shard_dir) if self.shard_dir else None,
            "gpus_per_task": self.gpus_per_task,
            "ship_code": self.ship_code,
        }
