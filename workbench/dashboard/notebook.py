"""Live views for the notebooks (JupyterLab), made of the app's own parts.

Each view is a Panel component: in JupyterLab its widgets talk to the kernel through pyviz_comms' comm channel
(the JupyterLab extension installed with panel), so moving a slider re-runs the Python callback and redraws.
The figures, texts and edits come from the app itself: the Clip page's builders (``angle_figure``,
``readout_text``, ``motion_text``, ``rep_rows``, ``cycles_figure``, ``overlay_png``), the editor's functions
(``workbench.dashboard.editing``: preview, save, history, diff, runs, compare), the Review page's tables and
``workbench.render.overlay``. Nothing here analyses anything.

    from workbench.dashboard import notebook as nbv
    nbv.extension()                      # once per notebook: Panel's JS inlined, nothing from another host
    inspector = nbv.ClipInspector(result, exercise)
    inspector                            # the cursor slider moves the curve's cursor, the frame and the read-out
    inspector.slider.value = 9.5         # the same from code (what the notebooks' checks do)
    nbv.skeleton_3d(result, 9.5, exercise)  # the fitted skeleton in 3D alone (drag to rotate)

A clip with a video plays in the app's own player (``workbench.dashboard.player.VideoPlayer``: HTML5 video with the
skeleton on a canvas) synced with the cursor both ways; the app serves the file (``dashboard.media``), which a
notebook has no route for, so here the video travels inside the page as a ``data:`` URL (base64, as Panel's own
Video pane embeds a local file), up to ``MAX_VIDEO_BYTES``; a larger one, or a clip without a video, shows the
still frame with the skeleton instead, and ``ClipInspector.video_note`` says why. With a SKEL model configured
(``skel_model_dir``), the 3D view draws the SKEL bone mesh too (``workbench.render.skel_mesh``).
"""

from __future__ import annotations

import base64
import io
import math
import mimetypes
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import panel as pn

from workbench.batch.select import from_store
from workbench.dashboard import editing
from workbench.dashboard.pages.clip import (
    angle_figure,
    cursor_from_click,
    cycles_figure,
    frame_index,
    motion_text,
    overlay_png,
    readout_text,
    rep_rows,
    with_cursor,
)
from workbench.dashboard.pages.review import review_tables
from workbench.dashboard.player import VideoPlayer, frames_payload, player_fps
from workbench.pose.fk import forward_kinematics
from workbench.render.overlay import OverlayTimeline, render_frame
from workbench.render.skel_mesh import BoneMesh, clip_gender, configured_bone_mesh
from workbench.render.skeleton3d import clip_skeleton_figure
from workbench.skeleton import JOINT_NAMES
from workbench.store.database import ConflictError
from workbench.store.reviews import PulledLabel, ReviewRepository

NOTEBOOK_SERVER = "notebook"  # the "server" name labels recorded from a notebook's review form are filed under
CANVAS = (420, 360)  # height, width of the drawn skeleton when the clip has no video
BACKGROUND = (246, 247, 249)
FLOOR = 0.93  # where the feet stand, as a fraction of the canvas height
BODY_SPAN_M = 2.1  # metres the canvas height shows
MAX_VIDEO_BYTES = 64 * 1024 * 1024  # the largest video a notebook embeds (as base64: a third more in the page)
VIDEO_MIME = {
    ".mp4": "video/mp4",
    ".m4v": "video/mp4",
    ".mov": "video/quicktime",
    ".webm": "video/webm",
    ".ogv": "video/ogg",
    ".mkv": "video/x-matroska",
    ".avi": "video/x-msvideo",
}
CONFIGURED = "configured"  # skel_mesh=CONFIGURED: the SKEL model of the configuration file, if one is set


def _calls(fn: Callable[[], object]) -> Callable[[Any], None]:
    """A button callback that calls ``fn`` and drops what it returns."""

    def call(_event: Any) -> None:
        fn()

    return call


