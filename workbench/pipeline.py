"""The whole analysis of one input, as the CLI, the notebooks and the app run it.

    result = analyze_clip("squat.mp4", "squat")                 # store at db/biocoach.duckdb (or $BIOCOACH_DB)
    result = analyze_clip("squat.mp4", "squat", db=None)        # the YAML catalogue, no store, no cache

With a store: the exercise rules and reference come from the store's current versions (an expert's edit
changes the next analysis), the provenance names those versions, and pose tracks are cached by the clip's
content hash, backend and parameters, so re-analysing a clip after a threshold edit skips pose extraction.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable, Sequence
from contextlib import suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from workbench import __version__
from workbench.body.measurements import estimate_body
from workbench.body.reprojection import SkeletonFit, fit_skeleton
from workbench.coach.coaching import Coach
from workbench.coach.feedback import clip_feedback
from workbench.config import load_config
from workbench.exercises import load_catalogue
from workbench.exercises.catalogue import Catalogue, Exercise
from workbench.motion.analysis import analyze, analyze_streaming
from workbench.motion.results import Analysis
from workbench.pose.backends import Backend, PoseEstimate, detect_backend, estimate_pose, pose_cache_params
from workbench.pose.track import check_track
from workbench.progress import ProgressCallback, terminal_progress
from workbench.store.clips_repo import sha256_file
from workbench.store.database import Database
from workbench.store.review_labels import reviewed_salient, salient_joints_for_clip
from workbench.store.seed import init_from_references, load_store_catalogue

CACHED_BACKENDS = frozenset({"mediapipe", "landmarks", "hsmr"})  # the expensive or derived ones


@dataclass
class ClipResult:
    analysis: Analysis
    estimate: PoseEstimate
    timings_s: dict[str, float] = field(default_factory=dict)
    cache_hit: bool = False
    exercise: Exercise | None = None  # the exercise as resolved for this analysis (the store's versions then)
    fit: SkeletonFit | None = None  # the fitted SKEL skeleton in the image (body.reprojection), when there is one


def default_database(path: str | Path | None = None) -> Database:
    """The store: ``path``, else ``$BIOCOACH_DB``, else db/biocoach.duckdb; created and seeded on first use."""
    db = Database(path or os.environ.get("BIOCOACH_DB") or None)
    with db.store() as store:
        empty = store.status().counts.get("exercises", 0) == 0
    if empty:
        init_from_references(db)
    return db


def resolve(exercise: str, db: Database | None) -> tuple[Exercise, dict[str, Any]]:
    """The exercise's rules from the store's current versions (with their provenance) or from references/."""
    catalogue, provenance = resolve_catalogue(db)
    ex = catalogue.get(exercise)
    return ex, provenance(ex.key)


def resolve_catalogue(db: Database | None) -> tuple[Catalogue, Callable[[str], dict[str, Any]]]:
    """Every exercise as the store has it now (or as references/ has it, without a store), and a function
    giving an exercise's provenance (its store versions)."""
    if db is None:
        return load_catalogue(), lambda key: {"rules_from": "references/ (no store)"}
    store_catalogue = load_store_catalogue(db)
    return store_catalogue.catalogue, store_catalogue.provenance


