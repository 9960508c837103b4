-- 0005 — batch jobs (issue 9): a job runs stages (pose, analysis, coaching, evaluation) over a selection of
-- clips on a local process pool or a Ray cluster. Only the driver process writes these tables (DuckDB is
-- single-writer); workers compute and return their results to it.
--
-- * batch_items is keyed by the work key "<clip sha256>:<stage>:<sha256 of the stage parameters>[:16]": the
--   same clip under another name, or another job asking for the same stage with the same parameters, finds
--   the item already done and skips it (idempotent re-runs, resumable jobs).
-- * batch_job_items says which items a job selected, so a job's progress counts items another job did.
-- * attempts counts executions started, failures counts those that raised; an item is given up (failed for
--   good) once failures reaches the job's max_attempts. A driver killed mid-run leaves items 'running'; the
--   next run of any job resets those of dead jobs to 'pending'.

CREATE SEQUENCE batch_job_ids START 1;
CREATE TABLE batch_jobs (
    id            BIGINT PRIMARY KEY DEFAULT nextval('batch_job_ids'),
    name          VARCHAR NOT NULL,
    status        VARCHAR NOT NULL CHECK (status IN ('running', 'finished', 'failed', 'interrupted')),
    spec_json     VARCHAR NOT NULL,  -- selection, stages and their parameters, engine, workers, max_attempts
    engine        VARCHAR NOT NULL,  -- 'local' or 'ray'
    code_version  VARCHAR NOT NULL,
    host          VARCHAR NOT NULL,  -- the driver's host and process id (a dead driver leaves 'running')
    pid           INTEGER NOT NULL,
    n_selected    INTEGER NOT NULL DEFAULT 0,  -- items selected so far (final once selection_done)
    selection_done BOOLEAN NOT NULL DEFAULT false,
    n_done        INTEGER NOT NULL DEFAULT 0,  -- counters refreshed at every flush, for cheap progress reads
    n_failed      INTEGER NOT NULL DEFAULT 0,
    n_skipped     INTEGER NOT NULL DEFAULT 0,  -- already done before this job ran (another job or a re-run)
    n_executed    INTEGER NOT NULL DEFAULT 0,  -- items this job itself finished (throughput counts these)
    started_at    TIMESTAMPTZ NOT NULL,
    heartbeat_at  TIMESTAMPTZ NOT NULL,
    finished_at   TIMESTAMPTZ,
    shard_dir     VARCHAR  -- where this job's Parquet shards are, when it writes them
);

CREATE TABLE batch_items (
    work_key        VARCHAR PRIMARY KEY,
    clip_hash       VARCHAR NOT NULL,
    stage           VARCHAR NOT NULL CHECK (stage IN ('pose', 'analysis', 'coaching', 'evaluation')),
    params_hash     VARCHAR NOT NULL,
    params_json     VARCHAR NOT NULL,  -- canonical JSON of the stage parameters (their provenance)
    path            VARCHAR NOT NULL,  -- where the clip was last seen
    exercise        VARCHAR,
    status          VARCHAR NOT NULL CHECK (status IN ('pending', 'running', 'done', 'failed')),
    attempts        INTEGER NOT NULL DEFAULT 0,
    failures        INTEGER NOT NULL DEFAULT 0,
    error           VARCHAR,
    worker          VARCHAR,  -- host:pid (and Ray node) of the worker that ran the last attempt
    job_id          BIGINT,   -- the job that ran the last attempt
    queued_at       TIMESTAMPTZ NOT NULL,
    started_at      TIMESTAMPTZ,
    finished_at     TIMESTAMPTZ,
    seconds         DOUBLE,   -- compute time on the worker
    result_kind     VARCHAR,  -- 'pose_tracks', 'run', 'parquet', 'json'
    result_ref      VARCHAR,  -- the pose cache key, the run id, or the shard file and row
    result_json     VARCHAR,  -- a small summary (reps, violations, utterances, metrics)
    provenance_json VARCHAR
);

CREATE TABLE batch_job_items (
    job_id   BIGINT NOT NULL,
    work_key VARCHAR NOT NULL,
    position INTEGER NOT NULL,  -- selection order
    PRIMARY KEY (job_id, work_key)
);
