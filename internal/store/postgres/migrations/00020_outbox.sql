-- +goose Up
-- The outbox of webhook events: each cursor is the id of the last
-- analysis whose path events were turned into deliveries. Analyses are
-- numbered in commit order (MAX + 1 under the write lock), so every
-- analysis after a cursor is one it has not seen, whichever process
-- (a server, 'ctem analyze', 'ctem ingest') recorded it. A database that
-- already holds analyses starts after them (their events are not sent);
-- a fresh one has no cursor row, read as position 0.
CREATE TABLE outbox_cursors (
  name     TEXT COLLATE "C" PRIMARY KEY,
  position BIGINT NOT NULL
);
INSERT INTO outbox_cursors (name, position) SELECT 'webhooks', MAX(id) FROM analyses HAVING MAX(id) IS NOT NULL;
-- The events of the analyses after a cursor.
CREATE INDEX path_events_analysis ON path_events (analysis_id);

-- +goose Down
DROP INDEX path_events_analysis;
DROP TABLE outbox_cursors;
