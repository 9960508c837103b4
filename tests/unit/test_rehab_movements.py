"""The UI-PRMD rehabilitation movements in the catalogue: hurdle step, in-line lunge, side lunge, sit to stand.

Ground truth: a synthetic track drawn from an exercise's own reference rules is a correct performance, so
it must count exactly as many reps as were drawn and break no rule; its mirror image is the same movement
on the left side, found as such and judged against the mirrored rules.
"""

from __future__ import annotations

import numpy as np
import pytest

from workbench.exercises.catalogue import load_catalogue
from workbench.motion.analysis import analyze
from workbench.pose.synthetic import synthesize
from workbench.skeleton import N_DOFS, dof_index, mirror_pose

REHAB_KEYS = ["hurdle_step", "inline_lunge", "side_lunge", "sit_to_stand"]
UNILATERAL = {"hurdle_step", "inline_lunge", "side_lunge"}


@pytest.mark.parametrize("key", REHAB_KEYS)
def test_loads_with_reference_and_sourced_rules(key: str) -> None:
    ex = load_catalogue().get(key)
    assert ex.key == key
    assert ex.reference is not None, f"run `biocoach references` for {key}"
    assert ex.reference.mean.shape == (N_DOFS, ex.reference.n_samples)
    assert np.isfinite(ex.reference.mean).all() and (ex.reference.sd >= 0).all()
    assert ex.constraints
    for c in ex.constraints:
        assert c.source in ex.sources and ex.sources[c.source].strip(), c.id


@pytest.mark.parametrize("key", REHAB_KEYS)
def test_laterality(key: str) -> None:
    ex = load_catalogue().get(key)
    if key in UNILATERAL:
        assert ex.laterality == "unilateral" and ex.reference_side == "right"
        assert ex.cycle.side_dofs is not None and len(ex.cycle.side_dofs) == 2
        assert ex.cycle.combine == "sum"  # either side's rep makes the same signal
        assert load_catalogue().get(f"{key}_left").fixed_side == "left"
    else:
        assert ex.laterality == "bilateral" and ex.cycle.side_dofs is None


@pytest.mark.parametrize("key", REHAB_KEYS)
def test_trunk_lean_is_checked_on_pelvis_tilt(key: str) -> None:
    """The inverse kinematics puts the trunk's sagittal lean in pelvis_tilt (forward = negative)."""
    ex = load_catalogue().get(key)
    lean = [c for c in ex.constraints if c.dof == "pelvis_tilt" and c.kind == "dynamic"]
    assert lean and all(c.bounds_deg is not None and c.bounds_deg[0] is not None for c in lean)


@pytest.mark.parametrize("key", REHAB_KEYS)
def test_synthetic_correct_reps_are_counted_without_violations(key: str) -> None:
    ex = load_catalogue().get(key)
    track, truth = synthesize(ex, 5, seed=0)
    analysis = analyze(track, key)
    assert len(analysis.reps) == truth.n_reps == 5
    assert [v.check for r in analysis.reps for v in r.violations] == []
    if key in UNILATERAL:
        assert {r.side for r in analysis.reps} == {"right"}


@pytest.mark.parametrize("key", sorted(UNILATERAL))
def test_mirrored_synthetic_reps_are_left_side_and_correct(key: str) -> None:
    ex = load_catalogue().get(key)
    track, _ = synthesize(ex, 5, seed=0)
    analysis = analyze(track.with_q(mirror_pose(track.q)), key)
    assert len(analysis.reps) == 5
    assert {r.side for r in analysis.reps} == {"left"}
    assert [v.check for r in analysis.reps for v in r.violations] == []


@pytest.mark.parametrize("key", REHAB_KEYS)
def test_a_forward_lean_is_flagged(key: str) -> None:
    """The same reps with the trunk pitched 40° further forward at the working point break the lean rule."""
    ex = load_catalogue().get(key)
    track, _ = synthesize(ex, 3, seed=0)
    q = track.q.copy()
    sig = sum(q[:, dof_index(n)] for n in ex.cycle.signal[:2])
    frac = (sig - sig.min()) / (sig.max() - sig.min())
    q[:, dof_index("pelvis_tilt")] -= np.radians(40.0) * frac
    analysis = analyze(track.with_q(q), key)
    assert len(analysis.reps) == 3
    for rep in analysis.reps:
        assert any(v.dof == "pelvis_tilt" and v.value_deg < v.target_deg for v in rep.violations)
