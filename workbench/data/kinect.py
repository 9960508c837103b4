"""Kinect v2 skeletons (the UI-PRMD layout) → world joint positions → MediaPipe-layout landmarks.

A UI-PRMD repetition is two CSV files of 66 columns (22 joints × 3): ``positions`` holds the Waist's
absolute position and every other joint's bone offset in its parent's local frame (cm); ``angles`` holds
each joint's local rotation (degrees, ax ay az). World positions follow the data set's own kinematics:
R_local = Rz(az)·Rx(ax)·Ry(ay), R_global(j) = R_global(parent)·R_local(j),
X(j) = X(parent) + R_global(parent)·offset(j). The result is y up, x the subject's left, z towards the
sensor, which is SKEL's world frame for a subject facing the sensor.

Those world positions then go through the same cleaning and inverse kinematics as any landmark file
(``pose.landmark_files.landmarks_to_track``). Kinect sees joint centres only, so the landmarks it lacks are
built from what it has, and the DoFs that would rest on them are marked unobserved (``KINECT_UNOBSERVED``):

- heel: from the ankle and the toe marker with a fixed ankle height above the sole (``ANKLE_HEIGHT_M``):
  the sole line is the toe marker's direction turned up by asin(h / |ankle→toe|) in the plane of the shank,
  so ankle dorsiflexion is the shank's angle to that line. Subtalar tilt would need the foot's width: unobserved.
- face: from Head → HeadTip (the head's long axis) and the shoulder line (its lateral axis), so head
  extension and bending are measured; head twist would need the face: unobserved.
- hand: the index, pinky and thumb continue the forearm; pronation and the wrist angles are unobserved.
"""

from __future__ import annotations

import gzip
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from workbench.errors import PoseFileError
from workbench.pose.fk import ADULT, axis_rotation, face_template, segment_frames, skel_landmarks, skel_to_mediapipe
from workbench.pose.landmarks import MP_INDEX, N_LANDMARKS, LandmarkTrack
from workbench.skeleton import DOF_NAMES

FloatArray = NDArray[np.float64]

KINECT_JOINTS: tuple[str, ...] = (
    "Waist",
    "Spine",
    "Chest",
    "Neck",
    "Head",
    "HeadTip",
    "LCollar",
    "LUpperArm",
    "LForearm",
    "LHand",
    "RCollar",
    "RUpperArm",
    "RForearm",
    "RHand",
    "LUpperLeg",
    "LLowerLeg",
    "LFoot",
    "LToes",
    "RUpperLeg",
    "RLowerLeg",
    "RFoot",
    "RToes",
)
KINECT_PARENT: dict[str, str] = {
    "Spine": "Waist",
    "Chest": "Spine",
    "Neck": "Chest",
    "Head": "Neck",
    "HeadTip": "Head",
    "LCollar": "Chest",
    "LUpperArm": "LCollar",
    "LForearm": "LUpperArm",
    "LHand": "LForearm",
    "RCollar": "Chest",
    "RUpperArm": "RCollar",
    "RForearm": "RUpperArm",
    "RHand": "RForearm",
    "LUpperLeg": "Waist",
    "LLowerLeg": "LUpperLeg",
    "LFoot": "LLowerLeg",
    "LToes": "LFoot",
    "RUpperLeg": "Waist",
    "RLowerLeg": "RUpperLeg",
    "RFoot": "RLowerLeg",
    "RToes": "RFoot",
}
KINECT_INDEX = {name: i for i, name in enumerate(KINECT_JOINTS)}
N_COLUMNS = 3 * len(KINECT_JOINTS)
KINECT_FPS = 30.0

