-- +goose Up
-- The exposures counted by asset, triage state (1 for accepted, not
-- affected and false positive) and week of first sighting (weeks since
-- the Monday 1970-01-05, in microseconds as first_seen), kept by
-- triggers as exposures are written, so that the KPIs of a million
-- exposures read a few rows per asset and week (store.KPIFacts'
-- KPIGroups) instead of the exposures table. A count that falls to 0
-- stays as a row of n = 0. Inserts and deletes are counted once per
-- statement from its transition table; an update only when it moves an
-- exposure to another group (the WHEN clause), row by row.
CREATE TABLE kpi_weeks (
  asset TEXT COLLATE "C" NOT NULL,
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
CREATE FUNCTION kpi_weeks_count() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'INSERT' THEN
    INSERT INTO kpi_weeks (asset, tri, week, n)
    SELECT COALESCE(asset, ''), CASE WHEN status IN ('accepted', 'not_affected', 'false_positive') THEN 1 ELSE 0 END,
      (COALESCE(first_seen, 0) - 345600000000) / 604800000000, COUNT(*)
    FROM kpi_new GROUP BY 1, 2, 3
    ON CONFLICT (asset, tri, week) DO UPDATE SET n = kpi_weeks.n + EXCLUDED.n;
  ELSE
    UPDATE kpi_weeks k SET n = k.n - d.n FROM (
      SELECT COALESCE(asset, '') AS asset, CASE WHEN status IN ('accepted', 'not_affected', 'false_positive') THEN 1 ELSE 0 END AS tri,
        (COALESCE(first_seen, 0) - 345600000000) / 604800000000 AS week, COUNT(*) AS n
      FROM kpi_old GROUP BY 1, 2, 3) d
    WHERE k.asset = d.asset AND k.tri = d.tri AND k.week = d.week;
  END IF;
  RETURN NULL;
END $$;
-- +goose StatementEnd

-- +goose StatementBegin
CREATE FUNCTION kpi_weeks_move() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  UPDATE kpi_weeks SET n = n - 1 WHERE asset = COALESCE(OLD.asset, '')
    AND tri = CASE WHEN OLD.status IN ('accepted', 'not_affected', 'false_positive') THEN 1 ELSE 0 END
    AND week = (COALESCE(OLD.first_seen, 0) - 345600000000) / 604800000000;
  INSERT INTO kpi_weeks (asset, tri, week, n) VALUES (COALESCE(NEW.asset, ''),
    CASE WHEN NEW.status IN ('accepted', 'not_affected', 'false_positive') THEN 1 ELSE 0 END,
    (COALESCE(NEW.first_seen, 0) - 345600000000) / 604800000000, 1)
  ON CONFLICT (asset, tri, week) DO UPDATE SET n = kpi_weeks.n + 1;
  RETURN NULL;
END $$;
-- +goose StatementEnd

CREATE TRIGGER kpi_weeks_insert AFTER INSERT ON exposures REFERENCING NEW TABLE AS kpi_new
  FOR EACH STATEMENT EXECUTE FUNCTION kpi_weeks_count();
CREATE TRIGGER kpi_weeks_delete AFTER DELETE ON exposures REFERENCING OLD TABLE AS kpi_old
  FOR EACH STATEMENT EXECUTE FUNCTION kpi_weeks_count();
CREATE TRIGGER kpi_weeks_update AFTER UPDATE OF asset, status, first_seen ON exposures FOR EACH ROW
  WHEN (COALESCE(OLD.asset, '') <> COALESCE(NEW.asset, '')
    OR (CASE WHEN OLD.status IN ('accepted', 'not_affected', 'false_positive') THEN 1 ELSE 0 END)
      <> (CASE WHEN NEW.status IN ('accepted', 'not_affected', 'false_positive') THEN 1 ELSE 0 END)
    OR (COALESCE(OLD.first_seen, 0) - 345600000000) / 604800000000 <> (COALESCE(NEW.first_seen, 0) - 345600000000) / 604800000000)
  EXECUTE FUNCTION kpi_weeks_move();

-- The events that fix a finding or reopen a fixed one, with the
-- finding's exposure, kept by triggers as events are written and
-- removed (with their scan, or with the finding), so that KPIChanges
-- reads them without a lookup of each finding.
CREATE TABLE kpi_fixes (
  exposure_id TEXT COLLATE "C" NOT NULL,
  finding_id  TEXT COLLATE "C" NOT NULL,
  from_status TEXT COLLATE "C" NOT NULL,
  to_status   TEXT COLLATE "C" NOT NULL,
  at          BIGINT NOT NULL,
  scan_id     TEXT COLLATE "C" NOT NULL
);
CREATE INDEX kpi_fixes_finding ON kpi_fixes (finding_id);
INSERT INTO kpi_fixes (exposure_id, finding_id, from_status, to_status, at, scan_id)
SELECT f.exposure_id, e.finding_id, e.from_status, e.to_status, e.at, e.scan_id
FROM finding_events e JOIN findings f ON f.id = e.finding_id
WHERE (e.to_status = 'fixed' OR e.from_status = 'fixed') AND f.exposure_id IS NOT NULL;

-- +goose StatementBegin
CREATE FUNCTION kpi_fixes_count() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'INSERT' THEN
    INSERT INTO kpi_fixes (exposure_id, finding_id, from_status, to_status, at, scan_id)
    SELECT f.exposure_id, e.finding_id, e.from_status, e.to_status, e.at, e.scan_id
    FROM kpi_new_events e JOIN findings f ON f.id = e.finding_id
    WHERE (e.to_status = 'fixed' OR e.from_status = 'fixed') AND f.exposure_id IS NOT NULL;
  ELSIF TG_TABLE_NAME = 'finding_events' THEN
    DELETE FROM kpi_fixes k USING kpi_old_events e
    WHERE k.finding_id = e.finding_id AND k.scan_id = e.scan_id AND k.at = e.at
      AND k.from_status = e.from_status AND k.to_status = e.to_status;
  ELSE
    DELETE FROM kpi_fixes k USING kpi_old_findings f WHERE k.finding_id = f.id;
  END IF;
  RETURN NULL;
END $$;
-- +goose StatementEnd

CREATE TRIGGER kpi_fixes_insert AFTER INSERT ON finding_events REFERENCING NEW TABLE AS kpi_new_events
  FOR EACH STATEMENT EXECUTE FUNCTION kpi_fixes_count();
CREATE TRIGGER kpi_fixes_delete AFTER DELETE ON finding_events REFERENCING OLD TABLE AS kpi_old_events
  FOR EACH STATEMENT EXECUTE FUNCTION kpi_fixes_count();
CREATE TRIGGER kpi_fixes_finding AFTER DELETE ON findings REFERENCING OLD TABLE AS kpi_old_findings
  FOR EACH STATEMENT EXECUTE FUNCTION kpi_fixes_count();

-- +goose Down
DROP TRIGGER kpi_fixes_finding ON findings;
DROP TRIGGER kpi_fixes_delete ON finding_events;
DROP TRIGGER kpi_fixes_insert ON finding_events;
DROP FUNCTION kpi_fixes_count();
DROP TABLE kpi_fixes;
DROP TRIGGER kpi_weeks_update ON exposures;
DROP TRIGGER kpi_weeks_delete ON exposures;
DROP TRIGGER kpi_weeks_insert ON exposures;
DROP FUNCTION kpi_weeks_move();
DROP FUNCTION kpi_weeks_count();
DROP TABLE kpi_weeks;