def extension(*extras: str) -> None:
    """Load Panel in the notebook with nothing from another host, so the notebooks work offline: the scripts (bokeh,
    panel, plotly, tabulator) inlined into the notebook, and the components' stylesheets from the Jupyter
    server itself (Panel's server extension, ``/panel-preview/static/extensions/panel/``, enabled in the venv)."""
    pn.extension("plotly", "tabulator", *extras, inline=True)
    _local_stylesheets()


def _local_stylesheets() -> None:
    """Panel (1.9) points its components' stylesheets at the server extension only when it renders with
    resources='server'; a notebook renders with 'inline' (or remote), which leaves them on Panel's public asset
    host. Render every notebook output as 'server' does: the same call, with the stylesheets (and later updates,
    through the document's ``dist_url``) patched to the local path."""
    import panel.io.notebook as nb

    if getattr(nb.render_model, "_workbench_local", False):
        return
    original = nb.render_model

    def render_model(model: Any, comm: Any = None, resources: str | None = None) -> Any:
        del resources  # whatever the caller asked for: the server's own stylesheets
        return original(model, comm, "server")

    render_model._workbench_local = True  # type: ignore[attr-defined]
    nb.render_model = render_model


# --------------------------------------------------------------------------------------------- clip


@dataclass(frozen=True)
class Shot:
    png: bytes
    note: str


def skeleton_frame(result: Any, t_s: float, *, view_yaw_deg: float = 60.0, raw_landmarks: bool = False) -> Shot:
    """The picture at ``t_s``: the video frame with the skeleton and angles (the Clip page's ``overlay_png``)
    when the clip has a video; otherwise the pose track's own skeleton (forward kinematics of its angles, seen
    turned by ``view_yaw_deg``) drawn by the same renderer with the same angle labels, rep and issues."""
    shot = overlay_png(result, t_s, raw_landmarks=raw_landmarks)
    if shot.png is not None:
        return Shot(shot.png, shot.note)
    from PIL import Image

    track = result.estimate.track
    i = frame_index(track.t, t_s)
    t_i = float(track.t[i]) if track.t.size else t_s
    h, w = CANVAS
    pts = np.asarray(forward_kinematics(track.q[i : i + 1], view_yaw=math.radians(view_yaw_deg)))[0]
    scale = h / BODY_SPAN_M  # pixels per metre
    hips = pts[[23, 24], :2].mean(axis=0)  # MediaPipe's hip landmarks
    lowest = float(np.nanmax(pts[:, 1]))  # y points down: the feet
    xy = np.column_stack([0.5 + (pts[:, 0] - hips[0]) * scale / w, FLOOR + (pts[:, 1] - lowest) * scale / h])
    a = OverlayTimeline(None, track, result.analysis).at(t_i)
    canvas = np.empty((h, w, 3), np.uint8)
    canvas[:] = BACKGROUND
    canvas[int(FLOOR * h) :, :] = (226, 229, 233)
    img = render_frame(canvas, xy, a.angles_deg, a.rep_label, a.issues, a.lost, status=a.status)
    buf = io.BytesIO()
    Image.fromarray(img).save(buf, format="PNG", compress_level=1)
    return Shot(buf.getvalue(), f"frame {i} at {t_i:.2f} s · skeleton from the pose track's angles (no video)")


def size_text(n_bytes: int) -> str:
    """A file size as people read it: 64.0 MB, 312 kB, 512 B."""
    if n_bytes >= 2**20:
        return f"{n_bytes / 2**20:.1f} MB"
    return f"{n_bytes / 1024:.0f} kB" if n_bytes >= 1024 else f"{n_bytes} B"


def video_mime(path: str | Path) -> str:
    """The MIME type of a video file, by its extension (``VIDEO_MIME``, else the system's table)."""
    suffix = Path(path).suffix.lower()
    return VIDEO_MIME.get(suffix) or mimetypes.guess_type(f"x{suffix}")[0] or "application/octet-stream"


