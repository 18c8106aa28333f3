package server

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"go.yaml.in/yaml/v3"
	"golang.org/x/oauth2"

	"github.com/ctem-dev/ctem/internal/store"
)

// OIDCConfig configures sign-in through an OpenID Connect provider: the
// authorization code flow with PKCE, the ID token verified against the
// provider's keys, and a groups claim mapped to a role and a team.
type OIDCConfig struct {
	// Issuer is the provider's issuer URL; its discovery document is read
	// from Issuer + "/.well-known/openid-configuration" at the first
	// sign-in.
	Issuer       string `yaml:"issuer"`
	ClientID     string `yaml:"client_id"`
	ClientSecret string `yaml:"-"`
	// ClientSecretFile names a file holding the client secret (else
	// $CTEM_OIDC_CLIENT_SECRET holds it): never the config file itself.
	ClientSecretFile string `yaml:"client_secret_file"`
	// RedirectURL is this server's callback, ending in
	// /api/v1/oidc/callback, as registered with the provider.
	RedirectURL string `yaml:"redirect_url"`
	// GroupsClaim names the ID token's claim listing the user's groups;
	// empty is "groups".
	GroupsClaim string `yaml:"groups_claim"`
	// Groups maps a group to what its members may do. A user in several
	// gets the strongest role (admin, analyst, viewer, uploader), and of
	// the grants with that role one without a team if any (else the
	// first team by name). A user in none is refused.
	Groups map[string]Grant `yaml:"groups"`
	// Client makes the requests to the provider; nil is a client with a
	// 10 s timeout.
	Client *http.Client `yaml:"-"`
}

// Grant is what a group's members may do: a role, and a team when the
// role is limited to one team's assets.
type Grant struct {
	Role Role   `yaml:"role"`
	Team string `yaml:"team"`
}

// LoadOIDCConfig reads an OIDC configuration file (YAML, unknown fields
// refused), and the client secret from client_secret_file or from
// $CTEM_OIDC_CLIENT_SECRET through getenv.
func LoadOIDCConfig(path string, getenv func(string) string) (*OIDCConfig, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	var c OIDCConfig
	if err := dec.Decode(&c); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if c.ClientSecretFile != "" {
		b, err := os.ReadFile(c.ClientSecretFile)
		if err != nil {
			return nil, fmt.Errorf("%s: client_secret_file: %w", path, err)
		}
		c.ClientSecret = strings.TrimSpace(string(b))
	} else {
		c.ClientSecret = getenv("CTEM_OIDC_CLIENT_SECRET")
	}
	if err := c.check(); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return &c, nil
}

func (c *OIDCConfig) check() error {
	switch {
	case c.Issuer == "" || c.ClientID == "" || c.RedirectURL == "":
		return errors.New("issuer, client_id and redirect_url are required")
	case !strings.HasSuffix(c.RedirectURL, "/api/v1/oidc/callback"):
		return errors.New("redirect_url must end in /api/v1/oidc/callback")
	case len(c.Groups) == 0:
		return errors.New("groups: map at least one group to a role")
	}
	for g, gr := range c.Groups {
		if !ValidRole(string(gr.Role)) {
			return fmt.Errorf("groups: %s: unknown role %q (want admin, analyst, viewer or uploader)", g, gr.Role)
		}
	}
	return nil
}

// grantOf returns the grant of a user in groups, or false when no group
// is mapped.
func (c *OIDCConfig) grantOf(groups []string) (Grant, bool) {
	var best Grant
	found := false
	rank := func(r Role) int { return len(Roles) - slices.Index(Roles, r) }
	slices.Sort(groups)
	for _, g := range groups {
		gr, ok := c.Groups[g]
		if !ok {
			continue
		}
		switch {
		case !found, rank(gr.Role) > rank(best.Role):
			best, found = gr, true
		case gr.Role == best.Role && best.Team != "" && (gr.Team == "" || gr.Team < best.Team):
			best = gr
		}
	}
	return best, found
}

// oidcState is the server's side of one sign-in, between the redirect to
// the provider and its callback: kept in a short-lived cookie, signed
// with the database's secret key so that nobody else can make one.
type oidcState struct {
	State    string `json:"s"`
	Nonce    string `json:"n"`
	Verifier string `json:"v"`
	Next     string `json:"x"`
	Expires  int64  `json:"e"`
}

