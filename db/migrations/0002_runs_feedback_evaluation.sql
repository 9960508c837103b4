-- 0002 — what the analysis did with the store: runs, their feedback events and evaluation results; and
-- how long each cached pose extraction took (the figure the cache saves on a re-analysis).

ALTER TABLE pose_tracks ADD COLUMN extract_s DOUBLE;

CREATE SEQUENCE run_ids START 1;
CREATE TABLE runs (
    id                  BIGINT PRIMARY KEY DEFAULT nextval('run_ids'),
    status              VARCHAR NOT NULL CHECK (status IN ('running', 'succeeded', 'failed')),
    exercise            VARCHAR,
    clip_hash           VARCHAR,
    config_json         VARCHAR NOT NULL,
    code_version        VARCHAR NOT NULL,
    model               VARCHAR,  -- pose backend and model that produced the track
    reference_version   INTEGER,
    rules_version       INTEGER,
    threshold_versions  VARCHAR NOT NULL,  -- JSON {constraint id: version}
    timings_json        VARCHAR NOT NULL DEFAULT '{}',
    error               VARCHAR,
    started_at          TIMESTAMPTZ NOT NULL,
    finished_at         TIMESTAMPTZ
);

CREATE SEQUENCE feedback_event_ids START 1;
CREATE TABLE feedback_events (
    id            BIGINT PRIMARY KEY DEFAULT nextval('feedback_event_ids'),
    run_id        BIGINT NOT NULL,
    rep           INTEGER,
    t_s           DOUBLE,
    constraint_id VARCHAR,
    severity      VARCHAR NOT NULL,
    message       VARCHAR NOT NULL,
    payload_json  VARCHAR NOT NULL DEFAULT '{}',
    created_at    TIMESTAMPTZ NOT NULL
);

CREATE SEQUENCE evaluation_result_ids START 1;
CREATE TABLE evaluation_results (
    id           BIGINT PRIMARY KEY DEFAULT nextval('evaluation_result_ids'),
    run_id       BIGINT,
    dataset      VARCHAR NOT NULL,
    metric       VARCHAR NOT NULL,
    value        DOUBLE NOT NULL,
    details_json VARCHAR NOT NULL DEFAULT '{}',
    created_at   TIMESTAMPTZ NOT NULL
);
