"""The versioned store: migrations, seed/export/import round trips, history, conflicts, validation, caches.

The seed is ``references/`` itself; each test works on its own copy of one seeded database file.
"""

from __future__ import annotations

import shutil
from dataclasses import replace
from pathlib import Path

import duckdb
import numpy as np
import pytest
import yaml

from tests.conftest import squat_track
from workbench.exercises.catalogue import Constraint as ThresholdSpec
from workbench.exercises.catalogue import load_catalogue
from workbench.motion.results import FeedbackEvent
from workbench.pose.track import PoseTrack
from workbench.skeleton import dof_index
from workbench.store import (
    ConflictError,
    Database,
    MigrationError,
    ValidationError,
    export,
    import_dir,
    init_from_references,
    load_store_catalogue,
)
from workbench.store.clips_repo import sha256_file
from workbench.store.database import MIGRATIONS_DIR
from workbench.store.thresholds_repo import ThresholdRepository

# ------------------------------------------------------------------------------------ fixtures


@pytest.fixture(scope="module")
def seeded_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A database initialised from references/ once per module (init takes about a second)."""
    path = tmp_path_factory.mktemp("seed") / "seed.duckdb"
    init_from_references(Database(path))
    return path


@pytest.fixture
def db(seeded_file: Path, tmp_path: Path) -> Database:
    copy = tmp_path / "store.duckdb"
    shutil.copyfile(seeded_file, copy)
    return Database(copy)


def tree_bytes(directory: Path) -> dict[str, bytes]:
    return {str(p.relative_to(directory)): p.read_bytes() for p in sorted(directory.rglob("*")) if p.is_file()}


def edit_yaml(path: Path, change: dict[str, object], constraint: str | None = None) -> None:
    """Change top-level fields, or one constraint's fields, of an exported rule file."""
    raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    target = raw if constraint is None else next(c for c in raw["constraints"] if c["id"] == constraint)
    target.update(change)
    path.write_text(yaml.safe_dump(raw, sort_keys=False), encoding="utf-8")


def counts(db: Database) -> dict[str, int]:
    with db.store() as store:
        return store.status().counts


# ------------------------------------------------------------------------------------ migrations


def _first_schema_only(path: Path) -> None:
    """What an installation made before migration 0002 existed: 0001 applied, some data in it."""
    con = duckdb.connect(str(path))
    con.execute((MIGRATIONS_DIR / "0001_initial.sql").read_text(encoding="utf-8"))
    con.execute("INSERT INTO schema_version VALUES (1, 'initial', now())")
    track = squat_track(n_reps=1)
    from workbench.store.poses_repo import track_to_npz

    con.execute(
        "INSERT INTO pose_tracks (clip_hash, backend, params_json, npz, n_frames, created_at) "
        "VALUES (?, ?, ?, ?, ?, now())",
        ["abc", "mediapipe", "{}", track_to_npz(track), track.n_frames],
    )
    con.close()


def test_a_first_schema_database_is_upgraded_in_place(tmp_path: Path) -> None:
    path = tmp_path / "old.duckdb"
    _first_schema_only(path)
    db = Database(path)
    latest = len(db.migrations)
    assert db.applied == list(range(2, latest + 1)) and db.schema_version() == latest
    with db.store() as store:
        columns = {
            r[0]
            for r in store.session.all("SELECT column_name FROM duckdb_columns() WHERE table_name = ?", ["pose_tracks"])
        }
        assert "extract_s" in columns
        old = store.poses.get_pose("abc", "mediapipe", {})  # data written under schema 1 still reads
        assert old is not None and old.n_frames == squat_track(n_reps=1).n_frames
        run_id = store.runs.start(config={"a": 1}, code_version="0")  # tables of 0002 exist
        assert store.runs.get(run_id).status == "running"
    assert Database(path).applied == []  # nothing pending the second time


def test_target_version_builds_an_old_database_that_later_upgrades(tmp_path: Path) -> None:
    path = tmp_path / "v1.duckdb"
    assert Database(path, target_version=1).schema_version() == 1
    db = Database(path)
    assert db.applied == list(range(2, len(db.migrations) + 1))