# MediaPipe landmark ← Kinect joint, for the landmarks Kinect measures.
LANDMARK_FROM_KINECT: dict[str, str] = {
    f"{word}_{part}": f"{s}{joint}"
    for word, s in (("left", "L"), ("right", "R"))
    for part, joint in (
        ("shoulder", "UpperArm"),
        ("elbow", "Forearm"),
        ("wrist", "Hand"),
        ("hip", "UpperLeg"),
        ("knee", "LowerLeg"),
        ("ankle", "Foot"),
        ("foot_index", "Toes"),
    )
}
KINECT_UNOBSERVED: tuple[str, ...] = (
    "head_twist",
    "subtalar_angle_r",
    "subtalar_angle_l",
    "pro_sup_r",
    "pro_sup_l",
    "wrist_flexion_r",
    "wrist_flexion_l",
    "wrist_deviation_r",
    "wrist_deviation_l",
)
ANKLE_HEIGHT_M = 0.07  # ankle centre above the sole (SKEL's adult foot, pose.fk.Segments.ankle_height)
HEEL_BACK_M = 0.05  # heel behind the ankle along the sole
_HAND_OFFSETS = {"index": (0.08, 0.01), "pinky": (0.07, -0.03), "thumb": (0.04, 0.03)}  # along, across (m)


@dataclass(frozen=True)
class KinectRep:
    """One repetition: joint world positions (T, 22, 3) metres, SKEL world frame (y up, x subject's left)."""

    world: FloatArray
    fps: float
    source: str


# ------------------------------------------------------------------------------------------- reading


def read_kinect_table(path: str | Path) -> FloatArray:
    """(T, 22, 3) numbers from a UI-PRMD text file (gzip or plain), with errors naming the file and row."""
    path = Path(path)
    try:
        raw = path.read_bytes()
        text = (gzip.decompress(raw) if raw[:2] == b"\x1f\x8b" else raw).decode("utf-8")
    except (OSError, EOFError, gzip.BadGzipFile, UnicodeDecodeError) as exc:
        raise PoseFileError(f"{path}: cannot read a UI-PRMD Kinect file ({exc})") from None
    rows = []
    for i, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        cells = line.replace(";", ",").split(",")
        if len(cells) != N_COLUMNS:
            raise PoseFileError(
                f"{path}: row {i}: expected {N_COLUMNS} comma-separated numbers (22 joints × 3), got {len(cells)}"
            )
        try:
            rows.append([float(c) for c in cells])
        except ValueError:
            raise PoseFileError(f"{path}: row {i}: expected numbers, got {line[:60]!r}") from None
    if not rows:
        raise PoseFileError(f"{path}: expected at least one frame, got an empty file")
    table = np.asarray(rows, dtype=np.float64).reshape(-1, len(KINECT_JOINTS), 3)
    if not np.isfinite(table).all():
        raise PoseFileError(f"{path}: expected finite numbers, got NaN or infinity")
    return table


def kinect_world(positions: FloatArray, angles_deg: FloatArray) -> FloatArray:
    """World positions (T, 22, 3) in the input's units from local offsets and local rotations (module doc)."""
    if positions.shape != angles_deg.shape:
        raise PoseFileError(
            f"positions and angles: expected the same shape, got {positions.shape} and {angles_deg.shape}"
        )
    a = np.radians(angles_deg)
    rot: dict[str, FloatArray] = {}
    world = np.zeros_like(positions)
    for k, name in enumerate(KINECT_JOINTS):
        local = axis_rotation(2, a[:, k, 2]) @ axis_rotation(0, a[:, k, 0]) @ axis_rotation(1, a[:, k, 1])
        if name == "Waist":
            rot[name], world[:, k] = local, positions[:, k]
            continue
        parent = KINECT_PARENT[name]
        rot[name] = rot[parent] @ local
        world[:, k] = world[:, KINECT_INDEX[parent]] + (rot[parent] @ positions[:, k, :, None])[..., 0]
    return world


