-- +goose Up
-- Finding ids now begin with the first eight hex digits of their
-- exposure's id (model.Finding.Normalize): an exposure's findings are one
-- range of the primary key, and the random-keyed index on exposure_id,
-- a quarter of the time of a large ingest, goes. An older id was the
-- first sixteen digits of the same hash whose first eight the new id
-- keeps, so the new id of every stored finding is computed exactly here
-- and its history is kept.
UPDATE finding_events SET finding_id = (
  SELECT substr(f.exposure_id, 1, 8) || substr(f.id, 1, 8) FROM findings f WHERE f.id = finding_events.finding_id)
WHERE finding_id IN (SELECT id FROM findings);
UPDATE evidence SET finding_id = (
  SELECT substr(f.exposure_id, 1, 8) || substr(f.id, 1, 8) FROM findings f WHERE f.id = evidence.finding_id)
WHERE finding_id IN (SELECT id FROM findings);
UPDATE findings SET id = substr(exposure_id, 1, 8) || substr(id, 1, 8);
-- PostgreSQL keeps findings_exposure, which SQLite drops here: its
-- planner does not turn the key range of sqlstore's ofExposure into an
-- index range inside a join (the exposures of a listing page joined to
-- their findings), and reads every finding instead (1.1 s a page at 1M
-- findings, 0.2 ms with the index).
-- The lifecycle finds a (tool, target)'s findings through the scans of
-- that (tool, target) (a finding's scan_id is the last scan that
-- reported it): an index on the scan alone is half as wide.
DROP INDEX findings_target_scan;
CREATE INDEX findings_scan ON findings (scan_id, status, first_seen);

-- +goose Down
-- The older finding ids cannot be recomputed (their last eight digits
-- are gone); the indexes come back.
DROP INDEX findings_scan;
CREATE INDEX findings_target_scan ON findings (tool, target, scan_id, status, first_seen);
