-- +goose Up
-- Mobilisation (package sla, ticket, ctem accept): SQL that SQLite and
-- PostgreSQL both accept.

-- An exposure found past its SLA due date, once per due date (a due
-- date that moves, after an acceptance, is a new breach): the events
-- notifications and KPIs read.
CREATE TABLE sla_breaches (
  exposure_id TEXT NOT NULL,
  due_at      BIGINT NOT NULL,
  rule        TEXT NOT NULL,
  owner       TEXT NOT NULL DEFAULT '',
  at          BIGINT NOT NULL,
  PRIMARY KEY (exposure_id, due_at)
);
CREATE INDEX sla_breaches_at ON sla_breaches (at);

-- A risk acceptance by scope (one exposure, a vulnerability on one
-- asset, a vulnerability everywhere): the decision ctem accept applied
-- to each matching exposure, kept so that the scope is on record.
CREATE TABLE acceptance_rules (
  id         TEXT PRIMARY KEY,
  exposure_id TEXT NOT NULL DEFAULT '',
  vuln_id    TEXT NOT NULL DEFAULT '',
  asset      TEXT NOT NULL DEFAULT '',
  reason     TEXT NOT NULL,
  actor      TEXT NOT NULL,
  approver   TEXT NOT NULL,
  expires_at BIGINT NOT NULL,
  at         BIGINT NOT NULL
);

-- A ticket per remediation action: the action's stable key, the tracker
-- and the ticket's id there, the digest of what was last written, and
-- the state ctem last saw.
CREATE TABLE tickets (
  action_key TEXT NOT NULL,
  tracker    TEXT NOT NULL,
  external   TEXT NOT NULL,
  url        TEXT NOT NULL DEFAULT '',
  state      TEXT NOT NULL,
  digest     TEXT NOT NULL DEFAULT '',
  at         BIGINT NOT NULL,
  PRIMARY KEY (tracker, action_key)
);

-- +goose Down
DROP TABLE tickets;
DROP TABLE acceptance_rules;
DROP INDEX sla_breaches_at;
DROP TABLE sla_breaches;
