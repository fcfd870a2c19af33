-- Which worker's result was stored (`<node_id>/<start>/w<n>`): which node scanned each file.
ALTER TABLE jobs ADD COLUMN finished_by TEXT;
