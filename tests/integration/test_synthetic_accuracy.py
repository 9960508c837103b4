"""Rep counts and fault detection on synthetic tracks with a known answer, for every catalogue exercise."""

import pytest

from workbench.exercises import load_catalogue
from workbench.motion.analysis import analyze
from workbench.pose.synthetic import Fault, synthesize

CATALOGUE = load_catalogue()
MOVING = [e.key for e in CATALOGUE if e.fixed_side is None and e.cycle.kind != "static_hold"]
REPETITIVE = [e.key for e in CATALOGUE if e.fixed_side is None and e.cycle.kind == "repetitive"]
HOLDS = [e.key for e in CATALOGUE if e.fixed_side is None and e.cycle.kind == "static_hold"]


@pytest.mark.parametrize("key", MOVING)
def test_clean_track_exact_count_no_violations(key: str) -> None:
    ex = CATALOGUE.get(key)
    track, truth = synthesize(ex, 10, seed=0)
    analysis = analyze(track, ex)
    assert len(analysis.reps) == truth.n_reps == 10
    assert [v.message for r in analysis.reps for v in r.violations] == []
    for rep, (start, end) in zip(analysis.reps, truth.rep_bounds_s, strict=True):
        assert start - 0.1 <= rep.start_s < rep.end_s <= end + 0.1 + (end - start) * 0.6  # alternating: shifted
        assert rep.quality is not None and rep.quality > 0.9


@pytest.mark.parametrize("key", MOVING)
def test_noisy_track_count_within_one(key: str) -> None:
    ex = CATALOGUE.get(key)
    track, truth = synthesize(ex, 12, jitter=0.1, noise_deg=3.0, dropout=0.02, seed=5)
    assert abs(len(analyze(track, ex).reps) - truth.n_reps) <= 1


@pytest.mark.parametrize("key", REPETITIVE)
def test_depth_faults_are_flagged_with_precision_and_recall(key: str) -> None:
    ex = CATALOGUE.get(key)
    faulty = (1, 4, 7)
    track, _truth = synthesize(ex, 10, jitter=0.05, noise_deg=1.5, faults=(Fault("shallow", faulty, 35),), seed=2)
    reps = analyze(track, ex).reps
    assert len(reps) == 10
    flagged = {r.index for r in reps if any(v.type == "dynamic" for v in r.violations)}
    assert flagged == set(faulty)


@pytest.mark.parametrize("key", HOLDS)
def test_holds_are_found_and_clean(key: str) -> None:
    ex = CATALOGUE.get(key)
    track, _ = synthesize(ex, 10, noise_deg=1.0, seed=1)
    reps = analyze(track, ex).reps
    assert reps and all(r.kind == "hold" for r in reps)
    assert sum(r.end_s - r.start_s for r in reps) > 0.8 * track.duration_s
    assert [v.message for r in reps for v in r.violations] == []


@pytest.mark.slow
def test_depth_and_stability_faults_precision_recall_over_the_catalogue() -> None:
    """Pooled over every repetitive and alternating exercise, with noise and jitter: a fault counts as found
    when its rep carries a violation of the matching type (dynamic for depth, stability for wobble)."""
    tp = fp = fn = 0
    for key in MOVING:
        ex = CATALOGUE.get(key)
        stable_dofs = [c.dof for c in ex.constraints if c.kind == "stability" and c.joint in ex.salient_joints]
        faults = [Fault("shallow", (1, 6), 35)]
        if stable_dofs:
            faults.append(Fault("wobble", (3, 8), 14, (stable_dofs[0],)))
        track, truth = synthesize(ex, 10, jitter=0.05, noise_deg=2.0, faults=tuple(faults), seed=9)
        reps = analyze(track, ex).reps
        if len(reps) != 10:
            fn += sum(len(v) for v in truth.faults.values())
            continue
        for rep in reps:
            kinds = {
                "shallow" if v.type == "dynamic" else "wobble"
                for v in rep.violations
                if v.type in ("dynamic", "stability")
            }
            injected = set(truth.faults.get(rep.index, []))
            tp += len(kinds & injected)
            fp += len(kinds - injected)
            fn += len(injected - kinds)
    precision, recall = tp / max(1, tp + fp), tp / max(1, tp + fn)
    assert precision >= 0.95 and recall >= 0.95, (precision, recall, tp, fp, fn)
