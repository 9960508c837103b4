"""The review page in a real browser shows the agreement figures held in the store.

The store is seeded with a known review history (tests/review_support.py: two experts, three segments) before
the workbench starts; the figures are hand-computed there: kappa 0.770, precision 0.750, recall 0.182 (on the
model's own joints).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.review_support import seed_reviews
from tests.ui.conftest import screenshot, served_app
from workbench.store.database import Database
from workbench.store.seed import init_from_references

pytestmark = [pytest.mark.browser, pytest.mark.server]
TIMEOUT = 60_000


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """`biocoach serve` on a store that already holds reviewed labels (overrides the conftest fixture)."""
    store = tmp_path_factory.mktemp("review-store") / "biocoach.duckdb"
    db = Database(store)
    init_from_references(db)
    seed_reviews(db)
    yield from served_app(store, tmp_path_factory.mktemp("review-log") / "serve.log")


def test_review_page_shows_agreement_from_the_store(page: Any, server: str) -> None:
    page.get_by_text("Review", exact=True).first.click()
    page.get_by_text("Cohen's kappa, salient joints:", exact=False).first.wait_for(timeout=TIMEOUT)
    page.get_by_text("0.770 (2 tasks labelled by two experts, 48 decisions)", exact=False).first.wait_for(
        timeout=TIMEOUT
    )
    page.get_by_text("precision 0.750, recall 0.182 (tp 6, fp 2, fn 27)", exact=False).first.wait_for(timeout=TIMEOUT)
    page.get_by_text("accepted 2, corrected 2, rejected 1", exact=False).first.wait_for(timeout=TIMEOUT)
    # the label table lists both reviewers
    page.get_by_text("expert.b@example.com", exact=True).first.wait_for(timeout=TIMEOUT)
    screenshot(page, "review_page")
    assert not [e for e in page.console_errors if "ERR_NAME_NOT_RESOLVED" not in e]