def video_data_url(path: str | Path) -> str:
    """The whole file as a ``data:<mime>;base64,…`` URL, for a page with no route to the file (a notebook)."""
    p = Path(path)
    return f"data:{video_mime(p)};base64,{base64.b64encode(p.read_bytes()).decode('ascii')}"


def _bone_mesh(result: Any, skel_mesh: BoneMesh | str | None) -> BoneMesh | None:
    """``skel_mesh`` as given, or, for ``CONFIGURED``, the configured SKEL model of the clip's gender (None without
    one; a clear error when it is configured but missing)."""
    if skel_mesh == CONFIGURED:
        return configured_bone_mesh(gender=clip_gender(result))
    return skel_mesh if isinstance(skel_mesh, BoneMesh) else None


def skeleton_3d(
    result: Any,
    t_s: float,
    exercise: Any = None,
    *,
    height: int = 420,
    skel_mesh: BoneMesh | str | None = CONFIGURED,
) -> pn.pane.Plotly:
    """The fitted skeleton of ``result`` at ``t_s`` in 3D (``workbench.render.skeleton3d``), rotatable: the joints in
    violation in the rep under the cursor red and, given the exercise, its reference pose of the same phase in grey;
    the SKEL bone mesh too when a SKEL model is configured (``skel_mesh``: ``CONFIGURED``, a ``BoneMesh`` or None).
    Set ``pane.object = clip_skeleton_figure(result, t, exercise, skel_mesh=...)`` to move it; the camera stays
    where it was turned."""
    mesh = _bone_mesh(result, skel_mesh)
    return pn.pane.Plotly(
        clip_skeleton_figure(result, t_s, exercise, height=height, skel_mesh=mesh),
        height=height,
        sizing_mode="stretch_width",
        config={"displaylogo": False},
        css_classes=["skeleton-3d"],
    )


def render_track_video(result: Any, path: str | Path, *, view_yaw_deg: float = 60.0) -> Path:
    """The pose track's own skeleton (``skeleton_frame``) as an H.264 video, one frame per analysed frame on the
    track's clock (blank frames before its first sample, so the video's time is the track's): a video to play
    with a pose file that has none. Returns ``path``."""
    from PIL import Image

    from workbench.io.video import write_video

    track = result.estimate.track
    fps = player_fps(result)
    t0 = float(track.t[0]) if track.t.size else 0.0
    blank = np.empty((*CANVAS, 3), np.uint8)
    blank[:] = BACKGROUND

    def frames() -> Any:
        for _ in range(round(t0 * fps)):
            yield blank
        for t in track.t:
            png = skeleton_frame(result, float(t), view_yaw_deg=view_yaw_deg).png
            yield np.asarray(Image.open(io.BytesIO(png)).convert("RGB"))

    return write_video(path, frames(), fps)


