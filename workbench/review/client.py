"""A small Label Studio REST client (urllib only: Label Studio lives in its own virtual environment).

Every request carries ``Authorization: Token <token>``; the token is kept off ``repr`` and out of every
message. A redirect to another origin (scheme, host, port) is followed without it. Error messages never quote
what the server answered (a reply body, or the server's reason phrase, may echo the request and its token):
they name the request, the HTTP status and what was expected. Connection errors, timeouts and 5xx/429 answers
are retried with exponential backoff; after the last attempt :class:`LabelStudioUnavailable` says which server
did not answer and how to start one.
"""

from __future__ import annotations

import http
import json
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from typing import Any

from workbench.errors import WorkbenchError


class LabelStudioError(WorkbenchError):
    """Label Studio answered, but not with what was expected (a rejected request, a bad token)."""


class LabelStudioUnavailable(LabelStudioError):
    """Label Studio did not answer (down, unreachable, or failing) after every retry."""


CREDENTIAL_HEADERS = ("Authorization", "Cookie")  # as urllib stores them (str.capitalize())


class SameOriginCredentials(urllib.request.HTTPRedirectHandler):
    """Follow redirects as urllib does, but send the credentials only to the origin they were given for."""

    def redirect_request(self, req: urllib.request.Request, fp: Any, code: int, msg: str, headers: Any,
                         newurl: str) -> urllib.request.Request | None:  # fmt: skip
        new = super().redirect_request(req, fp, code, msg, headers, newurl)
        if new is not None and origin(newurl) != origin(req.full_url):
            for name in CREDENTIAL_HEADERS:
                new.remove_header(name)
        return new


def origin(url: str) -> tuple[str, str, int]:
    """(scheme, host, port) of a URL, the port made explicit; a malformed port matches no origin (port -1)."""
    parts = urllib.parse.urlsplit(url)
    scheme = parts.scheme.lower()
    try:
        port = parts.port or (443 if scheme == "https" else 80)
    except ValueError:
        port = -1
    return scheme, (parts.hostname or "").lower(), port


