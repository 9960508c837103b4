"""The Clip page: one clip's analysis as a linked review surface, everything seeking with one time cursor.

Curves of the salient joints' primary angles with rep bands, phase marks and violation markers; the video
frame with the skeleton overlay (when the clip has a video: played by the browser's own player,
``dashboard.player``, which moves the cursor as it plays); the fitted skeleton in 3D with the reference pose of the
same phase (``render.skeleton3d``); per-rep cycles over the reference envelope;
a per-rep table; C_morph and C_motion as of the cursor; the feedback timeline; a trust strip. Clicking a
curve, a marker or a table row moves ``AppState.cursor_s``, and every view follows it.

The page computes nothing of the analysis: it reads ``AppState.result`` and calls library functions
(``pose_state``, ``motion_context``, ``joint_angles_deg``, ``resample_cycle``, ``render_frame``). The
figure and text builders below are plain functions of the result, so they are testable without a browser.
"""

from __future__ import annotations

import contextlib
import functools
import io
import math
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import panel as pn
import param
from bokeh.document import Document
from numpy.typing import NDArray

from workbench.dashboard.cursor_plot import CURSOR_SHAPE, CursorLine, CursorPlot, PatchPlot
from workbench.dashboard.media import media_url
from workbench.dashboard.player import VideoPlayer, frames_payload, player_fps
from workbench.dashboard.state import AnalysisJob, AppState
from workbench.errors import WorkbenchError
from workbench.exercises import load_catalogue
from workbench.io.groundtruth import load_ground_truth
from workbench.io.video import read_frame_at
from workbench.motion.align import resample_cycle
from workbench.motion.context import motion_context, pose_state
from workbench.motion.results import Analysis, Rep, unique
from workbench.pipeline import resolve
from workbench.render.overlay import OverlayTimeline, render_annotation
from workbench.render.skel_mesh import clip_gender, configured_bone_mesh
from workbench.render.skeleton3d import clip_skeleton_figure
from workbench.skeleton import DOF_NAMES, dof, dof_index, joint

# Okabe-Ito: distinguishable for colour-blind readers; right side solid, left side dashed.
PALETTE = ("#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#F0E442", "#000000")
REP_FILL = "rgba(0, 114, 178, 0.07)"
REP_FILL_FAULT = "rgba(213, 94, 0, 0.10)"
CURSOR_COLOR = "#C00000"
MAX_SMALL_MULTIPLES = 24
POLL_MS = 250  # how often the progress of a clip being analysed is redrawn
FONT = {"family": "Inter, Helvetica, Arial, sans-serif", "size": 12}
# Fixed heights of the text that follows the cursor (it scrolls when longer): a text pane that changed height per
# move would re-lay out the page, and Panel would then resize (redraw) every Plotly view.
READOUT_HEIGHT, MOTION_HEIGHT, FEEDBACK_HEIGHT = 52, 190, 260
# what waits for the first paint runs after this long at the latest
FIRST_PAINT_FALLBACK_MS = 2000
DELAY_3D_MS = 60  # the 3D view (software WebGL on many lab machines) is drawn this long after the read-out
# ... and at most once per this interval while the cursor keeps moving (the last position is always drawn): a
# 3D frame costs ~35 ms of software WebGL and read-back, more than the rest of a cursor move in the browser.
MIN_3D_INTERVAL_MS = 200
# A cursor moved by hand (the slider, the number box, a click) redraws the 3D view once it has been still this long
# (the last position is always drawn): a new frame per typed value or drag step would land in the next move.
DEBOUNCE_3D_MS = 250
# The text panes that change per move scroll inside their fixed height, and are contained (CSS ``contain``): their
# layout and paint never reach the plots beside them, so a new read-out repaints the read-out alone.
TEXT_PANE = {"overflow-y": "auto", "contain": "content"}
TABLE_PAGE_ROWS = 15  # the rep table shows this many rows a page: a 120-rep clip's table stays a small DOM


# --------------------------------------------------------------------------------- pure helpers


def frame_index(t: NDArray[np.float64], t_s: float) -> int:
    """Index of the track sample nearest ``t_s`` (clamped to the track): the one frame every view of the
    cursor shows (the read-out, the context text and the video image, which is read at ``t[i]``)."""
    if t.size == 0:
        return 0
    i = int(np.clip(np.searchsorted(t, t_s), 0, t.size - 1))
    if i > 0 and abs(t[i - 1] - t_s) <= abs(t[i] - t_s):
        i -= 1
    return i


def progress_view(job: AnalysisJob) -> tuple[str, int]:
    """What the page shows while a clip is analysed: a line of text and the bar's percent (−1: busy, no
    count yet — reading the video's header, or the pose came from the store's cache)."""
    name = Path(job.path).name
    p = job.progress
    if p is None:
        return f"Analysing **{name}** …", -1
    if p.finished:
        return f"Analysing **{name}**: {p.text()}; measuring the body and the reps …", -1
    frac = p.fraction
    return f"Analysing **{name}**: {p.text()}", -1 if frac is None else round(100 * frac)


def salient_angles(result: Any) -> list[tuple[str, int]]:
    """(joint name, primary DoF index) of the salient joints the source observes."""
    track = result.estimate.track
    out = []
    for name in result.analysis.salient_joints:
        d = joint(name).primary_dof
        if track.observed[d]:
            out.append((name, d))
    return out


def curve_dofs(result: Any) -> list[str]:
    """The DoFs the clip can draw, in SKEL order: those the track observes and has some value for. An unobserved
    DoF (or one that is NaN throughout) is never drawn, not even as a flat zero, nor offered in the pickers."""
    track = result.estimate.track
    q = np.asarray(track.q)
    return [name for i, name in enumerate(DOF_NAMES[: q.shape[1]]) if track.observed[i] and not np.isnan(q[:, i]).all()]


def salient_dofs(result: Any) -> list[str]:
    """The curves shown by default: the salient joints' primary DoFs that the clip can draw."""
    drawable = set(curve_dofs(result))
    return [DOF_NAMES[d] for _, d in salient_angles(result) if DOF_NAMES[d] in drawable]


def dof_choices(result: Any) -> dict[str, str]:
    """What the joint and cycle pickers offer: label ('right knee flexion') → DoF name, for each drawable DoF."""
    return {dof_label(name): name for name in curve_dofs(result)}


def curve_colors(names: Sequence[str]) -> dict[str, str]:
    """A colour per curve: the right and left DoF of a pair share one (solid right, dashed left), each centre DoF
    has its own; pairs take the palette's colours in order of first appearance."""
    pairs: dict[str, str] = {}
    colors = {}
    for name in names:
        key = dof(name).generic  # 'knee_angle' for both knees; a centre DoF's own name
        colors[name] = pairs.setdefault(key, PALETTE[len(pairs) % len(PALETTE)])
    return colors


