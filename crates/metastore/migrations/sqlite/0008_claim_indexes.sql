-- Claims take queued archive members in submission order, up to what the member cap leaves.
-- With only the state index, a claim read every queued row to find members (there are none
-- while no archive is being extracted) and sorted the whole queue: a long queue made every claim
-- slower. Members have their own index now (a partial one: plain files never enter it), and
-- queued files are read in the state index's order up to the claim's limit.
CREATE INDEX jobs_queued_members ON jobs (seq) WHERE state = 'queued' AND parent_id IS NOT NULL;
