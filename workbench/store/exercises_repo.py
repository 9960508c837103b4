"""The registry of exercise keys (the base keys of the rule files)."""

from __future__ import annotations

from workbench.store.session import Session, StoreError, utc_now


class ExerciseRepository:
    """The registry of exercise keys (the base keys of the rule files)."""

    def __init__(self, session: Session):
        self.s = session

    def all_keys(self) -> list[str]:
        return [str(r[0]) for r in self.s.all("SELECT key FROM exercises ORDER BY key")]

    def exists(self, key: str) -> bool:
        return bool(self.s.scalar("SELECT count(*) FROM exercises WHERE key = ?", [key]))

    def require(self, key: str) -> None:
        if not self.exists(key):
            raise StoreError(f"exercise {key!r} is not in the store; expected one of: {', '.join(self.all_keys())}")

    def create(self, key: str, *, author: str) -> None:
        self.s.execute("INSERT INTO exercises (key, created_by, created_at) VALUES (?, ?, ?)", [key, author, utc_now()])


__all__ = ["ExerciseRepository"]
