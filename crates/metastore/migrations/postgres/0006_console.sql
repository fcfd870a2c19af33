-- The console's submission list: whether a final file was blocked, and one index per filter,
-- each ending in seq so that a page is read newest first from the index (submitted files only).
ALTER TABLE jobs ADD COLUMN blocked BOOLEAN;
UPDATE jobs SET blocked = ((report::jsonb #>> '{process_info,result}') = 'Blocked')
    WHERE report IS NOT NULL;
CREATE INDEX jobs_listed ON jobs (seq) WHERE parent_id IS NULL;
CREATE INDEX jobs_listed_blocked ON jobs (blocked, seq) WHERE parent_id IS NULL;
CREATE INDEX jobs_listed_result ON jobs (result_i, seq) WHERE parent_id IS NULL;
CREATE INDEX jobs_listed_rule ON jobs (rule, seq) WHERE parent_id IS NULL;
CREATE INDEX jobs_listed_type ON jobs (file_type, seq) WHERE parent_id IS NULL;
CREATE INDEX jobs_listed_user ON jobs (username, seq) WHERE parent_id IS NULL;
CREATE INDEX jobs_listed_upload ON jobs (upload_ts) WHERE parent_id IS NULL;
CREATE INDEX batches_created ON batches (created_ts);