class ClipInspector(pn.viewable.Viewer):
    """One analysed clip, linked by one time cursor: the salient angles with rep bands, violation markers and the
    cursor line; the clip's video in the app's player (``player``, synced both ways; ``video`` overrides the
    clip's own file, e.g. a pose file's source video) or, without one or above ``max_video_bytes``, the frame with
    the skeleton (``video_note`` says which and why); the skeleton in 3D (``skeleton_3d``, with the SKEL bone mesh
    when configured); the read-out (pose state at the cursor); C_motion as of the cursor; the rep table (select a
    row to jump) and, given the exercise, each rep's cycle over the reference envelope.
    Clicking the curves moves the cursor too; playing or stepping the video moves it as well."""

    def __init__(
        self,
        result: Any,
        exercise: Any = None,
        *,
        t_s: float | None = None,
        video: str | Path | None = None,
        max_video_bytes: int = MAX_VIDEO_BYTES,
        skel_mesh: BoneMesh | str | None = CONFIGURED,
        **params: Any,
    ) -> None:
        super().__init__(**params)
        self.result = result
        track, analysis = result.estimate.track, result.analysis
        t0, t1 = (float(track.t[0]), float(track.t[-1])) if track.t.size else (0.0, 1.0)
        step = 1.0 / analysis.fps if analysis.fps > 0 else 0.01
        start = t0 if t_s is None else float(np.clip(t_s, t0, t1))
        self.slider = pn.widgets.FloatSlider(
            name="Time cursor (s)",
            start=t0,
            end=max(t1, t0 + step),
            step=step,
            value=start,
            format="0.00",
            sizing_mode="stretch_width",
            css_classes=["cursor-slider"],
        )
        self._fig = angle_figure(result, start)
        self.angles = pn.pane.Plotly(self._fig, height=340, sizing_mode="stretch_width", config={"displaylogo": False})
        self.readout = pn.pane.Markdown(
            "",
            sizing_mode="stretch_width",
            css_classes=["cursor-readout"],
            styles={"font-size": "15px", "font-weight": "500"},
        )
        self.frame = pn.pane.PNG(None, width=CANVAS[1])
        self.frame_note = pn.pane.Markdown("", styles={"color": "#666", "font-size": "12px"})
        self.video_note = pn.pane.Markdown(
            "", styles={"color": "#666", "font-size": "12px"}, css_classes=["video-note"]
        )
        self.player: VideoPlayer | None = None
        self._from_player = False
        self._setup_player(video if video is not None else getattr(result.estimate, "video", None), max_video_bytes)
        self.motion = pn.pane.Markdown("", sizing_mode="stretch_width", css_classes=["c-motion"])
        self.table = pn.widgets.Tabulator(
            _reps_frame(analysis),
            disabled=True,
            selectable=1,
            show_index=False,
            layout="fit_data_table",
            height=180,
            sizing_mode="stretch_width",
        )
        self.cycles = (
            None
            if exercise is None
            else pn.pane.Plotly(
                cycles_figure(result, exercise), sizing_mode="stretch_width", config={"displaylogo": False}
            )
        )
        self.exercise = exercise
        self.skel_mesh = _bone_mesh(result, skel_mesh)
        self.skeleton3d = skeleton_3d(result, start, exercise, height=CANVAS[0], skel_mesh=self.skel_mesh)
        self.slider.param.watch(self._on_cursor, "value")
        self.angles.param.watch(self._on_click, "click_data")
        self.table.param.watch(self._on_select, "selection")
        self._on_cursor()

    def _setup_player(self, video: str | Path | None, max_bytes: int) -> None:
        """The player with the video embedded, or the reason there is none (``video_note``)."""
        if video is None:
            self.video_note.object = "No video with this clip: the skeleton is drawn from the pose track's angles."
            return
        path = Path(video)
        if not path.is_file():
            self.video_note.object = f"The clip's video `{path}` is not there: the skeleton is drawn without it."
            return
        size = path.stat().st_size
        if size > max_bytes:
            self.video_note.object = (
                f"`{path.name}` is {size_text(size)}, more than the {size_text(max_bytes)} a notebook embeds: "
                "still frames with the skeleton instead (the app, `biocoach app`, plays it)."
            )
            return
        self.player = VideoPlayer(
            src=video_data_url(path),
            fps=player_fps(self.result),
            time_s=float(self.slider.value or 0.0),
            frames=frames_payload(self.result),
            sizing_mode="stretch_width",
            min_height=200,
            css_classes=["clip-player"],
        )
        self.player.param.watch(self._on_player_time, "time_s")
        self.frame.visible = False
        self.video_note.object = (
            f"`{path.name}` ({video_mime(path)}, {size_text(size)}, embedded in the page): play or step it, "
            "and the cursor follows."
        )

    def at(self, t_s: float) -> ClipInspector:
        """Move the cursor to ``t_s`` (clamped to the clip), as dragging the slider does."""
        s = self.slider
        self.slider.value = float(np.clip(t_s, float(s.start or 0.0), float(s.end or 0.0)))
        return self

    def _on_player_time(self, event: Any) -> None:
        """The video played, stepped or was seeked: move the cursor there, without seeking the video back."""
        self._from_player = True
        try:
            self.at(float(event.new))
        finally:
            self._from_player = False

    def _on_cursor(self, _event: Any = None) -> None:
        t = float(self.slider.value or 0.0)
        self.readout.object = readout_text(self.result, t)
        self.angles.object = with_cursor(self._fig, t)
        if self.player is not None:  # the browser draws the video and its skeleton: no frame decoded here
            if not self._from_player:
                self.player.time_s = t
            self.frame_note.object = ""
        else:
            shot = skeleton_frame(self.result, t)
            self.frame.object, self.frame_note.object = shot.png, shot.note
        self.skeleton3d.object = clip_skeleton_figure(
            self.result, t, self.exercise, height=CANVAS[0], skel_mesh=self.skel_mesh
        )
        self.motion.object = "**C_motion** as of the cursor  \n" + motion_text(self.result, t).replace("\n", "  \n")

    def _on_click(self, event: Any) -> None:
        t = cursor_from_click(event.new)
        if t is not None:
            self.at(t)

    def _on_select(self, event: Any) -> None:
        reps = self.result.analysis.reps
        if event.new and 0 <= event.new[0] < len(reps):
            self.at(reps[event.new[0]].start_s)

    def __panel__(self) -> pn.viewable.Viewable:
        media: list[Any] = [self.player] if self.player is not None else [self.frame, self.frame_note]
        right = pn.Column(*media, self.video_note, self.skeleton3d, width=CANVAS[1] + 20)
        left = pn.Column(self.angles, self.motion, self.table, sizing_mode="stretch_width")
        parts: list[Any] = [self.slider, self.readout, pn.Row(left, right, sizing_mode="stretch_width")]
        if self.cycles is not None:
            parts.append(self.cycles)
        return pn.Column(*parts, sizing_mode="stretch_width")


