-- Palisade metastore, PostgreSQL flavour (cluster mode): the same tables as the SQLite schema
-- after its migration 0003. Times are Unix milliseconds (BIGINT).

-- One row per distinct content: lets any of the four digests find the sha256.
CREATE TABLE blobs (
    sha256 TEXT PRIMARY KEY,
    md5 TEXT NOT NULL,
    sha1 TEXT NOT NULL,
    sha512 TEXT NOT NULL,
    size BIGINT NOT NULL
);
CREATE INDEX blobs_md5 ON blobs (md5);
CREATE INDEX blobs_sha1 ON blobs (sha1);
CREATE INDEX blobs_sha512 ON blobs (sha512);

-- One row per submitted (or extracted) file; it is also the job queue entry. Archive members
-- know their parent, their top-level submission (root) and their depth; a parent waits (state
-- 'waiting') until its members are final, with its own engine results kept in `partial`. The
-- root row keeps the submission's extraction account.
CREATE TABLE jobs (
    seq BIGSERIAL PRIMARY KEY,
    data_id TEXT NOT NULL UNIQUE,
    sha256 TEXT NOT NULL,
    display_name TEXT NOT NULL,
    file_type TEXT NOT NULL,
    file_type_description TEXT NOT NULL,
    type_category TEXT NOT NULL,
    rule TEXT NOT NULL,
    user_agent TEXT NOT NULL,
    username TEXT NOT NULL,
    metadata TEXT NOT NULL,
    batch_id TEXT,
    parent_id TEXT,
    archive_passwords TEXT NOT NULL,
    callback_url TEXT NOT NULL,
    global_timeout_ms BIGINT,
    receive_ts BIGINT NOT NULL,
    upload_ts BIGINT NOT NULL,
    hash_time BIGINT NOT NULL,
    state TEXT NOT NULL,
    attempts BIGINT NOT NULL DEFAULT 0,
    lease_owner TEXT,
    lease_expires BIGINT,
    start_ts BIGINT,
    finish_ts BIGINT,
    result_i INTEGER,
    report TEXT,
    root_id TEXT,
    depth BIGINT NOT NULL DEFAULT 0,
    archive_index BIGINT,
    pending_children BIGINT NOT NULL DEFAULT 0,
    partial TEXT,
    extracted_bytes BIGINT NOT NULL DEFAULT 0,
    extracted_members BIGINT NOT NULL DEFAULT 0
);
CREATE INDEX jobs_queue ON jobs (state, seq);
CREATE INDEX jobs_sha256 ON jobs (sha256, finish_ts);
CREATE INDEX jobs_batch ON jobs (batch_id, seq) WHERE batch_id IS NOT NULL;
CREATE INDEX jobs_children ON jobs (parent_id, archive_index) WHERE parent_id IS NOT NULL;
CREATE INDEX jobs_root ON jobs (root_id) WHERE root_id IS NOT NULL;

CREATE TABLE batches (
    batch_id TEXT PRIMARY KEY,
    rule TEXT NOT NULL,
    user_agent TEXT NOT NULL,
    username TEXT NOT NULL,
    user_data TEXT NOT NULL,
    created_ts BIGINT NOT NULL,
    closed_ts BIGINT,
    cancelled BOOLEAN NOT NULL DEFAULT FALSE
);

CREATE TABLE sessions (
    session_id TEXT PRIMARY KEY,
    username TEXT NOT NULL,
    role TEXT NOT NULL,
    csrf_token TEXT NOT NULL,
    last_seen BIGINT NOT NULL
);

CREATE TABLE users (
    username TEXT PRIMARY KEY,
    password_hash TEXT NOT NULL,
    role TEXT NOT NULL
);

-- The node registry: every gateway and scanning node heartbeats its row; `/stat/nodes` lists them.
CREATE TABLE nodes (
    node_id TEXT PRIMARY KEY,
    role TEXT NOT NULL,
    hostname TEXT NOT NULL,
    version TEXT NOT NULL,
    started_ts BIGINT NOT NULL,
    last_seen BIGINT NOT NULL,
    workers BIGINT NOT NULL,
    running BIGINT NOT NULL,
    engines TEXT NOT NULL
);
