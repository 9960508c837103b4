"""Work keys, stage parsing and clip selection of batch jobs."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.batch_support import make_clips, squat_store
from workbench.batch.jobs import ClipRef, StageSpec, params_hash, work_key
from workbench.batch.select import from_folder, from_glob, from_store
from workbench.batch.stages import BatchError, StagePlan, parse_stages


def test_work_key_depends_on_content_stage_and_every_parameter_not_their_order() -> None:
    a = work_key("abc", "analysis", {"exercise": "squat", "versions": {"rules_version": 1}})
    b = work_key("abc", "analysis", {"versions": {"rules_version": 1}, "exercise": "squat"})
    assert a == b and a.startswith("abc:analysis:")
    assert work_key("abc", "analysis", {"exercise": "squat", "versions": {"rules_version": 2}}) != a
    assert work_key("abd", "analysis", {"exercise": "squat", "versions": {"rules_version": 1}}) != a
    assert work_key("abc", "pose", {"exercise": "squat", "versions": {"rules_version": 1}}) != a
    assert len(params_hash("pose", {})) == 16
    assert StageSpec("pose", {"x": 1}).key("h") == work_key("h", "pose", {"x": 1})


def test_parse_stages_brings_the_stages_before_and_refuses_unknown_ones() -> None:
    assert parse_stages("analysis") == ["pose", "analysis"]
    assert parse_stages("coaching, pose") == ["pose", "analysis", "coaching"]
    with pytest.raises(BatchError, match="expected a comma-separated subset"):
        parse_stages("pose,render")


def test_analysis_key_follows_the_store_versions_of_the_exercise(tmp_path: Path) -> None:
    db = squat_store(tmp_path / "s.duckdb")
    clip = ClipRef(path=make_clips(tmp_path / "c", 1)[0], exercise="squat")
    before = StagePlan(stages=["pose", "analysis"], db=db).specs_for(clip)
    with db.store() as store:
        t = store.thresholds.get("squat", "knee_depth")
        store.thresholds.edit(
            "squat", "knee_depth", base_version=t.version, author="t", note="n", bounds_deg=(100.0, None)
        )
    after = StagePlan(stages=["pose", "analysis"], db=db).specs_for(clip)
    assert before[0].params_hash == after[0].params_hash  # the pose does not depend on thresholds
    assert before[1].params_hash != after[1].params_hash
    assert after[1].params["versions"]["threshold_versions"]["knee_depth"] == 2


def test_analysis_without_an_exercise_is_refused(tmp_path: Path) -> None:
    clip = ClipRef(path=make_clips(tmp_path, 1)[0])
    with pytest.raises(BatchError, match="needs the clip's exercise"):
        StagePlan(stages=["pose", "analysis"], db=None).specs_for(clip)


def test_folder_selection_is_recursive_sorted_and_only_clips(tmp_path: Path) -> None:
    (tmp_path / "b").mkdir()
    for name in ("b/z.npz", "a.mp4", "notes.txt", "c.csv.gz", "d.tar.gz", ".hidden.npz", "b/a.npz"):
        (tmp_path / name).write_bytes(b"x")
    names = [c.path.relative_to(tmp_path).as_posix() for c in from_folder(tmp_path, "squat")]
    assert names == ["a.mp4", "b/a.npz", "b/z.npz", "c.csv.gz"]
    assert {c.exercise for c in from_folder(tmp_path, "squat")} == {"squat"}
    assert [c.path.name for c in from_glob(str(tmp_path / "**" / "*.npz"))] == ["a.npz", "z.npz"]
    with pytest.raises(BatchError, match="expected a folder"):
        next(from_folder(tmp_path / "a.mp4"))


def test_store_selection_pages_through_matching_clips(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import workbench.batch.select as select

    db = squat_store(tmp_path / "s.duckdb")
    clips = make_clips(tmp_path / "c", 5)
    with db.store() as store:
        for i, p in enumerate(clips):
            store.clips.register(p, exercise="squat" if i % 2 == 0 else "lunge")
    monkeypatch.setattr(select, "STORE_PAGE", 2)  # three pages for three clips: paging must not drop any
    got = list(from_store(db, "exercise = 'squat'"))
    assert sorted(c.path.name for c in got) == [clips[0].name, clips[2].name, clips[4].name]
    assert all(c.content_hash and c.exercise == "squat" for c in got)
    with pytest.raises(BatchError, match="one SQL condition"):
        list(from_store(db, "true; DROP TABLE clips"))
    with pytest.raises(BatchError, match="expected a condition over the clips table"):
        list(from_store(db, "no_such_column = 1"))


def test_gpu_stages_ask_ray_for_a_gpu_and_cpu_stages_do_not(tmp_path: Path) -> None:
    clip = ClipRef(path=make_clips(tmp_path, 1)[0], exercise="squat", content_hash="h")
    gpus = {}
    for backend, coach, device in [
        ("pose", "rule", "cpu"),
        ("hsmr", "rule", "cpu"),
        ("pose", "neural", "cuda"),
        ("pose", "neural", "cpu"),
    ]:
        p = StagePlan(stages=["pose", "analysis", "coaching"], backend=backend, coach=coach, coach_device=device)
        p._exercises["squat"] = (type("Ex", (), {"key": "squat"})(), {})  # no store needed for the specs
        gpus[(backend, coach, device)] = p.gpus(p.specs_for(clip))
    assert gpus == {
        ("pose", "rule", "cpu"): 0.0,
        ("hsmr", "rule", "cpu"): 1.0,
        ("pose", "neural", "cuda"): 1.0,
        ("pose", "neural", "cpu"): 0.0,
    }


def test_qevd_selection_yields_the_split_videos(tmp_path: Path) -> None:
    from workbench.batch.select import from_qevd
    from workbench.data.miniature import build_miniature
    from workbench.data.qevd import find_split, read_records

    root = build_miniature(tmp_path / "qevd")
    expected = [r.video for r in read_records(find_split(root, "test")) if r.video.is_file()]
    got = list(from_qevd("test", root))
    assert [c.path for c in got] == expected and expected
    assert {c.source for c in got} == {"qevd:test"} and all(c.path.suffix == ".mp4" for c in got)
    with pytest.raises(BatchError, match="qevd_dir"):
        next(from_qevd("test", None))
