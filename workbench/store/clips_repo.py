"""Clips by content: the registry of the video files analysed, keyed by the sha256 of their bytes."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from workbench.store.session import Session, StoreError, utc_now


@dataclass(frozen=True)
class RegisteredClip:
    """A video file registered in the store (the same bytes under another name are the same clip)."""

    content_hash: str
    path: str
    exercise: str | None
    duration_s: float | None
    fps: float | None
    n_bytes: int
    registered_at: datetime


def sha256_file(path: str | Path) -> str:
    """sha256 of a file's bytes, read in chunks (videos can be large)."""
    digest = hashlib.sha256()
    with Path(path).open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


class ClipRepository:
    """Clips by content: the same bytes under another name or folder are the same clip."""

    def __init__(self, session: Session):
        self.s = session

    def register(
        self,
        path: str | Path,
        *,
        exercise: str | None = None,
        duration_s: float | None = None,
        fps: float | None = None,
    ) -> RegisteredClip:
        """Register a clip (idempotent); a known clip keeps its first registration, updated with any new
        path, exercise, duration or fps given."""
        path = Path(path)
        if not path.is_file():
            raise StoreError(f"{path}: no such file")
        content_hash = sha256_file(path)
        with self.s.transaction():
            if self.get(content_hash) is None:
                self.s.execute(
                    "INSERT INTO clips (content_hash, path, exercise, duration_s, fps, n_bytes, "
                    "registered_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
                    [content_hash, str(path), exercise, duration_s, fps, path.stat().st_size, utc_now()],
                )
            else:
                self.s.execute(
                    "UPDATE clips SET path = ?, exercise = coalesce(?, exercise), duration_s = "
                    "coalesce(?, duration_s), fps = coalesce(?, fps) WHERE content_hash = ?",
                    [str(path), exercise, duration_s, fps, content_hash],
                )
        clip = self.get(content_hash)
        assert clip is not None
        return clip

    def get(self, content_hash: str) -> RegisteredClip | None:
        row = self.s.one(
            "SELECT content_hash, path, exercise, duration_s, fps, n_bytes, registered_at FROM clips "
            "WHERE content_hash = ?",
            [content_hash],
        )
        return None if row is None else RegisteredClip(*row)

    def paths(self) -> list[str]:
        """Every registered clip's path, sorted."""
        return [str(r[0]) for r in self.s.all("SELECT path FROM clips ORDER BY path")]

    def add_known(self, content_hash: str, path: str | Path, *, exercise: str | None, n_bytes: int) -> None:
        """Register a clip whose hash is already known (a batch hashed it); a known clip is left as it is."""
        self.s.execute(
            "INSERT INTO clips (content_hash, path, exercise, n_bytes, registered_at) VALUES (?, ?, ?, ?, ?) "
            "ON CONFLICT DO NOTHING",
            [content_hash, str(path), exercise, n_bytes, utc_now()],
        )

    def page_where(self, where: str, *, limit: int, offset: int) -> list[tuple[str, str, str | None]]:
        """(content_hash, path, exercise) of the clips whose row matches ``where`` (an SQL condition over the
        clips table, from the user of ``biocoach batch --where``; it must not contain ';'), oldest first."""
        if ";" in where:
            raise StoreError(f"expected one SQL condition over the clips table, got {where!r} (with ';')")
        rows = self.s.all(
            f"SELECT content_hash, path, exercise FROM clips WHERE ({where}) "
            f"ORDER BY registered_at, content_hash LIMIT {int(limit)} OFFSET {int(offset)}"
        )
        return [(str(h), str(p), e) for h, p, e in rows]


__all__ = ["ClipRepository", "RegisteredClip", "sha256_file"]
