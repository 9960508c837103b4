"""A salient-joints task opened in Label Studio's own labeling page (real server, headless Chromium): the video
counts the clip's frames at its own rate, opens at the segment, and the page throws no error (issue 18: Label
Studio's 24 fps default made a 322-frame 30 fps clip "1 of 258"; the Video/TimeSeries sync threw "Cannot read
properties of null (reading 'sync')").

Ground truth: the test writes the 322-frame 30 fps video and the segment (4.5–7.0 s) itself.

Unobserved channels (issue 18 part 5): a clip whose pose leaves the head and both subtalar joints unobserved and
whose right forearm pronation is NaN throughout, pushed with ``push``, opens in a project of its own whose time
series draws the 20 other channels only (their legends are there, the four left out are not), with no error.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.unit.test_review_tasks import ALL_NAN, UNOBSERVED, _track, _write_video
from workbench.pose.posefile import save_npz
from workbench.review.client import LabelStudioClient
from workbench.review.server import LABEL_STUDIO_BIN, LabelStudioServer, free_port, start_server
from workbench.review.sync import _task_data, ensure_project, label_config, project_spec, push, salient_title
from workbench.skeleton import JOINT_NAMES
from workbench.store.database import Database
from workbench.store.reviews import ProposalRow, ReviewRepository

pytestmark = [pytest.mark.server, pytest.mark.slow, pytest.mark.browser]
CHROMIUM = Path("/usr/bin/chromium")
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]


@pytest.fixture(scope="module")
def ls(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LabelStudioServer]:
    if not LABEL_STUDIO_BIN.is_file() or not CHROMIUM.is_file():
        pytest.skip("needs .venv-labelstudio (`make setup`) and /usr/bin/chromium")
    server = start_server(tmp_path_factory.mktemp("labelstudio"), port=free_port(), timeout_s=240.0)
    try:
        yield server
    finally:
        server.stop()


def test_the_labeling_page_shows_the_clip_at_its_frame_rate_from_its_segment(
    ls: LabelStudioServer, tmp_path: Path
) -> None:
    client = LabelStudioClient(ls.url, ls.credentials.token)
    media = ls.data_dir / "media"
    clip = _write_video(tmp_path / "squat.mp4", 322, 30)
    angles = media / "angles" / f"{'c' * 64}.csv"
    angles.parent.mkdir(parents=True, exist_ok=True)
    rows = [f"{i / 30:.4f}," + ",".join(f"{(10 + k) * (i % 30) / 30:.2f}" for k in range(24)) for i in range(322)]
    angles.write_text("\n".join(["time_s," + ",".join(JOINT_NAMES), *rows]) + "\n")
    p = ProposalRow(
        id="sal-browser",
        kind="salient",
        exercise="squat",
        content=[{"joint": "femur_r", "source": "llm"}],
        model="scripted",
        prompt=[],
        reply="hips",
        parse_status="parsed",
        clip_hash="c" * 64,
        clip_path=str(tmp_path / "squat.npz"),
        video_path=str(clip),
        start_s=4.5,
        end_s=7.0,
        segment="rep 2",
    )
    data, _ = _task_data(None, p, media, ls.data_dir)  # type: ignore[arg-type]
    project = ensure_project(client, project_spec("salient", "squat", data["channels"]), media)
    client.import_tasks(project, [{"data": data}])
    task = client.tasks(project)[0]["id"]

    body, video, _, errors = _open(ls, project, task, frames=322)
    assert re.search(r"of\s*322", body) and not re.search(r"of\s*258", body)
    assert len(video) == 1 and video[0][0] == pytest.approx(4.5, abs=0.05)  # opened at the segment
    assert video[0][1] == pytest.approx(322 / 30, rel=0.01)
    assert errors == []  # no "Cannot read properties of null (reading 'sync')", nor any other


def _open(ls: LabelStudioServer, project: int, task: int, frames: int) -> tuple[str, list[Any], str, list[str]]:
    """The task's labeling page, logged in: its text, the video's [currentTime, duration], the time series' SVG
    text (its legends and axes), and the errors the page threw or logged."""
    from playwright.sync_api import sync_playwright

    errors: list[str] = []
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        try:
            page = browser.new_page()
            page.on("pageerror", lambda e: errors.append(f"pageerror: {e}"))
            # "Failed to load resource": offline, the page's analytics and fonts hosts do not resolve
            page.on(
                "console",
                lambda m: (
                    errors.append(m.text)
                    if m.type == "error" and not m.text.startswith("Failed to load resource")
                    else None
                ),
            )
            page.goto(f"{ls.url}/user/login")
            page.fill("input[name=email]", ls.credentials.username)
            page.fill("input[name=password]", ls.credentials.password)
            page.click("button[type=submit]")
            page.wait_for_load_state("networkidle")
            page.goto(f"{ls.url}/projects/{project}/data?task={task}")
            page.get_by_text(re.compile(rf"of\s*{frames}")).first.wait_for(timeout=60_000)
            page.wait_for_timeout(5_000)  # the angle CSV loads and the time series syncs
            video = page.evaluate("[...document.querySelectorAll('video')].map(v => [v.currentTime, v.duration])")
            svg = page.evaluate("[...document.querySelectorAll('svg text')].map(t => t.textContent).join('\\n')")
            body = page.inner_text("body")
        finally:
            browser.close()
    return body, video, svg, errors


def test_channels_the_pose_never_observed_are_not_drawn(ls: LabelStudioServer, tmp_path: Path) -> None:
    db = Database(tmp_path / "review.duckdb")
    clip = save_npz(_track(UNOBSERVED, (ALL_NAN,)), tmp_path / "mediapipe.npz")  # 90 frames at 30 fps
    video = _write_video(tmp_path / "mediapipe.mp4", 90, 30)
    p = ProposalRow(
        id="sal-unobserved",
        kind="salient",
        exercise="squat",
        content=[{"joint": "femur_r", "source": "llm"}],
        model="scripted",
        prompt=[],
        reply="hips",
        parse_status="parsed",
        clip_hash="d" * 64,
        clip_path=str(clip),
        video_path=str(video),
        start_s=0.5,
        end_s=2.5,
        segment="rep 1",
    )
    with db.session() as s:
        ReviewRepository(s).add_proposal(p)
    client = LabelStudioClient(ls.url, ls.credentials.token)
    left_out = {*UNOBSERVED, ALL_NAN}
    kept = [j for j in JOINT_NAMES if j not in left_out]
    report = push(db, client, ls.data_dir, kinds=("salient",))
    title = salient_title("squat", kept)
    assert report.created == {title: 1}
    assert push(db, client, ls.data_dir, kinds=("salient",)).created == {title: 0}  # no duplicate
    project = report.projects[title]
    task = client.tasks(project)
    assert len(task) == 1 and task[0]["data"]["channels"] == kept

    body, _, svg, errors = _open(ls, project, int(task[0]["id"]), frames=90)
    legends = {j: _legend(j) for j in JOINT_NAMES}
    shown = body + "\n" + svg
    assert all(legends[j] in shown for j in kept), shown[-3000:]  # the observed channels are drawn
    assert not [legends[j] for j in left_out if legends[j] in shown]  # the unobserved are not
    assert errors == []  # no setChannelRangeWithScaling TypeError, no NaN path


def _legend(name: str) -> str:
    """The channel's legend in the template, e.g. "right subtalar inversion (deg)"."""
    series = ET.fromstring(label_config("salient")).find("TimeSeries")
    assert series is not None
    return next(str(c.get("legend")) for c in series.findall("Channel") if c.get("column") == name)
