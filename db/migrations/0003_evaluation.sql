-- 0003 — evaluations (issue 7): one row per `biocoach eval` run grouping its metrics, the models that scored
-- (BERTScore encoder, LLM judge), its settings and one row per clip. The per-metric rows stay in
-- evaluation_results (0002), now linked to their evaluation.

CREATE SEQUENCE evaluation_ids START 1;
CREATE TABLE evaluations (
    id             BIGINT PRIMARY KEY DEFAULT nextval('evaluation_ids'),
    name           VARCHAR NOT NULL,             -- a label for the run (default: predictions file name)
    dataset        VARCHAR NOT NULL,             -- the ground truth's name (split folder or file)
    predictions    VARCHAR NOT NULL,             -- where the predictions came from
    ground_truth   VARCHAR NOT NULL,             -- where the ground truth came from
    t_f_score      DOUBLE NOT NULL,
    precision      DOUBLE NOT NULL,
    recall         DOUBLE NOT NULL,
    n_gt           INTEGER NOT NULL,
    n_pred         INTEGER NOT NULL,
    n_matched      INTEGER NOT NULL,
    models_json    VARCHAR NOT NULL DEFAULT '{}', -- {"bertscore": ..., "judge": ...}: who scored
    settings_json  VARCHAR NOT NULL DEFAULT '{}', -- skip_empty, tolerance, judge limit, ...
    summary_json   VARCHAR NOT NULL DEFAULT '{}', -- the whole --json document less per-clip rows
    code_version   VARCHAR NOT NULL,
    created_at     TIMESTAMPTZ NOT NULL
);

CREATE TABLE evaluation_clips (
    evaluation_id  BIGINT NOT NULL,
    clip_id        VARCHAR NOT NULL,
    exercise       VARCHAR,
    n_gt           INTEGER NOT NULL,
    n_pred         INTEGER NOT NULL,
    matched_gt     INTEGER NOT NULL,
    matched_pred   INTEGER NOT NULL,
    f_score        DOUBLE NOT NULL,
    meteor         DOUBLE,
    rouge_l        DOUBLE,
    bertscore      DOUBLE,
    details_json   VARCHAR NOT NULL DEFAULT '{}', -- matched pairs, missed and spurious feedback with times
    PRIMARY KEY (evaluation_id, clip_id)
);

ALTER TABLE evaluation_results ADD COLUMN evaluation_id BIGINT;
