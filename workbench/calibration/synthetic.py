"""Synthetic labelled repetitions with a known answer: what the notebook and the tests calibrate on when no
real labelled data is at hand.

Each "subject" performs one-rep files of an exercise at their own depth (a subject-specific scale of the
reference excursion) with sensor noise; their incorrect reps are ``shallow_deg`` shallower in every moving
DoF (pose.synthetic's ``shallow`` fault), so the bound that separates the two is known: it lies between the
deepest incorrect and the shallowest correct rep.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from workbench.data.labelled import write_manifest
from workbench.exercises.catalogue import Exercise
from workbench.pose.posefile import save_npz
from workbench.pose.synthetic import Fault, synthesize


@dataclass(frozen=True)
class SyntheticSet:
    manifest: Path
    n_files: int
    shallow_deg: float


def write_labelled_set(
    exercise: Exercise,
    out: str | Path,
    *,
    n_subjects: int = 4,
    reps_per_label: int = 6,
    shallow_deg: float = 30.0,
    subject_sd: float = 0.04,
    noise_deg: float = 1.5,
    seed: int = 0,
) -> SyntheticSet:
    """One ``.npz`` per rep and ``manifest.csv`` in ``out`` (module doc)."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    rows = []
    for s in range(1, n_subjects + 1):
        depth = 1.0 + subject_sd * float(rng.standard_normal())
        for label in ("correct", "incorrect"):
            for e in range(1, reps_per_label + 1):
                faults = (Fault("shallow", (0,), shallow_deg),) if label == "incorrect" else ()
                period = float(exercise.reference_rules.get("period_s", 2.0)) * (
                    1.0 + 0.1 * float(rng.standard_normal())
                )
                track, _ = synthesize(
                    exercise,
                    1,
                    period_s=max(period, 0.5),
                    depth_scale=depth,
                    noise_deg=noise_deg,
                    faults=faults,
                    seed=int(rng.integers(1 << 30)),
                    rest_s=0.3,
                )
                name = f"{exercise.key}_s{s:02d}_e{e:02d}{'_inc' if label == 'incorrect' else ''}.npz"
                save_npz(track, out / name)
                rows.append(
                    (name, exercise.key, label, f"s{s:02d}", f"e{e:02d}", "synthetic (workbench.calibration.synthetic)")
                )
    manifest = write_manifest(out / "manifest.csv", rows)
    return SyntheticSet(manifest=manifest, n_files=len(rows), shallow_deg=shallow_deg)
