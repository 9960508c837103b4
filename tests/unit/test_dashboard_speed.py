"""Issue 17, part 7 (offline and fast), without a browser: what a cursor move sends, and what a new session
builds and analyses.

* A cursor move sends the angle and confidence plots only their cursor line's new position (Plotly's relayout),
  never their figures again (9,000 frames a curve for a 5-minute clip).
* The bundled example is analysed once per process while its file and the store's rules stay the same; a
  threshold edit analyses it again.
* A new session builds the Clip page only; every other page is built when its tab is first opened.
"""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

pn = pytest.importorskip("panel")

from bokeh.document import Document  # noqa: E402
from bokeh.document.events import ModelChangedEvent  # noqa: E402

from workbench.dashboard import app as app_module  # noqa: E402
from workbench.dashboard import state as state_module  # noqa: E402
from workbench.dashboard.cursor_plot import CURSOR_SHAPE, figure_patch  # noqa: E402
from workbench.dashboard.pages.clip import ClipPage, cursor_index  # noqa: E402
from workbench.dashboard.state import EXAMPLE_ANALYSES, EXAMPLE_CLIP, EXAMPLE_EXERCISE, AppState  # noqa: E402
from workbench.store.database import Database  # noqa: E402

FIGURE_PROPERTIES = {"data", "layout", "data_sources", "_render_count"}  # what resending a figure changes


def _model(pane: Any) -> Any:
    (model, _), *_ = pane._models.values()
    return model


def _pretend_served(monkeypatch: pytest.MonkeyPatch, *, loaded: bool) -> None:
    """Panel's state as inside a served session (a document with a session context), loaded or not yet."""

    class _Doc:  # a class instance: Panel keeps weak references to documents
        session_context = SimpleNamespace(request=SimpleNamespace(arguments={}))

    doc = _Doc()
    monkeypatch.setattr(type(pn.state), "curdoc", property(lambda _self: doc))
    monkeypatch.setattr(type(pn.state), "loaded", property(lambda _self: loaded))


def _served_page(state: AppState) -> tuple[ClipPage, Document, list[tuple[Any, str, Any]]]:
    page = ClipPage(state=state)
    doc = Document()
    doc.add_root(page.__panel__().get_root(doc))
    sent: list[tuple[Any, str, Any]] = []
    doc.on_change(
        lambda event: (
            sent.append((event.model, event.attr, event.new)) if isinstance(event, ModelChangedEvent) else None
        )
    )
    return page, doc, sent


def test_a_cursor_move_sends_the_time_not_the_figures() -> None:
    """The angle and confidence plots get nothing at all (not even a relayout, which redraws the whole figure in
    the browser): the cursor component gets the time and moves their lines itself."""
    state = AppState()
    state.open_clip(str(EXAMPLE_CLIP), EXAMPLE_EXERCISE)
    page, _, sent = _served_page(state)
    angles, trust, line = _model(page.angles), _model(page.trust_plot), _model(page.cursor_line)

    state.cursor_s = 10.0

    for model in (angles, trust):
        assert not [attr for m, attr, _ in sent if m is model]  # nothing sent to the plots
    assert [new for m, attr, new in sent if m is line.data and attr == "time_s"] == [pytest.approx(10.0)]
    assert page.cursor_line.time_s == pytest.approx(10.0)
    for pane in (page.angles, page.trust_plot):
        assert pane.object["layout"]["shapes"][cursor_index(pane.object)]["x0"] == pytest.approx(10.0)
        assert pane.object["layout"]["shapes"][-1]["name"] == CURSOR_SHAPE  # the shape the browser moves
    assert "Cursor 10.0" in page.readout.object  # the rest of the page still follows the cursor
    assert page.skeleton3d.object["layout"]["title"]["text"].startswith("10.0")


def test_a_cursor_move_patches_the_3d_view_instead_of_resending_it() -> None:
    state = AppState()
    state.open_clip(str(EXAMPLE_CLIP), EXAMPLE_EXERCISE)
    state.cursor_s = 9.0
    page, _, sent = _served_page(state)
    model = _model(page.skeleton3d)

    state.cursor_s = 9.5

    changed = {attr for m, attr, _ in sent if m is model}
    assert not changed & FIGURE_PROPERTIES, changed  # the 3D figure was not sent again
    restyle = [new for m, attr, new in sent if m is model and attr == "restyle"]
    assert restyle and set(restyle[-1]["data"]) >= {"x", "y", "z"}
    assert "i" not in restyle[-1]["data"]  # what did not change (a mesh's faces, the trace names) stays behind
    relayout = [new for m, attr, new in sent if m is model and attr == "relayout"]
    assert relayout and relayout[-1]["title.text"].startswith("9.5")
    assert page.skeleton3d.object["layout"]["title"]["text"].startswith("9.5")


