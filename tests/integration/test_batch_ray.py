"""Batch jobs on a real local Ray instance (started once for the module): the same results as the local pool,
a corrupt clip reported without stopping the others, and a re-run that skips everything."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.batch_support import corrupt_clip, digests, landmark_clip, make_clips, plan, spec, squat_store
from workbench.batch.driver import run_job
from workbench.batch.engines import LocalEngine, RayEngine
from workbench.batch.select import from_folder
from workbench.store.batches import BatchRepository

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def ray_instance() -> Iterator[Any]:
    os.environ.setdefault("RAY_AUTH_MODE", "disabled")
    import ray

    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    try:
        yield ray
    finally:
        ray.shutdown()


def test_ray_gives_the_local_pools_results_and_reports_the_corrupt_clip(ray_instance: Any, tmp_path: Path) -> None:
    make_clips(tmp_path / "clips", 4)
    landmark_clip(tmp_path / "clips" / "squat.landmarks.npz")  # a cached backend: its track travels as bytes
    corrupt_clip(tmp_path / "clips")
    local_db = squat_store(tmp_path / "local.duckdb")
    ray_db = squat_store(tmp_path / "ray.duckdb")
    pool = LocalEngine(2)
    try:
        local = run_job(
            spec(engine="local", workers=2), from_folder(tmp_path / "clips"), plan(local_db), local_db, engine=pool
        )
    finally:
        pool.close()
    engine = RayEngine(None, 2)
    assert not engine.started_here  # the module's instance is reused, not restarted
    on_ray = run_job(
        spec(engine="ray", workers=2), from_folder(tmp_path / "clips"), plan(ray_db), ray_db, engine=engine
    )
    assert (on_ray.job.n_done, on_ray.job.n_failed) == (local.job.n_done, local.job.n_failed) == (10, 2)
    expected = digests(local_db, local.job.id)
    assert len(expected) == 5 and digests(ray_db, on_ray.job.id) == expected
    failed = [e for e in on_ray.errors if e[1] == "pose"]
    assert len(failed) == 1 and "broken.npz" in failed[0][0] and "PoseFileError" in failed[0][3]
    assert failed[0][2] == 2  # max_attempts of the test spec
    with ray_db.store() as store:
        items = BatchRepository(store.session).items(on_ray.job.id, status="done")
        node = ray_instance.get_runtime_context().get_node_id()[:8]
        assert all(i.worker.endswith(node) for i in items)  # ran in Ray workers on this node
        assert store.session.scalar("SELECT count(*) FROM runs") == 5
    again = run_job(
        spec(engine="ray", workers=2), from_folder(tmp_path / "clips"), plan(ray_db), ray_db, engine=engine
    ).job
    assert (again.n_done, again.n_skipped, again.n_executed) == (10, 10, 0)


def test_a_gpu_task_on_a_cluster_without_gpus_is_refused_not_queued_forever(ray_instance: Any, tmp_path: Path) -> None:
    from workbench.batch.jobs import ClipRef, StageSpec, Task
    from workbench.batch.stages import BatchError

    if ray_instance.cluster_resources().get("GPU", 0):
        pytest.skip("this machine has a GPU: the task would be feasible")
    task = Task(
        clip=ClipRef(path=tmp_path / "a.mp4"), stages=[StageSpec("pose", {"backend": "hsmr"})], keys=["k"], num_gpus=1.0
    )
    with pytest.raises(BatchError, match="ask Ray for 1 GPU"):
        RayEngine(None, 2).submit(task)
