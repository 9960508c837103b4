"""QEVD-fit-coach: read a split folder into single-exercise CoachingSessions, as the reference protocol does.

On disk (EVALUATION.md): ``<split>/feedbacks_long_range.json``, a list of session records with
``long_range_video_file``, ``video_timestamps`` (a float64 ``.npy`` of per-frame times in nanoseconds; seconds =
ns / 1e9 + 28800), ``feedbacks`` (one string per frame, "" when silent), ``is_transition`` and
``feedback_timestamps`` (one per utterance, seconds on the converted clock).

What the loader does, following the reference data preparation:
- a string repeated over consecutive frames is one utterance (a change of string, or a silence, ends it);
- transition utterances ("First up are X!", "Moving on to X!") name the exercises; the last transition closes
  the workout; "armcrosschest" is the deltoid stretch;
- a segment runs from the first frame of a transition to halfway through the next one; its ground truth is
  the non-transition utterances between them, timed from the segment start; segments without any are dropped;
- sessions with numeric id ≤ 145 are stored rotated and are turned 90° clockwise when frames are read;
- frames are sampled by their time stamps (the videos are not uniformly timed).

A segment's id is ``<video id>_<k>`` with k the exercise's position in the session (the challenge's
``mini_episode_id``). Exercise names map to catalogue keys through the catalogue's aliases (plurals and
"(left)"/"(right)" included); a name we do not know is kept, normalised, with a warning.

Our extension: a ``NNNN_pose.npz`` beside a video (workbench pose format, ``t`` in seconds from the video's
first frame) is sliced into each segment's ``track`` (the miniature dataset ships one; see miniature.py).
Without one (real QEVD), ``load_split(..., video_poses=VideoPoses(db))`` estimates the track from the video
and caches it in the store (``workbench.data.video_poses``); ``load_sessions`` (training) does so by default.
Segments keep their video's frame times and rotation, so training reads their frames as the loader does.
"""

from __future__ import annotations

import json
import re
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from workbench.coach.sessions import CoachingSession, TimedUtterance
from workbench.data.video_poses import VideoPoses, slice_track
from workbench.errors import WorkbenchError
from workbench.exercises import load_catalogue
from workbench.pose.posefile import load_npz

TIME_OFFSET_S = 28800.0
ROTATE_MAX_ID = 145
RECORDS_FILE = "feedbacks_long_range.json"
SPLITS = {"test": "QEVD-FIT-COACH-Benchmark", "train": "QEVD-FIT-COACH"}
_FIELDS = ("long_range_video_file", "video_timestamps", "feedbacks", "is_transition", "feedback_timestamps")
_NAME_FIXES = {"armcrosschest": "deltoid stretch"}


class QevdFormatError(WorkbenchError):
    """A QEVD split folder or record is not in the published format."""


class QevdWarning(UserWarning):
    """Something in the data the loader kept but a user should know (unknown exercise, missing video)."""


@dataclass(frozen=True)
class Span:
    """One utterance: its text and its first and last frame."""

    text: str
    first: int
    last: int


@dataclass(frozen=True)
class SessionRecord:
    """One validated record of ``feedbacks_long_range.json``."""

    index: int
    video_id: str
    video: Path
    timestamps_path: Path
    times_s: NDArray[np.float64]  # per frame, converted clock
    feedbacks: list[str]
    spans: list[Span]
    is_transition: list[bool]
    feedback_times_s: list[float]
    raw: dict[str, Any]

    @property
    def rotate_90_cw(self) -> bool:
        return needs_rotation(self.video_id)


def needs_rotation(video_id: str) -> bool:
    """Sessions with a numeric id ≤ 145 are stored rotated and must be turned 90° clockwise."""
    digits = re.sub(r"\D", "", video_id)
    return bool(digits) and int(digits) <= ROTATE_MAX_ID


def load_timestamps(path: str | Path) -> NDArray[np.float64]:
    """Per-frame times in seconds on QEVD's clock (ns / 1e9 + 28800)."""
    ns = np.load(Path(path))
    return np.asarray(ns, dtype=np.float64) / 1e9 + TIME_OFFSET_S