def test_a_failing_migration_leaves_no_trace(tmp_path: Path) -> None:
    migrations = tmp_path / "migrations"
    migrations.mkdir()
    shutil.copy(MIGRATIONS_DIR / "0001_initial.sql", migrations)
    (migrations / "0002_broken.sql").write_text("CREATE TABLE half_done (a INTEGER);\nSELECT * FROM no_such_table;\n")
    with pytest.raises(MigrationError, match=r"0002_broken.sql: .*stays at schema version 1"):
        Database(tmp_path / "x.duckdb", migrations_dir=migrations)
    db = Database(tmp_path / "x.duckdb", target_version=1, migrations_dir=migrations)
    with db.session() as s:
        assert s.scalar("SELECT count(*) FROM duckdb_tables() WHERE table_name = 'half_done'") == 0
    assert db.schema_version() == 1


def test_a_database_newer_than_the_code_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "new.duckdb"
    Database(path)
    con = duckdb.connect(str(path))
    con.execute("INSERT INTO schema_version VALUES (99, 'future', now())")
    con.close()
    with pytest.raises(MigrationError, match="newer than this code"):
        Database(path)


# ------------------------------------------------------------------------------------ seed, export, import


def test_init_is_idempotent_and_says_so(db: Database) -> None:
    before = counts(db)
    report = init_from_references(db)
    assert not report.changed and "nothing changed" in report.message()
    assert len(report.skipped) == len(list((Path(__file__).parents[2] / "references/exercises").glob("*.yaml")))
    assert counts(db) == before


def test_export_import_export_is_byte_identical_and_creates_no_version(db: Database, tmp_path: Path) -> None:
    export(db, tmp_path / "a")
    before = counts(db)
    report = import_dir(db, tmp_path / "a", author="bob", note="round trip")
    assert not report.changed, report.message()
    assert counts(db) == before
    export(db, tmp_path / "b")
    assert tree_bytes(tmp_path / "a") == tree_bytes(tmp_path / "b")


def test_the_export_is_a_references_folder_the_yaml_catalogue_loads(db: Database, tmp_path: Path) -> None:
    export(db, tmp_path / "out")
    exported = load_catalogue(tmp_path / "out")
    original = load_catalogue()
    assert exported.keys() == original.keys()
    for ex in original:
        assert exported.get(ex.key).constraints == ex.constraints


def test_an_edited_threshold_imports_as_exactly_one_new_version(db: Database, tmp_path: Path) -> None:
    export(db, tmp_path / "out")
    edit_yaml(tmp_path / "out/exercises/squat.yaml", {"bounds_deg": [100, None]}, constraint="knee_depth")
    report = import_dir(db, tmp_path / "out", author="carol", note="deeper")
    assert report.changes == ("threshold squat/knee_depth: version 1 → 2",)
    with db.store() as store:
        history = store.thresholds.history("squat", "knee_depth")
        assert [(h.version, h.author, h.spec.bounds_deg) for h in history] == [
            (1, "seed", (90.0, None)),
            (2, "carol", (100.0, None)),
        ]
        assert history[1].parent_version == 1 and history[1].note == "deeper"
        assert {t.version for t in store.thresholds.current("squat") if t.spec.id != "knee_depth"} == {1}
    assert not import_dir(db, tmp_path / "out", author="carol", note="again").changed


