"""The Clip page without a browser: its read-out, table and click handling agree with the library."""

from __future__ import annotations

import numpy as np
import pytest

pn = pytest.importorskip("panel")

from workbench.dashboard.cursor_plot import CURSOR_SHAPE  # noqa: E402
from workbench.dashboard.pages.clip import (  # noqa: E402
    DISPLAY_BUCKETS,
    ClipPage,
    angle_figure,
    cursor_from_click,
    curve_dofs,
    cycles_figure,
    display_indices,
    dof_choices,
    frame_index,
    motion_text,
    rep_rows,
    swaps_text,
    trust_summary,
)
from workbench.dashboard.state import EXAMPLE_CLIP, EXAMPLE_EXERCISE, AppState  # noqa: E402
from workbench.motion.analysis import analyze  # noqa: E402
from workbench.motion.context import pose_state  # noqa: E402
from workbench.pose.posefile import load_npz  # noqa: E402


@pytest.fixture(scope="module")
def state() -> AppState:
    st = AppState()
    st.open_clip(str(EXAMPLE_CLIP), EXAMPLE_EXERCISE)
    return st


@pytest.fixture
def page(state: AppState) -> ClipPage:
    return ClipPage(state=state)


def test_readout_equals_library_pose_state(state: AppState, page: ClipPage) -> None:
    track = load_npz(EXAMPLE_CLIP)
    salient = analyze(track, EXAMPLE_EXERCISE).salient_joints
    for t_s in (9.5, 10.07, 12.3):
        state.cursor_s = t_s
        i = frame_index(track.t, t_s)
        assert abs(track.t[i] - t_s) <= 0.5 / 30 + 1e-9
        expected = pose_state(track.q[i], salient, track.observed)
        assert page.readout.object == f"Cursor {track.t[i]:.2f} s · frame {i} — {expected}"
        assert expected in page.motion.object


def test_rep_table_rows_equal_the_analysis(state: AppState, page: ClipPage) -> None:
    reps = state.result.analysis.reps
    table = page.table.value
    assert len(table) == len(reps) == 2
    for row, rep in zip(table.to_dict("records"), reps, strict=True):
        assert row["rep"] == rep.index + 1
        assert row["start (s)"] == round(rep.start_s, 2) and row["end (s)"] == round(rep.end_s, 2)
        assert row["issues"] == len(rep.violations)
    assert rep_rows(state.result.analysis) == table.to_dict("records")


def test_click_and_row_selection_move_the_cursor(state: AppState, page: ClipPage) -> None:
    page.angles.click_data = {"points": [{"x": 12.0, "y": 40.0, "curveNumber": 0}]}
    assert state.cursor_s == pytest.approx(12.0)
    page.table.selection = [0]
    assert state.cursor_s == pytest.approx(state.result.analysis.reps[0].start_s)
    page.angles.click_data = {"points": [{"x": 1e6, "y": 0.0}]}  # clamped to the clip
    assert state.cursor_s == pytest.approx(float(state.result.estimate.track.t[-1]))


def test_row_click_works_after_opening_another_clip(state: AppState, page: ClipPage) -> None:
    """Bug: a row selected in one clip stayed selected when another was shown, so clicking the same row number
    there fired no change and the cursor did not move."""
    from types import SimpleNamespace

    from tests.conftest import squat_track
    from workbench.pose.backends import PoseEstimate

    first = state.result
    track = squat_track(4, rest_s=0.5)
    other = SimpleNamespace(
        estimate=PoseEstimate(track=track, backend="pose"), analysis=analyze(track, "squat"), fit=None, exercise=None
    )
    try:
        page.table.selection = [1]
        state.result = other
        assert page.table.selection == []
        state.cursor_s = 0.0
        page.table.selection = [1]
        assert state.cursor_s == pytest.approx(other.analysis.reps[1].start_s)
    finally:
        state.result = first


