"""The store's typed repositories, re-exported from their modules (one module per repository).

The versioned ones (rules bodies, thresholds, references, salient-joint labels) share
:class:`workbench.store.versioned.VersionedRepository`: append-only versions, compare-and-swap edits,
history, revert and diff. Use them through :meth:`Database.store`::

    with db.store() as store:
        current = store.thresholds.get("squat", "knee_depth")
        store.thresholds.edit("squat", "knee_depth", base_version=current.version, author="alice",
                              note="deeper squats for this group", bounds_deg=(100.0, None))
"""

from __future__ import annotations

from workbench.store.clips_repo import ClipRepository, RegisteredClip, sha256_file
from workbench.store.exercises_repo import ExerciseRepository
from workbench.store.facade import HistoryEntry, Store, StoreStatus
from workbench.store.joint_classes_repo import JointClass, JointClassDecision, JointClassRepository, JointClassSource
from workbench.store.labels_repo import LabelRepository, SalientLabelVersion
from workbench.store.poses_repo import (
    PoseCacheRepository,
    canonical_params,
    landmarks_from_npz,
    landmarks_to_npz,
    track_from_npz,
    track_to_npz,
)
from workbench.store.references_repo import ReferenceDiff, ReferenceRepository, ReferenceVersion, reference_digest
from workbench.store.rules_repo import RuleRepository, RulesVersion
from workbench.store.runs_repo import FeedbackEvent, Run, RunRepository, RunStatus
from workbench.store.thresholds_repo import ThresholdRepository, ThresholdVersion
from workbench.store.validation import current_rule_dict, validate_exercise
from workbench.store.versioned import Kind, Status

__all__ = [
    "ClipRepository",
    "ExerciseRepository",
    "FeedbackEvent",
    "HistoryEntry",
    "JointClass",
    "JointClassDecision",
    "JointClassRepository",
    "JointClassSource",
    "Kind",
    "LabelRepository",
    "PoseCacheRepository",
    "ReferenceDiff",
    "ReferenceRepository",
    "ReferenceVersion",
    "RegisteredClip",
    "RuleRepository",
    "RulesVersion",
    "Run",
    "RunRepository",
    "RunStatus",
    "SalientLabelVersion",
    "Status",
    "Store",
    "StoreStatus",
    "ThresholdRepository",
    "ThresholdVersion",
    "canonical_params",
    "current_rule_dict",
    "landmarks_from_npz",
    "landmarks_to_npz",
    "reference_digest",
    "sha256_file",
    "track_from_npz",
    "track_to_npz",
    "validate_exercise",
]
