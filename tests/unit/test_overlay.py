"""Overlay: skeleton pixels where the landmarks are, text drawn, timeline lookups, mp4 and PNG output."""

from __future__ import annotations

import math
from fractions import Fraction
from pathlib import Path

import av
import cv2
import numpy as np
import pytest

from workbench.io.video import iter_frames, probe
from workbench.motion.results import Analysis, Rep, Violation
from workbench.pose.landmarks import MP_INDEX, N_LANDMARKS, LandmarkTrack
from workbench.pose.track import PoseTrack
from workbench.render import JOINT_ANCHORS, OverlayTimeline, joint_angles_deg, render_frame, render_overlay, render_png
from workbench.render.overlay import CENTER_COLOR, ISSUE_COLOR, LEFT_COLOR, RIGHT_COLOR, STATUS_COLOR, TEXT_COLOR
from workbench.skeleton import JOINT_NAMES, N_DOFS, dof_index

W, H = 320, 240
GREY = 90
MESSAGE = "Right knee flexion insufficient (85° detected, 90° required)"

# An upper body facing the camera, on whole pixels of a 320×240 frame (the person's right on image left).
POSE = {
    "left_shoulder": (200, 60),
    "right_shoulder": (120, 60),
    "left_elbow": (200, 120),
    "right_elbow": (120, 120),
    "left_wrist": (200, 170),
    "right_wrist": (120, 170),
    "left_hip": (180, 150),
    "right_hip": (140, 150),
    "left_knee": (180, 210),
    "right_knee": (140, 210),
}


def landmarks_row(w: int = W, h: int = H) -> np.ndarray:
    row = np.full((N_LANDMARKS, 2), np.nan)
    for name, (x, y) in POSE.items():
        row[MP_INDEX[name]] = (x / W, y / H)
    return row


def grey(w: int = W, h: int = H) -> np.ndarray:
    return np.full((h, w, 3), GREY, np.uint8)


def mask(img: np.ndarray, color: tuple[int, int, int], tol: int = 0) -> np.ndarray:
    """Pixels of one colour; text is anti-aliased, so text tests allow a tolerance."""
    return np.asarray((np.abs(img.astype(int) - np.array(color)) <= tol).all(axis=2))


# ------------------------------------------------------------------------------------------- drawing


def test_skeleton_pixels_at_the_landmarks() -> None:
    src = grey()
    out = render_frame(src, landmarks_row(), {}, None, [], lost=False)
    assert out.shape == src.shape and out.dtype == np.uint8
    assert (src == GREY).all(), "the input frame must not be modified"
    assert out[90, 120].tolist() == list(RIGHT_COLOR)  # right upper arm, half way down
    assert out[90, 200].tolist() == list(LEFT_COLOR)  # left upper arm
    assert out[60, 160].tolist() == list(CENTER_COLOR)  # shoulder line crosses the body
    assert out[120, 120].tolist() == list(RIGHT_COLOR)  # right elbow dot
    assert out[210, 180].tolist() == list(LEFT_COLOR)  # left knee dot
    assert out[20, 300].tolist() == [GREY] * 3 and out[230, 20].tolist() == [GREY] * 3  # nothing elsewhere
    assert mask(out, RIGHT_COLOR)[:, 160:].sum() == 0 and mask(out, LEFT_COLOR)[:, :160].sum() == 0


def test_missing_landmarks_draw_nothing() -> None:
    row = landmarks_row()
    row[MP_INDEX["right_elbow"]] = np.nan
    out = render_frame(grey(), row, {}, None, [], lost=False)
    assert out[90, 120].tolist() == [GREY] * 3  # both edges at the elbow are gone
    assert out[90, 200].tolist() == list(LEFT_COLOR)
    blank = render_frame(grey(), np.full((N_LANDMARKS, 2), np.nan), {}, None, [], lost=False)
    assert (blank == GREY).all()
    assert (render_frame(grey(), None, {}, None, [], lost=False) == GREY).all()


def test_angle_written_beside_its_joint_away_from_the_body() -> None:
    base = render_frame(grey(), landmarks_row(), {}, None, [], lost=False)
    out = render_frame(grey(), landmarks_row(), {"tibia_r": 92.0, "tibia_l": 40.0}, None, [], lost=False)
    text = mask(out, TEXT_COLOR, tol=60) & ~mask(base, TEXT_COLOR, tol=60)
    ys, xs = np.nonzero(text)
    assert ys.size > 30
    right = xs < 140  # R knee at x=140 (image left): its label lies to the left, on the knee's row
    assert right.any() and (~right).any()
    assert abs(np.median(ys[right]) - 210) < 15 and abs(np.median(ys[~right]) - 210) < 15
    assert xs[~right].min() > 180  # the L knee's label starts to the right of the left knee at x=180


