"""The user's SMPL model run through ``smplx``, the reference SMPL implementation (Choutas et al.).

The file is read and checked by ``workbench.body.model_file`` (numpy and scipy.sparse only: a model file never
runs code on load, and chumpy pickles get their conversion recipe). Its arrays are then handed to
``smplx.SMPL`` (its ``data_struct`` argument, rather than letting smplx unpickle the file: smplx's own reader
calls ``pickle.load`` on whatever it is given and reads SMPL only from a pickle), and the shaped mesh is
smplx's forward pass with the track's betas and the zero pose (global orientation, body pose and translation
all zero): the template pose, y up, that the virtual measurements expect.

A file with only v_template, shapedirs and f (no skinning arrays) keeps the plain-array route:
v_template + shapedirs·β, which is what smplx computes at the zero pose.

torch is imported here, not in ``model_file`` or ``measurements``, so the measurement code and the modules
that import it (pose.reprojection, render) stay light; the analysis imports this module when it loads a model.
"""

from __future__ import annotations

import contextlib
import io
from dataclasses import dataclass, fields
from importlib.metadata import version
from pathlib import Path
from typing import Any

import numpy as np
import smplx
import torch
from numpy.typing import NDArray
from smplx.utils import Struct

from workbench.body.model_file import N_VERTICES, BodyModel, BodyModelError, FloatArray, load_body_model

# What smplx.SMPL needs besides v_template, shapedirs and f; SMPL has 24 joints (root + 23 body joints) and
# 207 = 23 × 9 pose blend shapes.
SKINNING_KEYS = ("J_regressor", "weights", "kintree_table", "posedirs")
N_JOINTS = smplx.SMPL.NUM_JOINTS + 1
N_POSE_BASIS = 9 * smplx.SMPL.NUM_BODY_JOINTS
SMPLX_VERSION = version("smplx")


@dataclass(frozen=True, eq=False)
class SmplxBodyModel(BodyModel):
    """A checked SMPL model whose shaped mesh comes from smplx's forward pass (float64)."""

    smpl: Any  # smplx.SMPL (an untyped torch module)

    @property
    def n_betas(self) -> int:
        """smplx uses at most 10 coefficients of a file with fewer than 300 shape directions (SMPL 1.0)."""
        return int(self.smpl.num_betas)

    @property
    def engine(self) -> str:
        return "smplx"

    def shaped_vertices(self, betas: NDArray[np.floating]) -> FloatArray:
        """smplx's SMPL at the zero pose shaped by β (missing trailing coefficients are zero)."""
        b = self.checked_betas(betas)
        full = np.zeros((1, self.n_betas))
        full[0, : b.shape[0]] = b
        zeros = torch.zeros((1, 3), dtype=torch.float64)
        pose = torch.zeros((1, 3 * smplx.SMPL.NUM_BODY_JOINTS), dtype=torch.float64)
        try:
            with torch.no_grad():
                out = self.smpl(betas=torch.from_numpy(full), global_orient=zeros, body_pose=pose, transl=zeros)
        except Exception as exc:  # torch shape errors and the like: a file smplx cannot run
            raise BodyModelError(
                f"{self.path}: smplx's SMPL forward pass failed ({type(exc).__name__}: {exc})"
            ) from exc
        return np.asarray(out.vertices[0].numpy(), dtype=np.float64)


def load_smplx_model(path: str | Path, *, require_smplx: bool = False) -> BodyModel:
    """The user's SMPL model: through smplx when the file has SMPL's skinning arrays (J_regressor, weights,
    kintree_table, posedirs; every SMPL release has them), else the plain-array model — or, with
    ``require_smplx``, a BodyModelError naming what is missing. Missing, corrupt, chumpy and SMPL-X files
    fail as ``load_body_model`` says (the file named, and where SMPL is obtained)."""
    model = load_body_model(path)
    missing = [k for k in SKINNING_KEYS if k not in model.extras]
    if not missing:
        return with_smplx(model)
    if require_smplx:
        raise BodyModelError(
            f"{model.path}: smplx's SMPL needs {', '.join(SKINNING_KEYS)}; missing "
            f"{', '.join(missing)} (the file has only what the plain-array route uses)"
        )
    return model


def with_smplx(model: BodyModel) -> SmplxBodyModel:
    """The model's arrays, checked against what smplx.SMPL assumes, as an smplx.SMPL module (float64)."""
    p, x = model.path, model.extras
    missing = [k for k in SKINNING_KEYS if k not in x]
    if missing:
        raise BodyModelError(f"{p}: smplx's SMPL needs {', '.join(missing)}")
    _check_skinning(x, p)
    kintree = np.asarray(x["kintree_table"]).astype(np.int64)
    data = Struct(
        v_template=model.v_template,
        shapedirs=model.shapedirs,
        f=model.faces,
        J_regressor=x["J_regressor"].astype(np.float64),
        weights=x["weights"].astype(np.float64),
        posedirs=x["posedirs"].astype(np.float64),
        kintree_table=kintree,
    )
    try:
        # smplx prints a warning to stdout for a 10-coefficient model; stdout may carry the CLI's JSON.
        with contextlib.redirect_stdout(io.StringIO()):
            smpl = smplx.SMPL(
                str(p),
                data_struct=data,
                num_betas=model.shapedirs.shape[2],
                dtype=torch.float64,
                v_template=torch.from_numpy(model.v_template),
            )
    except Exception as exc:  # smplx asserts and converts freely: report any failure against the file
        raise BodyModelError(
            f"{p}: smplx {SMPLX_VERSION} could not build an SMPL model from this file ({type(exc).__name__}: {exc})"
        ) from exc
    smpl.eval()
    return SmplxBodyModel(**{f.name: getattr(model, f.name) for f in fields(model)}, smpl=smpl)


def _check_skinning(x: dict[str, NDArray[Any]], p: Path) -> None:
    """What smplx.SMPL takes for granted: 24 joints, 207 pose blend shapes, parents listed before their
    children (its kinematic chain is built in index order), skinning weights summing to 1 per vertex (else the
    zero-pose mesh is not the shaped template)."""
    shapes = {
        "J_regressor": (N_JOINTS, N_VERTICES),
        "weights": (N_VERTICES, N_JOINTS),
        "kintree_table": (2, N_JOINTS),
        "posedirs": (N_VERTICES, 3, N_POSE_BASIS),
    }
    for key, shape in shapes.items():
        if x[key].shape != shape:
            raise BodyModelError(f"{p}: {key}: smplx's SMPL expects shape {shape}, got {x[key].shape}")
        if not np.issubdtype(x[key].dtype, np.number) or not np.isfinite(x[key]).all():
            raise BodyModelError(f"{p}: {key}: expected finite numbers")
    parents = np.asarray(x["kintree_table"][0]).astype(np.int64)[1:]
    bad = np.flatnonzero((parents < 0) | (parents >= np.arange(1, N_JOINTS)))
    if bad.size:
        j = int(bad[0]) + 1
        raise BodyModelError(
            f"{p}: kintree_table: joint {j}'s parent {parents[j - 1]} must come before it (SMPL lists parents first)"
        )
    sums = x["weights"].sum(axis=1)
    worst = int(np.argmax(np.abs(sums - 1.0)))
    if abs(sums[worst] - 1.0) > 1e-4:
        raise BodyModelError(
            f"{p}: weights: each vertex's skinning weights must sum to 1; vertex {worst}'s sum to {sums[worst]:.6g}"
        )