def analyze_clip(
    path: str | Path,
    exercise: str,
    *,
    backend: Backend = "auto",
    db: Database | str | None = "default",
    salient: Sequence[str] | None = None,
    min_confidence: float = 0.3,
    stream: bool = False,
    body_model: Path | None = None,
    mass_kg: float | None = None,
    height_m: float | None = None,
    config_path: str | Path | None = None,
    progress: ProgressCallback | bool | None = None,
    need_landmarks: bool = False,
    coach: Coach | None = None,
    outputs: Callable[[ClipResult], None] | None = None,
    record: bool = True,
) -> ClipResult:
    """Pose (cached when a store is used) → body → motion analysis → feedback, with full provenance. The
    feedback is the ``coach``'s, run through the 4 Hz streaming loop (``workbench.coach.loop``); without one,
    the rule coach's per-rep review (``workbench.coach.feedback``).

    ``height_m`` / ``mass_kg``: the user's stated height and mass; a stated height replaces the camera's
    estimate and rescales every body length (workbench.body). ``progress``: a callback told the frames done,
    the rate and the time left while a video goes through pose estimation (workbench.progress); ``True``
    renders it on stderr when that is a terminal.

    ``outputs``: writes what the caller makes of the result (the CLI's JSON, pose file, overlay); with a store,
    the run is recorded as succeeded only after it returns (as failed, with the error, if it raises), and the
    result's provenance names the run's id before it is called.

    ``record=False``: the store still gives the rules, thresholds, reference, pose cache and reviewed salient
    joints, but no run is recorded (the app opening its bundled example, overlays: not runs anyone asked for)."""
    timings: dict[str, float] = {}
    start = time.perf_counter()
    database = default_database() if db == "default" else (None if db is None else _as_db(db))
    ex, versions = resolve(exercise, database)  # an unknown exercise fails before any file is read
    timings["rules_s"] = time.perf_counter() - start
    path = Path(path)
    kind = detect_backend(path) if backend == "auto" else backend
    t0 = time.perf_counter()
    report = terminal_progress() if progress is True else (progress or None)
    estimate, hit, clip_hash = _pose(path, kind, database, report, config_path, need_landmarks)
    check_track(estimate.track, str(path))  # within the input limits (workbench.limits), named by the input
    fit = skeleton_fit(estimate)
    timings["pose_s"] = time.perf_counter() - t0
    reviewed = None
    if salient is None and database is not None:  # experts' accepted salient joints for this clip, if any
        salient, reviewed = _reviewed_salient(database, clip_hash or _sha256(path), ex.key)
    t0 = time.perf_counter()
    body = _body(estimate, body_model, mass_kg, config_path, height_m)
    run = analyze_streaming if stream else analyze
    analysis = run(estimate.track, ex, salient=salient, min_confidence=min_confidence, body=body)
    timings["analysis_s"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    analysis.feedback = clip_feedback(
        coach,
        estimate.track,
        ex,
        context_morph=analysis.context_morph,
        reps=analysis.reps,
        video=estimate.video,
        salient=salient,
        min_confidence=min_confidence,
    )
    if coach is not None:
        analysis.provenance["coach"] = coach.name
        # A neural coach says whether it is trained, where its salient joints came from and how it decoded.
        details = getattr(coach, "provenance", None)
        if isinstance(details, dict):
            analysis.provenance["coach_details"] = json.loads(json.dumps(details, default=str))
        timings["coach_s"] = time.perf_counter() - t0
    analysis.pose_fit = fit.summary() if fit is not None else None
    analysis.prepend_warnings(estimate.warnings)
    analysis.provenance.update(versions)
    analysis.provenance.update(
        input=str(path),
        input_sha256=clip_hash or _sha256(path),
        backend=estimate.backend,
        code_version=__version__,
        pose_cache="hit" if hit else ("stored" if database and clip_hash else "off"),
    )
    if reviewed is not None:
        analysis.provenance["salient_joints_from"] = reviewed
    timings["total_s"] = time.perf_counter() - start
    result = ClipResult(analysis=analysis, estimate=estimate, timings_s=timings, cache_hit=hit, exercise=ex, fit=fit)
    if database is None or not record:
        if outputs is not None:
            outputs(result)
        return result
    run_id = _reserve_run_id(database)
    analysis.provenance["run_id"] = run_id
    try:
        if outputs is not None:
            outputs(result)
    except BaseException as exc:
        with suppress(Exception):  # the outputs' own error is the one to report, even if the store fails too
            _record_run(
                database,
                ex,
                estimate,
                versions,
                clip_hash,
                timings,
                analysis,
                run_id,
                error=f"outputs not written: {type(exc).__name__}: {exc}",
            )
        raise
    _record_run(database, ex, estimate, versions, clip_hash, timings, analysis, run_id)
    return result


def _reviewed_salient(db: Database, clip_hash: str, exercise: str) -> tuple[tuple[str, ...] | None, str | None]:
    """The union of the clip's expert-accepted salient joints (workbench.review) and a provenance note naming
    the labels; (None, None) when no expert has validated any."""
    if not clip_hash:
        return None, None
    return reviewed_salient(salient_joints_for_clip(db, clip_hash, exercise)[1])


def _as_db(db: Database | str) -> Database:
    return default_database(db) if isinstance(db, str) else db


def _pose(
    path: Path,
    kind: str,
    db: Database | None,
    progress: ProgressCallback | None,
    config_path: str | Path | None,
    need_landmarks: bool,
) -> tuple[PoseEstimate, bool, str | None]:
    if db is None or kind not in CACHED_BACKENDS or not path.is_file():
        return estimate_pose(path, kind, progress=progress, config_path=config_path), False, None  # type: ignore[arg-type]
    params = pose_cache_params()
    clip_hash = sha256_file(path)  # registered below only with its pose: a clip that fails leaves no row
    with db.store() as store:
        cached = store.poses.get_pose(clip_hash, kind, params)
        landmarks = store.poses.get_landmarks(clip_hash, kind, params)
        if cached is not None:
            store.clips.register(path)  # a known clip: its path is brought up to date
    if cached is not None and (landmarks is not None or not need_landmarks):
        warnings = json.loads(cached.meta.get("pipeline_warnings", "[]"))
        video = path if kind in ("mediapipe", "hsmr") and detect_backend(path) == "mediapipe" else None
        estimate = PoseEstimate(track=cached, backend=kind, landmarks=landmarks, warnings=warnings, video=video)
        return estimate, True, clip_hash
    t0 = time.perf_counter()
    estimate = estimate_pose(path, kind, progress=progress, config_path=config_path)  # type: ignore[arg-type]
    extract_s = time.perf_counter() - t0
    track = estimate.track
    check_track(track, str(path))  # a track beyond the input limits is refused before it is stored
    track.meta["pipeline_warnings"] = json.dumps(estimate.warnings)
    with db.store() as store, store.transaction():  # the clip appears with its pose, or not at all
        store.clips.register(path)
        store.poses.put_pose(clip_hash, kind, params, track, extract_s=extract_s)
        if estimate.landmarks is not None:
            store.poses.put_landmarks(clip_hash, kind, params, estimate.landmarks)
    return estimate, False, clip_hash


def skeleton_fit(estimate: PoseEstimate) -> SkeletonFit | None:
    """The fitted SKEL skeleton in the image and its reprojection error (``pose.reprojection``), for tracks
    made from image landmarks; None otherwise (pose files, HSMR, landmarks without image coordinates)."""
    if estimate.landmarks is None or estimate.backend not in ("mediapipe", "landmarks"):
        return None
    return fit_skeleton(estimate.track, estimate.landmarks)


def _body(
    estimate: PoseEstimate,
    body_model: Path | None,
    mass_kg: float | None,
    config_path: str | Path | None,
    height_m: float | None = None,
) -> Any:
    """Body measurements for C_morph: from the shape and a body model when both exist, else the landmarks;
    a height the user states rescales them. Only the warnings of the way go to the pipeline's list: the
    measurement's own travel with it, and the analysis lists those (once)."""
    from workbench.body.smplx_model import load_smplx_model  # torch: only when a body is measured

    model_path = body_model or load_config(config_path).smpl_model
    model = load_smplx_model(model_path) if model_path is not None and estimate.track.betas is not None else None
    body, warnings = estimate_body(
        betas=estimate.track.betas, landmarks=estimate.landmarks, model=model, mass_kg=mass_kg, height_m=height_m
    )
    estimate.warnings += warnings
    return body


def _reserve_run_id(db: Database) -> int:
    with db.store() as store:
        return store.runs.reserve_id()


def _record_run(
    db: Database,
    ex: Exercise,
    estimate: PoseEstimate,
    versions: dict[str, Any],
    clip_hash: str | None,
    timings: dict[str, float],
    analysis: Analysis,
    run_id: int,
    error: str | None = None,
) -> int:
    """A run record with its provenance and its feedback events (one per flawed rep, with the evidence), in one
    transaction: succeeded, or failed with ``error``."""
    config = {"exercise": ex.key, "backend": estimate.backend}
    if analysis.provenance.get("coach"):
        config["coach"] = analysis.provenance["coach"]
    with db.store() as store, store.transaction():
        store.runs.start(
            config=config,
            code_version=__version__,
            exercise=ex.key,
            clip_hash=clip_hash,
            model=estimate.backend,
            reference_version=versions.get("reference_version"),
            rules_version=versions.get("rules_version"),
            threshold_versions=versions.get("threshold_versions"),
            run_id=run_id,
        )
        store.runs.finish(run_id, status="failed" if error else "succeeded", timings=timings, error=error)
        if error is None:
            store.runs.add_feedback(run_id, analysis.feedback)
    return run_id


def _sha256(path: Path) -> str:
    import hashlib

    return hashlib.sha256(path.read_bytes()).hexdigest() if path.is_file() else ""
