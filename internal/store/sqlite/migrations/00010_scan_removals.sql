-- +goose Up
-- Scans removed with 'ctem scans rm' (sqlstore's remove.go): what was
-- removed, when, by whom and why. seq takes the next ingest sequence, so
-- that an analysis sees a removal as newer data, as it sees an ingest.
CREATE TABLE scan_removals (
  seq                BIGINT PRIMARY KEY,
  scan_id            TEXT NOT NULL,
  tool               TEXT NOT NULL,
  target             TEXT NOT NULL,
  input              TEXT NOT NULL DEFAULT '',
  findings_removed   INTEGER NOT NULL DEFAULT 0,
  findings_restored  INTEGER NOT NULL DEFAULT 0,
  exposures_removed  INTEGER NOT NULL DEFAULT 0,
  actor              TEXT NOT NULL DEFAULT '',
  reason             TEXT NOT NULL DEFAULT '',
  at                 BIGINT NOT NULL
);

-- +goose Down
DROP TABLE scan_removals;