def test_angle_without_a_visible_joint_goes_to_the_corner() -> None:
    out = render_frame(grey(), None, {"tibia_r": 92.0}, None, [], lost=False)
    ys, xs = np.nonzero(mask(out, TEXT_COLOR, tol=60))
    assert ys.size > 30 and xs.min() > W / 2 and ys.min() > H / 2


def test_rep_label_issues_and_status_drawn() -> None:
    out = render_frame(grey(), None, {}, "Rep 2/5", [MESSAGE], lost=True, status="Low pose confidence (0.20)")
    ys, _ = np.nonzero(mask(out, TEXT_COLOR, tol=60))
    assert ys.size > 30 and ys.max() < H / 4  # rep label, top left
    ys, _ = np.nonzero(mask(out, ISSUE_COLOR, tol=60))
    assert ys.size > 30 and ys.max() < H / 2
    ys, _ = np.nonzero(mask(out, STATUS_COLOR, tol=60))
    assert ys.size > 30 and ys.min() > H * 3 / 4  # status line, bottom
    quiet = render_frame(grey(), None, {}, "Rep 2/5", [MESSAGE], lost=False)
    assert mask(quiet, STATUS_COLOR, tol=60).sum() == 0


def test_text_scales_with_the_frame_and_wraps_in_portrait() -> None:
    small = render_frame(grey(), None, {}, "Rep 1/1", [], lost=False)
    big = render_frame(grey(960, 720), None, {}, "Rep 1/1", [], lost=False)
    assert mask(big, TEXT_COLOR, tol=60).sum() > 4 * mask(small, TEXT_COLOR, tol=60).sum()
    portrait = render_frame(grey(360, 640), None, {}, None, [MESSAGE], lost=False)
    ys, xs = np.nonzero(mask(portrait, ISSUE_COLOR, tol=60))
    one_line = render_frame(grey(360, 640), None, {}, None, ["Knee (85° detected)"], lost=False)
    ys1, _ = np.nonzero(mask(one_line, ISSUE_COLOR, tol=60))
    assert xs.max() < 360 - 3  # kept inside the frame...
    assert ys.max() - ys.min() > 1.6 * (ys1.max() - ys1.min())  # ...by wrapping onto a second line


def test_anchors_cover_every_joint_with_real_landmarks() -> None:
    assert set(JOINT_ANCHORS) == set(JOINT_NAMES)
    assert all(name in MP_INDEX for names in JOINT_ANCHORS.values() for name in names)


# ------------------------------------------------------------------------------------------ timeline

FPS = 30
N = 45  # 1.5 s


def tracks(n: int = N) -> tuple[LandmarkTrack, PoseTrack, Analysis]:
    t = np.arange(n) / FPS
    image = np.repeat(landmarks_row()[None], n, axis=0)
    visibility = np.ones((n, N_LANDMARKS))
    visibility[5, MP_INDEX["right_elbow"]] = 0.1
    lm = LandmarkTrack(
        world=np.zeros((n, N_LANDMARKS, 3)), visibility=visibility, t=t, image=image, image_size=(W, H), source="test"
    )
    q = np.zeros((n, N_DOFS))
    q[:, dof_index("knee_angle_r")] = np.radians(np.linspace(0, 90, n))
    confidence = np.ones(n)
    confidence[20:23] = 0.0
    confidence[30] = 0.3
    pose = PoseTrack.from_arrays(q, fps=FPS, confidence=confidence)
    violation = Violation(
        rep=0,
        check="knee_depth",
        joint="tibia_r",
        dof="knee_angle_r",
        type="dynamic",
        value_deg=85.0,
        target_deg=90.0,
        bounds_deg=(90.0, None),
        deviation_deg=5.0,
        message=MESSAGE,
        cue="Sit deeper",
        phase="bottom",
        t_s=0.6,
        source="test",
    )
    rep = Rep(index=0, start_s=0.3, end_s=1.0, kind="rep", quality=None, phases=(), violations=(violation,))
    analysis = Analysis(
        exercise="squat",
        fps=FPS,
        n_frames=n,
        duration_s=n / FPS,
        salient_joints=["tibia_r"],
        reps=[rep],
        context_morph="",
        context_motion="",
        feedback=[],
        warnings=[],
    )
    return lm, pose, analysis


