"""PoseTrack: SKEL joint angles over time, the data model every stage passes along.

Angles are radians, shape ``(time, dof)`` in SKEL order; degrees appear only at the edges (text, plots).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING

import numpy as np
from numpy.typing import NDArray

from workbench.config import current_limits
from workbench.errors import PoseFileError
from workbench.io.checks import check_fps, check_times
from workbench.limits import Limits, exceeded
from workbench.skeleton import DOF_NAMES, N_DOFS, dof, dof_index

if TYPE_CHECKING:
    import pandas as pd

FloatArray = NDArray[np.float64]
BoolArray = NDArray[np.bool_]

# Relative spread of frame intervals above which a track counts as variable-rate and is resampled.
_UNIFORM_TOLERANCE = 0.01


@dataclass(frozen=True, eq=False)
class PoseTrack:
    """SKEL pose angles of one person over time.

    q: (time, dof) radians, SKEL order; NaN where a frame has no estimate for that DoF.
    t: (time,) seconds, strictly increasing.
    confidence: (time,) in [0, 1]; 0 marks a lost frame.
    observed: (dof,) whether the source measures each DoF at all (unobserved DoFs are never judged).
    betas: optional (time, 10) SMPL shape coefficients.
    dof_confidence: optional (time, dof) in [0, 1]: how well each DoF is determined in each frame by what the
        source saw (e.g. the visibility and view angle of the landmarks that determine it); None = no
        per-DoF information (the frame ``confidence`` applies to every DoF).
    """

    q: FloatArray
    t: FloatArray
    confidence: FloatArray
    observed: BoolArray
    betas: FloatArray | None = None
    source: str = "unknown"
    units: str = "rad"
    nominal_fps: float | None = None  # the rate the source stated, kept exactly (t may carry rounding)
    meta: dict[str, str] = field(default_factory=dict)
    dof_confidence: FloatArray | None = None

    def __post_init__(self) -> None:
        validate_track_arrays(self.q, self.t, self.confidence, self.observed, self.betas)
        if self.dof_confidence is not None:
            dc = self.dof_confidence
            if dc.shape != self.q.shape:
                raise ValueError(f"dof_confidence: expected shape {self.q.shape}, got {dc.shape}")
            if np.isnan(dc).any() or (dc < 0).any() or (dc > 1).any():
                raise ValueError("dof_confidence: expected values in [0, 1], got values outside it")
        if self.units != "rad":
            raise ValueError(f"Expected units 'rad', got {self.units!r}")

    @classmethod
    def from_arrays(
        cls,
        q: NDArray[np.floating],
        *,
        fps: float | None = None,
        t: NDArray[np.floating] | None = None,
        confidence: NDArray[np.floating] | None = None,
        observed: NDArray[np.bool_] | None = None,
        betas: NDArray[np.floating] | None = None,
        source: str = "unknown",
    ) -> PoseTrack:
        """Build a track from arrays; give either ``fps`` or per-frame times ``t`` (seconds)."""
        q64: FloatArray = np.ascontiguousarray(q, dtype=np.float64)
        q = q64
        if q.ndim != 2 or q.shape[1] != N_DOFS:
            raise ValueError(f"q: expected shape (T, {N_DOFS}), got {q.shape}")
        if (fps is None) == (t is None):
            raise ValueError("Expected exactly one of fps or t, got " + ("both" if fps else "neither"))
        if t is None:
            assert fps is not None
            if not np.isfinite(fps) or fps <= 0:
                raise ValueError(f"fps: expected a positive number, got {fps}")
            t = np.arange(q.shape[0], dtype=np.float64) / float(fps)
        n = q.shape[0]
        return cls(
            q=q64,
            t=np.asarray(t, dtype=np.float64),
            confidence=np.ones(n) if confidence is None else np.asarray(confidence, dtype=np.float64),
            observed=np.ones(N_DOFS, bool) if observed is None else np.asarray(observed, dtype=bool),
            betas=None if betas is None else np.asarray(betas, dtype=np.float64),
            source=source,
            nominal_fps=None if fps is None else float(fps),
        )

    @property
    def n_frames(self) -> int:
        return int(self.q.shape[0])

    @property
    def fps(self) -> float:
        """Frame rate: as stated by the source, else the inverse of the median frame interval."""
        if self.nominal_fps is not None:
            return self.nominal_fps
        if self.n_frames < 2:
            return float("nan")
        return float(1.0 / np.median(np.diff(self.t)))

    @property
    def duration_s(self) -> float:
        """Time covered, counting the last frame's interval (n_frames / fps for uniform tracks)."""
        if self.n_frames == 0:
            return 0.0
        return float(self.t[-1] - self.t[0] + 1.0 / self.fps) if self.n_frames > 1 else 0.0

    @property
    def is_uniform(self) -> bool:
        if self.n_frames < 3:
            return True
        dt = np.diff(self.t)
        return bool(np.ptp(dt) <= _UNIFORM_TOLERANCE * np.median(dt))

    def angle(self, name: str) -> FloatArray:
        """One DoF over time, radians."""
        return self.q[:, dof_index(name)]

    def with_q(self, q: FloatArray, **changes: object) -> PoseTrack:
        """A copy with new angles (and any other field changed)."""
        return replace(self, q=q, **changes)  # type: ignore[arg-type]

    def resampled(self, fps: float, limits: Limits | None = None) -> PoseTrack:
        """Linear resampling onto a uniform grid at ``fps`` (variable-rate sources). The grid's length is
        checked against ``limits.max_resampled_frames`` before anything is allocated (PoseFileError)."""
        n_new = resampled_length(self.t, fps, self.source, limits)
        t_new = self.t[0] + np.arange(n_new) / fps
        q_new = np.column_stack([np.interp(t_new, self.t, self.q[:, i]) for i in range(N_DOFS)])
        conf = np.interp(t_new, self.t, self.confidence)
        dof_conf = None
        if self.dof_confidence is not None:
            dof_conf = np.column_stack([np.interp(t_new, self.t, c) for c in self.dof_confidence.T])
        betas = None
        if self.betas is not None:
            betas = np.column_stack([np.interp(t_new, self.t, b) for b in self.betas.T])
        return replace(
            self, q=q_new, t=t_new, confidence=conf, betas=betas, nominal_fps=float(fps), dof_confidence=dof_conf
        )

    def to_dataframe(self, degrees: bool = False) -> pd.DataFrame:
        """One row per frame: ``t_s``, ``confidence`` and one column per DoF (radians unless ``degrees``)."""
        import pandas as pd

        values = np.degrees(self.q) if degrees else self.q
        frame = pd.DataFrame(values, columns=list(DOF_NAMES))
        frame.insert(0, "confidence", list(self.confidence))
        frame.insert(0, "t_s", list(self.t))
        frame.attrs.update(units="deg" if degrees else "rad", source=self.source)
        frame.attrs["observed"] = [n for n, o in zip(DOF_NAMES, self.observed, strict=True) if o]
        return frame


