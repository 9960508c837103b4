"""The notebooks run top to bottom: each is executed in a fresh kernel and fails on the first cell error.

The kernel is this interpreter (``sys.executable``, i.e. the venv's python), through a kernelspec written into a
temporary JUPYTER_PATH, so the test does not depend on PATH or on an activated venv (``make test`` runs
``.venv/bin/python -m pytest``). Each notebook's last cell asserts the numbers it shows, and every notebook
writes only into temporary directories.
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError

NOTEBOOKS = Path(__file__).resolve().parents[2] / "notebooks"
NAMES = [
    "01_tour.ipynb",
    "02_reference_curation.ipynb",
    "03_batch_and_compare.ipynb",
    "04_evaluation.ipynb",
    "05_calibration.ipynb",
    "06_training.ipynb",
]
KERNEL = "biocoach-test"
TIMEOUT_S = 120  # per cell; each notebook takes ~5 s here

pytestmark = pytest.mark.slow


@pytest.fixture
def kernel_name(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """A kernelspec running this interpreter, visible only through JUPYTER_PATH; temp files under tmp_path."""
    spec = tmp_path / "jupyter" / "kernels" / KERNEL
    spec.mkdir(parents=True)
    argv = [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"]
    (spec / "kernel.json").write_text(json.dumps({"argv": argv, "display_name": KERNEL, "language": "python"}))
    monkeypatch.setenv(
        "JUPYTER_PATH", os.pathsep.join(filter(None, [str(tmp_path / "jupyter"), os.environ.get("JUPYTER_PATH")]))
    )
    (tmp_path / "tmp").mkdir()
    monkeypatch.setenv("TMPDIR", str(tmp_path / "tmp"))  # the kernel inherits it: the notebooks' temp dirs land here
    monkeypatch.setenv("MPLBACKEND", "module://matplotlib_inline.backend_inline")
    monkeypatch.delenv("BIOCOACH_DB", raising=False)
    return KERNEL


def test_the_notebook_list_is_complete() -> None:
    assert sorted(p.name for p in NOTEBOOKS.glob("*.ipynb")) == NAMES


@pytest.mark.parametrize("name", NAMES)
def test_notebook_is_saved_without_outputs(name: str) -> None:
    nb = nbformat.read(NOTEBOOKS / name, as_version=4)
    nbformat.validate(nb)
    dirty = [i for i, c in enumerate(nb.cells) if c.cell_type == "code" and (c.outputs or c.execution_count)]
    assert not dirty, f"{name}: clear the outputs of cells {dirty} before committing"


@pytest.mark.parametrize("name", NAMES)
def test_notebook_runs(name: str, kernel_name: str, tmp_path: Path) -> None:
    nb = nbformat.read(NOTEBOOKS / name, as_version=4)
    before = _watched_files()
    client = NotebookClient(
        nb, kernel_name=kernel_name, timeout=TIMEOUT_S, resources={"metadata": {"path": str(NOTEBOOKS)}}
    )
    start = time.perf_counter()
    try:
        client.execute()
    except CellExecutionError as exc:
        failing = next((c for c in nb.cells if c.cell_type == "code" and _errored(c)), None)
        source = failing.source if failing is not None else "(cell not found)"
        pytest.fail(f"{name}: a cell failed\n--- cell ---\n{source}\n--- error ---\n{exc}", pytrace=False)
    elapsed = time.perf_counter() - start
    print(f"{name}: {elapsed:.1f} s")
    outputs = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs]
    assert any(o.get("name") == "stdout" and "all checks passed" in o.get("text", "") for o in outputs)
    if name == "01_tour.ipynb":
        assert sum("image/png" in o.get("data", {}) for o in outputs) == 2, "two inline plots"
    assert _watched_files() == before, "the notebook wrote into the repository"


def _errored(cell: nbformat.NotebookNode) -> bool:
    return any(o.get("output_type") == "error" for o in cell.get("outputs", []))


def _watched_files() -> set[Path]:
    """Files under notebooks/, references/ and db/ (the default store), to catch a notebook writing there."""
    root = NOTEBOOKS.parent
    return {p for d in ("notebooks", "references", "db") for p in (root / d).rglob("*") if "__pycache__" not in p.parts}
