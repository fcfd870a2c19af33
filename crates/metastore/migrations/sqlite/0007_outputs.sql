-- Files an analysis produced (a sanitized or a redacted copy), stored in the blob store under
-- their SHA-256 and downloadable until they expire (outputs.retention_hours). One of each kind
-- per file; written in the transaction that stores the file's report.
CREATE TABLE outputs (
    data_id TEXT NOT NULL,
    kind TEXT NOT NULL,
    sha256 TEXT NOT NULL,
    size BIGINT NOT NULL,
    name TEXT NOT NULL,
    created_ts BIGINT NOT NULL,
    PRIMARY KEY (data_id, kind)
);
CREATE INDEX outputs_created ON outputs (created_ts);
CREATE INDEX outputs_sha256 ON outputs (sha256);
