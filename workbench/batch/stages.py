"""The stage registry: what each stage's parameters are (driver side) and what it computes (worker side).

Driver side, :class:`StagePlan` turns the user's choice (stages, backend, coach) into per-clip
:class:`StageSpec` objects whose parameters hold everything the result depends on — for the analysis that
includes the store's rules, reference and threshold versions of the clip's exercise, so an expert's edit makes
the next batch re-analyse. Worker side, :func:`execute` runs a task's stages in order and returns plain results;
it never opens the store (DuckDB has one writer: the driver).

Stages and the modules they call (imported lazily, in the worker):

- ``pose``: ``workbench.pose.backends.estimate_pose`` (MediaPipe on the CPU, HSMR on a GPU, landmark files, or
  a pose .npz read as is); the driver puts the track into the store's pose cache under the same key the
  pipeline uses, so ``biocoach analyze`` on the clip later is a cache hit.
- ``analysis``: the motion analysis of ``workbench.pipeline.analyze_clip`` (body measurements, offline analysis,
  provenance) on that track; the driver records a run with its feedback events.
- ``coaching``: ``workbench.coach.loop.run_coach`` with the rule coach (``workbench.coach.rule_coach.RuleCoach``)
  or the neural coach (``workbench.coach.neural.load_neural_coach``, GPU when ``--coach-device cuda``); the
  driver makes the coach's lines the feedback of the clip's run (``config["feedback_from"]``: ``coach:rule``).
- ``evaluation``: ``workbench.eval`` metrics of the coaching against the clip's ground-truth feedback sidecar.
"""

from __future__ import annotations

import hashlib
import os
import socket
import threading
import time
import traceback
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from workbench import __version__
from workbench.batch.jobs import STAGE_ORDER, ClipRef, StageName, StageResult, StageSpec, Task, TaskResult, canonical
from workbench.coach.coaching import Coach
from workbench.coach.feedback import clip_feedback, coach_events
from workbench.coach.loading import load_coach
from workbench.errors import WorkbenchError
from workbench.eval.evaluate import Clip, EvalSettings, evaluate
from workbench.io.groundtruth import load_ground_truth, sidecar_path
from workbench.motion.analysis import analyze
from workbench.pipeline import _body, resolve
from workbench.pose.backends import PoseEstimate, detect_backend, estimate_pose
from workbench.pose.track import check_track
from workbench.store import review_labels
from workbench.store.repositories import landmarks_from_npz, landmarks_to_npz, track_from_npz, track_to_npz

if TYPE_CHECKING:
    from workbench.pose.track import PoseTrack
    from workbench.store.database import Database

CACHED_BACKENDS = ("mediapipe", "landmarks", "hsmr")  # as workbench.pipeline: the pose cache holds these
GPU_BACKENDS = ("hsmr",)


class BatchError(WorkbenchError):
    """A batch job was asked for something it cannot do (unknown stage, missing module, no exercise, …)."""


# ------------------------------------------------------------------------------------------------ driver side


def parse_stages(text: str) -> list[StageName]:
    """``"pose,analysis"`` → the stages in pipeline order; each stage brings the ones it needs before it."""
    wanted = [s.strip() for s in text.split(",") if s.strip()]
    unknown = [s for s in wanted if s not in STAGE_ORDER]
    if unknown or not wanted:
        raise BatchError(f"--stages: expected a comma-separated subset of {','.join(STAGE_ORDER)}, got {text!r}")
    last = max(STAGE_ORDER.index(s) for s in wanted)  # type: ignore[arg-type]
    return list(STAGE_ORDER[: last + 1])


