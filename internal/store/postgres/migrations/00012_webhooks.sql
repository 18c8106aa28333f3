-- +goose Up
-- Webhooks out and scheduled jobs. The SQL is what SQLite and PostgreSQL
-- both accept; times are microseconds since the epoch.

-- A webhook subscription: where to POST which events, and the secret
-- that signs each delivery (kept as given: signing needs it).
CREATE TABLE webhooks (
  id         TEXT COLLATE "C" PRIMARY KEY,
  url        TEXT COLLATE "C" NOT NULL,
  events     TEXT COLLATE "C" NOT NULL,
  secret     TEXT COLLATE "C" NOT NULL,
  created_by TEXT COLLATE "C" NOT NULL DEFAULT '',
  created_at BIGINT NOT NULL,
  deleted_at BIGINT NOT NULL DEFAULT 0
);

-- Each attempt to deliver an event to a webhook: the delivery is a job
-- (kind 'webhook'); its attempts are kept here, listable per webhook.
CREATE TABLE webhook_attempts (
  job_id      TEXT COLLATE "C" NOT NULL,
  attempt     INTEGER NOT NULL,
  webhook_id  TEXT COLLATE "C" NOT NULL,
  event       TEXT COLLATE "C" NOT NULL,
  at          BIGINT NOT NULL,
  status      INTEGER NOT NULL,
  error       TEXT COLLATE "C" NOT NULL DEFAULT '',
  duration_us BIGINT NOT NULL DEFAULT 0,
  PRIMARY KEY (job_id, attempt)
);
CREATE INDEX webhook_attempts_hook ON webhook_attempts (webhook_id, at);

-- Jobs may wait (a retry's backoff: run_at) and may be unique by key (a
-- scheduled job's period, a delivery of one event to one webhook), so
-- that several servers on one database queue each only once.
ALTER TABLE jobs ADD COLUMN run_at BIGINT NOT NULL DEFAULT 0;
ALTER TABLE jobs ADD COLUMN unique_key TEXT COLLATE "C" NOT NULL DEFAULT '';
CREATE UNIQUE INDEX jobs_unique_key ON jobs (unique_key) WHERE unique_key <> '';
CREATE INDEX jobs_kind_state ON jobs (kind, state, run_at);

-- +goose Down
DROP INDEX jobs_kind_state;
DROP INDEX jobs_unique_key;
ALTER TABLE jobs DROP COLUMN unique_key;
ALTER TABLE jobs DROP COLUMN run_at;
DROP INDEX webhook_attempts_hook;
DROP TABLE webhook_attempts;
DROP TABLE webhooks;
