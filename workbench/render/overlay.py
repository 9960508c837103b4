"""Overlay: the clip with the skeleton, the salient joints' angles, the rep index and the current faults.

Frames are RGB (as ``workbench.io.video`` yields them); colours below are RGB. Everything scales with the
frame's shorter side so text stays legible from 360p landscape to 1080×1920 portrait, and every piece of
text is drawn twice (dark outline, light fill) so it reads on any background.

Time alignment: the overlay decodes the clip with ``iter_frames(fps=...)``, whose timestamps start at 0 at
the first frame, the same clock the pose backends put on the tracks. Each output frame takes the track
sample nearest its timestamp (within half a track frame, else the frame counts as having no pose).
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np
from numpy.typing import NDArray

from workbench.io.video import VideoError, iter_frames, read_frame_at, write_video
from workbench.motion.results import Analysis, Rep
from workbench.pose.landmarks import MP_EDGES, MP_INDEX, LandmarkTrack
from workbench.pose.track import PoseTrack
from workbench.skeleton import joint

RGB = tuple[int, int, int]
RGBArray = NDArray[np.uint8]

LEFT_COLOR: RGB = (0, 170, 255)  # the person's left side
RIGHT_COLOR: RGB = (255, 140, 0)
CENTER_COLOR: RGB = (235, 235, 235)
TEXT_COLOR: RGB = (255, 255, 255)
ISSUE_COLOR: RGB = (255, 90, 90)
STATUS_COLOR: RGB = (255, 220, 0)
OUTLINE_COLOR: RGB = (0, 0, 0)

# Where each SKEL joint's angle is written: the landmark (or the midpoint of several) it sits at.
JOINT_ANCHORS: dict[str, tuple[str, ...]] = {
    "pelvis": ("left_hip", "right_hip"),
    "lumbar_body": ("left_hip", "right_hip", "left_shoulder", "right_shoulder"),
    "thorax": ("left_shoulder", "right_shoulder"),
    "head": ("nose",),
    **{f"{j}_{s}": (f"{side}_{lm}",)
       for s, side in (("r", "right"), ("l", "left"))
       for j, lm in (("femur", "hip"), ("tibia", "knee"), ("talus", "ankle"), ("calcn", "heel"),
                     ("toes", "foot_index"), ("scapula", "shoulder"), ("humerus", "shoulder"), ("ulna", "elbow"),
                     ("hand", "wrist"))},
    "radius_r": ("right_elbow", "right_wrist"),
    "radius_l": ("left_elbow", "left_wrist"),
}  # fmt: skip

# Landmarks seen with less visibility than this are not drawn (MediaPipe's own drawing uses 0.5).
MIN_VISIBILITY = 0.5
# Pose confidence under this marks the frame as low-confidence in the status line.
LOW_CONFIDENCE = 0.5
# At most this many fault lines; the rest are summarised as "+N more".
MAX_ISSUE_LINES = 4


# ------------------------------------------------------------------------------------------------ text


@dataclass(frozen=True)
class _Style:
    """Sizes derived from the frame: Hershey font scale, stroke widths, margins."""

    scale: float
    thick: int
    line: int
    radius: int
    margin: int

    @classmethod
    def for_shape(cls, shape: tuple[int, ...]) -> _Style:
        short = min(shape[0], shape[1])
        scale = min(2.5, max(0.3, short / 560))
        return cls(scale=scale, thick=max(1, round(scale * 1.6)), line=max(2, round(short / 150)),
                   radius=max(3, round(short / 120)), margin=max(4, round(short / 60)))  # fmt: skip

    @property
    def line_height(self) -> int:
        return round(30 * self.scale)


_FONT = cv2.FONT_HERSHEY_SIMPLEX


def _pieces(text: str) -> list[str]:
    """Hershey fonts have no '°': text is drawn in pieces with a small circle for each degree sign."""
    return text.split("°")


def _text_width(text: str, st: _Style) -> int:
    pieces = _pieces(text)
    w = sum(cv2.getTextSize(p, _FONT, st.scale, st.thick)[0][0] for p in pieces)
    return w + (len(pieces) - 1) * _degree_width(st)


def _degree_width(st: _Style) -> int:
    return max(4, round(9 * st.scale)) + st.thick


def _put_text(img: RGBArray, text: str, org: tuple[int, int], st: _Style, color: RGB) -> None:
    """Outlined text with its baseline's left end at ``org`` (in place)."""
    for col, extra in ((OUTLINE_COLOR, 2 * st.thick + 1), (color, 0)):
        x, y = org
        for i, piece in enumerate(_pieces(text)):
            if i:
                r = max(2, round(4 * st.scale))
                centre = (x + r + 1, y - round(22 * st.scale) + r)
                cv2.circle(img, centre, r, col, st.thick + extra, cv2.LINE_AA)
                x += _degree_width(st)
            cv2.putText(img, piece, (x, y), _FONT, st.scale, col, st.thick + extra, cv2.LINE_AA)
            x += cv2.getTextSize(piece, _FONT, st.scale, st.thick)[0][0]


