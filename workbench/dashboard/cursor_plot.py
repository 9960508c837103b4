"""Plotly views that follow the time cursor without their figures being sent (or redrawn) again.

``pn.pane.Plotly`` answers a new ``object`` by rebuilding the figure, diffing it against the browser's copy and
sending the layout again, after which the browser redraws the whole figure (``Plotly.react``). Even a partial
``Plotly.relayout`` of one shape redraws every shape, annotation and curve of the figure: for the angle curves of
a 5-minute clip (9,000 frames a curve, ~240 rep bands and phase marks, 120 annotations) about 250 ms a move in
the browser, while only the cursor line had moved.

* :class:`CursorLine` moves the cursor line of every plot it names with a few lines of JavaScript and no Plotly
  call at all: it sets the ``x0``/``x1`` of the plot's shape named ``"cursor"`` in the plot's own layout (so any
  later redraw — a zoom, a pan, a resize — has it there), hides that shape's SVG path and draws the line as a
  thin absolutely-positioned element over the plot (``.cursor-line``, its own compositing layer: moving it
  repaints nothing of the figure), at the pixel the plot's x axis maps the time to
  (``xaxis._offset + xaxis.r2p(t)``). A cursor move sends one number.
* :class:`CursorPlot` keeps its ``object`` (the figure a new view is built from) in step with the cursor
  without sending anything (:meth:`CursorPlot.follow`).
* :class:`PatchPlot` shows a figure that changes a little per move (the 3D skeleton) by sending only the trace
  attributes and layout values that changed (Panel's ``restyle``/``relayout`` channels, ``figure_patch``); a
  figure whose traces differ in number or type is sent whole.
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np
import panel as pn
import param
from panel.reactive import ReactiveHTML

CURSOR_SHAPE = "cursor"  # the ``name`` of the layout shape CursorLine moves


class CursorPlot(pn.pane.Plotly):
    """``pn.pane.Plotly`` whose cursor line the browser moves (:class:`CursorLine`): :meth:`follow` keeps the
    pane's figure in step with it, without sending anything."""

    def follow(self, figure: dict[str, Any]) -> None:
        """Make ``figure`` (the pane's figure with its cursor shape moved, nothing else changed) the pane's
        ``object`` without sending it: the browser's :class:`CursorLine` has moved the line already, and a view
        built later (a reload, a new model) starts from this figure."""
        # Stored as is, without param's comparison of the old and new figure (every curve of a long clip, ~9 ms
        # a move): nothing watches this change, and a view built later reads the stored figure.
        values = getattr(getattr(self, "_param__private", None), "values", None)
        if isinstance(values, dict):
            values["object"] = figure
            return
        with param.discard_events(self):
            self.object = figure


class CursorLine(ReactiveHTML):
    """Moves the ``"cursor"`` shape of the Plotly plots whose Panel views carry one of ``targets`` (CSS classes)
    to ``time_s``, in the browser, without a Plotly redraw. An invisible element: place it anywhere on the page.

    The plot's layout is updated in place (``gd.layout.shapes[k].x0/x1`` and its full layout's copy), so the
    figure stays right for anything that reads it; the line itself is an overlay element, placed again after every
    redraw of the plot (``plotly_afterplot``: a zoom, a pan, a resize, a new figure)."""

    time_s = param.Number(default=0.0, doc="the time the cursor lines show, seconds")
    targets = param.List(default=[], item_type=str, doc="CSS classes of the plots' panes")

    _template = '<div id="anchor" class="cursor-line-sync" style="display:none"></div>'

    _scripts: ClassVar[dict[str, str]] = {
        "render": """
            state.plots = [];
            state.find = () => {
              const ok = state.plots.length >= data.targets.length && state.plots.every(g => g.isConnected);
              if (ok) return state.plots;
              const found = [];
              const walk = (root) => {
                for (const el of root.querySelectorAll('*')) {
                  if (!el.shadowRoot) continue;
                  if (data.targets.some(c => el.classList.contains(c))) {
                    const gd = el.shadowRoot.querySelector('.js-plotly-plot');
                    if (gd) found.push(gd);
                  }
                  walk(el.shadowRoot);
                }
              };
              walk(document);
              for (const gd of found) {
                if (!gd.__cursorLine && gd.on) {
                  gd.__cursorLine = true;
                  gd.on('plotly_afterplot', () => state.place(gd, data.time_s));
                }
              }
              state.plots = found;
              return found;
            };
            state.place = (gd, t) => {
              const lay = gd.layout, full = gd._fullLayout;
              if (!lay || !full || !Array.isArray(lay.shapes)) return;
              const k = lay.shapes.findIndex(s => s && s.name === 'CURSOR');
              if (k < 0) return;
              lay.shapes[k].x0 = t; lay.shapes[k].x1 = t;
              const fs = full.shapes && full.shapes[k];
              if (fs) { fs.x0 = t; fs.x1 = t; }
              // Plotly's own line stays hidden: the overlay below is its own compositing layer, so moving it
              // repaints nothing of the figure (moving the SVG path re-rasterised every curve under it).
              const path = gd.querySelector('.shapelayer path[data-index="' + k + '"]');
              if (path && path.style.display !== 'none') path.style.display = 'none';
              const xa = full.xaxis, size = full._size, box = gd.querySelector('.svg-container');
              if (!xa || !xa.r2p || !size || !box) return;
              let line = box.querySelector(':scope > .cursor-line');
              if (!line) {
                line = document.createElement('div');
                line.className = 'cursor-line';
                line.style.cssText = 'position:absolute; left:0; top:0; width:2px; margin-left:-1px;'
                  + ' pointer-events:none; will-change:transform; z-index:1;';
                box.appendChild(line);
              }
              const shape = lay.shapes[k].line || {};
              line.style.background = shape.color || '#C00000';
              line.style.top = size.t + 'px'; line.style.height = size.h + 'px';
              const x = xa._offset + xa.r2p(t);
              line.style.display = (x >= xa._offset - 1 && x <= xa._offset + xa._length + 1) ? '' : 'none';
              line.style.transform = 'translateX(' + x.toFixed(2) + 'px)';
            };
            state.apply = () => {
              const plots = state.find();
              for (const gd of plots) state.place(gd, data.time_s);
              if (plots.length < data.targets.length && !state.retry) {
                state.retry = setTimeout(() => { state.retry = null; state.apply(); }, 200);
              }
            };
            state.apply();
        """.replace("CURSOR", CURSOR_SHAPE),
        "time_s": "state.apply();",
        "targets": "state.plots = []; state.apply();",
    }


