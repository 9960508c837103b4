"""The Review page proposes with the real local language model (issue 17, part 6), in a real browser.

No ``llm_endpoint`` is configured ($BIOCOACH_CONFIG names a file without one), so the page asks what `biocoach
review propose` asks by default: the packaged SmolLM2-135M, loaded from the installed package (Hugging Face
offline: ``HF_HUB_OFFLINE``) and decoded greedily by the int8 ``FastLocalClient``. The bundled example clip is
preselected (a squat, two reps): Propose shows its progress (the model being asked, answer by answer), then the
outcome line with the model's name, and the proposals table gets one row per rep of the clip, whose model's
joints are joints of the skeleton (``workbench.skeleton.JOINT_NAMES``), as stored, with the catalogue's
fill-ins apart. About 2 minutes on two busy CPU cores (two model answers, ~50 s each).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.ui.conftest import STORES, served_app
from workbench.dashboard.state import EXAMPLE_CLIP
from workbench.review.decoding import INT8_NOTE
from workbench.skeleton import JOINT_NAMES
from workbench.store.database import Database
from workbench.store.reviews import ReviewRepository

pytestmark = [pytest.mark.browser, pytest.mark.server, pytest.mark.slow]
TIMEOUT = 60_000
MODEL_TIMEOUT = 540_000  # loading the model and two answers on a loaded 2-core machine
OFFLINE_FONT = re.compile(r"ERR_NAME_NOT_RESOLVED|ERR_FAILED|ERR_INTERNET_DISCONNECTED")
PROPOSALS: dict[str, Path] = {}


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """`biocoach serve` with a configuration that names no model endpoint (overrides the conftest fixture)."""
    folder = tmp_path_factory.mktemp("review-local")
    config = folder / "biocoach.yaml"
    config.write_text("device: cpu\n")  # no llm_endpoint: the local model
    PROPOSALS["dir"] = folder / "proposals"
    env = {
        "BIOCOACH_CONFIG": str(config),
        "BIOCOACH_PROPOSALS_DIR": str(PROPOSALS["dir"]),
        "HF_HUB_OFFLINE": "1",
        "TRANSFORMERS_OFFLINE": "1",
    }
    yield from served_app(folder / "biocoach.duckdb", folder / "serve.log", env=env)


def _column(table: Any, field: str) -> list[str]:
    cells = table.locator(f'.tabulator-row .tabulator-cell[tabulator-field="{field}"]')
    return [t.strip() for t in cells.all_inner_texts()]


def test_propose_with_the_local_model_fills_the_proposals_table(page: Any, server: str) -> None:
    page.get_by_text("Review", exact=True).first.click()
    page.get_by_text("No proposals yet", exact=False).first.wait_for(timeout=TIMEOUT)
    picked = page.locator(".choices__item--selectable", has_text=EXAMPLE_CLIP.name)
    picked.first.wait_for(state="attached", timeout=TIMEOUT)  # the open clip is preselected
    page.get_by_role("button", name="Propose", exact=True).click()
    # progress while it runs: the model is asked answer by answer, and Cancel is offered
    page.get_by_text(
        re.compile(r"Propose: clip 1 of 1 \(squat_cmu_14_14\.npz\): asking the model \(answer 1")
    ).wait_for(timeout=MODEL_TIMEOUT)
    assert page.get_by_role("button", name="Cancel proposing").is_enabled()
    done = page.get_by_text(re.compile(r"^Propose: (\d+) new proposal\(s\); model "))
    done.wait_for(timeout=MODEL_TIMEOUT)
    line = done.inner_text()
    assert "SmolLM2-135M" in line and INT8_NOTE in line, line  # the model that answered, named on the page
    assert f"exported to {PROPOSALS['dir']}" in line

    with Database(STORES[server]).session() as s:
        stored = sorted(ReviewRepository(s).proposals(), key=lambda p: p.segment)
    assert [p.segment for p in stored] == ["rep 1", "rep 2"]  # the example's two reps, one proposal each
    assert int(re.search(r"Propose: (\d+) new", line)[1]) == len(stored)  # type: ignore[index]
    for p in stored:
        assert p.kind == "salient" and p.status == "proposed" and p.exercise == "squat"
        assert "SmolLM2-135M" in p.model and INT8_NOTE in p.model
        assert p.model_joints, f"the local model named no joint for {p.segment}: {p.reply!r}"
        assert set(p.model_joints) <= set(JOINT_NAMES) and set(p.catalogue_joints) <= set(JOINT_NAMES)
        assert not set(p.model_joints) & set(p.catalogue_joints)  # fill-ins are the joints the model left out
    assert len(list(PROPOSALS["dir"].rglob("*.json"))) >= 1  # exported as the CLI exports

    table = page.locator(".tabulator").filter(has_text="catalogue fill-ins").first
    table.locator(".tabulator-row").nth(1).wait_for(timeout=TIMEOUT)
    assert _column(table, "clip") == [EXAMPLE_CLIP.name] * 2
    assert sorted(_column(table, "segment")) == ["rep 1", "rep 2"]
    by_segment = dict(zip(_column(table, "segment"), _column(table, "model's joints"), strict=True))
    for p in stored:
        shown = [j.strip() for j in by_segment[p.segment].split(",")]
        assert shown == list(p.model_joints) and set(shown) <= set(JOINT_NAMES)
    models = _column(table, "model")
    assert models and all("SmolLM2-135M" in m for m in models), models
    page.get_by_text(f"{len(stored)} waiting for review, 0 reviewed", exact=False).first.wait_for(timeout=TIMEOUT)
    assert page.get_by_role("button", name="Propose", exact=True).is_enabled()
    assert [e for e in page.console_errors if not OFFLINE_FONT.search(e)] == []
