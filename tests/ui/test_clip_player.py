"""The Clip page's video player and 3D skeleton in a real browser (issue 17, parts 1 and 2).

Set-up: a data folder with a short H.264 clip (a numbered grey picture; its pose and landmarks already in the
store's pose cache, as `biocoach analyze` would have left them, so no pose model runs) and a pose .npz without
video. The browser plays the clip and sees the cursor and the read-out follow, steps a frame, and drags the 3D
view of the pose-only clip and sees the camera turn. Every request must stay on 127.0.0.1, and the console must
stay free of errors.
"""

from __future__ import annotations

import dataclasses
import re
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import numpy as np
import pytest

from tests.ui.conftest import served_app
from workbench.dashboard.state import EXAMPLE_CLIP
from workbench.io.video import write_video
from workbench.pose.backends import pose_cache_params
from workbench.pose.fk import forward_kinematics
from workbench.pose.landmarks import N_LANDMARKS, LandmarkTrack
from workbench.pose.posefile import load_npz
from workbench.store.clips_repo import sha256_file
from workbench.store.database import Database
from workbench.store.seed import init_from_references

pytestmark = [pytest.mark.browser, pytest.mark.server, pytest.mark.slow]
TIMEOUT = 60_000
LOCAL_HOSTS = ("127.0.0.1",)
FPS = 30.0
# The only console errors tolerated: the template's web font, which an offline CI machine cannot fetch (and which
# the route below aborts anyway).
HARMLESS_URL = re.compile(r"^https://fonts\.(googleapis|gstatic)\.com/")
READOUT = re.compile(r"Cursor (\d+\.\d\d) s · frame (\d+)")


def _clip_data(root: Path, store: Path) -> Path:
    """The data folder: ``squat.mp4`` with its pose cached in ``store``, and ``pose_only.npz``."""
    data = root / "data"
    data.mkdir()
    shutil.copyfile(EXAMPLE_CLIP, data / "pose_only.npz")
    example = load_npz(EXAMPLE_CLIP)
    n = example.t.size
    track = dataclasses.replace(example, t=np.arange(n) / FPS)  # on the video's clock, from 0
    video = write_video(
        data / "squat.mp4", (np.full((240, 320, 3), 40 + (k % 50) * 3, np.uint8) for k in range(n)), FPS
    )
    world = forward_kinematics(track.q)
    image = np.stack([0.5 + 0.3 * world[..., 0], 0.5 + 0.3 * world[..., 1]], axis=-1)  # a rough camera
    landmarks = LandmarkTrack(
        world=world, visibility=np.ones((n, N_LANDMARKS)), t=track.t, image=image, image_size=(320, 240), source="test"
    )
    db = Database(store)
    init_from_references(db)
    with db.store() as s:
        clip_hash = sha256_file(video)
        s.clips.register(video)
        s.poses.put_pose(clip_hash, "mediapipe", pose_cache_params(), track, extract_s=0.1)
        s.poses.put_landmarks(clip_hash, "mediapipe", pose_cache_params(), landmarks)
    return data


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    root = tmp_path_factory.mktemp("player")
    store = root / "store.duckdb"
    data = _clip_data(root, store)
    for url in served_app(store, root / "serve.log", ["--db", str(store), "--data-dir", str(data)]):
        yield {"url": url, "data": data}


@pytest.fixture
def offline_page(browser: Any, app: dict[str, Any]) -> Iterator[Any]:
    """A page whose every request is routed: one for another host is aborted and recorded."""
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    foreign: list[str] = []
    errors: list[str] = []

    def gate(route: Any) -> None:
        url = route.request.url
        parsed = urlparse(url)
        if parsed.scheme in ("http", "https", "ws", "wss") and parsed.hostname not in LOCAL_HOSTS:
            foreign.append(url)
            route.abort()
        else:
            route.continue_()

    def keep(msg: Any) -> None:
        url = (msg.location or {}).get("url", "")
        if msg.type == "error" and not HARMLESS_URL.match(url):
            errors.append(f"{msg.text} ({url})")

    context.route("**/*", gate)
    pg = context.new_page()
    pg.on("console", keep)
    pg.on("pageerror", lambda exc: errors.append(str(exc)))
    pg.on("websocket", lambda ws: foreign.append(ws.url) if urlparse(ws.url).hostname not in LOCAL_HOSTS else None)
    pg.foreign, pg.errors = foreign, errors
    pg.goto(app["url"], wait_until="networkidle", timeout=120_000)
    yield pg
    context.close()


def _wait_readout(page: Any, predicate: Any, timeout_s: float = 30.0) -> tuple[float, int]:
    deadline = page.evaluate("() => performance.now()") + 1000 * timeout_s
    while True:
        found = page.locator(".cursor-readout").get_by_text(READOUT)
        text = found.first.inner_text() if found.count() else ""
        m = READOUT.search(text)
        got = (float(m[1]), int(m[2])) if m else None
        if got is not None and predicate(*got):
            return got
        if page.evaluate("() => performance.now()") > deadline:
            raise AssertionError(f"the read-out never satisfied the condition; last {text!r}")
        page.wait_for_timeout(100)


