"""The batch driver: streams the selection, keeps a bounded window of tasks in flight on an engine, and alone
writes the store (DuckDB has one writer).

    report = run_job(spec, clips, plan, db)          # clips: any iterator of ClipRef (workbench.batch.select)

For each clip it hashes the file, computes the work keys of the requested stages, adds them to the job, and
skips those already done (by this job, an earlier run, or another job). Tasks carry only what workers need:
the clip's path, the stage specs, the resolved exercise, and a cached pose track when only later stages are
pending. Finished results are written in one transaction per flush: the items' states, the clips with their
pose cache rows (a clip that fails to decode is never registered), the run records with their feedback
events, and the job's counters (the runs page reads those).
A run's feedback is what the clip was told: the analysis's offline review (``config["feedback_from"]``:
"analysis review"), or, once the coaching stage succeeds, the coach's lines ("coach:rule", "coach:neural").
The coach's lines go to the run the analysis recorded for a job that asked for that coaching (this job, or
an interrupted or failed one it resumes), replacing its feedback; when the analysis was done by a job that
did not ask for it (coaching added to an analysed clip, or another coach), the coaching stage records a run
of its own, so each coach's lines stay a run to compare.
Failed items are retried in the same run until they have failed ``max_attempts`` times; then they stay failed
with their error, and the other clips go on. Killing the driver loses at most the results not yet flushed;
the next run resets the dead job's running items to pending and continues.
"""

from __future__ import annotations

import os
import threading
import time
from collections import deque
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from workbench import __version__
from workbench.batch.engines import Engine, make_engine
from workbench.batch.jobs import ClipRef, JobSpec, StageResult, Task, TaskResult, canonical
from workbench.batch.progress import Bar
from workbench.batch.stages import CACHED_BACKENDS, StagePlan
from workbench.motion.results import FeedbackEvent
from workbench.pose.backends import pose_cache_params
from workbench.store.batches import BatchJob, BatchRepository, NewItem, Outcome, write_parquet_shard
from workbench.store.clips_repo import sha256_file
from workbench.store.database import Database
from workbench.store.facade import Store
from workbench.store.poses_repo import canonical_params
from workbench.store.session import StoreError

HEARTBEAT_S = 10.0
WAIT_S = 2.0
# Results are written in groups: opening the store and its transaction cost tens of milliseconds, more than
# a small clip's analysis. A kill loses at most this much finished work.
FLUSH_S = 0.5


@dataclass
class JobReport:
    job: BatchJob
    errors: list[tuple[str, str, int, str]] = field(default_factory=list)
    seconds: float = 0.0
    missing: list[str] = field(default_factory=list)


@dataclass
class _Pending:
    """An outcome waiting to be written, with what goes with it in the same transaction."""

    outcome: Outcome
    stage: str
    task: Task
    result: StageResult | None = None
    analysis: StageResult | None = None  # a coaching's: the analysis it ran on (recorded or recomputed)
    followers: list[_Pending] = field(default_factory=list)  # written right after this one (see _flush)