def readout_text(result: Any, t_s: float) -> str:
    """'Cursor 9.50 s · frame 54 — Current pose: right hip 95°, …' (the pose state of Eq. 7 at the cursor)."""
    track = result.estimate.track
    i = frame_index(track.t, t_s)
    state = pose_state(track.q[i], result.analysis.salient_joints, track.observed)
    return f"Cursor {float(track.t[i]):.2f} s · frame {i} — {state}"


def last_completed_rep(analysis: Analysis, t_s: float) -> Rep | None:
    done = [r for r in analysis.reps if r.end_s <= t_s]
    return max(done, key=lambda r: r.end_s) if done else None


def motion_text(result: Any, t_s: float) -> str:
    """C_motion as of the cursor: the pose state there and the violations of the last rep completed before it."""
    track = result.estimate.track
    i = frame_index(track.t, t_s)
    rep = last_completed_rep(result.analysis, t_s)
    state = pose_state(track.q[i], result.analysis.salient_joints, track.observed)
    return motion_context(state, rep.violations if rep else ())


TABLE_COLUMNS = ["rep", "start (s)", "end (s)", "quality", "issues", "messages"]
MOVING_DEG = 5.0  # the rep table shows the measures of DoFs whose range reaches this in some rep


def rep_rows(analysis: Analysis) -> list[dict[str, Any]]:
    """One row per rep for the table (rep numbers from 1, as a coach counts): times, quality, the violations'
    messages in full, then the rep's measures (``Rep.measures``): tempo, each check's value against its bounds,
    and the peak, minimum and range of each DoF that moves (range ``MOVING_DEG`` or more in some rep)."""
    moving = [
        n
        for n in dict.fromkeys(n for r in analysis.reps for n in r.measures.dofs)
        if max((r.measures.dofs[n].range_deg for r in analysis.reps if n in r.measures.dofs), default=0.0) >= MOVING_DEG
    ]
    rows = []
    for r in analysis.reps:
        m = r.measures
        row: dict[str, Any] = {
            "rep": r.index + 1,
            "start (s)": round(r.start_s, 2),
            "end (s)": round(r.end_s, 2),
            "quality": None if r.quality is None else round(r.quality, 3),
            "issues": len(r.violations),
            "messages": "; ".join(v.message for v in r.violations) or "—",
        }
        for key, seconds in m.tempo.items():
            row[f"{key.removesuffix('_s')} (s)"] = round(seconds, 2)
        row["checks"] = "; ".join(f"{cid} {format_check(c.value_deg, c.bounds_deg)}" for cid, c in m.checks.items())
        for name in moving:
            d = m.dofs.get(name)
            label = dof_label(name)
            row[f"{label} peak (°)"] = None if d is None else round(d.peak_deg, 1)
            row[f"{label} min (°)"] = None if d is None else round(d.min_deg, 1)
            row[f"{label} range (°)"] = None if d is None else round(d.range_deg, 1)
        rows.append(row)
    return rows


def format_check(value: float, bounds: tuple[float | None, float | None]) -> str:
    """'99.8° (≥ 90°)', '12.0° (≤ 10°)', '3.0° (5° to 20°)'; '(no bound)' when both ends are open."""
    lo, hi = bounds
    if lo is not None and hi is not None:
        held = f"{lo:g}° to {hi:g}°"
    elif lo is not None:
        held = f"≥ {lo:g}°"
    elif hi is not None:
        held = f"≤ {hi:g}°"
    else:
        held = "no bound"
    return f"{value:.1f}° ({held})"


def dof_label(name: str) -> str:
    return dof(name).label


def cursor_from_click(click: dict[str, Any] | None) -> float | None:
    """The time a plotly click points at: a violation marker's rep start (its customdata), else its x."""
    if not click or not click.get("points"):
        return None
    point = click["points"][0]
    custom = point.get("customdata")
    if isinstance(custom, (list, tuple)) and custom:
        custom = custom[0]
    if isinstance(custom, (int, float)) and math.isfinite(custom):
        return float(custom)
    x = point.get("x")
    return float(x) if isinstance(x, (int, float)) else None


def _cursor_shape(t_s: float, yref: str = "paper") -> dict[str, Any]:
    return {
        "type": "line",
        "xref": "x",
        "yref": yref,
        "x0": t_s,
        "x1": t_s,
        "y0": 0,
        "y1": 1,
        "line": {"color": CURSOR_COLOR, "width": 2},
        "name": CURSOR_SHAPE,
    }


DISPLAY_BUCKETS = 1200  # a curve longer than 2 points per bucket is drawn decimated (``display_indices``)


