-- +goose Up
-- Mobilisation (package sla, ticket, ctem accept): SQL that SQLite and
-- PostgreSQL both accept.

-- An exposure found past its SLA due date, once per due date (a due
-- date that moves, after an acceptance, is a new breach): the events
-- notifications and KPIs read.
CREATE TABLE sla_breaches (
  exposure_id TEXT COLLATE "C" NOT NULL,
  due_at      BIGINT NOT NULL,
  rule        TEXT COLLATE "C" NOT NULL,
  owner       TEXT COLLATE "C" NOT NULL DEFAULT '',
  at          BIGINT NOT NULL,
  PRIMARY KEY (exposure_id, due_at)
);
CREATE INDEX sla_breaches_at ON sla_breaches (at);

-- A risk acceptance by scope (one exposure, a vulnerability on one
-- asset, a vulnerability everywhere): the decision ctem accept applied
-- to each matching exposure, kept so that the scope is on record.
CREATE TABLE acceptance_rules (
  id         TEXT COLLATE "C" PRIMARY KEY,
  exposure_id TEXT COLLATE "C" NOT NULL DEFAULT '',
  vuln_id    TEXT COLLATE "C" NOT NULL DEFAULT '',
  asset      TEXT COLLATE "C" NOT NULL DEFAULT '',
  reason     TEXT COLLATE "C" NOT NULL,
  actor      TEXT COLLATE "C" NOT NULL,
  approver   TEXT COLLATE "C" NOT NULL,
  expires_at BIGINT NOT NULL,
  at         BIGINT NOT NULL
);

-- A ticket per remediation action: the action's stable key, the tracker
-- and the ticket's id there, the digest of what was last written, and
-- the state ctem last saw.
CREATE TABLE tickets (
  action_key TEXT COLLATE "C" NOT NULL,
  tracker    TEXT COLLATE "C" NOT NULL,
  external   TEXT COLLATE "C" NOT NULL,
  url        TEXT COLLATE "C" NOT NULL DEFAULT '',
  state      TEXT COLLATE "C" NOT NULL,
  digest     TEXT COLLATE "C" NOT NULL DEFAULT '',
  at         BIGINT NOT NULL,
  PRIMARY KEY (tracker, action_key)
);

-- +goose Down
DROP TABLE tickets;
DROP TABLE acceptance_rules;
DROP INDEX sla_breaches_at;
DROP TABLE sla_breaches;
