package server

import (
	"context"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"io"
	"math/big"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ctem-dev/ctem/internal/app"
	"github.com/ctem-dev/ctem/internal/graph"
	"github.com/ctem-dev/ctem/internal/model"
)

// testProvider is a stand-in OpenID Connect provider built from the
// documented payloads (OpenID Connect Discovery 1.0, RFC 7517 JWKS, RFC
// 6749 and 7636 code flow with PKCE, an RS256 ID token): it signs in
// whoever it is told to, with the groups it is told.
type testProvider struct {
	*httptest.Server
	key, evil *rsa.PrivateKey
	mu        sync.Mutex
	clientID  string
	user      string
	groups    []string
	// signWithEvil signs ID tokens with a key the JWKS does not list;
	// badNonce puts another nonce in them.
	signWithEvil, badNonce bool
	codes                  map[string][2]string // code -> nonce, PKCE challenge
}

func newTestProvider(t *testing.T, clientID string) *testProvider {
	t.Helper()
	p := &testProvider{clientID: clientID, codes: map[string][2]string{}}
	var err error
	if p.key, err = rsa.GenerateKey(rand.Reader, 2048); err != nil {
		t.Fatal(err)
	}
	if p.evil, err = rsa.GenerateKey(rand.Reader, 2048); err != nil {
		t.Fatal(err)
	}
	b64 := base64.RawURLEncoding
	mux := http.NewServeMux()
	mux.HandleFunc("GET /.well-known/openid-configuration", func(w http.ResponseWriter, r *http.Request) {
		json.NewEncoder(w).Encode(map[string]any{
			"issuer": p.URL, "authorization_endpoint": p.URL + "/authorize", "token_endpoint": p.URL + "/token", "jwks_uri": p.URL + "/jwks",
			"response_types_supported": []string{"code"}, "subject_types_supported": []string{"public"}, "id_token_signing_alg_values_supported": []string{"RS256"},
			"code_challenge_methods_supported": []string{"S256"},
		})
	})
	mux.HandleFunc("GET /jwks", func(w http.ResponseWriter, r *http.Request) {
		json.NewEncoder(w).Encode(map[string]any{"keys": []any{map[string]string{
			"kty": "RSA", "kid": "k1", "use": "sig", "alg": "RS256",
			"n": b64.EncodeToString(p.key.N.Bytes()), "e": b64.EncodeToString(big.NewInt(int64(p.key.E)).Bytes()),
		}}})
	})
	mux.HandleFunc("GET /authorize", func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		if q.Get("client_id") != p.clientID || q.Get("response_type") != "code" || q.Get("code_challenge_method") != "S256" || q.Get("code_challenge") == "" {
			http.Error(w, "bad authorization request", http.StatusBadRequest)
			return
		}
		code := randomString()
		p.mu.Lock()
		p.codes[code] = [2]string{q.Get("nonce"), q.Get("code_challenge")}
		p.mu.Unlock()
		http.Redirect(w, r, q.Get("redirect_uri")+"?code="+code+"&state="+url.QueryEscape(q.Get("state"))+"&session_state=xyz", http.StatusFound)
	})
	mux.HandleFunc("POST /token", func(w http.ResponseWriter, r *http.Request) {
		id, secret, _ := r.BasicAuth()
		if id == "" {
			id, secret = r.PostFormValue("client_id"), r.PostFormValue("client_secret")
		}
		p.mu.Lock()
		c, ok := p.codes[r.PostFormValue("code")]
		delete(p.codes, r.PostFormValue("code"))
		user, groups, evil, badNonce := p.user, p.groups, p.signWithEvil, p.badNonce
		p.mu.Unlock()
		sum := sha256.Sum256([]byte(r.PostFormValue("code_verifier")))
		if !ok || id != p.clientID || secret != "s3cret" || b64.EncodeToString(sum[:]) != c[1] {
			w.WriteHeader(http.StatusBadRequest)
			json.NewEncoder(w).Encode(map[string]string{"error": "invalid_grant"})
			return
		}
		nonce := c[0]
		if badNonce {
			nonce = "another"
		}
		now := time.Now()
		claims, _ := json.Marshal(map[string]any{"iss": p.URL, "aud": p.clientID, "sub": "sub-" + user, "email": user, "exp": now.Add(time.Hour).Unix(), "iat": now.Unix(), "nonce": nonce, "groups": groups})
		head := b64.EncodeToString([]byte(`{"alg":"RS256","kid":"k1","typ":"JWT"}`)) + "." + b64.EncodeToString(claims)
		h := sha256.Sum256([]byte(head))
		k := p.key
		if evil {
			k = p.evil
		}
		sig, err := rsa.SignPKCS1v15(rand.Reader, k, crypto.SHA256, h[:])
		if err != nil {
			http.Error(w, err.Error(), 500)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(map[string]any{"access_token": "at", "token_type": "Bearer", "expires_in": 3600, "id_token": head + "." + b64.EncodeToString(sig)})
	})
	p.Server = httptest.NewServer(mux)
	t.Cleanup(p.Close)
	return p
}

