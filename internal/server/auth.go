package server

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/ctem-dev/ctem/internal/store"
)

// Role is what a principal may do (see Allowed).
type Role string

// The roles.
const (
	// RoleAdmin may do everything: read, triage, ingest, set the scope,
	// manage tokens and read the audit log.
	RoleAdmin Role = "admin"
	// RoleAnalyst reads and triages.
	RoleAnalyst Role = "analyst"
	// RoleViewer reads.
	RoleViewer Role = "viewer"
	// RoleUploader ingests reports and reads the jobs of its ingests,
	// nothing else: the role of a CI pipeline's token.
	RoleUploader Role = "uploader"
)

// Roles lists every role.
var Roles = []Role{RoleAdmin, RoleAnalyst, RoleViewer, RoleUploader}

// Action is what a route does, for the authorisation table.
type Action string

// The actions.
const (
	// ActPublic needs no token (health, readiness, the API document).
	ActPublic Action = "public"
	// ActRead reads findings, exposures, assets, scans, paths, the fix
	// plan, events, the scope and the feeds.
	ActRead Action = "read"
	// ActTriage records a decision about an exposure.
	ActTriage Action = "triage"
	// ActIngest uploads a report.
	ActIngest Action = "ingest"
	// ActJobRead reads a job's progress.
	ActJobRead Action = "job.read"
	// ActScopeWrite stores a new scope version.
	ActScopeWrite Action = "scope.write"
	// ActTokenAdmin lists, creates and revokes tokens.
	ActTokenAdmin Action = "token.admin"
	// ActAuditRead reads the audit log.
	ActAuditRead Action = "audit.read"
	// ActMetrics reads the Prometheus metrics.
	ActMetrics Action = "metrics"
	// ActWebhookAdmin lists, creates and removes webhook subscriptions
	// and reads their deliveries.
	ActWebhookAdmin Action = "webhook.admin"
	// ActSelf reads who the request acts as (any principal may).
	ActSelf Action = "self"
)

// Actions lists every action a token may be checked for.
var Actions = []Action{ActRead, ActTriage, ActIngest, ActJobRead, ActScopeWrite, ActTokenAdmin, ActAuditRead, ActMetrics, ActWebhookAdmin, ActSelf}

// permissions is the authorisation table: the one place that says which
// role may do which action. Whatever is not listed is refused. A
// team-scoped principal is further limited, for the actions that read or
// change security data, to the assets its team owns (see teamFilter).
var permissions = map[Role][]Action{
	RoleAdmin:    {ActRead, ActTriage, ActIngest, ActJobRead, ActScopeWrite, ActTokenAdmin, ActAuditRead, ActMetrics, ActWebhookAdmin, ActSelf},
	RoleAnalyst:  {ActRead, ActTriage, ActJobRead, ActMetrics, ActSelf},
	RoleViewer:   {ActRead, ActJobRead, ActMetrics, ActSelf},
	RoleUploader: {ActIngest, ActJobRead, ActSelf},
}

// Allowed reports whether role may do action.
func Allowed(role Role, action Action) bool {
	return action == ActPublic || slices.Contains(permissions[role], action)
}

// ValidRole reports whether r is a role.
func ValidRole(r string) bool { return slices.Contains(Roles, Role(r)) }

// Principal is who a request acts as: a token's identity, or a
// signed-in user's.
type Principal struct {
	// TokenID is the token's id, or "session:" and the session's id; the
	// rate limit counts by it.
	TokenID string
	Name    string
	Role    Role
	// Team, when not empty, limits the principal to the assets its team
	// owns in the scope.
	Team string
	// User names the local user of a session; empty for a token.
	User string

	expires time.Time
}

// String names the principal in logs and the audit log.
func (p *Principal) String() string {
	if p == nil {
		return "anonymous"
	}
	if p.User != "" {
		return "user:" + p.User
	}
	return "token:" + p.TokenID + ":" + p.Name
}

func principal(ctx context.Context) *Principal {
	p, _ := ctx.Value(keyPrincipal).(*Principal)
	return p
}

// tokenPrefix begins every token, so that secret scanners recognise one.
const tokenPrefix = "ctem_"

