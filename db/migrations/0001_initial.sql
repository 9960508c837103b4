-- 0001 — the core of the store: exercises with versioned rules, thresholds, reference trajectories and
-- salient-joint labels; joint classes; clips and the pose-track cache.
--
-- Conventions
-- * Editable items are append-only: every edit inserts a new version row (never an UPDATE), and
--   current_versions points at the version in use. The pointer is the one row an edit UPDATEs, which makes
--   it the compare-and-swap point for optimistic concurrency (workbench/store/repositories.py).
-- * Threshold columns are degrees, as in the rule files; trajectory blobs are radians, float64
--   little-endian, row-major (n_dofs, n_samples).
-- * No foreign keys: DuckDB cannot ALTER a table that another table references, and later migrations must
--   be free to; the repositories keep the references consistent inside their transactions.
-- * Migrations hold no BEGIN/COMMIT: the runner wraps each file in one transaction.

CREATE TABLE schema_version (
    version    INTEGER PRIMARY KEY,
    name       VARCHAR NOT NULL,
    applied_at TIMESTAMPTZ NOT NULL
);

CREATE TABLE exercises (
    key        VARCHAR PRIMARY KEY,
    created_by VARCHAR NOT NULL,
    created_at TIMESTAMPTZ NOT NULL
);

-- The current version of every versioned item: kind 'rules' and 'reference' (scope = exercise,
-- item = kind), 'threshold' (scope = exercise, item = constraint id), 'label' (scope = clip hash,
-- item = label id).
CREATE TABLE current_versions (
    kind    VARCHAR NOT NULL CHECK (kind IN ('rules', 'reference', 'threshold', 'label')),
    scope   VARCHAR NOT NULL,
    item    VARCHAR NOT NULL,
    version INTEGER NOT NULL CHECK (version >= 1),
    PRIMARY KEY (kind, scope, item)
);

-- Everything in a rule file except its key, joint classes and constraints (cycle, key frames, salient
-- joints, reference-building rules, sources), as canonical JSON.
CREATE TABLE rule_versions (
    exercise       VARCHAR NOT NULL,
    version        INTEGER NOT NULL CHECK (version >= 1),
    body_json      VARCHAR NOT NULL,
    author         VARCHAR NOT NULL,
    note           VARCHAR NOT NULL,
    created_at     TIMESTAMPTZ NOT NULL,
    parent_version INTEGER,
    PRIMARY KEY (exercise, version)
);

-- Decisions about (joint, class) pairs, append-only. A joint is in a class while its latest decided
-- row (accepted / rejected) for that pair is 'accepted'; proposals wait for a reviewer.
CREATE SEQUENCE joint_class_ids START 1;
CREATE TABLE joint_classes (
    id          BIGINT PRIMARY KEY DEFAULT nextval('joint_class_ids'),
    exercise    VARCHAR NOT NULL,
    joint       VARCHAR NOT NULL,
    joint_class VARCHAR NOT NULL CHECK (joint_class IN ('static', 'dynamic')),
    source      VARCHAR NOT NULL CHECK (source IN ('paper', 'llm', 'expert')),
    status      VARCHAR NOT NULL CHECK (status IN ('proposed', 'accepted', 'rejected')),
    position    INTEGER NOT NULL,  -- order within the class list (the rule file's order)
    who         VARCHAR NOT NULL,
    created_at  TIMESTAMPTZ NOT NULL,
    note        VARCHAR NOT NULL DEFAULT ''
);

CREATE TABLE reference_versions (
    exercise       VARCHAR NOT NULL,
    version        INTEGER NOT NULL CHECK (version >= 1),
    n_dofs         INTEGER NOT NULL,
    n_samples      INTEGER NOT NULL CHECK (n_samples >= 2),
    mean_f64       BLOB NOT NULL,
    sd_f64         BLOB NOT NULL,  -- the envelope: one standard deviation per DoF and sample
    digest         VARCHAR NOT NULL,  -- sha256 of mean and sd bytes: an unchanged import is detected cheaply
    author         VARCHAR NOT NULL,
    note           VARCHAR NOT NULL,
    created_at     TIMESTAMPTZ NOT NULL,
    parent_version INTEGER,
    PRIMARY KEY (exercise, version)
);

-- One row per version of one constraint as written in a rule file (before both_sides mirroring).
CREATE TABLE threshold_versions (
    exercise            VARCHAR NOT NULL,
    constraint_id       VARCHAR NOT NULL,
    version             INTEGER NOT NULL CHECK (version >= 1),
    active              BOOLEAN NOT NULL,  -- false: removed from the exercise (a version, so it can be reverted)
    position            INTEGER NOT NULL,  -- order within the rule file
    dof                 VARCHAR NOT NULL,
    kind                VARCHAR NOT NULL CHECK (kind IN ('dynamic', 'stability', 'posture', 'symmetry')),
    sidedness           VARCHAR NOT NULL CHECK (sidedness IN ('one_side', 'both_sides')),
    key_frame           VARCHAR,
    bound_low_deg       DOUBLE,
    bound_high_deg      DOUBLE,
    tolerance_low_deg   DOUBLE,
    tolerance_high_deg  DOUBLE,
    max_std_deg         DOUBLE,
    max_diff_deg        DOUBLE,
    requires_motion_deg DOUBLE,
    issue_low           VARCHAR NOT NULL,
    issue_high          VARCHAR NOT NULL,
    cue_low             VARCHAR NOT NULL,
    cue_high            VARCHAR NOT NULL,
    source              VARCHAR NOT NULL,
    author              VARCHAR NOT NULL,
    note                VARCHAR NOT NULL,
    created_at          TIMESTAMPTZ NOT NULL,
    parent_version      INTEGER,
    PRIMARY KEY (exercise, constraint_id, version)
);

-- Salient joints of a clip or of a segment of it, proposed (by a person or a model) and reviewed.
CREATE SEQUENCE label_ids START 1;
CREATE TABLE label_versions (
    label_id        BIGINT NOT NULL,
    version         INTEGER NOT NULL CHECK (version >= 1),
    clip_hash       VARCHAR NOT NULL,
    exercise        VARCHAR,
    segment_start_s DOUBLE,  -- both NULL: the whole clip
    segment_end_s   DOUBLE,
    joints_json     VARCHAR NOT NULL,
    proposer        VARCHAR NOT NULL,
    reviewer        VARCHAR,
    status          VARCHAR NOT NULL CHECK (status IN ('proposed', 'accepted', 'rejected')),
    author          VARCHAR NOT NULL,
    note            VARCHAR NOT NULL,
    created_at      TIMESTAMPTZ NOT NULL,
    parent_version  INTEGER,
    PRIMARY KEY (label_id, version)
);

CREATE TABLE clips (
    content_hash  VARCHAR PRIMARY KEY,  -- sha256 of the file bytes: a renamed or copied clip is the same clip
    path          VARCHAR NOT NULL,
    exercise      VARCHAR,
    duration_s    DOUBLE,
    fps           DOUBLE,
    n_bytes       BIGINT NOT NULL,
    registered_at TIMESTAMPTZ NOT NULL
);

-- Pose extraction is the slow step; its result is cached per clip content, backend and parameters.
CREATE TABLE pose_tracks (
    clip_hash   VARCHAR NOT NULL,
    backend     VARCHAR NOT NULL,
    params_json VARCHAR NOT NULL,  -- canonical JSON (sorted keys), so equal parameters hit the same row
    npz         BLOB NOT NULL,
    n_frames    INTEGER NOT NULL,
    created_at  TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (clip_hash, backend, params_json)
);
