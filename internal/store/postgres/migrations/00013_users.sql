-- +goose Up
-- Local users of the dashboard and their sessions. Only an argon2id hash
-- of a password is kept (PHC string format, parameters included), and
-- only the SHA-256 of a session token. Times are microseconds since the
-- epoch; the SQL is what SQLite and PostgreSQL both accept.

CREATE TABLE users (
  name          TEXT COLLATE "C" PRIMARY KEY,
  role          TEXT COLLATE "C" NOT NULL,
  team          TEXT COLLATE "C" NOT NULL DEFAULT '',
  password_hash TEXT COLLATE "C" NOT NULL,
  created_by    TEXT COLLATE "C" NOT NULL DEFAULT '',
  created_at    BIGINT NOT NULL,
  disabled_at   BIGINT NOT NULL DEFAULT 0,
  last_login_at BIGINT NOT NULL DEFAULT 0
);

-- A session belongs to one user; it ends at expires_at, when it is
-- deleted (sign out), or when its user is disabled.
CREATE TABLE sessions (
  hash       TEXT COLLATE "C" PRIMARY KEY,
  id         TEXT COLLATE "C" NOT NULL UNIQUE,
  user_name  TEXT COLLATE "C" NOT NULL REFERENCES users (name),
  created_at BIGINT NOT NULL,
  expires_at BIGINT NOT NULL,
  remote     TEXT COLLATE "C" NOT NULL DEFAULT ''
);
CREATE INDEX sessions_user ON sessions (user_name);
CREATE INDEX sessions_expiry ON sessions (expires_at);

-- +goose Down
DROP TABLE sessions;
DROP TABLE users;
