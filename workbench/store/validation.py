"""Whether an exercise, as the store would hold it after an edit, is still a valid rule file.

The rules-body and threshold repositories call this before they write, and it reads them back: the modules
import each other as modules (``from workbench.store import rules_repo``), names resolved at call time."""

from __future__ import annotations

from typing import Any

from workbench.exercises.catalogue import Constraint
from workbench.store import exercises_repo, joint_classes_repo, rules_repo, thresholds_repo
from workbench.store.rules import rule_dict, validate_rules
from workbench.store.session import Session


def current_rule_dict(
    s: Session, exercise: str, *, replacing: Constraint | None = None, body: dict[str, Any] | None = None
) -> dict[str, Any]:
    """The exercise's rule file as the store currently holds it, optionally with one threshold or the body
    replaced."""
    body = rules_repo.RuleRepository(s).get(exercise).body if body is None else body
    dynamic, static = joint_classes_repo.JointClassRepository(s).current(exercise)
    thresholds = thresholds_repo.ThresholdRepository(s).current(exercise, include_removed=True)
    specs = {t.spec.id: t.spec for t in thresholds}
    if replacing is not None:
        specs[replacing.id] = replacing
    return rule_dict(exercise, body, dynamic, static, tuple(specs.values()))


def validate_exercise(
    s: Session, exercise: str, *, replacing: Constraint | None = None, body: dict[str, Any] | None = None
) -> None:
    """Raise ValidationError if the exercise, with ``replacing`` or ``body`` applied, is not a valid rule file."""
    exercises_repo.ExerciseRepository(s).require(exercise)
    rules = current_rule_dict(s, exercise, replacing=replacing, body=body)
    validate_rules(rules, f"{s.path}::exercises/{exercise}.yaml")


__all__ = ["current_rule_dict", "validate_exercise"]