@dataclass
class StagePlan:
    """Per-clip stage specs and the context workers need, resolved once in the driver."""

    stages: list[StageName]
    backend: str = "auto"
    coach: str = "rule"  # "rule" or "neural"
    coach_device: str = "cpu"
    min_confidence: float = 0.3
    default_exercise: str | None = None
    db: Database | None = None
    _exercises: dict[str, tuple[Any, dict[str, Any]]] = field(default_factory=dict)
    _labels: dict[str, dict[str, list[Any]]] = field(default_factory=dict)

    def pose_kind(self, clip: ClipRef) -> str:
        return str(detect_backend(clip.path)) if self.backend == "auto" else self.backend

    def exercise_for(self, clip: ClipRef) -> str | None:
        return clip.exercise or self.default_exercise

    def _exercise(self, key: str) -> tuple[Any, dict[str, Any]]:
        """The Exercise object and its store versions (cached: one store read per exercise per job)."""
        if key not in self._exercises:
            self._exercises[key] = resolve(key, self.db)
        return self._exercises[key]

    def reviewed_salient(self, exercise: str, clip_hash: str) -> tuple[list[str] | None, str | None]:
        """The clip's expert-accepted salient joints as ``analyze_clip`` uses them (workbench.review), read once
        per exercise per job; (None, None) when no expert validated any (or there is no store)."""
        if self.db is None:
            return None, None
        if exercise not in self._labels:
            by_clip: dict[str, list[Any]] = {}
            for lab in review_labels.accepted_salient_labels(self.db, exercise):
                by_clip.setdefault(lab.clip_hash, []).append(lab)
            self._labels[exercise] = by_clip
        joints, note = review_labels.reviewed_salient(self._labels[exercise].get(clip_hash, []))
        return (None, None) if joints is None else (list(joints), note)

    def specs_for(self, clip: ClipRef) -> list[StageSpec]:
        kind = self.pose_kind(clip)
        specs = [StageSpec("pose", {"backend": kind, "fps": 30.0, "code_version": __version__})]
        if "analysis" in self.stages:
            exercise = self.exercise_for(clip)
            if exercise is None:
                raise BatchError(
                    f"{clip.path}: the analysis needs the clip's exercise; expected --exercise or a "
                    f"clip registered with one in the store, got neither"
                )
            ex, versions = self._exercise(exercise)
            salient, salient_from = self.reviewed_salient(ex.key, clip.content_hash or "")
            analysis = {
                "exercise": ex.key,
                "min_confidence": self.min_confidence,
                "versions": versions,
                "code_version": __version__,
            }
            if salient is not None:  # only then, so keys of unreviewed clips stay as they were
                analysis.update(salient=salient, salient_from=salient_from)
            specs.append(StageSpec("analysis", analysis))
        if "coaching" in self.stages:
            coaching = {
                "coach": self.coach,
                "device": self.coach_device,
                "after": specs[-1].params_hash,
                "code_version": __version__,
            }
            specs.append(StageSpec("coaching", coaching))
        if "evaluation" in self.stages:
            specs.append(StageSpec("evaluation", {"after": specs[-1].params_hash, "code_version": __version__}))
        return specs

    def context_for(self, clip: ClipRef) -> dict[str, Any]:
        exercise = self.exercise_for(clip)
        if "analysis" not in self.stages or exercise is None:
            return {}
        ex, versions = self._exercise(exercise)
        return {"exercise": ex, "versions": versions}

    def gpus(self, specs: list[StageSpec]) -> float:
        """GPUs one task asks Ray for: HSMR pose or the neural coach on cuda need one."""
        for s in specs:
            if s.name == "pose" and s.params.get("backend") in GPU_BACKENDS:
                return 1.0
            if s.name == "coaching" and s.params.get("coach") == "neural" and s.params.get("device") == "cuda":
                return 1.0
        return 0.0


# ------------------------------------------------------------------------------------------------ worker side


_FRAMES = threading.local()  # the frame-progress callback of tasks run in this thread (InlineEngine)


@contextmanager
def frame_progress(callback: Callable[[str, Any], None] | None) -> Iterator[None]:
    """While inside, the pose stage of a task run in *this thread* (the inline engine: ``workers=0``) reports
    its frames to ``callback(clip_path, workbench.progress.Progress)``. Worker processes and Ray tasks run
    elsewhere and report nothing; their progress is per item, from the store."""
    previous = getattr(_FRAMES, "callback", None)
    _FRAMES.callback = callback
    try:
        yield
    finally:
        _FRAMES.callback = previous


def _frame_report(task: Task) -> Callable[[Any], None] | None:
    callback = getattr(_FRAMES, "callback", None)
    if callback is None:
        return None
    path = str(task.clip.path)
    return lambda progress: callback(path, progress)


def worker_id() -> str:
    node = ""
    if "ray" in __import__("sys").modules:
        try:
            import ray

            if ray.is_initialized():
                node = ":" + ray.get_runtime_context().get_node_id()[:8]
        except RuntimeError:  # ray's context outside a worker: the host and pid are enough
            node = ""
    return f"{socket.gethostname()}:{os.getpid()}{node}"