def test_the_video_plays_and_the_cursor_follows_then_steps_a_frame(offline_page: Any, app: dict[str, Any]) -> None:
    page = offline_page
    page.locator(".cursor-readout").get_by_text("Current pose:").wait_for(timeout=TIMEOUT)  # the example is open
    box = page.get_by_label("Clip (video, landmark file or pose .npz)")
    box.fill(str(app["data"] / "squat.mp4"))
    box.press("Enter")
    page.get_by_role("button", name="Analyse").click()
    video = page.locator(".clip-player video")
    video.wait_for(state="visible", timeout=TIMEOUT)
    video.evaluate("v => new Promise(r => v.readyState >= 2 ? r() : v.addEventListener('loadeddata', () => r()))")
    src = video.evaluate("v => v.currentSrc")
    assert src.startswith(app["url"] + "clip-media/"), src
    assert page.request.get(app["url"] + "clip-media/not-a-token/squat.mp4").status == 404  # registered files only
    ranged = page.request.get(src, headers={"Range": "bytes=0-99"})
    assert ranged.status == 206 and len(ranged.body()) == 100  # seeking reads parts of the file
    assert video.evaluate("v => v.videoWidth") == 320
    _wait_readout(page, lambda t, i: t == 0.0)

    # The skeleton is drawn by the browser on the canvas over the video.
    drawn = page.locator(".clip-player canvas").evaluate(
        "c => { const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data; let n = 0;"
        " for (let k = 3; k < d.length; k += 4) if (d[k] > 0) n++; return n; }"
    )
    assert drawn > 100

    page.locator(".clip-player .vp-play").click()
    _wait_readout(page, lambda t, i: t >= 0.5)  # playing: the cursor and the read-out follow the video
    assert video.evaluate("v => !v.paused")
    page.locator(".clip-player .vp-play").click()  # pause
    video.evaluate("v => v.paused || new Promise(r => v.addEventListener('pause', () => r()))")
    paused_at = video.evaluate("v => v.currentTime")
    k = round(paused_at * FPS)
    assert k >= 15
    page.locator(".clip-player .vp-fwd").click()
    t, _ = _wait_readout(page, lambda t, i: i == k + 1)
    assert t == pytest.approx((k + 1) / FPS, abs=0.006)
    assert video.evaluate("v => v.currentTime") == pytest.approx((k + 1) / FPS, abs=1e-3)
    page.locator(".clip-player .vp-back").click()
    page.locator(".clip-player .vp-back").click()
    _wait_readout(page, lambda t, i: i == k - 1)

    # The cursor moved on the page seeks the video.
    cursor = page.locator(".cursor-input input")
    cursor.fill("2.5")
    cursor.press("Enter")
    _wait_readout(page, lambda t, i: i == 75)
    video.evaluate(
        "v => new Promise(r => { const f = () => Math.abs(v.currentTime - 2.5) < 0.02 ? r() :"
        " setTimeout(f, 50); f(); })"
    )

    page.locator(".clip-player .vp-speed").select_option("0.5")
    assert video.evaluate("v => v.playbackRate") == 0.5
    page.locator(".clip-player .vp-zoom").select_option("2")
    assert "scale(2)" in page.locator(".clip-player .vp-stage > div").evaluate("d => d.style.transform")
    page.wait_for_timeout(300)
    assert page.foreign == []
    assert page.errors == []


def test_the_3d_skeleton_of_a_pose_only_clip_rotates_and_keeps_its_camera(
    offline_page: Any, app: dict[str, Any]
) -> None:
    page = offline_page
    page.locator(".cursor-readout").get_by_text("Current pose:").wait_for(timeout=TIMEOUT)
    box = page.get_by_label("Clip (video, landmark file or pose .npz)")
    box.fill(str(app["data"] / "pose_only.npz"))
    box.press("Enter")
    page.get_by_role("button", name="Analyse").click()
    page.get_by_text(re.compile(r"analysed pose_only\.npz")).first.wait_for(timeout=TIMEOUT)
    assert not page.locator(".clip-player video").is_visible()
    plot = page.locator(".skeleton-3d .js-plotly-plot")
    plot.wait_for(timeout=TIMEOUT)
    camera = "p => JSON.stringify(p._fullLayout.scene.camera.eye)"
    before = plot.evaluate(camera)
    box3d = plot.bounding_box()
    assert box3d is not None
    x, y = box3d["x"] + box3d["width"] / 2, box3d["y"] + box3d["height"] / 2
    page.mouse.move(x, y)
    page.mouse.down()
    for k in range(1, 11):
        page.mouse.move(x + 12 * k, y + 3 * k)
    page.mouse.up()
    after = plot.evaluate(camera)
    assert after != before

    # A new pose at another cursor keeps the user's camera (uirevision), and names the rep under the cursor.
    cursor = page.locator(".cursor-input input")
    cursor.fill("9.5")
    cursor.press("Enter")
    title = "p => /^9\\.[45]\\d s · frame \\d+ · rep 1/.test(p.layout.title.text)"  # the sample nearest 9.5 s
    page.wait_for_function(title, arg=plot.element_handle(), timeout=TIMEOUT)
    assert plot.evaluate(camera) == after
    names = plot.evaluate("p => p.data.map(d => d.name)")
    assert "reference" in names and "joints" in names
    assert page.foreign == []
    assert page.errors == []
