"""The app factory: a fresh AppState and fresh pages for every browser session."""

from __future__ import annotations

from typing import Any

from workbench.dashboard.pages import PAGES
from workbench.dashboard.state import EXAMPLE_CLIP, EXAMPLE_EXERCISE, AppState

EXTENSIONS = ("plotly", "tabulator")  # every extension a page uses must be loaded here, or it renders blank


def create_app(db_path: str = "", data_dirs: list[str] | None = None, open_example: bool = True) -> Any:
    """Build one session's app: a header, a status line and one tab per page."""
    import panel as pn

    pn.extension(*EXTENSIONS, notifications=True)
    state = AppState(db_path=db_path, data_dirs=list(data_dirs or []))
    if open_example:
        state.open_clip(str(EXAMPLE_CLIP), EXAMPLE_EXERCISE)
    tabs = pn.Tabs(*[(title, page(state=state)) for title, page in PAGES], dynamic=False)
    status = pn.pane.Markdown(state.param.status, sizing_mode="stretch_width")
    # A plain layout, not a template: Panel's templates fetch web fonts, which an offline lab machine cannot.
    header = pn.pane.Markdown("## BioCoach Workbench", sizing_mode="stretch_width", margin=(5, 10))
    return pn.Column(header, status, tabs, sizing_mode="stretch_width")