def test_import_applies_rules_joint_classes_references_and_removals(db: Database, tmp_path: Path) -> None:
    export(db, tmp_path / "out")
    rule = tmp_path / "out/exercises/squat.yaml"
    raw = yaml.safe_load(rule.read_text(encoding="utf-8"))
    raw["name"] = "Air squat"
    raw["static_joints"] = [j for j in raw["static_joints"] if j != "toes_r"]
    raw["constraints"] = [c for c in raw["constraints"] if c["id"] != "thorax_stability"]
    rule.write_text(yaml.safe_dump(raw, sort_keys=False), encoding="utf-8")
    mean = np.load(tmp_path / "out/trajectories/squat.npy")
    mean[dof_index("knee_angle_r")] += np.radians(10)
    np.save(tmp_path / "out/trajectories/squat.npy", mean)
    report = import_dir(db, tmp_path / "out", author="dan", note="review")
    assert set(report.changes) == {
        "rules squat: version 1 → 2",
        "joint classes squat: updated",
        "threshold squat/thorax_stability: removed (version 2)",
        "reference squat: version 1 → 2",
    }
    cat = load_store_catalogue(db).catalogue.get("squat")
    assert cat.name == "Air squat" and "toes_r" not in cat.static_joints
    assert "thorax_stability" not in {c.id for c in cat.constraints}
    with db.store() as store:
        diff = store.references.diff("squat", 1, 2)
    assert diff.mean_max_abs_deg == pytest.approx({"knee_angle_r": 10.0})
    assert diff.sd_max_abs_deg == {}


def test_an_import_based_on_a_stale_version_is_a_conflict(db: Database, tmp_path: Path) -> None:
    export(db, tmp_path / "out")  # knee_depth at version 1
    with db.store() as store:
        store.thresholds.edit("squat", "knee_depth", base_version=1, author="alice", note="x", bounds_deg=(95, None))
    before = counts(db)
    edit_yaml(tmp_path / "out/exercises/squat.yaml", {"bounds_deg": [100, None]}, constraint="knee_depth")
    with pytest.raises(ConflictError) as info:
        import_dir(db, tmp_path / "out", author="bob", note="mine")
    message = str(info.value)
    assert "squat.yaml" in message and "threshold squat/knee_depth was changed to version 2 by alice at" in message
    assert "your edit was based on version 1" in message
    assert counts(db) == before


BAD_FILES = {
    "wrong shape": (
        "trajectories/squat.npy",
        lambda p: np.save(p, np.zeros((100, 46))),
        ["squat.npy", "shape", "(46, N_ref)", "(100, 46)"],
    ),
    "degrees not radians": (
        "trajectories/squat.npy",
        lambda p: np.save(p, np.degrees(np.load(p))),
        ["squat.npy", "knee_angle_r", "expected radians", "got"],
    ),
    "unknown DoF": (
        "exercises/squat.yaml",
        ("dof", "knee_flex_r"),
        ["squat.yaml", "dof", "expected a SKEL DoF name", "knee_flex_r"],
    ),
    "low above high": (
        "exercises/squat.yaml",
        ("bounds_deg", [120, 90]),
        ["squat.yaml", "bounds_deg", "expected low <= high", "[120, 90]"],
    ),
    "implausible degrees": (
        "exercises/squat.yaml",
        ("bounds_deg", [900, None]),
        ["squat.yaml", "bounds_deg", "expected degrees within", "got 900"],
    ),
    "unknown kind": ("exercises/squat.yaml", ("kind", "speed"), ["squat.yaml", "kind", "expected one of", "'speed'"]),
    "missing key frame": (
        "exercises/squat.yaml",
        ("key_frame", "middle"),
        ["squat.yaml", "key_frame", "expected one of", "'middle'"],
    ),
    "typo in a field": (
        "exercises/squat.yaml",
        ("bound_deg", [1, 2]),
        ["squat.yaml", "bound_deg", "expected one of the fields", "got unknown field"],
    ),
    "stale version type": (
        "exercises/squat.yaml",
        ("version", "two"),
        ["squat.yaml", "version", "expected a version number", "'two'"],
    ),
}