def test_figure_patch_sends_only_what_changed_or_nothing_it_cannot_patch() -> None:
    old = {
        "data": [{"type": "scatter3d", "x": [0, 1], "name": "a", "marker": {"color": "red", "size": 3}}],
        "layout": {"title": {"text": "t0"}, "height": 420},
    }
    new = {
        "data": [{"type": "scatter3d", "x": [0, 2], "name": "a", "marker": {"color": "blue", "size": 3}}],
        "layout": {"title": {"text": "t1"}, "height": 420},
    }
    assert figure_patch(old, new) == {
        "restyle": {"data": {"marker.color": ["blue"], "x": [[0, 2]]}, "traces": [0]},
        "relayout": {"title.text": "t1"},
    }
    assert figure_patch(old, old) == {}
    assert figure_patch(old, {"data": [*new["data"], new["data"][0]], "layout": {}}) is None  # a trace more
    assert figure_patch(None, new) is None


def test_the_3d_view_goes_after_the_readout_on_a_server(monkeypatch: pytest.MonkeyPatch) -> None:
    """Served, a cursor move leaves the 3D view to a callback of its own, run after the read-out has been sent;
    a burst of moves draws the last one only."""
    state = AppState()
    state.open_clip(str(EXAMPLE_CLIP), EXAMPLE_EXERCISE)
    page = ClipPage(state=state)
    scheduled: list[Any] = []

    _pretend_served(monkeypatch, loaded=True)
    monkeypatch.setattr(pn.state, "add_periodic_callback", lambda cb, **kw: scheduled.append(cb))
    before = page.skeleton3d.object["layout"]["title"]["text"]
    state.cursor_s = 9.5
    state.cursor_s = 10.0
    assert "Cursor 10.0" in page.readout.object
    assert page.skeleton3d.object["layout"]["title"]["text"] == before  # not yet
    assert len(scheduled) == 1
    monkeypatch.undo()
    scheduled[0]()
    assert page.skeleton3d.object["layout"]["title"]["text"].startswith("10.0")