def _wrap(text: str, width: int, st: _Style) -> list[str]:
    lines: list[str] = []
    for word in text.split():
        if lines and _text_width(f"{lines[-1]} {word}", st) <= width:
            lines[-1] = f"{lines[-1]} {word}"
        else:
            lines.append(word)
    return lines


# --------------------------------------------------------------------------------------------- drawing


def _side_color(a: str, b: str) -> RGB:
    if a.startswith("left") and b.startswith("left"):
        return LEFT_COLOR
    if a.startswith("right") and b.startswith("right"):
        return RIGHT_COLOR
    return CENTER_COLOR


def _pixels(landmarks: NDArray[np.float64], shape: tuple[int, ...]) -> NDArray[np.float64]:
    """Normalised (x, y) → pixel coordinates of this frame; NaN stays NaN."""
    return np.asarray(landmarks, dtype=np.float64) * np.array([shape[1], shape[0]], dtype=np.float64)


def _pt(p: NDArray[np.float64]) -> tuple[int, int]:
    return round(float(p[0])), round(float(p[1]))


def _draw_skeleton(img: RGBArray, px: NDArray[np.float64], st: _Style) -> None:
    """MP_EDGES as lines, then the landmarks they join as dots (in place); NaN landmarks are skipped."""
    used: dict[str, RGB] = {}
    for a, b in MP_EDGES:
        pa, pb = px[MP_INDEX[a]], px[MP_INDEX[b]]
        if np.isfinite(pa).all() and np.isfinite(pb).all():
            cv2.line(img, _pt(pa), _pt(pb), _side_color(a, b), st.line, cv2.LINE_AA)
            used.setdefault(a, _side_color(a, a))
            used.setdefault(b, _side_color(b, b))
    for name, color in used.items():
        centre = _pt(px[MP_INDEX[name]])
        cv2.circle(img, centre, st.radius + 1, OUTLINE_COLOR, -1, cv2.LINE_AA)
        cv2.circle(img, centre, st.radius, color, -1, cv2.LINE_AA)


def _anchor(px: NDArray[np.float64] | None, joint_name: str) -> NDArray[np.float64] | None:
    names = JOINT_ANCHORS.get(joint_name)
    if px is None or names is None:
        return None
    p = px[[MP_INDEX[n] for n in names]].mean(axis=0)
    return p if np.isfinite(p).all() else None


def _angle_text(joint_name: str, value_deg: float) -> str:
    label = joint(joint_name).label.replace("right ", "R ").replace("left ", "L ")
    return f"{label} {value_deg:.0f}°"


def _draw_angles(img: RGBArray, px: NDArray[np.float64] | None, angles_deg: Mapping[str, float], st: _Style) -> None:
    """Each angle beside its joint, on the side away from the body's centre line; angles whose joint is not
    in view are listed in the bottom-right corner instead, so no number silently disappears."""
    centre_x = float(np.nanmean(px[:, 0])) if px is not None and np.isfinite(px[:, 0]).any() else img.shape[1] / 2
    stacked: dict[tuple[int, int], int] = {}  # joints sharing an anchor (shoulder: scapula + humerus) stack
    corner: list[str] = []
    for name, value in angles_deg.items():
        if not math.isfinite(value):
            continue
        text, p = _angle_text(name, value), _anchor(px, name)
        if p is None:
            corner.append(text)
            continue
        key = _pt(p)
        row = stacked.get(key, 0)
        stacked[key] = row + 1
        x = key[0] + 2 * st.radius if p[0] >= centre_x else key[0] - 2 * st.radius - _text_width(text, st)
        y = key[1] + round(st.line_height * (row + 0.35))
        _put_text(img, text, _clamp(img, text, x, y, st), st, TEXT_COLOR)
    for i, text in enumerate(reversed(corner)):  # bottom right, above the status line, clear of the header
        x = img.shape[1] - st.margin - _text_width(text, st)
        _put_text(img, text, (x, img.shape[0] - st.margin - st.line_height * (i + 1)), st, TEXT_COLOR)


