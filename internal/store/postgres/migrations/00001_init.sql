-- +goose Up
-- PostgreSQL's migrations port store/sqlite's one for one: the same
-- tables, columns, indexes and constraints. Text is compared byte by
-- byte (COLLATE "C"), as SQLite does, so that orders, ranges of keys
-- (sqlstore's ofExposure) and cursors mean the same in both databases.
CREATE TABLE meta (
  key   TEXT COLLATE "C" PRIMARY KEY,
  value TEXT COLLATE "C" NOT NULL
);

CREATE TABLE assets (
  key         TEXT COLLATE "C" PRIMARY KEY,
  kind        TEXT COLLATE "C" NOT NULL,
  name        TEXT COLLATE "C" NOT NULL,
  labels      TEXT COLLATE "C" NOT NULL DEFAULT '{}',
  environment TEXT COLLATE "C" NOT NULL DEFAULT '',
  owner       TEXT COLLATE "C" NOT NULL DEFAULT '',
  criticality TEXT COLLATE "C" NOT NULL DEFAULT '',
  source      TEXT COLLATE "C" NOT NULL DEFAULT '',
  first_seen  BIGINT NOT NULL,
  last_seen   BIGINT NOT NULL
);

CREATE TABLE relations (
  from_key   TEXT COLLATE "C" NOT NULL,
  to_key     TEXT COLLATE "C" NOT NULL,
  type       TEXT COLLATE "C" NOT NULL,
  action     TEXT COLLATE "C" NOT NULL DEFAULT '',
  source     TEXT COLLATE "C" NOT NULL DEFAULT '',
  first_seen BIGINT NOT NULL,
  last_seen  BIGINT NOT NULL,
  PRIMARY KEY (from_key, to_key, type, action, source)
);
CREATE INDEX relations_to ON relations (to_key);

CREATE TABLE scans (
  id           TEXT COLLATE "C" PRIMARY KEY,
  seq          BIGINT NOT NULL,
  tool         TEXT COLLATE "C" NOT NULL,
  tool_version TEXT COLLATE "C" NOT NULL DEFAULT '',
  format       TEXT COLLATE "C" NOT NULL,
  target       TEXT COLLATE "C" NOT NULL,
  asset        TEXT COLLATE "C" NOT NULL DEFAULT '',
  input        TEXT COLLATE "C" NOT NULL DEFAULT '',
  digest       TEXT COLLATE "C" NOT NULL DEFAULT '',
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
  id               TEXT COLLATE "C" PRIMARY KEY,
  tool             TEXT COLLATE "C",
  target           TEXT COLLATE "C",
  kind             TEXT COLLATE "C",
  rule_id          TEXT COLLATE "C",
  vuln_ids         TEXT COLLATE "C",
  cwes             TEXT COLLATE "C",
  sev              INTEGER,
  title            TEXT COLLATE "C",
  asset            TEXT COLLATE "C",
  pkg_name         TEXT COLLATE "C",
  pkg_version      TEXT COLLATE "C",
  pkg_fixed        TEXT COLLATE "C",
  pkg_purl         TEXT COLLATE "C",
  path             TEXT COLLATE "C",
  line             INTEGER,
  url              TEXT COLLATE "C",
  component        TEXT COLLATE "C",
  status           TEXT COLLATE "C",
  reported_status  TEXT COLLATE "C",
  fingerprint      TEXT COLLATE "C",
  secret_hash      TEXT COLLATE "C",
  exposure_id      TEXT COLLATE "C",
  -- Fields no query filters on, packed into one value (see packExtra):
  -- one column instead of nine is fewer bindings and fewer VDBE steps
  -- per row written.
  extra            TEXT COLLATE "C",
  scan_id          TEXT COLLATE "C",
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
  id          TEXT COLLATE "C" PRIMARY KEY,
  kind        TEXT COLLATE "C",
  rule_id     TEXT COLLATE "C",
  vuln_id     TEXT COLLATE "C",
  vuln_ids    TEXT COLLATE "C",
  cwes        TEXT COLLATE "C",
  sev         INTEGER,
  title       TEXT COLLATE "C",
  asset       TEXT COLLATE "C",
  pkg_name    TEXT COLLATE "C",
  pkg_version TEXT COLLATE "C",
  pkg_fixed   TEXT COLLATE "C",
  pkg_purl    TEXT COLLATE "C",
  path        TEXT COLLATE "C",
  line        INTEGER,
  url         TEXT COLLATE "C",
  component   TEXT COLLATE "C",
  status      TEXT COLLATE "C",
  first_seen  BIGINT,
  last_seen   BIGINT,
  fixed_at    BIGINT DEFAULT 0
);
CREATE INDEX exposures_asset ON exposures (asset);
CREATE INDEX exposures_vuln ON exposures (vuln_id);

CREATE TABLE finding_events (
  finding_id  TEXT COLLATE "C" NOT NULL,
  from_status TEXT COLLATE "C" NOT NULL,
  to_status   TEXT COLLATE "C" NOT NULL,
  at          BIGINT NOT NULL,
  scan_id     TEXT COLLATE "C" NOT NULL
);
CREATE INDEX finding_events_finding ON finding_events (finding_id);
CREATE INDEX finding_events_scan ON finding_events (scan_id);

CREATE TABLE evidence (
  kind       TEXT COLLATE "C" NOT NULL,
  asset      TEXT COLLATE "C" NOT NULL DEFAULT '',
  vuln_id    TEXT COLLATE "C" NOT NULL DEFAULT '',
  finding_id TEXT COLLATE "C" NOT NULL DEFAULT '',
  source     TEXT COLLATE "C" NOT NULL,
  detail     TEXT COLLATE "C" NOT NULL DEFAULT '',
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