def test_the_3d_view_is_drawn_at_most_once_per_interval_while_the_cursor_moves(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from workbench.dashboard.pages.clip import DELAY_3D_MS, MIN_3D_INTERVAL_MS

    state = AppState()
    state.open_clip(str(EXAMPLE_CLIP), EXAMPLE_EXERCISE)
    page = ClipPage(state=state)
    periods: list[int] = []

    _pretend_served(monkeypatch, loaded=True)
    monkeypatch.setattr(pn.state, "add_periodic_callback", lambda cb, period, **kw: periods.append(period))
    page._3d_drawn = float("-inf")
    page._from_player = True  # the player plays: throttled (a cursor moved by hand is debounced)
    state.cursor_s = 9.5
    assert periods == [DELAY_3D_MS]  # not drawn lately: right after the read-out
    page._show_3d()
    state.cursor_s = 10.0  # just drawn: the next frame waits out the interval
    assert len(periods) == 2 and MIN_3D_INTERVAL_MS - 50 <= periods[1] <= MIN_3D_INTERVAL_MS


def test_the_text_that_follows_the_cursor_has_a_fixed_height() -> None:
    """A text pane changing height per move re-lays out the page, and Panel then redraws every Plotly view."""
    page = ClipPage(state=AppState())
    for pane in (page.readout, page.motion, page.feedback):
        assert pane.height and pane.sizing_mode == "stretch_width"
        assert pane.styles.get("overflow-y") == "auto"
        assert pane.styles.get("contain") == "content"  # its changes repaint nothing beside it


def test_a_new_session_defers_the_table_cycles_and_3d_until_loaded(monkeypatch: pytest.MonkeyPatch) -> None:
    """Served, a session's first paint carries the read-out, the curves and the rep table's rows; the cycle plot and
    the 3D view follow once the browser has drawn it (``pn.state.onload``, or a timer if that never comes)."""
    loaded: list[Any] = []

    _pretend_served(monkeypatch, loaded=False)
    monkeypatch.setattr(pn.state, "onload", lambda cb, threaded=False: loaded.append(cb))
    timers: list[Any] = []  # the fallback for a "document ready" that never comes (each runs once at most)
    monkeypatch.setattr(pn.state, "add_periodic_callback", lambda cb, period, count=None: timers.append(cb))
    state = AppState()
    state.open_clip(str(EXAMPLE_CLIP), EXAMPLE_EXERCISE)
    page = ClipPage(state=state)
    assert "Current pose:" in page.readout.object and page.angles.object is not None
    assert len(page.table.value) == len(state.result.analysis.reps)  # the rows go with the first paint
    assert page.cycles.object is None and page.skeleton3d.object is None
    assert len(loaded) == 2 and len(timers) == 2
    monkeypatch.undo()
    for callback in loaded + timers:
        callback()
    assert len(page.table.value) == len(state.result.analysis.reps)
    assert page.cycles.object is not None and page.skeleton3d.object is not None


def test_a_configured_but_broken_skel_model_is_shown_not_raised(monkeypatch: pytest.MonkeyPatch) -> None:
    from workbench.dashboard.pages import clip as clip_module
    from workbench.errors import WorkbenchError

    def broken(**_: Any) -> Any:
        raise WorkbenchError("skel_model_dir: /nowhere/skel_male.pkl does not exist")

    monkeypatch.setattr(clip_module, "configured_bone_mesh", broken)
    state = AppState()
    state.open_clip(str(EXAMPLE_CLIP), EXAMPLE_EXERCISE)
    page = ClipPage(state=state)
    assert page.skel_note.visible and "/nowhere/skel_male.pkl" in page.skel_note.object
    assert page.skeleton3d.object["data"]  # the skeleton is still drawn


def test_the_configured_skel_mesh_is_loaded_once_per_clip_and_drawn(monkeypatch: pytest.MonkeyPatch) -> None:
    from workbench.dashboard.pages import clip as clip_module

    loads: list[Any] = []
    drawn: list[Any] = []
    mesh = object()
    figure = clip_module.clip_skeleton_figure

    def load(**kwargs: Any) -> Any:
        loads.append(kwargs)
        return mesh

    def draw(*args: Any, skel_mesh: Any = None, **kwargs: Any) -> Any:
        drawn.append(skel_mesh)
        return figure(*args, **kwargs)

    monkeypatch.setattr(clip_module, "configured_bone_mesh", load)
    monkeypatch.setattr(clip_module, "clip_skeleton_figure", draw)
    state = AppState()
    state.open_clip(str(EXAMPLE_CLIP), EXAMPLE_EXERCISE)
    page = ClipPage(state=state)
    state.cursor_s = 9.0
    state.cursor_s = 10.0
    assert len(loads) == 1 and "gender" in loads[0]
    assert drawn and all(m is mesh for m in drawn)
    assert not page.skel_note.visible


def test_a_new_view_of_the_page_shows_the_cursor_where_it_is() -> None:
    """The figure a later view is built from (a reload, a new model) has the cursor line at the cursor."""
    state = AppState()
    state.open_clip(str(EXAMPLE_CLIP), EXAMPLE_EXERCISE)
    page = ClipPage(state=state)
    page.__panel__().get_root(Document())
    state.cursor_s = 11.0
    fresh = page.angles.get_root(Document())
    assert fresh.layout["shapes"][-1]["x0"] == pytest.approx(11.0)


def test_the_example_is_analysed_once_per_process_until_the_store_changes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[str] = []
    analyse = state_module.analyze_clip

    def counted(path: Any, *args: Any, **kwargs: Any) -> Any:
        calls.append(str(path))
        return analyse(path, *args, **kwargs)

    monkeypatch.setattr(state_module, "analyze_clip", counted)
    EXAMPLE_ANALYSES.clear()
    store = str(tmp_path / "store.duckdb")
    first, second = AppState(db_path=store), AppState(db_path=store)
    first.open_clip(str(EXAMPLE_CLIP), EXAMPLE_EXERCISE)
    second.open_clip(str(EXAMPLE_CLIP), EXAMPLE_EXERCISE)
    assert len(calls) == 1  # the second session reads the first one's analysis
    assert second.result is not first.result  # a copy each: no session changes another's
    assert len(second.result.analysis.reps) == len(first.result.analysis.reps) == 2

    with Database(store).store() as s:  # an expert raises the knee-depth bound: the next session re-analyses
        current = s.thresholds.get(EXAMPLE_EXERCISE, "knee_depth")
        s.thresholds.edit(
            EXAMPLE_EXERCISE, "knee_depth", base_version=current.version, author="t", note="n", bounds_deg=(160.0, None)
        )
    third = AppState(db_path=store)
    third.open_clip(str(EXAMPLE_CLIP), EXAMPLE_EXERCISE)
    assert len(calls) == 2
    assert third.result.analysis.provenance["threshold_versions"]["knee_depth"] == current.version + 1
    EXAMPLE_ANALYSES.clear()


def test_a_new_session_builds_only_the_clip_page(monkeypatch: pytest.MonkeyPatch) -> None:
    built: list[str] = []

    def page(title: str) -> Any:
        def make(state: AppState) -> Any:
            built.append(title)
            return pn.pane.Markdown(f"{title} page")

        return make

    pages = [(title, page(title)) for title in ("Clip", "Editor", "Runs")]
    tabs = app_module.lazy_tabs(AppState(), pages)
    assert built == ["Clip"]
    assert tabs[1].objects[0].object == app_module.OPENING
    tabs.active = 2
    assert built == ["Clip", "Runs"] and tabs[2].objects[0].object == "Runs page"
    tabs.active = 0
    tabs.active = 2
    assert built == ["Clip", "Runs"]  # built once, kept


def test_the_app_opens_on_the_clip_page_with_the_other_pages_unbuilt() -> None:
    app = app_module.create_app()
    tabs = app.objects[-1]
    assert not isinstance(tabs[0].objects[0], pn.pane.Markdown)  # the Clip page (as its layout)
    assert all(tab.objects[0].object == app_module.OPENING for tab in tabs[1:])
    tabs.active = 1
    assert not isinstance(tabs[1].objects[0], pn.pane.Markdown)


def test_a_cursor_moved_by_hand_redraws_the_3d_view_once_it_is_still(monkeypatch: pytest.MonkeyPatch) -> None:
    """Each move by hand restarts the wait; the 3D view then shows the last position."""
    from workbench.dashboard.pages.clip import DEBOUNCE_3D_MS

    state = AppState()
    state.open_clip(str(EXAMPLE_CLIP), EXAMPLE_EXERCISE)
    page = ClipPage(state=state)
    timers: list[Any] = []

    def schedule(cb: Any, period: int, **kw: Any) -> Any:
        timer = SimpleNamespace(cb=cb, period=period, stopped=False)
        timer.stop = lambda: setattr(timer, "stopped", True)
        timers.append(timer)
        return timer

    _pretend_served(monkeypatch, loaded=True)
    monkeypatch.setattr(pn.state, "add_periodic_callback", schedule)
    before = page.skeleton3d.object["layout"]["title"]["text"]
    for t in (9.0, 9.5, 10.0):
        state.cursor_s = t
    assert page.skeleton3d.object["layout"]["title"]["text"] == before  # not while it moves
    assert [t.stopped for t in timers] == [True, True, False]
    assert all(t.period == DEBOUNCE_3D_MS for t in timers)
    monkeypatch.undo()
    timers[-1].cb()
    assert page.skeleton3d.object["layout"]["title"]["text"].startswith("10.0")


def test_what_waits_for_the_first_paint_also_runs_on_a_timer_and_only_once(monkeypatch: Any) -> None:
    """The rep table's rows wait for the browser's "document ready"; when that comes late or never (or an
    earlier onload callback raised, which drops Panel's remaining list), a timer fills them anyway — once."""
    from workbench.dashboard.pages import clip as clip_module

    onload: list[Any] = []
    timers: list[tuple[Any, int, int]] = []
    _pretend_served(monkeypatch, loaded=False)
    monkeypatch.setattr(pn.state, "onload", lambda cb, threaded=False: onload.append(cb))
    monkeypatch.setattr(
        pn.state, "add_periodic_callback", lambda cb, period, count=None: timers.append((cb, period, count))
    )
    calls: list[int] = []
    page = object.__new__(ClipPage)
    ClipPage._after_first_paint(page, lambda: calls.append(1))
    assert len(onload) == 1 and [(p, c) for _, p, c in timers] == [(clip_module.FIRST_PAINT_FALLBACK_MS, 1)]
    timers[0][0]()  # document ready never came: the timer fills the table
    onload[0]()  # ... and a late document ready does not fill it twice
    assert calls == [1]
