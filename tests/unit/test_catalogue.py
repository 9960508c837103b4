"""The exercise catalogue: coverage of the required exercises, sources, and clear errors for bad rule files."""

from pathlib import Path

import numpy as np
import pytest
import yaml

from workbench.errors import CatalogueError, UnknownExerciseError
from workbench.exercises.catalogue import REFERENCES_DIR, load_catalogue
from workbench.skeleton import N_DOFS

EVALUATION_KEYS = [
    "squat",
    "pushup",
    "jumping_jack",
    "high_knees",
    "squat_jumps",
    "mountain_climbers",
    "butt_kickers",
    "walking_lunges",
    "plank_taps",
    "quick_feet",
    "air_jump_rope",
    "good_mornings",
    "moving_plank",
    "lunge_jumps",
    "puddle_jumps",
    "floor_touches",
    "squat_kicks",
    "standing_kicks",
    "boxing_squat_punches",
    "deltoid_stretch",
    "quad_stretch",
    "shoulder_gators",
    "plank",
    "lunge",
    "bicep_curl",
]


@pytest.mark.parametrize("key", EVALUATION_KEYS)
def test_every_required_exercise_is_there_with_a_reference(key: str) -> None:
    ex = load_catalogue().get(key)
    assert ex.reference is not None, f"run references/build_references.py for {key}"
    assert ex.reference.mean.shape == (N_DOFS, ex.reference.n_samples)
    assert np.isfinite(ex.reference.mean).all() and (ex.reference.sd >= 0).all()
    assert ex.salient_joints and ex.cycle.signal
    for c in ex.constraints:
        assert c.source in ex.sources and ex.sources[c.source].strip()


def test_left_and_right_variants_and_aliases() -> None:
    cat = load_catalogue()
    assert cat.get("quad_stretch_left").fixed_side == "left"
    assert cat.get("Deltoid-Stretch_right").fixed_side == "right"
    assert cat.get("air_squat").key == "squat"


def test_reference_files_match_their_rules() -> None:
    """The committed .npy files are what the rules generate (a stale file would silently disagree)."""
    from workbench.motion.build_references import build_reference

    for ex in load_catalogue():
        if ex.fixed_side is None:
            mean, sd = build_reference(ex)
            assert ex.reference is not None
            np.testing.assert_allclose(ex.reference.mean, mean, atol=1e-12, err_msg=ex.key)
            np.testing.assert_allclose(ex.reference.sd, sd, atol=1e-12, err_msg=ex.key)


def test_unknown_exercise_lists_the_choices() -> None:
    with pytest.raises(UnknownExerciseError, match=r"Unknown exercise 'burpee'.*squat"):
        load_catalogue().get("burpee")


def _write(tmp_path: Path, doc: dict) -> Path:
    (tmp_path / "exercises").mkdir(exist_ok=True)
    (tmp_path / "exercises" / "x.yaml").write_text(yaml.safe_dump(doc))
    return tmp_path


def _first(doc: dict, kind: str) -> dict:
    return next(c for c in doc["constraints"] if c["kind"] == kind)


def _valid() -> dict:
    return yaml.safe_load((REFERENCES_DIR / "exercises" / "squat.yaml").read_text())


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda d: d.pop("key"), "expected field 'key'"),
        (lambda d: d["cycle"].update(kind="bouncy"), "cycle: kind: expected one of repetitive"),
        (lambda d: d["cycle"].update(signal=["knee"]), "cycle.signal: expected a SKEL DoF name"),
        (lambda d: d["constraints"][0].update(bounds_deg=[100, 90]), r"expected low <= high"),
        (lambda d: d["constraints"][0].update(key_frame="middle"), "key_frame: expected one of"),
        (lambda d: d["constraints"][0].update(source="nobody"), "source 'nobody' is not listed"),
        (lambda d: d["constraints"][0].pop("source"), "expected a source"),
        (lambda d: d.update(salient_joints=["knee_r"]), "expected SKEL joint names"),
        (lambda d: _first(d, "stability").update(max_std_deg=-1), "max_std_deg: expected a positive number"),
        (lambda d: _first(d, "symmetry").update(dof="lumbar_extension"), "expected a sided DoF"),
    ],
)
def test_bad_rule_files_name_file_field_expected_and_got(tmp_path: Path, mutate, message: str) -> None:  # type: ignore[no-untyped-def]
    doc = _valid()
    mutate(doc)
    root = _write(tmp_path, doc)
    load_catalogue.cache_clear()
    try:
        with pytest.raises(CatalogueError, match=message) as info:
            load_catalogue(root)
        assert "x.yaml" in str(info.value)
    finally:
        load_catalogue.cache_clear()


def test_invalid_yaml(tmp_path: Path) -> None:
    (tmp_path / "exercises").mkdir()
    (tmp_path / "exercises" / "x.yaml").write_text("key: [unclosed")
    with pytest.raises(CatalogueError, match="not valid YAML"):
        load_catalogue(tmp_path)
