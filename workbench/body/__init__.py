"""Body measurements for C_morph: virtual measurements on a user-supplied SMPL-layout mesh, or a landmark estimate.

The smplx route (``workbench.body.smplx_model.load_smplx_model``) is not re-exported here: it imports torch,
which the measurement code and its importers (pose.reprojection, render) do without.
"""

from workbench.body.measurements import (
    BODY_DENSITY_KG_M3,
    PAPER_WINDOW,
    SMPL_LANDMARKS,
    MeasurementError,
    Measurements,
    MeshLandmarks,
    check_mesh,
    circumference_at,
    estimate_body,
    mean_betas,
    measure_betas,
    measure_landmarks,
    measure_mesh,
)
from workbench.body.model_file import BodyModel, BodyModelError, load_body_model

__all__ = [
    "BODY_DENSITY_KG_M3",
    "PAPER_WINDOW",
    "SMPL_LANDMARKS",
    "BodyModel",
    "BodyModelError",
    "MeasurementError",
    "Measurements",
    "MeshLandmarks",
    "check_mesh",
    "circumference_at",
    "estimate_body",
    "load_body_model",
    "mean_betas",
    "measure_betas",
    "measure_landmarks",
    "measure_mesh",
]
