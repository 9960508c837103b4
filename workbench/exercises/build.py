"""Build reference cycles (46 × N_ref radians, plus the ± SD envelope) from the rule files.

The reference is cut by the same cycle detector the analysis uses, so a user's rep and the reference start
and end at the same event (leaving rest, crossing the mid level) whatever the rules' profile shapes are.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from workbench.exercises.catalogue import REFERENCES_DIR, Exercise, load_catalogue
from workbench.exercises.profiles import cycle_angles, envelope_sd
from workbench.motion.align import resample_cycle
from workbench.motion.cycles import CycleSegmenter
from workbench.motion.signal import SMOOTH_SIGMA_S, cycle_params, signal_spec
from workbench.motion.smoothing import sigma_frames, smooth
from workbench.skeleton import N_DOFS

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
        raise ValueError(f"{ex.rule_file}: the reference rules do not produce detectable cycles "
                         f"(found {len(cycles)} in 4 periods); check motion_deg and cycle.signal")  # fmt: skip
    middle = cycles[len(cycles) // 2]
    mean = resample_cycle(q[middle.start : middle.end + 1], n_ref).T
    return np.ascontiguousarray(mean), envelope_sd(rules, n_ref)


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

