"""The app factory: a fresh AppState and fresh pages for every browser session.

A new session must be interactive quickly, so it builds only what the first paint shows: the Clip page with the
bundled example (whose analysis the process keeps, ``state.EXAMPLE_ANALYSES``). The other pages read the store
when they are built (the editor alone took seconds), so each is built the first time its tab is opened
(:func:`lazy_tabs`); until then its tab holds a one-line placeholder.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from workbench.dashboard.pages import PAGES
from workbench.dashboard.state import EXAMPLE_CLIP, EXAMPLE_EXERCISE, AppState

EXTENSIONS = ("plotly", "tabulator")  # every extension a page uses must be loaded here, or it renders blank
OPENING = "Opening the page …"  # what a tab shows while its page is built, the first time it is opened


def create_app(db_path: str = "", data_dirs: list[str] | None = None, open_example: bool = True) -> Any:
    """Build one session's app: a header, a status line and one tab per page (each built on first visit)."""
    import panel as pn

    pn.extension(*EXTENSIONS, notifications=True)
    state = AppState(db_path=db_path, data_dirs=list(data_dirs or []))
    if open_example:
        state.open_clip(str(EXAMPLE_CLIP), EXAMPLE_EXERCISE)
    tabs = lazy_tabs(state, PAGES)
    status = pn.pane.Markdown(state.param.status, sizing_mode="stretch_width")
    # A plain layout, not a template: Panel's templates fetch web fonts, which an offline lab machine cannot.
    header = pn.pane.Markdown("## BioCoach Workbench", sizing_mode="stretch_width", margin=(5, 10))
    return pn.Column(header, status, tabs, sizing_mode="stretch_width")


def lazy_tabs(state: AppState, pages: Sequence[tuple[str, Any]]) -> Any:
    """One tab per ``(title, page class)``; a page is built (``page(state=state)``) when its tab is first
    opened, the active one at once. A built page stays, with its widgets' values, when the user leaves its tab."""
    import panel as pn

    holders = [pn.Column(pn.pane.Markdown(OPENING), sizing_mode="stretch_width") for _ in pages]
    built: set[int] = set()

    def build(index: int) -> None:
        if index in built or not 0 <= index < len(pages):
            return
        built.add(index)
        holders[index].objects = [pages[index][1](state=state)]

    tabs = pn.Tabs(*[(title, holder) for (title, _), holder in zip(pages, holders, strict=True)], dynamic=False)
    build(tabs.active)
    tabs.param.watch(lambda event: build(event.new), "active")
    return tabs
