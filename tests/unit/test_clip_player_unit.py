"""The Clip page's player without a browser: the media registry, the per-frame payload, the two-way cursor."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np
import pytest

from workbench.dashboard.media import MEDIA_PREFIX, media_url, registered_file
from workbench.dashboard.pages.clip import ClipPage
from workbench.dashboard.player import EDGES, frames_payload, player_fps
from workbench.dashboard.state import AppState
from workbench.motion.analysis import analyze
from workbench.pose.backends import PoseEstimate
from workbench.pose.landmarks import N_LANDMARKS, LandmarkTrack
from workbench.pose.track import PoseTrack
from workbench.skeleton import N_DOFS


def test_media_urls_name_a_token_not_a_path(tmp_path: Path) -> None:
    clip = tmp_path / "secret name.mp4"
    clip.write_bytes(b"x")
    url = media_url(clip)
    prefix, token, name = url.split("/")
    assert prefix == MEDIA_PREFIX and name == clip.name and str(tmp_path) not in url
    assert registered_file(token) == clip.resolve() and media_url(clip) == url
    assert registered_file("not-a-token") is None


def _result(tmp_path: Path, n: int = 60, fps: float = 30.0, video: bool = True) -> Any:
    from workbench.io.video import write_video

    t = np.arange(n) / fps
    track = PoseTrack(
        q=np.zeros((n, N_DOFS)), t=t, confidence=np.ones(n), observed=np.ones(N_DOFS, bool), source="test"
    )
    image = np.full((n, N_LANDMARKS, 2), 0.5)
    image[3, 0] = np.nan
    vis = np.ones((n, N_LANDMARKS))
    vis[4, 1] = 0.1
    landmarks = LandmarkTrack(world=np.zeros((n, N_LANDMARKS, 3)), visibility=vis, t=t, image=image, source="test")
    path = write_video(tmp_path / "c.mp4", (np.zeros((48, 64, 3), np.uint8) for _ in range(n)), fps) if video else None
    return SimpleNamespace(
        estimate=PoseEstimate(track=track, backend="mediapipe", landmarks=landmarks, video=path),
        analysis=analyze(track, "squat"),
        fit=None,
        exercise=None,
    )


def test_the_payload_has_every_frame_and_none_where_nothing_is_drawn(tmp_path: Path) -> None:
    result = _result(tmp_path, video=False)
    payload = frames_payload(result)
    sk = payload["skeleton"]
    assert len(sk["t"]) == len(sk["points"]) == 60 and len(sk["points"][0]) == 2 * N_LANDMARKS
    assert sk["points"][3][0] is None and sk["points"][4][2] is None and sk["points"][5][0] == 0.5
    assert payload["edges"] == EDGES and payload["raw"]["t"] == []
    assert player_fps(result) == pytest.approx(30.0)


def test_the_player_and_the_cursor_follow_each_other(tmp_path: Path) -> None:
    st = AppState(data_dirs=[str(tmp_path)])
    page = ClipPage(state=st)
    st.show_clip(str(tmp_path / "c.mp4"), "squat", _result(tmp_path))
    assert page.player.visible and page.player.src.startswith(f"{MEDIA_PREFIX}/")
    assert not page.frame.visible  # the browser shows the frame: none decoded on the server
    st.cursor_s = 1.0
    assert page.player.time_s == 1.0  # the cursor seeks the player
    page.player.time_s = 1.5  # the player played on
    assert st.cursor_s == 1.5 and "frame 45" in page.readout.object
    page.player.time_s = 9.0  # past the track: the cursor stops at its end, the player is not sent back
    assert st.cursor_s == 59 / 30 and page.player.time_s == 9.0
    assert page.skeleton3d.object["data"]
    st.show_clip(str(tmp_path / "c.npz"), "squat", _result(tmp_path, video=False))
    assert not page.player.visible and page.skeleton3d.object["data"]