def _clamp(img: RGBArray, text: str, x: int, y: int, st: _Style) -> tuple[int, int]:
    """Keep a label inside the frame (a joint at the edge would push its label off-screen)."""
    x = min(max(st.margin, x), img.shape[1] - st.margin - _text_width(text, st))
    y = min(max(st.line_height, y), img.shape[0] - st.margin)
    return max(0, x), y


def _draw_header(img: RGBArray, rep_label: str | None, issues: Sequence[str], st: _Style) -> None:
    """Rep label, then the faults (wrapped to the frame width), top left."""
    width = img.shape[1] - 2 * st.margin
    y = st.margin + st.line_height
    if rep_label:
        _put_text(img, rep_label, (st.margin, y), st, TEXT_COLOR)
        y += st.line_height
    lines = [line for issue in issues for line in _wrap(issue, width, st)]
    if len(lines) > MAX_ISSUE_LINES:
        lines = [*lines[: MAX_ISSUE_LINES - 1], f"+{len(lines) - MAX_ISSUE_LINES + 1} more lines"]
    for line in lines:
        _put_text(img, line, (st.margin, y), st, ISSUE_COLOR)
        y += st.line_height


def render_frame(
    rgb: RGBArray,
    image_landmarks_row: NDArray[np.float64] | None,
    angles_deg: Mapping[str, float],
    rep_label: str | None,
    issues: Sequence[str],
    lost: bool,
    *,
    status: str | None = None,
) -> RGBArray:
    """A copy of ``rgb`` (H×W×3 uint8) with the overlay drawn.

    image_landmarks_row: (33, 2) normalised image coordinates (x right, y down), NaN for landmarks not to
        draw; None draws no skeleton.
    angles_deg: SKEL joint name → angle in degrees, written beside the joint (``JOINT_ANCHORS``).
    rep_label / issues: top-left header ("Rep 2/5" and the fault messages).
    lost: the pose is lost or low-confidence on this frame: a status line (``status`` or a default) is
        written at the bottom.
    """
    img = np.ascontiguousarray(rgb, dtype=np.uint8).copy()
    st = _Style.for_shape(img.shape)
    px = None if image_landmarks_row is None else _pixels(image_landmarks_row, img.shape)
    if px is not None:
        _draw_skeleton(img, px, st)
    _draw_angles(img, px, angles_deg, st)
    _draw_header(img, rep_label, issues, st)
    if lost:
        text = status or "Pose lost: showing the last valid pose"
        _put_text(img, text, (st.margin, img.shape[0] - st.margin), st, STATUS_COLOR)
    return img


# ------------------------------------------------------------------------------------------- timeline


@dataclass(frozen=True)
class FrameAnnotation:
    """Everything ``render_frame`` needs for one timestamp."""

    landmarks: NDArray[np.float64] | None
    angles_deg: dict[str, float]
    rep_label: str | None
    issues: list[str]
    lost: bool
    status: str | None = None


def joint_angles_deg(
    q_row: NDArray[np.float64], joints: Sequence[str], observed: NDArray[np.bool_]
) -> dict[str, float]:
    """The primary angle of each joint in degrees (the same angle the pose-state text reports); joints whose
    primary DoF the source does not observe, or has no value for on this frame, are left out."""
    out: dict[str, float] = {}
    for name in joints:
        d = joint(name).primary_dof
        if observed[d] and math.isfinite(q_row[d]):
            out[name] = math.degrees(float(q_row[d]))
    return out


def _nearest(t: NDArray[np.float64], t_s: float) -> int | None:
    """Index of the sample nearest ``t_s``, or None when the nearest is more than half an interval away."""
    if t.size == 0:
        return None
    i = int(np.clip(np.searchsorted(t, t_s), 1, t.size - 1)) if t.size > 1 else 0
    if t.size > 1 and abs(t[i - 1] - t_s) <= abs(t[i] - t_s):
        i -= 1
    half = 0.5 * float(np.median(np.diff(t))) if t.size > 1 else math.inf
    return i if abs(t[i] - t_s) <= half + 1e-9 else None


