"""Which clips a batch runs over, as a lazy stream: a folder, a glob, a QEVD split, or a query over the store.

Nothing here reads a clip's bytes; the driver hashes each clip as it reaches it. Folders are walked in sorted
order one directory at a time (a dataset of a million clips is never listed whole), so a re-run meets the clips
in the same order.
"""

from __future__ import annotations

import glob as globlib
import os
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import duckdb

from workbench.batch.jobs import ClipRef
from workbench.batch.stages import BatchError
from workbench.data import qevd
from workbench.pose.backends import VIDEO_SUFFIXES
from workbench.store.clips_repo import ClipRepository
from workbench.store.session import StoreError

if TYPE_CHECKING:
    from workbench.store.database import Database

CLIP_SUFFIXES = VIDEO_SUFFIXES | {".npz", ".csv", ".gz"}
STORE_PAGE = 256


def is_clip(path: Path) -> bool:
    name = path.name.lower()
    if name.endswith(".gz"):
        return name.endswith(".csv.gz")
    return path.suffix.lower() in CLIP_SUFFIXES and not name.startswith(".")


def from_folder(folder: Path, exercise: str | None = None) -> Iterator[ClipRef]:
    if not folder.is_dir():
        raise BatchError(f"{folder}: expected a folder of clips, got {'a file' if folder.exists() else 'nothing'}")

    def walk(d: Path) -> Iterator[Path]:
        with os.scandir(d) as it:
            entries = sorted(it, key=lambda e: e.name)
        for e in entries:
            p = Path(e.path)
            if e.is_dir():
                yield from walk(p)
            elif e.is_file() and is_clip(p):
                yield p

    for p in walk(folder):
        yield ClipRef(path=p, exercise=exercise, source="folder")


def from_glob(pattern: str, exercise: str | None = None) -> Iterator[ClipRef]:
    # Sorted for a stable order across re-runs; the list holds paths only, never clip data.
    for p in sorted(globlib.glob(pattern, recursive=True)):
        path = Path(p)
        if path.is_file():
            yield ClipRef(path=path, exercise=exercise, source="glob")


def from_qevd(split: str, root: Path | None, exercise: str | None = None) -> Iterator[ClipRef]:
    """The session videos of a QEVD-fit-coach split (``workbench.data.qevd``), one clip per video: the pose
    extraction over whole sessions is the long part (weeks on one machine for the short-clip companion). A session
    holds several exercises, so the analysis stages need ``--exercise``; segment-level coaching and evaluation
    read the pose cache this fills (``biocoach eval``)."""
    if root is None:
        raise BatchError(
            "--qevd: expected the qevd_dir configuration key (biocoach.yaml) naming the QEVD-fit-coach folder, got none"
        )
    folder = qevd.find_split(root, split)
    for record in qevd.read_records(folder):
        if not record.video.is_file():
            continue  # the loader warns about missing videos; a batch just has nothing to run for them
        yield ClipRef(
            path=record.video,
            exercise=exercise,
            source=f"qevd:{split}",
            metadata={"video_id": record.video_id, "record": record.index},
        )


def from_store(db: Database, where: str, exercise: str | None = None) -> Iterator[ClipRef]:
    """Clips registered in the store whose row matches ``where`` (an SQL condition over the clips table:
    content_hash, path, exercise, duration_s, fps, n_bytes, registered_at), read a page at a time."""
    if ";" in where:
        raise BatchError(f"--where: expected one SQL condition over the clips table, got {where!r} (with ';')")
    offset = 0
    while True:
        with db.session() as s:
            try:
                rows = ClipRepository(s).page_where(where, limit=STORE_PAGE, offset=offset)
            except (duckdb.Error, StoreError) as exc:  # the user's condition: refused, or a syntax or binder error
                raise BatchError(
                    f"--where: expected a condition over the clips table, got {where!r} "
                    f"({' '.join(str(exc).split())[:200]})"
                ) from None
        for content_hash, path, ex in rows:
            yield ClipRef(path=Path(path), exercise=exercise or ex, source="store", content_hash=content_hash)
        if len(rows) < STORE_PAGE:
            return
        offset += STORE_PAGE


def selection_description(**kwargs: Any) -> dict[str, Any]:
    return {k: (str(v) if isinstance(v, Path) else v) for k, v in kwargs.items() if v is not None}
