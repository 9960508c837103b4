"""Exercise rules as typed data, loaded and validated from ``references/exercises/*.yaml``.

Domain knowledge lives in the YAML files (with the literature each bound comes from); this module only
checks and types it, so an expert edits a number in a file, never in code.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, fields
from functools import cache
from pathlib import Path
from typing import Any, Literal

import numpy as np
from numpy.typing import NDArray

from workbench.errors import CatalogueError, UnknownExerciseError
from workbench.exercises.scoring import Scoring, parse_scoring
from workbench.skeleton import DOF_NAMES, JOINT_NAMES, N_DOFS, dof, mirror_dof_name

CycleKind = Literal["repetitive", "alternating", "static_hold"]
Laterality = Literal["bilateral", "unilateral", "alternating"]
ConstraintKind = Literal["dynamic", "stability", "posture", "symmetry"]
Sidedness = Literal["one_side", "both_sides"]
Pair = tuple[float | None, float | None]
# A constraint's fields in the order a rule file lists them (``version`` is the store's, see store.rules).
CONSTRAINT_ORDER = (
    "id",
    "version",
    "dof",
    "kind",
    "both_sides",
    "key_frame",
    "bounds_deg",
    "tolerance_deg",
    "max_std_deg",
    "max_diff_deg",
    "requires_motion_deg",
    "issue_low",
    "cue_low",
    "issue_high",
    "cue_high",
    "source",
)

REFERENCES_DIR = Path(__file__).resolve().parents[2] / "references"
DEFAULT_PROMINENCE_DEG = math.degrees(0.1)  # paper supplement §10: 0.1 rad


@dataclass(frozen=True)
class CycleSpec:
    """How repetitions of an exercise are found (paper §3.4.2, supplement §10)."""

    kind: CycleKind
    signal: tuple[str, ...]  # representative DoF first; the next ones stand in when it is unobserved
    combine: Literal["first_observed", "sum"]  # "sum": either side may do the work (unilateral moves)
    work: Literal["max", "min"]  # the representative signal's extreme at the working point of a rep
    period_s: tuple[float, float]  # accepted cycle duration
    prominence_deg: float
    hold_max_std_deg: float  # static holds: rolling std under this counts as holding still
    hold_window_s: float  # static holds: long holds are judged in windows of this length
    side_dofs: tuple[str, str] | None  # unilateral: (right, left) DoF whose larger work extreme marks the side
    # Counting safeguards for real footage (``motion.cycles``); None = the defaults in ``motion.signal``. A move
    # whose every bounce is a rep however shallow (skipping) sets the amplitude ones to 0.
    relative_prominence: float | None = None
    min_amplitude_ratio: float | None = None
    min_reference_ratio: float | None = None


@dataclass(frozen=True)
class KeyFrame:
    """A critical frame of a cycle: where ``dof`` reaches its ``extreme`` (or the cycle start/end)."""

    name: str
    at: Literal["extreme", "start", "end"]
    dof: str | None  # None: the cycle's representative signal
    extreme: Literal["max", "min"]
    phase: str | None  # alternating moves: search only inside this phase ("right" / "left")


@dataclass(frozen=True)
class Constraint:
    """One biomechanical check (paper Eq. 6) with the source of its bounds.

    dynamic:   the DoF's value at ``key_frame`` must lie in ``bounds_deg`` (absolute), or within
               ``tolerance_deg`` of the reference's value there (relative). None = open side.
    stability: the DoF's variation over the cycle must stay under ``max_std_deg`` (static joints). Variation
               is the standard deviation of what the rep's own movement does not explain (the residual of a
               linear fit on the representative signal): a trunk that leans in step with the squat is a
               posture matter, a trunk that wobbles is unstable (the paper's variance, made robust to that).
    posture:   the DoF's mean over the cycle must lie in ``bounds_deg`` (static joints held at an angle).
    symmetry:  the largest difference between this DoF and its mirror over the cycle must stay under
               ``max_diff_deg`` (one side lagging or working less than the other in a bilateral move).
    """

    id: str
    dof: str
    kind: ConstraintKind
    key_frame: str | None = None
    bounds_deg: tuple[float | None, float | None] | None = None
    tolerance_deg: tuple[float | None, float | None] | None = None
    max_std_deg: float | None = None
    max_diff_deg: float | None = None
    # Judge only cycles in which the DoF moves at least this much: a secondary DoF (the arms in a jumping
    # jack) that a source leaves still is more likely untracked than wrong, so it is skipped and reported.
    requires_motion_deg: float | None = None
    issue_low: str = "insufficient"
    issue_high: str = "excessive"
    cue_low: str = ""
    cue_high: str = ""
    source: str = ""
    # Where the constraint stands in its rule file, and how it is stored and edited (store.thresholds): a
    # both_sides item is one stored threshold that the catalogue checks on both sides (see ``mirrored``).
    position: int = 0
    sidedness: Sidedness = "one_side"
    active: bool = True  # False: removed from the exercise (kept in the store's history)

    @property
    def joint(self) -> str:
        return dof(self.dof).joint

    def rule_item(self, version: int | None = None) -> dict[str, Any]:
        """The constraint as a rule-file mapping: defaults left out, fields in a fixed order."""
        defaults = {f.name: f.default for f in fields(Constraint)}
        item: dict[str, Any] = {"id": self.id, "version": version, "dof": self.dof, "kind": self.kind}
        if self.sidedness == "both_sides":
            item["both_sides"] = True
        for name in CONSTRAINT_ORDER[5:]:
            value = getattr(self, name)
            if value is not None and value != defaults[name]:
                item[name] = list(value) if isinstance(value, tuple) else value
        return {k: v for k, v in item.items() if v is not None}

    @classmethod
    def from_rule_item(cls, item: dict[str, Any], position: int) -> Constraint:
        """From a rule-file mapping the catalogue parser has already accepted (one item, before mirroring)."""

        def num(key: str) -> float | None:
            return None if item.get(key) is None else float(item[key])

        return cls(
            id=str(item["id"]),
            dof=str(item["dof"]),
            kind=str(item["kind"]),  # type: ignore[arg-type]  # checked by the parser
            position=position,
            sidedness="both_sides" if item.get("both_sides", False) else "one_side",
            key_frame=item.get("key_frame"),
            bounds_deg=_float_pair(item.get("bounds_deg")),
            tolerance_deg=_float_pair(item.get("tolerance_deg")),
            max_std_deg=num("max_std_deg"),
            max_diff_deg=num("max_diff_deg"),
            requires_motion_deg=num("requires_motion_deg"),
            issue_low=str(item.get("issue_low", "insufficient")),
            issue_high=str(item.get("issue_high", "excessive")),
            cue_low=str(item.get("cue_low", "")),
            cue_high=str(item.get("cue_high", "")),
            source=str(item.get("source", "")),
        )

    def changes_from(self, other: Constraint) -> dict[str, tuple[Any, Any]]:
        """Field-by-field differences ``{field: (other's value, this value)}``."""
        return {
            f.name: (getattr(other, f.name), getattr(self, f.name))
            for f in fields(Constraint)
            if getattr(other, f.name) != getattr(self, f.name)
        }

    def mirrored(self) -> Constraint:
        """The same check on the other side of the body, with signs flipped where SKEL's mirror flips them."""
        sign = dof(self.dof).mirror_sign

        def flip(pair: tuple[float | None, float | None] | None) -> tuple[float | None, float | None] | None:
            if pair is None or sign > 0:
                return pair
            lo, hi = pair
            return (None if hi is None else -hi, None if lo is None else -lo)

        issue_low, issue_high = (self.issue_low, self.issue_high) if sign > 0 else (self.issue_high, self.issue_low)
        cue_low, cue_high = (self.cue_low, self.cue_high) if sign > 0 else (self.cue_high, self.cue_low)
        return Constraint(
            id=f"{self.id}@{mirror_dof_name(self.dof)}",
            dof=mirror_dof_name(self.dof),
            kind=self.kind,
            key_frame=self.key_frame,
            bounds_deg=flip(self.bounds_deg),
            tolerance_deg=flip(self.tolerance_deg),
            max_std_deg=self.max_std_deg,
            max_diff_deg=self.max_diff_deg,
            requires_motion_deg=self.requires_motion_deg,
            issue_low=issue_low,
            issue_high=issue_high,
            cue_low=cue_low,
            cue_high=cue_high,
            source=self.source,
            position=self.position,
            sidedness=self.sidedness,
            active=self.active,
        )


def _float_pair(raw: Any) -> Pair | None:
    if raw is None:
        return None
    lo, hi = raw
    return (None if lo is None else float(lo), None if hi is None else float(hi))


@dataclass(frozen=True)
class Reference:
    """A curated reference cycle: ``mean`` and ``sd`` are (46, N_ref) radians (paper supplement §10)."""

    mean: NDArray[np.float64]
    sd: NDArray[np.float64]
    version: str

    @property
    def n_samples(self) -> int:
        return int(self.mean.shape[1])


@dataclass(frozen=True)
class Exercise:
    key: str
    name: str
    aliases: tuple[str, ...]
    cycle: CycleSpec
    laterality: Laterality
    reference_side: Literal["right", "left"]
    salient_joints: tuple[str, ...]
    dynamic_joints: tuple[str, ...]
    static_joints: tuple[str, ...]
    key_frames: tuple[KeyFrame, ...]
    constraints: tuple[Constraint, ...]
    reference_rules: dict[str, Any]
    sources: dict[str, str]
    rule_file: Path
    fixed_side: Literal["right", "left"] | None = None  # "quad_stretch_left": the side is the key's
    scoring: Scoring | None = None  # calibrated per-rep score (exercises.scoring); None: distance from the reference
    reference: Reference | None = field(default=None, compare=False)

    def key_frame(self, name: str) -> KeyFrame:
        for kf in self.key_frames:
            if kf.name == name:
                return kf
        raise CatalogueError(f"{self.rule_file}: constraint refers to key frame {name!r}, which is not defined")


class Catalogue:
    """All exercises by key (aliases resolve to their exercise)."""

    def __init__(self, exercises: dict[str, Exercise]):
        self._by_key = dict(exercises)
        self._alias = {a: e.key for e in exercises.values() for a in e.aliases}

    def __contains__(self, key: str) -> bool:
        return _normalise(key) in self._by_key or _normalise(key) in self._alias

    def __iter__(self):  # type: ignore[no-untyped-def]
        return iter(sorted(self._by_key.values(), key=lambda e: e.key))

    def __len__(self) -> int:
        return len(self._by_key)

    def keys(self) -> list[str]:
        return sorted(self._by_key)

    def get(self, key: str) -> Exercise:
        k = _normalise(key)
        k = self._alias.get(k, k)
        if k not in self._by_key:
            raise UnknownExerciseError(f"Unknown exercise {key!r}; expected one of: {', '.join(self.keys())}")
        return self._by_key[k]


def _normalise(key: str) -> str:
    return key.strip().lower().replace("-", "_").replace(" ", "_")


@cache
def load_catalogue(directory: Path | None = None) -> Catalogue:
    """Read every rule file in ``references/exercises`` with its reference trajectory, if built."""
    import yaml

    directory = directory or REFERENCES_DIR
    rule_dir = directory / "exercises"
    files = sorted(rule_dir.glob("*.yaml"))
    if not files:
        raise CatalogueError(f"{rule_dir}: expected exercise rule files (*.yaml), found none")
    exercises: dict[str, Exercise] = {}
    for path in files:
        try:
            raw = yaml.safe_load(path.read_text(encoding="utf-8"))
        except yaml.YAMLError as exc:
            raise CatalogueError(f"{path}: not valid YAML ({exc})") from None
        for ex in parse_exercise(raw, path):
            ex = _with_reference(ex, directory / "trajectories")
            if ex.key in exercises:
                raise CatalogueError(f"{path}: exercise key {ex.key!r} is defined twice")
            exercises[ex.key] = ex
    return Catalogue(exercises)


def _with_reference(ex: Exercise, traj_dir: Path) -> Exercise:
    from dataclasses import replace

    stem = ex.rule_file.stem
    mean_path, sd_path = traj_dir / f"{stem}.npy", traj_dir / f"{stem}_sd.npy"
    if not mean_path.exists():
        return ex
    mean = np.load(mean_path, allow_pickle=False)
    sd = np.load(sd_path, allow_pickle=False) if sd_path.exists() else np.zeros_like(mean)
    if mean.ndim != 2 or mean.shape[0] != N_DOFS or sd.shape != mean.shape:
        raise CatalogueError(
            f"{mean_path}: expected shape ({N_DOFS}, N_ref) with a matching _sd file, got {mean.shape} and {sd.shape}"
        )
    version = f"file:{stem}@{_digest(mean)}"
    return replace(ex, reference=Reference(mean=mean, sd=sd, version=version))


def _digest(array: NDArray[np.float64]) -> str:
    import hashlib

    return hashlib.sha256(np.ascontiguousarray(array).tobytes()).hexdigest()[:12]


# ---------------------------------------------------------------------------------------------- parsing


def parse_exercise(raw: Any, path: Path) -> list[Exercise]:
    """Validate one rule file; returns the exercise plus its fixed-side variants (``*_left``/``*_right``)."""
    where = str(path)
    if not isinstance(raw, dict):
        raise CatalogueError(f"{where}: expected a mapping at the top level, got {type(raw).__name__}")
    key = _req(raw, "key", str, where)
    cyc = _req(raw, "cycle", dict, where)
    kind = _choice(cyc, "kind", ("repetitive", "alternating", "static_hold"), f"{where}: cycle")
    signal = tuple(_dof_list(cyc.get("signal"), f"{where}: cycle.signal"))
    if not signal:
        raise CatalogueError(f"{where}: cycle.signal: expected at least one DoF name, got none")
    period = cyc.get("period_s", [0.8, 5.0])
    side_dofs = cyc.get("side_dofs")
    cycle = CycleSpec(
        kind=kind,  # type: ignore[arg-type]
        signal=signal,
        combine=_choice(cyc, "combine", ("first_observed", "sum"), f"{where}: cycle", "first_observed"),  # type: ignore[arg-type]
        work=_choice(cyc, "work", ("max", "min"), f"{where}: cycle", "max"),  # type: ignore[arg-type]
        period_s=(float(period[0]), float(period[1])),
        prominence_deg=float(cyc.get("prominence_deg", DEFAULT_PROMINENCE_DEG)),
        hold_max_std_deg=float(cyc.get("hold_max_std_deg", 6.0)),
        hold_window_s=float(cyc.get("hold_window_s", 5.0)),
        side_dofs=None if side_dofs is None else tuple(_dof_list(side_dofs, f"{where}: cycle.side_dofs")),  # type: ignore[arg-type]
        relative_prominence=_fraction(cyc, "relative_prominence", f"{where}: cycle"),
        min_amplitude_ratio=_fraction(cyc, "min_amplitude_ratio", f"{where}: cycle"),
        min_reference_ratio=_fraction(cyc, "min_reference_ratio", f"{where}: cycle"),
    )
    if not 0 < cycle.period_s[0] < cycle.period_s[1]:
        raise CatalogueError(f"{where}: cycle.period_s: expected [min, max] with 0 < min < max, got {period}")
    laterality = _choice(raw, "laterality", ("bilateral", "unilateral", "alternating"), where, "bilateral")
    if laterality == "unilateral" and cycle.side_dofs is None:
        raise CatalogueError(f"{where}: cycle.side_dofs: expected [right_dof, left_dof] for a unilateral exercise")
    key_frames = tuple(_key_frame(k, f"{where}: key_frames[{i}]") for i, k in enumerate(raw.get("key_frames", [])))
    constraints = _constraints(raw.get("constraints", []), where, key_frames)
    ex = Exercise(
        key=key,
        name=str(raw.get("name", key)),
        aliases=tuple(raw.get("aliases", [])),
        cycle=cycle,
        laterality=laterality,  # type: ignore[arg-type]
        reference_side=_choice(raw, "reference_side", ("right", "left"), where, "right"),  # type: ignore[arg-type]
        salient_joints=tuple(_joint_list(raw.get("salient_joints"), f"{where}: salient_joints")),
        dynamic_joints=tuple(_joint_list(raw.get("dynamic_joints", []), f"{where}: dynamic_joints")),
        static_joints=tuple(_joint_list(raw.get("static_joints", []), f"{where}: static_joints")),
        key_frames=key_frames,
        constraints=constraints,
        reference_rules=dict(raw.get("reference", {})),
        sources=dict(raw.get("sources", {})),
        rule_file=path,
        scoring=_scoring(raw.get("scoring"), where),
    )
    _check_sources(ex)
    variants = [ex]
    if laterality == "unilateral":
        from dataclasses import replace

        for side in ("left", "right"):
            variants.append(replace(ex, key=f"{key}_{side}", aliases=(), fixed_side=side))  # type: ignore[arg-type]
    return variants


def _scoring(raw: Any, where: str) -> Scoring | None:
    try:
        return parse_scoring(raw, where)
    except ValueError as exc:
        raise CatalogueError(str(exc)) from None


def _check_sources(ex: Exercise) -> None:
    for c in ex.constraints:
        if not c.source:
            raise CatalogueError(f"{ex.rule_file}: constraint {c.id!r}: expected a source, got none")
        if c.source not in ex.sources:
            raise CatalogueError(
                f"{ex.rule_file}: constraint {c.id!r}: source {c.source!r} is not listed under sources"
            )


def _constraints(items: Any, where: str, frames: tuple[KeyFrame, ...]) -> tuple[Constraint, ...]:
    key_frames = {k.name for k in frames}
    out: list[Constraint] = []
    for i, item in enumerate(items or []):
        here = f"{where}: constraints[{i}]"
        if not isinstance(item, dict):
            raise CatalogueError(f"{here}: expected a mapping, got {type(item).__name__}")
        kind = _choice(item, "kind", ("dynamic", "stability", "posture", "symmetry"), here)
        c = Constraint(
            id=_req(item, "id", str, here),
            dof=_dof_name(item.get("dof"), f"{here}.dof"),
            kind=kind,  # type: ignore[arg-type]
            key_frame=item.get("key_frame"),
            bounds_deg=_pair(item.get("bounds_deg"), f"{here}.bounds_deg"),
            tolerance_deg=_pair(item.get("tolerance_deg"), f"{here}.tolerance_deg"),
            max_std_deg=None if item.get("max_std_deg") is None else float(item["max_std_deg"]),
            max_diff_deg=None if item.get("max_diff_deg") is None else float(item["max_diff_deg"]),
            requires_motion_deg=None if item.get("requires_motion_deg") is None else float(item["requires_motion_deg"]),
            issue_low=str(item.get("issue_low", "insufficient")),
            issue_high=str(item.get("issue_high", "excessive")),
            cue_low=str(item.get("cue_low", "")),
            cue_high=str(item.get("cue_high", "")),
            source=str(item.get("source", "")),
            position=i,
            sidedness="both_sides" if item.get("both_sides", False) else "one_side",
        )
        _check_constraint(c, here, key_frames)
        out.append(c)
        if item.get("both_sides", False):
            if dof(c.dof).side == "center":
                raise CatalogueError(f"{here}: both_sides: expected a sided DoF, got central {c.dof!r}")
            out.append(_with_mirrored_key_frame(c.mirrored(), frames))
    ids = [c.id for c in out]
    if len(ids) != len(set(ids)):
        raise CatalogueError(f"{where}: constraints: ids must be unique, got {ids}")
    return tuple(out)


def _with_mirrored_key_frame(c: Constraint, frames: tuple[KeyFrame, ...]) -> Constraint:
    """A both_sides copy measured at the mirror of its key frame, when the key frame is tied to one side
    (a sided DoF's extreme, or a right/left phase) and its mirror is defined."""
    from dataclasses import replace

    kf = next((k for k in frames if k.name == c.key_frame), None)
    if kf is None or (kf.dof is None and kf.phase is None):
        return c
    swap = {"right": "left", "left": "right"}
    want_dof = None if kf.dof is None else dof(kf.dof).mirror
    want_phase = None if kf.phase is None else swap.get(kf.phase, kf.phase)
    for k in frames:
        if (k.at, k.extreme, k.dof, k.phase) == (kf.at, kf.extreme, want_dof, want_phase):
            return replace(c, key_frame=k.name)
    return c


def _check_constraint(c: Constraint, here: str, key_frames: set[str]) -> None:
    if c.kind == "dynamic":
        if c.key_frame not in key_frames:
            raise CatalogueError(f"{here}.key_frame: expected one of {sorted(key_frames)}, got {c.key_frame!r}")
        if (c.bounds_deg is None) == (c.tolerance_deg is None):
            raise CatalogueError(f"{here}: expected exactly one of bounds_deg or tolerance_deg for a dynamic check")
    elif c.kind == "stability" and (c.max_std_deg is None or c.max_std_deg <= 0):
        raise CatalogueError(
            f"{here}.max_std_deg: expected a positive number for a stability check, got {c.max_std_deg}"
        )
    elif c.kind == "symmetry" and (c.max_diff_deg is None or c.max_diff_deg <= 0 or dof(c.dof).side == "center"):
        raise CatalogueError(f"{here}: expected a sided DoF and a positive max_diff_deg for a symmetry check")
    elif c.kind == "posture" and c.bounds_deg is None:
        raise CatalogueError(f"{here}.bounds_deg: expected [low, high] for a posture check, got none")


def _key_frame(raw: Any, here: str) -> KeyFrame:
    if not isinstance(raw, dict):
        raise CatalogueError(f"{here}: expected a mapping, got {type(raw).__name__}")
    at = _choice(raw, "at", ("extreme", "start", "end"), here, "extreme")
    return KeyFrame(
        name=_req(raw, "name", str, here),
        at=at,  # type: ignore[arg-type]
        dof=None if raw.get("dof") is None else _dof_name(raw["dof"], f"{here}.dof"),
        extreme=_choice(raw, "extreme", ("max", "min"), here, "max"),  # type: ignore[arg-type]
        phase=raw.get("phase"),
    )


def _fraction(raw: dict[str, Any], key: str, where: str) -> float | None:
    """An optional number in [0, 1]."""
    value = raw.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value <= 1:
        raise CatalogueError(f"{where}: {key}: expected a number in [0, 1], got {value!r}")
    return float(value)


def _pair(raw: Any, here: str) -> tuple[float | None, float | None] | None:
    if raw is None:
        return None
    if not isinstance(raw, list | tuple) or len(raw) != 2:
        raise CatalogueError(f"{here}: expected [low, high] (null for an open side), got {raw!r}")
    lo, hi = (None if v is None else float(v) for v in raw)
    if lo is None and hi is None:
        raise CatalogueError(f"{here}: expected at least one bound, got [null, null]")
    if lo is not None and hi is not None and lo > hi:
        raise CatalogueError(f"{here}: expected low <= high, got {raw!r}")
    return (lo, hi)


def _req(raw: dict[str, Any], key: str, kind: type, where: str) -> Any:
    if key not in raw:
        raise CatalogueError(f"{where}: expected field {key!r}, got none")
    if not isinstance(raw[key], kind):
        raise CatalogueError(f"{where}: {key}: expected {kind.__name__}, got {type(raw[key]).__name__}")
    return raw[key]


def _choice(raw: dict[str, Any], key: str, options: tuple[str, ...], where: str, default: str | None = None) -> str:
    value = raw.get(key, default)
    if value not in options:
        raise CatalogueError(f"{where}: {key}: expected one of {', '.join(options)}, got {value!r}")
    return str(value)


def _dof_name(raw: Any, here: str) -> str:
    if raw not in DOF_NAMES:
        raise CatalogueError(f"{here}: expected a SKEL DoF name (e.g. knee_angle_r), got {raw!r}")
    return str(raw)


def _dof_list(raw: Any, here: str) -> list[str]:
    if not isinstance(raw, list):
        raise CatalogueError(f"{here}: expected a list of DoF names, got {raw!r}")
    return [_dof_name(v, here) for v in raw]


def _joint_list(raw: Any, here: str) -> list[str]:
    if not isinstance(raw, list):
        raise CatalogueError(f"{here}: expected a list of SKEL joint names, got {raw!r}")
    for v in raw:
        if v not in JOINT_NAMES:
            raise CatalogueError(f"{here}: expected SKEL joint names (e.g. tibia_r), got {v!r}")
    return [str(v) for v in raw]
