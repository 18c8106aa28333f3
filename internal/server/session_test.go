package server

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ctem-dev/ctem/internal/kpi"
	"github.com/ctem-dev/ctem/internal/store"
)

const annPassword = "correct horse battery staple"

func TestPasswordHash(t *testing.T) {
	t.Parallel()
	h, err := HashPassword("s3cret-pass")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(h, "$argon2id$v=19$m=19456,t=2,p=1$") {
		t.Errorf("HashPassword() = %q, want the PHC argon2id form with m=19456,t=2,p=1", h)
	}
	h2, _ := HashPassword("s3cret-pass")
	if h == h2 {
		t.Errorf("HashPassword() twice = the same hash, want a fresh salt each time")
	}
	for _, tc := range []struct {
		hash, pw string
		want     bool
	}{
		{h, "s3cret-pass", true},
		{h, "s3cret-pasS", false},
		{h, "", false},
		{strings.Replace(h, "t=2", "t=3", 1), "s3cret-pass", false},
		{strings.Replace(h, "m=19456", "m=9999999", 1), "s3cret-pass", false},
		{"$argon2i$v=19$m=65536,t=3,p=2$c2FsdHNhbHRzYWx0c2FsdA$a2V5a2V5a2V5a2V5a2V5a2V5", "x", false},
		{"plain", "plain", false},
	} {
		if got := VerifyPassword(tc.hash, tc.pw); got != tc.want {
			t.Errorf("VerifyPassword(%.40q, %q) = %v, want %v", tc.hash, tc.pw, got, tc.want)
		}
	}
}

// signIn signs a user in with a client of its own and returns it.
func (f *fixture) signIn(t testing.TB, name, password string) (*http.Client, int) {
	t.Helper()
	jar, _ := cookiejar.New(nil)
	c := &http.Client{Jar: jar}
	res, err := c.Post(f.url+"/api/v1/session", "application/json", strings.NewReader(`{"name":"`+name+`","password":"`+password+`"}`))
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	return c, res.StatusCode
}

// TestSessions signs users in and out: the cookie's attributes, the
// session acting with the user's role and team exactly as a token of
// that role and team, failures audited alike, and a disabled user's
// session ending at once.
func TestSessions(t *testing.T) {
	t.Parallel()
	f := newFixture(t, Limits{}, true)
	ctx := context.Background()
	for _, u := range []UserRequest{
		{Name: "ann", Role: "analyst", Team: "team-web", Password: annPassword},
		{Name: "vic", Role: "viewer", Password: annPassword},
	} {
		if _, err := CreateUser(ctx, f.st, u, f.srv.now()); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := CreateUser(ctx, f.st, UserRequest{Name: "ann", Role: "viewer", Password: annPassword}, f.srv.now()); err == nil {
		t.Errorf("CreateUser(ann twice) = nil, want an error")
	}
	if _, err := CreateUser(ctx, f.st, UserRequest{Name: "short", Role: "viewer", Password: "1234567"}, f.srv.now()); err == nil {
		t.Errorf("CreateUser(7-character password) = nil, want an error")
	}

	res, err := http.Post(f.url+"/api/v1/session", "application/json", strings.NewReader(`{"name":"ann","password":"`+annPassword+`"}`))
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	cookies := res.Cookies()
	if res.StatusCode != http.StatusCreated || len(cookies) != 1 {
		t.Fatalf("POST /api/v1/session = %d with %d cookies, want 201 with one", res.StatusCode, len(cookies))
	}
	ck := cookies[0]
	if ck.Name != SessionCookie || !ck.HttpOnly || ck.SameSite != http.SameSiteLaxMode || ck.Path != "/" || ck.MaxAge != int(SessionTTL.Seconds()) {
		t.Errorf("session cookie = %+v, want %s, HttpOnly, SameSite=Lax, Path=/, Max-Age %v", ck, SessionCookie, SessionTTL)
	}

	ann, st := f.signIn(t, "ann", annPassword)
	if st != http.StatusCreated {
		t.Fatalf("sign in as ann = %d, want 201", st)
	}
	// The session lists exactly what a token of the same role and team
	// lists.
	get := func(c *http.Client, token, path string) response {
		req, _ := http.NewRequest("GET", f.url+path, nil)
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+f.tokens[token])
		}
		res, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		b, err := io.ReadAll(res.Body)
		if err != nil {
			t.Fatal(err)
		}
		out := response{res.StatusCode, res.Header, b}
		f.validate(t, req, out)
		return out
	}
	for _, p := range []string{"/api/v1/exposures?limit=1000", "/api/v1/paths", "/api/v1/assets?limit=1000", "/api/v1/kpis"} {
		bySession, byToken := get(ann, "", p), get(http.DefaultClient, webAnalyst, p)
		if p == "/api/v1/kpis" {
			// The report's end is the time of the request.
			for _, r := range []*response{&bySession, &byToken} {
				var k kpi.Report
				r.decode(t, &k)
				k.To = time.Time{}
				k.Periods[len(k.Periods)-1].End = time.Time{}
				r.body, _ = json.Marshal(k)
			}
		}
		if bySession.status != http.StatusOK || string(bySession.body) != string(byToken.body) {
			t.Errorf("GET %s as ann's session = %d %.200s, want what team-web's analyst token gets: %d %.200s", p, bySession.status, bySession.body, byToken.status, byToken.body)
		}
	}
	var me Me
	get(ann, "", "/api/v1/session").decode(t, &me)
	if me.Name != "ann" || me.Role != RoleAnalyst || me.Team != "team-web" || me.Kind != "session" {
		t.Errorf("GET /api/v1/session = %+v, want ann, analyst of team-web, a session", me)
	}
	// The session's role is enforced: an analyst may not list tokens.
	if res := get(ann, "", "/api/v1/tokens"); res.status != http.StatusForbidden {
		t.Errorf("GET /api/v1/tokens as analyst ann = %d, want 403", res.status)
	}

	// Wrong password, unknown user: the same 401, each audited.
	for _, tc := range [][2]string{{"ann", "wrong password!"}, {"nobody", annPassword}} {
		if _, st := f.signIn(t, tc[0], tc[1]); st != http.StatusUnauthorized {
			t.Errorf("sign in as %s with a bad password = %d, want 401", tc[0], st)
		}
	}
	var signins []string
	for e, err := range f.st.AuditLog(ctx, 0, 0) {
		if err != nil {
			t.Fatal(err)
		}
		if e.Action == "signin" {
			signins = append(signins, e.Actor+" "+e.Target+" "+e.Outcome)
		}
	}
	want := []string{"user:ann ann ok", "user:ann ann ok", "anonymous ann denied", "anonymous nobody denied"}
	if !slices.Equal(signins, want) {
		t.Errorf("audited sign-ins = %q, want %q", signins, want)
	}

	// Disabling a user ends its sessions; a disabled user cannot sign in.
	vic, _ := f.signIn(t, "vic", annPassword)
	if res := get(vic, "", "/api/v1/exposures?limit=1"); res.status != http.StatusOK {
		t.Fatalf("GET exposures as vic = %d, want 200", res.status)
	}
	if _, err := f.st.DisableUser(ctx, "vic", f.srv.now()); err != nil {
		t.Fatal(err)
	}
	if res := get(vic, "", "/api/v1/exposures?limit=1"); res.status != http.StatusUnauthorized {
		t.Errorf("GET exposures with a disabled user's session = %d, want 401", res.status)
	}
	if _, st := f.signIn(t, "vic", annPassword); st != http.StatusUnauthorized {
		t.Errorf("sign in as disabled vic = %d, want 401", st)
	}

	// Signing out ends the session on the server, not only the cookie.
	req, _ := http.NewRequest("DELETE", f.url+"/api/v1/session", nil)
	req.AddCookie(ck)
	if res, err := http.DefaultClient.Do(req); err != nil || res.StatusCode != http.StatusNoContent {
		t.Fatalf("DELETE /api/v1/session = %v %v, want 204", res, err)
	}
	req, _ = http.NewRequest("GET", f.url+"/api/v1/exposures", nil)
	req.AddCookie(ck)
	if res, err := http.DefaultClient.Do(req); err != nil || res.StatusCode != http.StatusUnauthorized {
		t.Errorf("GET exposures with a signed-out session's cookie = %v %v, want 401", res.StatusCode, err)
	}

	// An expired session is refused.
	if err := f.st.CreateSession(ctx, store.Session{ID: "old", User: "ann", CreatedAt: time.Now().Add(-13 * time.Hour), ExpiresAt: time.Now().Add(-time.Hour)}, HashToken(sessionPrefix+"expired")); err != nil {
		t.Fatal(err)
	}
	req, _ = http.NewRequest("GET", f.url+"/api/v1/exposures", nil)
	req.AddCookie(&http.Cookie{Name: SessionCookie, Value: sessionPrefix + "expired"})
	if res, err := http.DefaultClient.Do(req); err != nil || res.StatusCode != http.StatusUnauthorized {
		t.Errorf("GET exposures with an expired session = %v %v, want 401", res.StatusCode, err)
	}
}

