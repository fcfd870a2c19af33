-- Palisade metastore, SQLite flavour: files, jobs (the queue), batches, sessions and users.

-- One row per distinct content: lets any of the four digests find the sha256.
CREATE TABLE blobs (
    sha256 TEXT PRIMARY KEY,
    md5 TEXT NOT NULL,
    sha1 TEXT NOT NULL,
    sha512 TEXT NOT NULL,
    size INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX blobs_md5 ON blobs (md5);
CREATE INDEX blobs_sha1 ON blobs (sha1);
CREATE INDEX blobs_sha512 ON blobs (sha512);

-- One row per submitted (or extracted) file; it is also the job queue entry.
CREATE TABLE jobs (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
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
    global_timeout_ms INTEGER,
    receive_ts INTEGER NOT NULL,
    upload_ts INTEGER NOT NULL,
    hash_time INTEGER NOT NULL,
    state TEXT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    lease_owner TEXT,
    lease_expires INTEGER,
    start_ts INTEGER,
    finish_ts INTEGER,
    result_i INTEGER,
    report TEXT
);
CREATE INDEX jobs_queue ON jobs (state, seq);
CREATE INDEX jobs_sha256 ON jobs (sha256, finish_ts);
CREATE INDEX jobs_batch ON jobs (batch_id, seq) WHERE batch_id IS NOT NULL;

CREATE TABLE batches (
    batch_id TEXT PRIMARY KEY,
    rule TEXT NOT NULL,
    user_agent TEXT NOT NULL,
    username TEXT NOT NULL,
    user_data TEXT NOT NULL,
    created_ts INTEGER NOT NULL,
    closed_ts INTEGER,
    cancelled INTEGER NOT NULL DEFAULT 0
) WITHOUT ROWID;

CREATE TABLE sessions (
    session_id TEXT PRIMARY KEY,
    username TEXT NOT NULL,
    role TEXT NOT NULL,
    csrf_token TEXT NOT NULL,
    last_seen INTEGER NOT NULL
) WITHOUT ROWID;

CREATE TABLE users (
    username TEXT PRIMARY KEY,
    password_hash TEXT NOT NULL,
    role TEXT NOT NULL
) WITHOUT ROWID;
