-- Archive members as jobs of their own: each knows its parent, its top-level submission (root)
-- and its depth; a parent waits (state 'waiting') until its children are final, with its own
-- engine results kept in `partial`. The root row keeps the submission's extraction account.
ALTER TABLE jobs ADD COLUMN root_id TEXT;
ALTER TABLE jobs ADD COLUMN depth INTEGER NOT NULL DEFAULT 0;
ALTER TABLE jobs ADD COLUMN archive_index INTEGER;
ALTER TABLE jobs ADD COLUMN pending_children INTEGER NOT NULL DEFAULT 0;
ALTER TABLE jobs ADD COLUMN partial TEXT;
ALTER TABLE jobs ADD COLUMN extracted_bytes INTEGER NOT NULL DEFAULT 0;
ALTER TABLE jobs ADD COLUMN extracted_members INTEGER NOT NULL DEFAULT 0;
CREATE INDEX jobs_children ON jobs (parent_id, archive_index) WHERE parent_id IS NOT NULL;
CREATE INDEX jobs_root ON jobs (root_id) WHERE root_id IS NOT NULL;
