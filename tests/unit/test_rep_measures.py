"""Per-rep measures (issue 17 part 3) on a synthetic squat of known depth and period, `biocoach export`, and the
bugs fixed with them: rep numbers from 1 wherever a person reads them, and messages that never contradict."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import duckdb
import numpy as np
import pandas as pd
import pytest

from tests.conftest import squat_track
from workbench.cli import main
from workbench.dashboard import editing
from workbench.motion.analysis import analyze, analyze_streaming
from workbench.motion.context import violation_message
from workbench.motion.results import Violation
from workbench.pose.posefile import save_npz
from workbench.pose.track import PoseTrack
from workbench.skeleton import dof_index

DEPTHS = [100.0, 85.0, 120.0]
PERIOD_S, FPS = 2.0, 30.0


@pytest.fixture(scope="module")
def squat():  # type: ignore[no-untyped-def]
    track = squat_track(3, period_s=PERIOD_S, depths_deg=DEPTHS, fps=FPS)
    return track, analyze(track, "squat")


def test_peak_range_and_tempo_are_the_known_answers(squat) -> None:  # type: ignore[no-untyped-def]
    _, analysis = squat
    assert len(analysis.reps) == 3
    for rep, depth in zip(analysis.reps, DEPTHS, strict=True):
        m = rep.measures
        for side in ("knee_angle_r", "knee_angle_l"):
            assert m.dofs[side].peak_deg == pytest.approx(depth, abs=1.0)
            assert m.dofs[side].range_deg == pytest.approx(depth - 5.0, abs=1.0)
        assert m.dofs["hip_flexion_r"].range_deg == pytest.approx(90.0, abs=1.0)
        assert m.tempo["descent_s"] == pytest.approx(PERIOD_S / 2, abs=2 / FPS)
        assert m.tempo["ascent_s"] == pytest.approx(PERIOD_S / 2, abs=2 / FPS)
        assert m.tempo["hold_s"] == pytest.approx(0.0, abs=2 / FPS)
        assert m.quality == rep.quality
        # every judged check, clean or not, against its bound
        assert m.checks["knee_depth"].value_deg == pytest.approx(rep.check_values["knee_depth"])
        assert m.checks["knee_depth"].bounds_deg == (90.0, None)
        assert m.checks["knee_depth"].passed == (depth >= 90.0)


def test_measures_in_json_on_every_rep_and_stream_equals_offline(squat) -> None:  # type: ignore[no-untyped-def]
    track, analysis = squat
    doc = analysis.to_json()
    for rep in doc["reps"]:
        m = rep["measures"]
        assert set(m) == {"dofs", "tempo", "quality", "checks"}
        assert set(m["tempo"]) == {"descent_s", "hold_s", "ascent_s"}
        assert set(m["dofs"]["knee_angle_r"]) == {"peak_deg", "min_deg", "range_deg"}
        assert m["checks"]["knee_depth"]["bounds_deg"] == [90.0, None]
    assert [r["index"] for r in doc["reps"]] == [0, 1, 2]  # the JSON keeps 0-based indices
    assert analyze_streaming(track, "squat").to_json()["reps"] == doc["reps"]


def test_a_hold_at_the_bottom_is_timed() -> None:
    track = squat_track(3, period_s=PERIOD_S, depths_deg=DEPTHS, fps=FPS)
    q = track.q.copy()
    # hold the second rep's bottom for 0.5 s: insert 15 copies of its deepest frame
    k = round(1.5 * PERIOD_S * FPS)
    q = np.vstack([q[:k], np.repeat(q[k : k + 1], 15, axis=0), q[k:]])
    rep = analyze(PoseTrack.from_arrays(q, fps=FPS, source="analytic:hold"), "squat").reps[1]
    assert rep.measures.tempo["hold_s"] == pytest.approx(0.5, abs=3 / FPS)
    assert rep.measures.tempo["descent_s"] == pytest.approx(PERIOD_S / 2, abs=3 / FPS)


def test_unobserved_dofs_are_omitted_not_zero() -> None:
    track = squat_track(3, period_s=PERIOD_S, depths_deg=DEPTHS, fps=FPS)
    observed = track.observed.copy()
    observed[dof_index("ankle_angle_l")] = False
    rep = analyze(track.with_q(track.q, observed=observed), "squat").reps[0]
    assert "ankle_angle_l" not in rep.measures.dofs and "ankle_angle_r" in rep.measures.dofs


def test_export_writes_reps_and_angles_as_csv_and_parquet(tmp_path: Path) -> None:
    track = squat_track(3, period_s=PERIOD_S, depths_deg=DEPTHS, fps=FPS, rest_s=0.5)
    clip = save_npz(track, tmp_path / "squat.npz")
    out = tmp_path / "out"
    assert main(["export", str(clip), "-e", "squat", "--out", str(out), "--no-db", "--quiet"]) == 0
    reps = pd.read_csv(out / "reps.csv")
    angles = pd.read_csv(out / "angles.csv")
    assert list(reps["rep"]) == [1, 2, 3]  # numbered from 1
    for col in (
        "start_s",
        "end_s",
        "quality",
        "descent_s",
        "hold_s",
        "ascent_s",
        "knee_angle_r_peak_deg",
        "knee_angle_r_min_deg",
        "knee_angle_r_range_deg",
        "knee_depth_value_deg",
        "knee_depth_low_deg",
        "knee_depth_high_deg",
        "knee_depth_passed",
        "messages",
    ):
        assert col in reps.columns, col
    assert list(reps["knee_angle_r_peak_deg"].round()) == DEPTHS
    assert reps["knee_depth_high_deg"].isna().all()  # an open bound is empty, not 0
    assert "Right knee flexion insufficient" in reps["messages"][1]
    assert len(angles) == track.n_frames
    assert list(angles.columns[:3]) == ["frame", "t_s", "rep"] and "knee_angle_r_deg" in angles.columns
    assert set(angles["rep"].dropna().astype(int)) == {1, 2, 3}
    for name, frame in (("reps", reps), ("angles", angles)):
        parquet = duckdb.sql(f"SELECT * FROM '{out / (name + '.parquet')}'").df()
        assert list(parquet.columns) == list(frame.columns) and len(parquet) == len(frame)


def test_violation_message_never_prints_a_violated_bound_equal_to_the_value() -> None:
    assert (
        violation_message("right knee", "too deep", 45.3, 45.0, "dynamic", False)
        == "Right knee too deep (45.3° detected, 45° maximum, 0.3° over)"
    )
    assert (
        violation_message("right knee", "flexion insufficient", 89.96, 90.0, "dynamic", True)
        == "Right knee flexion insufficient (89.96° detected, 90° required, 0.04° short)"
    )
    assert "(85° detected, 90° required, 5° short)" in violation_message("right knee", "x", 85.2, 90.0, "dynamic", True)
    assert "(10.04° variation, under 10° required)" in violation_message("lumbar", "x", 10.04, 10.0, "stability", False)
    assert "(45.4° apart from the other side, at most 45°)" in violation_message(
        "knee", "x", 45.4, 45.0, "symmetry", False
    )


def _violation(rep: int) -> Violation:
    return Violation(
        rep=rep,
        check="knee_depth",
        joint="tibia_r",
        dof="knee_angle_r",
        type="dynamic",
        value_deg=85,
        target_deg=90,
        bounds_deg=(90, None),
        deviation_deg=5,
        message="m",
        cue="",
        phase="descent",
        t_s=1.0,
        source="s",
    )


def test_editor_preview_and_run_comparison_number_reps_from_one() -> None:
    assert [r["rep"] for r in editing.violation_rows([_violation(0), _violation(2)])] == [1, 3]
    assert editing.rep_from_one("rep 2: knee_depth") == "rep 3: knee_depth"
    assert editing.rep_from_one("rep 0") == "rep 1"


def test_threshold_details_say_open_never_none() -> None:
    dynamic = SimpleNamespace(
        kind="dynamic", bounds_deg=(90.0, None), tolerance_deg=None, max_std_deg=None, max_diff_deg=None
    )
    text = editing.threshold_details(dynamic)
    assert "None" not in text and text == "Bounds [90, open]"
    stability = SimpleNamespace(
        kind="stability", bounds_deg=None, tolerance_deg=None, max_std_deg=4.0, max_diff_deg=None
    )
    assert editing.threshold_details(stability) == "Max std 4°"
