-- +goose Up
-- The server's records: API tokens, the hash-chained audit log and the
-- durable job queue. Times are microseconds since the epoch, as
-- elsewhere; the SQL is what SQLite and PostgreSQL both accept.

-- API tokens. Only the SHA-256 of a token is kept; the token itself is
-- shown once, when it is created.
CREATE TABLE api_tokens (
  id           TEXT COLLATE "C" PRIMARY KEY,
  name         TEXT COLLATE "C" NOT NULL,
  role         TEXT COLLATE "C" NOT NULL,
  team         TEXT COLLATE "C" NOT NULL DEFAULT '',
  hash         TEXT COLLATE "C" NOT NULL UNIQUE,
  created_by   TEXT COLLATE "C" NOT NULL DEFAULT '',
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
  actor     TEXT COLLATE "C" NOT NULL,
  remote    TEXT COLLATE "C" NOT NULL,
  action    TEXT COLLATE "C" NOT NULL,
  target    TEXT COLLATE "C" NOT NULL,
  outcome   TEXT COLLATE "C" NOT NULL,
  detail    TEXT COLLATE "C" NOT NULL,
  prev_hash TEXT COLLATE "C" NOT NULL,
  hash      TEXT COLLATE "C" NOT NULL
);

-- Background jobs (ingests of uploads). A job is queued, running,
-- succeeded or failed; a job found running at start-up was interrupted
-- and is queued again (an ingest is one transaction, so an interrupted
-- one left nothing behind).
CREATE TABLE jobs (
  id          TEXT COLLATE "C" PRIMARY KEY,
  kind        TEXT COLLATE "C" NOT NULL,
  state       TEXT COLLATE "C" NOT NULL,
  created_by  TEXT COLLATE "C" NOT NULL DEFAULT '',
  created_at  BIGINT NOT NULL,
  started_at  BIGINT NOT NULL DEFAULT 0,
  finished_at BIGINT NOT NULL DEFAULT 0,
  attempts    INTEGER NOT NULL DEFAULT 0,
  params      TEXT COLLATE "C" NOT NULL DEFAULT '',
  result      TEXT COLLATE "C" NOT NULL DEFAULT '',
  error       TEXT COLLATE "C" NOT NULL DEFAULT ''
);
CREATE INDEX jobs_state ON jobs (state, created_at);

-- +goose Down
DROP TABLE jobs;
DROP TABLE audit_log;
DROP TABLE api_tokens;
