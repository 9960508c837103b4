"""Writing what the tool outputs: standard JSON only, and files that are whole or absent.

JSON is written with ``allow_nan=False``: a non-finite float (NaN, ±inf) becomes ``null`` (:func:`finite`)
rather than the ``NaN`` / ``Infinity`` tokens other readers refuse. A file is written beside its target and
renamed over it (:func:`write_text`), so a failure part-way leaves the old file or none, never half of one.
"""

from __future__ import annotations

import json
import math
import os
import secrets
from pathlib import Path
from typing import Any


def finite(value: Any) -> Any:
    """``value`` with every non-finite float replaced by None (dicts, lists and tuples walked)."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: finite(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [finite(v) for v in value]
    return value


def json_text(doc: Any, *, indent: int | None = 2, default: Any = None, sort_keys: bool = False) -> str:
    """Standard JSON (no NaN or Infinity tokens: such values become null)."""
    return json.dumps(
        finite(doc), indent=indent, ensure_ascii=False, allow_nan=False, default=default, sort_keys=sort_keys
    )


def write_text(path: str | Path, text: str) -> Path:
    """Write ``text`` (UTF-8) whole or not at all: to a temporary file beside ``path``, then renamed over it.
    A path that is not a regular file (``/dev/stdout``, a FIFO) is written directly."""
    path = Path(path)
    if path.is_symlink():  # replace what it points to, not the link
        path = path.resolve()
    if path.exists() and not path.is_file():
        with path.open("w", encoding="utf-8") as handle:
            handle.write(text)
        return path
    tmp = path.parent / f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)  # the umask applies, as to a plain write
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return path


def write_json(path: str | Path, doc: Any, *, indent: int | None = 2, default: Any = None) -> Path:
    """:func:`json_text` of ``doc`` written with :func:`write_text` (a trailing newline)."""
    return write_text(path, json_text(doc, indent=indent, default=default) + "\n")
