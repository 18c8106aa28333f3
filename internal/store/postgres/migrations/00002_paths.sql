-- +goose Up
-- Attack paths found by analyses, and when each opened and closed.
CREATE TABLE paths (
  id         TEXT COLLATE "C" PRIMARY KEY,
  entry      TEXT COLLATE "C" NOT NULL,
  target     TEXT COLLATE "C" NOT NULL,
  jewel      TEXT COLLATE "C" NOT NULL,
  likelihood DOUBLE PRECISION NOT NULL,
  risk       DOUBLE PRECISION NOT NULL,
  validated  INTEGER NOT NULL,
  steps      TEXT COLLATE "C" NOT NULL,
  status     TEXT COLLATE "C" NOT NULL,
  first_seen BIGINT NOT NULL,
  last_seen  BIGINT NOT NULL,
  closed_at  BIGINT NOT NULL DEFAULT 0
);

CREATE TABLE path_events (
  path_id TEXT COLLATE "C" NOT NULL,
  event   TEXT COLLATE "C" NOT NULL,
  at      BIGINT NOT NULL,
  risk    DOUBLE PRECISION NOT NULL,
  summary TEXT COLLATE "C" NOT NULL
);
CREATE INDEX path_events_at ON path_events (at);

-- +goose Down
DROP TABLE path_events;
DROP TABLE paths;