def _reps_frame(analysis: Any) -> pd.DataFrame:
    cols = ["rep", "start (s)", "end (s)", "quality", "issues", "messages"]
    return pd.DataFrame(rep_rows(analysis), columns=cols)


# ---------------------------------------------------------------------------------------- thresholds


class ThresholdEditor(pn.viewable.Viewer):
    """Edit one threshold of an exercise, preview its effect on the open clip (nothing saved), save it as a new
    version (refused when someone else saved since it was read), and see the history and the diff: the
    editor page's functions on ``state``'s store and open clip (``AppState.show_clip``)."""

    def __init__(self, state: Any, exercise: str, *, author: str = "notebook", **params: Any) -> None:
        super().__init__(**params)
        self.state, self.exercise, self.author = state, exercise, author
        ids = [t.constraint_id for t in editing.current_thresholds(state.database(), exercise)]
        self.check = pn.widgets.Select(name="Check", options=ids, value=ids[0], width=200)
        self.lower = pn.widgets.FloatInput(name="Lower bound (°)", value=None, width=130)
        self.upper = pn.widgets.FloatInput(name="Upper bound (°)", value=None, width=130)
        self.max_std = pn.widgets.FloatInput(name="Max SD (°)", value=None, width=110)
        self.max_diff = pn.widgets.FloatInput(name="Max L/R diff (°)", value=None, width=120)
        self.note = pn.widgets.TextInput(name="Note", value="", width=260)
        self.preview_button = pn.widgets.Button(name="Preview", button_type="default")
        self.save_button = pn.widgets.Button(name="Save as a new version", button_type="primary")
        self.status = pn.pane.Markdown("", sizing_mode="stretch_width", css_classes=["editor-status"])
        self.preview_table = pn.widgets.Tabulator(
            pd.DataFrame(), disabled=True, show_index=False, height=180, sizing_mode="stretch_width"
        )
        self.history = pn.widgets.Tabulator(
            pd.DataFrame(), disabled=True, show_index=False, height=150, sizing_mode="stretch_width"
        )
        self.diff = pn.pane.Markdown("", sizing_mode="stretch_width")
        self.base_version = 0
        self.check.param.watch(lambda _e: self.load(), "value")
        self.preview_button.on_click(_calls(self.preview))
        self.save_button.on_click(_calls(self.save))
        self.load()

    def load(self) -> None:
        """Read the current version of the chosen check into the form."""
        cur = editing.get_threshold(self.state.database(), self.exercise, self.check.value)
        spec = cur.spec
        lo, hi = spec.bounds_deg or (None, None)
        self.base_version = cur.version
        self.lower.param.update(value=lo, disabled=spec.bounds_deg is None)
        self.upper.param.update(value=hi, disabled=spec.bounds_deg is None)
        self.max_std.param.update(value=spec.max_std_deg, disabled=spec.max_std_deg is None)
        self.max_diff.param.update(value=spec.max_diff_deg, disabled=spec.max_diff_deg is None)
        self.status.object = (
            f"`{self.check.value}` v{cur.version} by {cur.author} ({cur.note or 'no note'}): "
            f"{spec.kind} on `{spec.dof}`"
        )
        self._show_history()

    def changes(self) -> dict[str, Any]:
        """The form's values, for the fields the check uses."""
        out: dict[str, Any] = {}
        if not self.lower.disabled:
            out["bounds_deg"] = (self.lower.value, self.upper.value)
        if not self.max_std.disabled:
            out["max_std_deg"] = self.max_std.value
        if not self.max_diff.disabled:
            out["max_diff_deg"] = self.max_diff.value
        return out

    def preview(self) -> editing.Preview:
        p = editing.preview(self.state, self.exercise, self.check.value, self.changes())
        before, after = editing.violation_keys(p.before), editing.violation_keys(p.after)
        rows = [
            {**r, "change": "new" if (r["rep"] - 1, r["check"]) not in before else "kept"}
            for r in editing.violation_rows(p.after)
        ]
        rows += [
            {**r, "change": "gone"} for r in editing.violation_rows(p.before) if (r["rep"] - 1, r["check"]) not in after
        ]
        self.preview_table.value = pd.DataFrame(rows)
        self.status.object = (
            f"Preview (nothing saved): {len(p.before)} → {len(p.after)} violations on the open clip"
            + ("" if p.changed else " — no change")
        )
        return p

    def save(self) -> Any:
        try:
            saved = editing.save_threshold(
                self.state.database(),
                self.exercise,
                self.check.value,
                base_version=self.base_version,
                author=self.author,
                note=self.note.value or "",
                **self.changes(),
            )
        except ConflictError as exc:
            self.status.object = f"**Refused:** {exc}"
            return None
        self.base_version = saved.version
        self.status.object = f"Saved `{self.check.value}` v{saved.version}."
        self._show_history()
        return saved

    def _show_history(self) -> None:
        db, cid = self.state.database(), self.check.value
        rows = editing.threshold_history(db, self.exercise, cid)
        self.history.value = pd.DataFrame(rows)
        if len(rows) < 2:
            self.diff.object = "Only one version: no diff yet."
            return
        v1, v2 = rows[-2]["version"], rows[-1]["version"]
        d = editing.threshold_diff(db, self.exercise, cid, v1, v2)
        lines = "\n".join(f"- `{k}`: {a} → {b}" for k, (a, b) in d.items()) or "- (no field differs)"
        self.diff.object = f"**Diff v{v1} → v{v2}**\n{lines}"

    def __panel__(self) -> pn.viewable.Viewable:
        form = pn.Row(self.check, self.lower, self.upper, self.max_std, self.max_diff, self.note)
        return pn.Column(
            form,
            pn.Row(self.preview_button, self.save_button),
            self.status,
            self.preview_table,
            pn.pane.Markdown("**History**"),
            self.history,
            self.diff,
            sizing_mode="stretch_width",
        )


