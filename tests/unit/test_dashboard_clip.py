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
    track = PoseTrack(q=np.zeros((n, N_DOFS)), t=np.arange(n) / fps, confidence=np.ones(n),
                      observed=np.ones(N_DOFS, bool), source="test")  # fmt: skip
    analysis = analyze(track, "squat")
    return SimpleNamespace(estimate=PoseEstimate(track=track, backend="mediapipe", video=video), analysis=analysis)


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
