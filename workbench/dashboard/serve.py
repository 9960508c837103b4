"""Serving the workbench (``biocoach serve``): Panel's server, answering only the names it is served under.

Three guards on top of Panel/Bokeh's Tornado server:

* **Host.** Every request (page, static file, websocket upgrade) whose ``Host`` header is not an allowed host is
  refused with 403 before any handler runs. A DNS-rebinding page (a name of the attacker's that resolves to
  127.0.0.1, so the browser treats the workbench as the attacker's own site) therefore gets nothing: neither
  the page with its session token nor a websocket. Tornado lets a websocket whose ``Origin`` equals its
  ``Host`` through without asking Bokeh, so the Origin check alone cannot stop that.
* **Websocket Origin.** Bokeh's allow-list, the same hosts: a page of another site may not open a session.
* **/components/.** Panel serves a component's files from ``/components/<module>/<class>/<attr>/<file>``,
  importing whatever module the URL names. Here the route answers for the workbench's own, already imported
  modules only; every other name is a 404 and nothing is imported. (The pages use none today: every asset comes
  from ``/static/``, served from the installed packages, never another host.)
* **/clip-media/.** The clip videos the pages show, by an unguessable token per file a page registered after its
  path checks (``dashboard.media``); nothing else.
* **Offline.** Every asset is the app's own (``/static/``): Bokeh's resources are forced to ``server`` (whatever
  ``BOKEH_RESOURCES`` says), and each session's document knows its local stylesheet folder *before* the factory
  builds the pages (:func:`local_assets`). Panel (1.9) points a component's stylesheets (``loading.css`` and the
  widgets' own) at Panel's public asset host when it is built for a document that does not yet know that folder, and
  re-points only the models the page's roots reach when it renders the page; a model built then but shown later
  (or built while a loaded server renders the page) would make the browser fetch ``loading.css`` from that host.

The allowed hosts are the address served (with ``localhost`` and ``127.0.0.1`` when it is the loopback), plus each
``--allow-host`` (a reverse proxy's public name). Nothing here authenticates anyone: on a shared network, put the
app behind a reverse proxy that does (README, "Serving on a lab network").
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable, Sequence
from typing import Any

from bokeh.server.util import check_allowlist, create_hosts_allowlist
from bokeh.settings import settings
from panel.io.resources import LOCAL_DIST
from panel.io.server import ComponentResourceHandler
from panel.io.state import state
from tornado.web import Application, HTTPError, RequestHandler

from workbench.dashboard.media import MEDIA_ROUTE
from workbench.errors import WorkbenchError

log = logging.getLogger(__name__)

DEFAULT_ADDRESS = "127.0.0.1"
LOOPBACK_NAMES = ("127.0.0.1", "localhost")
WILDCARD_ADDRESSES = ("0.0.0.0", "")
PROJECT_PACKAGE = "workbench"
_LOGGED_MAX = 100  # refused Host values logged once each, up to this many


class ServeError(WorkbenchError):
    """An address or allowed host the server cannot be started with."""


def allowed_hosts(address: str, port: int, extra: Sequence[str] = ()) -> list[str]:
    """``host:port`` patterns the app answers to: the address served (every loopback name when it is the
    loopback; only the loopback names when it is every interface) and each of ``extra`` (``NAME`` = ``NAME:80``,
    the form a browser's Host and Origin take behind a proxy on the default port)."""
    for host in extra:
        if host.strip() in ("*", "*:*") or "/" in host:
            raise ServeError(
                f"--allow-host: expected a host name or NAME:PORT (e.g. workbench.lab.example), got "
                f"{host!r}" + (": a wildcard would let any web page drive the workbench" if "*" in host else "")
            )
    served = list(LOOPBACK_NAMES) if address in (*LOOPBACK_NAMES, *WILDCARD_ADDRESSES) else [address]
    names = [f"{name}:{port}" for name in served] + [h.strip().lower() for h in extra]
    try:
        return list(dict.fromkeys(create_hosts_allowlist(names, port)))
    except ValueError as exc:
        raise ServeError(f"--allow-host / --address: expected NAME or NAME:PORT, got {exc}") from None


def host_allowed(host: str, allowlist: Sequence[str]) -> bool:
    """Whether a request's ``Host`` header names an allowed host (no port = 80, as a browser sends it)."""
    host = host.strip().lower()
    return bool(host) and check_allowlist(host, allowlist)


class HostRefused(RequestHandler):
    """The answer to a request for a host the app is not served under: 403, before anything else runs."""

    def initialize(self, allowlist: Sequence[str]) -> None:
        self.allowlist = allowlist

    def prepare(self) -> None:
        self.set_status(403)
        self.set_header("Content-Type", "text/plain; charset=utf-8")
        self.finish("403: this BioCoach Workbench is not served under that host name\n")

    def get(self, *args: Any) -> None:  # never reached: prepare() finished the request
        raise HTTPError(403)


def guard_hosts(app: Application, allowlist: Sequence[str]) -> None:
    """Route every request whose Host is not in ``allowlist`` to :class:`HostRefused` (websocket upgrades too:
    the check runs on the request line and headers, before any handler or upgrade)."""
    find_handler = app.find_handler
    logged: set[str] = set()

    def guarded(request: Any, **kwargs: Any) -> Any:
        host = request.headers.get("Host", "")
        if host_allowed(host, allowlist):
            return find_handler(request, **kwargs)
        if host not in logged and len(logged) < _LOGGED_MAX:
            logged.add(host)
            log.warning(
                "refused a request for host %r (allowed: %s); a reverse proxy's name is added with "
                "`biocoach serve --allow-host NAME`",
                host[:200],
                ", ".join(allowlist),
            )
        return app.get_handler_delegate(request, HostRefused, {"allowlist": allowlist})

    app.find_handler = guarded  # type: ignore[method-assign]


def project_module(name: str) -> bool:
    """A module of this project that is already imported (the component route may serve its files)."""
    return (name == PROJECT_PACKAGE or name.startswith(PROJECT_PACKAGE + ".")) and name in sys.modules


class ProjectComponents(ComponentResourceHandler):
    """Panel's component-resource route, limited to the workbench's own imported modules: any other module
    named in the URL is a 404, and nothing is imported."""

    def parse_url_path(self, path: str) -> str:
        module = path.split("/", 1)[0]
        if not project_module(module):
            raise HTTPError(404, "Module not found")
        return str(super().parse_url_path(path))


# Matched before Panel's own route for the same URLs, which it replaces.
COMPONENT_ROUTE: tuple[str, type, dict[str, Any]] = (r"/components/(.*)", ProjectComponents, {})


def local_assets(factory: Callable[[], Any]) -> Callable[[], Any]:
    """``factory`` run with the session's document already pointed at the server's own stylesheet folder (the
    ``dist_url`` Panel sets only when it renders the page, after the factory), so no model of the session is
    ever built with a stylesheet on Panel's public asset host."""

    def session_app() -> Any:
        doc = state.curdoc
        if doc is not None:
            doc._template_variables["dist_url"] = f"{state.rel_path}/{LOCAL_DIST}" if state.rel_path else LOCAL_DIST
        return factory()

    return session_app


def serve(
    factory: Callable[[], Any],
    *,
    port: int,
    address: str = DEFAULT_ADDRESS,
    allow_hosts: Sequence[str] = (),
    show: bool = False,
    title: str = "BioCoach Workbench",
) -> None:
    """Serve ``factory`` (called once per browser session) on ``address:port`` until Ctrl-C."""
    import panel as pn

    hosts = allowed_hosts(address, port, allow_hosts)
    settings.resources.set_value("server")  # every script and stylesheet from /static/, never another host
    server = pn.serve(
        {"/": local_assets(factory)},
        port=port,
        address=address,
        websocket_origin=hosts,
        show=False,
        start=False,
        title=title,
        verbose=False,
        extra_patterns=[COMPONENT_ROUTE, MEDIA_ROUTE],
    )
    guard_hosts(server._tornado, hosts)  # Bokeh's Server keeps its Tornado application there, and offers no accessor
    server.start()
    print(
        f"BioCoach Workbench on http://{address or 'localhost'}:{server.port}/ for the hosts "
        f"{', '.join(hosts)} (Ctrl-C stops it)",
        flush=True,
    )
    if show:
        server.io_loop.add_callback(server.show, "/")
    server.io_loop.start()


if __name__.startswith("bokeh_app"):  # `panel serve workbench/dashboard/serve.py` would skip the guards above
    raise SystemExit("serve the workbench with `biocoach serve` (Host, Origin and component-route checks)")
