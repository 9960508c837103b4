"""Overlay: the clip with the skeleton, the salient joints' angles, the rep index and the current faults.

The skeleton drawn is the fitted SKEL skeleton when a ``pose.reprojection.SkeletonFit`` is given (forward
kinematics of the angles the analysis judges, projected into the image), so an inverse-kinematics error shows;
MediaPipe's raw landmarks are then an optional faint layer (``raw_landmarks``). Without a fit (no image
landmarks) the raw landmarks are the skeleton. Angle labels sit by their joints on the drawn skeleton and are
placed by ``layout_labels``: each takes the first free spot around its joint (beside it away from the body's
centre line, then the other side, above, below, the diagonals, each a little further out), so no two labels
and no label and the header overlap; a label without a joint in view goes to a free slot of the bottom-right
column.

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

from workbench.body.reprojection import SkeletonFit
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
    **{
        f"{j}_{s}": (f"{side}_{lm}",)
        for s, side in (("r", "right"), ("l", "left"))
        for j, lm in (
            ("femur", "hip"),
            ("tibia", "knee"),
            ("talus", "ankle"),
            ("calcn", "heel"),
            ("toes", "foot_index"),
            ("scapula", "shoulder"),
            ("humerus", "shoulder"),
            ("ulna", "elbow"),
            ("hand", "wrist"),
        )
    },
    "radius_r": ("right_elbow", "right_wrist"),
    "radius_l": ("left_elbow", "left_wrist"),
}

# Landmarks seen with less visibility than this are not drawn (MediaPipe's own drawing uses 0.5).
MIN_VISIBILITY = 0.5
# Pose confidence under this marks the frame as low-confidence in the status line.
LOW_CONFIDENCE = 0.5
# At most this many fault lines; the rest are summarised as "+N more".
MAX_ISSUE_LINES = 4
# A frame whose fitted skeleton lies this far (% of body height) from MediaPipe's landmarks says so.
POOR_FIT_PCT = 5.0
RAW_COLOR: RGB = (200, 200, 200)


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
        return cls(
            scale=scale,
            thick=max(1, round(scale * 1.6)),
            line=max(2, round(short / 150)),
            radius=max(3, round(short / 120)),
            margin=max(4, round(short / 60)),
        )

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


def _draw_raw(img: RGBArray, px: NDArray[np.float64], st: _Style) -> None:
    """MediaPipe's own landmarks as a faint layer under the fitted skeleton: thin lines, hollow dots."""
    thin = max(1, st.line // 2)
    for a, b in MP_EDGES:
        pa, pb = px[MP_INDEX[a]], px[MP_INDEX[b]]
        if np.isfinite(pa).all() and np.isfinite(pb).all():
            cv2.line(img, _pt(pa), _pt(pb), RAW_COLOR, thin, cv2.LINE_AA)
    for p in px:
        if np.isfinite(p).all():
            cv2.circle(img, _pt(p), st.radius, RAW_COLOR, thin, cv2.LINE_AA)


def _anchor(px: NDArray[np.float64] | None, joint_name: str) -> NDArray[np.float64] | None:
    names = JOINT_ANCHORS.get(joint_name)
    if px is None or names is None:
        return None
    p = px[[MP_INDEX[n] for n in names]].mean(axis=0)
    return p if np.isfinite(p).all() else None


def _angle_text(joint_name: str, value_deg: float) -> str:
    label = joint(joint_name).label.replace("right ", "R ").replace("left ", "L ")
    return f"{label} {value_deg:.0f}°"


# ---------------------------------------------------------------------------------------- label layout

Box = tuple[int, int, int, int]  # x0, y0, x1, y1 in pixels (x1, y1 exclusive)


@dataclass(frozen=True)
class Label:
    """A text box to place: its size in pixels and the pixel position of its joint (None: not in view)."""

    text: str
    width: int
    height: int
    anchor: tuple[float, float] | None


def boxes_overlap(a: Box, b: Box) -> bool:
    return a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]


