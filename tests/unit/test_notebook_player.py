"""The notebook's clip inspector (workbench.dashboard.notebook.ClipInspector): the video in the app's player as a
data: URL, the fallback to still frames, the cursor synced both ways, and the 3D view (stick figure and SKEL bone
mesh) following the cursor."""

from __future__ import annotations

import base64
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np
import pytest

from tests.unit.test_skel_mesh import write_fake_skel
from workbench.config import Config
from workbench.dashboard import notebook as nbv
from workbench.dashboard.player import VideoPlayer
from workbench.dashboard.state import EXAMPLE_CLIP, EXAMPLE_EXERCISE
from workbench.motion.analysis import analyze
from workbench.pose.backends import PoseEstimate
from workbench.pose.posefile import load_npz
from workbench.render.skel_mesh import configured_bone_mesh
from workbench.render.skeleton3d import JOINT_MARKERS, POINT_INDEX, joint_positions


@pytest.fixture(scope="module")
def example() -> tuple[Any, Any]:
    track = load_npz(EXAMPLE_CLIP)
    analysis = analyze(track, EXAMPLE_EXERCISE)
    return track, analysis


def _result(example: tuple[Any, Any], video: Path | None = None) -> SimpleNamespace:
    track, analysis = example
    return SimpleNamespace(estimate=PoseEstimate(track=track, backend="pose", video=video), analysis=analysis, fit=None)


@pytest.mark.parametrize(("name", "mime"), [("clip.mp4", "video/mp4"), ("clip.webm", "video/webm")])
def test_a_video_clip_plays_in_the_player_as_a_data_url(
    example: tuple[Any, Any], tmp_path: Path, name: str, mime: str
) -> None:
    video = tmp_path / name
    payload = bytes(range(256)) * 4
    video.write_bytes(payload)
    inspector = nbv.ClipInspector(_result(example, video), t_s=9.0, skel_mesh=None)
    player = inspector.player
    assert isinstance(player, VideoPlayer)
    head, data = player.src.split(",", 1)
    assert head == f"data:{mime};base64" and base64.b64decode(data) == payload
    assert player.fps == pytest.approx(example[1].fps) and player.time_s == pytest.approx(inspector.slider.value)
    assert not inspector.frame.visible and mime in inspector.video_note.object
    inspector.at(11.0)  # the cursor seeks the video
    assert player.time_s == pytest.approx(inspector.slider.value) and abs(player.time_s - 11.0) < 0.02
    player.time_s = 12.5  # the video played: the cursor and the read-out follow
    assert abs(float(inspector.slider.value) - 12.5) < 0.02
    assert "12.5" in inspector.readout.object or "12.4" in inspector.readout.object
    assert player.time_s == pytest.approx(12.5)  # not seeked back to the slider's grid


def test_a_pose_only_clip_falls_back_to_the_drawn_frame(example: tuple[Any, Any]) -> None:
    inspector = nbv.ClipInspector(_result(example), t_s=9.0, skel_mesh=None)
    assert inspector.player is None and inspector.frame.object[:4] == b"\x89PNG"
    assert "No video" in inspector.video_note.object and "no video" in inspector.frame_note.object


def test_a_video_over_the_cap_falls_back_to_still_frames_with_a_note(example: tuple[Any, Any], tmp_path: Path) -> None:
    from workbench.io.video import write_video

    frames = (np.full((48, 64, 3), 40 + k, np.uint8) for k in range(5 * 15))
    video = write_video(tmp_path / "big.mp4", frames, 5.0)
    inspector = nbv.ClipInspector(_result(example, video), t_s=9.0, max_video_bytes=512, skel_mesh=None)
    assert inspector.player is None and inspector.frame.visible and inspector.frame.object[:4] == b"\x89PNG"
    size = video.stat().st_size
    assert f"is {size / 1024:.0f} kB, more than the 512 B a notebook embeds" in inspector.video_note.object
    assert "no video" not in inspector.frame_note.object  # the still frame is the video's


def test_the_3d_view_follows_the_cursor_to_the_fk_positions(example: tuple[Any, Any]) -> None:
    track, _ = example
    inspector = nbv.ClipInspector(_result(example), t_s=9.0, skel_mesh=None)
    for t in (9.0, 11.6):
        inspector.at(t)
        i = int(np.argmin(np.abs(track.t - float(inspector.slider.value))))
        joints = inspector.skeleton3d.object["data"][-1]
        assert joints["name"] == "joints"
        want = joint_positions(track.q[i])
        for k, name in enumerate(JOINT_MARKERS):
            got = (joints["x"][k], joints["y"][k], joints["z"][k])
            assert np.allclose(got, want[POINT_INDEX[name]]), (t, name)
    i9 = int(np.argmin(np.abs(track.t - 9.0)))
    assert not np.allclose(joint_positions(track.q[i9]), joint_positions(track.q[i]))  # it did move


def test_the_inspector_draws_the_configured_bone_mesh_and_moves_it(example: tuple[Any, Any], tmp_path: Path) -> None:
    mesh = configured_bone_mesh(Config(skel_model_dir=write_fake_skel(tmp_path).parent))
    inspector = nbv.ClipInspector(_result(example), t_s=9.0, skel_mesh=mesh)
    first = inspector.skeleton3d.object["data"][-1]
    assert first["type"] == "mesh3d" and "SKEL bones (male" in first["name"]
    inspector.at(11.6)
    moved = inspector.skeleton3d.object["data"][-1]
    assert moved["type"] == "mesh3d" and not np.allclose(first["z"], moved["z"])


def test_with_no_skel_model_configured_the_default_is_the_stick_figure(
    example: tuple[Any, Any], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("BIOCOACH_CONFIG", str(tmp_path / "none.yaml"))  # no such file: the search goes on
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("HOME", str(tmp_path))
    pane = nbv.skeleton_3d(_result(example), 9.0)
    assert all(d["type"] != "mesh3d" for d in pane.object["data"])
    (tmp_path / "biocoach.yaml").write_text(f"skel_model_dir: {write_fake_skel(tmp_path / 'skel').parent}\n")
    pane = nbv.skeleton_3d(_result(example), 9.0)
    assert pane.object["data"][-1]["type"] == "mesh3d"


def test_sizes_read_as_people_read_them() -> None:
    assert [nbv.size_text(n) for n in (512, 3 * 1024, 64 * 2**20)] == ["512 B", "3 kB", "64.0 MB"]


def test_render_track_video_keeps_the_tracks_clock(example: tuple[Any, Any], tmp_path: Path) -> None:
    from workbench.io.video import probe

    track, analysis = example
    out = nbv.render_track_video(_result(example), tmp_path / "skeleton.mp4")
    info = probe(out)
    assert info.duration_s == pytest.approx(float(track.t[-1]) + 1 / analysis.fps, abs=0.1)
