"""The editor's and runs page's logic without a browser, on the bundled example (a CMU squat).

Ground truth: the example's squats bend the knee well past 90° but not to 160°, so under the seeded rules
(knee_depth ≥ 90°) no rep violates knee_depth, and with the lower bound raised to 160° every rep does, on
both knees (the rule is both_sides).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from workbench.dashboard import editing
from workbench.dashboard.state import EXAMPLE_CLIP, AppState
from workbench.store import ConflictError


@pytest.fixture
def state(tmp_path: Path) -> AppState:
    s = AppState(db_path=str(tmp_path / "store.duckdb"))
    s.open_clip(str(EXAMPLE_CLIP), "squat")
    assert s.result is not None
    return s


def test_preview_changes_violations_without_saving(state: AppState) -> None:
    p = editing.preview(state, "squat", "knee_depth", {"bounds_deg": (160.0, None)})
    before = {k for k in editing.violation_keys(p.before) if k[1].startswith("knee_depth")}
    after = {k for k in editing.violation_keys(p.after) if k[1].startswith("knee_depth")}
    n_reps = len(state.result.analysis.reps)
    assert n_reps >= 1 and not before
    checks = ("knee_depth", "knee_depth@knee_angle_l")
    assert after == {(r.index, c) for r in state.result.analysis.reps for c in checks}
    assert p.changed
    assert editing.get_threshold(state.database(), "squat", "knee_depth").version == 1  # nothing saved


def test_preview_unchanged_edit_keeps_violations(state: AppState) -> None:
    p = editing.preview(state, "squat", "knee_depth", {"bounds_deg": (90.0, None)})
    assert not p.changed


def test_preview_refuses_another_exercise(state: AppState) -> None:
    with pytest.raises(ValueError, match="Expected the open clip's exercise"):
        editing.preview(state, "lunge", "knee_depth", {"bounds_deg": (1.0, None)})


def test_save_creates_version_and_conflict_is_reported(state: AppState) -> None:
    db = state.database()
    saved = editing.save_threshold(
        db, "squat", "knee_depth", base_version=1, author="alice", note="deeper", bounds_deg=(160.0, None)
    )
    assert (saved.version, saved.author, saved.note, saved.spec.bounds_deg) == (2, "alice", "deeper", (160.0, None))
    assert [r["version"] for r in editing.threshold_history(db, "squat", "knee_depth")] == [1, 2]
    assert editing.threshold_diff(db, "squat", "knee_depth", 1, 2) == {"bounds_deg": ((90.0, None), (160.0, None))}
    with pytest.raises(ConflictError):  # a second editor who loaded version 1
        editing.save_threshold(
            db, "squat", "knee_depth", base_version=1, author="bob", note="", bounds_deg=(100.0, None)
        )
    assert editing.get_threshold(db, "squat", "knee_depth").spec.bounds_deg == (160.0, None)  # nothing overwritten
    # the next analysis uses the saved version
    state.open_clip(str(EXAMPLE_CLIP), "squat")
    assert state.result.analysis.provenance["threshold_versions"]["knee_depth"] == 2
    assert any(v.check == "knee_depth" for v in editing.all_violations(state.result.analysis))


def test_revert(state: AppState) -> None:
    db = state.database()
    editing.save_threshold(db, "squat", "knee_depth", base_version=1, author="a", note="", bounds_deg=(160.0, None))
    back = editing.revert_threshold(db, "squat", "knee_depth", 1, author="a")
    assert back.version == 3 and back.spec.bounds_deg == (90.0, None) and "revert to version 1" in back.note


def test_unknown_field_is_refused(state: AppState) -> None:
    with pytest.raises(ValueError, match="Expected changes among"):
        editing.save_threshold(
            state.database(), "squat", "knee_depth", base_version=1, author="a", note="", dof="hip_flexion_r"
        )


def test_batch_runs_and_compare(state: AppState) -> None:
    db = state.database()
    job = editing.BackgroundBatch(paths=[str(EXAMPLE_CLIP)], exercise="squat", db=db)
    job.run()
    assert job.finished and job.percent == 100 and not job.errors and len(job.run_ids) == 1
    editing.save_threshold(db, "squat", "knee_depth", base_version=1, author="a", note="", bounds_deg=(160.0, None))
    job2 = editing.BackgroundBatch(paths=[str(EXAMPLE_CLIP)], exercise="squat", db=db)
    job2.run()
    a, b = job.run_ids[0], job2.run_ids[0]
    rows = editing.list_runs(db)
    assert [r["id"] for r in rows[:2]] == [b, a] and rows[0]["status"] == "succeeded"
    assert "knee_depth@v2" in rows[0]["threshold_versions"]
    cmp = editing.compare_runs(db, a, b)
    assert cmp.provenance["threshold knee_depth"] == (1, 2)
    assert any("knee_depth" in e for e in cmp.violations_only_b) and not cmp.same
    assert editing.compare_runs(db, b, b).same


def test_batch_cancel_between_clips(state: AppState) -> None:
    calls: list[str] = []
    job = editing.BackgroundBatch(paths=["a", "b", "c"], exercise="squat", db=state.database())

    def fake(path: str, exercise: str, db: object) -> None:
        calls.append(path)
        job.cancel()

    job.run(fake)
    assert calls == ["a"] and job.cancelled and job.finished and job.done == 1


def test_reference_curves(state: AppState) -> None:
    curves = editing.reference_curves(state.database(), "squat", "knee_angle_r")
    assert len(curves) == 1 and curves[0].current and curves[0].mean_deg.max() > 60
    assert curves[0].mean_deg.shape == curves[0].sd_deg.shape


# ------------------------------------------------------------------------------------------- reference edits
# Known answers on small synthetic curves: (46, N) radians, knee_angle_r moving, the rest flat.


def _curves(n: int = 101) -> tuple[np.ndarray, np.ndarray]:
    from workbench.skeleton import N_DOFS, dof_index

    u = np.linspace(0.0, 1.0, n)
    mean = np.zeros((N_DOFS, n))
    mean[dof_index("knee_angle_r")] = np.radians(5.0 + 50.0 * (1 - np.cos(2 * np.pi * u)))  # 5° → 105° → 5°
    sd = np.full((N_DOFS, n), np.radians(3.0))
    return mean, sd


def test_scale_reference_changes_excursion_by_factor_and_keeps_rest() -> None:
    from workbench.skeleton import dof_index

    mean, sd = _curves()
    k, h = dof_index("knee_angle_r"), dof_index("hip_flexion_r")
    m2, s2 = editing.scale_reference(mean, sd, "knee_angle_r", 1.2)
    assert np.degrees(m2[k, 0]) == pytest.approx(5.0)  # rest unchanged
    assert np.ptp(m2[k]) == pytest.approx(1.2 * np.ptp(mean[k]), rel=1e-12)  # excursion +20 % exactly
    assert np.degrees(m2[k].max()) == pytest.approx(5.0 + 1.2 * 100.0)
    assert np.array_equal(m2[h], mean[h]) and np.array_equal(s2[h], sd[h])  # other DoFs untouched
    assert np.allclose(s2[k], 1.2 * sd[k])
    assert np.degrees(mean[k].max()) == pytest.approx(105.0)  # the input is not modified


def test_offset_reference_shifts_by_degrees() -> None:
    from workbench.skeleton import dof_index

    mean, sd = _curves()
    k = dof_index("knee_angle_r")
    m2, s2 = editing.offset_reference(mean, sd, k, -7.5)
    assert np.allclose(np.degrees(m2[k] - mean[k]), -7.5)
    assert np.array_equal(s2, sd) and np.array_equal(np.delete(m2, k, 0), np.delete(mean, k, 0))


def test_set_key_point_hits_value_and_leaves_far_samples() -> None:
    from workbench.skeleton import dof_index

    mean, sd = _curves(101)
    k = dof_index("knee_angle_r")
    m2, _ = editing.set_key_point(mean, sd, "knee_angle_r", 0.5, 120.0, width=0.1)  # index 50, ±10 samples
    assert np.degrees(m2[k, 50]) == pytest.approx(120.0, abs=1e-12)
    far = np.r_[0:40, 61:101]
    assert np.array_equal(m2[k, far], mean[k, far])
    assert np.all(np.abs(np.diff(np.degrees(m2[k]))) < 5.0)  # smooth: no jump at the bump's edges
    m3, _ = editing.set_key_point(mean, sd, k, 20, 30.0, width=5)  # an index and a width in samples
    assert np.degrees(m3[k, 20]) == pytest.approx(30.0, abs=1e-12)
    assert np.array_equal(m3[k, :15], mean[k, :15]) and np.array_equal(m3[k, 26:], mean[k, 26:])
    with pytest.raises(ValueError):
        editing.set_key_point(mean, sd, k, 1.5, 0.0)


def test_smooth_reference_keeps_constant_and_reduces_spike() -> None:
    from workbench.skeleton import dof_index

    mean, sd = _curves()
    h, k = dof_index("hip_flexion_r"), dof_index("knee_angle_r")
    mean[h] = np.radians(12.0)
    mean[k, 50] += np.radians(30.0)  # a spike on the knee
    m2, s2 = editing.smooth_reference(mean, sd, 2.0)
    assert np.allclose(m2[h], np.radians(12.0), atol=1e-15) and np.allclose(s2, sd, atol=1e-15)
    spike_before = mean[k, 50] - 0.5 * (mean[k, 49] + mean[k, 51])
    spike_after = m2[k, 50] - 0.5 * (m2[k, 49] + m2[k, 51])
    assert spike_after < 0.3 * spike_before
    m3, _ = editing.smooth_reference(mean, sd, 2.0, dofs=["hip_flexion_r"])  # only the chosen DoF
    assert np.array_equal(m3[k], mean[k])


def test_reference_from_cycles_recovers_synthetic_knee_excursion() -> None:
    from types import SimpleNamespace

    from workbench.exercises import load_catalogue
    from workbench.exercises.profiles import motion_rules
    from workbench.pose.synthetic import synthesize
    from workbench.skeleton import dof_index

    ex = load_catalogue().get("squat")
    track, truth = synthesize(ex, n_reps=4, noise_deg=0.5, seed=3)
    fps = track.fps
    reps = [
        SimpleNamespace(index=j, side=None, start_frame=round(a * fps), end_frame=round(b * fps) - 1)
        for j, (a, b) in enumerate(truth.rep_bounds_s)
    ]
    q = track.q.copy()
    q[reps[0].start_frame + 10, :] = np.nan  # a lost frame in one rep: NaN-safe
    k = dof_index("knee_angle_r")
    spec = motion_rules(ex.reference_rules)[k]
    mean, sd = editing.reference_from_cycles(q, reps, 100)
    assert mean.shape == sd.shape == (46, 100) and np.isfinite(mean).all() and np.isfinite(sd).all()
    excursion = np.degrees(np.ptp(mean[k]))
    assert excursion == pytest.approx(float(spec["work"]) - float(spec["rest"]), abs=2.0)
    assert np.degrees(mean[k, 0]) == pytest.approx(float(spec["rest"]), abs=2.0)
    # an unobserved DoF (all NaN) takes the fallback
    q[:, dof_index("hip_flexion_r")] = np.nan
    fb = (np.full((46, 100), 0.25), np.full((46, 100), 0.01))
    m2, s2 = editing.reference_from_cycles(q, reps, 100, fallback=fb)
    assert np.all(m2[dof_index("hip_flexion_r")] == 0.25) and np.all(s2[dof_index("hip_flexion_r")] == 0.01)
    with pytest.raises(ValueError):
        editing.reference_from_cycles(q, [], 100)


def test_save_reference_new_version_and_conflict(state: AppState) -> None:
    db = state.database()
    cur = editing.current_reference(db, "squat")
    assert cur.version == 1
    mean, sd = editing.scale_reference(cur.mean, cur.sd, "knee_angle_r", 1.2)
    saved = editing.save_reference(db, "squat", mean, sd, base_version=1, author="alice", note="deeper")
    assert (saved.version, saved.author, saved.note) == (2, "alice", "deeper")
    assert np.array_equal(editing.current_reference(db, "squat").mean, mean)
    assert [r["version"] for r in editing.reference_history(db, "squat")] == [1, 2]
    assert any("knee_angle_r" in line for line in editing.reference_diff_rows(db, "squat", 1, 2))
    with pytest.raises(ConflictError):  # a second editor who loaded version 1
        m3, s3 = editing.offset_reference(cur.mean, cur.sd, "knee_angle_r", 3.0)
        editing.save_reference(db, "squat", m3, s3, base_version=1, author="bob", note="")
    assert editing.current_reference(db, "squat").version == 2  # nothing overwritten
    assert editing.revert_reference(db, "squat", 1, author="alice") == 3
    assert np.array_equal(editing.current_reference(db, "squat").mean, cur.mean)


def test_preview_reference_scaled_down_lowers_quality(state: AppState) -> None:
    cur = editing.current_reference(state.database(), "squat")
    mean, sd = cur.mean, cur.sd
    for name in ("knee_angle_r", "knee_angle_l"):  # the knees move half as far: the amplitude term drops
        mean, sd = editing.scale_reference(mean, sd, name, 0.5)
    p = editing.preview_reference(state, "squat", mean, sd)
    assert p.quality_before and set(p.quality_before) == set(p.quality_after)
    for i, q in p.quality_before.items():
        assert q is not None and p.quality_after[i] is not None and p.quality_after[i] < q - 0.05
    assert p.changed and len(p.rows()) == len(state.result.analysis.reps)
    unchanged = editing.preview_reference(state, "squat", cur.mean, cur.sd)
    assert unchanged.quality_after == unchanged.quality_before and not unchanged.changed
    assert editing.current_reference(state.database(), "squat").version == 1  # nothing saved


def test_accepted_reps(state: AppState) -> None:
    analysis = state.result.analysis
    assert [r.index for r in editing.accepted_reps(analysis)] == [r.index for r in analysis.reps if not r.violations]
    assert [r.index for r in editing.accepted_reps(analysis, [1])] == [1]


def test_cycles_of_other_clips_and_reference_from_them(tmp_path: Path) -> None:
    from workbench.exercises import load_catalogue
    from workbench.exercises.profiles import motion_rules
    from workbench.pose.posefile import save_npz
    from workbench.pose.synthetic import synthesize
    from workbench.skeleton import dof_index

    data = tmp_path / "data"
    data.mkdir()
    ex = load_catalogue().get("squat")
    paths, counts = [], []
    for seed, n_reps in ((1, 3), (2, 4)):
        track, _ = synthesize(ex, n_reps=n_reps, noise_deg=0.5, seed=seed)
        paths.append(str(save_npz(track, data / f"synthetic_{seed}.npz")))
        counts.append(n_reps)
    st = AppState(db_path=str(tmp_path / "store.duckdb"), data_dirs=[str(data)])
    choices = editing.overlay_clip_choices(st)
    assert choices[0] == str(EXAMPLE_CLIP) and set(paths) <= set(choices)
    n_ref = editing.reference_length(st, "squat")
    for accepted_only in (False, True):
        cycles = editing.cycles_of_clips(st, "squat", paths, "knee_angle_r", accepted_only=accepted_only)
        assert list(cycles) == paths
        assert [len(cycles[p]) for p in paths] == counts  # the synthetic reps are clean: all accepted
        assert all(c.shape == (n_ref,) for p in paths for c in cycles[p])
    assert editing.analyse_clip_cached(st, "squat", paths[0]) is editing.analyse_clip_cached(st, "squat", paths[0])
    k = dof_index("knee_angle_r")
    spec = motion_rules(ex.reference_rules)[k]
    mean, sd = editing.reference_from_clips(st, "squat", paths)
    assert mean.shape == sd.shape == (46, n_ref)
    # the bottom of the squat (the synthetic "work" angle) is recovered; the detected reps start once the knee
    # moves (~13°, not the 5° rest), so the excursion is that of the detected cycles pooled over both clips
    assert np.degrees(mean[k].max()) == pytest.approx(float(spec["work"]), abs=2.0)
    pooled = [c for p in paths for c in cycles[p]]
    assert np.degrees(np.ptp(mean[k])) == pytest.approx(np.degrees(np.mean([np.ptp(c) for c in pooled])), abs=2.0)
    one = editing.reference_from_clips(st, "squat", paths[:1])[0]
    assert not np.allclose(one, mean)  # both clips count
    with pytest.raises(ValueError, match="inside the data folders"):
        editing.cycles_of_clips(st, "squat", [str(tmp_path / "elsewhere.npz")], "knee_angle_r")
