"""Typed results of a motion analysis and their JSON form (schema ``biocoach.analysis/1``)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import NDArray

SCHEMA = "biocoach.analysis/1"


@dataclass(frozen=True)
class Violation:
    """One failed check (paper Eq. 6) in one rep."""

    rep: int
    check: str  # constraint id from the rule file
    joint: str
    dof: str
    type: str  # "dynamic" (key frame), "stability" or "posture" (static joints)
    value_deg: float
    target_deg: float  # the bound that was crossed
    bounds_deg: tuple[float | None, float | None]
    deviation_deg: float  # distance from the value to the nearest bound
    message: str  # "Right knee flexion insufficient (85° detected, 90° required)"
    cue: str  # what a coach would say to fix it
    phase: str
    t_s: float  # when it was measured (the key frame, or the cycle's middle)
    source: str  # literature key of the bound

    def to_json(self) -> dict[str, Any]:
        return {
            "rep": self.rep,
            "joint": self.joint,
            "dof": self.dof,
            "type": self.type,
            "check": self.check,
            "value_deg": _r(self.value_deg),
            "target_deg": _r(self.target_deg),
            "bounds_deg": [None if b is None else _r(b) for b in self.bounds_deg],
            "deviation_deg": _r(self.deviation_deg),
            "message": self.message,
            "phase": self.phase,
            "t_s": _r(self.t_s, 3),
            "source": self.source,
        }


@dataclass(frozen=True)
class PhaseSpan:
    name: str
    start_s: float
    end_s: float


@dataclass(frozen=True)
class DofMeasure:
    """One DoF's extremes over a rep's whole excursion (smoothed angles, degrees)."""

    peak_deg: float
    min_deg: float

    @property
    def range_deg(self) -> float:
        return self.peak_deg - self.min_deg


@dataclass(frozen=True)
class CheckMeasure:
    """One judged check's value in a rep against the bounds it was held to (None: open)."""

    value_deg: float
    bounds_deg: tuple[float | None, float | None]

    @property
    def passed(self) -> bool:
        lo, hi = self.bounds_deg
        return not ((lo is not None and self.value_deg < lo) or (hi is not None and self.value_deg > hi))


@dataclass(frozen=True)
class RepMeasures:
    """What was measured in one rep, clean or not (``workbench.motion.measures``). JSON: ``dofs`` (SKEL name →
    ``peak_deg``, ``min_deg``, ``range_deg``; the observed DoFs of the salient joints only), ``tempo`` (seconds:
    ``descent_s``, ``hold_s``, ``ascent_s`` for a rep; each phase's ``<name>_s`` otherwise), ``quality`` and
    ``checks`` (constraint id → ``value_deg``, ``bounds_deg`` [low, high] with null open, ``passed``)."""

    dofs: dict[str, DofMeasure] = field(default_factory=dict)
    tempo: dict[str, float] = field(default_factory=dict)
    quality: float | None = None
    checks: dict[str, CheckMeasure] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {
            "dofs": {
                n: {"peak_deg": _r(m.peak_deg), "min_deg": _r(m.min_deg), "range_deg": _r(m.range_deg)}
                for n, m in self.dofs.items()
            },
            "tempo": {k: _r(v, 3) for k, v in self.tempo.items()},
            "quality": None if self.quality is None else _r(self.quality, 4),
            "checks": {
                k: {
                    "value_deg": _r(c.value_deg),
                    "bounds_deg": [None if b is None else _r(b) for b in c.bounds_deg],
                    "passed": c.passed,
                }
                for k, c in self.checks.items()
            },
        }