def test_rep_table_is_sortable_with_full_messages_and_measures(state: AppState, page: ClipPage) -> None:
    assert page.table.sortable
    assert page.table._configuration["columnDefaults"]["tooltip"]
    assert page.table.formatters["messages"] == {"type": "textarea"}
    row = rep_rows(state.result.analysis)[0]
    assert {"descent (s)", "hold (s)", "ascent (s)", "checks", "right knee flexion range (°)"} <= set(row)


def test_violation_marker_click_jumps_to_its_rep() -> None:
    assert cursor_from_click({"points": [{"x": 9.9, "y": 80.0, "customdata": [8.48]}]}) == 8.48
    assert cursor_from_click({"points": []}) is None
    assert cursor_from_click(None) is None


def test_cursor_moves_the_figure_line_and_slider_is_linked(state: AppState, page: ClipPage) -> None:
    state.cursor_s = 10.0
    shapes = page.angles.object["layout"]["shapes"]
    assert shapes[-1]["x0"] == pytest.approx(10.0)
    assert page.slider.value == pytest.approx(10.0) and page.cursor_input.value == pytest.approx(10.0)
    page.cursor_input.value = 11.0
    assert state.cursor_s == pytest.approx(11.0)
    assert page.slider.step == pytest.approx(1 / state.result.analysis.fps)
    fig = angle_figure(state.result, 11.0)
    assert [s["name"] for s in fig["layout"]["shapes"]] == [CURSOR_SHAPE]  # the cursor is the one layout shape