def execute(task: Task) -> TaskResult:
    """Run the task's stages in order. A failing stage fails the ones after it (they need its output); the
    error text is returned, never raised, so one corrupt clip cannot take a worker or the job down."""
    started = time.time()
    state: dict[str, Any] = dict(task.inputs)
    results: list[StageResult] = []
    blocked: str | None = None
    for spec, key in zip(task.stages, task.keys, strict=True):
        t0 = time.perf_counter()
        if blocked is not None:
            results.append(StageResult(key, spec.name, False, 0.0, error=f"not run: {blocked}"))
            continue
        try:
            if task.delay_s:
                time.sleep(task.delay_s)
            summary, payload = RUNNERS[spec.name](task, spec, state)
            results.append(
                StageResult(key, spec.name, True, time.perf_counter() - t0, summary=summary, payload=payload)
            )
        except Exception as exc:  # every failure is data: recorded with the item, retried by the driver
            message = f"{type(exc).__name__}: {exc}"
            if not isinstance(exc, WorkbenchError):
                message += " | " + traceback.format_exc(limit=-2).strip().splitlines()[-3].strip()
            results.append(StageResult(key, spec.name, False, time.perf_counter() - t0, error=message))
            blocked = f"stage {spec.name} failed"
    return TaskResult(clip=task.clip, worker=worker_id(), started_at=started, finished_at=time.time(), results=results)


def _track(state: dict[str, Any]) -> PoseTrack:
    if "track" not in state:
        state["track"] = track_from_npz(state["track_npz"])
    return state["track"]  # type: ignore[no-any-return]