func (p *testProvider) as(user string, groups ...string) {
	p.mu.Lock()
	p.user, p.groups = user, groups
	p.mu.Unlock()
}

// TestOIDC signs in through a stand-in provider: groups map to roles and
// teams, the session acts as a token of that role and team would, and a
// token signed by another key, a wrong nonce, a forged state and a user
// of no mapped group are refused and audited.
func TestOIDC(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	dir := t.TempDir()
	st, a := newStore(t, dir)
	if _, err := a.Ingest(ctx, app.IngestRequest{Inputs: demoInputs(t)}); err != nil {
		t.Fatal(err)
	}
	if _, err := a.Analyze(ctx, graph.Options{}); err != nil {
		t.Fatal(err)
	}
	prov := newTestProvider(t, "ctem")
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	base := "http://" + ln.Addr().String()
	srv, err := New(Config{App: a, Store: st, SpoolDir: filepath.Join(dir, "spool"), OIDC: &OIDCConfig{
		Issuer: prov.URL, ClientID: "ctem", ClientSecret: "s3cret", RedirectURL: base + "/api/v1/oidc/callback",
		Groups: map[string]Grant{"ctem-admins": {Role: RoleAdmin}, "web-devs": {Role: RoleAnalyst, Team: "team-web"}, "readers": {Role: RoleViewer}},
	}})
	if err != nil {
		t.Fatal(err)
	}
	sctx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- srv.Serve(sctx, ln, ListenConfig{Addr: ln.Addr().String()}) }()
	t.Cleanup(func() { cancel(); <-done })
	<-srv.Ready()
	_, token, err := CreateToken(ctx, st, TokenRequest{Name: "web", Role: "analyst", Team: "team-web"}, time.Now())
	if err != nil {
		t.Fatal(err)
	}

	// login runs the whole flow in a fresh browser-like client and ends
	// on GET /api/v1/session.
	login := func(next string) (*http.Client, int, string) {
		jar, _ := cookiejar.New(nil)
		c := &http.Client{Jar: jar}
		res, err := c.Get(base + "/api/v1/oidc/login?next=" + url.QueryEscape(next))
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		return c, res.StatusCode, string(b)
	}

	prov.as("alice@example.com", "ctem-admins", "readers")
	_, status, body := login("/api/v1/session")
	var me Me
	if err := json.Unmarshal([]byte(body), &me); status != http.StatusOK || err != nil || me.Name != "oidc:alice@example.com" || me.Role != RoleAdmin || me.Team != "" || me.Kind != "session" {
		t.Errorf("OIDC sign-in of an admin = %d %s, want the session of oidc:alice@example.com, admin", status, body)
	}

	prov.as("bob@example.com", "readers", "web-devs", "unrelated")
	bob, status, body := login("/api/v1/session")
	if err := json.Unmarshal([]byte(body), &me); status != http.StatusOK || err != nil || me.Role != RoleAnalyst || me.Team != "team-web" {
		t.Errorf("OIDC sign-in of readers and web-devs = %d %s, want analyst of team-web", status, body)
	}
	// The session lists what a token of that role and team lists.
	get := func(c *http.Client, bearer string) string {
		req, _ := http.NewRequest("GET", base+"/api/v1/exposures?limit=1000", nil)
		if bearer != "" {
			req.Header.Set("Authorization", "Bearer "+bearer)
		}
		res, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		return string(b)
	}
	var pg Page[model.Exposure]
	bySession := get(bob, "")
	if err := json.Unmarshal([]byte(bySession), &pg); err != nil || len(pg.Items) == 0 || bySession != get(http.DefaultClient, token) {
		t.Errorf("bob's exposures = %.200s, want team-web's, as its token lists them", bySession)
	}

	for _, tc := range []struct {
		name   string
		setup  func()
		status int
	}{
		{"no mapped group", func() { prov.user, prov.groups = "carol@example.com", []string{"unrelated"} }, http.StatusForbidden},
		{"signed by another key", func() {
			prov.user, prov.groups, prov.signWithEvil = "mallory@example.com", []string{"ctem-admins"}, true
		}, http.StatusUnauthorized},
		{"another nonce", func() { prov.signWithEvil, prov.badNonce = false, true }, http.StatusUnauthorized},
	} {
		prov.mu.Lock()
		tc.setup()
		prov.mu.Unlock()
		c, status, body := login("/api/v1/session")
		if status != tc.status {
			t.Errorf("OIDC sign-in with %s = %d %s, want %d", tc.name, status, body, tc.status)
		}
		u, _ := url.Parse(base)
		for _, ck := range c.Jar.Cookies(u) {
			if ck.Name == SessionCookie {
				t.Errorf("OIDC sign-in with %s set a session cookie", tc.name)
			}
		}
	}
	prov.mu.Lock()
	prov.badNonce = false
	prov.mu.Unlock()

	// A callback whose state is not the cookie's is refused.
	jar, _ := cookiejar.New(nil)
	c := &http.Client{Jar: jar, CheckRedirect: func(req *http.Request, via []*http.Request) error {
		if strings.HasSuffix(req.URL.Path, "/callback") {
			q := req.URL.Query()
			q.Set("state", "forged")
			req.URL.RawQuery = q.Encode()
		}
		return nil
	}}
	res, err := c.Get(base + "/api/v1/oidc/login")
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusUnauthorized {
		t.Errorf("an OIDC callback with a forged state = %d, want 401", res.StatusCode)
	}

	var got []string
	for e, err := range st.AuditLog(ctx, 0, 0) {
		if err != nil {
			t.Fatal(err)
		}
		if e.Action == "signin" {
			got = append(got, e.Target+" "+e.Outcome)
		}
	}
	want := []string{"oidc:alice@example.com ok", "oidc:bob@example.com ok", "oidc:carol@example.com denied", "oidc denied", "oidc denied", "oidc denied"}
	if !slices.Equal(got, want) {
		t.Errorf("audited sign-ins = %q, want %q", got, want)
	}
}

func TestGrantOf(t *testing.T) {
	t.Parallel()
	c := &OIDCConfig{Groups: map[string]Grant{"a": {Role: RoleViewer}, "b": {Role: RoleAnalyst, Team: "t2"}, "c": {Role: RoleAnalyst, Team: "t1"}, "d": {Role: RoleAnalyst}, "u": {Role: RoleUploader}}}
	for _, tc := range []struct {
		groups []string
		want   Grant
		ok     bool
	}{
		{nil, Grant{}, false},
		{[]string{"x"}, Grant{}, false},
		{[]string{"a"}, Grant{Role: RoleViewer}, true},
		{[]string{"u", "a"}, Grant{Role: RoleViewer}, true},
		{[]string{"a", "b"}, Grant{Role: RoleAnalyst, Team: "t2"}, true},
		{[]string{"b", "c"}, Grant{Role: RoleAnalyst, Team: "t1"}, true},
		{[]string{"b", "d", "c"}, Grant{Role: RoleAnalyst}, true},
	} {
		got, ok := c.grantOf(tc.groups)
		if got != tc.want || ok != tc.ok {
			t.Errorf("grantOf(%q) = %+v, %v, want %+v, %v", tc.groups, got, ok, tc.want, tc.ok)
		}
	}
}
