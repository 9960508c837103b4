"""The Runs page's logic without a browser: which clips run with which exercise, reruns through the batch driver
(each clip analysed as its own exercise), run filters, same-clip comparison, and an app that opens without
recording a run."""

from __future__ import annotations

from pathlib import Path

import pytest

from workbench.dashboard import editing
from workbench.dashboard.state import EXAMPLE_CLIP, AppState
from workbench.exercises import load_catalogue
from workbench.pose.posefile import save_npz
from workbench.pose.synthetic import synthesize


def _clip(folder: Path, exercise: str, name: str, seed: int = 0) -> str:
    track, _ = synthesize(load_catalogue().get(exercise), 2, noise_deg=2.0, seed=seed)
    folder.mkdir(parents=True, exist_ok=True)
    return str(save_npz(track, folder / name))


@pytest.fixture
def state(tmp_path: Path) -> AppState:
    return AppState(db_path=str(tmp_path / "store.duckdb"), data_dirs=[str(tmp_path / "data")])


def test_exercise_per_clip_from_store_query_name_or_choice(state: AppState, tmp_path: Path) -> None:
    db = state.database()
    keys = editing.exercise_keys(db)
    lunge = _clip(tmp_path / "data", "lunge", "lunge_a.npz")
    other = _clip(tmp_path / "data", "pushup", "clip_b.npz", seed=1)
    deep = _clip(tmp_path / "data", "squat", "deep_squat_1.npz", seed=2)
    assert editing.guess_exercise(deep, keys) == "deep_squat"  # the longest key the name names
    assert editing.guess_exercise("walking_lunges.mp4", keys) == "walking_lunges"
    assert editing.guess_exercise(other, keys) is None
    rows = editing.clip_rows(db, [lunge, other], keys)
    assert [(r["clip"], r["exercise"], r["exercise_from"]) for r in rows] == [
        ("lunge_a.npz", "lunge", "file name"),
        ("clip_b.npz", "", "choose one"),
    ]
    with pytest.raises(ValueError, match=r"Choose an exercise for: clip_b.npz \(none\)"):
        editing.clips_to_run(rows, keys)  # never silently analysed as another clip's exercise
    rows[1]["exercise"] = "pushup"  # chosen in the editable table
    refs = editing.clips_to_run(rows, keys)
    assert [(r.path.name, r.exercise) for r in refs] == [("lunge_a.npz", "lunge"), ("clip_b.npz", "pushup")]
    rows[0]["run"] = False
    assert [r.path.name for r in editing.clips_to_run(rows, keys)] == ["clip_b.npz"]


def test_lunge_and_pushup_in_one_run_each_as_its_own_exercise(state: AppState, tmp_path: Path) -> None:
    db = state.database()
    keys = editing.exercise_keys(db)
    paths = [_clip(tmp_path / "data", "lunge", "lunge_a.npz"), _clip(tmp_path / "data", "pushup", "pushup_b.npz", 1)]
    rows = editing.clip_rows(db, paths, keys)
    job = editing.BatchRerun(clips=editing.clips_to_run(rows, keys), db=db, author="alice")
    job.run()
    assert job.finished and job.error is None and not job.cancelled and job.percent == 100, job.error
    results = {r["clip"]: r for r in job.results()}
    assert {k: (r["exercise"], r["status"]) for k, r in results.items()} == {
        "lunge_a.npz": ("lunge", "done"),
        "pushup_b.npz": ("pushup", "done"),
    }
    with db.store() as store:
        for name, ex in (("lunge_a.npz", "lunge"), ("pushup_b.npz", "pushup")):
            run = store.runs.get(results[name]["run"])
            assert (run.exercise, run.status, run.config["author"]) == (ex, "succeeded", "alice")
    # the store now knows each clip's exercise: a fresh table takes it from there, not from the name
    renamed = editing.clip_rows(db, paths, keys)
    assert [(r["exercise"], r["exercise_from"]) for r in renamed] == [("lunge", "store"), ("pushup", "store")]
    found, left_out = editing.store_query_clips(db, "exercise = 'pushup'", state.allowed)
    assert list(found.values()) == ["pushup"] and left_out == []
    # resumable: a second run of the same clips with the same versions redoes nothing and records no run
    n_runs = len(editing.list_runs(db))
    again = editing.BatchRerun(clips=editing.clips_to_run(rows, keys), db=db)
    again.run()
    assert again.error is None and len(editing.list_runs(db)) == n_runs
    assert {r["clip"]: r["run"] for r in again.results()} == {k: r["run"] for k, r in results.items()}