def read_kinect_rep(
    positions_path: str | Path, angles_path: str | Path, *, fps: float = KINECT_FPS, source: str | None = None
) -> KinectRep:
    """One repetition from its positions and angles files; world positions in metres."""
    pos, ang = read_kinect_table(positions_path), read_kinect_table(angles_path)
    if pos.shape[0] != ang.shape[0]:
        raise PoseFileError(f"{positions_path}: {pos.shape[0]} frames, but {angles_path} has {ang.shape[0]}")
    return KinectRep(world=kinect_world(pos, ang) / 100.0, fps=fps, source=source or str(positions_path))


# ------------------------------------------------------------------------------------------ landmarks


def kinect_landmarks(rep: KinectRep) -> LandmarkTrack:
    """MediaPipe-layout world landmarks (origin at the hip centre, MediaPipe axes) of a Kinect repetition:
    measured joints visible, derived ones (heels, face, hands: module doc) at visibility 0."""
    w = rep.world
    n = w.shape[0]
    pts = np.full((n, N_LANDMARKS, 3), np.nan)
    vis = np.zeros((n, N_LANDMARKS))
    for landmark, joint in LANDMARK_FROM_KINECT.items():
        pts[:, MP_INDEX[landmark]] = w[:, KINECT_INDEX[joint]]
        vis[:, MP_INDEX[landmark]] = 1.0
    for word, s in (("left", "L"), ("right", "R")):
        knee, ankle, toe = (w[:, KINECT_INDEX[f"{s}{j}"]] for j in ("LowerLeg", "Foot", "Toes"))
        pts[:, MP_INDEX[f"{word}_heel"]] = heel_position(knee, ankle, toe)
        elbow, wrist = w[:, KINECT_INDEX[f"{s}Forearm"]], w[:, KINECT_INDEX[f"{s}Hand"]]
        for part, point in _hand_points(elbow, wrist).items():
            pts[:, MP_INDEX[f"{word}_{part}"]] = point
    lateral = w[:, KINECT_INDEX["LUpperArm"]] - w[:, KINECT_INDEX["RUpperArm"]]
    for name, point in face_points(w[:, KINECT_INDEX["Head"]], w[:, KINECT_INDEX["HeadTip"]], lateral).items():
        pts[:, MP_INDEX[name]] = point
    mid_hip = 0.5 * (pts[:, MP_INDEX["left_hip"]] + pts[:, MP_INDEX["right_hip"]])
    world_mp = skel_to_mediapipe(pts - mid_hip[:, None, :])
    t = np.arange(n, dtype=np.float64) / rep.fps
    return LandmarkTrack(world=world_mp, visibility=vis, t=t, source=rep.source)


def heel_position(knee: FloatArray, ankle: FloatArray, toe: FloatArray) -> FloatArray:
    """The heel behind and below the ankle on the sole line through the toe marker (module doc)."""
    u = toe - ankle
    length = np.linalg.norm(u, axis=-1, keepdims=True)
    h = np.minimum(ANKLE_HEIGHT_M, 0.9 * length)
    lift = np.arcsin(h / np.maximum(length, 1e-9))
    # Turn u towards the shank's "up" (ankle → knee) within the plane they span: the sole lies below the ankle.
    up = knee - ankle
    normal = _unit(np.asarray(np.cross(u, up), dtype=np.float64))
    along = _unit(u)
    towards_up = np.cross(normal, along)
    sole = along * np.cos(lift) + towards_up * np.sin(lift)
    reach = np.sqrt(np.maximum(length**2 - h**2, 0.0))
    return toe - sole * (reach + HEEL_BACK_M)


def face_points(head: FloatArray, head_tip: FloatArray, lateral: FloatArray) -> dict[str, FloatArray]:
    """Face landmarks from the head's long axis and the shoulder line, laid out as SKEL's face template."""
    up = _unit(head_tip - head)
    x = _unit(lateral - np.sum(lateral * up, axis=-1, keepdims=True) * up)
    forward = np.cross(x, up)
    frame = np.stack([x, up, forward], axis=-1)  # columns: the head's x, y, z
    return {name: head + (frame @ offset) for name, offset in face_template().items()}


