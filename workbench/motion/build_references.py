"""Build reference cycles (46 × N_ref radians, plus the ± SD envelope) from the rule files.

The reference is cut by the same cycle detector the analysis uses, so a user's rep and the reference start
and end at the same event (leaving rest, crossing the mid level) whatever the rules' profile shapes are.
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from workbench.exercises.catalogue import REFERENCES_DIR, Exercise, Reference, load_catalogue
from workbench.exercises.profiles import cycle_angles, envelope_sd
from workbench.motion.align import resample_cycle
from workbench.motion.cycles import CycleSegmenter
from workbench.motion.signal import SMOOTH_SIGMA_S, cycle_params, signal_spec
from workbench.motion.smoothing import sigma_frames, smooth
from workbench.skeleton import N_DOFS, dof, dof_index

BUILD_FPS = 30.0
DEFAULT_N_REF = 100


def build_reference(ex: Exercise) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """(mean, sd), each (46, n_ref) radians."""
    rules = ex.reference_rules
    n_ref = int(rules.get("n_samples", DEFAULT_N_REF))
    if ex.cycle.kind == "static_hold":
        mean = np.repeat(cycle_angles(rules, np.zeros(1)).T, n_ref, axis=1)
        return mean, envelope_sd(rules, n_ref)
    period = float(rules.get("period_s", 2.0))
    frames = round(period * BUILD_FPS)
    u = (np.arange(4 * frames) / frames) % 1.0
    q = cycle_angles(rules, u)
    spec = signal_spec(ex, np.ones(N_DOFS, bool))
    assert spec is not None
    signal = smooth(spec.series(q), sigma_frames(SMOOTH_SIGMA_S, BUILD_FPS))
    segmenter = CycleSegmenter(cycle_params(ex, BUILD_FPS))
    cycles = [c for x in signal.tolist() for c in segmenter.push(x)] + segmenter.finish()
    if len(cycles) < 2:
        raise ValueError(
            f"{ex.rule_file}: the reference rules do not produce detectable cycles "
            f"(found {len(cycles)} in 4 periods); check motion_deg and cycle.signal"
        )
    middle = cycles[len(cycles) // 2]
    mean = resample_cycle(q[middle.start : middle.end + 1], n_ref).T
    return np.ascontiguousarray(mean), envelope_sd(rules, n_ref)


@dataclass(frozen=True)
class Variant:
    """A variant of an exercise with its own reference cycle (``reference.variants`` in the rule file), chosen
    per rep from the data: at both rest ends of the rep (the median over its first and last tenth) the two
    ``rest_apart`` DoFs are at least ``rest_apart`` radians apart (a split squat starts and ends in a split
    stance, a lunge from standing does not)."""

    name: str
    rest_apart_dofs: tuple[int, int]
    mirror_sign: float  # the second DoF's value in the first's sign convention
    rest_apart: float  # radians
    reference: Reference

    def matches(self, q: NDArray[np.float64]) -> bool:
        """Whether a rep's (frames, 46) angles start and end in this variant's rest posture."""
        a, b = self.rest_apart_dofs
        gap = np.abs(q[:, a] - self.mirror_sign * q[:, b])
        k = max(1, q.shape[0] // 10)
        ends = (float(np.median(gap[:k])), float(np.median(gap[-k:])))
        return all(math.isfinite(g) and g >= self.rest_apart for g in ends)


def variant_exercise(ex: Exercise, name: str) -> Exercise:
    """The exercise with a variant's reference rules in place of the main ones (the variant's ``posture_deg``,
    ``motion_deg`` and ``posture_sd_deg`` entries replace the main ones DoF by DoF): what the reference is built
    from, and what the synthetic generator draws the variant's performances from."""
    variants = ex.reference_rules.get("variants") or {}
    if name not in variants:
        raise KeyError(f"{ex.rule_file}: expected a reference variant in {sorted(variants)}, got {name!r}")
    raw = variants[name]
    rules = {k: v for k, v in ex.reference_rules.items() if k != "variants"}
    for block in ("posture_deg", "motion_deg", "posture_sd_deg"):
        rules[block] = {**(rules.get(block) or {}), **(raw.get(block) or {})}
    for key in ("period_s", "n_samples"):
        if key in raw:
            rules[key] = raw[key]
    return replace(ex, reference_rules=rules)


def build_variants(ex: Exercise) -> tuple[Variant, ...]:
    """The exercise's variants with their reference cycles, built from the rules like the main reference
    (``variant_exercise``)."""
    out = []
    for name, raw in (ex.reference_rules.get("variants") or {}).items():
        where = f"{ex.rule_file}: reference.variants.{name}"
        if not isinstance(raw, dict) or "rest_apart" not in raw or "rest_apart_deg" not in raw:
            raise ValueError(f"{where}: expected a mapping with rest_apart [dof, dof] and rest_apart_deg, got {raw!r}")
        first, second = (dof(str(n)) for n in raw["rest_apart"])
        mean, sd = build_reference(variant_exercise(ex, str(name)))
        digest = hashlib.sha256(np.ascontiguousarray(mean).tobytes()).hexdigest()[:12]
        out.append(
            Variant(
                name=str(name),
                rest_apart_dofs=(dof_index(first.name), dof_index(second.name)),
                mirror_sign=float(second.mirror_sign) if second.name == first.mirror else 1.0,
                rest_apart=math.radians(float(raw["rest_apart_deg"])),
                reference=Reference(mean=mean, sd=sd, version=f"rules:{ex.key}/{name}@{digest}"),
            )
        )
    return tuple(out)


def write_references(directory: Path = REFERENCES_DIR) -> list[Path]:
    """Regenerate every ``trajectories/<exercise>.npy`` and ``<exercise>_sd.npy`` (deterministic)."""
    out_dir = directory / "trajectories"
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for ex in load_catalogue(directory):
        if ex.fixed_side is not None:
            continue
        mean, sd = build_reference(ex)
        for suffix, arr in (("", mean), ("_sd", sd)):
            path = out_dir / f"{ex.rule_file.stem}{suffix}.npy"
            np.save(path, arr.astype(np.float64))
            written.append(path)
    load_catalogue.cache_clear()
    return written
