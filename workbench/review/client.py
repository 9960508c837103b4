"""Label Studio through its official Python SDK (``label-studio-sdk`` 2.x, ``label_studio_sdk.client.LabelStudio``).

The server itself lives in its own virtual environment (``.venv-labelstudio``); only the SDK is installed here.
:class:`LabelStudioClient` wraps the SDK's calls with what the review loop needs:

* **the token stays secret.** The SDK sends ``Authorization: Token <token>``; it is kept inside the SDK client,
  off this class's ``repr`` and out of every message. The SDK's transport (httpx) drops it on a redirect to
  another origin (scheme, host, port). The SDK's own errors print the reply's headers and body (a body, or a
  ``Set-Cookie`` header, may echo the request and its credentials): they never leave this module; messages name
  the call, the HTTP status and what was expected, and are raised outside the ``except`` block, so no traceback
  chains back to the SDK's error.
* **retries with backoff.** Connection errors, timeouts and 5xx/429 answers are retried with exponential backoff
  (``backoff_s`` · 2^attempt); after the last attempt :class:`LabelStudioUnavailable` says which server did not
  answer and how to start one. The SDK's own retrying is off (``max_retries=0``): it retries neither timeouts
  nor with a configurable delay, and it would retry a 409 conflict.
* **plain data.** Calls return the server's JSON as dicts (the SDK's models dumped in JSON mode; annotations
  are kept as the server sent them, so ``updated_at`` cursors compare as strings across pulls).

The SDK takes about 2 s to import: it is imported on the first call, not with this module (``biocoach review
status`` only asks /health).
"""

from __future__ import annotations

import http
import time
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any, TypeVar

from workbench.errors import WorkbenchError

if TYPE_CHECKING:
    from label_studio_sdk.client import LabelStudio

T = TypeVar("T")


class LabelStudioError(WorkbenchError):
    """Label Studio answered, but not with what was expected (a rejected request, a bad token)."""

    def __init__(self, message: str, status: int | None = None):
        super().__init__(message)
        self.status = status  # the HTTP status, when there was one


class LabelStudioUnavailable(LabelStudioError):
    """Label Studio did not answer (down, unreachable, or failing) after every retry."""