def validate_track_arrays(
    q: FloatArray, t: FloatArray, confidence: FloatArray, observed: BoolArray, betas: FloatArray | None
) -> None:
    """Check shapes and values; raise ValueError("field: expected …, got …")."""
    if q.ndim != 2 or q.shape[1] != N_DOFS:
        raise ValueError(f"q: expected shape (T, {N_DOFS}), got {q.shape}")
    n = q.shape[0]
    if np.isinf(q).any():
        frame, col = np.argwhere(np.isinf(q))[0]
        raise ValueError(f"q: expected finite angles or NaN, got inf at frame {frame} ({DOF_NAMES[col]})")
    if t.shape != (n,):
        raise ValueError(f"t: expected shape ({n},), got {t.shape}")
    if not np.isfinite(t).all():
        raise ValueError("t: expected finite seconds, got NaN or inf")
    if n > 1 and not (np.diff(t) > 0).all():
        bad = int(np.argmin(np.diff(t) > 0)) + 1
        raise ValueError(f"t: expected strictly increasing times, got t[{bad}]={t[bad]} after {t[bad - 1]}")
    if confidence.shape != (n,):
        raise ValueError(f"confidence: expected shape ({n},), got {confidence.shape}")
    if np.isnan(confidence).any() or (confidence < 0).any() or (confidence > 1).any():
        raise ValueError("confidence: expected values in [0, 1], got values outside it")
    if observed.shape != (N_DOFS,):
        raise ValueError(f"observed: expected shape ({N_DOFS},), got {observed.shape}")
    if betas is not None and (betas.ndim != 2 or betas.shape[0] != n or betas.shape[1] != 10):
        raise ValueError(f"betas: expected shape ({n}, 10), got {betas.shape}")


# ---------------------------------------------------------------------------------------------- input limits
#
# Checked where a track comes in (workbench.pose.posefile, motion.analysis.prepare_track) before anything sized by
# the input is allocated; each refusal names the input, the field, the limit and the value (workbench.limits).