def test_timeline_rep_state() -> None:
    timeline = OverlayTimeline(*tracks())
    assert (timeline.at(0.1).rep_label, timeline.at(0.1).issues) == (None, [])
    assert (timeline.at(0.4).rep_label, timeline.at(0.4).issues) == ("Rep 1/1", [])  # fault not yet measured
    assert (timeline.at(0.7).rep_label, timeline.at(0.7).issues) == ("Rep 1/1", [MESSAGE])
    assert (timeline.at(1.2).rep_label, timeline.at(1.2).issues) == ("Rep 1/1 done", [MESSAGE])


def test_timeline_angles_landmarks_and_lost_frames() -> None:
    timeline = OverlayTimeline(*tracks())
    a = timeline.at(10 / FPS)
    assert a.angles_deg == {"tibia_r": pytest.approx(90 * 10 / (N - 1))}
    assert not a.lost and a.landmarks is not None
    dim = timeline.at(5 / FPS).landmarks  # the right elbow's visibility is 0.1 there: not drawn
    assert dim is not None and np.isnan(dim[MP_INDEX["right_elbow"]]).all()
    lost = timeline.at(21 / FPS)
    assert lost.lost and lost.status is not None and lost.status.startswith("Pose lost")
    low = timeline.at(30 / FPS)
    assert low.lost and low.status == "Low pose confidence (0.30)"
    assert timeline.at(10.0).angles_deg == {} and timeline.at(10.0).lost  # far past the track: no pose


def test_joint_angles_skip_unobserved_and_nan() -> None:
    q = np.zeros(N_DOFS)
    q[dof_index("knee_angle_r")] = math.radians(30)
    q[dof_index("hip_flexion_r")] = np.nan
    observed = np.ones(N_DOFS, bool)
    observed[dof_index("elbow_flexion_r")] = False
    got = joint_angles_deg(q, ["tibia_r", "femur_r", "ulna_r", "pelvis"], observed)
    assert got == {"tibia_r": pytest.approx(30.0), "pelvis": 0.0}


# -------------------------------------------------------------------------------------------- output


def source_clip(path: Path, n: int, fps: int) -> Path:
    container = av.open(str(path), "w")
    stream = container.add_stream("libx264", rate=fps, options={"preset": "ultrafast"})
    stream.width, stream.height, stream.pix_fmt = W, H, "yuv420p"
    for i in range(n):
        frame = av.VideoFrame.from_ndarray(grey(), format="rgb24")
        frame.pts, frame.time_base = i, Fraction(1, fps)
        container.mux(stream.encode(frame))
    container.mux(stream.encode(None))
    container.close()
    return path


@pytest.mark.parametrize("source_fps", [30, 60])
def test_render_overlay_writes_aligned_mp4(tmp_path: Path, source_fps: int) -> None:
    clip = source_clip(tmp_path / "in.mp4", round(N * source_fps / FPS), source_fps)
    out = render_overlay(clip, *tracks(), tmp_path / "overlay.mp4", fps=FPS)
    info = probe(out)
    assert (info.width, info.height, info.codec, info.n_frames) == (W, H, "h264", N)
    assert info.fps == pytest.approx(FPS)
    frames = list(iter_frames(out, fps=None))
    assert len(frames) == N
    np.testing.assert_allclose([f.t_s for f in frames], np.arange(N) / FPS, atol=1e-6)
    for f in frames:  # every frame carries the skeleton (the line's colour survives H.264 near its centre)
        assert np.abs(f.rgb[80:100, 198:203].astype(int) - LEFT_COLOR).sum(axis=2).min() < 60
    arm = np.s_[80:100, 118:123]  # frame 5: the right elbow is barely visible, so its edges are not drawn
    assert np.abs(frames[5].rgb[arm].astype(int) - RIGHT_COLOR).sum(axis=2).min() > 150
    assert np.abs(frames[6].rgb[arm].astype(int) - RIGHT_COLOR).sum(axis=2).min() < 60
    header = np.s_[:40, :200]  # frame 0 comes before the rep: empty header; frame 20 (0.67 s): label + fault
    assert np.abs(frames[0].rgb[header].astype(int) - GREY).max() < 40
    assert np.abs(frames[20].rgb[header].astype(int) - GREY).max() > 100


def test_render_png(tmp_path: Path) -> None:
    clip = source_clip(tmp_path / "in.mp4", N, FPS)
    out = render_png(clip, *tracks(), tmp_path / "frame.png", t_s=0.7)
    bgr = cv2.imread(str(out))
    assert bgr is not None, "the PNG must decode"
    img = cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
    assert img.shape == (H, W, 3)
    assert np.abs(img[90, 120].astype(int) - RIGHT_COLOR).max() <= 2  # lossless: skeleton colour exact
    assert mask(img, ISSUE_COLOR, tol=60).sum() > 30  # the fault measured at 0.6 s is shown at 0.7 s
