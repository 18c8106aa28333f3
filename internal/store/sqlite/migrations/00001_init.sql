-- +goose Up
CREATE TABLE meta (
  key   TEXT PRIMARY KEY,
  value TEXT NOT NULL
);

CREATE TABLE assets (
  key         TEXT PRIMARY KEY,
  kind        TEXT NOT NULL,
  name        TEXT NOT NULL,
  labels      TEXT NOT NULL DEFAULT '{}',
  environment TEXT NOT NULL DEFAULT '',
  owner       TEXT NOT NULL DEFAULT '',
  criticality TEXT NOT NULL DEFAULT '',
  source      TEXT NOT NULL DEFAULT '',
  first_seen  BIGINT NOT NULL,
  last_seen   BIGINT NOT NULL
);

CREATE TABLE relations (
  from_key   TEXT NOT NULL,
  to_key     TEXT NOT NULL,
  type       TEXT NOT NULL,
  action     TEXT NOT NULL DEFAULT '',
  source     TEXT NOT NULL DEFAULT '',
  first_seen BIGINT NOT NULL,
  last_seen  BIGINT NOT NULL,
  PRIMARY KEY (from_key, to_key, type, action, source)
);
CREATE INDEX relations_to ON relations (to_key);

CREATE TABLE scans (
  id           TEXT PRIMARY KEY,
  seq          BIGINT NOT NULL,
  tool         TEXT NOT NULL,
  tool_version TEXT NOT NULL DEFAULT '',
  format       TEXT NOT NULL,
  target       TEXT NOT NULL,
  asset        TEXT NOT NULL DEFAULT '',
  input        TEXT NOT NULL DEFAULT '',
  digest       TEXT NOT NULL DEFAULT '',
  started_at   BIGINT NOT NULL,
  findings     INTEGER NOT NULL DEFAULT 0,
  new          INTEGER NOT NULL DEFAULT 0,
  fixed        INTEGER NOT NULL DEFAULT 0,
  reopened     INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX scans_tool_target ON scans (tool, target, seq);

-- findings and exposures declare no NOT NULL: the ingest binds every
-- value, and a constraint that may abort a multi-row upsert makes SQLite
-- copy every page the statement touches into a statement journal (5% of
-- a large ingest).
CREATE TABLE findings (
  id               TEXT PRIMARY KEY,
  tool             TEXT,
  target           TEXT,
  kind             TEXT,
  rule_id          TEXT,
  vuln_ids         TEXT,
  cwes             TEXT,
  sev              INTEGER,
  title            TEXT,
  asset            TEXT,
  pkg_name         TEXT,
  pkg_version      TEXT,
  pkg_fixed        TEXT,
  pkg_purl         TEXT,
  path             TEXT,
  line             INTEGER,
  url              TEXT,
  component        TEXT,
  status           TEXT,
  reported_status  TEXT,
  fingerprint      TEXT,
  secret_hash      TEXT,
  exposure_id      TEXT,
  -- Fields no query filters on, packed into one value (see packExtra):
  -- one column instead of nine is fewer bindings and fewer VDBE steps
  -- per row written.
  extra            TEXT,
  scan_id          TEXT,
  first_seen       BIGINT,
  last_seen        BIGINT,
  fixed_at         BIGINT DEFAULT 0
);
-- One index serves the lifecycle: what a scan saw (tool, target, scan_id)
-- and what the rest of its target holds (tool, target). It covers the
-- lifecycle's queries (status, first_seen), so that ending a scan of a
-- million findings reads no table row but those it fixes or reopens.
CREATE INDEX findings_target_scan ON findings (tool, target, scan_id, status, first_seen);
CREATE INDEX findings_exposure ON findings (exposure_id);

CREATE TABLE exposures (
  id          TEXT PRIMARY KEY,
  kind        TEXT,
  rule_id     TEXT,
  vuln_id     TEXT,
  vuln_ids    TEXT,
  cwes        TEXT,
  sev         INTEGER,
  title       TEXT,
  asset       TEXT,
  pkg_name    TEXT,
  pkg_version TEXT,
  pkg_fixed   TEXT,
  pkg_purl    TEXT,
  path        TEXT,
  line        INTEGER,
  url         TEXT,
  component   TEXT,
  status      TEXT,
  first_seen  BIGINT,
  last_seen   BIGINT,
  fixed_at    BIGINT DEFAULT 0
);
CREATE INDEX exposures_asset ON exposures (asset);
CREATE INDEX exposures_vuln ON exposures (vuln_id);

CREATE TABLE finding_events (
  finding_id  TEXT NOT NULL,
  from_status TEXT NOT NULL,
  to_status   TEXT NOT NULL,
  at          BIGINT NOT NULL,
  scan_id     TEXT NOT NULL
);
CREATE INDEX finding_events_finding ON finding_events (finding_id);
CREATE INDEX finding_events_scan ON finding_events (scan_id);

CREATE TABLE evidence (
  kind       TEXT NOT NULL,
  asset      TEXT NOT NULL DEFAULT '',
  vuln_id    TEXT NOT NULL DEFAULT '',
  finding_id TEXT NOT NULL DEFAULT '',
  source     TEXT NOT NULL,
  detail     TEXT NOT NULL DEFAULT '',
  at         BIGINT NOT NULL,
  PRIMARY KEY (kind, asset, vuln_id, finding_id, source)
);
CREATE INDEX evidence_vuln ON evidence (vuln_id);

-- +goose Down
DROP TABLE evidence;
DROP TABLE finding_events;
DROP TABLE exposures;
DROP TABLE findings;
DROP TABLE scans;
DROP TABLE relations;
DROP TABLE assets;
DROP TABLE meta;
