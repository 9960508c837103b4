"""Fixtures of the bad-input suite: a folder for the inputs each module writes, and a store holding the squat."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.batch_support import squat_store


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest) -> Path:
    return tmp_path_factory.mktemp(request.module.__name__.rsplit(".", 1)[-1])


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest) -> Path:
    path = tmp_path_factory.mktemp(request.module.__name__.rsplit(".", 1)[-1] + "_store") / "store.duckdb"
    squat_store(path)
    return path
