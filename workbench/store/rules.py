"""Rule files ↔ store records: split a rule file into its versioned parts, rebuild it, validate both.

A rule file (``references/exercises/<key>.yaml``) is stored as three kinds of record: the *body* (cycle,
key frames, salient joints, reference-building rules, sources — one versioned JSON document), the *joint
classes* (``dynamic_joints`` / ``static_joints``) and one *threshold* per constraint item. The store adds
one field of its own to an exported file: the version each part was at (``store:`` and each constraint's
``version``), so an edited file carries the versions its edits are based on.

Validation reuses the catalogue's parser (the analysis's own rules about kinds, DoF names, key frames and
bounds) and adds what a file coming from outside needs: unknown fields (a typo would otherwise be
silently ignored), finite values within SKEL's plausibility range, and array shapes and units.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import yaml
from numpy.typing import NDArray

from workbench.errors import CatalogueError
from workbench.exercises.catalogue import CONSTRAINT_ORDER, Constraint, Exercise, parse_exercise
from workbench.io.inputs import json_depth, require_regular_file
from workbench.skeleton import DOF_NAMES, N_DOFS, dof
from workbench.store.session import ValidationError

FloatArray = NDArray[np.float64]

# SKEL's soft limits are exceeded by legitimate poses (a deltoid stretch takes shoulder_r_z to 115° against
# a 90° limit), so a value is implausible only beyond the limit plus this margin; degrees typed where
# radians belong, or a stray factor of ten, still land far outside.
PLAUSIBILITY_MARGIN_DEG = 45.0
MAX_SD_DEG = 90.0
# A rule file is a page of YAML; these bound what reading one may cost (the largest shipped is ~10 KB, ~500 values).
MAX_RULE_FILE_BYTES = 1_000_000
MAX_RULE_VALUES = 100_000
MAX_RULE_DEPTH = 20

TOP_LEVEL_ORDER = (
    "key",
    "name",
    "aliases",
    "laterality",
    "reference_side",
    "cycle",
    "salient_joints",
    "dynamic_joints",
    "static_joints",
    "key_frames",
    "constraints",
    "reference",
    "scoring",
    "sources",
    "store",
)
SPLIT_FIELDS = frozenset({"key", "dynamic_joints", "static_joints", "constraints", "store"})
KEY_FRAME_ORDER = ("name", "at", "extreme", "dof", "phase")
STORE_FIELDS = ("rules_version", "reference_version")
# libyaml's loader parses the same documents about ten times faster; the pure-Python one is the fallback.
_SAFE_LOADER: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

EXPORT_HEADER = (
    "# Exported from the BioCoach store. Edit and re-import with `biocoach db import DIR`: each edit becomes a\n"
    "# new version. The `version` numbers are the versions your edits are based on; if someone changed the\n"
    "# same item since, the import is refused with a conflict.\n"
)


# ---------------------------------------------------------------------------------------------- records


@dataclass(frozen=True)
class StoreVersions:
    """Store versions of an exercise's parts: what an exported file was written from (absent in hand-written
    seed files), and what the analysis used."""

    rules: int | None = None
    reference: int | None = None
    thresholds: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class RuleFile:
    """One validated rule file, split into the parts the store versions separately."""

    key: str
    body: dict[str, Any]
    dynamic_joints: tuple[str, ...]
    static_joints: tuple[str, ...]
    thresholds: tuple[Constraint, ...]
    base: StoreVersions
    path: Path

    @property
    def body_json(self) -> str:
        return canonical_json(self.body)


def canonical_json(value: Any) -> str:
    """One spelling per value (sorted keys, no NaN), so equal bodies compare equal as strings."""
    return json.dumps(value, sort_keys=True, ensure_ascii=False, allow_nan=False, separators=(",", ":"))


# ---------------------------------------------------------------------------------------------- rule files


def read_rule_file(path: Path) -> RuleFile:
    """Parse and validate one rule file; every problem found is listed in one ValidationError."""
    require_regular_file(path, ValidationError)  # a FIFO named *.yaml would be read forever
    try:
        if path.stat().st_size > MAX_RULE_FILE_BYTES:
            raise ValidationError(
                f"{path}: expected a rule file of at most {MAX_RULE_FILE_BYTES:,} bytes, got {path.stat().st_size:,}"
            )
        raw = yaml.load(path.read_text(encoding="utf-8"), Loader=_SAFE_LOADER)
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        detail = " ".join(str(exc).split())
        raise ValidationError(f"{path}: expected a readable YAML rule file, got an error ({detail})") from None
    except RecursionError:
        raise ValidationError(f"{path}: expected a YAML rule file, got one nested too deeply to read") from None
    if _too_many_values(raw, MAX_RULE_VALUES):  # YAML aliases expand into copies: a few lines can mean 1e9
        raise ValidationError(
            f"{path}: expected a rule file of at most {MAX_RULE_VALUES:,} values once its YAML "
            f"aliases are expanded, got more"
        )
    if json_depth(raw) > MAX_RULE_DEPTH:
        raise ValidationError(
            f"{path}: expected a rule file nested at most {MAX_RULE_DEPTH} levels deep, got {json_depth(raw)}"
        )
    problems = rule_file_problems(raw, path)
    if problems:
        raise ValidationError("\n".join(problems))
    return split_rule_file(raw, path)


def _too_many_values(raw: Any, budget: int) -> bool:
    """Whether ``raw`` holds more than ``budget`` values, counted as a reader would see them (a list reached
    twice through YAML aliases counts twice); stops counting at the budget."""
    stack, seen = [raw], 0
    while stack:
        item = stack.pop()
        seen += 1
        if seen > budget:
            return True
        if isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, list | tuple):
            stack.extend(item)
    return False


def rule_file_problems(raw: Any, path: Path) -> list[str]:
    """Everything wrong with a parsed rule file, as "file: field: expected …, got …" lines."""
    where = str(path)
    if not isinstance(raw, dict):
        return [f"{where}: expected a mapping at the top level, got {type(raw).__name__}"]
    problems = _unknown_fields(raw, TOP_LEVEL_ORDER, where)
    if raw.get("key") != path.stem:
        problems.append(f"{where}: key: expected the file name's stem {path.stem!r}, got {raw.get('key')!r}")
    problems += _store_block_problems(raw.get("store"), where)
    items = raw.get("constraints") or []
    numbers: list[str] = []
    for i, item in enumerate(items if isinstance(items, list) else []):
        if isinstance(item, dict):
            problems += _unknown_fields(item, CONSTRAINT_ORDER, f"{where}: constraints[{i}]")
            problems += _version_problems(item.get("version"), f"{where}: constraints[{i}].version")
            numbers += _number_problems(item, f"{where}: constraints[{i}]")
    numbers += _number_problems(raw.get("cycle"), f"{where}: cycle")
    if numbers:  # the catalogue's parser would stop at the first number it cannot read
        return problems + numbers
    try:
        exercise = parse_exercise(raw, path)[0]
    except CatalogueError as exc:
        return [*problems, str(exc)]
    except (ValueError, TypeError, KeyError, IndexError, AttributeError) as exc:  # a shape the parser does not expect
        return [*problems, f"{where}: expected a rule file in the catalogue's layout, got {type(exc).__name__}: {exc}"]
    problems += _plausibility_problems(exercise, where)
    problems += _joint_class_problems(raw, where)
    try:
        canonical_json({k: v for k, v in raw.items() if k not in SPLIT_FIELDS})
    except (TypeError, ValueError) as exc:
        problems.append(f"{where}: expected plain YAML values (text, numbers, lists, mappings), got {exc}")
    return problems


def split_rule_file(raw: dict[str, Any], path: Path) -> RuleFile:
    store = raw.get("store") or {}
    items = raw.get("constraints") or []
    return RuleFile(
        key=str(raw["key"]),
        body={k: v for k, v in raw.items() if k not in SPLIT_FIELDS},
        dynamic_joints=tuple(raw.get("dynamic_joints") or ()),
        static_joints=tuple(raw.get("static_joints") or ()),
        thresholds=tuple(Constraint.from_rule_item(item, i) for i, item in enumerate(items)),
        base=StoreVersions(
            rules=store.get("rules_version"),
            reference=store.get("reference_version"),
            thresholds={str(i["id"]): int(i["version"]) for i in items if i.get("version") is not None},
        ),
        path=path,
    )


def _unknown_fields(raw: dict[str, Any], known: tuple[str, ...], where: str) -> list[str]:
    return [
        f"{where}: {name}: expected one of the fields {', '.join(known)}, got unknown field {name!r}"
        for name in raw
        if name not in known
    ]


# The numbers of a rule file, by where they sit: single numbers, and [low, high] pairs (null = an open side).
_NUMBER_FIELDS = (
    "max_std_deg",
    "max_diff_deg",
    "requires_motion_deg",
    "prominence_deg",
    "hold_max_std_deg",
    "hold_window_s",
)
_PAIR_FIELDS = ("bounds_deg", "tolerance_deg", "period_s")


def _number_problems(raw: Any, here: str) -> list[str]:
    """Fields that must hold numbers but hold text, lists of the wrong length or non-finite values."""
    if not isinstance(raw, dict):
        return []
    problems = []
    for name in _NUMBER_FIELDS:
        value = raw.get(name)
        if value is not None and not _is_number(value):
            problems.append(f"{here}.{name}: expected a number, got {value!r:.60}")
    for name in _PAIR_FIELDS:
        value = raw.get(name)
        if value is None:
            continue
        if not isinstance(value, list) or len(value) != 2:
            problems.append(f"{here}.{name}: expected [low, high] (null for an open side), got {value!r:.60}")
        elif not all(v is None or _is_number(v) for v in value):
            problems.append(
                f"{here}.{name}: expected [low, high] as numbers (null for an open side), got {value!r:.60}"
            )
    return problems


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def _store_block_problems(store: Any, where: str) -> list[str]:
    if store is None:
        return []
    if not isinstance(store, dict):
        return [f"{where}: store: expected a mapping of versions, got {store!r}"]
    problems = _unknown_fields(store, STORE_FIELDS, f"{where}: store")
    for name in STORE_FIELDS:
        problems += _version_problems(store.get(name), f"{where}: store.{name}")
    return problems


def _version_problems(value: Any, here: str) -> list[str]:
    if value is None or (isinstance(value, int) and not isinstance(value, bool) and value >= 1):
        return []
    return [f"{here}: expected a version number (an integer ≥ 1), got {value!r}"]


def _joint_class_problems(raw: dict[str, Any], where: str) -> list[str]:
    both = set(raw.get("dynamic_joints") or ()) & set(raw.get("static_joints") or ())
    problems = (
        [f"{where}: static_joints: expected joints not listed as dynamic, got {sorted(both)} in both"] if both else []
    )
    for name in ("dynamic_joints", "static_joints"):
        joints = list(raw.get(name) or ())
        if len(joints) != len(set(joints)):
            problems.append(f"{where}: {name}: expected each joint once, got {joints}")
    return problems


def _plausibility_problems(ex: Exercise, where: str) -> list[str]:
    """Threshold values must be finite degrees a SKEL pose can take (soft limits widened by the margin)."""
    problems = []
    for c in ex.constraints:
        if "@" in c.id:  # a both_sides mirror: its values are the written constraint's
            continue
        here = f"{where}: constraint {c.id!r}"
        low, high = plausible_range_deg(c.dof)
        for value in c.bounds_deg or ():
            if value is not None and not (math.isfinite(value) and low <= value <= high):
                problems.append(
                    f"{here}.bounds_deg: expected degrees within [{low:g}, {high:g}] for {c.dof} "
                    f"(SKEL soft limits ± {PLAUSIBILITY_MARGIN_DEG:g}°), got {value:g}"
                )
        for value in c.tolerance_deg or ():
            if value is not None and not (math.isfinite(value) and abs(value) <= 180):
                problems.append(f"{here}.tolerance_deg: expected degrees within [-180, 180], got {value:g}")
        for name in ("max_std_deg", "max_diff_deg", "requires_motion_deg"):
            value = getattr(c, name)
            if value is not None and not (math.isfinite(value) and 0 < value <= 180):
                problems.append(f"{here}.{name}: expected degrees in (0, 180], got {value:g}")
    return problems


def plausible_range_deg(dof_name: str) -> tuple[float, float]:
    limits = dof(dof_name).limits_deg or (-180.0, 180.0)
    return limits[0] - PLAUSIBILITY_MARGIN_DEG, limits[1] + PLAUSIBILITY_MARGIN_DEG


# ---------------------------------------------------------------------------------------------- rebuilding


def rule_dict(
    key: str,
    body: dict[str, Any],
    dynamic_joints: tuple[str, ...],
    static_joints: tuple[str, ...],
    thresholds: tuple[Constraint, ...],
    versions: StoreVersions | None = None,
) -> dict[str, Any]:
    """A rule file rebuilt from store records, in the canonical field order (export and catalogue both use
    it, so what is exported is exactly what the analysis reads). ``versions`` adds the store versions."""
    merged = {
        **body,
        "key": key,
        "dynamic_joints": list(dynamic_joints),
        "static_joints": list(static_joints),
        "constraints": [
            t.rule_item(None if versions is None else versions.thresholds.get(t.id))
            for t in sorted(thresholds, key=lambda t: (t.position, t.id))
            if t.active
        ],
    }
    if versions is not None:
        store = {"rules_version": versions.rules, "reference_version": versions.reference}
        merged["store"] = {k: v for k, v in store.items() if v is not None}
    ordered = {name: _canonical(merged[name]) for name in TOP_LEVEL_ORDER if name in merged}
    if "key_frames" in ordered:
        ordered["key_frames"] = [_ordered(kf, KEY_FRAME_ORDER) for kf in ordered["key_frames"]]
    ordered["constraints"] = [_ordered(item, CONSTRAINT_ORDER) for item in merged["constraints"]]
    return ordered


def _canonical(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _canonical(value[k]) for k in sorted(value)}
    if isinstance(value, list | tuple):
        return [_canonical(v) for v in value]
    return value


def _ordered(mapping: Any, order: tuple[str, ...]) -> Any:
    if not isinstance(mapping, dict):
        return mapping
    first = {k: mapping[k] for k in order if k in mapping}
    return first | {k: mapping[k] for k in sorted(mapping) if k not in first}


class _RuleDumper(yaml.SafeDumper):
    """Block mappings, with lists of plain values on one line (``[femur_r, femur_l]``) as people write them."""


def _represent_list(dumper: yaml.SafeDumper, data: list[Any]) -> yaml.Node:
    flow = all(not isinstance(v, dict | list) for v in data)
    return dumper.represent_sequence("tag:yaml.org,2002:seq", data, flow_style=flow)


_RuleDumper.add_representer(list, _represent_list)


def dump_rule_yaml(rules: dict[str, Any]) -> str:
    """Deterministic YAML: fixed field order, floats in Python's shortest round-trip spelling, no dates."""
    text = yaml.dump(
        rules, Dumper=_RuleDumper, sort_keys=False, allow_unicode=True, width=120, default_flow_style=False
    )
    return EXPORT_HEADER + text


