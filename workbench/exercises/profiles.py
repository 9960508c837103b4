"""Reference cycles from documented rules (paper supplement §10: "rules generate complete 46-dimensional
angle representations … saved as .npy").

A rule file's ``reference`` block gives a constant ``posture_deg`` and, per moving DoF, a ``motion_deg``
profile: ``rest`` and ``work`` angles, a ``shape`` (``cosine``: rest → work at mid-cycle → rest; ``pulse``:
a raised-cosine bump of width ``duty`` starting at ``phase``, for alternating sides), and ``sd``, the
spread an expert accepts (the envelope). The synthetic generator draws performances from the same rules.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from numpy.typing import NDArray

from workbench.skeleton import N_DOFS, dof_index


def profile(u: NDArray[np.float64], shape: str, phase: float, duty: float) -> NDArray[np.float64]:
    """Fraction of the way from rest to work at cycle position u ∈ [0, 1)."""
    if shape == "cosine":
        return 0.5 * (1.0 - np.cos(2.0 * math.pi * (u - phase)))
    if shape == "pulse":
        v = np.mod(u - phase, 1.0)
        inside = v < duty
        return np.where(inside, 0.5 * (1.0 - np.cos(2.0 * math.pi * np.minimum(v, duty) / duty)), 0.0)
    raise ValueError(f"shape: expected 'cosine' or 'pulse', got {shape!r}")


def motion_rules(rules: dict[str, Any]) -> dict[int, dict[str, float | str]]:
    """The ``motion_deg`` block keyed by DoF index, with defaults filled in."""
    out: dict[int, dict[str, float | str]] = {}
    for name, spec in (rules.get("motion_deg") or {}).items():
        out[dof_index(name)] = {
            "rest": float(spec["rest"]),
            "work": float(spec["work"]),
            "sd": float(spec.get("sd", 0.0)),
            "shape": str(spec.get("shape", "cosine")),
            "phase": float(spec.get("phase", 0.0)),
            "duty": float(spec.get("duty", 0.5)),
        }
    return out


def posture(rules: dict[str, Any]) -> NDArray[np.float64]:
    """The constant part of the pose, radians (46,)."""
    base = np.zeros(N_DOFS)
    for name, deg in (rules.get("posture_deg") or {}).items():
        base[dof_index(name)] = math.radians(float(deg))
    return base


def cycle_angles(
    rules: dict[str, Any], u: NDArray[np.float64], amplitude: dict[int, float] | None = None
) -> NDArray[np.float64]:
    """(len(u), 46) radians of one performance at cycle positions ``u``; ``amplitude`` scales the excursion
    of chosen DoFs (1 = as the rules say), which is how the synthetic generator makes shallow reps."""
    q = np.tile(posture(rules), (len(u), 1))
    for i, spec in motion_rules(rules).items():
        scale = 1.0 if amplitude is None else amplitude.get(i, 1.0)
        frac = profile(u, str(spec["shape"]), float(spec["phase"]), float(spec["duty"]))
        rest, work = float(spec["rest"]), float(spec["work"])
        q[:, i] = np.radians(rest + scale * (work - rest) * frac)
    return q


def envelope_sd(rules: dict[str, Any], n: int) -> NDArray[np.float64]:
    """(46, n) radians: the accepted spread around the reference, constant within the cycle."""
    sd = np.zeros((N_DOFS, n))
    for i, spec in motion_rules(rules).items():
        sd[i, :] = math.radians(float(spec["sd"]))
    for name, deg in (rules.get("posture_sd_deg") or {}).items():
        sd[dof_index(name), :] = math.radians(float(deg))
    return sd
