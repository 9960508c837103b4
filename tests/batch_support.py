"""Helpers for the batch tests: small synthetic pose clips with distinct bytes, a corrupt clip, a squat-only
store (seeding one exercise takes a fraction of a second), and reading a job's results back."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from workbench.batch.jobs import JobSpec, StageSpec
from workbench.batch.stages import StagePlan
from workbench.store import Database, init_from_references
from workbench.store.batches import BatchRepository

ROOT = Path(__file__).resolve().parents[1]


def make_clips(folder: Path, n: int, *, reps: int = 3, first_seed: int = 0) -> list[Path]:
    """``n`` squat sessions (3 reps, 2° noise): every clip has its own bytes, hence its own content hash."""
    from workbench.exercises import load_catalogue
    from workbench.pose.posefile import save_npz
    from workbench.pose.synthetic import synthesize

    folder.mkdir(parents=True, exist_ok=True)
    squat = load_catalogue().get("squat")
    paths = []
    for i in range(n):
        track, _ = synthesize(squat, reps, noise_deg=2.0, seed=first_seed + i)
        path = folder / f"squat_{first_seed + i:03d}.npz"
        save_npz(track, path)
        paths.append(path)
    return paths


def corrupt_clip(folder: Path, name: str = "broken.npz") -> Path:
    path = folder / name
    path.write_bytes(b"PK\x03\x04 not really a zip archive")
    return path


def squat_store(path: Path) -> Database:
    refs = path.parent / f"{path.stem}-refs"
    (refs / "exercises").mkdir(parents=True, exist_ok=True)
    (refs / "trajectories").mkdir(exist_ok=True)
    (refs / "exercises" / "squat.yaml").write_bytes((ROOT / "references/exercises/squat.yaml").read_bytes())
    for suffix in ("", "_sd"):
        name = f"squat{suffix}.npy"
        (refs / "trajectories" / name).write_bytes((ROOT / "references/trajectories" / name).read_bytes())
    db = Database(path)
    init_from_references(db, refs)
    return db


def spec(
    name: str = "test", *, engine: str = "local", workers: int = 0, max_attempts: int = 2, **kwargs: Any
) -> JobSpec:
    return JobSpec(
        name=name,
        selection={"test": name},
        stages=[StageSpec("pose"), StageSpec("analysis")],
        engine=engine,
        workers=workers,
        max_attempts=max_attempts,
        **kwargs,
    )  # type: ignore[arg-type]


def plan(db: Database, exercise: str | None = "squat") -> StagePlan:
    return StagePlan(stages=["pose", "analysis"], default_exercise=exercise, db=db)


def digests(db: Database, job_id: int) -> dict[str, str]:
    """{clip file name: digest of the analysis content} of a job's done analysis items."""
    with db.store() as store:
        items = BatchRepository(store.session).items(job_id, stage="analysis", status="done")
    return {Path(i.path).name: i.result["summary"]["digest"] for i in items if i.result}  # type: ignore[index]


def landmark_clip(path: Path, n: int = 200, depth_deg: float = 100.0) -> Path:
    """A squatting skeleton from our FK as MediaPipe-layout world landmarks: the `landmarks` backend (filtering +
    IK, cached in the store like a video's pose) without running MediaPipe."""
    import numpy as np

    from workbench.pose.fk import forward_kinematics
    from workbench.skeleton import dof_index

    q = np.zeros((n, 46))
    phase = 0.5 * (1 - np.cos(2 * np.pi * np.arange(n) / 50))
    for side in "rl":
        q[:, dof_index(f"knee_angle_{side}")] = np.radians(depth_deg) * phase
        q[:, dof_index(f"hip_flexion_{side}")] = np.radians(90) * phase
        q[:, dof_index(f"shoulder_{side}_x")] = np.radians(-80 if side == "r" else 80)
    world = forward_kinematics(q)
    path.parent.mkdir(parents=True, exist_ok=True)
    np.savez(path, landmarks_world=world, visibility=np.ones(world.shape[:2]), fps=30.0)
    return path
