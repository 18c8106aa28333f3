-- +goose Up
-- The exposures counted by asset, triage state (1 for accepted, not
-- affected and false positive) and week of first sighting (weeks since
-- the Monday 1970-01-05, in microseconds as first_seen), kept by
-- triggers as exposures are written, so that the KPIs of a million
-- exposures read a few rows per asset and week (store.KPIFacts'
-- KPIGroups) instead of the exposures table. A count that falls to 0
-- stays as a row of n = 0.
CREATE TABLE kpi_weeks (
  asset TEXT NOT NULL,
  tri   INTEGER NOT NULL,
  week  BIGINT NOT NULL,
  n     BIGINT NOT NULL,
  PRIMARY KEY (asset, tri, week)
);
INSERT INTO kpi_weeks (asset, tri, week, n)
SELECT asset, tri, week, COUNT(*) FROM (
  SELECT COALESCE(asset, '') AS asset,
    CASE WHEN status IN ('accepted', 'not_affected', 'false_positive') THEN 1 ELSE 0 END AS tri,
    (COALESCE(first_seen, 0) - 345600000000) / 604800000000 AS week
  FROM exposures) g
GROUP BY asset, tri, week;

-- +goose StatementBegin
CREATE TRIGGER kpi_weeks_insert AFTER INSERT ON exposures BEGIN
  INSERT INTO kpi_weeks (asset, tri, week, n) VALUES (COALESCE(NEW.asset, ''),
    CASE WHEN NEW.status IN ('accepted', 'not_affected', 'false_positive') THEN 1 ELSE 0 END,
    (COALESCE(NEW.first_seen, 0) - 345600000000) / 604800000000, 1)
  ON CONFLICT (asset, tri, week) DO UPDATE SET n = kpi_weeks.n + 1;
END;
-- +goose StatementEnd

-- +goose StatementBegin
CREATE TRIGGER kpi_weeks_delete AFTER DELETE ON exposures BEGIN
  UPDATE kpi_weeks SET n = n - 1 WHERE asset = COALESCE(OLD.asset, '')
    AND tri = CASE WHEN OLD.status IN ('accepted', 'not_affected', 'false_positive') THEN 1 ELSE 0 END
    AND week = (COALESCE(OLD.first_seen, 0) - 345600000000) / 604800000000;
END;
-- +goose StatementEnd

-- +goose StatementBegin
CREATE TRIGGER kpi_weeks_update AFTER UPDATE OF asset, status, first_seen ON exposures
WHEN COALESCE(OLD.asset, '') <> COALESCE(NEW.asset, '')
  OR (CASE WHEN OLD.status IN ('accepted', 'not_affected', 'false_positive') THEN 1 ELSE 0 END)
    <> (CASE WHEN NEW.status IN ('accepted', 'not_affected', 'false_positive') THEN 1 ELSE 0 END)
  OR (COALESCE(OLD.first_seen, 0) - 345600000000) / 604800000000 <> (COALESCE(NEW.first_seen, 0) - 345600000000) / 604800000000
BEGIN
  UPDATE kpi_weeks SET n = n - 1 WHERE asset = COALESCE(OLD.asset, '')
    AND tri = CASE WHEN OLD.status IN ('accepted', 'not_affected', 'false_positive') THEN 1 ELSE 0 END
    AND week = (COALESCE(OLD.first_seen, 0) - 345600000000) / 604800000000;
  INSERT INTO kpi_weeks (asset, tri, week, n) VALUES (COALESCE(NEW.asset, ''),
    CASE WHEN NEW.status IN ('accepted', 'not_affected', 'false_positive') THEN 1 ELSE 0 END,
    (COALESCE(NEW.first_seen, 0) - 345600000000) / 604800000000, 1)
  ON CONFLICT (asset, tri, week) DO UPDATE SET n = kpi_weeks.n + 1;
END;
-- +goose StatementEnd

-- The events that fix a finding or reopen a fixed one, with the
-- finding's exposure, kept by triggers as events are written and
-- removed (with their scan, or with the finding), so that KPIChanges
-- reads them without a lookup of each finding.
CREATE TABLE kpi_fixes (
  exposure_id TEXT NOT NULL,
  finding_id  TEXT NOT NULL,
  from_status TEXT NOT NULL,
  to_status   TEXT NOT NULL,
  at          BIGINT NOT NULL,
  scan_id     TEXT NOT NULL
);
CREATE INDEX kpi_fixes_finding ON kpi_fixes (finding_id);
INSERT INTO kpi_fixes (exposure_id, finding_id, from_status, to_status, at, scan_id)
SELECT f.exposure_id, e.finding_id, e.from_status, e.to_status, e.at, e.scan_id
FROM finding_events e JOIN findings f ON f.id = e.finding_id
WHERE (e.to_status = 'fixed' OR e.from_status = 'fixed') AND f.exposure_id IS NOT NULL;

-- +goose StatementBegin
CREATE TRIGGER kpi_fixes_insert AFTER INSERT ON finding_events WHEN NEW.to_status = 'fixed' OR NEW.from_status = 'fixed' BEGIN
  INSERT INTO kpi_fixes (exposure_id, finding_id, from_status, to_status, at, scan_id)
  SELECT exposure_id, NEW.finding_id, NEW.from_status, NEW.to_status, NEW.at, NEW.scan_id FROM findings WHERE id = NEW.finding_id AND exposure_id IS NOT NULL;
END;
-- +goose StatementEnd

-- +goose StatementBegin
CREATE TRIGGER kpi_fixes_delete AFTER DELETE ON finding_events WHEN OLD.to_status = 'fixed' OR OLD.from_status = 'fixed' BEGIN
  DELETE FROM kpi_fixes WHERE finding_id = OLD.finding_id AND scan_id = OLD.scan_id AND at = OLD.at
    AND from_status = OLD.from_status AND to_status = OLD.to_status;
END;
-- +goose StatementEnd

-- +goose StatementBegin
CREATE TRIGGER kpi_fixes_finding AFTER DELETE ON findings BEGIN
  DELETE FROM kpi_fixes WHERE finding_id = OLD.id;
END;
-- +goose StatementEnd

-- +goose Down
DROP TRIGGER kpi_fixes_finding;
DROP TRIGGER kpi_fixes_delete;
DROP TRIGGER kpi_fixes_insert;
DROP TABLE kpi_fixes;
DROP TRIGGER kpi_weeks_update;
DROP TRIGGER kpi_weeks_delete;
DROP TRIGGER kpi_weeks_insert;
DROP TABLE kpi_weeks;