const oidcCookie = "ctem_oidc"

// oidcClient is the provider's discovery, made at the first sign-in and
// kept (a failed discovery is tried again at the next).
type oidcClient struct {
	mu       sync.Mutex
	provider *oidc.Provider
}

func (s *Server) oidcProvider(ctx context.Context) (*oidc.Provider, *oauth2.Config, error) {
	c := s.oidc
	s.oidcC.mu.Lock()
	defer s.oidcC.mu.Unlock()
	if s.oidcC.provider == nil {
		p, err := oidc.NewProvider(oidc.ClientContext(ctx, c.Client), c.Issuer)
		if err != nil {
			return nil, nil, fmt.Errorf("oidc discovery of %s: %w", c.Issuer, err)
		}
		s.oidcC.provider = p
	}
	p := s.oidcC.provider
	return p, &oauth2.Config{ClientID: c.ClientID, ClientSecret: c.ClientSecret, RedirectURL: c.RedirectURL,
		Endpoint: p.Endpoint(), Scopes: []string{oidc.ScopeOpenID, "profile", "email", "groups"}}, nil
}

func (s *Server) signState(ctx context.Context, st oidcState) (string, error) {
	key, err := s.st.SecretKey(ctx)
	if err != nil {
		return "", err
	}
	b, _ := json.Marshal(st)
	m := hmac.New(sha256.New, key)
	m.Write([]byte("ctem-oidc-state\x00"))
	m.Write(b)
	return base64.RawURLEncoding.EncodeToString(b) + "." + base64.RawURLEncoding.EncodeToString(m.Sum(nil)), nil
}

func (s *Server) readState(ctx context.Context, v string) (oidcState, bool) {
	var st oidcState
	payload, sig, ok := strings.Cut(v, ".")
	b, err1 := base64.RawURLEncoding.DecodeString(payload)
	got, err2 := base64.RawURLEncoding.DecodeString(sig)
	key, err3 := s.st.SecretKey(ctx)
	if !ok || err1 != nil || err2 != nil || err3 != nil {
		return st, false
	}
	m := hmac.New(sha256.New, key)
	m.Write([]byte("ctem-oidc-state\x00"))
	m.Write(b)
	if !hmac.Equal(m.Sum(nil), got) || json.Unmarshal(b, &st) != nil || s.now().Unix() > st.Expires {
		return st, false
	}
	return st, true
}

func randomString() string {
	var b [24]byte
	_, _ = rand.Read(b[:])
	return base64.RawURLEncoding.EncodeToString(b[:])
}

// safeNext keeps a destination on this site.
func safeNext(s string) string {
	if !strings.HasPrefix(s, "/") || strings.HasPrefix(s, "//") || strings.HasPrefix(s, "/\\") || strings.ContainsAny(s, "\r\n") {
		return "/"
	}
	return s
}

// oidcLogin sends the browser to the provider.
func (s *Server) oidcLogin(w http.ResponseWriter, r *http.Request) error {
	if s.oidc == nil {
		return fmt.Errorf("no OIDC provider is configured: %w", store.ErrNotFound)
	}
	_, oc, err := s.oidcProvider(r.Context())
	if err != nil {
		return &httpError{Status: http.StatusBadGateway, Detail: "the identity provider does not answer", Cause: err}
	}
	st := oidcState{State: randomString(), Nonce: randomString(), Verifier: oauth2.GenerateVerifier(), Next: safeNext(r.URL.Query().Get("next")), Expires: s.now().Add(10 * time.Minute).Unix()}
	v, err := s.signState(r.Context(), st)
	if err != nil {
		return err
	}
	// SameSite=Lax: the provider's redirect back is a top-level GET from
	// another site, which Lax lets the cookie ride.
	http.SetCookie(w, &http.Cookie{Name: oidcCookie, Value: v, Path: "/api/v1/oidc/", MaxAge: 600, HttpOnly: true, Secure: r.TLS != nil, SameSite: http.SameSiteLaxMode})
	http.Redirect(w, r, oc.AuthCodeURL(st.State, oidc.Nonce(st.Nonce), oauth2.S256ChallengeOption(st.Verifier)), http.StatusFound)
	return nil
}