def _limits(limits: Limits | None) -> Limits:
    return limits if limits is not None else current_limits()  # the configuration file's, read once


def check_track(track: PoseTrack, where: str, limits: Limits | None = None) -> None:
    """A track within the input limits: frames, time stamps, rate and the grid a variable rate resamples to."""
    lim = _limits(limits)
    check_frame_count(track.n_frames, where, lim)
    check_times(track.t, f"{where}: t", lim, from_zero=False)
    if track.is_uniform:
        check_fps(track.fps, f"{where}: fps", lim)
    else:
        fps = 1.0 / float(np.median(np.diff(track.t)))
        check_fps(fps, f"{where}: the median interval of t", lim)
        resampled_length(track.t, fps, where, lim)


def check_frame_count(n: int, where: str, limits: Limits | None = None) -> None:
    """At least two frames (a rate needs an interval) and at most ``max_frames``."""
    lim = _limits(limits)
    if n < 2:
        raise PoseFileError(f"{where}: expected at least 2 frames (a rate needs an interval), got {n}")
    if n > lim.max_frames:
        raise PoseFileError(f"{where}: {exceeded('frames', n, lim.max_frames, 'max_frames')}")


def resampled_length(t: FloatArray, fps: float, where: str, limits: Limits | None = None) -> int:
    """Frames of the uniform grid at ``fps`` over ``t``, refused beyond ``max_resampled_frames`` (before the
    grid exists: a 300-frame file spanning 1e5 s would otherwise become 3 million frames)."""
    lim = _limits(limits)
    span = float(t[-1] - t[0]) if t.size else 0.0
    n = span * fps + 1e-9
    if not (math.isfinite(n) and n + 1 <= lim.max_resampled_frames):
        what = f"frames after resampling {span:g} s to {fps:g} fps"
        raise PoseFileError(f"{where}: {exceeded(what, n + 1, lim.max_resampled_frames, 'max_resampled_frames')}")
    return math.floor(n) + 1


def angle_range() -> tuple[FloatArray, FloatArray]:
    """Per DoF, SKEL's soft limits in radians (±180° where it has none), each (46,)."""
    return _ANGLE_RANGE


def implausible_angles(q: FloatArray, observed: BoolArray, limits: Limits | None = None) -> BoolArray:
    """(T, 46) True where an observed angle lies beyond SKEL's soft limits widened by ``angle_margin_deg``."""
    margin = math.radians(_limits(limits).angle_margin_deg)
    low, high = _ANGLE_RANGE
    with np.errstate(invalid="ignore"):
        return np.asarray(((q < low - margin) | (q > high + margin)) & observed[None, :])


def check_angles(q: FloatArray, observed: BoolArray, where: str, limits: Limits | None = None) -> None:
    """Observed angles within SKEL's soft limits widened by ``angle_margin_deg`` (no limit: ±180° widened);
    beyond is no pose at all (degrees stored as radians, a unit slip), named by DoF and frame."""
    lim = _limits(limits)
    infinite = np.isinf(q)
    if infinite.any():
        frame, col = (int(v) for v in np.argwhere(infinite)[0])
        raise PoseFileError(
            f"{where}: expected finite angles or NaN, got {q[frame, col]} at frame {frame} ({DOF_NAMES[col]})"
        )
    margin = math.radians(lim.angle_margin_deg)
    low, high = _ANGLE_RANGE
    with np.errstate(invalid="ignore"):
        outside = ((q < low - margin) | (q > high + margin)) & observed[None, :]
    if not outside.any():
        return
    frame, col = (int(v) for v in np.argwhere(outside)[0])
    limits_deg = dof(DOF_NAMES[col]).limits_deg or (-180.0, 180.0)
    raise PoseFileError(
        f"{where}: expected {DOF_NAMES[col]} within [{limits_deg[0] - lim.angle_margin_deg:g}, "
        f"{limits_deg[1] + lim.angle_margin_deg:g}] degrees (SKEL's soft limits, ±180° where it has none, ± limit "
        f"angle_margin_deg), got "
        f"{math.degrees(q[frame, col]):.6g}° at frame {frame} ({int(outside.sum())} value(s) outside; radians "
        f"expected)"
    )


def _angle_range() -> tuple[FloatArray, FloatArray]:
    limits = [dof(name).limits_deg or (-180.0, 180.0) for name in DOF_NAMES]
    return np.radians([lo for lo, _ in limits]), np.radians([hi for _, hi in limits])


_ANGLE_RANGE = _angle_range()