class ShardWriter:
    """Full analysis documents of a large run as Parquet files, written by DuckDB (no pyarrow needed). Items
    whose documents are in a shard are marked done only after the shard file exists (tmp file + rename)."""

    COLUMNS = (
        "shard INTEGER, row INTEGER, work_key VARCHAR, clip_hash VARCHAR, path VARCHAR, exercise VARCHAR, "
        "stage VARCHAR, n_reps INTEGER, n_violations INTEGER, mean_quality DOUBLE, result_json VARCHAR"
    )

    def __init__(self, directory: Path, job_id: int, rows: int):
        self.directory = directory
        self.job_id = job_id
        self.rows = max(1, rows)
        self.shard = self._first_free()
        self.buffer: list[tuple[Any, ...]] = []
        self.waiting: list[_Pending] = []
        directory.mkdir(parents=True, exist_ok=True)

    def _first_free(self) -> int:
        existing = sorted(self.directory.glob(f"job{self.job_id:06d}-*.parquet"))
        return len(existing)

    def path(self, shard: int) -> Path:
        return self.directory / f"job{self.job_id:06d}-{shard:05d}.parquet"

    def add(self, pending: _Pending, doc: dict[str, Any]) -> str:
        s = pending.outcome.result or {}
        summary = s.get("summary", {})
        # shards take exactly `rows` rows from the front of the buffer, so the place of this row is known now
        shard, row = self.shard + len(self.buffer) // self.rows, len(self.buffer) % self.rows
        task = pending.task
        self.buffer.append(
            (
                shard,
                row,
                pending.outcome.work_key,
                task.clip.content_hash,
                str(task.clip.path),
                summary.get("exercise"),
                pending.stage,
                summary.get("n_reps"),
                summary.get("n_violations"),
                summary.get("mean_quality"),
                canonical(doc),
            )
        )
        self.waiting.append(pending)
        return f"{self.path(shard)}#{row}"

    @property
    def full(self) -> bool:
        return len(self.buffer) >= self.rows

    def write(self) -> list[_Pending]:
        """Write the first ``rows`` buffered rows as one shard; returns the outcomes that may now be recorded."""
        if not self.buffer:
            return []
        final = self.path(self.shard)
        tmp = final.with_suffix(".parquet.tmp")
        write_parquet_shard(tmp, self.COLUMNS, self.buffer[: self.rows])
        os.replace(tmp, final)
        done = self.waiting[: self.rows]
        self.buffer, self.waiting = self.buffer[self.rows :], self.waiting[self.rows :]
        self.shard += 1
        return done


