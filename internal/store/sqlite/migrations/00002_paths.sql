-- +goose Up
-- Attack paths found by analyses, and when each opened and closed.
CREATE TABLE paths (
  id         TEXT PRIMARY KEY,
  entry      TEXT NOT NULL,
  target     TEXT NOT NULL,
  jewel      TEXT NOT NULL,
  likelihood DOUBLE PRECISION NOT NULL,
  risk       DOUBLE PRECISION NOT NULL,
  validated  INTEGER NOT NULL,
  steps      TEXT NOT NULL,
  status     TEXT NOT NULL,
  first_seen BIGINT NOT NULL,
  last_seen  BIGINT NOT NULL,
  closed_at  BIGINT NOT NULL DEFAULT 0
);

CREATE TABLE path_events (
  path_id TEXT NOT NULL,
  event   TEXT NOT NULL,
  at      BIGINT NOT NULL,
  risk    DOUBLE PRECISION NOT NULL,
  summary TEXT NOT NULL
);
CREATE INDEX path_events_at ON path_events (at);

-- +goose Down
DROP TABLE path_events;
DROP TABLE paths;
