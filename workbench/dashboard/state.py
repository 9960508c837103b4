"""Per-session state shared by the pages: which clip is open, its analysis, the time cursor.

One AppState per browser session (the app factory makes a new one each time), so two users never share a
cursor or an unsaved edit. Pages watch its parameters; none of them computes anything itself.
"""

from __future__ import annotations

import copy
import json
import os
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import param

from workbench.coach.loading import COACH_KINDS, load_coach
from workbench.exercises import load_catalogue
from workbench.exercises.catalogue import REFERENCES_DIR
from workbench.pipeline import analyze_clip, default_database
from workbench.progress import Progress
from workbench.store.clips_repo import sha256_file
from workbench.store.database import Database
from workbench.store.review_labels import reviewed_salient, salient_joints_for_clip
from workbench.store.seed import snapshot

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
    coach: param.Selector = param.Selector(
        default="rule", objects=list(COACH_KINDS), doc="who speaks on the feedback timeline"
    )

    def allowed(self, path: str | Path) -> bool:
        """Whether a page may read ``path``: the one check every page uses for every data-folder entry (the clip
        box, the Runs page's clips, the editor's overlay clips and manifests). See :func:`resolves_inside`."""
        roots = [Path(d) for d in self.data_dirs] + [EXAMPLE_CLIP.parent]
        return resolves_inside(path, roots)

    def database(self) -> Any:
        return session_database(self.db_path or None)

    def open_clip(self, path: str, exercise: str) -> None:
        """Analyse a clip (pose from the store's cache when it was seen before) and make it the open one."""
        if not self.allowed(path):
            self._refuse(path)
            return
        self.show_clip(path, exercise, self.analyse(path, exercise))

    def start_clip(self, path: str, exercise: str) -> AnalysisJob | None:
        """Analyse a clip in a background thread (a long video takes minutes); the job says how far it got.
        The caller shows the result with ``show_clip`` on its own thread once ``job.finished``. None when refused."""
        if not self.allowed(path):
            self._refuse(path)
            return None
        job = AnalysisJob(path=str(path), exercise=exercise)
        job.start(self)
        return job

    def analyse(self, path: str, exercise: str, progress: Any = None) -> Any:
        """The pipeline's analysis of a clip, for this session's store, with the feedback of the session's coach
        (the rule coach by default, as ``biocoach coach`` runs it); changes nothing in the state. The bundled
        example with the rule coach comes from ``EXAMPLE_ANALYSES`` (analysed once per process while the
        store's rules for it stay the same), since every new session opens it."""
        db = self.database()
        if is_example(path) and self.coach == "rule":
            key = example_key(db, path, exercise)
            return EXAMPLE_ANALYSES.get(key, lambda: self._analyse(db, path, exercise, progress))
        return self._analyse(db, path, exercise, progress)

    def _analyse(self, db: Database, path: str, exercise: str, progress: Any) -> Any:
        # The bundled example is what every session opens first: analysed with the store's rules, never
        # recorded as a run (opening the app must not add a run per browser session).
        return analyze_clip(
            path,
            exercise,
            db=db,
            need_landmarks=True,
            progress=progress,
            coach=load_coach(self.coach),
            record=not is_example(path),
        )

    def show_clip(self, path: str, exercise: str, result: Any) -> None:
        """Make an analysed clip the open one (every page follows)."""
        self.param.update(
            clip_path=str(path),
            exercise=exercise,
            result=result,
            cursor_s=0.0,
            status=f"analysed {Path(path).name}: {len(result.analysis.reps)} reps",
        )

    def _refuse(self, path: str | Path) -> None:
        self.status = (
            f"refused: {path} is outside the data folders or links out of them ({', '.join(self.data_dirs) or 'none'})"
        )


_DATABASES: dict[str, Database] = {}  # store file → its Database, migrated and seeded (once per process)
_DATABASES_LOCK = threading.Lock()


def session_database(path: str | None = None) -> Database:
    """The store (``pipeline.default_database``: ``path``, else ``$BIOCOACH_DB``, else the default file), opened,
    migrated and seeded once per process and file: every new browser session asks for it, and migrating and
    checking it again cost two connections of the session's start. A file since removed is opened afresh."""
    key = str(path or os.environ.get("BIOCOACH_DB") or "")
    with _DATABASES_LOCK:
        db = _DATABASES.get(key)
        if db is None or not db.path.exists():
            db = _DATABASES[key] = default_database(path)
        return db