def test_a_bad_store_query_is_refused_in_one_line(state: AppState) -> None:
    with pytest.raises(editing.BatchError, match="--where"):
        editing.store_query_clips(state.database(), "no such column = 1", state.allowed)


def test_filter_runs_by_clip_exercise_author_and_date() -> None:
    rows = [
        {
            "id": 3,
            "clip": "lunge_a.npz",
            "exercise": "lunge",
            "author": "alice",
            "started_at": "2026-03-02 10:00:00",
            "clip_hash": "h1",
        },
        {
            "id": 2,
            "clip": "pushup_b.npz",
            "exercise": "pushup",
            "author": "bob",
            "started_at": "2026-03-01 09:00:00",
            "clip_hash": "h2",
        },
        {
            "id": 1,
            "clip": "lunge_a.npz",
            "exercise": "lunge",
            "author": "",
            "started_at": "2026-02-27 08:00:00",
            "clip_hash": "h1",
        },
    ]
    ids = lambda out: [r["id"] for r in out]  # noqa: E731
    assert ids(editing.filter_runs(rows, clip="LUNGE")) == [3, 1]
    assert ids(editing.filter_runs(rows, exercise="pushup")) == [2]
    assert ids(editing.filter_runs(rows, author="ali")) == [3]
    assert ids(editing.filter_runs(rows, since="2026-03-01")) == [3, 2]
    assert ids(editing.filter_runs(rows, since="2026-02-28", until="2026-03-01")) == [2]
    assert ids(editing.filter_runs(rows)) == [3, 2, 1]
    assert editing.same_clip_runs(rows, 3) == [3, 1] and editing.same_clip_runs(rows, 99) == []


def test_opening_the_bundled_example_records_no_run(state: AppState, tmp_path: Path) -> None:
    db = state.database()
    before = len(editing.list_runs(db))
    state.open_clip(str(EXAMPLE_CLIP), "squat")
    assert state.result is not None and "run_id" not in state.result.analysis.provenance
    assert len(editing.list_runs(db)) == before
    other = _clip(tmp_path / "data", "squat", "squat_x.npz")
    state.open_clip(other, "squat")  # a clip the user opens is still a recorded run, as before
    assert len(editing.list_runs(db)) == before + 1


def test_review_push_without_label_studio_says_so_in_one_line(
    state: AppState, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    from workbench.dashboard.pages import review

    monkeypatch.setattr(review, "DEFAULT_DATA_DIR", tmp_path / "no-label-studio")  # no token file there
    job = review.SyncJob("push", state.database())
    job.run()
    assert job.finished and job.message.startswith("Push failed: ") and "\n" not in job.message
    page = review.ReviewPage(state=state)
    assert page.summary.object.startswith("No proposals yet: propose salient joints for clips first")


def test_a_coached_rerun_of_an_analysed_clip_links_the_run_with_the_coach_lines(
    state: AppState, tmp_path: Path
) -> None:
    """Coaching added later records a new run holding the coach's lines; the results row links that run, not
    the earlier analysis-only run with the offline review."""
    db = state.database()
    keys = editing.exercise_keys(db)
    rows = editing.clip_rows(db, [_clip(tmp_path / "data", "squat", "squat_a.npz", seed=3)], keys)
    first = editing.BatchRerun(clips=editing.clips_to_run(rows, keys), db=db, stages=["pose", "analysis"])
    first.run()
    analysed = first.results()[0]["run"]
    coached = editing.BatchRerun(
        clips=editing.clips_to_run(rows, keys), db=db, stages=["pose", "analysis", "coaching"], coach="rule"
    )
    coached.run()
    assert coached.error is None, coached.error
    run_id = coached.results()[0]["run"]
    assert run_id is not None and run_id != analysed
    with db.store() as store:
        assert store.runs.get(run_id).config["feedback_from"] == "coach:rule"
        assert store.runs.get(analysed).config["feedback_from"] == "analysis review"
