-- +goose Up
-- The key figures each analysis recorded, in the transaction that
-- recorded it, so that their trend is read from real history rather than
-- recomputed: one row per (analysis, dimension, key, metric). dim is ''
-- for the whole estate, 'jewel' (key: the crown jewel's asset key),
-- 'evidence' (key: an evidence kind that validated a step of a validated
-- path) or 'severity' (key: the severity of open exposures).
CREATE TABLE kpi_snapshots (
  analysis_id BIGINT NOT NULL,
  at          BIGINT NOT NULL,
  dim         TEXT COLLATE "C" NOT NULL,
  key         TEXT COLLATE "C" NOT NULL,
  metric      TEXT COLLATE "C" NOT NULL,
  value       DOUBLE PRECISION NOT NULL,
  PRIMARY KEY (analysis_id, dim, key, metric)
);
CREATE INDEX kpi_snapshots_at ON kpi_snapshots (at);

-- The highest priority (risk removed by fixing it) any analysis gave
-- each exposure: an exposure leaves the stored priorities once it is
-- fixed, and its time to remediate is counted in the band of the
-- priority it had.
CREATE TABLE priority_peaks (
  exposure_id  TEXT COLLATE "C" PRIMARY KEY,
  risk_removed DOUBLE PRECISION NOT NULL,
  analysis_id  BIGINT NOT NULL
);

-- The kinds of evidence that validated a validated path's steps,
-- sorted and comma-separated, written with the path, so that the
-- snapshot counts them without reading every open path's steps.
ALTER TABLE paths ADD COLUMN validated_by TEXT COLLATE "C" NOT NULL DEFAULT '';

-- +goose Down
ALTER TABLE paths DROP COLUMN validated_by;
DROP TABLE priority_peaks;
DROP INDEX kpi_snapshots_at;
DROP TABLE kpi_snapshots;
