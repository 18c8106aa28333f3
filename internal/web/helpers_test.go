package web_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ctem-dev/ctem/examples"
	"github.com/ctem-dev/ctem/internal/app"
	"github.com/ctem-dev/ctem/internal/graph"
	"github.com/ctem-dev/ctem/internal/inputs"
	"github.com/ctem-dev/ctem/internal/intel/feeds"
	"github.com/ctem-dev/ctem/internal/server"
	"github.com/ctem-dev/ctem/internal/store/sqlite"
	"github.com/ctem-dev/ctem/internal/store/sqlstore"
	"github.com/ctem-dev/ctem/internal/web"
)

// password is every test user's password.
const password = "correct horse battery staple"

// fixture is a real ctem serve on loopback, dashboard included, over a
// real SQLite file holding the demo estate, analysed, with users: admin
// (unscoped) and web (an analyst of team-web, which owns the edge proxy's
// image), and an admin API token.
type fixture struct {
	url   string
	st    *sqlstore.DB
	app   *app.App
	token string
}

func newFixture(t testing.TB) *fixture {
	t.Helper()
	return newFixtureScope(t, nil)
}

// newFixtureScope is newFixture with the demo's scope file changed by
// edit (when not nil) before it is set.
func newFixtureScope(t testing.TB, edit func([]byte) []byte) *fixture {
	t.Helper()
	ctx := context.Background()
	dir := t.TempDir()
	st, err := sqlite.Open(ctx, filepath.Join(dir, "ctem.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	a := &app.App{Store: st, Formats: inputs.All()}
	data, err := examples.Files.ReadFile(examples.Scope)
	if err != nil {
		t.Fatal(err)
	}
	// The demo's scope, with the edge proxy's image given to team-web, so
	// that two teams own exposures.
	data = bytes.Replace(data, []byte("\nenvironments:"), []byte("\n  - team: team-web\n    match:\n      - key: \"*alpine*\"\nenvironments:"), 1)
	if edit != nil {
		data = edit(data)
	}
	if _, _, err := a.SetScope(ctx, app.ScopeFile{Name: "ctem.yaml", Data: data}); err != nil {
		t.Fatal(err)
	}
	var req app.IngestRequest
	for _, name := range examples.Inputs {
		f, err := examples.Files.Open(name)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		req.Inputs = append(req.Inputs, app.Input{Name: name, R: f, Target: examples.Targets[name]})
	}
	if _, err := a.Ingest(ctx, req); err != nil {
		t.Fatal(err)
	}
	if _, err := a.Analyze(ctx, graph.Options{}); err != nil {
		t.Fatal(err)
	}
	for _, u := range []server.UserRequest{
		{Name: "admin", Role: "admin", Password: password},
		{Name: "web", Role: "analyst", Team: "team-web", Password: password},
		{Name: "uploader", Role: "uploader", Password: password},
		{Name: "viewer", Role: "viewer", Password: password},
	} {
		if _, err := server.CreateUser(ctx, st, u, time.Now()); err != nil {
			t.Fatal(err)
		}
	}
	_, token, err := server.CreateToken(ctx, st, server.TokenRequest{Name: "test", Role: "admin"}, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	ui, err := web.New(web.Config{})
	if err != nil {
		t.Fatal(err)
	}
	srv, err := server.New(server.Config{App: a, Store: st, SpoolDir: filepath.Join(dir, "spool"), UI: ui.WithAPI, RateLimit: -1,
		Feeds: func() (any, error) {
			return []feeds.FeedStatus{{Feed: "kev", Origin: "embedded", Version: "2026.01.29", DataDate: time.Date(2026, 1, 29, 0, 0, 0, 0, time.UTC), Age: 50 * 24 * time.Hour, Stale: true, Warning: "the KEV catalog is 50 days old"}}, nil
		}})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	sctx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() {
		done <- srv.Serve(sctx, ln, server.ListenConfig{Addr: ln.Addr().String(), ShutdownGrace: 5 * time.Second})
	}()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil && err != http.ErrServerClosed {
			t.Errorf("Serve() = %v", err)
		}
	})
	select {
	case <-srv.Ready():
	case err := <-done:
		t.Fatalf("Serve() = %v before ready", err)
	}
	return &fixture{url: "http://" + ln.Addr().String(), st: st, app: a, token: token}
}

// api reads an API resource with the admin token, or with a user's
// session client when c is not nil.
func (f *fixture) api(t testing.TB, c *http.Client, path string, out any) {
	t.Helper()
	req, err := http.NewRequest("GET", f.url+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	if c == nil {
		c = http.DefaultClient
		req.Header.Set("Authorization", "Bearer "+f.token)
	}
	res, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	if res.StatusCode != http.StatusOK {
		t.Fatalf("GET %s = %d %s", path, res.StatusCode, b)
	}
	if err := json.Unmarshal(b, out); err != nil {
		t.Fatalf("GET %s: %v", path, err)
	}
}

// client is an HTTP client that keeps cookies and does not follow
// redirects, so that a test sees each answer.
func client() *http.Client {
	jar, _ := cookiejar.New(nil)
	return &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
}

// get fetches a page and returns its status, headers and body.
func get(t testing.TB, c *http.Client, u string) (int, http.Header, string) {
	t.Helper()
	res, err := c.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res.StatusCode, res.Header, string(b)
}

// formToken returns the CSRF token of the first form in a page.
func formToken(t testing.TB, page string) string {
	t.Helper()
	_, rest, ok := strings.Cut(page, `name="csrf" value="`)
	if !ok {
		t.Fatalf("no CSRF token in the page:\n%.500s", page)
	}
	tok, _, _ := strings.Cut(rest, `"`)
	return tok
}

// signIn signs a user in through the sign-in form and returns the client.
func (f *fixture) signIn(t testing.TB, name string) *http.Client {
	t.Helper()
	c := client()
	_, _, page := get(t, c, f.url+"/signin")
	res, err := c.PostForm(f.url+"/signin", url.Values{"csrf": {formToken(t, page)}, "name": {name}, "password": {password}, "next": {"/"}})
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusSeeOther {
		t.Fatalf("sign in as %s = %d, want 303", name, res.StatusCode)
	}
	return c
}