def collapse(feedbacks: list[str]) -> list[Span]:
    """Per-frame strings → utterances. As the reference, an utterance still running on the last frame has no
    end and is not counted (the published files end in silence)."""
    spans: list[Span] = []
    current: str | None = None
    first = 0
    for i, text in enumerate(feedbacks):
        if current is not None and text != current:
            spans.append(Span(current, first, i - 1))
            current = None
        if text and current is None:
            current, first = text, i
    return spans


def exercise_name(transition: str) -> str:
    """ "First up are squats!" → "squats"; "Moving on to push-ups!" → "push-ups"."""
    name = transition.replace("First up are ", "").replace("Moving on to ", "").replace("!", "").strip()
    return _NAME_FIXES.get(name.lower(), name)


def exercise_key(name: str, catalogue: Any = None) -> str | None:
    """The catalogue key for a QEVD exercise name, or None when the catalogue does not know it."""
    if catalogue is None:
        catalogue = load_catalogue()
    base = name.strip().lower()
    side = None
    m = re.search(r"\(?\b(left|right)\b\)?", base)
    if m:
        side, base = m.group(1), (base[: m.start()] + base[m.end() :]).strip()
    base = re.sub(r"[^a-z0-9]+", "_", base).strip("_")
    candidates = [base, base.rstrip("s"), base[:-2] if base.endswith("es") else base, base.replace("_", "")]
    for cand in candidates:
        if cand and cand in catalogue:
            key = str(catalogue.get(cand).key)
            if side and f"{key}_{side}" in catalogue:
                return f"{key}_{side}"
            return key
    return None


