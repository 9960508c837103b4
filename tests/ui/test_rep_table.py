"""The Clip page's per-rep table in a real browser (issue 17, part 3): sort it from a header, select a row of the
sorted table, export it.

Ground truth: the bundled example (squat, two reps) as the library analyses it (``workbench.motion.analysis``):
rep 1 starts at 8.48 s, rep 2 at 11.35 s. Sorted by rep, descending, the first row is rep 2; selecting it must
move the cursor to rep 2's start (a sorted table's first row is not rep 1). The export must give the rows of the
table as a file, one per rep, with the same starts.
"""

from __future__ import annotations

import csv
import io
import re
from pathlib import Path
from typing import Any

import pytest

from workbench.dashboard.pages.clip import frame_index
from workbench.dashboard.state import EXAMPLE_CLIP, EXAMPLE_EXERCISE
from workbench.motion.analysis import analyze
from workbench.pose.posefile import load_npz

pytestmark = [pytest.mark.browser, pytest.mark.server]
TIMEOUT = 60_000
OFFLINE_FONT = re.compile(r"ERR_NAME_NOT_RESOLVED|ERR_FAILED|ERR_INTERNET_DISCONNECTED")
# the table's export control (not the plots' "Download plot as a png"): it names the reps, the table or CSV
EXPORT = re.compile(r"csv|(export|download|save)\b.*\b(reps?|table)\b|\b(reps?|table)\b.*(export|download)", re.I)


def _reps() -> list[tuple[int, float]]:
    """(rep number from 1, start s) of the example's reps, as the library finds them."""
    reps = analyze(load_npz(EXAMPLE_CLIP), EXAMPLE_EXERCISE).reps
    return [(r.index + 1, round(r.start_s, 2)) for r in reps]


def _column(table: Any, field: str) -> list[str]:
    cells = table.locator(f'.tabulator-row .tabulator-cell[tabulator-field="{field}"]')
    return [t.strip() for t in cells.all_inner_texts()]


def _real_errors(page: Any) -> list[str]:
    return [e for e in page.console_errors if not OFFLINE_FONT.search(e)]


def _open_table(page: Any) -> Any:
    page.locator(".cursor-readout").get_by_text("Current pose:").wait_for(timeout=TIMEOUT)
    table = page.locator(".rep-table")
    table.locator(".tabulator-row").nth(1).wait_for(timeout=TIMEOUT)
    return table


def test_sorting_the_rep_table_and_selecting_a_sorted_row(page: Any) -> None:
    reps = _reps()
    assert [n for n, _ in reps] == [1, 2] and [s for _, s in reps] == [8.48, 11.35]
    table = _open_table(page)
    assert _column(table, "rep") == ["1", "2"]
    header = table.locator('.tabulator-col[tabulator-field="rep"] .tabulator-col-title')
    for _ in range(3):  # a header click sorts ascending, the next descending
        header.click()
        page.wait_for_timeout(300)
        if _column(table, "rep") == ["2", "1"]:
            break
    assert _column(table, "rep") == ["2", "1"]
    assert _column(table, "start (s)") == ["11.35", "8.48"]
    sort = table.locator('.tabulator-col[tabulator-field="rep"]').get_attribute("aria-sort")
    assert sort == "descending", sort

    # the first row of the sorted table is rep 2: selecting it moves the cursor to rep 2's start, not rep 1's
    table.locator(".tabulator-row").first.locator('.tabulator-cell[tabulator-field="messages"]').click()
    track = load_npz(EXAMPLE_CLIP)
    t_frame = float(track.t[frame_index(track.t, 11.345833333333333)])
    page.locator(".cursor-readout").get_by_text(f"Cursor {t_frame:.2f} s", exact=False).wait_for(timeout=30_000)
    page.wait_for_timeout(500)
    assert _column(table, "rep") == ["2", "1"]  # the cursor's move keeps the user's sort
    assert _real_errors(page) == [], page.console_errors


def test_exporting_the_rep_table(page: Any) -> None:
    """The reps CSV is what ``biocoach export`` writes (``start_s``, one row per rep), named after the clip."""
    table = _open_table(page)
    button = page.get_by_role("button", name=EXPORT).or_(page.get_by_role("link", name=EXPORT))
    button.first.wait_for(timeout=10_000)
    with page.expect_download(timeout=TIMEOUT) as info:
        button.first.click()
    download = info.value
    assert download.suggested_filename == f"{EXAMPLE_CLIP.stem}_reps.csv"
    text = Path(download.path()).read_text(encoding="utf-8")
    rows = list(csv.DictReader(io.StringIO(text)))
    assert len(rows) == 2, text[:500]
    starts = sorted(float(r.get("start (s)") or r.get("start_s") or "nan") for r in rows)
    assert starts == pytest.approx([8.48, 11.35], abs=0.006)
    assert sorted(r.get("rep", "") for r in rows) == _column(table, "rep")  # the table's rows
    assert _real_errors(page) == [], page.console_errors