def display_indices(y: NDArray[np.float64], buckets: int = DISPLAY_BUCKETS) -> NDArray[np.int64]:
    """The samples of a curve to draw: per horizontal bucket (``buckets`` of equal sample count) its minimum and
    maximum (so every peak and valley stays on screen) and its first NaN (so a gap stays a gap), plus the first
    and last samples, in time order. All of them when the curve has no more than ``2 * buckets`` samples.

    For display only: a 5-minute clip's 9,000-point curves cost the browser more to paint per cursor move than
    the whole rest of the page; the analysis, the rep table and the exports keep every sample."""
    n = int(y.shape[0])
    if n <= 2 * buckets:
        return np.arange(n, dtype=np.int64)
    size = -(-n // buckets)
    padded = np.concatenate([y, np.full(size * buckets - n, y[-1])]).reshape(buckets, size)
    nan = np.isnan(padded)
    base = np.arange(buckets, dtype=np.int64) * size
    lo = base + np.argmin(np.where(nan, np.inf, padded), axis=1)
    hi = base + np.argmax(np.where(nan, -np.inf, padded), axis=1)
    gaps = (base + np.argmax(nan, axis=1))[nan.any(axis=1)]
    keep = np.unique(np.concatenate([lo, hi, gaps, [0, n - 1]]))
    return np.asarray(keep[keep < n], dtype=np.int64)


def _bands(reps: Sequence[Rep], fill: str, name: str) -> dict[str, Any]:
    """Rep bands as one filled trace on the hidden 0–1 axis ``y2`` (a closed rectangle per rep, gaps between)."""
    x: list[float | None] = []
    y: list[float | None] = []
    for r in reps:
        x += [r.start_s, r.start_s, r.end_s, r.end_s, r.start_s, None]
        y += [0, 1, 1, 0, 0, None]
    return {
        "type": "scatter",
        "mode": "none",
        "name": name,
        "x": x,
        "y": y,
        "yaxis": "y2",
        "fill": "toself",
        "fillcolor": fill,
        "hoverinfo": "skip",
        "showlegend": False,
    }


def angle_figure(result: Any, t_s: float, dofs: Sequence[str] | None = None) -> dict[str, Any]:
    """Angles (degrees) vs time of ``dofs`` (default: the salient joints' primary DoFs), with rep bands, phase
    marks, rep labels, violation markers and the cursor. DoFs the clip cannot draw (``curve_dofs``) are left out.

    Drawn light, since the browser repaints the figure under every cursor move: each curve decimated for display
    (``display_indices``: every peak kept; the full curves are in the table export and ``biocoach export``); the
    rep bands (clean/faulty), the phase marks and the rep labels are one trace each (on a hidden 0–1 axis ``y2``)
    instead of hundreds of layout shapes and annotations. The cursor is the one layout shape (``CursorLine``)."""
    track, analysis = result.estimate.track, result.analysis
    t = track.t
    drawable = set(curve_dofs(result))
    names = salient_dofs(result) if dofs is None else [n for n in dict.fromkeys(dofs) if n in drawable]
    colors = curve_colors(names)
    reps = list(analysis.reps)
    data: list[dict[str, Any]] = []
    clean, faulty = [r for r in reps if not r.violations], [r for r in reps if r.violations]
    if clean:
        data.append(_bands(clean, REP_FILL, "reps"))
    if faulty:
        data.append(_bands(faulty, REP_FILL_FAULT, "reps with violations"))
    for name in names:
        d = dof(name)
        dash = "dash" if d.side == "left" else "solid"
        y = np.degrees(track.q[:, d.index])
        keep = display_indices(y)
        data.append(
            {
                "type": "scatter",
                "mode": "lines",
                "x": t[keep],
                "y": y[keep],
                "name": d.label,
                "legendgroup": d.generic,
                "line": {"color": colors[name], "width": 1.6, "dash": dash},
                "hovertemplate": f"{d.label} %{{y:.0f}}°<extra>%{{x:.2f}} s</extra>",
            }
        )
    phase_x: list[float | None] = []
    phase_y: list[float | None] = []
    for r in reps:
        for p in r.phases[1:]:
            phase_x += [p.start_s, p.start_s, None]
            phase_y += [0, 1, None]
    if phase_x:
        data.append(
            {
                "type": "scatter",
                "mode": "lines",
                "name": "phases",
                "x": phase_x,
                "y": phase_y,
                "yaxis": "y2",
                "line": {"color": "#888", "width": 1, "dash": "dot"},
                "hoverinfo": "skip",
                "showlegend": False,
            }
        )
    if reps:
        data.append(
            {
                "type": "scatter",
                "mode": "text",
                "name": "rep labels",
                "x": [0.5 * (r.start_s + r.end_s) for r in reps],
                "y": [1.0] * len(reps),
                "yaxis": "y2",
                "text": [f"rep {r.index + 1}" + ("" if r.quality is None else f" · q {r.quality:.2f}") for r in reps],
                "textposition": "top center",
                "textfont": {"size": 10, "color": "#555"},
                "cliponaxis": False,
                "hoverinfo": "skip",
                "showlegend": False,
            }
        )
    viol = [(r, v) for r in reps for v in r.violations]
    if viol:
        data.append(
            {
                "type": "scatter",
                "mode": "markers",
                "name": "violations",
                "x": [v.t_s for _, v in viol],
                "y": [v.value_deg for _, v in viol],
                "customdata": [[r.start_s] for r, _ in viol],
                "text": [v.message for _, v in viol],
                "marker": {"symbol": "x", "size": 11, "color": "#D55E00", "line": {"width": 2}},
                "hovertemplate": "%{text}<extra>click: jump to the rep</extra>",
            }
        )
    layout = {
        "height": 340,
        "margin": {"l": 50, "r": 10, "t": 24, "b": 36},
        "font": FONT,
        "template": "plotly_white",
        "xaxis": {"title": {"text": "time (s)"}, "range": [float(t[0]), float(t[-1])] if t.size else None},
        "yaxis": {"title": {"text": "angle (°)"}, "zeroline": False},
        # the bands', phase marks' and labels' axis: the plot's full height, never drawn, never zoomed
        "yaxis2": {"overlaying": "y", "range": [0, 1], "visible": False, "fixedrange": True},
        "hovermode": "closest",
        "legend": {"orientation": "h", "y": -0.18, "x": 0},
        "shapes": [_cursor_shape(t_s)],
        "clickmode": "event",
    }
    return {"data": data, "layout": layout}


def with_cursor(fig: dict[str, Any], t_s: float) -> dict[str, Any]:
    """The same figure with its cursor line (the last shape) moved to ``t_s``; data are shared, not copied."""
    layout = dict(fig["layout"])
    layout["shapes"] = [*layout["shapes"][:-1], _cursor_shape(t_s)]
    return {"data": fig["data"], "layout": layout}


def cursor_index(fig: dict[str, Any]) -> int:
    """Where the cursor line is in the figure's shapes (the last one: ``angle_figure``, ``trust_figure``)."""
    return len(fig["layout"]["shapes"]) - 1


def representative_dof(exercise: Any, observed: NDArray[np.bool_]) -> str:
    for name in exercise.cycle.signal:
        if observed[dof_index(name)]:
            return str(name)
    return str(exercise.cycle.signal[0])


def cycle_dof(result: Any, exercise: Any) -> str | None:
    """The DoF the cycle plot shows by default: the first of the exercise's cycle signal that the clip can
    draw, else the first drawable DoF (None when it can draw none)."""
    drawable = curve_dofs(result)
    for name in exercise.cycle.signal:
        if name in drawable:
            return str(name)
    return drawable[0] if drawable else None


def cycles_figure(result: Any, exercise: Any, dof_name: str | None = None) -> dict[str, Any]:
    """Small multiples: each rep's time-normalised cycle of ``dof_name`` (default: the exercise's cycle signal,
    ``cycle_dof``) over the reference envelope (mean ± SD), in degrees against % of the cycle. A DoF the clip
    cannot draw (``curve_dofs``) is not plotted: the default takes its place."""
    track, analysis = result.estimate.track, result.analysis
    if dof_name is None or dof_name not in curve_dofs(result):
        dof_name = cycle_dof(result, exercise)
    name = dof_name or representative_dof(exercise, track.observed)
    d = dof_index(name)
    ref = exercise.reference
    n_ref = ref.n_samples if ref is not None else 100
    x = np.linspace(0, 100, n_ref)
    reps = analysis.reps[:MAX_SMALL_MULTIPLES]
    n = max(1, len(reps))
    cols = min(n, 6)
    rows = math.ceil(n / cols)
    gap_x, gap_y = 0.025, 0.12 / max(rows, 1)
    data: list[dict[str, Any]] = []
    layout: dict[str, Any] = {
        "height": 190 * rows + 30,
        "margin": {"l": 40, "r": 10, "t": 30, "b": 20},
        "font": FONT,
        "template": "plotly_white",
        "showlegend": False,
        "annotations": [],
        "meta": {"dof": name},
    }
    mean = sd = None
    if ref is not None:
        mean, sd = np.degrees(ref.mean[d]), np.degrees(ref.sd[d])
    for k, r in enumerate(reps):
        row, col = divmod(k, cols)
        ax = "" if k == 0 else str(k + 1)
        x0 = col / cols + (gap_x if col else 0)
        x1 = (col + 1) / cols - (gap_x if col < cols - 1 else 0)
        y1 = 1 - row / rows - (gap_y if row else 0)
        y0 = 1 - (row + 1) / rows + (gap_y if row < rows - 1 else 0)
        layout[f"xaxis{ax}"] = {
            "domain": [x0, x1],
            "anchor": f"y{ax}",
            "showticklabels": row == rows - 1,
            "range": [0, 100],
            "ticksuffix": "%",
        }
        layout[f"yaxis{ax}"] = {
            "domain": [y0, y1],
            "anchor": f"x{ax}",
            "showticklabels": col == 0,
            "matches": "y" if k else None,
        }
        axes = {"xaxis": f"x{ax}", "yaxis": f"y{ax}"}
        if mean is not None and sd is not None:
            data.append(
                {
                    "type": "scatter",
                    "x": np.concatenate([x, x[::-1]]),
                    "y": np.concatenate([mean + sd, (mean - sd)[::-1]]),
                    "fill": "toself",
                    "fillcolor": "rgba(120,120,120,0.18)",
                    "line": {"width": 0},
                    "hoverinfo": "skip",
                    **axes,
                }
            )
            data.append(
                {
                    "type": "scatter",
                    "mode": "lines",
                    "x": x,
                    "y": mean,
                    "hoverinfo": "skip",
                    "line": {"color": "#777", "width": 1, "dash": "dash"},
                    **axes,
                }
            )
        seg = track.q[r.start_frame : r.end_frame + 1, d]
        if seg.size and r.end_frame > r.start_frame:
            y = np.degrees(resample_cycle(seg.astype(np.float64), n_ref))
            color = "#D55E00" if r.violations else "#0072B2"
            data.append(
                {
                    "type": "scatter",
                    "mode": "lines",
                    "x": x,
                    "y": y,
                    "line": {"color": color, "width": 2},
                    "hovertemplate": "%{y:.0f}° at %{x:.0f}%<extra></extra>",
                    **axes,
                }
            )
        q = "" if r.quality is None else f" · q {r.quality:.2f}"
        layout["annotations"].append(
            {
                "text": f"rep {r.index + 1}{q}",
                "x": 0.5 * (x0 + x1),
                "y": y1,
                "xref": "paper",
                "yref": "paper",
                "yanchor": "bottom",
                "showarrow": False,
                "font": {"size": 11},
            }
        )
    more = f" (first {MAX_SMALL_MULTIPLES} of {len(analysis.reps)})" if len(analysis.reps) > len(reps) else ""
    ref_note = f"reference {ref.version} mean ± SD" if ref is not None else "no reference"
    layout["title"] = {
        "text": f"{dof_label(name)} (°) per rep over the {ref_note}{more}",
        "font": {"size": 12},
        "x": 0.01,
        "y": 0.995,
    }
    return {"data": data, "layout": layout}


def trust_figure(result: Any, t_s: float) -> dict[str, Any]:
    """Per-frame pose confidence (0 = lost frame) with the cursor."""
    track = result.estimate.track
    lost = track.confidence <= 0
    data: list[dict[str, Any]] = [
        {
            "type": "scatter",
            "mode": "lines",
            "x": track.t,
            "y": track.confidence,
            "line": {"color": "#009E73", "width": 1.2, "shape": "hv"},
            "fill": "tozeroy",
            "fillcolor": "rgba(0,158,115,0.15)",
            "name": "confidence",
            "hovertemplate": "confidence %{y:.2f}<extra>%{x:.2f} s</extra>",
        }
    ]
    if lost.any():
        data.append(
            {
                "type": "scatter",
                "mode": "markers",
                "x": track.t[lost],
                "y": np.zeros(int(lost.sum())),
                "marker": {"color": "#D55E00", "symbol": "line-ns-open", "size": 10},
                "name": "lost",
            }
        )
    layout = {
        "height": 110,
        "margin": {"l": 50, "r": 10, "t": 6, "b": 24},
        "font": FONT,
        "template": "plotly_white",
        "showlegend": False,
        "xaxis": {"range": [float(track.t[0]), float(track.t[-1])] if track.t.size else None},
        "yaxis": {"range": [0, 1.05], "title": {"text": "conf."}, "tickvals": [0, 0.5, 1]},
        "shapes": [_cursor_shape(t_s)],
        "clickmode": "event",
    }
    return {"data": data, "layout": layout}


def swaps_text(meta: dict[str, Any] | None) -> str:
    """The left/right swaps the landmark reader repaired (workbench.pose.landmark_files sets ``swapped_frames``);
    a pose track read as such has none to repair."""
    raw = (meta or {}).get("swapped_frames")
    try:
        n = int(str(raw))
    except ValueError:
        return "swaps: not applicable (pose track)"
    return f"left/right swaps repaired **{n}** frame{'' if n == 1 else 's'}"


def fit_text(fit: Any) -> str:
    """The fitted skeleton's reprojection error (``pose.reprojection``) for the trust strip."""
    if fit is None:
        return "fitted skeleton: none (no image landmarks: the skeleton shown is the source's own)"
    summary = fit.summary()
    pct, px = summary["error_pct_height"], summary["error_px"]
    if pct["median"] is None:
        return "fitted skeleton: reprojection error not measured (no landmark seen well enough)"
    pixels = f"{px['median']:.1f} px, " if px and px["median"] is not None else ""
    return (
        f"fitted skeleton's reprojection error: median **{pixels}{pct['median']:.1f}%** of body height, "
        f"90th percentile {pct['p90']:.1f}% over {summary['frames_measured']} frames"
    )


def trust_summary(result: Any) -> str:
    track = result.estimate.track
    n = int(track.t.size)
    lost = int((track.confidence <= 0).sum())
    low = int(((track.confidence > 0) & (track.confidence < 0.5)).sum())
    lines = [
        f"**Trust** · {n} frames at {result.analysis.fps:.1f} fps · source `{track.source}` · "
        f"backend `{result.estimate.backend}` · lost frames **{lost}** ({100 * lost / max(n, 1):.1f}%) · "
        f"low-confidence frames {low} · {int(track.observed.sum())} of {track.q.shape[1]} DoFs observed · "
        f"{swaps_text(track.meta)}",
        f"- {fit_text(getattr(result.estimate, 'fit', None))}",
    ]
    # The pipeline copies the pose stage's warnings into the analysis's (``Analysis.prepend_warnings``): each once.
    warnings = unique([*result.analysis.warnings, *getattr(result.estimate, "warnings", [])])
    lines += [f"- ⚠ {w}" for w in warnings] or ["- no warnings"]
    return "\n".join(lines)


def ground_truth_of(result: Any) -> Any:
    """The clip's ground-truth feedback (its sidecar, ``workbench.io.groundtruth``), None when it has none."""
    clip = result.analysis.provenance.get("input")
    return load_ground_truth(clip) if clip else None


_READ = object()  # feedback_text's default: read the sidecar


def feedback_text(result: Any, t_s: float, truth: Any = _READ) -> str:
    """Predicted feedback, and the ground truth beside it when the clip has a sidecar (workbench.io.groundtruth).
    ``truth``: the sidecar's events as ``ground_truth_of`` read them (the page reads them once per clip, not
    once per cursor move)."""
    predicted = _timeline([(e.t_s, e.text) for e in result.analysis.feedback], t_s, "No feedback events for this clip.")
    if truth is _READ:
        truth = ground_truth_of(result)
    if truth is None:
        return predicted
    expected = _timeline([(e.t_s, e.text) for e in truth], t_s, "The ground truth has no feedback.")
    return f"**Predicted**\n\n{predicted}\n\n**Ground truth**\n\n{expected}"


def _timeline(events: list[tuple[float, str]], t_s: float, empty: str) -> str:
    if not events:
        return empty
    return "\n\n".join(f"{'▶' if t <= t_s else '·'} **{t:.2f} s** — {text}" for t, text in sorted(events))


@dataclass
class _Frame:
    png: bytes | None
    note: str


def overlay_png(result: Any, t_s: float, max_side: int = 720, raw_landmarks: bool = False) -> _Frame:
    """The video frame at ``t_s`` with the skeleton and angles drawn, as PNG bytes (None without a video). The
    skeleton is the fitted SKEL one (``result.fit``) when there is one, MediaPipe's raw landmarks
    under it with ``raw_landmarks``; without a fit, the raw landmarks."""
    video = result.estimate.video
    if video is None or not Path(video).exists():
        return _Frame(None, "No video for this clip (a pose track): the curves and tables show everything.")
    from PIL import Image

    # The sample the read-out shows, and the video frame the analysis took for it (the latest decoded frame at
    # or before the sample's time, as ``iter_frames`` resamples): never the frame nearest the raw cursor.
    track = result.estimate.track
    i = frame_index(track.t, t_s)
    t_i = float(track.t[i]) if track.t.size else t_s
    frame = read_frame_at(video, t_i, max_side=max_side)
    fit = result.fit
    a = OverlayTimeline(result.estimate.landmarks, track, result.analysis, fit=fit, raw_landmarks=raw_landmarks).at(t_i)
    img = render_annotation(frame.rgb, a)
    buf = io.BytesIO()
    Image.fromarray(img).save(buf, format="PNG", compress_level=1)
    source = f" (video frame {frame.index})" if frame.index != i else ""
    return _Frame(buf.getvalue(), f"frame {i} at {t_i:.2f} s{source}")


# ------------------------------------------------------------------------------------------- page

CARD_STYLES = {"background": "#fff", "border": "1px solid #e3e6ea", "border-radius": "8px", "padding": "2px 10px"}


class _Once:
    """A callback that runs at its first call only (the first paint's and its fallback timer's)."""

    def __init__(self, callback: Any):
        self.callback, self.done = callback, False

    def __call__(self) -> None:
        if not self.done:
            self.done = True
            self.callback()


class ClipPage(pn.viewable.Viewer):
    """One clip: curves, cycles, table, context text and trust, all linked to ``state.cursor_s``."""

    state = param.ClassSelector(class_=AppState, doc="the session's shared state (open clip, cursor)")
    picker_path = param.String(default="", doc="the path typed into the clip picker")

    def __init__(self, **params: Any) -> None:
        super().__init__(**params)
        if not isinstance(self.state, AppState):
            raise TypeError(f"ClipPage needs state=AppState(...), got {type(self.state).__name__}")
        st: AppState = self.state
        self._st = st
        catalogue = _catalogue_keys()
        self.path_input = pn.widgets.TextInput(
            label="Clip (video, landmark file or pose .npz)", value=st.clip_path, sizing_mode="stretch_width"
        )
        self.exercise_select = pn.widgets.Select(
            label="Exercise", options=catalogue, value=st.exercise if st.exercise in catalogue else None, width=180
        )
        self.analyse_button = pn.widgets.Button(label="Analyse", button_type="primary", width=100, align="end")
        self.analyse_button.on_click(self._analyse)
        self.progress = pn.indicators.Progress(
            value=-1, max=100, active=False, visible=False, width=480, css_classes=["analysis-progress"]
        )
        self.progress_text = pn.pane.Markdown(
            "", visible=False, css_classes=["analysis-progress-text"], sizing_mode="stretch_width"
        )
        self._job: AnalysisJob | None = None
        self._poll: Any = None
        self.slider = pn.widgets.FloatSlider.from_param(
            st.param.cursor_s,
            label="Time cursor (s)",
            start=0.0,
            end=1.0,
            step=0.01,
            sizing_mode="stretch_width",
            format="0.00",
        )
        self.cursor_input = pn.widgets.FloatInput.from_param(
            st.param.cursor_s, label="Cursor (s)", step=0.01, width=120, css_classes=["cursor-input"]
        )
        # The text that changes with every cursor move has a fixed height (scrolling when longer): a pane that
        # grew or shrank would re-lay out the page, and every Plotly view would be resized (redrawn) with it.
        self.readout = pn.pane.Markdown(
            "",
            css_classes=["cursor-readout"],
            sizing_mode="stretch_width",
            height=READOUT_HEIGHT,
            styles={"font-size": "15px", "font-weight": "500", **TEXT_PANE},
        )
        # The two plots with a cursor line: a cursor move sends one number (CursorLine), which moves the line in
        # the browser without redrawing the figure; the panes' figures follow on the server (CursorPlot.follow).
        self.angles = CursorPlot(
            None, sizing_mode="stretch_width", height=340, config={"displaylogo": False}, css_classes=["angle-curves"]
        )
        self.trust_plot = CursorPlot(
            None,
            sizing_mode="stretch_width",
            height=110,
            config={"displayModeBar": False},
            css_classes=["trust-plot"],
        )
        self.cursor_line = CursorLine(targets=["angle-curves", "trust-plot"], width=0, height=0, margin=0)
        self.trust_text = pn.pane.Markdown("", sizing_mode="stretch_width", styles={"font-size": "12px"})
        self.cycles = pn.pane.Plotly(
            None, sizing_mode="stretch_width", config={"displaylogo": False}, css_classes=["cycle-plot"]
        )
        # Which curves the angle plot draws (default the salient joints' primary DoFs) and which DoF the cycle
        # plot shows (default the exercise's cycle signal): the clip's drawable DoFs only (``curve_dofs``).
        self.joint_picker = pn.widgets.MultiChoice(
            name="Curves",
            options={},
            value=[],
            placeholder="Add a DoF",
            sizing_mode="stretch_width",
            css_classes=["joint-picker"],
        )
        self.cycle_select = pn.widgets.Select(name="Cycle of", options={}, width=260, css_classes=["cycle-dof"])
        self._syncing = False  # True while _on_result sets the pickers for a new clip
        # Every column sorts from its header; messages and checks wrap, so they are read in full (and show whole
        # in a tooltip); a row's index stays its rep's however the table is sorted.
        self.table = pn.widgets.Tabulator(
            None,
            disabled=True,
            selectable=1,
            show_index=False,
            layout="fit_data_table",
            sizing_mode="stretch_width",
            height=260,
            css_classes=["rep-table"],
            formatters={"messages": {"type": "textarea"}, "checks": {"type": "textarea"}},
            widths={"messages": 360, "checks": 360},
            frozen_columns=["rep"],
            sortable=True,
            pagination="local",
            page_size=TABLE_PAGE_ROWS,
            configuration={"columnDefaults": {"tooltip": True}},
        )
        # The table as files, exactly as ``biocoach export`` writes them (``workbench.io.tables``): reps.csv (one
        # row per rep, every measure and message in full) and angles.csv (every frame of every observed DoF).
        self.export_reps = pn.widgets.FileDownload(
            callback=self._reps_csv,
            filename="reps.csv",
            label="Export reps (CSV)",
            embed=False,
            css_classes=["export-reps"],
        )
        self.export_angles = pn.widgets.FileDownload(
            callback=self._angles_csv,
            filename="angles.csv",
            label="Export angle curves (CSV)",
            embed=False,
            css_classes=["export-angles"],
        )
        self.morph = pn.pane.Markdown("", sizing_mode="stretch_width", css_classes=["c-morph"])
        scroll = TEXT_PANE
        self.motion = pn.pane.Markdown(
            "", sizing_mode="stretch_width", height=MOTION_HEIGHT, styles=scroll, css_classes=["c-motion"]
        )
        self.feedback = pn.pane.Markdown(
            "", sizing_mode="stretch_width", height=FEEDBACK_HEIGHT, styles=scroll, css_classes=["feedback"]
        )
        self.frame = pn.pane.PNG(None, sizing_mode="scale_width", max_width=520)
        self.frame_note = pn.pane.Markdown("", styles={"color": "#666", "font-size": "12px"})
        self.raw_landmarks = pn.widgets.Checkbox(
            name="MediaPipe's raw landmarks under the fitted skeleton", value=False, css_classes=["raw-landmarks"]
        )
        self.raw_landmarks.param.watch(self._on_raw_landmarks, "value")
        # The clip's video in the browser's player (the browser decodes it; the server sends the 2D skeleton of
        # every frame once), and the fitted skeleton in 3D; both follow the cursor, and the player moves it.
        self.player = VideoPlayer(
            sizing_mode="stretch_width", min_height=200, visible=False, css_classes=["clip-player"]
        )
        self.player.param.watch(self._on_player_time, "time_s")
        self._from_player = False
        # The 3D view: sent whole once per clip, then per move only what changed (PatchPlot), after the rest of
        # the page has been sent (``_show_3d``); the SKEL bone mesh once per clip, when a SKEL model is configured.
        # WebGL drawn at the screen's own resolution (Plotly's default renders 3D scenes at twice it): on lab
        # machines without a GPU (software WebGL) drawing and reading back a 2x canvas cost ~60 ms per move.
        self.skeleton3d = PatchPlot(
            None,
            sizing_mode="stretch_width",
            height=420,
            css_classes=["skeleton-3d"],
            config={"displaylogo": False, "plotGlPixelRatio": 1},
        )
        self.skel_note = pn.pane.Markdown(
            "", visible=False, sizing_mode="stretch_width", css_classes=["skel-note"], styles={"color": "#a33"}
        )
        self._skel_mesh: Any = None
        self._mesh_for: Any = None  # the result the SKEL bone mesh was loaded for
        self._3d_drawn = -math.inf  # when the 3D view was last drawn (time.monotonic)
        self._3d_due: float | None = None  # the cursor the 3D view is still to show (sent after the read-out)
        self._3d_timer: Any = None  # the debounced 3D redraw waiting for the cursor to be still
        self._exercise_shown: Any = None
        self._fig: dict[str, Any] | None = None
        self._trust_fig: dict[str, Any] | None = None
        self._truth: Any = None  # the open clip's ground-truth feedback (read once per clip)
        self.angles.param.watch(self._on_click, "click_data")
        self.trust_plot.param.watch(self._on_click, "click_data")
        self.table.param.watch(self._on_select, "selection")
        self.joint_picker.param.watch(self._on_joints, "value")
        self.cycle_select.param.watch(self._on_cycle_dof, "value")
        st.param.watch(self._on_result, "result")
        # Before the slider's and the number box's own links to the cursor (precedence 0), so that they, the text
        # and the cursor line go to the browser in one message (``_on_cursor``'s hold).
        st.param._watch(self._on_cursor, ["cursor_s"], precedence=-1)
        self._on_result()

    # ---------------------------------------------------------------- callbacks

    def _analyse(self, _event: Any = None) -> None:
        """Analyse the chosen clip in the background; ``_poll_analysis`` shows its progress and then the result."""
        path, ex = (self.path_input.value or "").strip(), self.exercise_select.value
        if not path or not ex:
            self._st.status = "give a clip path and an exercise"
            return
        if self._job is not None and not self._job.finished:
            return  # one analysis at a time per page
        job = self._st.start_clip(path, ex)
        if job is None:  # refused: the state's status says why
            return
        self._job = job
        self.analyse_button.loading = True
        self.progress.visible = self.progress_text.visible = True
        self._show_progress(job)
        self._poll = pn.state.add_periodic_callback(self._poll_analysis, period=POLL_MS)

    def _poll_analysis(self) -> None:
        """Redraw the progress; when the analysis has finished, open its result (on the page's own thread)."""
        job = self._job
        if job is None:
            return
        self._show_progress(job)
        if not job.finished:
            return
        if self._poll is not None:
            self._poll.stop()
            self._poll = None
        self._job = None
        self.analyse_button.loading = False
        self.progress.visible = self.progress_text.visible = False
        if job.error is not None:
            self._st.status = job.error
        else:
            self._st.show_clip(job.path, job.exercise, job.result)

    def _show_progress(self, job: AnalysisJob) -> None:
        text, percent = progress_view(job)
        self.progress_text.object = text
        self.progress.param.update(value=percent, active=percent < 0)

    def _on_click(self, event: Any) -> None:
        t = cursor_from_click(event.new)
        if t is not None:
            self.move_cursor(t)

    def _on_select(self, event: Any) -> None:
        result = self._st.result
        if result is None or not event.new:
            return
        rows = result.analysis.reps
        k = event.new[0]
        if 0 <= k < len(rows):
            self.move_cursor(rows[k].start_s)

    def _on_player_time(self, event: Any) -> None:
        """The player played, stepped or was seeked: move the cursor there, without seeking the player back."""
        self._from_player = True
        try:
            self.move_cursor(float(event.new))
        finally:
            self._from_player = False

    def _on_raw_landmarks(self, _event: Any = None) -> None:
        result = self._st.result
        if self.player.visible and result is not None:
            self.player.frames = frames_payload(result, raw_landmarks=self.raw_landmarks.value)
        else:
            self._on_cursor()

    def _show_player(self, result: Any) -> None:
        """The clip's video in the player (hidden, with the PNG frame as the fallback, when there is none)."""
        video = result.estimate.video
        if video is None or not Path(video).is_file():
            self.player.param.update(visible=False, src="")
            return
        self.player.param.update(
            src=media_url(video),
            fps=player_fps(result),
            time_s=self._st.cursor_s,
            frames=frames_payload(result, raw_landmarks=self.raw_landmarks.value),
            visible=True,
        )

    def move_cursor(self, t_s: float) -> None:
        """Move the session's cursor, clamped to the clip."""
        result = self._st.result
        if result is not None and result.estimate.track.t.size:
            t = result.estimate.track.t
            t_s = float(np.clip(t_s, t[0], t[-1]))
        self._st.cursor_s = max(0.0, float(t_s))

    def _on_result(self, _event: Any = None) -> None:
        result = self._st.result
        if result is None:
            self.readout.object = "No clip open: type a path and press **Analyse**."
            return
        track, analysis = result.estimate.track, result.analysis
        t0, t1 = (float(track.t[0]), float(track.t[-1])) if track.t.size else (0.0, 1.0)
        step = 1.0 / analysis.fps if analysis.fps > 0 else 0.01
        self.slider.param.update(start=t0, end=max(t1, t0 + step), step=step)
        self.cursor_input.step = step
        self.path_input.value = self._st.clip_path
        if self._st.exercise in self.exercise_select.options:
            self.exercise_select.value = self._st.exercise
        exercise = self._exercise()
        choices = dof_choices(result)
        self._syncing = True
        try:
            self.joint_picker.param.update(options=choices, value=salient_dofs(result))
            self.cycle_select.param.update(options=choices, value=cycle_dof(result, exercise))
        finally:
            self._syncing = False
        # The cursor where it will be once the clip is open (its start when it was outside the clip), so the
        # figures sent whole below already show it there.
        cursor = self._st.cursor_s if t0 <= self._st.cursor_s <= t1 else t0
        self._fig = angle_figure(result, cursor, self.joint_picker.value)
        self._trust_fig = trust_figure(result, cursor)
        self.angles.object = self._fig  # the whole figures once per clip; a cursor move then moves their line
        self.trust_plot.object = self._trust_fig
        self._truth = ground_truth_of(result)
        self._mesh_for = None  # the SKEL bone mesh is loaded for the 3D view, when it is first drawn
        stem = Path(self._st.clip_path).stem or "clip"
        self.export_reps.filename = f"{stem}_reps.csv"
        self.export_angles.filename = f"{stem}_angles.csv"
        self.morph.object = f"**C_morph** · {analysis.context_morph}"
        self.trust_text.object = trust_summary(result)
        self._exercise_shown = exercise
        self._show_player(result)
        self._fill_table(result)  # in the first paint: a table filled later was, now and then, never shown
        self._after_first_paint(self._fill_rest)
        if cursor != self._st.cursor_s:
            self._st.cursor_s = cursor  # triggers _on_cursor
        else:
            self._on_cursor()

    def _after_first_paint(self, callback: Any, period_ms: int = DELAY_3D_MS) -> None:
        """Run ``callback`` once the page shows the read-out: on a session not yet loaded, when the browser has
        drawn it (``pn.state.onload``); on a loaded one, in a callback of its own ``DELAY_3D_MS`` later (the
        read-out and the plots go out first); without a server (tests, notebooks) at once."""
        doc = pn.state.curdoc
        if doc is None or doc.session_context is None:
            callback()
        elif not pn.state.loaded:
            # Also on a timer: the browser's "document ready" can come late or never (a tab in the background,
            # a slow machine), and Panel drops the rest of a session's onload list when one of them raises.
            once = _Once(callback)
            pn.state.onload(once)
            pn.state.add_periodic_callback(once, period=FIRST_PAINT_FALLBACK_MS, count=1)
        else:
            pn.state.add_periodic_callback(callback, period=period_ms, count=1)

    def _fill_table(self, result: Any) -> None:
        """The rep table's rows (15 a page). Sent with the first paint: filled after it (``pn.state.onload``), the
        rows did not reach the browser in about one fresh-clone test run in two, under load."""
        # A selection left from the clip shown before would make clicking the same row number fire no change.
        self.table.selection = []
        self.table.value = _frame(rep_rows(result.analysis))

    def _fill_rest(self) -> None:
        """What the first paint of a clip does not need: the cycle plot."""
        result = self._st.result
        if result is None:
            return
        self.cycles.object = cycles_figure(result, self._exercise_shown, self.cycle_select.value)
        self.cycles.height = int(self.cycles.object["layout"]["height"])

    def _export_tables(self) -> dict[str, Any]:
        """``biocoach export``'s two tables of the open clip (rows; empty without one)."""
        from workbench.io.tables import columns_of
        from workbench.motion.measures import angle_rows
        from workbench.motion.measures import rep_rows as export_rep_rows

        result = self._st.result
        if result is None:
            return {"reps": ([], ["rep"]), "angles": ([], ["frame", "t_s", "rep"])}
        track, reps = result.estimate.track, result.analysis.reps
        rows = {"reps": export_rep_rows(reps), "angles": angle_rows(track.t, track.q, track.observed, reps)}
        # the columns ``cmd_export`` gives a table without rows
        empty = {"reps": ["rep"], "angles": ["frame", "t_s", "rep"]}
        return {name: (r, columns_of(r) or empty[name]) for name, r in rows.items()}

    def _csv(self, name: str) -> io.BytesIO:
        """Table ``name`` as ``biocoach export`` writes it (``workbench.io.tables.write_csv``), as bytes."""
        import tempfile

        from workbench.io.tables import write_csv

        rows, columns = self._export_tables()[name]
        with tempfile.TemporaryDirectory(prefix="biocoach-export-") as tmp:
            data = write_csv(Path(tmp) / f"{name}.csv", rows, columns).read_bytes()
        return io.BytesIO(data)

    def _reps_csv(self) -> io.BytesIO:
        return self._csv("reps")

    def _angles_csv(self) -> io.BytesIO:
        return self._csv("angles")

    def _on_cursor(self, _event: Any = None) -> None:
        result = self._st.result
        if result is None or self._fig is None or self._trust_fig is None:
            return
        doc = pn.state.curdoc
        held = pn.io.hold() if isinstance(doc, Document) else contextlib.nullcontext()
        with held:  # one message to the browser per move (on a server)
            self._cursor_moved(result, self._st.cursor_s)

    def _cursor_moved(self, result: Any, t_s: float) -> None:
        self.slider.value = self.cursor_input.value = t_s  # what their links to the cursor would send after
        self.readout.object = readout_text(result, t_s)
        self.cursor_line.time_s = t_s  # the browser moves the plots' cursor lines
        assert self._fig is not None and self._trust_fig is not None  # checked by _on_cursor
        self._fig, self._trust_fig = with_cursor(self._fig, t_s), with_cursor(self._trust_fig, t_s)
        self.angles.follow(self._fig)
        self.trust_plot.follow(self._trust_fig)
        rep = last_completed_rep(result.analysis, t_s)
        since = (
            f" (violations of rep {rep.index + 1}, completed at {rep.end_s:.2f} s)"
            if rep
            else " (no rep completed yet)"
        )
        body = motion_text(result, t_s).replace("\n", "  \n")
        self.motion.object = f"**C_motion** as of the cursor{since}  \n{body}"
        self.feedback.object = feedback_text(result, t_s, self._truth)
        self._schedule_3d(t_s)
        if self.player.visible:  # the browser draws the video and its skeleton: no frame decoded here
            if not self._from_player:
                self.player.time_s = t_s
            self.frame.visible = False
            self.frame_note.object = ""
            return
        shot = overlay_png(result, t_s, raw_landmarks=self.raw_landmarks.value)
        self.frame.object = shot.png
        self.frame.visible = shot.png is not None
        self.frame_note.object = shot.note

    def _load_skel_mesh(self, result: Any) -> None:
        """The SKEL bone mesh for the clip (its fitted gender), once per clip; None when no SKEL model is
        configured. A configured model that cannot be read is shown as its error; the skeleton stays."""
        try:
            self._skel_mesh = configured_bone_mesh(gender=clip_gender(result))
        except WorkbenchError as exc:
            self._skel_mesh = None
            self.skel_note.param.update(object=f"SKEL bone mesh not shown: {exc}", visible=True)
        else:
            self.skel_note.param.update(object="", visible=False)

    def _schedule_3d(self, t_s: float) -> None:
        """Show the 3D skeleton at ``t_s``: on a server, in a callback of its own ``DELAY_3D_MS`` later, so the
        read-out and the cursor lines are sent (and painted) first, and a burst of moves draws the last one only,
        at most one 3D frame per ``MIN_3D_INTERVAL_MS`` while the player plays (its 10 updates a second draw 5); a
        cursor moved by hand, once it has been still for ``DEBOUNCE_3D_MS``; elsewhere (no server) at once."""
        pending = self._3d_due is not None
        self._3d_due = t_s
        doc = pn.state.curdoc
        served = doc is not None and doc.session_context is not None and pn.state.loaded
        if served and not self._from_player:  # moved by hand: drawn once the cursor is still (debounced)
            if self._3d_timer is not None:
                self._3d_timer.stop()
            elif pending:
                return  # a draw already on its way shows the last position
            self._3d_timer = pn.state.add_periodic_callback(self._show_3d, period=DEBOUNCE_3D_MS, count=1)
            return
        if not pending:
            since_ms = min(1000 * (time.monotonic() - self._3d_drawn), MIN_3D_INTERVAL_MS)  # never drawn: inf
            self._after_first_paint(self._show_3d, max(DELAY_3D_MS, round(MIN_3D_INTERVAL_MS - since_ms)))

    def _show_3d(self) -> None:
        t_s, self._3d_due, self._3d_timer = self._3d_due, None, None
        result = self._st.result
        if t_s is None or result is None:
            return
        self._3d_drawn = time.monotonic()
        if self._mesh_for is not result:
            self._mesh_for = result
            self._load_skel_mesh(result)
        self.skeleton3d.patch(clip_skeleton_figure(result, t_s, self._exercise_shown, skel_mesh=self._skel_mesh))

    def _on_joints(self, _event: Any = None) -> None:
        """Redraw the angle curves for the joints picked."""
        result = self._st.result
        if self._syncing or result is None:
            return
        self._fig = angle_figure(result, self._st.cursor_s, self.joint_picker.value)
        self.angles.object = with_cursor(self._fig, self._st.cursor_s)

    def _on_cycle_dof(self, _event: Any = None) -> None:
        """Redraw the cycle plot for the DoF chosen."""
        result = self._st.result
        if self._syncing or result is None:
            return
        self.cycles.object = cycles_figure(result, self._exercise(), self.cycle_select.value)
        self.cycles.height = int(self.cycles.object["layout"]["height"])

    def _exercise(self) -> Any:
        """The exercise the analysis used, as it resolved it (the store's versions at that time)."""
        result = self._st.result
        if result is not None and result.exercise is not None:
            return result.exercise
        return resolve(self._st.exercise, self._st.database())[0]

    # ---------------------------------------------------------------- layout

    def __panel__(self) -> pn.viewable.Viewable:
        picker = pn.Column(
            pn.Row(self.path_input, self.exercise_select, self.analyse_button, sizing_mode="stretch_width"),
            self.progress,
            self.progress_text,
            sizing_mode="stretch_width",
        )
        cursor = pn.Row(self.slider, self.cursor_input, sizing_mode="stretch_width")
        card = {"styles": CARD_STYLES, "sizing_mode": "stretch_width", "margin": (4, 4)}
        left = pn.Column(
            pn.Column(self.joint_picker, self.angles, self.trust_plot, self.trust_text, **card),
            pn.Column(
                pn.Row(pn.pane.Markdown("#### Cycles over the reference envelope"), self.cycle_select),
                self.cycles,
                **card,
            ),
            sizing_mode="stretch_width",
        )
        right = pn.Column(
            pn.Column(self.player, self.frame, self.frame_note, self.raw_landmarks, **card),
            pn.Column(
                pn.pane.Markdown("#### Fitted skeleton in 3D (drag to rotate)"), self.skel_note, self.skeleton3d, **card
            ),
            pn.Column(pn.pane.Markdown("#### Context as of the cursor"), self.motion, self.morph, **card),
            pn.Column(
                pn.pane.Markdown("#### Reps (select a row to jump)"),
                self.table,
                pn.Row(self.export_reps, self.export_angles),
                **card,
            ),
            pn.Column(pn.pane.Markdown("#### Feedback timeline"), self.feedback, **card),
            width=480,
        )
        return pn.Column(
            picker,
            cursor,
            pn.Column(self.readout, self.cursor_line, **card),
            pn.Row(left, right, sizing_mode="stretch_width"),
            sizing_mode="stretch_width",
        )


@functools.lru_cache(maxsize=1)
def _catalogue_keys() -> list[str]:
    return load_catalogue().keys()


def _frame(rows: list[dict[str, Any]]) -> Any:
    import pandas as pd

    cols = list(dict.fromkeys(k for row in rows for k in row)) or TABLE_COLUMNS
    return pd.DataFrame(rows, columns=cols)
