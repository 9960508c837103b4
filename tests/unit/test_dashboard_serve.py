"""The app's server guards without a server: which Host/Origin values are allowed, and which modules the
component route may touch (the browser and raw-client checks against a served app are in tests/ui)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

pytest.importorskip("panel")

import panel as pn
from bokeh.document import Document
from bokeh.models import ImportedStyleSheet
from panel.io.state import set_curdoc
from tornado.web import HTTPError

from workbench.cli import build_parser
from workbench.dashboard.serve import (
    ProjectComponents,
    ServeError,
    allowed_hosts,
    host_allowed,
    local_assets,
    project_module,
)


def test_the_default_is_this_machine_only() -> None:
    hosts = allowed_hosts("127.0.0.1", 5006)
    assert hosts == ["127.0.0.1:5006", "localhost:5006"]
    assert host_allowed("127.0.0.1:5006", hosts) and host_allowed("LocalHost:5006", hosts)
    for foreign in (
        "rebind.attacker.test:5006",
        "127.0.0.1:5007",
        "127.0.0.1",
        "localhost",
        "",
        "127.0.0.1:5006.attacker.test",
        "attacker.test:5006@127.0.0.1:5006",
    ):
        assert not host_allowed(foreign, hosts), foreign


def test_a_proxy_name_is_added_explicitly() -> None:
    hosts = allowed_hosts("127.0.0.1", 5006, ["Workbench.Lab.Example", "proxy.lab.example:8443"])
    assert hosts == ["127.0.0.1:5006", "localhost:5006", "workbench.lab.example:80", "proxy.lab.example:8443"]
    assert host_allowed("workbench.lab.example", hosts)  # what a browser sends on the default port
    assert host_allowed("proxy.lab.example:8443", hosts) and not host_allowed("proxy.lab.example", hosts)
    assert not host_allowed("evil.lab.example", hosts)


def test_a_specific_address_is_its_own_name_and_every_interface_the_loopback_only() -> None:
    assert allowed_hosts("192.168.1.20", 80) == ["192.168.1.20:80"]
    assert allowed_hosts("0.0.0.0", 5006) == ["127.0.0.1:5006", "localhost:5006"]


@pytest.mark.parametrize("bad", ["*", "*:*", "https://workbench.lab.example", "a:b:c", ":80"])
def test_wildcards_urls_and_malformed_names_are_refused(bad: str) -> None:
    with pytest.raises(ServeError, match="--allow-host"):
        allowed_hosts("127.0.0.1", 5006, [bad])


def test_serve_takes_db_and_allow_host() -> None:
    args = build_parser().parse_args(
        ["serve", "--db", "x.duckdb", "--allow-host", "a.example", "--allow-websocket-origin", "b.example:8443"]
    )
    assert str(args.db) == "x.duckdb" and args.allow_host == ["a.example", "b.example:8443"]


def test_the_component_route_serves_the_project_only_and_imports_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    marker = tmp_path / "imported"
    (tmp_path / "biocoach_probe_module.py").write_text(f"open({str(marker)!r}, 'w').close()\nclass X:\n    css = []\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    handler = object.__new__(ProjectComponents)  # parse_url_path needs no request
    for path in (
        "biocoach_probe_module/X/css/a.css",
        "os/path/css/a.css",
        "antigravity/x/css/y",
        "workbench_fake/X/css/a.css",
        "this",
    ):
        with pytest.raises(HTTPError) as info:
            handler.parse_url_path(path)
        assert info.value.status_code == 404 and info.value.log_message == "Module not found"
    assert not marker.exists() and "biocoach_probe_module" not in sys.modules
    assert project_module("workbench.dashboard.serve") and not project_module("workbench.not_a_module")
    with pytest.raises(HTTPError) as info:  # a module of the project gets Panel's own checks (no such resource)
        handler.parse_url_path("workbench.dashboard.serve/ProjectComponents/css/a.css")
    assert info.value.log_message != "Module not found"


def test_a_session_builds_no_model_with_a_stylesheet_on_a_cdn() -> None:
    """Panel points the stylesheets of a model built before the page is rendered at cdn.holoviz.org; the served
    factory's document knows the local folder first (what a fresh clone under load once fetched: loading.css)."""

    def urls(factory: object) -> list[str]:
        doc = Document()
        with set_curdoc(doc):
            root = factory().get_root(doc)  # type: ignore[operator]
        return [str(m.url) for m in root.references() if isinstance(m, ImportedStyleSheet)]

    def app() -> object:
        return pn.Column(pn.widgets.Button(name="go"), pn.pane.Markdown("x"))

    assert any("cdn.holoviz.org" in u for u in urls(app))  # Panel's own behaviour, which the wrapper corrects
    local = urls(local_assets(app))
    assert local and not [u for u in local if "://" in u], local