// oidcCallback finishes a sign-in: the state matches the cookie's, the
// code is exchanged (with the PKCE verifier), the ID token is verified
// (signature by the provider's keys, issuer, audience, expiry, nonce),
// and the user's groups give its role and team.
func (s *Server) oidcCallback(w http.ResponseWriter, r *http.Request) error {
	if s.oidc == nil {
		return fmt.Errorf("no OIDC provider is configured: %w", store.ErrNotFound)
	}
	q := r.URL.Query()
	deny := func(why string) error {
		s.audit(r, nil, "signin", "oidc", "denied", why)
		return errStatus(http.StatusUnauthorized, "the identity provider's sign-in was refused: %s", why)
	}
	if e := q.Get("error"); e != "" {
		return deny("the provider answered " + safeText(e))
	}
	c, err := r.Cookie(oidcCookie)
	if err != nil {
		return deny("no sign-in was started here (no state cookie)")
	}
	http.SetCookie(w, &http.Cookie{Name: oidcCookie, Value: "", Path: "/api/v1/oidc/", MaxAge: -1, HttpOnly: true, Secure: r.TLS != nil, SameSite: http.SameSiteLaxMode})
	st, ok := s.readState(r.Context(), c.Value)
	if !ok || !hmac.Equal([]byte(st.State), []byte(q.Get("state"))) {
		return deny("the state does not match")
	}
	p, oc, err := s.oidcProvider(r.Context())
	if err != nil {
		return &httpError{Status: http.StatusBadGateway, Detail: "the identity provider does not answer", Cause: err}
	}
	ctx := oidc.ClientContext(r.Context(), s.oidc.Client)
	tok, err := oc.Exchange(ctx, q.Get("code"), oauth2.VerifierOption(st.Verifier))
	if err != nil {
		s.log.Warn("oidc code exchange", "err", err)
		return deny("the code exchange failed")
	}
	raw, _ := tok.Extra("id_token").(string)
	if raw == "" {
		return deny("no ID token")
	}
	idt, err := p.Verifier(&oidc.Config{ClientID: s.oidc.ClientID, Now: s.now}).Verify(ctx, raw)
	if err != nil {
		s.log.Warn("oidc ID token", "err", err)
		return deny("the ID token does not verify")
	}
	if !hmac.Equal([]byte(idt.Nonce), []byte(st.Nonce)) {
		return deny("the ID token's nonce does not match")
	}
	var claims map[string]any
	if err := idt.Claims(&claims); err != nil {
		return deny("the ID token's claims do not decode")
	}
	groups := claimStrings(claims[cmpOr(s.oidc.GroupsClaim, "groups")])
	name := ""
	for _, k := range []string{"preferred_username", "email"} {
		if v, ok := claims[k].(string); ok && v != "" {
			name = v
			break
		}
	}
	if name == "" {
		name = idt.Subject
	}
	name = "oidc:" + safeText(name)
	if len(name) > 100 {
		name = name[:100]
	}
	g, ok := s.oidc.grantOf(groups)
	if !ok {
		s.audit(r, nil, "signin", name, "denied", "oidc: no group maps to a role")
		return errStatus(http.StatusForbidden, "none of your groups may use ctem")
	}
	u, err := s.st.PutExternalUser(r.Context(), store.User{Name: name, Role: string(g.Role), Team: g.Team, CreatedBy: "oidc:" + s.oidc.Issuer, CreatedAt: s.now()})
	if err != nil {
		return err
	}
	if !u.DisabledAt.IsZero() {
		s.audit(r, nil, "signin", name, "denied", "oidc: the user is disabled")
		return errStatus(http.StatusForbidden, "this user is disabled")
	}
	return s.startSession(w, r, u, http.StatusSeeOther, "oidc", st.Next)
}

// claimStrings reads a claim holding a list of strings or one string.
func claimStrings(v any) []string {
	switch v := v.(type) {
	case string:
		return []string{v}
	case []any:
		var out []string
		for _, x := range v {
			if s, ok := x.(string); ok {
				out = append(out, s)
			}
		}
		return out
	}
	return nil
}

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}
