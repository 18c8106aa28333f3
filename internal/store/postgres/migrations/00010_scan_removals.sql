-- +goose Up
-- Scans removed with 'ctem scans rm' (sqlstore's remove.go): what was
-- removed, when, by whom and why. seq takes the next ingest sequence, so
-- that an analysis sees a removal as newer data, as it sees an ingest.
CREATE TABLE scan_removals (
  seq                BIGINT PRIMARY KEY,
  scan_id            TEXT COLLATE "C" NOT NULL,
  tool               TEXT COLLATE "C" NOT NULL,
  target             TEXT COLLATE "C" NOT NULL,
  input              TEXT COLLATE "C" NOT NULL DEFAULT '',
  findings_removed   INTEGER NOT NULL DEFAULT 0,
  findings_restored  INTEGER NOT NULL DEFAULT 0,
  exposures_removed  INTEGER NOT NULL DEFAULT 0,
  actor              TEXT COLLATE "C" NOT NULL DEFAULT '',
  reason             TEXT COLLATE "C" NOT NULL DEFAULT '',
  at                 BIGINT NOT NULL
);

-- +goose Down
DROP TABLE scan_removals;
