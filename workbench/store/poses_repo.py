"""The pose cache: pose tracks (and the landmarks behind them) per clip content hash, backend and parameters."""

from __future__ import annotations

import io
import json
from collections.abc import Mapping
from typing import Any

import numpy as np

from workbench.pose.landmarks import LandmarkTrack
from workbench.pose.track import PoseTrack
from workbench.store.rules import canonical_json
from workbench.store.session import Session, ValidationError, utc_now


def canonical_params(params: str | Mapping[str, Any]) -> str:
    """Pose parameters as canonical JSON, so {"a": 1, "b": 2} and {"b": 2, "a": 1} hit the same cache row."""
    if isinstance(params, str):
        try:
            params = json.loads(params)
        except json.JSONDecodeError as exc:
            raise ValidationError(f"params_json: expected a JSON object, got {params!r} ({exc})") from None
    if not isinstance(params, Mapping):
        raise ValidationError(f"params_json: expected a JSON object, got {type(params).__name__}")
    return canonical_json(dict(params))


def track_to_npz(track: PoseTrack) -> bytes:
    """A lossless .npz of a track: the pose-file keys plus ``nominal_fps`` and ``meta`` (t kept exactly)."""
    arrays: dict[str, Any] = {
        "q": track.q,
        "t": track.t,
        "confidence": track.confidence,
        "observed": track.observed,
        "source": np.array(track.source),
        "meta": np.array(json.dumps(track.meta, sort_keys=True)),
    }
    if track.betas is not None:
        arrays["betas"] = track.betas
    if track.nominal_fps is not None:
        arrays["nominal_fps"] = np.array(track.nominal_fps)
    if track.dof_confidence is not None:
        arrays["dof_confidence"] = track.dof_confidence
    return _npz_bytes(arrays)


def _npz_bytes(arrays: dict[str, Any]) -> bytes:
    buffer = io.BytesIO()
    np.savez_compressed(buffer, **arrays)
    return buffer.getvalue()


def _npz_arrays(blob: bytes) -> dict[str, Any]:
    with np.load(io.BytesIO(blob), allow_pickle=False) as data:
        return {k: data[k] for k in data.files}


def track_from_npz(blob: bytes) -> PoseTrack:
    a = _npz_arrays(blob)
    return PoseTrack(
        q=a["q"],
        t=a["t"],
        confidence=a["confidence"],
        observed=a["observed"],
        betas=a.get("betas"),
        source=str(a["source"]),
        meta=json.loads(str(a["meta"])),
        nominal_fps=float(a["nominal_fps"]) if "nominal_fps" in a else None,
        dof_confidence=a.get("dof_confidence"),
    )


def landmarks_to_npz(track: LandmarkTrack) -> bytes:
    arrays: dict[str, Any] = {
        "world": track.world,
        "visibility": track.visibility,
        "t": track.t,
        "source": np.array(track.source),
    }
    if track.image is not None:
        arrays["image"] = track.image
    if track.image_size is not None:
        arrays["image_size"] = np.array(track.image_size)
    return _npz_bytes(arrays)


def landmarks_from_npz(blob: bytes) -> LandmarkTrack:
    a = _npz_arrays(blob)
    size = tuple(int(v) for v in a["image_size"]) if "image_size" in a else None
    return LandmarkTrack(
        world=a["world"],
        visibility=a["visibility"],
        t=a["t"],
        image=a.get("image"),
        image_size=size,  # type: ignore[arg-type]
        source=str(a["source"]),
    )


class PoseCacheRepository:
    """Pose tracks per clip content hash, backend and parameters: re-analysing a clip after a threshold
    edit reads the track here instead of running pose extraction again."""

    def __init__(self, session: Session):
        self.s = session

    def put_pose(
        self,
        clip_hash: str,
        backend: str,
        params_json: str | Mapping[str, Any],
        track: PoseTrack,
        *,
        extract_s: float | None = None,
    ) -> None:
        """Store (or replace) the track; ``extract_s`` is how long extraction took, for the benchmark."""
        self.s.execute(
            "INSERT OR REPLACE INTO pose_tracks (clip_hash, backend, params_json, npz, n_frames, "
            "created_at, extract_s) VALUES (?, ?, ?, ?, ?, ?, ?)",
            [
                clip_hash,
                backend,
                canonical_params(params_json),
                track_to_npz(track),
                track.n_frames,
                utc_now(),
                extract_s,
            ],
        )

    def get_pose(self, clip_hash: str, backend: str, params_json: str | Mapping[str, Any]) -> PoseTrack | None:
        blob = self.s.scalar(
            "SELECT npz FROM pose_tracks WHERE clip_hash = ? AND backend = ? AND params_json = ?",
            [clip_hash, backend, canonical_params(params_json)],
        )
        return None if blob is None else track_from_npz(blob)

    # The landmarks behind a track (for the overlay and the landmark body estimate) live in the same table
    # under the backend's name with a ":landmarks" suffix, so no schema change was needed for them.
    def put_landmarks(
        self, clip_hash: str, backend: str, params_json: str | Mapping[str, Any], landmarks: LandmarkTrack
    ) -> None:
        self.s.execute(
            "INSERT OR REPLACE INTO pose_tracks (clip_hash, backend, params_json, npz, n_frames, created_at) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            [
                clip_hash,
                f"{backend}:landmarks",
                canonical_params(params_json),
                landmarks_to_npz(landmarks),
                landmarks.n_frames,
                utc_now(),
            ],
        )

    def get_landmarks(self, clip_hash: str, backend: str, params_json: str | Mapping[str, Any]) -> LandmarkTrack | None:
        blob = self.s.scalar(
            "SELECT npz FROM pose_tracks WHERE clip_hash = ? AND backend = ? AND params_json = ?",
            [clip_hash, f"{backend}:landmarks", canonical_params(params_json)],
        )
        return None if blob is None else landmarks_from_npz(blob)

    # Blobs already in the cache's .npz form (a batch worker serialised the track), written and read as they are.
    def put_blob(
        self,
        clip_hash: str,
        backend: str,
        params_json: str | Mapping[str, Any],
        blob: bytes,
        *,
        n_frames: int,
        extract_s: float | None = None,
    ) -> None:
        self.s.execute(
            "INSERT OR REPLACE INTO pose_tracks (clip_hash, backend, params_json, npz, n_frames, created_at, "
            "extract_s) VALUES (?, ?, ?, ?, ?, ?, ?)",
            [clip_hash, backend, canonical_params(params_json), blob, int(n_frames), utc_now(), extract_s],
        )

    def get_blob(self, clip_hash: str, backend: str, params_json: str | Mapping[str, Any]) -> bytes | None:
        blob = self.s.scalar(
            "SELECT npz FROM pose_tracks WHERE clip_hash = ? AND backend = ? AND params_json = ?",
            [clip_hash, backend, canonical_params(params_json)],
        )
        return None if blob is None else bytes(blob)


__all__ = [
    "PoseCacheRepository",
    "canonical_params",
    "landmarks_from_npz",
    "landmarks_to_npz",
    "track_from_npz",
    "track_to_npz",
]