@dataclass
class OverlayTimeline:
    """Looks up the annotation for a timestamp from the tracks and the analysis."""

    landmarks: LandmarkTrack | None
    pose: PoseTrack
    analysis: Analysis
    reps: list[Rep] = field(init=False)

    def __post_init__(self) -> None:
        self.reps = sorted(self.analysis.reps, key=lambda r: r.start_s)

    def at(self, t_s: float) -> FrameAnnotation:
        i = _nearest(self.pose.t, t_s)
        angles = {} if i is None else joint_angles_deg(self.pose.q[i], self.analysis.salient_joints, self.pose.observed)
        conf = 0.0 if i is None else float(self.pose.confidence[i])
        rep_label, issues = self._rep_state(t_s)
        status = "Pose lost: showing the last valid pose" if conf <= 0 else f"Low pose confidence ({conf:.2f})"
        return FrameAnnotation(landmarks=self._landmarks(t_s), angles_deg=angles, rep_label=rep_label,
                               issues=issues, lost=conf < LOW_CONFIDENCE, status=status)  # fmt: skip

    def _landmarks(self, t_s: float) -> NDArray[np.float64] | None:
        track = self.landmarks
        if track is None or track.image is None:
            return None
        i = _nearest(track.t, t_s)
        if i is None or not track.detected[i]:
            return None
        row = track.image[i].copy()
        row[track.visibility[i] < MIN_VISIBILITY] = np.nan
        return row

    def _rep_state(self, t_s: float) -> tuple[str | None, list[str]]:
        """Inside a rep: its number and the faults already measured in it (a fault appears at the moment it
        is measured); between reps: the last completed rep and all its faults; before the first: nothing."""
        n = len(self.reps)
        half = 0.5 / self.analysis.fps if self.analysis.fps > 0 else 0.0
        for rep in self.reps:
            if rep.start_s - half <= t_s <= rep.end_s + half:
                return _rep_name(rep, n), [v.message for v in rep.violations if v.t_s <= t_s + half]
        done = [r for r in self.reps if r.end_s < t_s]
        if not done:
            return None, []
        last = done[-1]
        return f"{_rep_name(last, n)} done", [v.message for v in last.violations]


def _rep_name(rep: Rep, n: int) -> str:
    word = "Hold" if rep.kind == "hold" else "Rep"
    side = f" ({rep.side})" if rep.side else ""
    return f"{word} {rep.index + 1}/{n}{side}"


# ------------------------------------------------------------------------------------------ rendering


def _annotated(timeline: OverlayTimeline, frames: Iterator[tuple[float, RGBArray]]) -> Iterator[RGBArray]:
    for t_s, rgb in frames:
        a = timeline.at(t_s)
        yield render_frame(rgb, a.landmarks, a.angles_deg, a.rep_label, a.issues, a.lost, status=a.status)


def render_overlay(
    video_path: str | Path,
    landmark_track: LandmarkTrack | None,
    pose_track: PoseTrack,
    analysis: Analysis,
    out_path: str | Path,
    fps: float = 30.0,
    *,
    max_side: int | None = None,
    crf: int = 23,
    warnings_out: list[str] | None = None,
) -> Path:
    """Write the annotated clip as H.264 mp4: the video resampled to ``fps`` (the analysis rate, so output
    frame k is analysis time k / fps), each frame annotated from the tracks at that time."""
    timeline = OverlayTimeline(landmark_track, pose_track, analysis)
    frames = ((f.t_s, f.rgb) for f in iter_frames(video_path, fps=fps, max_side=max_side, warnings_out=warnings_out))
    return write_video(out_path, _annotated(timeline, frames), fps, crf=crf)


def render_png(
    video_path: str | Path,
    landmark_track: LandmarkTrack | None,
    pose_track: PoseTrack,
    analysis: Analysis,
    out_path: str | Path,
    t_s: float,
    *,
    max_side: int | None = None,
) -> Path:
    """One annotated frame, the one shown at ``t_s`` seconds, as PNG."""
    frame = read_frame_at(video_path, t_s, max_side=max_side)
    timeline = OverlayTimeline(landmark_track, pose_track, analysis)
    img = next(_annotated(timeline, iter([(t_s, frame.rgb)])))
    return save_png(img, out_path)


def save_png(rgb: RGBArray, out_path: str | Path) -> Path:
    """Write an RGB array as PNG (encoded in memory, so any path the OS accepts works)."""
    ok, buf = cv2.imencode(".png", cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))
    if not ok:
        raise VideoError(f"{Path(out_path).name}: PNG encoding failed for an array of shape {rgb.shape}")
    out = Path(out_path)
    out.write_bytes(buf.tobytes())
    return out
