"""C_motion and C_morph as text, exactly in the paper's format (§3.4.1, §3.4.2 Eq. 7–8, supplement §12.2).

Current pose: right knee 85°, left knee 88°, right hip 75°.
Form issues: Right knee flexion insufficient (85° detected, 90° required, 5° short)
Reps completed: 4.

Two additions to the paper's text, so that every number a coach says is one its context states (the neural
coach copies numbers; it cannot do arithmetic): a violation states how far it is from its bound ("5° short",
"3° over": the "by 5°" of the supplement's corrective lines), and a rep exercise's C_motion ends with the
number of reps completed (the "That's 10!" of counting lines).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import NDArray

from workbench.motion.results import Violation

if TYPE_CHECKING:
    from workbench.body.measurements import Measurements
from workbench.body.measurements import Measurements
from workbench.skeleton import joint

NO_ISSUES = "none"
POSE_PREFIX = "Current pose: "
NO_POSE_YET = POSE_PREFIX + "no pose yet."  # C_motion before the first valid frame


def pose_state(
    q_row: NDArray[np.float64],
    salient_joints: Sequence[str],
    observed: NDArray[np.bool_],
    trusted: NDArray[np.bool_] | None = None,
) -> str:
    """Eq. 7: the primary angle of each salient joint the source observes, in degrees; with ``trusted`` (46,),
    a joint whose primary DoF is not trusted now (seen too poorly) is left out rather than stated."""
    parts = []
    for name in salient_joints:
        j = joint(name)
        if trusted is not None and not trusted[j.primary_dof]:
            continue
        if observed[j.primary_dof] and math.isfinite(q_row[j.primary_dof]):
            parts.append(f"{j.label} {round(math.degrees(q_row[j.primary_dof])) + 0}°")
    return POSE_PREFIX + (", ".join(parts) if parts else "no salient joint observed") + "."


def form_issues(violations: Sequence[Violation]) -> str:
    """The violations, largest deviation first (ties by check id): the order a coach addresses them in, so a
    model reading C_motion finds the one to correct first where the rule coach's ``worst_first`` picks it."""
    ranked = sorted(violations, key=lambda v: (-v.deviation_deg, v.check))
    return "Form issues: " + ("; ".join(v.message for v in ranked) if ranked else NO_ISSUES)


REPS_PREFIX = "Reps completed: "


def motion_context(state: str, violations: Sequence[Violation], reps_completed: int | None = None) -> str:
    """Eq. 8: pose state then the violations of the most recently completed cycle; with ``reps_completed`` (rep
    exercises, not holds), the count of reps completed so far."""
    text = f"{state}\n{form_issues(violations)}"
    return text if reps_completed is None else f"{text}\n{REPS_PREFIX}{reps_completed}."


def reps_completed(exercise: Any, reps: Sequence[Any]) -> int | None:
    """The rep count C_motion states: the reps completed, for an exercise done in reps; None for a static hold,
    whose cycles are windows of the hold, not reps."""
    kind = getattr(getattr(exercise, "cycle", None), "kind", None)
    return None if kind == "static_hold" else len(reps)


def violation_message(label: str, issue: str, value: float, target: float, kind: str, low: bool) -> str:
    """'Right knee flexion insufficient (85° detected, 90° required, 5° short)'."""
    subject = label[:1].upper() + label[1:]
    if kind == "stability":
        shown, bound = distinct(value, target, 1)
        return f"{subject} {issue} ({shown}° variation, under {bound}° required)"
    shown, bound = distinct(value, target)
    if kind == "symmetry":
        return f"{subject} {issue} ({shown}° apart from the other side, at most {bound}°)"
    need = "required" if low else "maximum"
    gap = f"{deviation_text(abs(value - target))}° {'short' if low else 'over'}"
    return f"{subject} {issue} ({shown}° detected, {bound}° {need}, {gap})"


def findings(context_motion: str) -> str:
    """C_motion without its pose-state line: the findings a coach's numbers come from (each violation's value,
    bound and gap, the rep count). The pose line's angles are the instantaneous state the coach watches, not
    something it reports: the rule coach never says one, and a model that copies one says a wrong number."""
    return "\n".join(line for line in context_motion.splitlines() if not line.startswith(POSE_PREFIX))


def deviation_text(x: float) -> str:
    """How far a value lies outside its bound, as a coach says it: whole degrees; under 1°, as many decimals as
    keep it above zero (up to three)."""
    if x >= 1:
        return f"{x:.0f}"
    return next((f"{x:.{nd}f}" for nd in (1, 2) if round(x, nd) > 0), f"{x:.3f}")


def distinct(value: float, bound: float, decimals: int = 0) -> tuple[str, str]:
    """``value`` and the ``bound`` it violates as text, whole degrees unless they would read equal ('45°
    detected, 45° maximum'): then with as many decimals as tell them apart (up to three). A whole-degree bound
    stays whole."""
    for nd in range(decimals, 4):
        shown = f"{value:.{nd}f}"
        bound_text = f"{bound:.{nd}f}"
        if shown != bound_text:
            return shown, (f"{bound:.0f}" if float(bound).is_integer() else bound_text)
    return f"{value:.3f}", f"{bound:.3f}"


def morph_context(measurements: Measurements | dict[str, float] | None) -> str:
    """C_morph (§3.4.1): body measurements in the paper's format; a landmark estimate states its method and
    uncertainty (``Measurements.to_context``); without measurements it says so."""
    if isinstance(measurements, Measurements):
        return measurements.to_context()
    if not measurements:
        return "User body: not measured (no body shape estimate in this track)."
    return (
        f"User body: height {measurements['height_m']:.2f}m, mass {measurements['mass_kg']:.2f}kg, "
        f"chest {measurements['chest_m']:.2f}m, waist {measurements['waist_m']:.2f}m, "
        f"hips {measurements['hips_m']:.2f}m."
    )


__all__ = ["findings", "morph_context", "motion_context", "pose_state", "violation_message"]