# --------------------------------------------------------------------------------------------- review


def record_label(db: Any, proposal_id: str, reviewer: str, status: str, joints: list[str], comment: str = "") -> int:
    """Store one expert decision on a proposal made in a notebook (accepted / corrected / rejected, with the
    joints kept), as a new label version exactly like a decision pulled from Label Studio."""
    now = datetime.now(UTC)
    with db.session() as s:
        repo = ReviewRepository(s)
        n = len(repo.history(proposal_id)) + 1
        label = PulledLabel(
            proposal_id=proposal_id,
            reviewer=reviewer,
            status=status,  # type: ignore[arg-type]
            content=list(joints),
            comment=comment,
            ls_task_id=0,
            reviewed_at=now,
            ls_annotation_id=n,
            ls_updated_at=now.isoformat(),
        )
        return repo.record_pulled(NOTEBOOK_SERVER, [label])


class ReviewDesk(pn.viewable.Viewer):
    """Review proposals without Label Studio: pick a proposal and a reviewer, accept, correct (choose the
    joints) or reject; the Review page's agreement figures and label table follow."""

    def __init__(self, db: Any, reviewers: list[str], **params: Any) -> None:
        super().__init__(**params)

        self.db = db
        with db.session() as s:
            self.proposals = {p.id: p for p in ReviewRepository(s).proposals(kind="salient")}
        options = {f"{p.segment} · {p.exercise} · {p.id[:14]}": pid for pid, p in self.proposals.items()}
        self.proposal = pn.widgets.Select(name="Proposal", options=options, width=280)
        self.reviewer = pn.widgets.Select(name="Reviewer", options=reviewers, width=220)
        self.decision = pn.widgets.RadioButtonGroup(
            name="Decision", options=["accepted", "corrected", "rejected"], value="accepted"
        )
        self.joints = pn.widgets.MultiChoice(
            name="Joints (for a correction)", options=list(JOINT_NAMES), sizing_mode="stretch_width"
        )
        self.save_button = pn.widgets.Button(name="Record decision", button_type="primary")
        self.proposal_text = pn.pane.Markdown("", sizing_mode="stretch_width")
        self.summary = pn.pane.Markdown("", sizing_mode="stretch_width", css_classes=["review-summary"])
        self.labels = pn.widgets.Tabulator(
            pd.DataFrame(), disabled=True, show_index=False, height=200, sizing_mode="stretch_width"
        )
        self.proposal.param.watch(lambda _e: self._show_proposal(), "value")
        self.save_button.on_click(_calls(self.record))
        self._show_proposal()
        self.refresh()

    def _show_proposal(self) -> None:
        p = self.proposals.get(self.proposal.value)
        if p is None:
            self.proposal_text.object = "No proposals in the store."
            return
        self.joints.value = list(p.joints)
        self.proposal_text.object = (
            f"**{p.segment}** ({p.start_s:.2f}–{p.end_s:.2f} s), model `{p.model}`: "
            f"{', '.join(p.joints)}  \nreply: _{p.reply.strip()[:200]}_"
        )

    def record(self) -> None:
        p = self.proposals[self.proposal.value]
        joints = list(p.joints) if self.decision.value != "corrected" else list(self.joints.value)
        record_label(self.db, p.id, self.reviewer.value, self.decision.value, joints)
        self.refresh()

    def refresh(self) -> None:
        summary, _per_exercise, _per_joint, labels = review_tables(self.db)
        self.summary.object = summary
        self.labels.value = labels

    def __panel__(self) -> pn.viewable.Viewable:
        return pn.Column(
            pn.Row(self.proposal, self.reviewer),
            self.proposal_text,
            self.decision,
            self.joints,
            self.save_button,
            self.summary,
            self.labels,
            sizing_mode="stretch_width",
        )