# ------------------------------------------------------------------------------------------ patches


def _plain(value: Any) -> Any:
    """JSON-ready: numpy arrays and scalars as lists and Python numbers."""
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value


def _flat(d: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """Nested dicts as dotted paths ('marker.color'); lists and arrays are leaves."""
    out: dict[str, Any] = {}
    for key, value in d.items():
        path = f"{prefix}{key}"
        if isinstance(value, dict) and value:
            out.update(_flat(value, path + "."))
        else:
            out[path] = value
    return out


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
        a, b = np.asarray(a), np.asarray(b)
        return a.shape == b.shape and a.dtype == b.dtype and bool(np.array_equal(a, b))
    try:
        return bool(a == b)
    except (TypeError, ValueError):
        return False


def figure_patch(old: dict[str, Any] | None, new: dict[str, Any]) -> dict[str, Any] | None:
    """What turns figure ``old`` into ``new`` in the browser: ``{'restyle': {'data': {path: [value per trace]},
    'traces': [...]}, 'relayout': {path: value}}`` (either left out when nothing of its kind changed; ``{}`` when
    nothing did), or None when the two cannot be patched (no old figure, or traces differing in number or type):
    then the figure must be sent whole."""
    if old is None:
        return None
    old_data, new_data = list(old.get("data") or []), list(new.get("data") or [])
    if len(old_data) != len(new_data) or any(
        a.get("type", "scatter") != b.get("type", "scatter") for a, b in zip(old_data, new_data, strict=True)
    ):
        return None
    changed: dict[int, dict[str, Any]] = {}
    for k, (a, b) in enumerate(zip(old_data, new_data, strict=True)):
        fa, fb = _flat(a), _flat(b)
        diff = {p: fb.get(p) for p in fa.keys() | fb.keys() if not _same(fa.get(p), fb.get(p))}
        if diff:
            changed[k] = diff
    patch: dict[str, Any] = {}
    if changed:
        traces = sorted(changed)
        paths = sorted({p for diff in changed.values() for p in diff})
        flats = {k: _flat(new_data[k]) for k in traces}
        patch["restyle"] = {
            "data": {p: [_plain(flats[k].get(p)) for k in traces] for p in paths},
            "traces": traces,
        }
    la, lb = _flat(old.get("layout") or {}), _flat(new.get("layout") or {})
    relayout = {p: _plain(lb.get(p)) for p in la.keys() | lb.keys() if not _same(la.get(p), lb.get(p))}
    if relayout:
        patch["relayout"] = relayout
    return patch


class PatchPlot(pn.pane.Plotly):
    """``pn.pane.Plotly`` with :meth:`patch`: a figure that differs from the shown one in a few trace attributes
    and layout values is shown by sending those alone (``Plotly.restyle``/``Plotly.relayout`` in the browser)."""

    def patch(self, figure: dict[str, Any]) -> bool:
        """Show ``figure``; returns whether it went as a patch (False: sent whole, or nothing shown yet)."""
        update = figure_patch(self.object, figure) if self._models else None
        if update is None:
            self.object = figure
            return False
        with param.discard_events(self):  # the pane's figure follows, for views built later; nothing is sent
            self.object = figure
        if update:
            for ref, (model, _) in list(self._models.items()):
                # What Panel's own ``_send_update_msg`` does for a linked plotly Figure's restyle and relayout.
                self._apply_update({}, dict(update), model, ref)
        return True
