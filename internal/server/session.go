package server

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/ctem-dev/ctem/internal/store"
)

// SessionCookie is the name of the dashboard's session cookie.
const SessionCookie = "ctem_session"

// SessionTTL is how long a session lasts from sign-in (an absolute
// lifetime: a working day).
const SessionTTL = 12 * time.Hour

// sessionPrefix begins every session token.
const sessionPrefix = "ctems_"

// SignInRequest is the body of POST /api/v1/session.
type SignInRequest struct {
	Name     string `json:"name"`
	Password string `json:"password"`
}

// Me is who a request acts as: the body of GET and POST /api/v1/session.
type Me struct {
	Name string `json:"name"`
	Role Role   `json:"role"`
	Team string `json:"team,omitempty"`
	// Kind is "session" for a signed-in user, "token" for an API token.
	Kind string `json:"kind"`
	// ExpiresAt is when the session ends (zero for a token).
	ExpiresAt time.Time `json:"expires_at,omitzero"`
}

// signIn checks a user's password and starts a session: the token goes
// in an HttpOnly cookie (Secure over TLS, SameSite=Lax, so that a link
// from elsewhere opens a page but a form elsewhere cannot post with it).
// Sign-ins, good and bad, are audited; bad ones are limited per client
// address and per user name.
func (s *Server) signIn(w http.ResponseWriter, r *http.Request) error {
	var req SignInRequest
	if err := readJSON(r, &req); err != nil {
		return err
	}
	now := s.now()
	name := strings.TrimSpace(req.Name)
	if strings.Contains(name, ":") {
		// Names with a colon are the identity provider's users, who have
		// no password here.
		name = ""
	}
	if len(name) > 100 || len(req.Password) > 1024 {
		return &httpError{Status: http.StatusBadRequest, Field: "name", Detail: "name or password too long"}
	}
	for _, k := range []string{"signin-addr:" + remoteHost(r), "signin-user:" + name} {
		if ok, wait := s.signins.allow(k, now); !ok {
			w.Header().Set("Retry-After", strconv.Itoa(int(wait.Seconds())+1))
			s.audit(r, nil, "signin", name, "denied", "too many sign-ins")
			return errStatus(http.StatusTooManyRequests, "too many sign-ins; retry later")
		}
	}
	u, hash, err := s.st.UserByName(r.Context(), name)
	switch {
	case errors.Is(err, store.ErrNotFound):
		VerifyPassword(dummyHash(), req.Password)
		err = errBadSignIn
	case err != nil:
		return err
	case !VerifyPassword(hash, req.Password) || !u.DisabledAt.IsZero():
		err = errBadSignIn
	}
	if err != nil {
		s.audit(r, nil, "signin", name, "denied", "unknown user, wrong password or disabled user")
		return errStatus(http.StatusUnauthorized, "%s", errBadSignIn.Error())
	}
	return s.startSession(w, r, u, http.StatusCreated, "session")
}

// startSession starts a session for u, sets its cookie, audits the
// sign-in and answers Me with status (or, when status is a redirect, sends
// the browser on to next).
func (s *Server) startSession(w http.ResponseWriter, r *http.Request, u store.User, status int, how string, next ...string) error {
	now := s.now()
	var id [6]byte
	var secret [32]byte
	if _, err := rand.Read(id[:]); err != nil {
		return err
	}
	if _, err := rand.Read(secret[:]); err != nil {
		return err
	}
	token := sessionPrefix + base64.RawURLEncoding.EncodeToString(secret[:])
	se := store.Session{ID: hex.EncodeToString(id[:]), User: u.Name, CreatedAt: now, ExpiresAt: now.Add(SessionTTL), Remote: remoteHost(r)}
	if err := s.st.CreateSession(r.Context(), se, HashToken(token)); err != nil {
		return err
	}
	p := &Principal{TokenID: "session:" + se.ID, Name: u.Name, User: u.Name, Role: Role(u.Role), Team: u.Team}
	s.audit(r, p, "signin", u.Name, "ok", how+" session "+se.ID+", role "+u.Role+" team "+strconv.Quote(u.Team))
	http.SetCookie(w, &http.Cookie{Name: SessionCookie, Value: token, Path: "/", Expires: se.ExpiresAt, MaxAge: int(SessionTTL.Seconds()),
		HttpOnly: true, Secure: r.TLS != nil, SameSite: http.SameSiteLaxMode})
	if status == http.StatusSeeOther && len(next) > 0 {
		http.Redirect(w, r, next[0], status)
		return nil
	}
	return writeJSON(w, status, Me{Name: u.Name, Role: Role(u.Role), Team: u.Team, Kind: "session", ExpiresAt: se.ExpiresAt})
}

// signOut ends the request's session, if any, and clears its cookie.
func (s *Server) signOut(w http.ResponseWriter, r *http.Request) error {
	p := principal(r.Context())
	if c, err := r.Cookie(SessionCookie); err == nil && strings.HasPrefix(c.Value, sessionPrefix) {
		if err := s.st.DeleteSession(r.Context(), HashToken(c.Value)); err != nil {
			return err
		}
		s.audit(r, p, "signout", p.Name, "ok", "")
	}
	http.SetCookie(w, &http.Cookie{Name: SessionCookie, Value: "", Path: "/", MaxAge: -1, HttpOnly: true, Secure: r.TLS != nil, SameSite: http.SameSiteLaxMode})
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// whoAmI answers who the request acts as.
func (s *Server) whoAmI(w http.ResponseWriter, r *http.Request) error {
	p := principal(r.Context())
	me := Me{Name: p.Name, Role: p.Role, Team: p.Team, Kind: "token", ExpiresAt: p.expires}
	if p.User != "" {
		me.Kind = "session"
	}
	return writeJSON(w, http.StatusOK, me)
}

// authenticateSession returns the principal of the request's session
// cookie: its user's role and team as they are now (a disabled user's
// sessions are gone, and a changed role applies at once).
func (s *Server) authenticateSession(r *http.Request) (*Principal, error) {
	c, err := r.Cookie(SessionCookie)
	if err != nil || !strings.HasPrefix(c.Value, sessionPrefix) || len(c.Value) > 200 {
		return nil, errUnauthenticated
	}
	se, u, err := s.st.SessionByHash(r.Context(), HashToken(c.Value))
	if errors.Is(err, store.ErrNotFound) {
		return nil, errUnauthenticated
	}
	if err != nil {
		return nil, err
	}
	if !u.DisabledAt.IsZero() || !s.now().Before(se.ExpiresAt) {
		return nil, errUnauthenticated
	}
	return &Principal{TokenID: "session:" + se.ID, Name: u.Name, User: u.Name, Role: Role(u.Role), Team: u.Team, expires: se.ExpiresAt}, nil
}

// sweepSessions deletes expired sessions now and then.
func (s *Server) sweepSessions(ctx context.Context, now time.Time) {
	if n, err := s.st.DeleteExpiredSessions(ctx, now); err != nil {
		s.log.Warn("delete expired sessions", "err", err)
	} else if n > 0 {
		s.log.Info("expired sessions deleted", "sessions", n)
	}
}
