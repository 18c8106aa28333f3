package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/ctem-dev/ctem/internal/store"
)

var _ store.Users = (*DB)(nil)

const userCols = `name, role, team, created_by, created_at, disabled_at, last_login_at`

func scanUser(sc interface{ Scan(...any) error }, extra ...any) (store.User, error) {
	var u store.User
	var c, d, l int64
	err := sc.Scan(append([]any{&u.Name, &u.Role, &u.Team, &u.CreatedBy, &c, &d, &l}, extra...)...)
	u.CreatedAt, u.DisabledAt, u.LastLoginAt = fromMicros(c), fromMicros(d), fromMicros(l)
	return u, err
}

// CreateUser stores a user with its password hash.
func (s *DB) CreateUser(ctx context.Context, u store.User, passwordHash string) error {
	res, err := s.db.ExecContext(ctx, s.rebind(`INSERT INTO users (`+userCols+`, password_hash) VALUES (?, ?, ?, ?, ?, ?, ?, ?)
ON CONFLICT (name) DO NOTHING`),
		u.Name, u.Role, u.Team, u.CreatedBy, micros(u.CreatedAt), micros(u.DisabledAt), micros(u.LastLoginAt), passwordHash)
	if err != nil {
		return fmt.Errorf("create user: %w", err)
	}
	if n, err := res.RowsAffected(); err == nil && n == 0 {
		return fmt.Errorf("a user named %q exists: %w", u.Name, store.ErrInvalid)
	}
	return nil
}

// UserByName returns a user and its password hash.
func (s *DB) UserByName(ctx context.Context, name string) (store.User, string, error) {
	var hash string
	u, err := scanUser(s.db.QueryRowContext(ctx, s.rebind(`SELECT `+userCols+`, password_hash FROM users WHERE name = ?`), name), &hash)
	if errors.Is(err, sql.ErrNoRows) {
		return u, "", fmt.Errorf("user %q: %w", name, store.ErrNotFound)
	}
	if err != nil {
		return u, "", fmt.Errorf("user: %w", err)
	}
	return u, hash, nil
}

// ListUsers lists every user by name.
func (s *DB) ListUsers(ctx context.Context) ([]store.User, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT `+userCols+` FROM users ORDER BY name`)
	if err != nil {
		return nil, fmt.Errorf("list users: %w", err)
	}
	defer rows.Close()
	out := []store.User{}
	for rows.Next() {
		u, err := scanUser(rows)
		if err != nil {
			return nil, fmt.Errorf("list users: %w", err)
		}
		out = append(out, u)
	}
	return out, rows.Err()
}

// DisableUser disables a user and deletes its sessions in one
// transaction.
func (s *DB) DisableUser(ctx context.Context, name string, at time.Time) (store.User, error) {
	tx, err := s.beginLight(ctx)
	if err != nil {
		return store.User{}, fmt.Errorf("disable user: %w", err)
	}
	defer tx.Rollback()
	if _, err := tx.ExecContext(ctx, s.rebind(`UPDATE users SET disabled_at = ? WHERE name = ? AND disabled_at = 0`), micros(at), name); err != nil {
		return store.User{}, fmt.Errorf("disable user: %w", err)
	}
	if _, err := tx.ExecContext(ctx, s.rebind(`DELETE FROM sessions WHERE user_name = ?`), name); err != nil {
		return store.User{}, fmt.Errorf("disable user: %w", err)
	}
	u, err := scanUser(tx.QueryRowContext(ctx, s.rebind(`SELECT `+userCols+` FROM users WHERE name = ?`), name))
	if errors.Is(err, sql.ErrNoRows) {
		return u, fmt.Errorf("user %q: %w", name, store.ErrNotFound)
	}
	if err != nil {
		return u, fmt.Errorf("disable user: %w", err)
	}
	return u, tx.Commit()
}

// CreateSession stores a session and the user's sign-in time.
func (s *DB) CreateSession(ctx context.Context, se store.Session, hash string) error {
	tx, err := s.beginLight(ctx)
	if err != nil {
		return fmt.Errorf("create session: %w", err)
	}
	defer tx.Rollback()
	if _, err := tx.ExecContext(ctx, s.rebind(`INSERT INTO sessions (hash, id, user_name, created_at, expires_at, remote) VALUES (?, ?, ?, ?, ?, ?)`),
		hash, se.ID, se.User, micros(se.CreatedAt), micros(se.ExpiresAt), se.Remote); err != nil {
		return fmt.Errorf("create session: %w", err)
	}
	if _, err := tx.ExecContext(ctx, s.rebind(`UPDATE users SET last_login_at = ? WHERE name = ?`), micros(se.CreatedAt), se.User); err != nil {
		return fmt.Errorf("create session: %w", err)
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("create session: %w", err)
	}
	return nil
}

// SessionByHash returns a session and its user.
func (s *DB) SessionByHash(ctx context.Context, hash string) (store.Session, store.User, error) {
	var se store.Session
	var c, e int64
	u, err := scanUser(s.db.QueryRowContext(ctx, s.rebind(`SELECT u.name, u.role, u.team, u.created_by, u.created_at, u.disabled_at, u.last_login_at,
  s.id, s.created_at, s.expires_at, s.remote
FROM sessions s JOIN users u ON u.name = s.user_name WHERE s.hash = ?`), hash), &se.ID, &c, &e, &se.Remote)
	if errors.Is(err, sql.ErrNoRows) {
		return se, u, fmt.Errorf("session: %w", store.ErrNotFound)
	}
	if err != nil {
		return se, u, fmt.Errorf("session: %w", err)
	}
	se.User, se.CreatedAt, se.ExpiresAt = u.Name, fromMicros(c), fromMicros(e)
	return se, u, nil
}

// DeleteSession deletes a session by the digest of its token.
func (s *DB) DeleteSession(ctx context.Context, hash string) error {
	if _, err := s.db.ExecContext(ctx, s.rebind(`DELETE FROM sessions WHERE hash = ?`), hash); err != nil {
		return fmt.Errorf("delete session: %w", err)
	}
	return nil
}

// DeleteExpiredSessions deletes the sessions expired at now.
func (s *DB) DeleteExpiredSessions(ctx context.Context, now time.Time) (int, error) {
	res, err := s.db.ExecContext(ctx, s.rebind(`DELETE FROM sessions WHERE expires_at <= ?`), micros(now))
	if err != nil {
		return 0, fmt.Errorf("delete expired sessions: %w", err)
	}
	n, _ := res.RowsAffected()
	return int(n), nil
}

// PutExternalUser inserts a user without a password, or updates its role
// and team.
func (s *DB) PutExternalUser(ctx context.Context, u store.User) (store.User, error) {
	if _, err := s.db.ExecContext(ctx, s.rebind(`INSERT INTO users (`+userCols+`, password_hash) VALUES (?, ?, ?, ?, ?, 0, 0, '!')
ON CONFLICT (name) DO UPDATE SET role = excluded.role, team = excluded.team`),
		u.Name, u.Role, u.Team, u.CreatedBy, micros(u.CreatedAt)); err != nil {
		return store.User{}, fmt.Errorf("put external user: %w", err)
	}
	got, _, err := s.UserByName(ctx, u.Name)
	return got, err
}
