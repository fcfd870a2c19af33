-- The node registry: every gateway and scanning node heartbeats its row; `/stat/nodes` lists them.
CREATE TABLE nodes (
    node_id TEXT PRIMARY KEY,
    role TEXT NOT NULL,
    hostname TEXT NOT NULL,
    version TEXT NOT NULL,
    started_ts INTEGER NOT NULL,
    last_seen INTEGER NOT NULL,
    workers INTEGER NOT NULL,
    running INTEGER NOT NULL,
    engines TEXT NOT NULL
) WITHOUT ROWID;