def layout_labels(
    labels: Sequence[Label],
    frame: tuple[int, int],
    *,
    gap: int,
    margin: int = 0,
    centre_x: float | None = None,
    obstacles: Sequence[Box] = (),
) -> list[Box | None]:
    """Boxes for ``labels`` (in order, first come first served) inside a ``frame`` of (width, height) pixels
    that overlap neither each other nor ``obstacles``. A label with a joint takes the free candidate nearest
    its joint: beside it at ``gap`` pixels on the side away from ``centre_x`` (the body's centre line), then the
    other side, each shifted up or down by half-heights, then above and below; a label without a joint, or
    with no free spot within four label heights, takes the lowest free slot of the bottom-right column. None:
    no free place at all (a label is dropped rather than drawn over another)."""
    width, height = frame
    taken: list[Box] = list(obstacles)
    out: list[Box | None] = []
    for label in labels:
        box = None
        if label.anchor is not None:
            box = _free(_candidates(label, gap, centre_x), taken, width, height, margin)
        if box is None:
            column = [
                (
                    width - margin - label.width,
                    height - margin - label.height * (k + 1),
                    width - margin,
                    height - margin - label.height * k,
                )
                for k in range(max(1, height // max(label.height, 1)))
            ]
            box = _free(column, taken, width, height, margin)
        if box is not None:
            taken.append(box)
        out.append(box)
    return out


def _candidates(label: Label, gap: int, centre_x: float | None) -> list[Box]:
    assert label.anchor is not None
    ax, ay = label.anchor
    w, h = label.width, label.height
    away = 1 if centre_x is None or ax >= centre_x else -1
    scored: list[tuple[float, int, Box]] = []
    order = 0
    steps = [k * h / 2 for k in range(-8, 9)]
    for side in (away, -away):
        x0 = ax + gap if side > 0 else ax - gap - w
        for dy in steps:
            y0 = ay - h / 2 + dy
            scored.append((abs(dy) + (0.0 if side == away else 0.5 * h), order, _box(x0, y0, w, h)))
            order += 1
    for up in (-1, 1):
        for k in range(4):
            y0 = ay - gap - h - k * h if up < 0 else ay + gap + k * h
            for dx in (0.0, away * w / 2, -away * w / 2):
                x0 = ax - w / 2 + dx
                scored.append((gap + h / 2 + k * h + abs(dx) + h, order, _box(x0, y0, w, h)))
                order += 1
    return [b for _, _, b in sorted(scored)]


def _box(x0: float, y0: float, w: int, h: int) -> Box:
    x, y = round(x0), round(y0)
    return x, y, x + w, y + h


def _free(candidates: Sequence[Box], taken: Sequence[Box], width: int, height: int, margin: int) -> Box | None:
    for box in candidates:
        inside = box[0] >= margin and box[1] >= margin and box[2] <= width - margin and box[3] <= height - margin
        if inside and not any(boxes_overlap(box, other) for other in taken):
            return box
    return None


def _text_size(text: str, st: _Style) -> tuple[int, int, int]:
    """Width and height of a label's box (text plus its outline) and the text's baseline offset in it."""
    (_, h), base = cv2.getTextSize("Ag", _FONT, st.scale, st.thick)
    pad = st.thick + 1
    return _text_width(text, st) + 2 * pad, h + base + 2 * pad, pad + h


def _draw_angles(
    img: RGBArray,
    px: NDArray[np.float64] | None,
    angles_deg: Mapping[str, float],
    st: _Style,
    obstacles: Sequence[Box] = (),
) -> list[Box | None]:
    """Each angle beside its joint (``layout_labels``); angles whose joint is not in view go to the
    bottom-right column, so no number silently disappears. Returns the boxes drawn."""
    centre_x = float(np.nanmean(px[:, 0])) if px is not None and np.isfinite(px[:, 0]).any() else img.shape[1] / 2
    labels, baselines = [], []
    for name, value in angles_deg.items():
        if not math.isfinite(value):
            continue
        text = _angle_text(name, value)
        w, h, base = _text_size(text, st)
        p = _anchor(px, name)
        labels.append(Label(text, w, h, None if p is None else (float(p[0]), float(p[1]))))
        baselines.append(base)
    boxes = layout_labels(
        labels,
        (img.shape[1], img.shape[0]),
        gap=2 * st.radius,
        margin=st.margin // 2,
        centre_x=centre_x,
        obstacles=obstacles,
    )
    pad = st.thick + 1
    for label, box, base in zip(labels, boxes, baselines, strict=True):
        if box is not None:
            _put_text(img, label.text, (box[0] + pad, box[1] + base), st, TEXT_COLOR)
    return boxes


def _draw_header(img: RGBArray, rep_label: str | None, issues: Sequence[str], st: _Style) -> list[Box]:
    """Rep label, then the faults (wrapped to the frame width), top left; returns the lines' boxes."""
    width = img.shape[1] - 2 * st.margin
    y = st.margin + st.line_height
    lines = [(rep_label, TEXT_COLOR)] if rep_label else []
    wrapped = [line for issue in issues for line in _wrap(issue, width, st)]
    if len(wrapped) > MAX_ISSUE_LINES:
        wrapped = [*wrapped[: MAX_ISSUE_LINES - 1], f"+{len(wrapped) - MAX_ISSUE_LINES + 1} more lines"]
    lines += [(line, ISSUE_COLOR) for line in wrapped]
    boxes: list[Box] = []
    for text, color in lines:
        _put_text(img, text, (st.margin, y), st, color)
        boxes.append(_line_box(text, st.margin, y, st))
        y += st.line_height
    return boxes


def _line_box(text: str, x: int, baseline: int, st: _Style) -> Box:
    w, h, base = _text_size(text, st)
    pad = st.thick + 1
    return x - pad, baseline - base, x - pad + w, baseline - base + h


def render_frame(
    rgb: RGBArray,
    image_landmarks_row: NDArray[np.float64] | None,
    angles_deg: Mapping[str, float],
    rep_label: str | None,
    issues: Sequence[str],
    lost: bool,
    *,
    status: str | None = None,
    skeleton_row: NDArray[np.float64] | None = None,
    note: str | None = None,
) -> RGBArray:
    """A copy of ``rgb`` (H×W×3 uint8) with the overlay drawn.

    image_landmarks_row: (33, 2) MediaPipe's landmarks in normalised image coordinates (x right, y down), NaN
        for landmarks not to draw; the skeleton when ``skeleton_row`` is None, else a faint layer under it.
    skeleton_row: (33, 2) the fitted skeleton's landmarks (``pose.reprojection``), normalised; drawn in full.
    angles_deg: SKEL joint name → angle in degrees, written beside the joint (``JOINT_ANCHORS``) on the
        skeleton drawn, placed so that no two labels overlap (``layout_labels``).
    rep_label / issues: top-left header ("Rep 2/5" and the fault messages).
    lost: the pose is lost or low-confidence on this frame: a status line (``status`` or a default) is
        written at the bottom. ``note``: a bottom line otherwise (e.g. a poor skeleton fit).
    """
    img = np.ascontiguousarray(rgb, dtype=np.uint8).copy()
    st = _Style.for_shape(img.shape)
    raw = None if image_landmarks_row is None else _pixels(image_landmarks_row, img.shape)
    fitted = None if skeleton_row is None else _pixels(skeleton_row, img.shape)
    if fitted is not None:
        if raw is not None:
            _draw_raw(img, raw, st)
        _draw_skeleton(img, fitted, st)
    elif raw is not None:
        _draw_skeleton(img, raw, st)
    obstacles = _draw_header(img, rep_label, issues, st)
    bottom = (status or "Pose lost: showing the last valid pose") if lost else note
    if bottom:
        _put_text(img, bottom, (st.margin, img.shape[0] - st.margin), st, STATUS_COLOR)
        obstacles.append(_line_box(bottom, st.margin, img.shape[0] - st.margin, st))
    _draw_angles(img, fitted if fitted is not None else raw, angles_deg, st, obstacles)
    return img


# ------------------------------------------------------------------------------------------- timeline


@dataclass(frozen=True)
class FrameAnnotation:
    """Everything ``render_frame`` needs for one timestamp. ``landmarks``: MediaPipe's (None when a fitted
    skeleton is drawn without the raw layer); ``skeleton``: the fitted skeleton's, when there is a fit;
    ``fit_error_pct``: its reprojection error on this frame (% of body height, NaN: not measured)."""

    landmarks: NDArray[np.float64] | None
    angles_deg: dict[str, float]
    rep_label: str | None
    issues: list[str]
    lost: bool
    status: str | None = None
    skeleton: NDArray[np.float64] | None = None
    fit_error_pct: float = math.nan

    @property
    def note(self) -> str | None:
        """The bottom line for a frame whose fitted skeleton lies far from MediaPipe's landmarks."""
        if math.isfinite(self.fit_error_pct) and self.fit_error_pct > POOR_FIT_PCT:
            return f"Skeleton fit off by {self.fit_error_pct:.1f}% of body height"
        return None


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
    """Looks up the annotation for a timestamp from the tracks and the analysis. With a ``fit`` the fitted
    skeleton is drawn, and MediaPipe's landmarks only as a faint layer when ``raw_landmarks``."""

    landmarks: LandmarkTrack | None
    pose: PoseTrack
    analysis: Analysis
    fit: SkeletonFit | None = None
    raw_landmarks: bool = False
    reps: list[Rep] = field(init=False)

    def __post_init__(self) -> None:
        self.reps = sorted(self.analysis.reps, key=lambda r: r.start_s)

    def at(self, t_s: float) -> FrameAnnotation:
        i = _nearest(self.pose.t, t_s)
        angles = {} if i is None else joint_angles_deg(self.pose.q[i], self.analysis.salient_joints, self.pose.observed)
        conf = 0.0 if i is None else float(self.pose.confidence[i])
        rep_label, issues = self._rep_state(t_s)
        status = "Pose lost: showing the last valid pose" if conf <= 0 else f"Low pose confidence ({conf:.2f})"
        skeleton, error = None, math.nan
        if self.fit is not None and i is not None and conf > 0:
            skeleton, _, error = self.fit.at(i)
        raw = self._landmarks(t_s) if self.fit is None or self.raw_landmarks else None
        return FrameAnnotation(
            landmarks=raw,
            angles_deg=angles,
            rep_label=rep_label,
            issues=issues,
            lost=conf < LOW_CONFIDENCE,
            status=status,
            skeleton=skeleton,
            fit_error_pct=error,
        )

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


def render_annotation(rgb: RGBArray, a: FrameAnnotation) -> RGBArray:
    """``render_frame`` of one timeline annotation."""
    return render_frame(
        rgb,
        a.landmarks,
        a.angles_deg,
        a.rep_label,
        a.issues,
        a.lost,
        status=a.status,
        skeleton_row=a.skeleton,
        note=a.note,
    )


def _annotated(timeline: OverlayTimeline, frames: Iterator[tuple[float, RGBArray]]) -> Iterator[RGBArray]:
    for t_s, rgb in frames:
        yield render_annotation(rgb, timeline.at(t_s))


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
    fit: SkeletonFit | None = None,
    raw_landmarks: bool = False,
) -> Path:
    """Write the annotated clip as H.264 mp4: the video resampled to ``fps`` (the analysis rate, so output
    frame k is analysis time k / fps), each frame annotated from the tracks at that time. With a ``fit``
    (``PoseEstimate.fit``) the fitted SKEL skeleton is drawn, MediaPipe's landmarks under it if ``raw_landmarks``."""
    timeline = OverlayTimeline(landmark_track, pose_track, analysis, fit=fit, raw_landmarks=raw_landmarks)
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
    fit: SkeletonFit | None = None,
    raw_landmarks: bool = False,
) -> Path:
    """One annotated frame, the one shown at ``t_s`` seconds, as PNG (``fit``, ``raw_landmarks``: as for
    ``render_overlay``)."""
    frame = read_frame_at(video_path, t_s, max_side=max_side)
    timeline = OverlayTimeline(landmark_track, pose_track, analysis, fit=fit, raw_landmarks=raw_landmarks)
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
