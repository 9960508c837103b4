"""The editor's and runs page's logic without a browser, on the bundled example (a CMU squat).

Ground truth: the example's squats bend the knee well past 90° but not to 160°, so under the seeded rules
(knee_depth ≥ 90°) no rep violates knee_depth, and with the lower bound raised to 160° every rep does, on
both knees (the rule is both_sides).
"""

from __future__ import annotations

from pathlib import Path

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
    saved = editing.save_threshold(db, "squat", "knee_depth", base_version=1, author="alice", note="deeper",
                                   bounds_deg=(160.0, None))  # fmt: skip
    assert (saved.version, saved.author, saved.note, saved.spec.bounds_deg) == (2, "alice", "deeper", (160.0, None))
    assert [r["version"] for r in editing.threshold_history(db, "squat", "knee_depth")] == [1, 2]
    assert editing.threshold_diff(db, "squat", "knee_depth", 1, 2) == {"bounds_deg": ((90.0, None), (160.0, None))}
    with pytest.raises(ConflictError):  # a second editor who loaded version 1
        editing.save_threshold(db, "squat", "knee_depth", base_version=1, author="bob", note="",
                               bounds_deg=(100.0, None))  # fmt: skip
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
        editing.save_threshold(state.database(), "squat", "knee_depth", base_version=1, author="a", note="",
                               dof="hip_flexion_r")  # fmt: skip


def test_batch_runs_and_compare(state: AppState) -> None:
    db = state.database()
    job = editing.BatchJob(paths=[str(EXAMPLE_CLIP)], exercise="squat", db=db)
    job.run()
    assert job.finished and job.percent == 100 and not job.errors and len(job.run_ids) == 1
    editing.save_threshold(db, "squat", "knee_depth", base_version=1, author="a", note="", bounds_deg=(160.0, None))
    job2 = editing.BatchJob(paths=[str(EXAMPLE_CLIP)], exercise="squat", db=db)
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
    job = editing.BatchJob(paths=["a", "b", "c"], exercise="squat", db=state.database())

    def fake(path: str, exercise: str, db: object) -> None:
        calls.append(path)
        job.cancel()

    job.run(fake)
    assert calls == ["a"] and job.cancelled and job.finished and job.done == 1


def test_reference_curves(state: AppState) -> None:
    curves = editing.reference_curves(state.database(), "squat", "knee_angle_r")
    assert len(curves) == 1 and curves[0].current and curves[0].mean_deg.max() > 60
    assert curves[0].mean_deg.shape == curves[0].sd_deg.shape