class LabelStudioClient:
    def __init__(self, url: str, token: str, *, retries: int = 4, backoff_s: float = 0.5, timeout_s: float = 30.0):
        self.url = url.rstrip("/")
        self._token = token
        self.retries, self.backoff_s, self.timeout_s = retries, backoff_s, timeout_s
        self.attempts = 0  # requests sent, retries included (tests and diagnostics)
        self._opener = urllib.request.build_opener(SameOriginCredentials)

    def __repr__(self) -> str:
        return f"LabelStudioClient(url={self.url!r})"

    # ------------------------------------------------------------------------------------------ transport

    def request(self, method: str, path: str, body: Any = None, query: dict[str, Any] | None = None) -> Any:
        """JSON in, JSON out (None for an empty reply)."""
        raw = self.request_bytes(method, path, body, query)
        try:
            return json.loads(raw) if raw else None
        except ValueError:  # not JSON (a proxy's error page, a wrong URL): say so without quoting it
            raise LabelStudioError(
                f"{self.url}: {method} {path}: expected a JSON reply, got {len(raw)} bytes that "
                "are not JSON; is --url / label_studio_url a Label Studio server?"
            ) from None

    def request_bytes(self, method: str, path: str, body: Any = None, query: dict[str, Any] | None = None) -> bytes:
        target = self.url + path + ("?" + urllib.parse.urlencode(query) if query else "")
        data = None if body is None else json.dumps(body).encode("utf-8")
        headers = {"Authorization": f"Token {self._token}", "Accept": "application/json"}
        if data is not None:
            headers["Content-Type"] = "application/json"
        last = ""
        for attempt in range(self.retries + 1):
            self.attempts += 1
            req = urllib.request.Request(target, data=data, method=method, headers=headers)
            try:
                with self._opener.open(req, timeout=self.timeout_s) as response:
                    return bytes(response.read())
            except urllib.error.HTTPError as exc:
                exc.close()  # the reply body is never read into a message: it could echo the token
                if exc.code in (401, 403):
                    raise LabelStudioError(
                        f"{self.url}: {method} {path} was refused (HTTP {exc.code}): expected the API token of a "
                        "Label Studio user, got one the server does not accept; set BIOCOACH_LS_TOKEN (or the "
                        "token file under the data folder) to that server's token"
                    ) from None
                if exc.code < 500 and exc.code != 429:
                    raise LabelStudioError(f"{self.url}: {method} {path}: expected success, got HTTP {exc.code} "
                                           f"({_phrase(exc.code)}); the server's log says why") from None  # fmt: skip
                last = f"HTTP {exc.code}"
            except (urllib.error.URLError, TimeoutError, ConnectionError, OSError) as exc:
                last = " ".join(str(getattr(exc, "reason", exc)).split())
            if attempt < self.retries:
                time.sleep(self.backoff_s * 2**attempt)
        raise LabelStudioUnavailable(
            f"Label Studio at {self.url}: {method} {path}: no answer after {self.retries + 1} attempts ({last}); "
            "start it with `biocoach review serve` or set label_studio_url in biocoach.yaml to a running server"
        )

    # ------------------------------------------------------------------------------------------ endpoints

    def healthy(self) -> bool:
        """One quick look at /health, no retries."""
        return is_healthy(self.url)

    def whoami(self) -> dict[str, Any]:
        return dict(self.request("GET", "/api/current-user/whoami"))

    def users(self) -> list[dict[str, Any]]:
        return list(self.request("GET", "/api/users/"))

    def create_user(self, email: str, username: str = "") -> dict[str, Any]:
        return dict(self.request("POST", "/api/users/", {"email": email, "username": username or email}))

    def find_project(self, title: str) -> dict[str, Any] | None:
        reply = self.request("GET", "/api/projects", query={"title": title, "page_size": 100})
        items = reply.get("results", []) if isinstance(reply, dict) else reply
        return next((p for p in items if p.get("title") == title), None)

    def create_project(self, title: str, label_config: str, description: str = "") -> dict[str, Any]:
        body = {"title": title, "label_config": label_config, "description": description}
        return dict(self.request("POST", "/api/projects", body))

    def update_project(self, project_id: int, **fields: Any) -> dict[str, Any]:
        return dict(self.request("PATCH", f"/api/projects/{project_id}", fields))

    def local_storages(self, project_id: int) -> list[dict[str, Any]]:
        return list(self.request("GET", "/api/storages/localfiles", query={"project": project_id}))

    def add_local_storage(self, project_id: int, path: str, title: str) -> dict[str, Any]:
        body = {"project": project_id, "path": path, "title": title, "use_blob_urls": False}
        return dict(self.request("POST", "/api/storages/localfiles", body))

    def import_tasks(self, project_id: int, tasks: list[dict[str, Any]]) -> dict[str, Any]:
        return dict(self.request("POST", f"/api/projects/{project_id}/import", tasks))

    def task_pages(self, project_id: int, page_size: int = 50) -> Iterator[list[dict[str, Any]]]:
        """The project's tasks with their annotations, one page at a time (so a caller can write each page
        before asking for the next)."""
        page = 1
        while True:
            try:
                reply = self.request("GET", "/api/tasks", query={"project": project_id, "fields": "all",
                                                                 "page": page, "page_size": page_size})  # fmt: skip
            except LabelStudioError as exc:
                if "HTTP 404" in str(exc):  # past the last page
                    return
                raise
            tasks = list(reply.get("tasks", [])) if isinstance(reply, dict) else list(reply)
            if not tasks:
                return
            yield tasks
            total = int(reply.get("total", 0)) if isinstance(reply, dict) else 0
            if page * page_size >= total:
                return
            page += 1

    def tasks(self, project_id: int) -> list[dict[str, Any]]:
        return [t for page in self.task_pages(project_id) for t in page]

    def create_annotation(self, task_id: int, result: list[dict[str, Any]], *,
                          completed_by: int | None = None) -> dict[str, Any]:  # fmt: skip
        body: dict[str, Any] = {"result": result}
        if completed_by is not None:
            body["completed_by"] = completed_by
        return dict(self.request("POST", f"/api/tasks/{task_id}/annotations", body))

    def update_annotation(self, annotation_id: int, result: list[dict[str, Any]]) -> dict[str, Any]:
        return dict(self.request("PATCH", f"/api/annotations/{annotation_id}", {"result": result}))


def _phrase(code: int) -> str:
    """The standard phrase of an HTTP status (never the server's own reason text)."""
    try:
        return http.HTTPStatus(code).phrase
    except ValueError:
        return "unknown status"


def is_healthy(url: str, timeout_s: float = 5.0) -> bool:
    """Whether the Label Studio at ``url`` answers /health now (one request, no retries)."""
    try:
        with urllib.request.urlopen(url.rstrip("/") + "/health", timeout=timeout_s) as response:
            return bool(response.status == 200)
    except (urllib.error.URLError, TimeoutError, ConnectionError, OSError):
        return False