class Driver:
    def __init__(
        self,
        spec: JobSpec,
        plan: StagePlan,
        db: Database,
        *,
        progress: bool = False,
        total_hint: int | None = None,
        retry_failed: bool = False,
        cancel: threading.Event | None = None,
    ):
        self.spec = spec
        self.cancel = cancel  # once set, no new task is started; those in flight finish and are written
        self.plan = plan
        self.db = db
        self.progress = progress
        self.total_hint = total_hint
        self.retry_failed = retry_failed
        self.failures: dict[str, int] = {}
        self.retries: deque[Task] = deque()
        self.submitted: list[str] = []
        self.position = 0
        self.job_id = 0
        self.shards: ShardWriter | None = None
        self.bar = Bar(False)
        self.last_write = time.monotonic()
        self.missing: list[str] = []  # selected paths that were not there (never hashed, so no work item)
        self.active: set[str] = set()  # clip hashes with a task queued or in flight (a copy of a clip runs once)

    # -------------------------------------------------------------------------------------------- the run

    def run(self, clips: Iterable[ClipRef], engine: Engine | None = None) -> JobReport:
        t0 = time.monotonic()
        with self.db.store() as store:
            repo = BatchRepository(store.session)
            repo.reset_orphans()
            shard_dir = str(self.spec.shard_dir) if self.spec.shard_dir else None
            self.job_id = repo.create_job(
                name=self.spec.name,
                spec=self.spec.to_json(),
                engine=self.spec.engine,
                code_version=__version__,
                shard_dir=shard_dir,
            )
        if self.spec.shard_dir is not None:
            self.shards = ShardWriter(self.spec.shard_dir, self.job_id, self.spec.shard_rows)
        self.bar = Bar(self.progress, total=self.total_hint, desc=f"batch job {self.job_id}")
        own_engine = engine is None
        status = "interrupted"
        try:
            if engine is None:
                engine = make_engine(self.spec.engine, self.spec.workers, self.spec.address, self.spec.ship_code)
            self._loop(engine, self._tasks(iter(clips)))
            status = "interrupted" if self.cancel is not None and self.cancel.is_set() else "finished"
        finally:
            if own_engine and engine is not None:
                engine.close()
            try:
                self._finish(status)
            finally:
                self.bar.close()
        with self.db.store() as store:
            repo = BatchRepository(store.session)
            return JobReport(
                job=repo.job(self.job_id),
                errors=repo.errors(self.job_id, limit=50),
                seconds=time.monotonic() - t0,
                missing=self.missing,
            )

    def _loop(self, engine: Engine, source: Iterator[Task]) -> None:
        in_flight: dict[Any, Task] = {}
        exhausted = False
        buffered: list[tuple[Task, TaskResult | BaseException]] = []
        while True:
            while len(in_flight) < self.spec.window:
                if self.cancel is not None and self.cancel.is_set():  # cancelled: what is pending stays so
                    exhausted = True
                    self.retries.clear()
                    break
                task = self.retries.popleft() if self.retries else (None if exhausted else next(source, None))
                if task is None:
                    exhausted = True
                    break
                in_flight[engine.submit(task)] = task
                self.submitted.extend(sorted(task.record))
            due = time.monotonic() - self.last_write >= FLUSH_S
            if buffered and (due or not in_flight or len(buffered) >= 4 * self.spec.window):
                self._flush(buffered)
                buffered = []
                continue  # retries may have been queued
            if not in_flight:
                return
            wait = WAIT_S if not buffered else max(0.0, FLUSH_S - (time.monotonic() - self.last_write))
            finished = engine.wait_some(list(in_flight), wait)
            if finished:
                buffered += [(in_flight.pop(h), r) for h, r in finished]
            elif not buffered and time.monotonic() - self.last_write > HEARTBEAT_S:
                with self.db.store() as store:
                    BatchRepository(store.session).heartbeat(self.job_id)
                self.last_write = time.monotonic()

    def _finish(self, status: str) -> None:
        if self.shards is not None and status == "finished":
            while self.shards.buffer:
                self._write_pending(_with_followers(self.shards.write()), [])
        with self.db.store() as store, store.transaction():
            repo = BatchRepository(store.session)
            if status != "finished":  # what was in flight goes back to pending for the next run
                repo.requeue_running(self.job_id)
            repo.refresh_counts(self.job_id, selection_done=status == "finished" or None, status=status)

    # -------------------------------------------------------------------------------------------- selection

    def _tasks(self, clips: Iterator[ClipRef]) -> Iterator[Task]:
        chunk: list[ClipRef] = []
        size = max(8, self.spec.window)
        for clip in clips:
            chunk.append(clip)
            if len(chunk) >= size:
                yield from self._prepare(chunk)
                chunk = []
        if chunk:
            yield from self._prepare(chunk)
        with self.db.store() as store:
            job = BatchRepository(store.session).refresh_counts(self.job_id, selection_done=True)
        if self.bar.bar is not None:  # the exact total is known now (copies of a clip counted once)
            self.bar.bar.total = job.n_selected
            self.bar.bar.refresh()

    def _prepare(self, chunk: list[ClipRef]) -> list[Task]:
        prepared: list[tuple[ClipRef, list[Any], list[str]]] = []
        new_items: list[NewItem] = []
        for clip in chunk:
            if not clip.path.is_file():  # a store or QEVD entry whose file has gone: noted, the others go on
                self.missing.append(str(clip.path))
                continue
            # absolute paths: workers may run elsewhere (a cluster with the data mounted at the same place)
            clip = replace(clip, path=clip.path.resolve(), content_hash=clip.content_hash or sha256_file(clip.path))
            assert clip.content_hash is not None
            specs = self.plan.specs_for(clip)
            keys = [s.key(clip.content_hash) for s in specs]
            for s, k in zip(specs, keys, strict=True):
                new_items.append(
                    NewItem(
                        k,
                        clip.content_hash,
                        s.name,
                        s.params_hash,
                        canonical(s.params),
                        str(clip.path),
                        self.plan.exercise_for(clip),
                    )
                )
            prepared.append((clip, specs, keys))
        tasks: list[Task] = []
        with self.db.store() as store, store.transaction():
            repo = BatchRepository(store.session)
            states = repo.select_items(self.job_id, new_items, self.position)
            self.position += len(new_items)
            if self.retry_failed:
                repo.reset_failures([k for k, (st, _) in states.items() if st == "failed"])
                states = repo.states(list(states))
            for clip, specs, keys in prepared:
                if clip.content_hash in self.active:
                    continue  # the same bytes under another name: its items are already on their way
                task = self._task(store, clip, specs, keys, states)
                if task is not None:
                    tasks.append(task)
                    self.active.add(str(clip.content_hash))
            job = repo.refresh_counts(self.job_id)
        self.bar.set_total(max(self.total_hint or 0, job.n_selected))
        self._sync_bar(job)
        return tasks

    def _task(
        self, store: Store, clip: ClipRef, specs: list[Any], keys: list[str], states: dict[str, tuple[str, int]]
    ) -> Task | None:
        limit = self.spec.max_attempts
        todo = [i for i, k in enumerate(keys) if states[k][0] != "done"]
        if not todo:
            return None
        first = todo[0]
        if states[keys[first]][0] == "failed" and states[keys[first]][1] >= limit:
            return None  # given up (its error is recorded); the stages after it cannot run either
        assert clip.content_hash is not None
        inputs: dict[str, Any] = {}
        start = 0 if first == 0 else 1  # coaching and evaluation need the analysis: recompute it as an input
        if start == 1:
            pose = specs[0].params
            if pose["backend"] in CACHED_BACKENDS:
                blob = _cached(store, clip.content_hash, pose["backend"], pose)
                if blob is None:
                    start = 0  # the pose cache row is gone: extract again
                else:
                    inputs["track_npz"] = blob
                    inputs["landmarks_npz"] = _cached(store, clip.content_hash, pose["backend"] + ":landmarks", pose)
                    inputs["backend"] = pose["backend"]
        # record what is to do, and a pose extracted again because its cache row was gone (to refill the cache)
        record = frozenset(keys[i] for i in range(start, len(keys)) if i in todo or i == 0)
        for k in record:  # failures so far, for the retry bound (only of items in flight: memory stays bounded)
            self.failures[k] = states[k][1]
        return Task(
            clip=clip,
            stages=specs[start:],
            keys=keys[start:],
            inputs=inputs,
            context=self.plan.context_for(clip),
            delay_s=self.spec.delay_s,
            record=record,
            num_gpus=self.spec.gpus_per_task if self.plan.gpus(specs[start:]) else 0.0,
        )

    # -------------------------------------------------------------------------------------------- results

    def _flush(self, finished: list[tuple[Task, TaskResult | BaseException]]) -> None:
        writes: list[_Pending] = []
        for task, res in finished:
            if isinstance(res, BaseException):  # the worker itself died: every item of the task failed
                error = f"worker lost: {type(res).__name__}: {' '.join(str(res).split())[:300]}"
                for key, spec in zip(task.keys, task.stages, strict=True):
                    if key in task.record:
                        writes.append(_Pending(Outcome(key, False, "?", 0.0, error=error), spec.name, task))
                continue
            analysis = next((r for r in res.results if r.stage == "analysis" and r.ok), None)
            for r in res.results:
                if r.key not in task.record:
                    continue
                outcome = Outcome(
                    r.key, r.ok, res.worker, r.seconds, error=r.error, result={"summary": r.summary} if r.ok else None
                )
                writes.append(_Pending(outcome, r.stage, task, r, analysis=analysis if r.stage == "coaching" else None))
        ready: list[_Pending] = []
        sharded: dict[str, _Pending] = {}  # analyses waiting for their shard, by work key
        for p in writes:
            if self.shards is not None and p.outcome.ok and p.stage == "analysis" and p.result is not None:
                ref = self.shards.add(p, p.result.payload.get("analysis", {}))
                assert p.outcome.result is not None
                p.outcome.result["shard"] = ref
                sharded[p.outcome.work_key] = p
            elif (
                p.stage == "coaching"
                and p.outcome.ok
                and (held := sharded.get(_analysis_key(p.task) or "")) is not None
            ):
                held.followers.append(p)  # its lines are the feedback of the analysis's run: written with it
            else:
                ready.append(p)
        while self.shards is not None and self.shards.full:
            ready += _with_followers(self.shards.write())
        self._write_pending(ready, self._retry_tasks(finished, writes))

    def _retry_tasks(
        self, finished: list[tuple[Task, TaskResult | BaseException]], writes: list[_Pending]
    ) -> list[Task]:
        """Tasks for the failed items that have attempts left; a pose that succeeded is passed on, not redone."""
        failed = {p.outcome.work_key for p in writes if not p.outcome.ok}
        retries = []
        for task, res in finished:
            again = frozenset(
                k for k in task.keys if k in failed and self.failures.get(k, 0) + 1 < self.spec.max_attempts
            )
            if not again:
                continue
            inputs, stages, keys = dict(task.inputs), task.stages, task.keys
            if stages[0].name == "pose" and keys[0] not in again and not isinstance(res, BaseException):
                pose = next((r for r in res.results if r.stage == "pose" and r.ok), None)
                if pose is not None and "track_npz" in pose.payload:
                    inputs.update(
                        track_npz=pose.payload["track_npz"],
                        landmarks_npz=pose.payload.get("landmarks_npz"),
                        backend=pose.payload.get("backend"),
                    )
                    stages, keys = stages[1:], keys[1:]
            retries.append(replace(task, stages=stages, keys=keys, inputs=inputs, record=again))
        return retries

    def _write_pending(self, ready: list[_Pending], retries: list[Task]) -> None:
        with self.db.store() as store, store.transaction():
            repo = BatchRepository(store.session)
            if self.submitted:
                repo.mark_running(self.job_id, self.submitted)
                self.submitted = []
            # a clip is registered with its first result, its pose: one that fails to decode leaves no clips row
            _register_clips(store, [p.task.clip for p in ready if p.outcome.ok and p.stage == "pose"])
            # a clip coached in the task that analysed it: its run is recorded with the coach's lines at once
            coached = {
                _analysis_key(p.task) or "": p for p in ready if p.outcome.ok and p.stage == "coaching" and p.result
            }
            runs: dict[str, int] = {}  # analysis work key → the run recorded for it in this flush
            for p in sorted(ready, key=lambda p: p.stage == "coaching"):  # a coaching after its analysis's run
                if p.outcome.ok and p.result is not None:
                    kind, ref = self._store_result(store, p, coached, runs)
                    p.outcome = replace(
                        p.outcome, result_kind=kind, result_ref=ref, provenance=_provenance(p, self.job_id)
                    )
                if p.outcome.ok:
                    self.failures.pop(p.outcome.work_key, None)
                else:
                    self.failures[p.outcome.work_key] = self.failures.get(p.outcome.work_key, 0) + 1
            repo.record_many(self.job_id, [p.outcome for p in ready])
            job = repo.refresh_counts(self.job_id)
        self.retries.extend(retries)
        for p in ready:
            self.active.discard(str(p.task.clip.content_hash))
        for t in retries:
            self.active.add(str(t.clip.content_hash))
        self.last_write = time.monotonic()
        self._sync_bar(job)

    def _sync_bar(self, job: BatchJob) -> None:
        if self.bar.bar is None:
            return
        finished = job.n_done + job.n_failed
        self.bar.set_total(job.n_selected)
        self.bar.advance(max(0, finished - int(self.bar.bar.n)), job.n_failed, job.n_skipped)

    def _store_result(
        self, store: Store, p: _Pending, coached: dict[str, _Pending], runs: dict[str, int]
    ) -> tuple[str, str]:
        """Write what the stage produced where the store keeps it; returns (result_kind, result_ref).
        ``coached``: the coaching of an analysis written in this flush; ``runs``: the runs recorded so far."""
        r = p.result
        assert r is not None and p.task.clip.content_hash is not None
        clip_hash = p.task.clip.content_hash
        spec = next(s for s in p.task.stages if s.name == p.stage)
        if p.stage == "pose":
            if "track_npz" not in r.payload:
                return "file", str(p.task.clip.path)  # a pose .npz: the file is the result
            backend = spec.params["backend"]
            params = _pose_cache_params(spec.params)
            _put_blob(
                store,
                clip_hash,
                backend,
                params,
                r.payload["track_npz"],
                r.summary.get("n_frames", 0),
                r.payload.get("extract_s"),
            )
            if r.payload.get("landmarks_npz") is not None:
                _put_blob(
                    store,
                    clip_hash,
                    backend + ":landmarks",
                    params,
                    r.payload["landmarks_npz"],
                    r.summary.get("n_frames", 0),
                    None,
                )
            return "pose_tracks", f"{clip_hash}|{backend}|{canonical_params(params)}"
        if p.stage == "analysis":
            run_id = self._record_run(store, p, spec.params, coached.get(p.outcome.work_key))
            runs[p.outcome.work_key] = run_id
            return "run", str(run_id)
        if p.stage == "coaching":
            assert p.outcome.result is not None
            p.outcome.result["utterances"] = r.payload.get("utterances", [])
            coach_run = self._coach_run(store, p, runs)
            if coach_run is None:
                return "json", p.outcome.work_key
            p.outcome.result["run"] = coach_run
            return "run", str(coach_run)
        if p.stage == "evaluation":
            assert p.outcome.result is not None
            for metric, value in r.summary.get("metrics", {}).items():
                if isinstance(value, (int, float)):
                    store.runs.add_evaluation(
                        dataset=f"batch:{self.job_id}",
                        metric=str(metric),
                        value=float(value),
                        details={"work_key": p.outcome.work_key},
                    )
            return "json", p.outcome.work_key
        return "json", p.outcome.work_key

    def _record_run(self, store: Store, p: _Pending, params: dict[str, Any], coaching: _Pending | None = None) -> int:
        """A run record like the pipeline's, with its feedback events: the analysis's review, or the lines of
        ``coaching`` (the same task's coaching, written in the same flush); the full document stays in the
        item's result (or its Parquet shard)."""
        r = p.result
        assert r is not None
        doc = r.payload.get("analysis", {})
        feedback = [FeedbackEvent.from_json(f) for f in doc.get("feedback", [])]
        extra: dict[str, Any] = {"feedback_from": REVIEW}
        timings = {"analysis_s": r.seconds}
        if coaching is not None and coaching.result is not None:
            feedback, extra = _coach_feedback(coaching)
            timings["coaching_s"] = coaching.result.seconds
        run_id = self._new_run(store, p.task, doc, params, p.outcome.work_key, feedback, extra, timings)
        if self.shards is None and p.outcome.result is not None:
            p.outcome.result["analysis"] = doc
        return run_id

    def _new_run(
        self,
        store: Store,
        task: Task,
        doc: dict[str, Any],
        params: dict[str, Any],
        work_key: str,
        feedback: list[FeedbackEvent],
        extra: dict[str, Any],
        timings: dict[str, float],
    ) -> int:
        versions = params.get("versions", {})
        prov = doc.get("provenance", {})
        config = {
            "exercise": params["exercise"],
            "backend": prov.get("backend"),
            "batch_job": self.job_id,
            "work_key": work_key,
            **extra,
        }
        if self.spec.selection.get("author"):  # who asked for the run (the app's Runs page names them)
            config["author"] = str(self.spec.selection["author"])
        return store.runs.record_succeeded(
            config=config,
            code_version=__version__,
            exercise=params["exercise"],
            clip_hash=task.clip.content_hash,
            model=prov.get("backend"),
            reference_version=versions.get("reference_version"),
            rules_version=versions.get("rules_version"),
            threshold_versions=versions.get("threshold_versions"),
            timings=timings,
            feedback=feedback,
        )

    def _coach_run(self, store: Store, p: _Pending, runs: dict[str, int]) -> int | None:
        """The run whose feedback is now the coach's lines (its id), after writing them there:

        - the analysis recorded in this flush (its run was recorded with them: nothing more to write);
        - else the analysis's run, when a job that asked for this coaching recorded it (this job before a retry,
          or an interrupted or failed job this one resumes): its feedback is replaced;
        - else (the analysis was done by a job without this coaching) a new run of the recomputed analysis.
        """
        key = _analysis_key(p.task)
        if key is None or p.result is None:
            return None
        if key in runs:
            return runs[key]
        feedback, extra = _coach_feedback(p)
        own = self._own_run(store, key, p.outcome.work_key)
        if own is not None:
            store.runs.replace_feedback(own, feedback, config=extra)
            return own
        spec = next((s for s in p.task.stages if s.name == "analysis"), None)
        if p.analysis is None or spec is None:
            return None
        timings = {"analysis_s": p.analysis.seconds, "coaching_s": p.result.seconds}
        doc = p.analysis.payload.get("analysis", {})
        return self._new_run(store, p.task, doc, spec.params, p.outcome.work_key, feedback, extra, timings)

    def _own_run(self, store: Store, analysis_key: str, coaching_key: str) -> int | None:
        """The run the analysis item recorded, when its job asked for the coaching ``coaching_key`` too."""
        try:
            item = BatchRepository(store.session).item(analysis_key)
        except StoreError:
            return None
        if item.status != "done" or item.result_kind != "run" or not item.result_ref:
            return None
        run_id = int(item.result_ref)
        try:
            job = store.runs.get(run_id).config.get("batch_job")
        except StoreError:  # the run was deleted
            return None
        if job == self.job_id:
            return run_id
        asked = store.session.scalar(
            "SELECT count(*) FROM batch_job_items WHERE job_id = ? AND work_key = ?", [job, coaching_key]
        )
        return run_id if job is not None and asked else None


