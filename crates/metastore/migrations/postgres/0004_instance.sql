-- The database's identity: created once with the database, recorded in every data directory that
-- uses it, so a missing, emptied or replaced database is never mistaken for a new one.
-- probed_ts is rewritten by readiness probes (a cheap write).
CREATE TABLE instance (
    singleton INTEGER PRIMARY KEY CHECK (singleton = 1),
    id TEXT NOT NULL,
    created_ts BIGINT NOT NULL,
    probed_ts BIGINT NOT NULL
);
