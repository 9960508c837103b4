"""Seed the store from ``references/``, export it as files, import files back, and build the analysis's
catalogue from the store's current versions.

The file layout is the one ``references/`` uses (``exercises/<key>.yaml``, ``trajectories/<key>.npy`` and
``<key>_sd.npy``), so an export is a references folder the YAML catalogue can also load. Exports are
deterministic (canonical field order, shortest round-trip floats, no timestamps): export → import → export
gives identical bytes. Imports validate every file before writing anything, then apply all changes in one
transaction: a bad file or a conflict leaves the store as it was.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from workbench.exercises.catalogue import REFERENCES_DIR, Catalogue, Exercise, parse_exercise
from workbench.store.database import ConflictError, Database, ValidationError
from workbench.store.facade import Store
from workbench.store.joint_classes_repo import JointClassSource
from workbench.store.references_repo import ReferenceVersion
from workbench.store.rules import (
    FloatArray,
    RuleFile,
    StoreVersions,
    canonical_json,
    dump_rule_yaml,
    read_rule_file,
    read_trajectory,
    rule_dict,
    trajectory_problems,
)


@dataclass(frozen=True, eq=False)
class ExerciseFiles:
    """One exercise as read from a folder: its rule file and, if present, its reference trajectory."""

    rules: RuleFile
    mean: FloatArray | None
    sd: FloatArray | None


# ---------------------------------------------------------------------------------------------- reading


def read_dir(directory: Path) -> list[ExerciseFiles]:
    """Read and validate a references-layout folder; every problem in every file is reported at once."""
    directory = Path(directory)
    rule_dir, traj_dir = directory / "exercises", directory / "trajectories"
    paths = sorted(rule_dir.glob("*.yaml"))
    if not paths:
        raise ValidationError(f"{rule_dir}: expected exercise rule files (*.yaml), got none")
    problems: list[str] = []
    rules: list[RuleFile] = []
    for path in paths:
        try:
            rules.append(read_rule_file(path))
        except ValidationError as exc:
            problems.append(str(exc))
    problems += _stray_trajectories(traj_dir, {p.stem for p in paths})
    entries = []
    for rule in rules:
        try:
            entries.append(_with_trajectory(rule, traj_dir))
        except ValidationError as exc:
            problems.append(str(exc))
    if problems:
        raise ValidationError(f"{directory}: refused, nothing was changed:\n" + "\n".join(problems))
    return entries


def _with_trajectory(rule: RuleFile, traj_dir: Path) -> ExerciseFiles:
    mean_path, sd_path = traj_dir / f"{rule.key}.npy", traj_dir / f"{rule.key}_sd.npy"
    if not mean_path.exists():
        if sd_path.exists():
            raise ValidationError(f"{mean_path}: expected the mean trajectory beside {sd_path.name}, got no file")
        return ExerciseFiles(rule, None, None)
    if not sd_path.exists():
        raise ValidationError(f"{sd_path}: expected the envelope SD beside {mean_path.name}, got no file")
    mean, sd = read_trajectory(mean_path), read_trajectory(sd_path)
    problems = trajectory_problems(mean, sd, str(mean_path), str(sd_path))
    if problems:
        raise ValidationError("\n".join(problems))
    return ExerciseFiles(rule, mean, sd)


def _stray_trajectories(traj_dir: Path, keys: set[str]) -> list[str]:
    expected = {f"{k}.npy" for k in keys} | {f"{k}_sd.npy" for k in keys}
    return [
        f"{p}: expected a trajectory of an exercise with a rule file (exercises/<key>.yaml), got none for it"
        for p in sorted(traj_dir.glob("*.npy"))
        if p.name not in expected
    ]


# ---------------------------------------------------------------------------------------------- init


@dataclass(frozen=True)
class InitReport:
    added: tuple[str, ...]
    skipped: tuple[str, ...]

    @property
    def changed(self) -> bool:
        return bool(self.added)

    def message(self) -> str:
        if not self.added:
            return f"already initialised: {len(self.skipped)} exercises present; nothing changed"
        kept = f"; {len(self.skipped)} already present were left as they are" if self.skipped else ""
        return f"added {len(self.added)} exercises from the references{kept}"


def init_from_references(
    db: Database, references_dir: Path | None = None, *, author: str = "seed", note: str = "seeded from references/"
) -> InitReport:
    """Create every exercise of ``references_dir`` that the store lacks (idempotent: exercises already in the
    store are never touched — edits to them go through :func:`import_dir`, which keeps history)."""
    entries = read_dir(references_dir or REFERENCES_DIR)
    with db.store() as store, store.transaction():
        present = set(store.exercises.all_keys())
        added = [e.rules.key for e in entries if e.rules.key not in present]
        for entry in entries:
            if entry.rules.key not in present:
                _create(store, entry, author, note, source="paper")
    return InitReport(added=tuple(added), skipped=tuple(sorted(present & {e.rules.key for e in entries})))


def _create(store: Store, entry: ExerciseFiles, author: str, note: str, *, source: JointClassSource) -> None:
    rules = entry.rules
    store.exercises.create(rules.key, author=author)
    store.rules.save(rules.key, rules.body, base_version=None, author=author, note=note, validate=False)
    store.joint_classes.set_lists(
        rules.key, rules.dynamic_joints, rules.static_joints, source=source, who=author, note=note
    )
    for spec in rules.thresholds:
        store.thresholds.save(rules.key, spec, base_version=None, author=author, note=note, validate=False)
    if entry.mean is not None and entry.sd is not None:
        store.references.save(rules.key, entry.mean, entry.sd, base_version=None, author=author, note=note)


# ---------------------------------------------------------------------------------------------- import


@dataclass(frozen=True)
class ImportReport:
    created: tuple[str, ...]  # exercises new to the store
    changes: tuple[str, ...]  # one line per new version ("threshold squat/knee_depth: version 1 → 2")

    @property
    def changed(self) -> bool:
        return bool(self.created or self.changes)

    def message(self) -> str:
        if not self.changed:
            return "nothing changed: every file matches the store's current versions"
        lines = [f"new exercise {k}" for k in self.created] + list(self.changes)
        return "\n".join(lines)


def import_dir(db: Database, in_dir: Path, *, author: str, note: str) -> ImportReport:
    """Validate every file in ``in_dir``, then apply the differences from the store's current versions in one
    transaction. Unchanged items get no new version; a changed one gets exactly one, based on the version the
    file names (an exported file) or the current one (a hand-written file without versions)."""
    if not author.strip():
        raise ValidationError("author: expected who is importing, got an empty name")
    entries = read_dir(Path(in_dir))
    created: list[str] = []
    changes: list[str] = []
    with db.store() as store, store.transaction():
        for entry in entries:
            if not store.exercises.exists(entry.rules.key):
                _create(store, entry, author, note, source="expert")
                created.append(entry.rules.key)
                continue
            try:
                changes += _apply(store, entry, author, note)
            except ConflictError as exc:
                raise ConflictError(
                    f"{entry.rules.path}: {exc}",
                    item=exc.item,
                    base_version=exc.base_version,
                    current_version=exc.current_version,
                ) from None
    return ImportReport(created=tuple(created), changes=tuple(changes))


def _apply(store: Store, entry: ExerciseFiles, author: str, note: str) -> list[str]:
    rules, key = entry.rules, entry.rules.key
    changes: list[str] = []
    current_rules = store.rules.get(key)
    if canonical_json(current_rules.body) != rules.body_json:
        base = rules.base.rules or current_rules.version
        new = store.rules.save(key, rules.body, base_version=base, author=author, note=note, validate=False)
        changes.append(f"rules {key}: version {new.parent_version} → {new.version}")
    if store.joint_classes.set_lists(
        key, rules.dynamic_joints, rules.static_joints, source="expert", who=author, note=note
    ):
        changes.append(f"joint classes {key}: updated")
    changes += _apply_thresholds(store, rules, author, note)
    if entry.mean is not None and entry.sd is not None:
        changes += _apply_reference(store, key, entry.mean, entry.sd, rules.base.reference, author, note)
    return changes


def _apply_thresholds(store: Store, rules: RuleFile, author: str, note: str) -> list[str]:
    key = rules.key
    current = {t.spec.id: t for t in store.thresholds.current(key, include_removed=True)}
    changes = []
    for spec in rules.thresholds:
        old = current.get(spec.id)
        if old is not None and old.spec == spec:
            continue
        base = None if old is None else rules.base.thresholds.get(spec.id, old.version)
        new = store.thresholds.save(key, spec, base_version=base, author=author, note=note, validate=False)
        changes.append(f"threshold {key}/{spec.id}: " + ("new" if old is None else f"version {base} → {new.version}"))
    listed = {s.id for s in rules.thresholds}
    for cid, old in current.items():
        if cid not in listed and old.spec.active:
            store.thresholds.save(
                key, replace(old.spec, active=False), base_version=old.version, author=author, note=note, validate=False
            )
            changes.append(f"threshold {key}/{cid}: removed (version {old.version + 1})")
    return changes


def _apply_reference(
    store: Store, key: str, mean: FloatArray, sd: FloatArray, base: int | None, author: str, note: str
) -> list[str]:
    current = store.references.current(key)
    if (
        current is not None
        and current.mean.shape == mean.shape
        and np.array_equal(current.mean, mean)
        and np.array_equal(current.sd, sd)
    ):
        return []
    base_version = None if current is None else (base or current.version)
    new = store.references.save(key, mean, sd, base_version=base_version, author=author, note=note)
    return [f"reference {key}: " + ("new" if current is None else f"version {base_version} → {new.version}")]


# ---------------------------------------------------------------------------------------------- export


@dataclass(frozen=True, eq=False)
class ExerciseSnapshot:
    """An exercise at its current versions, as the store holds it."""

    key: str
    rules: dict[str, Any]  # the rule file, with the store versions in it
    reference: ReferenceVersion | None
    versions: StoreVersions


def snapshot(store: Store, keys: Sequence[str] | None = None) -> list[ExerciseSnapshot]:
    """Every exercise (or those of ``keys``) at its current versions, read in one transaction (one
    consistent point in time)."""
    with store.transaction():
        for key in keys or ():
            store.exercises.require(key)
        return [_snapshot_of(store, key) for key in (store.exercises.all_keys() if keys is None else keys)]


def _snapshot_of(store: Store, key: str) -> ExerciseSnapshot:
    body = store.rules.get(key)
    dynamic, static = store.joint_classes.current(key)
    thresholds = store.thresholds.current(key)
    reference = store.references.current(key)
    versions = StoreVersions(
        rules=body.version,
        reference=None if reference is None else reference.version,
        thresholds={t.spec.id: t.version for t in thresholds},
    )
    rules = rule_dict(key, body.body, dynamic, static, tuple(t.spec for t in thresholds), versions)
    return ExerciseSnapshot(key=key, rules=rules, reference=reference, versions=versions)


@dataclass(frozen=True)
class ExportReport:
    directory: Path
    files: tuple[Path, ...]


def export(db: Database, out_dir: Path) -> ExportReport:
    """Write the current versions as ``exercises/<key>.yaml`` and ``trajectories/<key>.npy`` + ``_sd.npy``."""
    out_dir = Path(out_dir)
    for folder in (out_dir, out_dir / "exercises", out_dir / "trajectories"):
        if folder.exists() and not folder.is_dir():
            raise ValidationError(f"{folder}: expected a folder to export into, got a file")
    with db.store() as store:
        snaps = snapshot(store)
    (out_dir / "exercises").mkdir(parents=True, exist_ok=True)
    (out_dir / "trajectories").mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    for snap in snaps:
        path = out_dir / "exercises" / f"{snap.key}.yaml"
        path.write_bytes(dump_rule_yaml(snap.rules).encode("utf-8"))
        written.append(path)
        if snap.reference is not None:
            for suffix, array in (("", snap.reference.mean), ("_sd", snap.reference.sd)):
                path = out_dir / "trajectories" / f"{snap.key}{suffix}.npy"
                path.write_bytes(_npy_bytes(array))
                written.append(path)
    return ExportReport(directory=out_dir, files=tuple(written))


def _npy_bytes(array: FloatArray) -> bytes:
    buffer = io.BytesIO()
    np.save(buffer, np.ascontiguousarray(array, dtype="<f8"), allow_pickle=False)
    return buffer.getvalue()


# ---------------------------------------------------------------------------------------------- catalogue


@dataclass(frozen=True)
class StoreCatalogue:
    """The analysis's catalogue built from the store's current versions, with the versions it was built from."""

    catalogue: Catalogue
    versions: dict[str, StoreVersions]  # by base exercise key (``lunge`` for ``lunge_left``)
    database: str

    def versions_for(self, exercise: str) -> StoreVersions:
        return self.versions[self.catalogue.get(exercise).rule_file.stem]

    def provenance(self, exercise: str) -> dict[str, Any]:
        """What to put in an analysis's provenance: the store and the versions of the rules used."""
        v = self.versions_for(exercise)
        return {
            "store": self.database,
            "rules_version": v.rules,
            "reference_version": v.reference,
            "threshold_versions": dict(sorted(v.thresholds.items())),
        }


def load_store_catalogue(db: Database, keys: Sequence[str] | None = None) -> StoreCatalogue:
    """Typed Exercise objects, parsed by the catalogue's own parser from the rule files the store would
    export, with each reference's version naming its store version (``store:squat@v2``). ``keys`` (base
    exercise keys) limits it to those exercises: one exercise loads in milliseconds, all in about 0.2 s."""
    with db.store() as store:
        snaps = snapshot(store, keys)
    exercises: dict[str, Exercise] = {}
    for snap in snaps:
        reference = None if snap.reference is None else snap.reference.as_reference()
        for ex in parse_exercise(snap.rules, Path(f"{db.path}::exercises/{snap.key}.yaml")):
            exercises[ex.key] = replace(ex, reference=reference)
    versions = {s.key: s.versions for s in snaps}
    return StoreCatalogue(catalogue=Catalogue(exercises), versions=versions, database=str(db.path))