REVIEW = "analysis review"  # config["feedback_from"] of a run whose feedback is the analysis's offline review


def _analysis_key(task: Task) -> str | None:
    """The work key of the task's analysis (a coaching task always recomputes or runs it)."""
    return next((k for s, k in zip(task.stages, task.keys, strict=True) if s.name == "analysis"), None)


def _coach_feedback(p: _Pending) -> tuple[list[FeedbackEvent], dict[str, Any]]:
    """A coaching's lines as a run's feedback, and what the run's config says of them."""
    r = p.result
    assert r is not None
    spec = next(s for s in p.task.stages if s.name == "coaching")
    if "feedback" in r.payload:
        events = [FeedbackEvent.from_json(f) for f in r.payload["feedback"]]
    else:  # a worker from before the payload had them: the utterances (time, text, kind, tags)
        events = [
            FeedbackEvent(
                t_s=float(u["t_s"]),
                text=str(u["text"]),
                evidence=[str(e) for e in u.get("evidence") or []],
                kind=u.get("kind"),
                n_tokens=u.get("n_tokens"),
            )
            for u in r.payload.get("utterances", [])
        ]
    coach = str(spec.params.get("coach", "rule"))
    extra = {
        "feedback_from": f"coach:{coach}",
        "coach": str(r.summary.get("coach") or coach),
        "coaching_work_key": p.outcome.work_key,
    }
    return events, extra


