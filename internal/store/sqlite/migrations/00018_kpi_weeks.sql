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

-- +goose Down
DROP TRIGGER kpi_weeks_update;
DROP TRIGGER kpi_weeks_delete;
DROP TRIGGER kpi_weeks_insert;
DROP TABLE kpi_weeks;