# ---------------------------------------------------------------------------------------------- runs


def comparison_markdown(c: editing.RunComparison) -> str:
    """A run comparison (``editing.compare_runs``) as the Runs page words it."""

    def listing(items: list[str]) -> str:
        return "\n".join(f"- {i}" for i in items) or "- (none)"

    prov = "\n".join(f"- {k}: {a} → {b}" for k, (a, b) in c.provenance.items()) or "- (same)"
    return (
        f"#### Run {c.a} vs run {c.b}{' — same violations and feedback' if c.same else ''}\n"
        f"**Provenance that differs**\n{prov}\n\n"
        f"**Violations only in run {c.a}**\n{listing(c.violations_only_a)}\n\n"
        f"**Violations only in run {c.b}**\n{listing(c.violations_only_b)}"
    )


class BatchDesk(pn.viewable.Viewer):
    """Select clips with a store query (an SQL condition over the clips table, as ``biocoach batch --where``),
    re-run the pipeline on them (each a recorded run), and compare any two runs."""

    def __init__(self, db: Any, *, where: str = "TRUE", exercise: str = "squat", **params: Any) -> None:
        super().__init__(**params)
        self.db, self.exercise = db, exercise
        self.where = pn.widgets.TextInput(name="Clips where (SQL over the clips table)", value=where, width=420)
        self.select_button = pn.widgets.Button(name="Select")
        self.selected = pn.widgets.MultiSelect(name="Selected clips", options=[], size=6, sizing_mode="stretch_width")
        self.run_button = pn.widgets.Button(name="Re-run the selected clips", button_type="primary")
        self.status = pn.pane.Markdown("", sizing_mode="stretch_width")
        self.runs = pn.widgets.Tabulator(
            pd.DataFrame(), disabled=True, show_index=False, height=220, sizing_mode="stretch_width"
        )
        self.run_a = pn.widgets.Select(name="Run A", width=120)
        self.run_b = pn.widgets.Select(name="Run B", width=120)
        self.comparison = pn.pane.Markdown("", sizing_mode="stretch_width")
        self.select_button.on_click(_calls(self.select))
        self.run_button.on_click(_calls(self.rerun))
        self.run_a.param.watch(lambda _e: self.compare(), "value")
        self.run_b.param.watch(lambda _e: self.compare(), "value")
        self.select()
        self._load_runs()

    def select(self) -> list[str]:
        try:
            refs = list(from_store(self.db, self.where.value or "TRUE"))
        except Exception as exc:  # a bad condition: say so, keep the last selection
            self.status.object = f"**Query refused:** {exc}"
            return list(self.selected.value)
        paths = list(dict.fromkeys(str(r.path) for r in refs))
        self.selected.param.update(options={Path(p).name: p for p in paths}, value=paths)
        self.status.object = f"{len(paths)} clips match `{self.where.value}`."
        return paths

    def rerun(self) -> list[int]:
        job = editing.BackgroundBatch(paths=list(self.selected.value), exercise=self.exercise, db=self.db)
        job.run()  # in the kernel, clip after clip (small clips: seconds)
        errors = f" Errors: {'; '.join(job.errors)}" if job.errors else ""
        self.status.object = f"Re-ran {job.done} clips: runs {', '.join(map(str, job.run_ids)) or 'none'}.{errors}"
        self._load_runs()
        return job.run_ids

    def _load_runs(self) -> None:
        rows = editing.list_runs(self.db)
        self.runs.value = pd.DataFrame(rows)
        ids = [r["id"] for r in rows]
        self.run_a.options, self.run_b.options = ids, ids
        if len(ids) >= 2:
            self.run_a.value, self.run_b.value = ids[1], ids[0]

    def compare(self) -> editing.RunComparison | None:
        if self.run_a.value is None or self.run_b.value is None:
            self.comparison.object = "Two runs are needed."
            return None
        c = editing.compare_runs(self.db, int(self.run_a.value), int(self.run_b.value))
        self.comparison.object = comparison_markdown(c)
        return c

    def __panel__(self) -> pn.viewable.Viewable:
        return pn.Column(
            pn.Row(self.where, self.select_button),
            self.selected,
            self.run_button,
            self.status,
            self.runs,
            pn.Row(self.run_a, self.run_b),
            self.comparison,
            sizing_mode="stretch_width",
        )