class LabelStudioClient:
    def __init__(self, url: str, token: str, *, retries: int = 4, backoff_s: float = 0.5, timeout_s: float = 30.0):
        self.url = url.rstrip("/")
        self.retries, self.backoff_s, self.timeout_s = retries, backoff_s, timeout_s
        self.attempts = 0  # calls sent, retries included (tests and diagnostics)
        self._make_sdk: Callable[[], LabelStudio] = lambda: _sdk_client(self.url, token, timeout_s)
        self._sdk_client: LabelStudio | None = None

    def __repr__(self) -> str:
        return f"LabelStudioClient(url={self.url!r})"

    @property
    def sdk(self) -> LabelStudio:
        """The SDK's client (made on first use)."""
        if self._sdk_client is None:
            self._sdk_client = self._make_sdk()
        return self._sdk_client

    # ------------------------------------------------------------------------------------------ transport

    def call(self, what: str, fn: Callable[[LabelStudio], T]) -> T:
        """``fn(sdk)`` with retries; ``what`` names the call in messages (never the token, never a reply)."""
        import httpx
        from label_studio_sdk.core.api_error import ApiError
        from label_studio_sdk.core.parse_error import ParsingError

        sdk = self.sdk
        last = ""
        for attempt in range(self.retries + 1):
            self.attempts += 1
            failure: LabelStudioError | None = None
            try:
                return fn(sdk)
            except ApiError as exc:  # its str() holds the reply's headers and body: never used
                code = int(exc.status_code or 0)
                body = exc.body
                del exc
                if code in (401, 403):
                    failure = LabelStudioError(
                        f"{self.url}: {what} was refused (HTTP {code}): expected the API token of a Label Studio "
                        "user, got one the server does not accept; set BIOCOACH_LS_TOKEN (or the token file under "
                        "the data folder) to that server's token",
                        code,
                    )
                elif 200 <= code < 300:  # the SDK could not read the reply as JSON
                    size = len(body.encode("utf-8", "replace")) if isinstance(body, str) else 0
                    failure = LabelStudioError(
                        f"{self.url}: {what}: expected a JSON reply, got {size} bytes that are not JSON; is --url / "
                        "label_studio_url a Label Studio server?",
                        code,
                    )
                elif code < 500 and code != 429:
                    failure = LabelStudioError(
                        f"{self.url}: {what}: expected success, got HTTP {code} "
                        f"({_phrase(code)}); the server's log says why",
                        code,
                    )
                else:
                    last = f"HTTP {code}"
            except ParsingError as exc:
                code = int(exc.status_code or 0)
                del exc
                failure = LabelStudioError(
                    f"{self.url}: {what}: expected a Label Studio reply, got JSON of another shape; is --url / "
                    "label_studio_url a Label Studio 1.2x server?",
                    code,
                )
            except (httpx.TransportError, OSError) as exc:  # refused, reset, timed out
                last = " ".join(str(exc).split()) or type(exc).__name__
            if failure is not None:
                raise failure
            if attempt < self.retries:
                time.sleep(self.backoff_s * 2**attempt)
        raise LabelStudioUnavailable(
            f"Label Studio at {self.url}: {what}: no answer after {self.retries + 1} attempts ({last}); "
            "start it with `biocoach review serve` or set label_studio_url in biocoach.yaml to a running server"
        )

    # ------------------------------------------------------------------------------------------ endpoints

    def healthy(self) -> bool:
        """One quick look at /health, no retries."""
        return is_healthy(self.url)

    def whoami(self) -> dict[str, Any]:
        return plain(self.call("who am I", lambda ls: ls.users.whoami()))

    def users(self) -> list[dict[str, Any]]:
        return [plain(u) for u in self.call("list users", lambda ls: ls.users.list())]

    def create_user(self, email: str, username: str = "") -> dict[str, Any]:
        return plain(self.call("create a user", lambda ls: ls.users.create(email=email, username=username or email)))

    def find_project(self, title: str) -> dict[str, Any] | None:
        page: Any = self.call("list projects", lambda ls: ls.projects.list(title=title, page=1, page_size=100))
        return next((plain(p) for p in page.items or [] if getattr(p, "title", None) == title), None)

    def projects(self, title_contains: str = "", page_size: int = 100) -> list[dict[str, Any]]:
        """Every project whose title contains ``title_contains`` (case-insensitively, the server's filter), all
        pages; each page is one call, retried on its own."""
        found: list[dict[str, Any]] = []
        page = 1

        def one_page(ls: LabelStudio) -> Any:
            return ls.projects.list(title=title_contains or None, page=page, page_size=page_size)

        while True:
            try:
                reply = self.call(f"list projects (page {page})", one_page)
            except LabelStudioError as exc:
                if exc.status == 404:  # past the last page
                    return found
                raise
            items = [plain(p) for p in reply.items or []]
            found += items
            total = int(getattr(reply.response, "count", 0) or 0)
            if len(items) < page_size or page * page_size >= total:
                return found
            page += 1

    def create_project(self, title: str, label_config: str, description: str = "") -> dict[str, Any]:
        return plain(
            self.call(
                "create a project",
                lambda ls: ls.projects.create(title=title, label_config=label_config, description=description),
            )
        )

    def update_project(self, project_id: int, **fields: Any) -> dict[str, Any]:
        return plain(self.call(f"update project {project_id}", lambda ls: ls.projects.update(project_id, **fields)))

    def local_storages(self, project_id: int) -> list[dict[str, Any]]:
        found = self.call(
            f"list local storages of project {project_id}", lambda ls: ls.import_storage.local.list(project=project_id)
        )
        return [plain(s) for s in found]

    def add_local_storage(self, project_id: int, path: str, title: str) -> dict[str, Any]:
        return plain(
            self.call(
                f"add a local storage to project {project_id}",
                lambda ls: ls.import_storage.local.create(
                    project=project_id, path=path, title=title, use_blob_urls=False
                ),
            )
        )

    def import_tasks(self, project_id: int, tasks: list[dict[str, Any]]) -> dict[str, Any]:
        return plain(
            self.call(
                f"import tasks into project {project_id}",
                lambda ls: ls.projects.import_tasks(project_id, request=tasks),  # type: ignore[arg-type]
            )
        )

    def task_pages(self, project_id: int, page_size: int = 50) -> Iterator[list[dict[str, Any]]]:
        """The project's tasks with their annotations, one page at a time (so a caller can write each page
        before asking for the next); each page is one call, retried on its own."""
        page = 1

        def one_page(ls: LabelStudio) -> Any:
            return ls.tasks.list(project=project_id, fields="all", page=page, page_size=page_size)

        while True:
            try:
                reply = self.call(f"list tasks of project {project_id} (page {page})", one_page)
            except LabelStudioError as exc:
                if exc.status == 404:  # past the last page
                    return
                raise
            tasks = [plain(t) for t in reply.items or []]
            if not tasks:
                return
            yield tasks
            total = int(getattr(reply.response, "total", 0) or 0)
            if page * page_size >= total:
                return
            page += 1

    def tasks(self, project_id: int) -> list[dict[str, Any]]:
        return [t for page in self.task_pages(project_id) for t in page]

    def create_annotation(
        self, task_id: int, result: list[dict[str, Any]], *, completed_by: int | None = None
    ) -> dict[str, Any]:
        extra: dict[str, Any] = {} if completed_by is None else {"completed_by": completed_by}
        return plain(
            self.call(f"annotate task {task_id}", lambda ls: ls.annotations.create(task_id, result=result, **extra))
        )

    def update_annotation(self, annotation_id: int, result: list[dict[str, Any]]) -> dict[str, Any]:
        return plain(
            self.call(
                f"update annotation {annotation_id}", lambda ls: ls.annotations.update(annotation_id, result=result)
            )
        )


def _sdk_client(url: str, token: str, timeout_s: float) -> LabelStudio:
    from label_studio_sdk.client import LabelStudio

    return LabelStudio(base_url=url, api_key=token, timeout=timeout_s, max_retries=0, follow_redirects=True)


def plain(obj: Any) -> dict[str, Any]:
    """An SDK model as the server's JSON (field names as on the wire, dates as ISO strings); a dict as it is."""
    if hasattr(obj, "model_dump"):
        return dict(obj.model_dump(mode="json", by_alias=True))
    return dict(obj) if obj is not None else {}


def _phrase(code: int) -> str:
    """The standard phrase of an HTTP status (never the server's own reason text)."""
    try:
        return http.HTTPStatus(code).phrase
    except ValueError:
        return "unknown status"


def is_healthy(url: str, timeout_s: float = 5.0) -> bool:
    """Whether the Label Studio at ``url`` answers /health now (one request, no retries, no credentials; the SDK
    has no call for this unauthenticated liveness probe, so it goes through the SDK's transport, httpx)."""
    import httpx

    try:
        return httpx.get(url.rstrip("/") + "/health", timeout=timeout_s).status_code == 200
    except (httpx.HTTPError, OSError):
        return False
