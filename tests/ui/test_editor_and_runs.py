"""The editor and runs pages in a real browser: edit a threshold, save (checked in the store file), revert,
run the pipeline and see it finish.

Ground truth: the bundled example squats bend the knee past 90° but not to 160°, so raising knee_depth's lower
bound from 90° to 160° makes every rep violate it (both knees: the rule is both_sides).
"""

from __future__ import annotations

import re
from typing import Any

import pytest

from tests.ui.conftest import STORES, screenshot
from workbench.store.database import Database

pytestmark = [pytest.mark.browser, pytest.mark.server]
EDITOR_TAB = "References & thresholds"
TIMEOUT = 60_000
# The template asks fonts.googleapis.com for its font; offline (CI, sandboxes) that lookup fails, harmlessly.
OFFLINE_FONT = "Failed to load resource: net::ERR_NAME_NOT_RESOLVED"


def _real_errors(page: Any) -> list[str]:
    return [e for e in page.console_errors if e != OFFLINE_FONT]


def _knee_depth(server: str) -> Any:
    with Database(STORES[server]).store() as store:
        return store.thresholds.get("squat", "knee_depth")


def _open_tab(page: Any, title: str) -> None:
    page.get_by_text(title, exact=True).first.click()


def _set_number(page: Any, label: str, value: float) -> None:
    box = page.get_by_label(label, exact=True)
    box.fill(str(value))
    box.press("Enter")


def test_edit_threshold_save_and_revert(page: Any, server: str) -> None:
    _open_tab(page, EDITOR_TAB)
    page.get_by_text("Current version 1", exact=False).first.wait_for(timeout=TIMEOUT)
    _set_number(page, "Lower bound (deg)", 160)
    page.get_by_role("button", name="Preview", exact=True).click()
    page.get_by_text(re.compile(r"Preview \(not saved\): 0 violations without the edit, [1-9]\d* with it")).wait_for(
        timeout=TIMEOUT
    )
    assert _knee_depth(server).version == 1  # a preview writes nothing
    page.get_by_label("Note", exact=True).fill("deeper squats for this group")
    page.get_by_role("button", name="Save as new version").click()
    page.get_by_text("Saved knee_depth version 2.").wait_for(timeout=TIMEOUT)
    saved = _knee_depth(server)
    assert (saved.version, saved.spec.bounds_deg, saved.note) == (2, (160.0, None), "deeper squats for this group")
    # after the save the clip is re-analysed with version 2, so the "without the edit" side now violates too
    page.get_by_text(re.compile(r"Preview \(not saved\): [1-9]\d* violations without the edit")).wait_for(
        timeout=TIMEOUT
    )
    page.get_by_text("Current version 2", exact=False).first.wait_for(timeout=TIMEOUT)
    page.wait_for_timeout(500)
    screenshot(page, "editor_page")
    page.get_by_role("button", name="Revert", exact=True).click()
    page.get_by_text("Reverted knee_depth to version 1 (now version 3).").wait_for(timeout=TIMEOUT)
    back = _knee_depth(server)
    assert (back.version, back.spec.bounds_deg) == (3, (90.0, None))
    page.get_by_text("Current version 3", exact=False).first.wait_for(timeout=TIMEOUT)
    page.wait_for_timeout(1500)  # the revert re-analyses the clip; let its updates land before the session closes
    assert _real_errors(page) == [], page.console_errors


def _reference(server: str) -> Any:
    with Database(STORES[server]).store() as store:
        return store.references.current("squat")


