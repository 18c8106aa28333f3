-- +goose Up
-- Mobilisation, second part: notifications sent (so each channel is told
-- of an event once), risk acceptance of a whole attack path, and the
-- verification of a ticket closed as done. SQL that
-- SQLite and PostgreSQL both accept.

-- A risk acceptance of an attack path (by its stable id): every exposure
-- on the path is accepted, and the path itself is on record as accepted.
ALTER TABLE acceptance_rules ADD COLUMN path_id TEXT COLLATE "C" NOT NULL DEFAULT '';

-- An event a channel (slack, teams, email) was told of, by the event's
-- stable key: the next run tells only what is new.
CREATE TABLE notifications (
  channel   TEXT COLLATE "C" NOT NULL,
  event_key TEXT COLLATE "C" NOT NULL,
  kind      TEXT COLLATE "C" NOT NULL,
  at        BIGINT NOT NULL,
  PRIMARY KEY (channel, event_key)
);

-- A ticket people closed as done waits for the next scan to verify the
-- fix: the newest scan when the close was seen.
ALTER TABLE tickets ADD COLUMN verify_scan TEXT COLLATE "C" NOT NULL DEFAULT '';

-- +goose Down
ALTER TABLE tickets DROP COLUMN verify_scan;
DROP TABLE notifications;
ALTER TABLE acceptance_rules DROP COLUMN path_id;
