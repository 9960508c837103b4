"""Every data-folder entry the app reads goes through one check (``AppState.allowed`` → ``resolves_inside``):
a path is inside the data folders once every link is followed, and for a folder everything under it too.

Layout of each test: ``data/`` is the data folder, ``outside/secret.npz`` a real pose file outside it, and
``data/escape.npz`` a link to it. The link must be refused everywhere (the clip box, the Runs page's list and its
Run button, the editor's overlay list and its manifests), while ``data/inside.npz`` and a link that stays inside
are accepted.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

pn = pytest.importorskip("panel")

from workbench.dashboard import editing  # noqa: E402
from workbench.dashboard.calibration_view import ManifestRefused, read_allowed_manifest  # noqa: E402
from workbench.dashboard.pages.runs import RunsPage  # noqa: E402
from workbench.dashboard.state import EXAMPLE_CLIP, AppState, resolves_inside  # noqa: E402
from workbench.store.database import Database  # noqa: E402
from workbench.store.seed import init_from_references  # noqa: E402


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("store") / "store.duckdb"
    init_from_references(Database(path))
    return path


@pytest.fixture
def data(tmp_path: Path) -> Path:
    outside = tmp_path / "outside"
    outside.mkdir()
    shutil.copyfile(EXAMPLE_CLIP, outside / "secret.npz")
    folder = tmp_path / "data"
    folder.mkdir()
    shutil.copyfile(EXAMPLE_CLIP, folder / "inside.npz")
    (folder / "escape.npz").symlink_to(outside / "secret.npz")
    (folder / "alias.npz").symlink_to(folder / "inside.npz")
    return folder


@pytest.fixture
def state(data: Path, store: Path) -> AppState:
    return AppState(db_path=str(store), data_dirs=[str(data)])


def test_the_one_check(data: Path) -> None:
    roots = [data]
    assert resolves_inside(data / "inside.npz", roots)
    assert resolves_inside(data / "alias.npz", roots)  # a link that stays inside
    assert resolves_inside(data / "not-yet-there.npz", roots)
    assert not resolves_inside(data / "escape.npz", roots)
    assert not resolves_inside(data.parent / "outside" / "secret.npz", roots)
    assert not resolves_inside(data / ".." / "outside" / "secret.npz", roots)
    assert not resolves_inside(data, roots)  # a folder holding a link out (HSMR outputs are read as a folder)
    (data / "escape.npz").unlink()
    assert resolves_inside(data, roots)


def test_a_folder_is_refused_for_a_link_out_anywhere_under_it_or_under_a_folder_it_links_to(data: Path) -> None:
    (data / "escape.npz").unlink()
    hsmr, other = data / "hsmr_run", data / "other"
    hsmr.mkdir()
    other.mkdir()
    (hsmr / "frames").symlink_to(other)  # stays inside …
    assert resolves_inside(hsmr, [data])
    (other / "0001.npz").symlink_to(data.parent / "outside" / "secret.npz")  # … but leads on out
    assert not resolves_inside(hsmr, [data])


def test_a_link_loop_is_refused_not_followed_forever(data: Path) -> None:
    (data / "loop_a").symlink_to(data / "loop_b")
    (data / "loop_b").symlink_to(data / "loop_a")
    assert not resolves_inside(data / "loop_a", [data])
    (data / "escape.npz").unlink()
    (data / "sub").mkdir()
    (data / "sub" / "up").symlink_to(data)  # a folder link back to an ancestor: walked once
    assert not resolves_inside(data, [data])  # the loop_a/loop_b pair is still there
    for name in ("loop_a", "loop_b"):
        (data / name).unlink()
    assert resolves_inside(data, [data])


def test_the_clip_box_refuses_the_link(state: AppState, data: Path) -> None:
    assert state.allowed(data / "inside.npz") and not state.allowed(data / "escape.npz")
    assert state.start_clip(str(data / "escape.npz"), "squat") is None
    assert state.status.startswith(f"refused: {data / 'escape.npz'} is outside the data folders or links out")


def test_the_runs_page_neither_lists_nor_runs_the_link(state: AppState, data: Path) -> None:
    page = RunsPage(state=state)
    names = [Path(p).name for p in page.clips.options]
    assert "inside.npz" in names and "alias.npz" in names and "escape.npz" not in names
    page.clips.value = [str(data / "inside.npz"), str(data / "escape.npz")]  # a stale list, or a crafted request
    page._start()
    assert page._job is None
    assert page.progress_text.object.startswith("Refused: escape.npz is outside the data folders or links out")


def test_the_editor_overlay_list_and_manifests_refuse_the_link(state: AppState, data: Path) -> None:
    assert "escape.npz" not in [Path(p).name for p in editing.overlay_clip_choices(state)]
    with pytest.raises(ValueError, match="inside the data folders"):
        editing.analyse_clip_cached(state, "squat", str(data / "escape.npz"))
    manifest = data / "manifest.csv"
    manifest.write_text("file,exercise,label,subject,episode,source\nescape.npz,squat,correct,s1,e1,test\n")
    with pytest.raises(ManifestRefused, match="1 file"):
        read_allowed_manifest(manifest, state.allowed)
    (data.parent / "outside" / "m.csv").write_text(manifest.read_text().replace("escape.npz", "secret.npz"))
    (data / "linked.csv").symlink_to(data.parent / "outside" / "m.csv")
    with pytest.raises(ManifestRefused, match="outside the data folders"):
        read_allowed_manifest(data / "linked.csv", state.allowed)


def test_a_data_folder_that_is_itself_a_link_is_its_target(tmp_path: Path, data: Path) -> None:
    alias = tmp_path / "data-alias"
    os.symlink(data, alias)
    assert resolves_inside(alias / "inside.npz", [alias]) and resolves_inside(data / "inside.npz", [alias])
    assert not resolves_inside(alias / "escape.npz", [alias])