def _hand_points(elbow: FloatArray, wrist: FloatArray) -> dict[str, FloatArray]:
    along = _unit(wrist - elbow)
    across = _unit(np.cross(along, np.array([0.0, 0.0, 1.0])) + 1e-6 * np.array([0.0, 1.0, 0.0]))
    return {part: wrist + a * along + c * across for part, (a, c) in _HAND_OFFSETS.items()}


# ------------------------------------------------------------------------------------------ writing


def skel_to_kinect(q: FloatArray, *, sensor_distance_m: float = 2.0, hip_height_m: float = 1.0) -> FloatArray:
    """World positions (T, 22, 3) in cm of the Kinect joints of SKEL poses (T, 46), the subject facing the
    sensor: a known-answer source for the importer's tests and benchmark."""
    p = skel_landmarks(q)
    frames = segment_frames(q)

    def lm(name: str) -> FloatArray:
        return np.asarray(p[:, MP_INDEX[name]])

    mid_hip = 0.5 * (lm("left_hip") + lm("right_hip"))
    mid_sh = 0.5 * (lm("left_shoulder") + lm("right_shoulder"))
    head = frames["trunk"] @ np.array([0.0, ADULT.trunk + ADULT.neck, 0.0])
    at = {
        "Waist": mid_hip,
        "Spine": mid_hip + 0.4 * (mid_sh - mid_hip),
        "Chest": mid_hip + 0.8 * (mid_sh - mid_hip),
        "Neck": mid_sh,
        "Head": head,
        "HeadTip": head + frames["head"] @ np.array([0.0, 0.15, 0.0]),
    }
    for word, s in (("left", "L"), ("right", "R")):
        at[f"{s}Collar"] = 0.5 * (mid_sh + lm(f"{word}_shoulder"))
        for landmark, joint in LANDMARK_FROM_KINECT.items():
            if landmark.startswith(word):
                at[joint] = lm(landmark)
    world = np.stack([at[j] for j in KINECT_JOINTS], axis=1) * 100.0
    world[..., 1] += 100.0 * hip_height_m
    world[..., 2] -= 100.0 * sensor_distance_m
    return world


def kinect_tables(world_cm: FloatArray) -> tuple[FloatArray, FloatArray]:
    """The data set's (positions, angles) tables for world positions, with every local rotation zero: each
    offset is then the plain world difference to the parent."""
    positions = np.zeros_like(world_cm)
    for k, name in enumerate(KINECT_JOINTS):
        parent = KINECT_PARENT.get(name)
        positions[:, k] = world_cm[:, k] if parent is None else world_cm[:, k] - world_cm[:, KINECT_INDEX[parent]]
    return positions, np.zeros_like(world_cm)


def write_kinect_table(path: str | Path, table: FloatArray) -> Path:
    """One table in the data set's text format (gzip when the name ends in .gz)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    rows = table.reshape(table.shape[0], -1)
    text = "\n".join(",".join(f"{v:.5f}" for v in row) for row in rows) + "\n"
    data = text.encode("utf-8")
    path.write_bytes(gzip.compress(data, mtime=0) if path.name.endswith(".gz") else data)
    return path


def unobserved_mask() -> NDArray[np.bool_]:
    """True for the DoFs a Kinect skeleton cannot determine (beyond those the IK leaves unobserved)."""
    return np.array([name in KINECT_UNOBSERVED for name in DOF_NAMES])


# -------------------------------------------------------------------------------------------- helpers


def _unit(v: FloatArray) -> FloatArray:
    norm = np.linalg.norm(v, axis=-1, keepdims=True)
    return np.asarray(v / np.maximum(norm, 1e-12), dtype=np.float64)


__all__ = [
    "KINECT_FPS",
    "KINECT_JOINTS",
    "KinectRep",
    "kinect_landmarks",
    "kinect_world",
    "read_kinect_rep",
    "read_kinect_table",
]
