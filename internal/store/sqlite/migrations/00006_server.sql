-- +goose Up
-- The server's records: API tokens, the hash-chained audit log and the
-- durable job queue. Times are microseconds since the epoch, as
-- elsewhere; the SQL is what SQLite and PostgreSQL both accept.

-- API tokens. Only the SHA-256 of a token is kept; the token itself is
-- shown once, when it is created.
CREATE TABLE api_tokens (
  id           TEXT PRIMARY KEY,
  name         TEXT NOT NULL,
  role         TEXT NOT NULL,
  team         TEXT NOT NULL DEFAULT '',
  hash         TEXT NOT NULL UNIQUE,
  created_by   TEXT NOT NULL DEFAULT '',
  created_at   BIGINT NOT NULL,
  expires_at   BIGINT NOT NULL DEFAULT 0,
  revoked_at   BIGINT NOT NULL DEFAULT 0,
  last_used_at BIGINT NOT NULL DEFAULT 0
);

-- The audit log: one row per change or denied request, each row's hash
-- covering the previous row's hash, so that an edit or a deletion breaks
-- the chain. seq is assigned by the writer (the last plus one) inside
-- the write transaction, so that it has no gaps.
CREATE TABLE audit_log (
  seq       BIGINT PRIMARY KEY,
  at        BIGINT NOT NULL,
  actor     TEXT NOT NULL,
  remote    TEXT NOT NULL,
  action    TEXT NOT NULL,
  target    TEXT NOT NULL,
  outcome   TEXT NOT NULL,
  detail    TEXT NOT NULL,
  prev_hash TEXT NOT NULL,
  hash      TEXT NOT NULL
);

-- Background jobs (ingests of uploads). A job is queued, running,
-- succeeded or failed; a job found running at start-up was interrupted
-- and is queued again (an ingest is one transaction, so an interrupted
-- one left nothing behind).
CREATE TABLE jobs (
  id          TEXT PRIMARY KEY,
  kind        TEXT NOT NULL,
  state       TEXT NOT NULL,
  created_by  TEXT NOT NULL DEFAULT '',
  created_at  BIGINT NOT NULL,
  started_at  BIGINT NOT NULL DEFAULT 0,
  finished_at BIGINT NOT NULL DEFAULT 0,
  attempts    INTEGER NOT NULL DEFAULT 0,
  params      TEXT NOT NULL DEFAULT '',
  result      TEXT NOT NULL DEFAULT '',
  error       TEXT NOT NULL DEFAULT ''
);
CREATE INDEX jobs_state ON jobs (state, created_at);

-- +goose Down
DROP TABLE jobs;
DROP TABLE audit_log;
DROP TABLE api_tokens;