def test_edit_reference_preview_save_and_revert(page: Any, server: str) -> None:
    import numpy as np

    from workbench.skeleton import dof_index

    _open_tab(page, EDITOR_TAB)
    page.get_by_text("Current version", exact=False).first.wait_for(timeout=TIMEOUT)
    before = _reference(server)
    k = dof_index("knee_angle_r")  # the reference DoF shown first (the squat's first constraint)
    _set_number(page, "Scale factor", 1.2)
    page.get_by_role("button", name="Preview reference", exact=True).click()
    page.get_by_text(re.compile(r"Reference tried on the open clip \(not saved\): mean quality")).wait_for(
        timeout=TIMEOUT
    )
    assert _reference(server).version == before.version  # a preview writes nothing
    page.get_by_label("Reference note", exact=True).fill("deeper knee reference")
    page.get_by_role("button", name="Save reference as new version", exact=True).click()
    page.get_by_text(f"Saved reference version {before.version + 1}.").wait_for(timeout=TIMEOUT)
    saved = _reference(server)
    assert (saved.version, saved.note) == (before.version + 1, "deeper knee reference")
    assert np.ptp(saved.mean[k]) == pytest.approx(1.2 * np.ptp(before.mean[k]), rel=1e-9)
    assert saved.mean[k, 0] == pytest.approx(before.mean[k, 0])  # rest kept
    assert np.array_equal(np.delete(saved.mean, k, 0), np.delete(before.mean, k, 0))
    page.get_by_label("Revert reference to version", exact=True).select_option(str(before.version))
    page.get_by_role("button", name="Revert reference", exact=True).click()
    page.get_by_text(f"Reference reverted to version {before.version} (now version {before.version + 2}).").wait_for(
        timeout=TIMEOUT
    )
    back = _reference(server)
    assert back.version == before.version + 2 and np.array_equal(back.mean, before.mean)
    page.wait_for_timeout(3000)  # the revert re-analyses the clip; let its updates land before the session closes
    assert _real_errors(page) == [], page.console_errors


def test_run_finishes_with_progress(page: Any, server: str) -> None:
    _open_tab(page, "Runs")
    page.get_by_role("button", name="Run", exact=True).click()
    page.get_by_text(re.compile(r"Finished: 1 / 1 clips, runs \d+")).wait_for(timeout=TIMEOUT)
    progress = page.locator("progress:visible")  # the Runs tab's; other pages keep hidden bars of their own
    assert progress.first.get_attribute("value") == "100"
    with Database(STORES[server]).store() as store:
        run_id = int(store.session.scalar("SELECT max(id) FROM runs", []))
        assert store.runs.get(run_id).status == "succeeded"
    page.wait_for_timeout(1000)  # let the last updates land before the session closes
    screenshot(page, "runs_page")
    assert _real_errors(page) == [], page.console_errors


def test_batch_progress_from_the_store(page: Any, server: str, tmp_path: Any) -> None:
    """A batch job run by another process (here: this test) shows on the runs page from what its driver wrote:
    counts, the failed clip's error, and a running job's progress followed by polling until it finishes."""
    from tests.batch_support import corrupt_clip, make_clips, plan, spec
    from workbench.batch.driver import run_job
    from workbench.batch.select import from_folder
    from workbench.store.batches import BatchRepository, NewItem

    db = Database(STORES[server])
    make_clips(tmp_path / "clips", 2, reps=2)
    corrupt_clip(tmp_path / "clips")
    job = run_job(spec("ui-batch"), from_folder(tmp_path / "clips"), plan(db), db).job
    _open_tab(page, "Runs")
    page.get_by_role("button", name="Refresh batch jobs").click()
    page.get_by_text(re.compile(rf"Batch job {job.id} \(ui-batch\) finished: 4 done .* 2 failed, 0 pending")).wait_for(
        timeout=TIMEOUT
    )
    page.get_by_text(re.compile(r"failed pose after 2 tries: broken\.npz: PoseFileError")).wait_for(timeout=TIMEOUT)
    assert page.locator("progress").last.get_attribute("value") == "100"
    with db.store() as store:  # a live job (this process is its driver) with 1 of 4 items done
        repo = BatchRepository(store.session)
        live = repo.create_job(name="live", spec={}, engine="local", code_version="0")
        repo.select_items(live, [NewItem(f"k{i}", "h", "pose", "p", "{}", "x.npz", None) for i in range(4)], 0)
        repo.mark_running(live, ["k0"])
        from workbench.store.batches import Outcome

        repo.record(live, Outcome("k0", True, "w", 0.1))
        repo.refresh_counts(live)
    page.get_by_role("button", name="Refresh batch jobs").click()
    page.get_by_text(re.compile(rf"Batch job {live} \(live\) running: 1 done .* 0 failed, 3 pending")).wait_for(
        timeout=TIMEOUT
    )
    assert page.locator("progress").last.get_attribute("value") == "25"
    with db.store() as store:
        repo = BatchRepository(store.session)
        for key in ("k1", "k2", "k3"):
            repo.record(live, Outcome(key, True, "w", 0.1))
        repo.refresh_counts(live, selection_done=True, status="finished")
    # no click: the page polls the store while a job runs
    page.get_by_text(re.compile(rf"Batch job {live} \(live\) finished: 4 done")).wait_for(timeout=TIMEOUT)
    assert page.locator("progress").last.get_attribute("value") == "100"
    assert _real_errors(page) == [], page.console_errors
