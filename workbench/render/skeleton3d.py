"""The fitted skeleton in 3D: SKEL angles → joint positions and bones (forward kinematics), and a rotatable plotly
figure of one pose with the joints in violation in red and the reference pose of the same phase as a ghost.

Display frame (what every function here returns): metres, x to the subject's right, y forward (the way the
subject faces), z up; a proper rotation of SKEL's world (x left, y up, z forward), never a mirror image. The
origin is under the hip centre on the floor of the standing pose: the hip centre sits at the height of the
leg (thigh + shank + ankle height), so at q = 0 (SKEL's T-pose) the heels and toes touch z = 0 and the head
joint is at ``standing_height``. The chain is ``workbench.pose.fk`` (straight segments). Given a user's SKEL
model (``skel_mesh.configured_bone_mesh``: ``skel_model_dir`` in biocoach.yaml), the SKEL bone mesh is drawn
too, posed on the same chain (``workbench.render.skel_mesh``), as the figure's last trace. Angles are radians,
NaN read as 0 (the chain's neutral value).

The figure builders return plain plotly dicts (``{"data": [...], "layout": {...}}``), the form ``pn.pane.Plotly``
and ``plotly.graph_objects.Figure`` both take; ``layout.uirevision`` keeps the user's camera when the pose changes.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Sequence
from typing import Any

import numpy as np
from numpy.typing import NDArray

from workbench.motion.results import Rep
from workbench.pose.fk import ADULT, Segments, segment_frames, skel_landmarks
from workbench.pose.landmarks import MP_NAMES
from workbench.render.overlay import JOINT_ANCHORS
from workbench.render.skel_mesh import BoneMesh, posed_vertices
from workbench.skeleton import mirror_pose

FloatArray = NDArray[np.float64]

# The points of the 3D skeleton: MediaPipe's 33 landmarks (as the chain places them) and three of the chain's
# own joints that are no landmark.
POINT_NAMES: tuple[str, ...] = (*MP_NAMES, "mid_hip", "mid_shoulder", "head")
POINT_INDEX: dict[str, int] = {name: i for i, name in enumerate(POINT_NAMES)}

# SKEL world (x left, y up, z forward) → display (x right, y forward, z up): a rotation (determinant +1).
SKEL_TO_DISPLAY: FloatArray = np.array([[-1.0, 0.0, 0.0], [0.0, 0.0, 1.0], [0.0, 1.0, 0.0]])

BONES: tuple[tuple[str, str], ...] = (
    ("mid_hip", "mid_shoulder"),
    ("mid_shoulder", "head"),
    ("head", "nose"),
    ("left_hip", "right_hip"),
    ("left_shoulder", "right_shoulder"),
    *(
        (f"{s}_{a}", f"{s}_{b}")
        for s in ("right", "left")
        for a, b in (
            ("shoulder", "elbow"),
            ("elbow", "wrist"),
            ("wrist", "index"),
            ("wrist", "pinky"),
            ("wrist", "thumb"),
            ("hip", "knee"),
            ("knee", "ankle"),
            ("ankle", "heel"),
            ("heel", "foot_index"),
            ("ankle", "foot_index"),
        )
    ),
)

# The joints drawn as markers (violations colour them).
JOINT_MARKERS: tuple[str, ...] = (
    "head",
    "mid_shoulder",
    "mid_hip",
    *(f"{s}_{j}" for s in ("right", "left") for j in ("shoulder", "elbow", "wrist", "hip", "knee", "ankle")),
)

RIGHT_COLOR = "#D55E00"
LEFT_COLOR = "#0072B2"
CENTER_COLOR = "#444444"
VIOLATION_COLOR = "#E00000"
GHOST_COLOR = "rgba(120, 120, 120, 0.45)"
BONE_MESH_COLOR = "#E3DAC9"  # bone ivory


def standing_height(segments: Segments = ADULT) -> float:
    """Height of the head joint (the top of the neck) above the floor in the standing pose, metres."""
    return segments.ankle_height + segments.shank + segments.thigh + segments.trunk + segments.neck


def leg_height(segments: Segments = ADULT) -> float:
    """Height of the hip centre above the floor in the standing pose (where the chain's origin is drawn)."""
    return segments.ankle_height + segments.shank + segments.thigh


def joint_positions(q: FloatArray, segments: Segments = ADULT) -> FloatArray:
    """(T, len(POINT_NAMES), 3) display-frame positions of the skeleton's points for poses ``q`` (T, 46) radians,
    or (len(POINT_NAMES), 3) for one pose (46,)."""
    arr = np.asarray(q, dtype=np.float64)
    single = arr.ndim == 1
    poses = arr[None, :] if single else arr
    lm = skel_landmarks(poses, segments)  # (T, 33, 3), SKEL world, origin at the hip centre
    trunk = segment_frames(poses)["trunk"]  # (T, 3, 3)
    mid_hip = np.zeros((poses.shape[0], 1, 3))
    mid_shoulder = (trunk @ np.array([0.0, segments.trunk, 0.0]))[:, None, :]
    head = (trunk @ np.array([0.0, segments.trunk + segments.neck, 0.0]))[:, None, :]
    skel = np.concatenate([lm, mid_hip, mid_shoulder, head], axis=1)
    out = skel @ SKEL_TO_DISPLAY.T
    out[..., 2] += leg_height(segments)
    return out[0] if single else out


def bone_lines(points: FloatArray, bones: Sequence[tuple[str, str]] = BONES) -> tuple[list[float | None], ...]:
    """x, y, z lists of one pose's bones (points: (len(POINT_NAMES), 3)) as plotly draws separate lines: each
    bone's two ends, then None."""
    xs: list[float | None] = []
    ys: list[float | None] = []
    zs: list[float | None] = []
    for a, b in bones:
        pa, pb = points[POINT_INDEX[a]], points[POINT_INDEX[b]]
        xs += [float(pa[0]), float(pb[0]), None]
        ys += [float(pa[1]), float(pb[1]), None]
        zs += [float(pa[2]), float(pb[2]), None]
    return xs, ys, zs


def side_of(bone: tuple[str, str]) -> str:
    """'right', 'left' or 'center': the side both ends of a bone are on."""
    for side in ("right", "left"):
        if bone[0].startswith(side) and bone[1].startswith(side):
            return side
    return "center"


def violated_points(joints: Iterable[str]) -> set[str]:
    """The skeleton points where SKEL joints (e.g. 'tibia_r', a violation's joint) sit (the overlay's anchors)."""
    out: set[str] = set()
    for name in joints:
        out.update(JOINT_ANCHORS.get(name, ()))
    return out


def rep_at(reps: Sequence[Rep], t_s: float) -> Rep | None:
    """The rep whose span holds ``t_s`` (the first, when spans touch); None between reps."""
    for rep in reps:
        if rep.start_s <= t_s <= rep.end_s:
            return rep
    return None


def reference_sample(rep: Rep, t_s: float, n_samples: int) -> int:
    """The reference trajectory's sample of the same phase as ``t_s`` in ``rep``: the cursor's fraction of the rep,
    on the reference's normalised cycle of ``n_samples`` (0 at the rep's start, n − 1 at its end)."""
    span = rep.end_s - rep.start_s
    frac = 0.0 if span <= 0 else float(np.clip((t_s - rep.start_s) / span, 0.0, 1.0))
    return round(frac * (n_samples - 1))


def reference_pose(exercise: Any, rep: Rep, t_s: float) -> FloatArray | None:
    """The exercise's reference mean pose (46,) at the phase of ``t_s`` in ``rep``, on the rep's side (the
    reference is mirrored for a rep of the other side); None without a reference."""
    ref = getattr(exercise, "reference", None)
    if ref is None:
        return None
    q = np.asarray(ref.mean[:, reference_sample(rep, t_s, ref.n_samples)], dtype=np.float64)
    if rep.side in ("right", "left") and rep.side != getattr(exercise, "reference_side", rep.side):
        q = mirror_pose(q)
    return q


def skeleton_figure(
    q: FloatArray,
    segments: Segments = ADULT,
    *,
    violated: Collection[str] = (),
    ghost: FloatArray | None = None,
    title: str = "",
    height: int = 420,
    skel_mesh: BoneMesh | None = None,
    violated_bones: Collection[str] = (),
) -> dict[str, Any]:
    """A rotatable plotly 3D figure of one pose ``q`` (46,): bones by side, the joints as markers, those in
    ``violated`` (point names, see ``violated_points``) and their bones red, and ``ghost`` (a pose, e.g. the
    reference of the same phase) in translucent grey. Given ``skel_mesh``, the SKEL bone mesh posed on the same
    skeleton is the last trace (``bone_mesh_trace``), the SKEL bones named in ``violated_bones`` red."""
    points = joint_positions(q, segments)
    bad = set(violated)
    data: list[dict[str, Any]] = []
    if ghost is not None:
        xs, ys, zs = bone_lines(joint_positions(ghost, segments))
        data.append(
            {
                "type": "scatter3d",
                "mode": "lines",
                "x": xs,
                "y": ys,
                "z": zs,
                "name": "reference",
                "line": {"color": GHOST_COLOR, "width": 7},
                "hoverinfo": "skip",
            }
        )
    colors = {"right": RIGHT_COLOR, "left": LEFT_COLOR, "center": CENTER_COLOR}
    for side, label in (("right", "right side"), ("left", "left side"), ("center", "trunk and head")):
        bones = [b for b in BONES if side_of(b) == side and not (b[0] in bad or b[1] in bad)]
        if bones:
            xs, ys, zs = bone_lines(points, bones)
            data.append(
                {
                    "type": "scatter3d",
                    "mode": "lines",
                    "x": xs,
                    "y": ys,
                    "z": zs,
                    "name": label,
                    "line": {"color": colors[side], "width": 6},
                    "hoverinfo": "skip",
                }
            )
    red = [b for b in BONES if b[0] in bad or b[1] in bad]
    if red:
        xs, ys, zs = bone_lines(points, red)
        data.append(
            {
                "type": "scatter3d",
                "mode": "lines",
                "x": xs,
                "y": ys,
                "z": zs,
                "name": "in violation",
                "line": {"color": VIOLATION_COLOR, "width": 8},
                "hoverinfo": "skip",
            }
        )
    names = list(dict.fromkeys([*JOINT_MARKERS, *(n for n in bad if n in POINT_INDEX)]))
    pts = points[[POINT_INDEX[n] for n in names]]
    data.append(
        {
            "type": "scatter3d",
            "mode": "markers",
            "x": pts[:, 0].tolist(),
            "y": pts[:, 1].tolist(),
            "z": pts[:, 2].tolist(),
            "text": [n.replace("_", " ") for n in names],
            "name": "joints",
            "marker": {
                "size": [7 if n in bad else 3 for n in names],
                "color": [VIOLATION_COLOR if n in bad else "#222" for n in names],
            },
            "hovertemplate": "%{text}<extra></extra>",
            "showlegend": False,
        }
    )
    if skel_mesh is not None:
        data.append(bone_mesh_trace(skel_mesh, q, segments, violated_bones))
    h = standing_height(segments)
    reach = 0.65 * h
    axis = {"showbackground": True, "backgroundcolor": "#f6f7f9", "gridcolor": "#dde", "zerolinecolor": "#bbc"}
    layout = {
        "height": height,
        "margin": {"l": 0, "r": 0, "t": 28 if title else 4, "b": 0},
        "uirevision": "skeleton3d",
        "title": {"text": title, "font": {"size": 12}, "x": 0.01} if title else None,
        "legend": {"orientation": "h", "y": 0.0, "x": 0.0, "font": {"size": 10}},
        "showlegend": True,
        "scene": {
            "xaxis": {**axis, "title": {"text": "right (m)"}, "range": [-reach, reach]},
            "yaxis": {**axis, "title": {"text": "forward (m)"}, "range": [-reach, reach]},
            "zaxis": {**axis, "title": {"text": "up (m)"}, "range": [-0.15, h + 0.35]},
            "aspectmode": "manual",
            "aspectratio": {"x": 1, "y": 1, "z": (h + 0.5) / (2 * reach)},
            "camera": {"eye": {"x": 1.25, "y": 1.25, "z": 0.45}, "up": {"x": 0, "y": 0, "z": 1}},
        },
    }
    return {"data": data, "layout": layout}


def bone_mesh_trace(
    mesh: BoneMesh, q: FloatArray, segments: Segments = ADULT, violated_bones: Collection[str] = ()
) -> dict[str, Any]:
    """The SKEL bone mesh posed at ``q`` (46,) as a plotly ``mesh3d`` trace in the display frame: ivory, the bones
    named in ``violated_bones`` (SKEL joint names, a violation's ``joint``) red. Its keys are the same for every
    pose (``intensity`` is always there), so a page can swap it on each cursor move."""
    points = posed_vertices(mesh, q, segments) @ SKEL_TO_DISPLAY.T
    points[:, 2] += leg_height(segments)
    v = np.round(points, 4)
    bad = {i for i, name in enumerate(mesh.bone_names) if name in set(violated_bones)}
    red = np.isin(mesh.bone, sorted(bad)).astype(float) if bad else np.zeros(mesh.n_vertices)
    return {
        "type": "mesh3d",
        "x": v[:, 0].tolist(),
        "y": v[:, 1].tolist(),
        "z": v[:, 2].tolist(),
        "i": mesh.faces[:, 0].tolist(),
        "j": mesh.faces[:, 1].tolist(),
        "k": mesh.faces[:, 2].tolist(),
        "intensity": red.tolist(),
        "intensitymode": "vertex",
        "colorscale": [[0.0, BONE_MESH_COLOR], [1.0, VIOLATION_COLOR]],
        "cmin": 0.0,
        "cmax": 1.0,
        "showscale": False,
        "flatshading": False,
        "lighting": {"ambient": 0.55, "diffuse": 0.8, "specular": 0.15, "roughness": 0.7},
        "name": mesh.describe(),
        "showlegend": True,
        "hoverinfo": "skip",
    }


def clip_skeleton_figure(
    result: Any,
    t_s: float,
    exercise: Any = None,
    height: int = 420,
    *,
    skel_mesh: BoneMesh | None = None,
) -> dict[str, Any]:
    """The 3D skeleton of a clip's analysis (a ``workbench.pipeline.ClipResult``) at ``t_s``: the pose track's
    sample nearest the cursor, segment lengths from the body measured on the clip (``result.fit``) or the adult
    defaults, the joints in violation in the rep under the cursor red, and ``exercise``'s reference pose of the
    same phase of that rep as the ghost. Given ``skel_mesh`` (``skel_mesh.configured_bone_mesh``), the SKEL bone
    mesh is the last trace, its bones in violation red. Every trace is a function of (result, t_s) alone."""
    track, analysis = result.estimate.track, result.analysis
    fit = getattr(result, "fit", None)
    segments = fit.segments if fit is not None else ADULT
    t = track.t
    if t.size == 0:
        return skeleton_figure(
            np.zeros(track.q.shape[-1]), segments, title="empty track", height=height, skel_mesh=skel_mesh
        )
    i = int(np.argmin(np.abs(t - t_s)))
    rep = rep_at(analysis.reps, float(t[i]))
    bad_joints = {v.joint for v in rep.violations} if rep is not None else set()
    violated = violated_points(bad_joints)
    ghost = reference_pose(exercise, rep, float(t[i])) if rep is not None and exercise is not None else None
    where = f"rep {rep.index + 1}" if rep is not None else "between reps"
    bad = f" · {len(rep.violations)} in violation" if rep is not None and rep.violations else ""
    ref = " · grey: the reference at the same phase" if ghost is not None else ""
    title = f"{float(t[i]):.2f} s · frame {i} · {where}{bad}{ref}"
    return skeleton_figure(
        track.q[i],
        segments,
        violated=violated,
        ghost=ghost,
        title=title,
        height=height,
        skel_mesh=skel_mesh,
        violated_bones=bad_joints,
    )


__all__ = [
    "BONES",
    "POINT_NAMES",
    "bone_mesh_trace",
    "clip_skeleton_figure",
    "joint_positions",
    "reference_pose",
    "reference_sample",
    "skeleton_figure",
    "standing_height",
]