@pytest.mark.parametrize("case", sorted(BAD_FILES))
def test_a_bad_file_is_rejected_with_a_precise_message_and_nothing_changes(
    db: Database, tmp_path: Path, case: str
) -> None:
    relative, damage, needles = BAD_FILES[case]
    export(db, tmp_path / "before")
    shutil.copytree(tmp_path / "before", tmp_path / "in")
    target = tmp_path / "in" / relative
    # Another file also changed: a valid edit must not slip in beside the rejected one.
    edit_yaml(tmp_path / "in/exercises/lunge.yaml", {"max_std_deg": 7}, constraint="lumbar_stability")
    if callable(damage):
        damage(target)
    else:
        edit_yaml(target, {damage[0]: damage[1]}, constraint="knee_depth")
    with pytest.raises(ValidationError) as info:
        import_dir(db, tmp_path / "in", author="eve", note="bad")
    for needle in needles:
        assert needle in str(info.value), (needle, str(info.value))
    export(db, tmp_path / "after")
    assert tree_bytes(tmp_path / "before") == tree_bytes(tmp_path / "after")


def test_a_failure_in_the_middle_of_an_import_rolls_everything_back(
    db: Database, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    export(db, tmp_path / "before")
    shutil.copytree(tmp_path / "before", tmp_path / "in")
    edit_yaml(tmp_path / "in/exercises/squat.yaml", {"name": "Changed"})
    edit_yaml(tmp_path / "in/exercises/squat.yaml", {"max_std_deg": 4}, constraint="lumbar_stability")
    edit_yaml(tmp_path / "in/exercises/squat.yaml", {"max_std_deg": 4}, constraint="thorax_stability")
    before = counts(db)
    real_save = ThresholdRepository.save
    calls: list[str] = []

    def failing_save(self: ThresholdRepository, exercise: str, spec: ThresholdSpec, **kwargs: object) -> object:
        calls.append(spec.id)
        if len(calls) == 2:  # the rules body and one threshold are already written in this transaction
            raise RuntimeError("disk full (injected)")
        return real_save(self, exercise, spec, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(ThresholdRepository, "save", failing_save)
    with pytest.raises(RuntimeError, match="injected"):
        import_dir(db, tmp_path / "in", author="eve", note="half")
    monkeypatch.undo()
    assert calls == ["lumbar_stability", "thorax_stability"]
    assert counts(db) == before
    export(db, tmp_path / "after")
    assert tree_bytes(tmp_path / "before") == tree_bytes(tmp_path / "after")


# ------------------------------------------------------------------------------------ history, revert, diff


def test_edit_revert_and_diff_of_a_threshold(db: Database) -> None:
    with db.store() as store:
        v2 = store.thresholds.edit(
            "squat", "knee_depth", base_version=1, author="alice", note="deeper", bounds_deg=(100, None)
        )
        assert v2.version == 2 and v2.spec.bounds_deg == (100.0, None)
        assert store.thresholds.diff("squat", "knee_depth", 1, 2) == {"bounds_deg": ((90.0, None), (100.0, None))}
        v3 = store.thresholds.revert("squat", "knee_depth", 1, author="bob", note="too strict")
        assert v3.version == 3 and v3.spec == store.thresholds.get("squat", "knee_depth", 1).spec
        assert v3.note == "revert to version 1: too strict" and v3.parent_version == 2
        assert [h.version for h in store.thresholds.history("squat", "knee_depth")] == [1, 2, 3]
        entries = [(e.kind, e.item, e.version, e.current) for e in store.history("squat") if e.item == "knee_depth"]
        assert entries == [
            ("threshold", "knee_depth", 1, False),
            ("threshold", "knee_depth", 2, False),
            ("threshold", "knee_depth", 3, True),
        ]


def test_a_stale_edit_is_refused_with_who_changed_it_and_nothing_changes(db: Database) -> None:
    with db.store() as store:
        store.thresholds.edit("squat", "knee_depth", base_version=1, author="alice", note="a", bounds_deg=(95, None))
        with pytest.raises(ConflictError) as info:
            store.thresholds.edit("squat", "knee_depth", base_version=1, author="bob", note="b", bounds_deg=(85, None))
        assert "threshold squat/knee_depth was changed to version 2 by alice at" in str(info.value)
        assert "your edit was based on version 1" in str(info.value)
        assert info.value.current_version == 2 and info.value.base_version == 1
        assert store.thresholds.get("squat", "knee_depth").spec.bounds_deg == (95.0, None)
        assert len(store.thresholds.history("squat", "knee_depth")) == 2


def test_two_sessions_of_one_process_collide_as_a_conflict(db: Database) -> None:
    """The app and a notebook in one process: DuckDB's write-write conflict surfaces as a ConflictError."""
    with db.store() as first, db.store() as second, first.transaction(), pytest.raises(ConflictError) as info:
        first.thresholds.edit("squat", "knee_depth", base_version=1, author="alice", note="", bounds_deg=(95, None))
        with second.transaction():
            second.thresholds.edit("squat", "knee_depth", base_version=1, author="bob", note="", bounds_deg=(85, None))
    assert "being changed by another session" in str(info.value)


def test_an_edit_the_analysis_would_reject_is_refused(db: Database) -> None:
    with db.store() as store:
        with pytest.raises(ValidationError, match=r"bounds_deg: expected low <= high"):
            store.thresholds.edit("squat", "knee_depth", base_version=1, author="a", note="", bounds_deg=(120, 90))
        with pytest.raises(ValidationError, match=r"key_frame: expected one of \['bottom', 'top'\], got 'middle'"):
            store.thresholds.edit("squat", "knee_depth", base_version=1, author="a", note="", key_frame="middle")
        with pytest.raises(ValidationError, match="got bound_deg"):
            store.thresholds.edit("squat", "knee_depth", base_version=1, author="a", note="", bound_deg=(1, 2))
        assert len(store.thresholds.history("squat", "knee_depth")) == 1


def test_add_remove_and_restore_a_threshold(db: Database) -> None:
    spec = ThresholdSpec(
        id="ankle_depth",
        dof="ankle_angle_r",
        kind="dynamic",
        key_frame="bottom",
        bounds_deg=(10, None),
        source="biocoach",
        position=99,
    )
    with db.store() as store:
        store.thresholds.save("squat", spec, base_version=None, author="a", note="new")
        assert store.thresholds.save("squat", spec, base_version=None, author="b", note="same").version == 1
        with pytest.raises(ConflictError, match=r"ankle_depth already exists \(version 1 by a at"):
            store.thresholds.save("squat", replace(spec, bounds_deg=(12, None)), base_version=None, author="b", note="")
        store.thresholds.remove("squat", "ankle_depth", base_version=1, author="a", note="not useful")
        assert "ankle_depth" not in {t.spec.id for t in store.thresholds.current("squat")}
        store.thresholds.revert("squat", "ankle_depth", 1, author="a")
        assert store.thresholds.get("squat", "ankle_depth").spec.active


def test_rules_body_edit_is_validated_against_the_thresholds_diffed_and_reverted(db: Database) -> None:
    with db.store() as store:
        body = store.rules.get("squat").body
        without_bottom = {**body, "key_frames": [kf for kf in body["key_frames"] if kf["name"] != "bottom"]}
        with pytest.raises(ValidationError, match=r"key_frame: expected one of \['top'\], got 'bottom'"):
            store.rules.save("squat", without_bottom, base_version=1, author="a", note="")
        v2 = store.rules.save("squat", {**body, "name": "Squat"}, base_version=1, author="a", note="shorter")
        assert store.rules.diff("squat", 1, 2) == {"name": ("Bodyweight squat", "Squat")}
        assert store.rules.save("squat", {**body, "name": "Squat"}, base_version=1, author="b", note="").version == 2
        v3 = store.rules.revert("squat", 1, author="b")
        assert (v2.version, v3.version, v3.body) == (2, 3, body)
        with pytest.raises(ValidationError, match="expected numbers in degrees"):
            store.thresholds.edit("squat", "knee_depth", base_version=1, author="a", note="", bounds_deg="deep")


def test_reference_edit_diff_revert(db: Database) -> None:
    with db.store() as store:
        v1 = store.references.get("squat")
        mean = v1.mean.copy()
        mean[dof_index("hip_flexion_l"), 10:20] += np.radians(5)
        same = store.references.save("squat", v1.mean, v1.sd, base_version=1, author="a", note="no-op")
        assert same.version == 1  # unchanged arrays make no version
        v2 = store.references.save("squat", mean, v1.sd, base_version=1, author="a", note="hips")
        assert store.references.diff("squat", 1, 2).mean_max_abs_deg == pytest.approx({"hip_flexion_l": 5.0})
        with pytest.raises(ConflictError, match="reference squat was changed to version 2 by a"):
            store.references.save("squat", mean * 0.9, v1.sd, base_version=1, author="b", note="")
        v3 = store.references.revert("squat", 1, author="b")
        assert v3.version == 3 and np.array_equal(v3.mean, v1.mean) and v2.version == 2
        assert v3.as_reference().version == "store:squat@v3"


# ------------------------------------------------------------------------------------ catalogue from the store


def test_the_store_catalogue_equals_the_yaml_catalogue_after_init(db: Database) -> None:
    from_store = load_store_catalogue(db)
    from_yaml = load_catalogue()
    assert from_store.catalogue.keys() == from_yaml.keys()
    for a in from_yaml:
        b = from_store.catalogue.get(a.key)
        assert b.constraints == a.constraints
        assert replace(b, rule_file=a.rule_file) == a  # every field, not only the constraints
        assert (a.reference is None) == (b.reference is None)
        if a.reference is not None and b.reference is not None:
            assert np.array_equal(a.reference.mean, b.reference.mean)
            assert np.array_equal(a.reference.sd, b.reference.sd)
    assert from_store.catalogue.get("squat").reference.version == "store:squat@v1"  # type: ignore[union-attr]
    assert from_store.catalogue.get("squat").rule_file.name == "squat.yaml"


def test_the_store_catalogue_follows_an_edit_and_names_its_versions(db: Database) -> None:
    with db.store() as store:
        store.thresholds.edit("lunge", "front_knee_depth", base_version=1, author="a", note="", bounds_deg=(80, None))
    cat = load_store_catalogue(db)
    left = cat.catalogue.get("lunge_left")
    assert next(c for c in left.constraints if c.id == "front_knee_depth").bounds_deg == (80.0, None)
    prov = cat.provenance("lunge_left")
    assert prov["threshold_versions"]["front_knee_depth"] == 2 and prov["reference_version"] == 1
    assert prov["rules_version"] == 1 and prov["store"] == str(db.path)


# ------------------------------------------------------------------------------------ labels, joint classes, runs


def test_salient_joint_labels_are_versioned_and_reviewed(db: Database) -> None:
    with db.store() as store:
        label = store.labels.propose(
            "clip1", ["femur_r", "tibia_r"], proposer="llm:smollm2", exercise="squat", segment_s=(1.0, 3.5)
        )
        reviewed = store.labels.review(label.label_id, status="accepted", reviewer="expert", base_version=1)
        with pytest.raises(ConflictError, match=r"label clip1/\d+ was changed to version 2 by expert"):
            store.labels.edit(label.label_id, base_version=1, author="x", note="", joints=["pelvis"])
        edited = store.labels.edit(
            label.label_id, base_version=2, author="expert", note="add ankle", joints=["femur_r", "tibia_r", "talus_r"]
        )
        assert edited.status == "proposed" and edited.reviewer is None
        assert store.labels.diff(label.label_id, 2, 3) == {
            "joints": (("femur_r", "tibia_r"), ("femur_r", "tibia_r", "talus_r")),
            "reviewer": ("expert", None),
            "status": ("accepted", "proposed"),
        }
        back = store.labels.revert(label.label_id, 2, author="expert")
        assert back.version == 4 and back.status == "accepted" and reviewed.version == 2
        assert [lb.version for lb in store.labels.for_clip("clip1")] == [4]
        with pytest.raises(ValidationError, match="expected SKEL joint names"):
            store.labels.propose("clip1", ["knee"], proposer="x")


def test_joint_class_proposals_count_once_accepted(db: Database) -> None:
    with db.store() as store:
        dynamic, static = store.joint_classes.current("squat")
        assert "thorax" in static and "thorax" not in dynamic
        proposal = store.joint_classes.propose("squat", "thorax", "dynamic", source="llm", who="smollm2")
        assert store.joint_classes.current("squat") == (dynamic, static)  # a proposal changes nothing yet
        store.joint_classes.review(proposal.id, status="accepted", who="expert")
        dynamic2, static2 = store.joint_classes.current("squat")
        assert dynamic2 == (*dynamic, "thorax") and "thorax" not in static2


def test_runs_feedback_and_evaluation_results(db: Database) -> None:
    with db.store() as store:
        run_id = store.runs.start(
            config={"exercise": "squat"},
            code_version="0.3.0",
            exercise="squat",
            model="mediapipe",
            reference_version=1,
            threshold_versions={"knee_depth": 2},
        )
        store.runs.add_feedback(
            run_id, [FeedbackEvent(2.5, "sit deeper", ["rep 1: knee_depth"], kind="corrective", details={"rep": 1})]
        )
        store.runs.add_evaluation(dataset="synthetic", metric="rep_count_error", value=0.0, run_id=run_id)
        run = store.runs.finish(run_id, status="succeeded", timings={"pose_s": 1.5})
        assert run.threshold_versions == {"knee_depth": 2} and run.timings == {"pose_s": 1.5} and run.finished_at
        stored = store.runs.feedback(run_id)[0]
        assert (stored.text, stored.t_s, stored.evidence, stored.details) == (
            "sit deeper",
            2.5,
            ["rep 1: knee_depth"],
            {"rep": 1},
        )
        row = store.session.one("SELECT rep, constraint_id, severity FROM feedback_events WHERE run_id = ?", [run_id])
        assert row == (1, "knee_depth", "warning")
        assert store.runs.evaluations(run_id) == [("synthetic", "rep_count_error", 0.0)]


# ------------------------------------------------------------------------------------ clips and the pose cache


def test_pose_cache_round_trip_is_exact(db: Database, tmp_path: Path) -> None:
    clip = tmp_path / "clip.mp4"
    clip.write_bytes(b"not really a video, but bytes all the same")
    copy = tmp_path / "renamed.mp4"
    copy.write_bytes(clip.read_bytes())
    q = squat_track(n_reps=2).q.copy()
    q[3, 5] = np.nan
    track = PoseTrack.from_arrays(
        q,
        t=np.arange(len(q)) / 29.97 + 0.5,
        confidence=np.linspace(0, 1, len(q)),
        betas=np.ones((len(q), 10)),
        source="mediapipe",
    )
    track = replace(track, meta={"view": "side"})
    with db.store() as store:
        registered = store.clips.register(clip, exercise="squat", fps=29.97)
        assert registered.content_hash == sha256_file(clip) == store.clips.register(copy).content_hash
        assert store.clips.get(registered.content_hash).path == str(copy)  # type: ignore[union-attr]
        assert store.poses.get_pose(registered.content_hash, "mediapipe", {"complexity": 1}) is None
        store.poses.put_pose(
            registered.content_hash, "mediapipe", '{"complexity": 1, "smooth": true}', track, extract_s=12.5
        )
        got = store.poses.get_pose(registered.content_hash, "mediapipe", {"smooth": True, "complexity": 1})
        assert store.poses.get_pose(registered.content_hash, "hsmr", {"smooth": True, "complexity": 1}) is None
    assert got is not None
    np.testing.assert_array_equal(got.q, track.q)
    for name in ("t", "confidence", "observed", "betas"):
        np.testing.assert_array_equal(getattr(got, name), getattr(track, name))
    assert (got.source, got.meta, got.nominal_fps) == ("mediapipe", {"view": "side"}, None)


def test_pose_params_must_be_a_json_object(db: Database) -> None:
    with db.store() as store, pytest.raises(ValidationError, match="params_json: expected a JSON object"):
        store.poses.get_pose("x", "mediapipe", "not json")
