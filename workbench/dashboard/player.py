"""The clip's video in the browser's own HTML5 player, with the skeleton drawn over it on a canvas.

The browser decodes the video; the server sends no image. It sends, once per clip, the skeleton's 2D landmarks of
every analysed frame as JSON (normalised image coordinates, ``frames_payload``), and the player draws the frame's
skeleton on a ``<canvas>`` over the ``<video>`` at every animation frame. ``VideoPlayer.time_s`` is synced both
ways: the page sets it from ``AppState.cursor_s`` (the video seeks), and the player reports its position while it
plays or steps, at most ``SYNC_MS`` apart (10 a second), so playback stays smooth whatever the server does.

The video file is served by the app itself (``workbench.dashboard.media``).
"""

from __future__ import annotations

import math
from typing import Any, ClassVar

import numpy as np
import param
from numpy.typing import NDArray
from panel.reactive import ReactiveHTML

from workbench.pose.landmarks import MP_EDGES, MP_INDEX

SYNC_MS = 100  # the player reports its position to the server at most this often
SPEEDS = (0.25, 0.5, 0.75, 1.0, 1.25, 1.5, 2.0)
ZOOMS = (1.0, 1.5, 2.0, 3.0)
MIN_VISIBILITY = 0.5  # raw landmarks seen less than this are not drawn (as the overlay does)

# ------------------------------------------------------------------------------------ per-frame data

_SIDE = {"left": "L", "right": "R"}
EDGES: list[list[Any]] = [
    [MP_INDEX[a], MP_INDEX[b], next((_SIDE[s] for s in _SIDE if a.startswith(s) and b.startswith(s)), "C")]
    for a, b in MP_EDGES
]


def _rows(image: Any, keep: Any = None) -> list[list[float | None]]:
    """(T, 33, 2) normalised coordinates → per frame a flat [x0, y0, x1, y1, …] list, None where not drawn."""
    arr = np.round(np.asarray(image, dtype=np.float64), 4)
    ok: NDArray[np.bool_] = np.asarray(np.isfinite(arr).all(axis=-1))
    if keep is not None:
        ok = ok & np.asarray(keep, dtype=bool)
    out: list[list[float | None]] = []
    for k in range(arr.shape[0]):
        row: list[float | None] = []
        for j in range(arr.shape[1]):
            row += [float(arr[k, j, 0]), float(arr[k, j, 1])] if ok[k, j] else [None, None]
        out.append(row)
    return out


def frames_payload(result: Any, raw_landmarks: bool = False) -> dict[str, Any]:
    """The per-frame data the player draws: ``t`` (s), ``skeleton`` (the fitted SKEL skeleton projected into the
    image when the clip has a fit, else MediaPipe's landmarks), ``raw`` (MediaPipe's landmarks under the fitted
    skeleton, with ``raw_landmarks``), and ``edges`` ([a, b, side]); empty lists when the clip has neither."""
    fit = getattr(result, "fit", None)
    landmarks = getattr(result.estimate, "landmarks", None)
    raw: dict[str, Any] = {"t": [], "points": []}
    if landmarks is not None and getattr(landmarks, "image", None) is not None:
        keep = (landmarks.visibility >= MIN_VISIBILITY) & landmarks.detected[:, None]
        raw = {"t": np.round(landmarks.t, 4).tolist(), "points": _rows(landmarks.image, keep)}
    if fit is not None:
        skeleton = {"t": np.round(fit.t, 4).tolist(), "points": _rows(fit.image)}
        return {"skeleton": skeleton, "raw": raw if raw_landmarks else {"t": [], "points": []}, "edges": EDGES}
    return {"skeleton": raw, "raw": {"t": [], "points": []}, "edges": EDGES}


# ------------------------------------------------------------------------------------------ the player

_OPTIONS_SPEED = "".join(f'<option value="{s:g}"{" selected" if s == 1.0 else ""}>{s:g}×</option>' for s in SPEEDS)
_OPTIONS_ZOOM = "".join(f'<option value="{z:g}"{" selected" if z == 1.0 else ""}>{z:g}×</option>' for z in ZOOMS)


