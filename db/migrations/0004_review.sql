-- 0004 — the expert review loop (workbench/review): LLM proposals, the experts' decisions pulled back from
-- Label Studio as versioned labels, and the push/pull state that makes both idempotent and resumable.
--
-- * review_proposals: one row per proposal, never edited except its status (proposed → reviewed). kind
--   'salient' is one clip segment's salient joints; kind 'roles' is one exercise's static/dynamic table.
--   The raw prompt and reply are kept, and whether the reply could be parsed at all ('unparsable' is
--   recorded as such: the proposal then holds only catalogue joints, each marked with its source).
-- * review_labels: append-only; every change a reviewer makes in Label Studio becomes a new version of
--   (proposal, reviewer), with the Label Studio annotation it came from and when the reviewer saved it.
-- * review_tasks: which Label Studio task holds a proposal on which server (push checks the server too).
-- * review_sync: the pull cursor, one row per pulled annotation: an annotation whose updated_at is unchanged
--   is skipped, so a pull that was interrupted resumes where it stopped and a second pull writes nothing.

CREATE TABLE review_proposals (
    id           VARCHAR PRIMARY KEY,  -- 'sal-…' / 'roles-…': a digest of what was asked of which model
    kind         VARCHAR NOT NULL CHECK (kind IN ('salient', 'roles')),
    exercise     VARCHAR NOT NULL,
    clip_hash    VARCHAR,              -- salient only: sha256 of the clip file
    clip_path    VARCHAR,
    video_path   VARCHAR,              -- the video an expert watches (the clip itself, or its source video)
    start_s      DOUBLE,
    end_s        DOUBLE,
    segment      VARCHAR NOT NULL DEFAULT '',  -- 'rep 2' / 'window 1' / '' (roles)
    content_json VARCHAR NOT NULL,     -- salient: [{joint, source}]; roles: {joint: {role, source}}
    model        VARCHAR NOT NULL,
    prompt_json  VARCHAR NOT NULL,     -- the messages sent (image payloads replaced by their digests)
    reply        VARCHAR NOT NULL,
    parse_status VARCHAR NOT NULL CHECK (parse_status IN ('parsed', 'partial', 'unparsable')),
    status       VARCHAR NOT NULL CHECK (status IN ('proposed', 'reviewed')),
    created_at   TIMESTAMPTZ NOT NULL
);

CREATE TABLE review_labels (
    proposal_id      VARCHAR NOT NULL,
    reviewer         VARCHAR NOT NULL,
    version          INTEGER NOT NULL CHECK (version >= 1),
    status           VARCHAR NOT NULL CHECK (status IN ('accepted', 'rejected', 'corrected')),
    content_json     VARCHAR NOT NULL,  -- salient: [joint, …]; roles: {joint: role}
    comment          VARCHAR NOT NULL DEFAULT '',
    reviewed_at      TIMESTAMPTZ NOT NULL,  -- when the reviewer saved it in Label Studio
    server           VARCHAR NOT NULL,
    ls_task_id       BIGINT NOT NULL,
    ls_annotation_id BIGINT NOT NULL,
    parent_version   INTEGER,
    created_at       TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (proposal_id, reviewer, version)
);

CREATE TABLE review_tasks (
    proposal_id VARCHAR NOT NULL,
    server      VARCHAR NOT NULL,
    project_id  BIGINT NOT NULL,
    task_id     BIGINT NOT NULL,
    pushed_at   TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (proposal_id, server)
);

CREATE TABLE review_sync (
    server           VARCHAR NOT NULL,
    ls_annotation_id BIGINT NOT NULL,
    ls_updated_at    VARCHAR NOT NULL,
    proposal_id      VARCHAR NOT NULL,
    reviewer         VARCHAR NOT NULL,
    label_version    INTEGER NOT NULL,
    pulled_at        TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (server, ls_annotation_id)
);
