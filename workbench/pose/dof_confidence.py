"""Per-DoF, per-frame confidence of angles computed from landmarks: how well what determines a DoF was seen.

Each observable DoF is computed by ``pose.ik`` from a few landmarks (``DOF_LANDMARKS``, below). Its
confidence in a frame is

    min over those landmarks of their visibility          (a left/right pair that only sets the direction of
                                                           the trunk or the face counts as its better-seen
                                                           member: one shoulder seen fixes the trunk's lean)
  × (1 − FAR_SIDE_WEIGHT · farness of the DoF's side)     (sided DoFs only)
  × (1 − share of the thigh twist held)                   (hip rotation only: held, not measured; ``pose.ik``)

``farness`` is how far that side is turned away from the camera: the depth step from the other side to this
side, over the distance between them, for the hips and the shoulders (MediaPipe's world z, averaged), in
[0, 1]: 0 facing the camera or nearer it, 1 when the body is side on and this side is behind. So in a side view
the far knee and elbow, which MediaPipe guesses behind the body, get low confidence even where it reports
them as fairly visible, and the near side keeps its visibility. Lost frames (visibility 0), NaN angles and
unobserved DoFs get 0.

DoF → landmarks (sided DoFs: the side's landmarks; "both" = left and right):

  pelvis_tilt, lumbar_bending, thorax_twist      shoulders (pair), hips (pair)
  pelvis_list, pelvis_rotation                   hips (both)
  hip_flexion, hip_adduction                     hips (both), knee
  hip_rotation                                   hips (both), knee, ankle
  knee_angle                                     hip, knee, ankle
  ankle_angle, subtalar_angle                    knee, ankle, heel, foot_index
  head_bending/extension/twist                   nose, eyes (pair), ears (pair), mouth (pair), shoulders (pair)
  shoulder_x, shoulder_z                         shoulders (pair), hips (pair), shoulder, elbow
  shoulder_y                                     shoulders (pair), hips (pair), shoulder, elbow, wrist
  elbow_flexion                                  shoulder, elbow, wrist
  pro_sup, wrist_flexion, wrist_deviation        elbow, wrist, index, pinky
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from workbench.pose.landmarks import MP_INDEX, LandmarkTrack
from workbench.skeleton import DOFS, N_DOFS, dof_index

FloatArray = NDArray[np.float64]
BoolArray = NDArray[np.bool_]

FAR_SIDE_WEIGHT = 0.5

# Side-free DoF name → (landmarks of the DoF's own side, pairs counted by their better-seen member, landmarks
# needed on both sides). "{s}" is the DoF's side ("left"/"right"); pairs name the part ("shoulder").
_Spec = tuple[tuple[str, ...], tuple[str, ...], tuple[str, ...]]
_TRUNK: _Spec = ((), ("shoulder", "hip"), ())
DOF_LANDMARKS: dict[str, _Spec] = {
    "pelvis_tilt": _TRUNK,
    "lumbar_bending": _TRUNK,
    "thorax_twist": _TRUNK,
    "pelvis_list": ((), (), ("hip",)),
    "pelvis_rotation": ((), (), ("hip",)),
    "hip_flexion": (("knee",), (), ("hip",)),
    "hip_adduction": (("knee",), (), ("hip",)),
    "hip_rotation": (("knee", "ankle"), (), ("hip",)),
    "knee_angle": (("hip", "knee", "ankle"), (), ()),
    "ankle_angle": (("knee", "ankle", "heel", "foot_index"), (), ()),
    "subtalar_angle": (("knee", "ankle", "heel", "foot_index"), (), ()),
    "head_bending": ((), ("eye", "ear", "mouth", "shoulder"), ()),
    "head_extension": ((), ("eye", "ear", "mouth", "shoulder"), ()),
    "head_twist": ((), ("eye", "ear", "mouth", "shoulder"), ()),
    "shoulder_x": (("shoulder", "elbow"), ("shoulder", "hip"), ()),
    "shoulder_z": (("shoulder", "elbow"), ("shoulder", "hip"), ()),
    "shoulder_y": (("shoulder", "elbow", "wrist"), ("shoulder", "hip"), ()),
    "elbow_flexion": (("shoulder", "elbow", "wrist"), (), ()),
    "pro_sup": (("elbow", "wrist", "index", "pinky"), (), ()),
    "wrist_flexion": (("elbow", "wrist", "index", "pinky"), (), ()),
    "wrist_deviation": (("elbow", "wrist", "index", "pinky"), (), ()),
}
_ALWAYS = ("nose",)  # the head's DoFs also need the nose


def dof_confidence(
    landmarks: LandmarkTrack, q: FloatArray, observed: BoolArray, held: FloatArray | None = None
) -> FloatArray:
    """(T, 46) in [0, 1] from filtered landmarks (lost frames at visibility 0), the IK angles ``q`` (T, 46),
    the observed mask (46,) and the held share of the right and left thigh twist (T, 2) (module docstring)."""
    vis = np.clip(np.nan_to_num(landmarks.visibility), 0.0, 1.0)
    n = vis.shape[0]
    if q.shape != (n, N_DOFS):
        raise ValueError(f"q: expected shape ({n}, {N_DOFS}), got {q.shape}")
    far = {"right": farness(landmarks, "right"), "left": farness(landmarks, "left")}
    out = np.zeros((n, N_DOFS))
    for d in DOFS:
        spec = DOF_LANDMARKS.get(d.generic)
        if spec is None or not observed[d.index]:
            continue
        side = d.side if d.side in ("right", "left") else None
        conf = _seen(vis, spec, side, head=d.generic.startswith("head_"))
        if side is not None:
            conf = conf * (1.0 - FAR_SIDE_WEIGHT * far[side])
        out[:, d.index] = conf
    if held is not None:
        for k, s in enumerate(("r", "l")):
            out[:, dof_index(f"hip_rotation_{s}")] *= 1.0 - np.clip(held[:, k], 0.0, 1.0)
    out[~np.isfinite(q)] = 0.0
    return np.clip(out, 0.0, 1.0)


def farness(landmarks: LandmarkTrack, side: str) -> FloatArray:
    """(T,) in [0, 1]: how far ``side`` ("right"/"left") is turned away from the camera, from the depth
    (MediaPipe world z, away from the camera) of its hip and shoulder against the other side's."""
    other = "left" if side == "right" else "right"
    parts = []
    for part in ("hip", "shoulder"):
        a, b = landmarks.point(f"{side}_{part}"), landmarks.point(f"{other}_{part}")
        with np.errstate(invalid="ignore", divide="ignore"):
            parts.append((a[:, 2] - b[:, 2]) / np.linalg.norm(a - b, axis=1))
    return np.clip(np.nan_to_num(np.mean(parts, axis=0)), 0.0, 1.0)


def _seen(vis: FloatArray, spec: _Spec, side: str | None, *, head: bool) -> FloatArray:
    own, pairs, both = spec
    columns: list[FloatArray] = []
    for part in own:
        assert side is not None, "a sided landmark list needs a sided DoF"
        columns.append(vis[:, MP_INDEX[f"{side}_{part}"]])
    for part in pairs:
        columns.append(np.maximum(vis[:, _index("left", part)], vis[:, _index("right", part)]))
    for part in both:
        columns.extend((vis[:, _index("left", part)], vis[:, _index("right", part)]))
    if head:
        columns.extend(vis[:, MP_INDEX[n]] for n in _ALWAYS)
    return np.asarray(np.min(np.stack(columns, axis=1), axis=1))


def _index(side: str, part: str) -> int:
    """MediaPipe index of a sided part: "left_eye", but "mouth_left"."""
    name = f"{part}_{side}" if part == "mouth" else f"{side}_{part}"
    return MP_INDEX[name]