// TestSignInLimit refuses sign-ins beyond the burst from one address, on
// a stopped clock (so that a slow machine does not refill the bucket).
func TestSignInLimit(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	st, a := newStore(t, dir)
	at := time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC)
	srv, err := New(Config{App: a, Store: st, SpoolDir: filepath.Join(dir, "spool"), Now: func() time.Time { return at }})
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(srv.Handler())
	t.Cleanup(ts.Close)
	f := &fixture{url: ts.URL}
	var codes []int
	for range 12 {
		_, st := f.signIn(t, "nobody", "wrong password")
		codes = append(codes, st)
	}
	want := []int{401, 401, 401, 401, 401, 401, 401, 401, 401, 401, 429, 429}
	if !slices.Equal(codes, want) {
		t.Errorf("12 bad sign-ins = %v, want 10 401s then 429s", codes)
	}
}

// TestKPIsFollowIngests reads the KPIs, ingests a report, and reads them
// again: the report kept for the first read is not answered for new
// data.
func TestKPIsFollowIngests(t *testing.T) {
	t.Parallel()
	f := newFixture(t, Limits{}, true)
	var before, after kpi.Report
	f.do(t, "GET", "/api/v1/kpis", "viewer", "", nil).decode(t, &before)
	if _, err := f.app.Ingest(context.Background(), app_IngestRequest("gen.json", syntheticReport(t, 7, 20))); err != nil {
		t.Fatal(err)
	}
	f.do(t, "GET", "/api/v1/kpis", "viewer", "", nil).decode(t, &after)
	if after.Open <= before.Open {
		t.Errorf("open exposures after an ingest of new findings = %d, want more than %d", after.Open, before.Open)
	}
	// A team's figures are its own.
	var team kpi.Report
	f.do(t, "GET", "/api/v1/kpis", webAnalyst, "", nil).decode(t, &team)
	if team.Open == 0 || team.Open >= after.Open {
		t.Errorf("team-web's open exposures = %d, want some and fewer than everyone's %d", team.Open, after.Open)
	}
}