def read_records(split_dir: str | Path) -> list[SessionRecord]:
    """Validate and read every record; a QevdFormatError names the record, the field, what was expected and got."""
    folder = Path(split_dir)
    file = folder / RECORDS_FILE
    if not file.is_file():
        raise QevdFormatError(
            f"{folder}: expected a QEVD-fit-coach split folder holding {RECORDS_FILE}, found no such file"
        )
    try:
        raw = json.loads(file.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise QevdFormatError(f"{file}: expected JSON, got a parse error ({exc})") from None
    if not isinstance(raw, list):
        raise QevdFormatError(f"{file}: expected a list of session records, got {type(raw).__name__}")
    return [_record(file, i, r) for i, r in enumerate(raw)]


def _record(file: Path, i: int, r: Any) -> SessionRecord:
    where = f"{file} record {i}"
    if not isinstance(r, dict):
        raise QevdFormatError(f"{where}: expected an object, got {type(r).__name__}")
    missing = [f for f in _FIELDS if f not in r]
    if missing:
        raise QevdFormatError(f"{where}: expected the field(s) {', '.join(missing)}, got only {', '.join(sorted(r))}")
    video_rel = r["long_range_video_file"]
    where = f"{file} record {i} ({video_rel})"
    feedbacks = r["feedbacks"]
    if not isinstance(feedbacks, list) or not all(isinstance(x, str) for x in feedbacks):
        raise QevdFormatError(f"{where}: field 'feedbacks': expected a list of strings (one per frame)")
    ts_path = file.parent / str(r["video_timestamps"])
    if not ts_path.is_file():
        raise QevdFormatError(f"{where}: field 'video_timestamps': expected a .npy file at {ts_path}, found none")
    try:
        times = load_timestamps(ts_path)
    except (OSError, ValueError) as exc:
        raise QevdFormatError(f"{where}: field 'video_timestamps': {ts_path} is not a readable .npy ({exc})") from None
    if times.ndim != 1 or times.size != len(feedbacks):
        raise QevdFormatError(
            f"{where}: field 'video_timestamps': expected {len(feedbacks)} frame times (one per "
            f"feedback string), got shape {times.shape}"
        )
    if times.size > 1 and not np.all(np.diff(times) > 0):
        bad = int(np.flatnonzero(np.diff(times) <= 0)[0]) + 1
        raise QevdFormatError(
            f"{where}: field 'video_timestamps': expected increasing times, frame {bad} is not after frame {bad - 1}"
        )
    spans = collapse(feedbacks)
    is_transition = r["is_transition"]
    fb_times = r["feedback_timestamps"]
    for name, values in (("is_transition", is_transition), ("feedback_timestamps", fb_times)):
        if not isinstance(values, list) or len(values) != len(spans):
            got = len(values) if isinstance(values, list) else type(values).__name__
            raise QevdFormatError(
                f"{where}: field {name!r}: expected one entry per utterance ({len(spans)} "
                f"utterances in 'feedbacks'), got {got}"
            )
    if not all(isinstance(x, bool) for x in is_transition):
        raise QevdFormatError(f"{where}: field 'is_transition': expected booleans")
    if not all(isinstance(x, int | float) and not isinstance(x, bool) for x in fb_times):
        raise QevdFormatError(f"{where}: field 'feedback_timestamps': expected numbers (seconds)")
    video_id = Path(str(video_rel)).stem
    return SessionRecord(
        index=i,
        video_id=video_id,
        video=file.parent / str(video_rel),
        timestamps_path=ts_path,
        times_s=times,
        feedbacks=list(feedbacks),
        spans=spans,
        is_transition=list(is_transition),
        feedback_times_s=[float(x) for x in fb_times],
        raw=r,
    )


def segments(record: SessionRecord, split: str = "", catalogue: Any = None) -> list[CoachingSession]:
    """The single-exercise segments of one session (without pose tracks; see :func:`load_split`)."""
    where = f"{record.video.parent.parent / RECORDS_FILE} record {record.index} ({record.video_id})"
    fixed = [_fix(s.text) for s in record.spans]
    transitions = [i for i, t in enumerate(record.is_transition) if t]
    out: list[CoachingSession] = []
    frame_times = record.times_s - float(record.times_s[0])  # one array shared by the segments
    for k in range(len(transitions) - 1):  # the last transition closes the workout
        cur, nxt = transitions[k], transitions[k + 1]
        if nxt - cur <= 1:
            continue  # no feedback in this exercise: dropped, as the reference does
        start_frame = record.spans[cur].first
        nspan = record.spans[nxt]
        end_frame = nspan.first + (nspan.last - nspan.first) // 2
        start_s = float(record.times_s[start_frame])
        name = exercise_name(fixed[cur])
        key = exercise_key(name, catalogue)
        if key is None:
            warnings.warn(
                f"{where}: exercise {name!r} (utterance {cur}) is not in the catalogue; kept as {_slug(name)!r}",
                QevdWarning,
                stacklevel=2,
            )
        utterances = [
            TimedUtterance(t_s=record.feedback_times_s[j] - start_s, text=fixed[j]) for j in range(cur + 1, nxt)
        ]
        out.append(
            CoachingSession(
                session_id=f"{record.video_id}_{k}",
                exercise=key or _slug(name),
                duration_s=float(record.times_s[end_frame]) - start_s,
                utterances=utterances,
                video=record.video if record.video.is_file() else None,
                video_start_s=start_s - float(record.times_s[0]),
                video_frame_times_s=frame_times,
                video_rotate_90_cw=record.rotate_90_cw,
                source=f"qevd:{split or record.video.parent.parent.name}/{record.video_id}#{k}",
                metadata={
                    "exercise_name": name,
                    "known_exercise": key is not None,
                    "video_id": record.video_id,
                    "segment": k,
                    "start_frame": start_frame,
                    "end_frame": end_frame,
                    "start_s": start_s,
                    "end_s": float(record.times_s[end_frame]),
                    "rotate_90_cw": record.rotate_90_cw,
                    "utterance_indices": list(range(cur + 1, nxt)),
                    "record_index": record.index,
                },
            )
        )
    return out


def load_split(
    split_dir: str | Path,
    *,
    with_tracks: bool = True,
    catalogue: Any = None,
    video_poses: VideoPoses | None = None,
) -> list[CoachingSession]:
    """Every single-exercise segment of a split folder, in record order. ``video_poses``: segments without a
    pose sidecar get their track from the video through it (cached in its store); the segments it could not
    give one are listed in its ``skipped`` (and stay without a track)."""
    folder = Path(split_dir)
    sessions: list[CoachingSession] = []
    for record in read_records(folder):
        if not record.video.is_file():
            warnings.warn(
                f"{record.video}: video missing (record {record.index}); its segments have no video",
                QevdWarning,
                stacklevel=2,
            )
        segs = segments(record, folder.name, catalogue)
        if with_tracks:
            sidecar = record.video.with_name(f"{record.video_id}_pose.npz")
            if sidecar.is_file():
                full = load_npz(sidecar)
                for s in segs:
                    s.track = slice_track(full, s.video_start_s, s.video_start_s + s.duration_s)
                    s.metadata["pose_from"] = "sidecar"
        sessions += segs
    if with_tracks and video_poses is not None:
        video_poses.attach(sessions)
    return sessions


def load_sessions(
    path: str | Path,
    split: str = "train",
    *,
    with_tracks: bool = True,
    video_poses: VideoPoses | str | None = "store",
) -> list[CoachingSession]:
    """The segments of a split folder, or of ``split`` ("train" by default) under a QEVD folder holding both.
    Segments without a pose sidecar get their track from the video, cached in the store (``"store"``: the
    one at ``$BIOCOACH_DB``, else the default; None: not estimated); each one skipped is warned about."""
    folder = find_split(path, split)
    poses: VideoPoses | None
    if isinstance(video_poses, str):
        if video_poses != "store":
            raise ValueError(f"video_poses: expected a VideoPoses, None or 'store', got {video_poses!r}")
        poses = VideoPoses(open_db=_default_store) if with_tracks else None
    else:
        poses = video_poses
    return load_split(folder, with_tracks=with_tracks, video_poses=poses)


def _default_store() -> Any:
    import os

    from workbench.store import Database

    return Database(os.environ.get("BIOCOACH_DB") or None)


def find_split(path: str | Path, split: str = "test") -> Path:
    """``path`` itself when it holds the records file, else its ``QEVD-FIT-COACH[-Benchmark]`` sub-folder."""
    p = Path(path)
    if (p / RECORDS_FILE).is_file():
        return p
    if split not in SPLITS:
        raise QevdFormatError(f"split: expected one of {', '.join(SPLITS)}, got {split!r}")
    if (p / SPLITS[split] / RECORDS_FILE).is_file():
        return p / SPLITS[split]
    raise QevdFormatError(f"{p}: expected {RECORDS_FILE} there or in {SPLITS[split]}/, found neither")


def sample_frames(
    session: CoachingSession, hz: float = 4.0, max_side: int | None = None
) -> Iterator[tuple[float, NDArray[np.uint8]]]:
    """(time from the segment start, RGB frame) at ``hz``, each the latest frame whose *time stamp* is not after
    the sample time, upright (rotated 90° clockwise for ids ≤ 145)."""
    import av

    if session.video is None:
        raise QevdFormatError(f"{session.session_id}: no video to read frames from")
    meta: dict[str, Any] = dict(session.metadata)
    ts_path = session.video.with_name(f"{meta['video_id']}_timestamps.npy")
    times = load_timestamps(ts_path) - float(meta["start_s"])
    first, last = int(meta["start_frame"]), int(meta["end_frame"])
    grid = np.arange(0.0, session.duration_s + 1e-9, 1.0 / hz)
    rotate = bool(session.metadata.get("rotate_90_cw"))
    chosen: dict[int, list[float]] = {}
    for g in grid:
        chosen.setdefault(max(first, int(np.searchsorted(times, g, side="right") - 1)), []).append(float(g))
    with av.open(str(session.video)) as container:
        for i, frame in enumerate(container.decode(video=0)):
            if i > last:
                break
            if i in chosen:
                rgb: NDArray[np.uint8] = np.asarray(frame.to_ndarray(format="rgb24"), dtype=np.uint8)
                if rotate:
                    rgb = np.ascontiguousarray(np.rot90(rgb, -1))
                if max_side is not None and max(rgb.shape[:2]) > max_side:
                    step = int(np.ceil(max(rgb.shape[:2]) / max_side))
                    rgb = np.ascontiguousarray(rgb[::step, ::step])
                for when in chosen[i]:
                    yield when, rgb


def _fix(text: str) -> str:
    for old, new in _NAME_FIXES.items():
        text = text.replace(old, new)
    return text


def _slug(name: str) -> str:
    return re.sub(r"[^a-z0-9]+", "_", name.lower()).strip("_")