def run_pose(task: Task, spec: StageSpec, state: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    kind = spec.params["backend"]
    t0 = time.perf_counter()
    estimate = estimate_pose(task.clip.path, kind, fps=spec.params["fps"], progress=_frame_report(task))
    extract_s = time.perf_counter() - t0
    track = estimate.track
    check_track(track, str(task.clip.path))  # beyond the input limits: a failed item, never a cached pose
    track.meta["pipeline_warnings"] = canonical(estimate.warnings)
    state["track"] = track
    state["backend"] = estimate.backend
    payload: dict[str, Any] = {"backend": estimate.backend, "extract_s": extract_s}
    if kind in CACHED_BACKENDS:  # worth caching; a pose .npz is re-read by the next stage instead
        payload["track_npz"] = track_to_npz(track)
        if estimate.landmarks is not None:
            payload["landmarks_npz"] = landmarks_to_npz(estimate.landmarks)
            state["landmarks"] = estimate.landmarks
    summary = {
        "backend": estimate.backend,
        "n_frames": track.n_frames,
        "fps": track.fps,
        "duration_s": round(track.n_frames / track.fps, 3) if track.fps else None,
        "warnings": len(estimate.warnings),
    }
    return summary, payload


def _ensure_track(task: Task, state: dict[str, Any]) -> PoseTrack:
    """The track from this task's pose stage, from the pose cache the driver shipped, or (a pose .npz the cache
    does not hold) read again from the file."""
    if "track" in state or "track_npz" in state:
        return _track(state)

    estimate = estimate_pose(task.clip.path, "pose")
    state["track"] = estimate.track
    return estimate.track


def run_analysis(task: Task, spec: StageSpec, state: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    import json

    track = _ensure_track(task, state)
    landmarks = state.get("landmarks")
    if landmarks is None and state.get("landmarks_npz") is not None:
        landmarks = landmarks_from_npz(state["landmarks_npz"])
    warnings = json.loads(track.meta.get("pipeline_warnings", "[]"))
    estimate = PoseEstimate(track=track, backend=state.get("backend", "pose"), landmarks=landmarks, warnings=warnings)
    body = _body(estimate, None, None, None)
    ex = task.context["exercise"]
    analysis = analyze(
        track, ex, salient=spec.params.get("salient"), min_confidence=spec.params["min_confidence"], body=body
    )
    # the analysis JSON's feedback: the rule coach's per-rep review, as `biocoach analyze` writes it
    analysis.feedback = clip_feedback(None, track, ex, context_morph=analysis.context_morph, reps=analysis.reps)
    analysis.prepend_warnings(estimate.warnings)
    analysis.provenance.update(task.context.get("versions", {}))
    key = task.keys[task.stages.index(spec)]
    analysis.provenance.update(
        input=str(task.clip.path),
        input_sha256=task.clip.content_hash or "",
        backend=estimate.backend,
        code_version=__version__,
        batch_key=key,
    )
    if spec.params.get("salient_from"):
        analysis.provenance["salient_joints_from"] = spec.params["salient_from"]
    state["analysis"] = analysis
    doc = analysis.to_json()
    summary = analysis_summary(doc)
    return summary, {"analysis": doc}


def analysis_summary(doc: dict[str, Any]) -> dict[str, Any]:
    """What a results table shows, and a digest of the content (provenance left out: it names paths and
    run ids), so two runs of the same clip on two engines can be compared exactly."""
    reps = doc.get("reps", [])
    qualities = [r["quality"] for r in reps if r.get("quality") is not None]
    content = {k: v for k, v in doc.items() if k != "provenance"}
    return {
        "exercise": doc.get("exercise"),
        "n_reps": len(reps),
        "n_violations": sum(len(r.get("violations", [])) for r in reps),
        "mean_quality": round(sum(qualities) / len(qualities), 4) if qualities else None,
        "n_feedback": len(doc.get("feedback", [])),
        "digest": hashlib.sha256(canonical(content).encode()).hexdigest()[:16],
    }


_COACHES: dict[tuple[str, str], Any] = {}  # one loaded neural coach per worker process and device


def _coach(kind: str, device: str) -> Coach:
    """A fresh rule coach per clip; the neural coach loaded once per worker (the loop resets it per clip, with
    that clip's exercise as the store has it)."""
    if kind == "rule":
        return load_coach("rule")
    key = (kind, device)
    if key not in _COACHES:  # loading the language model is the slow part: once per worker, not per clip
        coach = load_coach(kind)
        model = getattr(coach, "model", None)
        if device != "cpu" and model is not None and hasattr(model, "to"):
            model.to(device)
        _COACHES[key] = coach
    return _COACHES[key]


def run_coaching(task: Task, spec: StageSpec, state: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    if "analysis" not in state:
        raise BatchError("the coaching stage needs the analysis stage's result in the same task")
    ex = task.context["exercise"]
    analysis = state["analysis"]
    coach = _coach(spec.params["coach"], spec.params["device"])
    analysis_spec = next((s for s in task.stages if s.name == "analysis"), None)
    params = analysis_spec.params if analysis_spec is not None else {}
    events = coach_events(
        coach,
        _ensure_track(task, state),
        ex,
        context_morph=analysis.context_morph,
        salient=params.get("salient"),
        min_confidence=params.get("min_confidence"),
    )
    state["coaching"] = events
    utterances = [
        {"t_s": round(e.t_s, 3), "text": e.text, "kind": e.kind, "n_tokens": e.n_tokens, "evidence": e.tags()}
        for e in events
    ]
    summary = {
        "coach": coach.name,
        "n_utterances": len(utterances),
        "digest": hashlib.sha256(canonical(utterances).encode()).hexdigest()[:16],
    }
    # the lines as the run keeps them (the driver makes them the run's feedback): tags and what the coach knew
    feedback = [e.to_feedback().to_json() for e in events]
    return summary, {"utterances": utterances, "feedback": feedback}


def run_evaluation(task: Task, spec: StageSpec, state: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """T-F score, METEOR and ROUGE-L of the coaching against the clip's ground-truth sidecar
    (``<clip>.feedback.json``); BERTScore and LLM judges stay with ``biocoach eval`` (models per run, not per
    clip)."""
    if "coaching" not in state:
        raise BatchError("the evaluation stage needs the coaching stage's result in the same task")
    truth = load_ground_truth(task.clip.path)
    if truth is None:
        raise BatchError(
            f"{task.clip.path}: the evaluation needs ground-truth feedback; expected "
            f"{sidecar_path(task.clip.path).name} beside the clip, found none"
        )
    cid = task.clip.content_hash or task.clip.path.name
    events = state["coaching"]
    predicted = Clip(cid, tuple(e.text for e in events), tuple(e.t_s for e in events))
    gt = Clip(cid, tuple(t.text for t in truth), tuple(t.t_s for t in truth))
    result = evaluate({cid: predicted}, {cid: gt}, settings=EvalSettings(bertscore=False), dataset="batch")
    metrics = {k: v for k, v in result.summary.items() if isinstance(v, int | float) and not isinstance(v, bool)}
    return {"metrics": metrics}, {}


RUNNERS: dict[str, Any] = {
    "pose": run_pose,
    "analysis": run_analysis,
    "coaching": run_coaching,
    "evaluation": run_evaluation,
}