@dataclass(frozen=True)
class Rep:
    index: int
    start_s: float
    end_s: float
    kind: str  # "rep", "alternating" or "hold"
    quality: float | None  # s_cycle against the reference, None without a reference
    phases: tuple[PhaseSpan, ...]
    violations: tuple[Violation, ...]
    side: str | None = None  # working side of a unilateral move
    start_frame: int = 0
    end_frame: int = 0
    # Ranking score: distance from the reference in units of its spread (exercises.scoring), and the
    # calibrated features behind it as (name, value, term).
    score: float | None = None
    score_terms: tuple[tuple[str, float, float], ...] = ()
    # The rep time-normalised onto the reference grid, seen from the reference side: (46, n) radians.
    # Not in the JSON; calibration builds references and features from it.
    cycle: NDArray[np.float64] | None = field(default=None, compare=False, repr=False)
    # Every judged check's measured value by constraint id (mirrored checks under their own id), not in the JSON.
    check_values: dict[str, float] = field(default_factory=dict, compare=False, repr=False)
    # DoFs (SKEL names) whose checks were skipped in this rep because they were seen too poorly (per-side trust).
    not_judged: tuple[str, ...] = ()
    side_known: bool = True  # unilateral: False when the data did not tell the working side (reference side assumed)
    variant: str | None = None  # the exercise variant whose reference the rep was compared with (None: the main one)
    measures: RepMeasures = field(default_factory=RepMeasures, compare=False, repr=False)  # per-rep measures

    @property
    def severity_deg(self) -> float:
        return float(sum(v.deviation_deg for v in self.violations))

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "index": self.index,
            "start_s": _r(self.start_s, 3),
            "end_s": _r(self.end_s, 3),
            "kind": self.kind,
            "quality": None if self.quality is None else _r(self.quality, 4),
            "phases": [{"name": p.name, "start_s": _r(p.start_s, 3), "end_s": _r(p.end_s, 3)} for p in self.phases],
            "violations": [v.to_json() for v in self.violations],
            "severity_deg": _r(self.severity_deg),
            "score": None if self.score is None else _r(self.score, 4),
            "measures": self.measures.to_json(),
        }
        if self.score_terms:
            out["score_terms"] = [{"feature": n, "value": _r(v, 3), "term": _r(z, 4)} for n, v, z in self.score_terms]
        if self.side is not None:
            out["side"] = self.side
            if not self.side_known:
                out["side_known"] = False
        if self.variant is not None:
            out["variant"] = self.variant
        if self.not_judged:
            out["not_judged"] = list(self.not_judged)
        return out


@dataclass(frozen=True)
class FeedbackEvent:
    """One coaching line. JSON: ``t_s``, ``text``, ``kind``, ``n_tokens``, ``step`` (the 4 Hz decision step it
    started at, null offline) and ``evidence``: an object with ``tags`` (short "rep 3: knee_depth" labels) and,
    from a coach run, the ``violations``, ``rep``, ``phase`` and ``context_motion`` the line was conditioned on."""

    t_s: float
    text: str
    evidence: list[str]  # short tags, as stored with a run and compared between runs
    kind: str | None = None  # corrective / instructional / motivational / counting
    n_tokens: int | None = None
    step: int | None = None
    details: dict[str, Any] | None = None  # structured evidence (coaching.Evidence.to_json())

    def to_json(self) -> dict[str, Any]:
        return {
            "t_s": _r(self.t_s, 3),
            "text": self.text,
            "kind": self.kind,
            "n_tokens": self.n_tokens,
            "step": self.step,
            "evidence": {"tags": list(self.evidence), **(self.details or {})},
        }

    @classmethod
    def from_json(cls, doc: dict[str, Any]) -> FeedbackEvent:
        """The inverse of :meth:`to_json` (``evidence`` may also be a plain list of tags)."""
        evidence = doc.get("evidence") or {}
        if isinstance(evidence, dict):
            tags, details = list(evidence.get("tags", [])), {k: v for k, v in evidence.items() if k != "tags"}
        else:
            tags, details = [str(e) for e in evidence], {}
        return cls(
            t_s=float(doc.get("t_s") or 0.0),
            text=str(doc.get("text", "")),
            evidence=tags,
            kind=doc.get("kind"),
            n_tokens=doc.get("n_tokens"),
            step=doc.get("step"),
            details=details or None,
        )


@dataclass
class Analysis:
    exercise: str
    fps: float
    n_frames: int
    duration_s: float
    salient_joints: list[str]
    reps: list[Rep]
    context_morph: str
    context_motion: str
    feedback: list[FeedbackEvent]
    warnings: list[str]
    provenance: dict[str, Any] = field(default_factory=dict)
    body: dict[str, Any] | None = None  # body measurements behind C_morph, when there are any
    pose_fit: dict[str, Any] | None = None  # the fitted skeleton's reprojection error (pose.reprojection)

    def prepend_warnings(self, earlier: list[str]) -> None:
        """Put the warnings of earlier stages (pose, body) first, each warning once, in order (the body's
        measurement notes reach the analysis both directly and through the pose estimate)."""
        self.warnings = unique(list(earlier) + self.warnings)

    def to_json(self) -> dict[str, Any]:
        return {
            "schema": SCHEMA,
            "exercise": self.exercise,
            "fps": _r(self.fps, 6),
            "n_frames": self.n_frames,
            "duration_s": _r(self.duration_s, 3),
            "provenance": self.provenance,
            "salient_joints": self.salient_joints,
            "reps": [r.to_json() for r in self.reps],
            "context": {"morph": self.context_morph, "motion": self.context_motion},
            "feedback": [f.to_json() for f in self.feedback],
            "warnings": self.warnings,
            "body": self.body,
            "pose_fit": self.pose_fit,
        }


def _r(x: float, nd: int = 2) -> float:
    return round(float(x), nd)


def unique(warnings: list[str]) -> list[str]:
    """Each warning once, in the order first given (several stages may report the same problem)."""
    return list(dict.fromkeys(warnings))