class VideoPlayer(ReactiveHTML):
    """An HTML5 video with the skeleton drawn over it, play/pause, ±1 frame, speed and zoom; ``time_s`` synced."""

    src = param.String(default="", doc="the video's URL (served by the app: media_url)")
    time_s = param.Number(default=0.0, doc="the playback position, seconds (both ways)")
    fps = param.Number(default=30.0, bounds=(0, None), doc="the analysis grid's rate: one frame step is 1/fps")
    rate = param.Number(default=1.0, bounds=(0.25, 2.0), doc="playback speed")
    zoom = param.Number(default=1.0, bounds=(1.0, 4.0), doc="zoom about the centre")
    frames = param.Dict(default={}, doc="frames_payload(): the 2D skeleton of every frame")
    playing = param.Boolean(default=False, doc="whether the video is playing (set by the player)")

    _template = (
        '<div id="box" class="vp" style="width:100%; font: 13px Inter, Helvetica, Arial, sans-serif;">'
        '<div id="stage" class="vp-stage" style="position:relative; overflow:hidden; width:100%; background:#111;">'
        '<div id="zoomer" style="position:relative; transform-origin:50% 50%;">'
        '<video id="video" class="vp-video" src="${src}" preload="auto" muted playsinline '
        'style="display:block; width:100%; height:auto;"></video>'
        '<canvas id="canvas" class="vp-canvas" style="position:absolute; left:0; top:0; width:100%; height:100%;'
        ' pointer-events:none;"></canvas></div></div>'
        '<div id="controls" class="vp-controls" style="display:flex; gap:6px; align-items:center; margin-top:4px;'
        ' flex-wrap:wrap;">'
        '<button id="back" class="vp-back" title="one frame back" onclick="${script(\'step_back\')}">−1 frame</button>'
        '<button id="play" class="vp-play" title="play or pause" style="min-width:64px;" '
        "onclick=\"${script('toggle')}\">Play</button>"
        '<button id="fwd" class="vp-fwd" title="one frame on" onclick="${script(\'step_fwd\')}">+1 frame</button>'
        f'<label>speed <select id="speed" class="vp-speed" onchange="${{script(\'set_rate\')}}">{_OPTIONS_SPEED}'
        "</select></label>"
        f'<label>zoom <select id="zoomsel" class="vp-zoom" onchange="${{script(\'set_zoom\')}}">{_OPTIONS_ZOOM}'
        "</select></label>"
        '<span id="clock" class="vp-clock" style="color:#555; margin-left:6px;"></span>'
        '<span id="note" class="vp-note" style="color:#a33;"></span></div></div>'
    )

    _scripts: ClassVar[dict[str, str]] = {
        "render": """
            state.step = () => 1 / (data.fps > 0 ? data.fps : 30);
            state.sent = -1; state.lastSent = 0; state.drawn = null;
            state.nearest = (t, times) => {
              let lo = 0, hi = times.length - 1;
              if (hi < 0) return -1;
              while (lo < hi) { const mid = (lo + hi) >> 1; if (times[mid] < t) lo = mid + 1; else hi = mid; }
              if (lo > 0 && Math.abs(times[lo - 1] - t) <= Math.abs(times[lo] - t)) lo -= 1;
              return Math.abs(times[lo] - t) <= 1.5 * state.step() ? lo : -1;
            };
            state.layer = (ctx, layer, t, w, h, width, alpha) => {
              if (!layer || !layer.t || !layer.t.length) return;
              const k = state.nearest(t, layer.t);
              if (k < 0) return;
              const p = layer.points[k], colors = {L: '#00aaff', R: '#ff8c00', C: '#ebebeb'};
              ctx.globalAlpha = alpha; ctx.lineWidth = width; ctx.lineCap = 'round';
              for (const [a, b, side] of (data.frames.edges || [])) {
                if (p[2 * a] == null || p[2 * b] == null) continue;
                ctx.strokeStyle = colors[side] || '#ebebeb';
                ctx.beginPath(); ctx.moveTo(p[2 * a] * w, p[2 * a + 1] * h); ctx.lineTo(p[2 * b] * w, p[2 * b + 1] * h);
                ctx.stroke();
              }
              ctx.fillStyle = '#ffffff';
              for (let j = 0; j < p.length / 2; j++) {
                if (p[2 * j] == null) continue;
                ctx.beginPath(); ctx.arc(p[2 * j] * w, p[2 * j + 1] * h, width, 0, 2 * Math.PI); ctx.fill();
              }
              ctx.globalAlpha = 1;
            };
            state.draw = (t) => {
              const dpr = window.devicePixelRatio || 1, w = video.clientWidth, h = video.clientHeight;
              if (!w || !h) return;
              if (canvas.width !== Math.round(w * dpr) || canvas.height !== Math.round(h * dpr)) {
                canvas.width = Math.round(w * dpr); canvas.height = Math.round(h * dpr);
              }
              const ctx = canvas.getContext('2d');
              ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
              ctx.clearRect(0, 0, w, h);
              const f = data.frames || {}, lw = Math.max(2, Math.min(w, h) / 160);
              state.layer(ctx, f.raw, t, w, h, lw * 0.7, 0.45);
              state.layer(ctx, f.skeleton, t, w, h, lw, 1.0);
            };
            state.tick = () => {
              const t = video.currentTime, now = performance.now();
              const key = t + ':' + video.clientWidth + ':' + video.clientHeight;
              if (key !== state.drawn) { state.draw(t); state.drawn = key; }
              if (Math.abs(t - data.time_s) > 1e-4 && Math.abs(t - state.sent) > 1e-4
                  && now - state.lastSent >= SYNC_MS) {
                state.sent = t; state.lastSent = now; data.time_s = t;
              }
              const k = Math.round(t * (data.fps > 0 ? data.fps : 30));
              clock.textContent = t.toFixed(2) + ' s · frame ' + k + (video.paused ? '' : ' · playing');
              state.raf = requestAnimationFrame(state.tick);
            };
            video.addEventListener('play', () => { play.textContent = 'Pause'; data.playing = true; });
            video.addEventListener('pause', () => { play.textContent = 'Play'; data.playing = false; });
            video.addEventListener('loadedmetadata', () => {
              note.textContent = '';
              if (Math.abs(video.currentTime - data.time_s) > 1e-4) video.currentTime = data.time_s;
              video.playbackRate = data.rate; state.drawn = null;
            });
            video.addEventListener('error', () => {
              note.textContent = 'this browser cannot play the video; the cursor and the views still work';
            });
            video.playbackRate = data.rate;
            zoomer.style.transform = 'scale(' + data.zoom + ')';
            if (data.time_s > 0) video.currentTime = data.time_s;
            state.raf = requestAnimationFrame(state.tick);
        """.replace("SYNC_MS", str(SYNC_MS)),
        "remove": "if (state.raf) cancelAnimationFrame(state.raf); video.pause();",
        "time_s": """
            if (Math.abs(video.currentTime - data.time_s) > 0.25 / (data.fps > 0 ? data.fps : 30)) {
              state.sent = data.time_s; video.currentTime = data.time_s;
            }
        """,
        "src": "state.sent = -1; state.drawn = null; play.textContent = 'Play';",
        "frames": "state.drawn = null;",
        "rate": "video.playbackRate = data.rate; speed.value = String(data.rate);",
        "zoom": "zoomer.style.transform = 'scale(' + data.zoom + ')'; zoomsel.value = String(data.zoom);",
        "toggle": "if (video.paused) { video.play().catch((e) => { note.textContent = String(e); }); } "
        "else { video.pause(); }",
        "step_back": "video.pause(); const s = state.step();"
        " video.currentTime = Math.max(0, (Math.round(video.currentTime / s) - 1) * s);",
        "step_fwd": "video.pause(); const s = state.step();"
        " const end = isFinite(video.duration) ? video.duration : 1e9;"
        " video.currentTime = Math.min(end, (Math.round(video.currentTime / s) + 1) * s);",
        "set_rate": "data.rate = parseFloat(speed.value);",
        "set_zoom": "data.zoom = parseFloat(zoomsel.value);",
    }


def player_fps(result: Any) -> float:
    """The rate of the analysis grid (one frame step of the player), from the analysis or the track's spacing."""
    fps = float(getattr(result.analysis, "fps", 0.0) or 0.0)
    if fps > 0 and math.isfinite(fps):
        return fps
    t = result.estimate.track.t
    return float(1.0 / np.median(np.diff(t))) if t.size > 1 else 30.0
