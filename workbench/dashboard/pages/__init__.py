"""One file per page; each page is a ``pn.viewable.Viewer`` taking the session's AppState."""

from __future__ import annotations

from typing import Any

from workbench.dashboard.pages.clip import ClipPage
from workbench.dashboard.pages.editor import EditorPage
from workbench.dashboard.pages.evaluations import EvaluationsPage
from workbench.dashboard.pages.review import ReviewPage
from workbench.dashboard.pages.runs import RunsPage

PAGES: list[tuple[str, Any]] = [
    ("Clip", ClipPage),
    ("References & thresholds", EditorPage),
    ("Runs", RunsPage),
    ("Review", ReviewPage),
    ("Evaluations", EvaluationsPage),
]