# ---------------------------------------------------------------------------------------------- trajectories


def read_trajectory(path: Path) -> FloatArray:
    """A ``.npy`` array as float64; a missing or unreadable file raises ValidationError naming it."""
    require_regular_file(path, ValidationError)
    try:
        array = np.load(path, allow_pickle=False)
    except (OSError, ValueError, EOFError) as exc:
        raise ValidationError(f"{path}: expected a NumPy .npy array, got an unreadable file ({exc})") from None
    if not isinstance(array, np.ndarray) or not np.issubdtype(array.dtype, np.floating):
        got = type(array).__name__ if not isinstance(array, np.ndarray) else f"dtype {array.dtype}"
        raise ValidationError(f"{path}: expected floating-point radians, got {got}")
    return np.ascontiguousarray(array, dtype=np.float64)


def trajectory_problems(mean: FloatArray, sd: FloatArray, mean_where: str, sd_where: str) -> list[str]:
    """Shape (46, N_ref ≥ 2), finite radians within SKEL plausibility, a non-negative envelope."""
    if mean.ndim != 2 or mean.shape[0] != N_DOFS or mean.shape[1] < 2:
        return [f"{mean_where}: shape: expected ({N_DOFS}, N_ref) radians with N_ref ≥ 2, got {mean.shape}"]
    if sd.shape != mean.shape:
        return [f"{sd_where}: shape: expected {mean.shape} (the mean's shape), got {sd.shape}"]
    if not (np.isfinite(mean).all() and np.isfinite(sd).all()):
        return [f"{mean_where}: values: expected finite radians, got NaN or inf"]
    problems = _range_problems(mean, mean_where)
    if sd.min() < 0 or np.degrees(sd.max()) > MAX_SD_DEG:
        problems.append(
            f"{sd_where}: values: expected an envelope SD in [0, {MAX_SD_DEG:g}] degrees, got "
            f"[{np.degrees(sd.min()):.1f}, {np.degrees(sd.max()):.1f}]"
        )
    return problems


def _range_problems(mean: FloatArray, where: str, shown: int = 3) -> list[str]:
    """DoF rows outside SKEL plausibility; the first few are spelled out (a file in degrees fails them all)."""
    problems = []
    for i, name in enumerate(DOF_NAMES):
        low, high = plausible_range_deg(name)
        got = np.degrees(mean[i])
        if got.min() < low or got.max() > high:
            worst = got.max() if got.max() > high else got.min()
            hint = " (degrees stored instead of radians?)" if abs(worst) > 360 else ""
            problems.append(
                f"{where}: row {i} ({name}): expected radians within [{low:g}, {high:g}] degrees "
                f"(SKEL soft limits ± {PLAUSIBILITY_MARGIN_DEG:g}°), got {worst:.1f} degrees{hint}"
            )
    if len(problems) > shown:
        problems = [*problems[:shown], f"{where}: … and {len(problems) - shown} more DoF rows out of range"]
    return problems


def validate_rules(rules: dict[str, Any], where: str) -> Exercise:
    """Check a rebuilt rule file as the analysis will read it (used before an edit is committed)."""
    problems = rule_file_problems(rules, Path(where))
    if problems:
        raise ValidationError("\n".join(problems))
    return parse_exercise(rules, Path(where))[0]
