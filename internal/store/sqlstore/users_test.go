package sqlstore_test

import (
	"errors"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/ctem-dev/ctem/internal/store"
)

// TestUsersAndSessions stores users, refuses a second user of a name,
// finds sessions by hash with their user, and ends a disabled user's
// sessions.
func TestUsersAndSessions(t *testing.T) {
	t.Parallel()
	st := openServerDB(t)
	ctx := t.Context()
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	ann := store.User{Name: "ann", Role: "analyst", Team: "team-web", CreatedBy: "cli:root", CreatedAt: t0}
	if err := st.CreateUser(ctx, ann, "$argon2id$x"); err != nil {
		t.Fatal(err)
	}
	if err := st.CreateUser(ctx, store.User{Name: "bob", Role: "viewer", CreatedAt: t0}, "$argon2id$y"); err != nil {
		t.Fatal(err)
	}
	if err := st.CreateUser(ctx, store.User{Name: "ann", Role: "admin", CreatedAt: t0}, "z"); !errors.Is(err, store.ErrInvalid) {
		t.Errorf("CreateUser(ann again) = %v, want ErrInvalid", err)
	}
	u, hash, err := st.UserByName(ctx, "ann")
	if err != nil || hash != "$argon2id$x" {
		t.Fatalf("UserByName(ann) = %v, %q, want the hash $argon2id$x", err, hash)
	}
	if diff := cmp.Diff(u, ann); diff != "" {
		t.Errorf("UserByName(ann) (-got +want):\n%s", diff)
	}
	if _, _, err := st.UserByName(ctx, "carol"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("UserByName(carol) = %v, want ErrNotFound", err)
	}
	se := store.Session{ID: "s1", User: "ann", CreatedAt: t0.Add(time.Hour), ExpiresAt: t0.Add(9 * time.Hour), Remote: "127.0.0.1"}
	if err := st.CreateSession(ctx, se, "h1"); err != nil {
		t.Fatal(err)
	}
	if err := st.CreateSession(ctx, store.Session{ID: "s2", User: "bob", CreatedAt: t0, ExpiresAt: t0.Add(time.Minute)}, "h2"); err != nil {
		t.Fatal(err)
	}
	got, gu, err := st.SessionByHash(ctx, "h1")
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(got, se); diff != "" {
		t.Errorf("SessionByHash(h1) (-got +want):\n%s", diff)
	}
	if gu.Name != "ann" || gu.Team != "team-web" || !gu.LastLoginAt.Equal(se.CreatedAt) {
		t.Errorf("SessionByHash(h1) user = %+v, want ann of team-web signed in at %v", gu, se.CreatedAt)
	}
	if n, err := st.DeleteExpiredSessions(ctx, t0.Add(2*time.Minute)); err != nil || n != 1 {
		t.Errorf("DeleteExpiredSessions() = %d, %v, want 1", n, err)
	}
	if _, _, err := st.SessionByHash(ctx, "h2"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("SessionByHash(h2) after expiry = %v, want ErrNotFound", err)
	}
	d, err := st.DisableUser(ctx, "ann", t0.Add(2*time.Hour))
	if err != nil || !d.DisabledAt.Equal(t0.Add(2*time.Hour)) {
		t.Errorf("DisableUser(ann) = %+v, %v, want disabled at %v", d, err, t0.Add(2*time.Hour))
	}
	if d, _ := st.DisableUser(ctx, "ann", t0.Add(3*time.Hour)); !d.DisabledAt.Equal(t0.Add(2 * time.Hour)) {
		t.Errorf("DisableUser(ann) twice = %v, want the first time kept", d.DisabledAt)
	}
	if _, _, err := st.SessionByHash(ctx, "h1"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("SessionByHash(h1) after disabling = %v, want ErrNotFound", err)
	}
	if _, err := st.DisableUser(ctx, "carol", t0); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("DisableUser(carol) = %v, want ErrNotFound", err)
	}
	us, err := st.ListUsers(ctx)
	if err != nil || len(us) != 2 || us[0].Name != "ann" || us[1].Name != "bob" {
		t.Errorf("ListUsers() = %+v, %v, want ann and bob", us, err)
	}
	ext := store.User{Name: "oidc:eve@example.com", Role: "viewer", Team: "team-a", CreatedBy: "oidc", CreatedAt: t0}
	if got, err := st.PutExternalUser(ctx, ext); err != nil || got.Role != "viewer" || got.Team != "team-a" {
		t.Errorf("PutExternalUser(new) = %+v, %v, want viewer of team-a", got, err)
	}
	ext.Role, ext.Team, ext.CreatedAt = "admin", "", t0.Add(time.Hour)
	again, err := st.PutExternalUser(ctx, ext)
	if err != nil || again.Role != "admin" || again.Team != "" || !again.CreatedAt.Equal(t0) {
		t.Errorf("PutExternalUser(again) = %+v, %v, want admin without team, created at %v", again, err, t0)
	}
	if _, hash, _ := st.UserByName(ctx, ext.Name); hash != "!" {
		t.Errorf("an external user's password hash = %q, want !", hash)
	}
	if err := st.DeleteSession(ctx, "nope"); err != nil {
		t.Errorf("DeleteSession(nope) = %v, want nil", err)
	}
}
