"""Where tasks run: a local process pool (default) or Ray. Both take tasks one at a time and hand back finished
results; the driver keeps at most ``window`` tasks in flight, so memory stays bounded however long the
selection is (the selection itself is a lazy iterator).

- ``LocalEngine(workers)``: ``concurrent.futures.ProcessPoolExecutor`` with spawned processes (no fork of a
  driver that holds DuckDB or threads); ``workers=0`` runs tasks in the driver itself (debugging, baselines).
- ``RayEngine(address, workers)``: ``ray.init(address)`` on an existing cluster, or a local instance with
  ``num_cpus=workers`` when no address is given. Each task is a Ray task asking for 1 CPU and, for GPU stages
  (HSMR pose, the neural coach on cuda), ``num_gpus``; Ray places it where those resources are free.
  ``ship_code=True`` sends the ``workbench`` package to the workers through ``runtime_env={"py_modules":…}``
  (for a cluster whose nodes lack the package); data paths must be visible to the workers as they are to the
  driver (a shared file system or object storage mounted at the same path).
"""

from __future__ import annotations

import os
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from pathlib import Path
from typing import Any, Protocol

from workbench.batch.jobs import Task, TaskResult
from workbench.batch.stages import BatchError, execute


class Engine(Protocol):
    name: str

    def submit(self, task: Task) -> Any: ...

    def wait_some(self, handles: list[Any], timeout_s: float | None) -> list[tuple[Any, TaskResult | BaseException]]:
        """Block until at least one handle finished (or the timeout passed); the finished ones with results."""
        ...

    def close(self) -> None: ...


class InlineEngine:
    """Runs each task in the driver at submission: no parallelism, no pickling (a baseline and for debugging)."""

    name = "inline"

    def __init__(self) -> None:
        self._done: dict[int, TaskResult | BaseException] = {}
        self._next = 0

    def submit(self, task: Task) -> int:
        self._next += 1
        try:
            self._done[self._next] = execute(task)
        except BaseException as exc:  # execute() catches stage errors; this is a bug or an interrupt
            if isinstance(exc, KeyboardInterrupt):
                raise
            self._done[self._next] = exc
        return self._next

    def wait_some(self, handles: list[Any], timeout_s: float | None) -> list[tuple[Any, TaskResult | BaseException]]:
        return [(h, self._done.pop(h)) for h in handles]

    def close(self) -> None:
        self._done.clear()


class LocalEngine:
    name = "local"

    def __init__(self, workers: int):
        import multiprocessing

        if workers < 1:
            raise BatchError(f"--workers: expected at least 1 for the local pool, got {workers}")
        self.workers = workers
        self.pool = ProcessPoolExecutor(
            max_workers=workers,
            mp_context=multiprocessing.get_context("spawn"),
            initializer=watch_parent,
            initargs=(os.getpid(),),
        )

    def submit(self, task: Task) -> Future[TaskResult]:
        return self.pool.submit(execute, task)

    def wait_some(self, handles: list[Any], timeout_s: float | None) -> list[tuple[Any, TaskResult | BaseException]]:
        done, _ = wait(handles, timeout=timeout_s, return_when=FIRST_COMPLETED)
        out: list[tuple[Any, TaskResult | BaseException]] = []
        for f in done:
            exc = f.exception()
            out.append((f, exc if exc is not None else f.result()))
        return out

    def close(self) -> None:
        self.pool.shutdown(wait=True, cancel_futures=True)


def watch_parent(driver_pid: int, every_s: float = 1.0) -> None:
    """Pool worker initializer: exit when the driver is gone. A driver killed with SIGKILL cannot shut its
    pool down, and a worker blocked on its task queue would otherwise live on as an orphan."""
    import threading
    import time

    def watch() -> None:
        while True:
            time.sleep(every_s)
            if os.getppid() != driver_pid:
                os._exit(1)

    threading.Thread(target=watch, daemon=True, name="watch-driver").start()


def package_dir() -> Path:
    return Path(__file__).resolve().parents[1]


class RayEngine:
    name = "ray"

    def __init__(self, address: str | None, workers: int, *, ship_code: bool = False):
        if not address:
            os.environ.setdefault("RAY_AUTH_MODE", "disabled")  # a private local instance needs no token file
        import ray

        self.ray = ray
        self.started_here = not ray.is_initialized()
        if self.started_here:
            runtime_env: dict[str, Any] = {}
            if ship_code:
                runtime_env["py_modules"] = [str(package_dir())]
            kwargs: dict[str, Any] = {"include_dashboard": False, "log_to_driver": False}
            if runtime_env:
                kwargs["runtime_env"] = runtime_env
            if address:
                ray.init(address=address, **kwargs)
            else:
                ray.init(num_cpus=max(1, workers), **kwargs)
        self._remote = ray.remote(execute)
        self._gpus: float | None = None

    def submit(self, task: Task) -> Any:
        if task.num_gpus > 0:
            if self._gpus is None:
                self._gpus = float(self.ray.cluster_resources().get("GPU", 0.0))
            if self._gpus < task.num_gpus:  # Ray would keep an infeasible task queued forever
                raise BatchError(
                    f"{task.clip.path}: stages {', '.join(s.name for s in task.stages)} ask Ray for "
                    f"{task.num_gpus:g} GPU(s); expected a cluster with GPUs, got "
                    f"{self._gpus:g} (use --backend mediapipe, --coach-device cpu, or a GPU cluster)"
                )
        return self._remote.options(num_cpus=1, num_gpus=task.num_gpus, max_retries=0).remote(task)

    def wait_some(self, handles: list[Any], timeout_s: float | None) -> list[tuple[Any, TaskResult | BaseException]]:
        ready, _ = self.ray.wait(handles, num_returns=1, timeout=timeout_s)
        if ready:  # collect whatever else has finished too, without waiting for it
            more, _ = self.ray.wait(
                [h for h in handles if h not in ready], num_returns=len(handles) - len(ready), timeout=0
            )
            ready = ready + more
        out: list[tuple[Any, TaskResult | BaseException]] = []
        for ref in ready:
            try:
                out.append((ref, self.ray.get(ref)))
            except Exception as exc:  # a worker died (OOM, node lost): the items are retried by the driver
                out.append((ref, exc))
        return out

    def close(self) -> None:
        if self.started_here:
            self.ray.shutdown()


def make_engine(name: str, workers: int, address: str | None = None, ship_code: bool = False) -> Engine:
    if name == "local":
        return InlineEngine() if workers == 0 else LocalEngine(workers)
    if name == "ray":
        return RayEngine(address, workers, ship_code=ship_code)
    raise BatchError(f"--engine: expected local or ray, got {name!r}")