def is_example(path: str | Path) -> bool:
    """Whether ``path`` is the bundled example clip (the clip every session opens)."""
    try:
        return Path(path).resolve() == EXAMPLE_CLIP.resolve()
    except (OSError, RuntimeError):
        return False


# ------------------------------------------------------------------------- the example's analysis, per process


class AnalysisCache:
    """One analysis kept for the whole process under a key (``example_key``): every new browser session opens
    the bundled example, which took about a second of the session's start to analyse again. A new key (the
    file, the store or its rules changed) analyses again and replaces it. Each caller gets its own deep copy,
    so no session can change another's result; concurrent first sessions wait for one analysis."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._key: tuple[Any, ...] | None = None
        self._result: Any = None
        self.analysed = 0  # how many times the cache had to analyse (tests count on it)

    def get(self, key: tuple[Any, ...], analyse: Callable[[], Any]) -> Any:
        with self._lock:
            if self._result is None or key != self._key:
                self._result, self._key = analyse(), key
                self.analysed += 1
            return copy.deepcopy(self._result)

    def clear(self) -> None:
        with self._lock:
            self._key = self._result = None


EXAMPLE_ANALYSES = AnalysisCache()
_HASHES: dict[tuple[str, int, int], str] = {}  # (path, mtime_ns, size) → the file's sha256


def example_key(db: Database, path: str | Path, exercise: str) -> tuple[Any, ...]:
    """What the example's analysis depends on besides the code: the file (path, size, modification time), the
    store, the rule file, thresholds and reference version the store has now for the exercise (the rule dict
    names every version), and the salient joints experts accepted for the clip. Costs a few milliseconds
    (one exercise's snapshot and the clip's review labels), against about a second for the analysis."""
    real = Path(path).resolve()
    stat = real.stat()
    file_key = (str(real), stat.st_mtime_ns, stat.st_size)
    clip_hash = _HASHES.get(file_key) or _HASHES.setdefault(file_key, sha256_file(real))
    base = load_catalogue().get(exercise).rule_file.stem  # 'lunge' for 'lunge_left': the store's key
    with db.store() as store:
        (snap,) = snapshot(store, [base])
    rules = json.dumps(snap.rules, sort_keys=True, default=str)
    reference = None if snap.reference is None else snap.reference.version
    salient = reviewed_salient(salient_joints_for_clip(db, clip_hash, exercise)[1])
    return (*file_key, str(db.path), exercise, rules, reference, salient)


def resolves_inside(path: str | Path, roots: list[Path]) -> bool:
    """Whether ``path`` lies inside one of ``roots`` once every symbolic link is followed; for a folder (HSMR
    outputs are read as one), everything under it too. A link that leaves the roots, anywhere on the way, is
    refused like a path outside them, so a reader never follows one to a file it must not read."""
    try:
        real = Path(path).resolve()
        real_roots = [r.resolve() for r in roots]
    except (OSError, RuntimeError):  # a link loop, a name too long
        return False

    def inside(p: Path) -> bool:
        return any(p == r or r in p.parents for r in real_roots)

    if not inside(real):
        return False
    pending, seen = [real] if real.is_dir() else [], set()
    while pending:  # a folder: every link under it, and under the folders those links lead to, must stay inside
        top = pending.pop()
        if top in seen:
            continue
        seen.add(top)
        for folder, dirs, files in os.walk(top):  # links to folders are listed, not followed
            for entry in (Path(folder, name) for name in (*dirs, *files)):
                if not entry.is_symlink():
                    continue
                try:
                    target = entry.resolve()
                except (OSError, RuntimeError):
                    return False
                if not inside(target):
                    return False
                if target.is_dir():
                    pending.append(target)
    return True


@dataclass
class AnalysisJob:
    """One clip analysed in a background thread: the latest progress (frames, rate, time left), then the
    result or the error. Only plain attributes are written from the thread; pages read them on their own."""

    path: str
    exercise: str
    progress: Progress | None = None
    result: Any = None
    error: str | None = None
    finished: bool = False
    thread: threading.Thread | None = None

    def report(self, progress: Progress) -> None:
        self.progress = progress

    def run(self, state: AppState) -> None:
        try:
            self.result = state.analyse(self.path, self.exercise, progress=self.report)
        except Exception as exc:  # a bad file is reported to the user, never a traceback in the page
            self.error = f"could not analyse {self.path}: {exc}"
        finally:
            self.finished = True

    def start(self, state: AppState) -> None:
        self.thread = threading.Thread(target=self.run, args=(state,), name="biocoach-clip", daemon=True)
        self.thread.start()
