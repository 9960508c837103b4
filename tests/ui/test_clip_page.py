"""The Clip page in a real browser: the example opens, the cursor moves, the angle shown is the library's."""

from __future__ import annotations

import re
from typing import Any

import pytest

from tests.ui.conftest import screenshot
from workbench.dashboard.pages.clip import frame_index
from workbench.dashboard.state import EXAMPLE_CLIP, EXAMPLE_EXERCISE
from workbench.motion.analysis import analyze
from workbench.motion.context import pose_state
from workbench.pose.posefile import load_npz

pytestmark = [pytest.mark.browser, pytest.mark.server]

# The only console errors tolerated: the template's web font, which an offline CI machine cannot fetch.
HARMLESS_URL = re.compile(r"^https://fonts\.googleapis\.com/")


def _expected_state(t_s: float) -> tuple[float, str]:
    track = load_npz(EXAMPLE_CLIP)
    salient = analyze(track, EXAMPLE_EXERCISE).salient_joints
    i = frame_index(track.t, t_s)
    return float(track.t[i]), pose_state(track.q[i], salient, track.observed)


def _watch(page: Any) -> list[str]:
    """Console errors with their source URL, from a reload (the fixture's list has no URLs)."""
    errors: list[str] = []

    def keep(msg: Any) -> None:
        url = (msg.location or {}).get("url", "")
        if msg.type == "error" and not HARMLESS_URL.match(url):
            errors.append(f"{msg.text} ({url})")

    page.on("console", keep)
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.reload(wait_until="networkidle", timeout=120_000)
    return errors


def test_example_opens_and_cursor_shows_the_library_angle(page: Any) -> None:
    errors = _watch(page)
    readout = page.locator(".cursor-readout")
    readout.get_by_text("Current pose:").wait_for(timeout=60_000)
    table = page.locator(".rep-table")
    for start in ("8.48", "11.35"):  # the example's two reps, as the library finds them
        table.get_by_text(start, exact=True).wait_for(timeout=30_000)
    assert table.locator(".tabulator-row").count() == 2

    t_s = 9.5
    box = page.locator(".cursor-input input")
    box.fill(str(t_s))
    box.press("Enter")
    t_frame, expected = _expected_state(t_s)
    readout.get_by_text(f"Cursor {t_frame:.2f} s", exact=False).wait_for(timeout=30_000)
    readout.get_by_text(expected, exact=False).wait_for(timeout=10_000)  # the library's angles, verbatim
    page.locator(".c-motion").get_by_text(expected.split(":")[1].split(",")[0].strip(), exact=False).wait_for()

    page.wait_for_timeout(500)
    screenshot(page, "clip_page")
    assert errors == []


def test_selecting_a_rep_row_moves_the_cursor(page: Any) -> None:
    errors = _watch(page)
    table = page.locator(".rep-table")
    table.get_by_text("11.35", exact=True).wait_for(timeout=60_000)
    table.get_by_text("11.35", exact=True).click()
    t_frame, expected = _expected_state(11.345833333333333)
    page.locator(".cursor-readout").get_by_text(f"Cursor {t_frame:.2f} s", exact=False).wait_for(timeout=30_000)
    page.locator(".cursor-readout").get_by_text(expected, exact=False).wait_for(timeout=10_000)
    assert errors == []


def _legend(page: Any, selector: str = ".angle-curves") -> list[str]:
    return [t.strip() for t in page.locator(f"{selector} .legendtext").all_text_contents()]


def _wait_until(page: Any, check: Any, what: str, timeout_ms: int = 30_000) -> None:
    for _ in range(timeout_ms // 250):
        if check():
            return
        page.wait_for_timeout(250)
    raise AssertionError(f"timed out waiting for {what}")


def test_picking_joints_changes_the_curves(page: Any) -> None:
    """The joint picker limits the angle curves (the plot's legend follows it), and the cycle plot shows the DoF
    chosen; DoFs the example does not observe (the pelvis) are not offered."""
    errors = _watch(page)
    page.locator(".cursor-readout").get_by_text("Current pose:").wait_for(timeout=60_000)
    page.locator(".angle-curves .legendtext").first.wait_for(timeout=30_000)
    defaults = _legend(page)
    assert {"right knee flexion", "left knee flexion"} <= set(defaults) and "right elbow flexion" not in defaults

    picker = page.locator(".joint-picker input.choices__input--cloned")
    picker.click()
    choices = page.locator(".joint-picker .choices__item--choice")
    choices.filter(has_text="left elbow flexion").first.wait_for(timeout=10_000)
    assert choices.filter(has_text="pelvis").count() == 0  # the example does not observe the pelvis
    picker.fill("right elbow")
    choices.filter(has_text="right elbow flexion").first.click()
    _wait_until(page, lambda: "right elbow flexion" in _legend(page), "the right elbow's curve")

    knee = page.locator('.joint-picker .choices__item--selectable[data-value="right knee flexion"]')
    knee.locator(".choices__button").click()
    _wait_until(page, lambda: "right knee flexion" not in _legend(page), "the right knee's curve to go")
    assert "left knee flexion" in _legend(page) and "right elbow flexion" in _legend(page)

    page.locator(".cycle-dof select").select_option(label="right hip flexion")
    title = page.locator(".cycle-plot .gtitle")
    title.filter(has_text="right hip flexion (°) per rep").wait_for(timeout=30_000)
    assert errors == []


# Where a plot's cursor line is on the screen, and where the plot's own x axis puts time ``t``.
CURSOR_AT = """([gd, t]) => {
  const k = gd.layout.shapes.findIndex(s => s && s.name === 'cursor');
  const line = gd.querySelector('.cursor-line');
  if (!line) return {x0: null};
  const xa = gd._fullLayout.xaxis, box = line.getBoundingClientRect(), plot = gd.getBoundingClientRect();
  return {line: box.left + box.width / 2, axis: plot.left + xa._offset + xa.r2p(t), x0: gd.layout.shapes[k].x0};
}"""


def test_the_cursor_line_is_where_the_axis_puts_the_cursor(page: Any) -> None:
    """A cursor move redraws no figure: the browser moves the line itself (``CursorLine``), to the pixel the
    plot's x axis maps the new time to, within 2 px, and it stays there through a zoom."""
    errors = _watch(page)
    page.locator(".cursor-readout").get_by_text("Current pose:").wait_for(timeout=60_000)
    plots = [page.locator(f"{css} .js-plotly-plot") for css in (".angle-curves", ".trust-plot")]
    for plot in plots:
        plot.wait_for(timeout=30_000)
    box = page.locator(".cursor-input input")
    for t_s in (9.5, 12.25):
        box.fill(str(t_s))
        box.press("Enter")
        page.locator(".cursor-readout").get_by_text(f"Cursor {_expected_state(t_s)[0]:.2f} s").wait_for(timeout=30_000)
        for plot in plots:
            gd = plot.element_handle()
            page.wait_for_function(f"([gd, t]) => ({CURSOR_AT})([gd, t]).x0 === t", arg=[gd, t_s], timeout=10_000)
            at = plot.evaluate(f"(gd, t) => ({CURSOR_AT})([gd, t])", t_s)
            assert abs(at["line"] - at["axis"]) <= 2, at
    angles = plots[0]
    angles.evaluate("gd => window.Plotly.relayout(gd, {'xaxis.range': [11, 14]})")  # a zoom redraws the shapes
    page.wait_for_timeout(300)
    at = angles.evaluate(f"(gd, t) => ({CURSOR_AT})([gd, t])", 12.25)
    assert abs(at["line"] - at["axis"]) <= 2, at
    assert errors == []
