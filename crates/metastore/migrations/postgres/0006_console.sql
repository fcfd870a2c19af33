-- The console's submission list: whether a final file was blocked, and one index per filter,
-- each ending in (upload_ts, seq), the list's order and page key, so that a page (a time range
-- included) is read newest first from one index. Submitted files only. The main index also
-- holds the name, which a search by name reads from the index instead of the rows. The result
-- and verdict indexes hold final files only, so that storing a new file does not write them.
ALTER TABLE jobs ADD COLUMN blocked BOOLEAN;
UPDATE jobs SET blocked = ((report::jsonb #>> '{process_info,result}') = 'Blocked')
    WHERE report IS NOT NULL;
CREATE INDEX jobs_listed ON jobs (upload_ts, seq, display_name) WHERE parent_id IS NULL;
CREATE INDEX jobs_listed_blocked ON jobs (blocked, upload_ts, seq)
    WHERE parent_id IS NULL AND blocked IS NOT NULL;
CREATE INDEX jobs_listed_result ON jobs (result_i, upload_ts, seq)
    WHERE parent_id IS NULL AND result_i IS NOT NULL;
CREATE INDEX jobs_listed_rule ON jobs (rule, upload_ts, seq) WHERE parent_id IS NULL;
CREATE INDEX jobs_listed_type ON jobs (file_type, upload_ts, seq) WHERE parent_id IS NULL;
CREATE INDEX jobs_listed_user ON jobs (username, upload_ts, seq) WHERE parent_id IS NULL;
CREATE INDEX batches_created ON batches (created_ts);
