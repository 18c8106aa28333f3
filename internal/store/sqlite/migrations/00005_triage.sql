-- +goose Up
-- The version of ctem's parser that read each scan's input.
ALTER TABLE scans ADD COLUMN parser_version TEXT NOT NULL DEFAULT '';

-- A finding's canonical vulnerability id (the first of vuln_ids), which
-- its exposure takes: written by the ingest, so that the SQL shared with
-- PostgreSQL needs no instr() to cut it out of the list.
ALTER TABLE findings ADD COLUMN vuln_id TEXT NOT NULL DEFAULT '';
UPDATE findings SET vuln_id = substr(vuln_ids, 2, instr(substr(vuln_ids, 2), ',') - 1) WHERE vuln_ids <> '';

-- The vulnerability ids of each finding, one row each, for the filters
-- (an exact match instead of LIKE on the ",a,b," list, whose case folding
-- differs between SQLite and PostgreSQL and which reads every finding).
-- Written by the ingest for the findings it writes. No NOT NULL, as for
-- findings (00001): a constraint that may abort a multi-row insert makes
-- SQLite keep a statement journal of every page it touches, which
-- doubled the time of a large ingest.
-- WITHOUT ROWID (SQLite's): the rows are the primary key's b-tree, not a
-- second one beside it.
CREATE TABLE finding_vulns (
  finding_id TEXT,
  vuln_id    TEXT,
  PRIMARY KEY (finding_id, vuln_id)
) WITHOUT ROWID;
CREATE INDEX finding_vulns_vuln ON finding_vulns (vuln_id);
WITH RECURSIVE split(fid, rest, v) AS (
  SELECT id, substr(vuln_ids, 2), '' FROM findings WHERE vuln_ids <> ''
  UNION ALL
  SELECT fid, substr(rest, instr(rest, ',') + 1), substr(rest, 1, instr(rest, ',') - 1) FROM split WHERE rest <> ''
)
INSERT INTO finding_vulns (finding_id, vuln_id) SELECT DISTINCT fid, v FROM split WHERE v <> '';

-- The default order of the findings and exposures listings (store's
-- SortSeverity), so that a page of it is an index range, not a sort of
-- the whole table.
CREATE INDEX findings_severity ON findings (sev DESC, asset, rule_id, id);
CREATE INDEX exposures_severity ON exposures (sev DESC, asset, vuln_id, rule_id, id);

-- A person's standing decision about an exposure (sqlstore's triage.go):
-- the status decided, and the status last recorded for the exposure in
-- status_events (effective), which an ingest compares with what it
-- computed from the findings.
CREATE TABLE triage (
  exposure_id   TEXT PRIMARY KEY,
  status        TEXT NOT NULL,
  reason        TEXT NOT NULL,
  actor         TEXT NOT NULL,
  approver      TEXT NOT NULL DEFAULT '',
  justification TEXT NOT NULL DEFAULT '',
  expires_at    BIGINT NOT NULL DEFAULT 0,
  at            BIGINT NOT NULL,
  effective     TEXT NOT NULL
);

-- Every change of a triaged exposure's status, with who and why.
CREATE TABLE status_events (
  seq           INTEGER PRIMARY KEY,
  exposure_id   TEXT NOT NULL,
  from_status   TEXT NOT NULL,
  to_status     TEXT NOT NULL,
  actor         TEXT NOT NULL,
  reason        TEXT NOT NULL,
  approver      TEXT NOT NULL DEFAULT '',
  justification TEXT NOT NULL DEFAULT '',
  expires_at    BIGINT NOT NULL DEFAULT 0,
  scan_id       TEXT NOT NULL DEFAULT '',
  at            BIGINT NOT NULL
);
CREATE INDEX status_events_exposure ON status_events (exposure_id, seq);

-- +goose Down
DROP TABLE status_events;
DROP TABLE triage;
DROP TABLE finding_vulns;
DROP INDEX exposures_severity;
DROP INDEX findings_severity;
ALTER TABLE findings DROP COLUMN vuln_id;
ALTER TABLE scans DROP COLUMN parser_version;
