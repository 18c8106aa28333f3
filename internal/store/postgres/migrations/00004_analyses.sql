-- +goose Up
-- Every recorded analysis, with the inputs it read: the ingest sequence
-- (the highest scan seq it saw; up_to is the sequence up to which every
-- ingest has been analysed, lower for a partial analysis that followed
-- an ingest left unanalysed), the scope (stored version, file or
-- default, and its digest), the CODEOWNERS files and feed versions (JSON),
-- its options and its outcome. ids are handed out by the writer inside
-- its transaction (MAX + 1), which both databases accept.
CREATE TABLE analyses (
  id            BIGINT PRIMARY KEY,
  at            BIGINT NOT NULL,
  partial       INTEGER NOT NULL,
  ingest_seq    BIGINT NOT NULL,
  up_to         BIGINT NOT NULL,
  scope_source  TEXT COLLATE "C" NOT NULL,
  scope_version BIGINT NOT NULL,
  scope_digest  TEXT COLLATE "C" NOT NULL,
  codeowners    TEXT COLLATE "C" NOT NULL,
  feeds         TEXT COLLATE "C" NOT NULL,
  k             INTEGER NOT NULL,
  max_steps     INTEGER NOT NULL,
  paths         INTEGER NOT NULL,
  risk          DOUBLE PRECISION NOT NULL,
  opened        INTEGER NOT NULL,
  closed        INTEGER NOT NULL
);

-- The analysis that last found each path, and that recorded each event.
ALTER TABLE paths ADD COLUMN analysis_id BIGINT NOT NULL DEFAULT 0;
ALTER TABLE path_events ADD COLUMN analysis_id BIGINT NOT NULL DEFAULT 0;
-- The name (first vulnerability id, else rule) of the first exposure of
-- each step, as JSON {exposure id: name}, so that a listing of paths
-- reads no exposure.
ALTER TABLE paths ADD COLUMN names TEXT COLLATE "C" NOT NULL DEFAULT '{}';
-- Open paths riskiest first, in the index's order: a page of paths
-- reads the page, not every path.
CREATE INDEX paths_open ON paths (status, risk DESC, id);
-- The open paths to one jewel, riskiest first.
CREATE INDEX paths_jewel ON paths (jewel, status, risk DESC, id);

-- Which exposures enable a step of each path, for explain.
CREATE TABLE path_exposures (
  exposure_id TEXT COLLATE "C" NOT NULL,
  path_id     TEXT COLLATE "C" NOT NULL,
  PRIMARY KEY (exposure_id, path_id)
);

-- The current results: priorities, fix-plan items and choke points, and
-- each crown jewel's risk. Each row names an anchor, an asset key of the
-- connected component it belongs to, so that an analysis of some
-- components replaces only their rows.
CREATE TABLE analysis_priorities (
  exposure_id  TEXT COLLATE "C" PRIMARY KEY,
  anchor       TEXT COLLATE "C" NOT NULL,
  risk_removed DOUBLE PRECISION NOT NULL,
  paths        INTEGER NOT NULL,
  analysis_id  BIGINT NOT NULL
);
CREATE INDEX analysis_priorities_anchor ON analysis_priorities (anchor);
CREATE INDEX analysis_priorities_risk ON analysis_priorities (risk_removed, exposure_id);

CREATE TABLE analysis_actions (
  kind        TEXT COLLATE "C" NOT NULL,
  analysis_id BIGINT NOT NULL,
  pos         INTEGER NOT NULL,
  anchor      TEXT COLLATE "C" NOT NULL,
  data        TEXT COLLATE "C" NOT NULL,
  PRIMARY KEY (kind, analysis_id, pos)
);
CREATE INDEX analysis_actions_anchor ON analysis_actions (anchor);

CREATE TABLE analysis_jewels (
  jewel       TEXT COLLATE "C" PRIMARY KEY,
  value       INTEGER NOT NULL,
  risk        DOUBLE PRECISION NOT NULL,
  analysis_id BIGINT NOT NULL
);

-- The estate's context of each asset that holds an exposure (internet
-- exposure, service, owner, criticality, crown-jewel value: package
-- estate's Context as JSON), under its key and every other name, so that
-- explaining an exposure needs no estate.
CREATE TABLE asset_contexts (
  key         TEXT COLLATE "C" PRIMARY KEY,
  anchor      TEXT COLLATE "C" NOT NULL,
  data        TEXT COLLATE "C" NOT NULL,
  analysis_id BIGINT NOT NULL
);
CREATE INDEX asset_contexts_anchor ON asset_contexts (anchor);

-- Analysis inputs kept as data: the scope file's versions and each
-- repository's CODEOWNERS versions, with their digests.
CREATE TABLE scopes (
  version BIGINT PRIMARY KEY,
  digest  TEXT COLLATE "C" NOT NULL,
  name    TEXT COLLATE "C" NOT NULL,
  body    TEXT COLLATE "C" NOT NULL,
  set_at  BIGINT NOT NULL
);

CREATE TABLE codeowners (
  repo    TEXT COLLATE "C" NOT NULL,
  version BIGINT NOT NULL,
  digest  TEXT COLLATE "C" NOT NULL,
  name    TEXT COLLATE "C" NOT NULL,
  body    TEXT COLLATE "C" NOT NULL,
  set_at  BIGINT NOT NULL,
  PRIMARY KEY (repo, version)
);

-- +goose Down
DROP TABLE codeowners;
DROP TABLE scopes;
DROP TABLE asset_contexts;
DROP TABLE analysis_jewels;
DROP TABLE analysis_actions;
DROP TABLE analysis_priorities;
DROP TABLE path_exposures;
DROP INDEX paths_jewel;
DROP INDEX paths_open;
ALTER TABLE paths DROP COLUMN names;
ALTER TABLE path_events DROP COLUMN analysis_id;
ALTER TABLE paths DROP COLUMN analysis_id;
DROP TABLE analyses;