// HashToken returns the hex SHA-256 of a token, as the store keeps it.
// A token is 32 random bytes, so one round of SHA-256 is enough: there
// is nothing to guess that a slow hash would protect.
func HashToken(secret string) string {
	h := sha256.Sum256([]byte(secret))
	return hex.EncodeToString(h[:])
}

// TokenRequest is what a new token is for.
type TokenRequest struct {
	Name string `json:"name"`
	Role string `json:"role"`
	Team string `json:"team,omitempty"`
	// TTL, when above 0, makes the token expire after it.
	TTL       time.Duration `json:"-"`
	CreatedBy string        `json:"-"`
}

// CreateToken makes a token, stores its hash, and returns the record and
// the secret, which is shown once and stored nowhere.
func CreateToken(ctx context.Context, st store.Tokens, req TokenRequest, now time.Time) (store.Token, string, error) {
	req.Name = strings.TrimSpace(req.Name)
	if req.Name == "" || len(req.Name) > 100 {
		return store.Token{}, "", fmt.Errorf("a token needs a name of 1 to 100 characters: %w", store.ErrInvalid)
	}
	if !ValidRole(req.Role) {
		return store.Token{}, "", fmt.Errorf("unknown role %q (want admin, analyst, viewer or uploader): %w", req.Role, store.ErrInvalid)
	}
	if req.TTL < 0 {
		return store.Token{}, "", fmt.Errorf("a token's lifetime must be positive: %w", store.ErrInvalid)
	}
	var id [6]byte
	var secret [32]byte
	if _, err := rand.Read(id[:]); err != nil {
		return store.Token{}, "", err
	}
	if _, err := rand.Read(secret[:]); err != nil {
		return store.Token{}, "", err
	}
	t := store.Token{ID: hex.EncodeToString(id[:]), Name: req.Name, Role: req.Role, Team: strings.TrimSpace(req.Team), CreatedBy: req.CreatedBy, CreatedAt: now.UTC()}
	if req.TTL > 0 {
		t.ExpiresAt = t.CreatedAt.Add(req.TTL)
	}
	s := tokenPrefix + base64.RawURLEncoding.EncodeToString(secret[:])
	if err := st.CreateToken(ctx, t, HashToken(s)); err != nil {
		return store.Token{}, "", err
	}
	return t, s, nil
}

// errUnauthenticated is answered 401 with a WWW-Authenticate challenge.
var errUnauthenticated = errors.New("unauthenticated")

// authenticate returns the principal of the request's bearer token, or
// without an Authorization header of its session cookie, or an error for
// a missing, unknown, revoked or expired token or session (all alike to
// the client).
func (s *Server) authenticate(r *http.Request) (*Principal, error) {
	h := r.Header.Get("Authorization")
	if h == "" {
		return s.authenticateSession(r)
	}
	secret, ok := strings.CutPrefix(h, "Bearer ")
	if !ok || !strings.HasPrefix(secret, tokenPrefix) || len(secret) > 200 {
		return nil, errUnauthenticated
	}
	now := s.now()
	hash := HashToken(secret)
	t, ok, gen := s.tokens.get(hash, now)
	if !ok {
		var err error
		t, err = s.st.TokenByHash(r.Context(), hash)
		if errors.Is(err, store.ErrNotFound) {
			return nil, errUnauthenticated
		}
		if err != nil {
			return nil, err
		}
		s.tokens.put(hash, t, now, gen)
	}
	if !t.RevokedAt.IsZero() || (!t.ExpiresAt.IsZero() && !now.Before(t.ExpiresAt)) {
		return nil, errUnauthenticated
	}
	s.touch.use(t.ID, now)
	return &Principal{TokenID: t.ID, Name: t.Name, Role: Role(t.Role), Team: t.Team, expires: t.ExpiresAt}, nil
}

// toucher collects the last use of tokens and writes them now and then,
// so that a request never waits on a write (SQLite has one writer, and a
// large ingest may hold it for seconds).
type toucher struct {
	mu   sync.Mutex
	used map[string]time.Time
}

func (t *toucher) use(id string, at time.Time) {
	t.mu.Lock()
	if t.used == nil {
		t.used = map[string]time.Time{}
	}
	t.used[id] = at
	t.mu.Unlock()
}

func (t *toucher) take() map[string]time.Time {
	t.mu.Lock()
	defer t.mu.Unlock()
	m := t.used
	t.used = nil
	return m
}
