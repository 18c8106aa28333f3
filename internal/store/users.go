package store

import (
	"context"
	"time"
)

// User is a local user of the dashboard as the store keeps it: everything
// but the password, of which only a slow hash is stored.
type User struct {
	Name string `json:"name"`
	// Role is one of the server's roles; Team, when not empty, limits the
	// user to the assets its team owns, as for a token.
	Role      string    `json:"role"`
	Team      string    `json:"team,omitempty"`
	CreatedBy string    `json:"created_by,omitempty"`
	CreatedAt time.Time `json:"created_at"`
	// DisabledAt is zero for a user who may sign in.
	DisabledAt  time.Time `json:"disabled_at,omitzero"`
	LastLoginAt time.Time `json:"last_login_at,omitzero"`
}

// Session is a signed-in user's session: only the SHA-256 of its token is
// stored.
type Session struct {
	// ID names the session in logs and the audit log; it is not secret.
	ID        string    `json:"id"`
	User      string    `json:"user"`
	CreatedAt time.Time `json:"created_at"`
	ExpiresAt time.Time `json:"expires_at"`
	Remote    string    `json:"remote,omitempty"`
}

// Users keeps local users and their sessions.
type Users interface {
	// CreateUser stores u with its password hash; it returns an error
	// wrapping ErrInvalid when a user of that name exists.
	CreateUser(ctx context.Context, u User, passwordHash string) error
	// UserByName returns the user and its password hash, or an error
	// wrapping ErrNotFound.
	UserByName(ctx context.Context, name string) (User, string, error)
	// ListUsers lists every user, disabled ones included, by name.
	ListUsers(ctx context.Context) ([]User, error)
	// DisableUser disables a user at time at and ends its sessions; it
	// returns an error wrapping ErrNotFound when there is none, and keeps
	// the first time of a user disabled twice.
	DisableUser(ctx context.Context, name string, at time.Time) (User, error)
	// CreateSession stores a session with the hex SHA-256 of its token
	// and records the user's sign-in time.
	CreateSession(ctx context.Context, s Session, hash string) error
	// SessionByHash returns the session whose token has this digest, with
	// its user, or an error wrapping ErrNotFound (expired sessions are
	// returned: the caller decides).
	SessionByHash(ctx context.Context, hash string) (Session, User, error)
	// DeleteSession ends the session whose token has this digest; ending
	// one that does not exist is not an error.
	DeleteSession(ctx context.Context, hash string) error
	// PutExternalUser stores a user whom an identity provider vouches
	// for (no password: its hash is "!", which matches nothing), or
	// updates the role and team of one stored before. It returns the user
	// as stored, whose DisabledAt the caller checks.
	PutExternalUser(ctx context.Context, u User) (User, error)
	// DeleteExpiredSessions deletes the sessions expired at now and
	// returns how many.
	DeleteExpiredSessions(ctx context.Context, now time.Time) (int, error)
}
