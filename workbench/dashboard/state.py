"""Per-session state shared by the pages: which clip is open, its analysis, the time cursor.

One AppState per browser session (the app factory makes a new one each time), so two users never share a
cursor or an unsaved edit. Pages watch its parameters; none of them computes anything itself.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import param

from workbench.exercises.catalogue import REFERENCES_DIR

EXAMPLE_CLIP = REFERENCES_DIR / "examples" / "squat_cmu_14_14.npz"
EXAMPLE_EXERCISE = "squat"


class AppState(param.Parameterized):
    """What every page of one session sees."""

    db_path = param.String(default="", doc="DuckDB store file ('' = $BIOCOACH_DB or db/biocoach.duckdb)")
    data_dirs = param.List(default=[], item_type=str, doc="folders clips may be opened from")
    clip_path = param.String(default="", doc="the open clip (video, landmark file or pose .npz)")
    exercise = param.String(default=EXAMPLE_EXERCISE, doc="exercise key of the open clip")
    cursor_s = param.Number(default=0.0, bounds=(0, None), doc="the time cursor, seconds")
    result = param.Parameter(default=None, doc="workbench.pipeline.ClipResult of the open clip")
    status = param.String(default="", doc="one line for the user: what happened last")

    def allowed(self, path: str | Path) -> bool:
        """Paths outside the configured data folders (and the bundled examples) are refused."""
        p = Path(path).resolve()
        roots = [Path(d).resolve() for d in self.data_dirs] + [EXAMPLE_CLIP.parent.resolve()]
        return any(p == r or r in p.parents for r in roots)

    def database(self) -> Any:
        from workbench.pipeline import default_database

        return default_database(self.db_path or None)

    def open_clip(self, path: str, exercise: str) -> None:
        """Analyse a clip (pose from the store's cache when it was seen before) and make it the open one."""
        from workbench.pipeline import analyze_clip

        if not self.allowed(path):
            self.status = f"refused: {path} is outside the data folders ({', '.join(self.data_dirs) or 'none'})"
            return
        result = analyze_clip(path, exercise, db=self.database(), need_landmarks=True)
        self.param.update(clip_path=str(path), exercise=exercise, result=result, cursor_s=0.0,
                          status=f"analysed {Path(path).name}: {len(result.analysis.reps)} reps")  # fmt: skip
