"""The Clip page without a browser: its read-out, table and click handling agree with the library."""

from __future__ import annotations

import pytest

pn = pytest.importorskip("panel")

from workbench.dashboard.pages.clip import (  # noqa: E402
    ClipPage,
    angle_figure,
    cursor_from_click,
    frame_index,
    motion_text,
    rep_rows,
    swaps_text,
    trust_summary,
)
from workbench.dashboard.state import EXAMPLE_CLIP, EXAMPLE_EXERCISE, AppState  # noqa: E402
from workbench.io.posefile import load_npz  # noqa: E402
from workbench.motion.analysis import analyze  # noqa: E402
from workbench.motion.context import pose_state  # noqa: E402


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
    assert sum(1 for s in fig["layout"]["shapes"] if s["type"] == "rect") == 2


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
    track = SimpleNamespace(**{k: getattr(state.result.estimate.track, k)
                               for k in ("t", "confidence", "observed", "q", "source")}, meta={"swapped_frames": "7"})
    landmarks = SimpleNamespace(analysis=state.result.analysis,
                                estimate=SimpleNamespace(track=track, backend="landmarks", warnings=[]))
    assert "left/right swaps repaired **7** frames" in trust_summary(landmarks)