def test_angle_figure_draws_bands_phases_labels_and_markers_as_few_traces(state: AppState) -> None:
    """Rep bands (one closed rectangle per rep, clean and faulty reps apart), phase marks and rep labels (numbered
    from 1) are a trace each on the hidden 0–1 axis, not layout shapes/annotations; violation markers stay."""
    result = state.result
    reps = result.analysis.reps
    fig = angle_figure(result, 11.0)
    assert "annotations" not in fig["layout"] and fig["layout"]["yaxis2"]["range"] == [0, 1]
    bands = [d for d in fig["data"] if d.get("fill") == "toself"]
    starts = sorted(x for d in bands for x in d["x"][0::6])
    assert starts == pytest.approx(sorted(r.start_s for r in reps))
    assert sum(len(d["x"]) // 6 for d in bands) == len(reps)
    (labels,) = [d for d in fig["data"] if d.get("mode") == "text"]
    assert [t.split(" ·")[0] for t in labels["text"]] == [f"rep {k}" for k in range(1, len(reps) + 1)]
    (phases,) = [d for d in fig["data"] if d["name"] == "phases"]
    marks = [p.start_s for r in reps for p in r.phases[1:]]
    assert phases["x"][0::3] == pytest.approx(marks) and marks
    viol = [v for r in reps for v in r.violations]
    markers = [d for d in fig["data"] if d["name"] == "violations"]
    assert len(markers) == (1 if viol else 0) and (not viol or len(markers[0]["x"]) == len(viol))


def test_long_curves_are_decimated_for_display_keeping_every_peak_and_gap() -> None:
    rng = np.random.default_rng(0)
    y = rng.normal(size=9000).cumsum()
    y[4000:4010] = np.nan
    keep = display_indices(y)
    assert 2000 <= keep.size <= 3 * DISPLAY_BUCKETS and keep[0] == 0 and keep[-1] == 8999
    assert np.all(np.diff(keep) > 0)
    assert np.nanmax(y[keep]) == np.nanmax(y) and np.nanmin(y[keep]) == np.nanmin(y)
    assert np.isnan(y[keep]).any()  # the gap stays a gap
    assert display_indices(y[:300]).tolist() == list(range(300))  # a short curve is drawn whole


def test_motion_context_uses_last_completed_rep(state: AppState) -> None:
    first = state.result.analysis.reps[0]
    assert "Form issues:" in motion_text(state.result, first.end_s + 0.1)


def test_refused_path_reports_status(state: AppState, page: ClipPage, tmp_path) -> None:  # type: ignore[no-untyped-def]
    before = state.clip_path
    page.path_input.value = str(tmp_path / "elsewhere.npz")
    page.exercise_select.value = "squat"
    page._analyse()
    assert state.status.startswith("refused") and state.clip_path == before


def test_page_renders_server_side(page: ClipPage) -> None:
    from bokeh.document import Document

    root = page.__panel__().get_root(Document())
    assert root is not None


def test_trust_strip_states_swaps(state: AppState, page: ClipPage) -> None:
    from types import SimpleNamespace

    meta = state.result.estimate.track.meta
    expected = swaps_text(meta)
    if "swapped_frames" not in meta:  # the example is a pose .npz: nothing was repaired
        assert expected == "swaps: not applicable (pose track)"
    assert expected in page.trust_text.object
    assert swaps_text({"swapped_frames": "12"}) == "left/right swaps repaired **12** frames"
    assert swaps_text({"swapped_frames": "1"}) == "left/right swaps repaired **1** frame"
    track = SimpleNamespace(
        **{k: getattr(state.result.estimate.track, k) for k in ("t", "confidence", "observed", "q", "source")},
        meta={"swapped_frames": "7"},
    )
    landmarks = SimpleNamespace(
        analysis=state.result.analysis,
        estimate=SimpleNamespace(track=track, backend="landmarks", warnings=[]),
        fit=None,
    )
    assert "left/right swaps repaired **7** frames" in trust_summary(landmarks)


# ------------------------------------------------------------------ curves as the expert wants them

CURVE_JOINTS = ["pelvis", "femur_r", "femur_l", "tibia_r", "tibia_l"]


def _squat_result(unobserved: tuple[str, ...] = (), all_nan: tuple[str, ...] = ()):  # type: ignore[no-untyped-def]
    """A squat result (knees and hips moving, the pelvis at 0°) with the pelvis among the salient joints; the
    DoFs in ``unobserved`` marked so by the track, those in ``all_nan`` with no value in any frame."""
    from types import SimpleNamespace

    import numpy as np

    from tests.conftest import squat_track
    from workbench.pose.backends import PoseEstimate
    from workbench.pose.track import PoseTrack
    from workbench.skeleton import N_DOFS, dof_index

    base = squat_track(3, rest_s=0.5)
    q, observed = base.q.copy(), np.ones(N_DOFS, bool)
    for name in unobserved:
        observed[dof_index(name)] = False
    for name in all_nan:
        q[:, dof_index(name)] = np.nan
    track = PoseTrack.from_arrays(q, fps=base.fps, observed=observed, source="analytic:squat")
    analysis = analyze(track, "squat", salient=CURVE_JOINTS)
    return SimpleNamespace(
        estimate=PoseEstimate(track=track, backend="pose"), analysis=analysis, fit=None, exercise=None
    )


def _lines(fig: dict) -> dict[str, dict]:  # type: ignore[type-arg]
    """The angle figure's curves by legend name (the violation markers left out)."""
    return {
        trace["name"]: trace for trace in fig["data"] if trace.get("mode") == "lines" and trace.get("yaxis") != "y2"
    }


def test_sided_pairs_share_a_colour_and_each_pair_has_its_own() -> None:
    """Bug: colours went by ``k // 2`` for sided joints and ``k`` for centre ones, so the pelvis and the right
    hip shared a colour, the left hip and the right knee, the left knee and the right ankle."""
    lines = _lines(angle_figure(_squat_result(), 1.0))
    assert list(lines) == [
        "pelvis tilt",
        "right hip flexion",
        "left hip flexion",
        "right knee flexion",
        "left knee flexion",
    ]
    color = {name: trace["line"]["color"] for name, trace in lines.items()}
    assert color["right knee flexion"] == color["left knee flexion"]
    assert color["right hip flexion"] == color["left hip flexion"]
    assert color["pelvis tilt"] != color["right hip flexion"]
    assert len({color["pelvis tilt"], color["right hip flexion"], color["right knee flexion"]}) == 3
    dash = {name: trace["line"]["dash"] for name, trace in lines.items()}
    assert dash == {
        "pelvis tilt": "solid",
        "right hip flexion": "solid",
        "left hip flexion": "dash",
        "right knee flexion": "solid",
        "left knee flexion": "dash",
    }
    # A pair keeps its shared colour whatever else is picked; an added centre DoF gets a colour of its own.
    picked = _lines(angle_figure(_squat_result(), 1.0, ["knee_angle_l", "lumbar_extension", "knee_angle_r"]))
    assert picked["left knee flexion"]["line"]["color"] == picked["right knee flexion"]["line"]["color"]
    assert picked["lumbar extension"]["line"]["color"] != picked["right knee flexion"]["line"]["color"]


def test_unobserved_dofs_are_neither_drawn_nor_offered(state: AppState, page: ClipPage) -> None:
    """A DoF the track marks unobserved, or one NaN in every frame, is left out of the curves and the pickers
    (never drawn as a flat zero)."""
    result = _squat_result(unobserved=("pelvis_tilt",), all_nan=("knee_angle_l",))
    assert {"pelvis_tilt", "knee_angle_l"}.isdisjoint(curve_dofs(result))
    assert {"hip_flexion_r", "knee_angle_r"} <= set(curve_dofs(result))
    every = ["pelvis_tilt", "hip_flexion_r", "hip_flexion_l", "knee_angle_r", "knee_angle_l"]
    for fig in (angle_figure(result, 1.0), angle_figure(result, 1.0, every)):
        assert list(_lines(fig)) == ["right hip flexion", "left hip flexion", "right knee flexion"]
    first = state.result
    try:
        state.result = result
        assert "pelvis_tilt" not in page.joint_picker.options.values()
        assert "knee_angle_l" not in page.joint_picker.options.values()
        assert "knee_angle_l" not in page.cycle_select.options.values()
        assert page.joint_picker.value == ["hip_flexion_r", "hip_flexion_l", "knee_angle_r"]
        assert page.cycle_select.value == "knee_angle_r"
        page.joint_picker.value = ["knee_angle_l", "knee_angle_r"]  # a stale pick draws only what it can
        assert list(_lines(page.angles.object)) == ["right knee flexion"]
    finally:
        state.result = first
    # The example (a pose .npz) does not observe the pelvis: no pelvis curve, no pelvis in the picker.
    assert "pelvis_tilt" not in dof_choices(state.result).values()
    assert "pelvis tilt" not in _lines(angle_figure(state.result, 10.0, ["pelvis_tilt", "knee_angle_r"]))


def test_joint_picker_limits_the_curves(state: AppState, page: ClipPage) -> None:
    salient = [n for n in page.joint_picker.value]
    assert salient and set(salient) <= set(page.joint_picker.options.values())
    assert len(_lines(page.angles.object)) == len(salient)
    page.joint_picker.value = ["elbow_flexion_r", "elbow_flexion_l"]
    lines = _lines(page.angles.object)
    assert list(lines) == ["right elbow flexion", "left elbow flexion"]
    assert lines["right elbow flexion"]["line"]["color"] == lines["left elbow flexion"]["line"]["color"]
    assert page.angles.object["layout"]["shapes"][-1]["x0"] == pytest.approx(state.cursor_s)  # the cursor stays
    page.joint_picker.value = salient


def test_cycle_plot_for_a_chosen_dof(state: AppState, page: ClipPage) -> None:
    import numpy as np

    from workbench.motion.align import resample_cycle
    from workbench.skeleton import dof_index

    result = state.result
    exercise = page._exercise()
    assert page.cycle_select.value == exercise.cycle.signal[0] == "knee_angle_r"
    assert page.cycles.object["layout"]["meta"]["dof"] == "knee_angle_r"
    page.cycle_select.value = "hip_flexion_l"
    fig = page.cycles.object
    assert fig["layout"]["meta"]["dof"] == "hip_flexion_l"
    assert fig["layout"]["title"]["text"].startswith("left hip flexion (°) per rep")
    rep = result.analysis.reps[0]
    d = dof_index("hip_flexion_l")
    n_ref = exercise.reference.n_samples
    expected = np.degrees(resample_cycle(result.estimate.track.q[rep.start_frame : rep.end_frame + 1, d], n_ref))
    curves = [tr for tr in fig["data"] if tr.get("hovertemplate", "").startswith("%{y:.0f}°")]
    assert len(curves) == len(result.analysis.reps)
    np.testing.assert_allclose(curves[0]["y"], expected)
    envelope_mean = next(tr for tr in fig["data"] if tr.get("mode") == "lines")
    np.testing.assert_allclose(envelope_mean["y"], np.degrees(exercise.reference.mean[d]))  # the chosen DoF's
    # A DoF the clip does not observe is not plotted: the exercise's cycle signal takes its place.
    assert cycles_figure(result, exercise, "pelvis_tilt")["layout"]["meta"]["dof"] == "knee_angle_r"
    page.cycle_select.value = "knee_angle_r"


def test_trust_strip_lists_each_warning_once(state: AppState) -> None:
    """Bug: every pose-stage warning was listed twice, since ``analyze_clip`` copies the estimate's warnings into
    the analysis's and the trust strip added the estimate's again."""
    import copy
    from types import SimpleNamespace

    pose_warning = "pose: 12 frames had no person detected"
    analysis = copy.copy(state.result.analysis)
    analysis.warnings = list(analysis.warnings)
    analysis.prepend_warnings([pose_warning])  # what analyze_clip does
    estimate = SimpleNamespace(track=state.result.estimate.track, backend="mediapipe", warnings=[pose_warning])
    text = trust_summary(SimpleNamespace(analysis=analysis, estimate=estimate, fit=None))
    assert text.count(pose_warning) == 1
    assert text.count("⚠") == len(set(analysis.warnings))
    # A warning only the estimate has is still shown.
    estimate.warnings = [pose_warning, "pose: landmarks smoothed"]
    assert "- ⚠ pose: landmarks smoothed" in trust_summary(SimpleNamespace(analysis=analysis, estimate=estimate))


# ------------------------------------------------------------------ the frame shown is the frame read out


def _numbered_video(path, n: int, fps: float = 30.0):  # type: ignore[no-untyped-def]
    """A tiny clip whose frame k is a flat grey of level 5·(k mod 50): the picture says which frame it is."""
    import numpy as np

    from workbench.io.video import write_video

    return write_video(path, (np.full((240, 320, 3), 5 * (k % 50), np.uint8) for k in range(n)), fps)


def _video_result(tmp_path, n: int = 200, fps: float = 30.0):  # type: ignore[no-untyped-def]
    """A clip result as the pipeline makes it for a video: the pose track on the analysis grid k / fps."""
    from types import SimpleNamespace

    import numpy as np

    from workbench.pose.backends import PoseEstimate
    from workbench.pose.track import PoseTrack
    from workbench.skeleton import N_DOFS

    video = _numbered_video(tmp_path / "numbered.mp4", n, fps)
    track = PoseTrack(
        q=np.zeros((n, N_DOFS)),
        t=np.arange(n) / fps,
        confidence=np.ones(n),
        observed=np.ones(N_DOFS, bool),
        source="test",
    )
    analysis = analyze(track, "squat")
    return SimpleNamespace(
        estimate=PoseEstimate(track=track, backend="mediapipe", video=video), analysis=analysis, fit=None
    )


def _shown_frame(png: bytes) -> int:
    """Which frame of the numbered clip a rendered PNG shows (the median grey; the drawing covers little)."""
    import io

    import numpy as np
    from PIL import Image

    level = float(np.median(np.asarray(Image.open(io.BytesIO(png)).convert("L"))))
    return round(level / 5)


@pytest.mark.parametrize("t_s", [5.63, 5.61, 5.60, 5.65, 0.0, 0.02, 6.62])
def test_image_and_readout_show_the_same_frame(tmp_path, t_s: float) -> None:  # type: ignore[no-untyped-def]
    """Issue 14: the read-out said frame 169 at 5.63 s while the image was frame 168 at 5.60 s (the read-out
    took the nearest sample, the image the latest video frame at or before the cursor)."""
    import re

    from workbench.dashboard.pages.clip import overlay_png, readout_text

    result = _video_result(tmp_path)
    i = frame_index(result.estimate.track.t, t_s)
    readout = readout_text(result, t_s)
    shot = overlay_png(result, t_s)
    assert shot.png is not None
    assert readout.startswith(f"Cursor {i / 30:.2f} s · frame {i} — ")
    note = re.match(r"frame (\d+) at (\d+\.\d\d) s", shot.note)
    assert note is not None and (int(note[1]), note[2]) == (i, f"{i / 30:.2f}")
    assert _shown_frame(shot.png) == i % 50


# ------------------------------------------------------------------ progress while a clip is analysed


def test_analysis_runs_in_the_background_and_shows_its_progress(state: AppState, tmp_path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    import threading
    import time

    from workbench.progress import ProgressMeter

    gate = threading.Event()
    example = state.result

    def slow_analysis(path: str, exercise: str, progress=None):  # type: ignore[no-untyped-def]
        meter = ProgressMeter(progress, total=100, interval_s=0.0)
        for _ in range(10):
            meter.step()
        assert gate.wait(30)
        for _ in range(90):
            meter.step()
        meter.close()
        return example

    st = AppState(data_dirs=[str(tmp_path)])
    monkeypatch.setattr(st, "analyse", slow_analysis)
    page = ClipPage(state=st)
    page.path_input.value, page.exercise_select.value = str(tmp_path / "long.mp4"), "squat"
    page._analyse()
    job = page._job
    assert job is not None and page.progress.visible and page.analyse_button.loading
    deadline = time.monotonic() + 30
    while (job.progress is None or job.progress.done < 10) and time.monotonic() < deadline:
        time.sleep(0.01)
    page._poll_analysis()  # what the page's periodic callback does every 250 ms
    assert page.progress.value == 10 and "10 / 100 frames" in page.progress_text.object
    assert "fps" in page.progress_text.object and "left" in page.progress_text.object and st.result is None
    page._analyse()  # a second press while it runs starts nothing
    assert page._job is job
    gate.set()
    assert job.thread is not None
    job.thread.join(30)
    page._poll_analysis()
    assert st.result is example and st.status.startswith("analysed long.mp4")
    assert not page.progress.visible and not page.analyse_button.loading and page._job is None


def test_a_failed_background_analysis_is_reported(tmp_path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    def broken(path: str, exercise: str, progress=None):  # type: ignore[no-untyped-def]
        raise ValueError("expected a video, got a text file")

    st = AppState(data_dirs=[str(tmp_path)])
    monkeypatch.setattr(st, "analyse", broken)
    page = ClipPage(state=st)
    page.path_input.value, page.exercise_select.value = str(tmp_path / "notes.mp4"), "squat"
    page._analyse()
    assert page._job is not None and page._job.thread is not None
    page._job.thread.join(30)
    page._poll_analysis()
    assert st.status == f"could not analyse {tmp_path / 'notes.mp4'}: expected a video, got a text file"
    assert st.result is None and not page.progress.visible


def test_the_table_exports_are_what_biocoach_export_writes(state: AppState, page: ClipPage, tmp_path) -> None:  # type: ignore[no-untyped-def]
    from workbench.io.tables import columns_of, write_csv
    from workbench.motion import measures

    track, reps = state.result.estimate.track, state.result.analysis.reps
    rows = {"reps": measures.rep_rows(reps), "angles": measures.angle_rows(track.t, track.q, track.observed, reps)}
    for name, got in (("reps", page._reps_csv()), ("angles", page._angles_csv())):
        want = write_csv(tmp_path / f"{name}.csv", rows[name], columns_of(rows[name])).read_bytes()
        assert got.getvalue() == want
    assert page.export_reps.filename == f"{EXAMPLE_CLIP.stem}_reps.csv"
    assert page.export_angles.filename == f"{EXAMPLE_CLIP.stem}_angles.csv"
