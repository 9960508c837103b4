"""The clip videos the pages show, served by the app itself (never a CDN, never a path named in a URL).

A page registers a video it may show (``media_url``, after the session's path checks allowed the clip) and gets a
URL under an unguessable token per file; ``MEDIA_ROUTE`` (added to the server by ``dashboard.serve``) serves those
files and nothing else, with HTTP range requests (the player's seeking) from Tornado's static handler. The Host
guard of ``dashboard.serve`` applies to this route like to every other.
"""

from __future__ import annotations

import secrets
import threading
from pathlib import Path
from typing import Any

from tornado.web import HTTPError, StaticFileHandler

MEDIA_PREFIX = "clip-media"

_lock = threading.Lock()
_tokens: dict[str, str] = {}  # resolved path -> token
_files: dict[str, Path] = {}  # token -> resolved path


def media_url(path: str | Path) -> str:
    """The app's URL (relative to the page) of a video file a page may show; the file is registered for the
    media route. Only call it for a path the session's checks allowed (``AppState.allowed``)."""
    real = Path(path).resolve()
    with _lock:
        token = _tokens.get(str(real))
        if token is None:
            token = secrets.token_urlsafe(18)
            _tokens[str(real)] = token
            _files[token] = real
    return f"{MEDIA_PREFIX}/{token}/{real.name}"


def registered_file(token: str) -> Path | None:
    with _lock:
        return _files.get(token)


class MediaHandler(StaticFileHandler):
    """``/clip-media/<token>/<name>``: the registered file of that token (range requests included); 404 otherwise."""

    def parse_url_path(self, url_path: str) -> str:
        token = url_path.split("/", 1)[0]
        path = registered_file(token)
        if path is None or not path.is_file():
            raise HTTPError(404)
        return str(path)

    def validate_absolute_path(self, root: str, absolute_path: str) -> str | None:
        with _lock:
            registered = {str(p) for p in _files.values()}
        if absolute_path not in registered:
            raise HTTPError(404)
        return absolute_path

    def compute_etag(self) -> str | None:
        return None  # Tornado's would hash the whole video once per file; Last-Modified is enough


MEDIA_ROUTE: tuple[str, type, dict[str, Any]] = (rf"/{MEDIA_PREFIX}/(.*)", MediaHandler, {"path": "/"})