def _with_followers(pending: list[_Pending]) -> list[_Pending]:
    return [q for p in pending for q in (p, *p.followers)]


def _pose_cache_params(params: dict[str, Any]) -> dict[str, Any]:
    """The pipeline's pose cache parameters, so `biocoach analyze` later hits what a batch stored."""
    cache = pose_cache_params(params["fps"])
    return dict(cache, code_version=params["code_version"])


def _cached(store: Store, clip_hash: str, backend: str, params: dict[str, Any]) -> bytes | None:
    return store.poses.get_blob(clip_hash, backend, _pose_cache_params(params))


def _put_blob(
    store: Store,
    clip_hash: str,
    backend: str,
    params: dict[str, Any],
    blob: bytes,
    n_frames: int,
    extract_s: float | None,
) -> None:
    store.poses.put_blob(clip_hash, backend, params, blob, n_frames=n_frames, extract_s=extract_s)


def _register_clips(store: Store, clips: list[ClipRef]) -> None:
    for c in clips:
        assert c.content_hash is not None
        store.clips.add_known(c.content_hash, c.path, exercise=c.exercise, n_bytes=c.path.stat().st_size)


def _provenance(p: _Pending, job_id: int) -> dict[str, Any]:
    spec = next(s for s in p.task.stages if s.name == p.stage)
    return {
        "job_id": job_id,
        "stage": p.stage,
        "params": spec.params,
        "clip": str(p.task.clip.path),
        "source": p.task.clip.source,
        "worker": p.outcome.worker,
        "code_version": __version__,
    }


def run_job(
    spec: JobSpec,
    clips: Iterable[ClipRef],
    plan: StagePlan,
    db: Database,
    *,
    engine: Engine | None = None,
    progress: bool = False,
    total_hint: int | None = None,
    retry_failed: bool = False,
) -> JobReport:
    """Run a batch job to the end (or until interrupted) and return its final counts and errors."""
    if plan.db is None:
        plan.db = db
    driver = Driver(spec, plan, db, progress=progress, total_hint=total_hint, retry_failed=retry_failed)
    return driver.run(clips, engine)
