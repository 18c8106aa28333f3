package server

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/legacy"

	"github.com/ctem-dev/ctem/api"
	"github.com/ctem-dev/ctem/examples"
	"github.com/ctem-dev/ctem/internal/app"
	"github.com/ctem-dev/ctem/internal/graph"
	"github.com/ctem-dev/ctem/internal/inputs"
	"github.com/ctem-dev/ctem/internal/store"
	"github.com/ctem-dev/ctem/internal/store/sqlite"
	"github.com/ctem-dev/ctem/internal/store/sqlstore"
	"github.com/ctem-dev/ctem/internal/store/storetest"
	"github.com/ctem-dev/ctem/internal/webhook"
)

// fixture is a real server on loopback over a real SQLite file holding
// the demo estate, analysed, with a token of every role.
type fixture struct {
	url    string
	dir    string
	st     *sqlstore.DB
	app    *app.App
	srv    *Server
	tokens map[string]string
	router routers.Router
}

// Token names of the fixture: one per role, and two team-scoped ones.
const (
	webAnalyst = "web-analyst" // analyst of team-web
	dataViewer = "data-viewer" // viewer of team-data
)

func demoInputs(t testing.TB) []app.Input {
	t.Helper()
	var out []app.Input
	for _, name := range examples.Inputs {
		f, err := examples.Files.Open(name)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { f.Close() })
		out = append(out, app.Input{Name: name, R: f, Target: examples.Targets[name]})
	}
	return out
}

// newStore opens a fresh database with the demo's scope stored.
func newStore(t testing.TB, dir string) (*sqlstore.DB, *app.App) {
	t.Helper()
	ctx := context.Background()
	st, err := sqlite.Open(ctx, filepath.Join(dir, "ctem.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return demoScope(t, st)
}

// demoScope stores the demo's scope in st, with the edge proxy's image
// given to team-web, and returns st with its App.
func demoScope(t testing.TB, st *sqlstore.DB) (*sqlstore.DB, *app.App) {
	t.Helper()
	ctx := context.Background()
	a := &app.App{Store: st, Formats: inputs.All()}
	data, err := examples.Files.ReadFile(examples.Scope)
	if err != nil {
		t.Fatal(err)
	}
	// The demo's scope, with the edge proxy's image given to team-web, so
	// that two teams own exposures.
	data = bytes.Replace(data, []byte("\nenvironments:"), []byte("\n  - team: team-web\n    match:\n      - key: \"*alpine*\"\nenvironments:"), 1)
	if _, _, err := a.SetScope(ctx, app.ScopeFile{Name: "ctem.yaml", Data: data}); err != nil {
		t.Fatal(err)
	}
	return st, a
}

// newStoreTest is newStore over storetest's database: a fresh SQLite
// file, or a fresh PostgreSQL database when CTEM_TEST_POSTGRES is set.
func newStoreTest(t testing.TB, dir string) (*sqlstore.DB, *app.App) {
	t.Helper()
	return demoScope(t, storetest.Open(t))
}

func newFixture(t testing.TB, lim Limits, demo bool) *fixture {
	t.Helper()
	return newFixtureWith(t, lim, demo, nil)
}

// newFixtureWith is newFixture with the server's configuration changed
// by edit (when not nil). By default deliveries may go to
// hooks.example.com only, and the periodic SLA check is off.
func newFixtureWith(t testing.TB, lim Limits, demo bool, edit func(*Config)) *fixture {
	t.Helper()
	return newFixtureOn(t, lim, demo, edit, newStore)
}

// newFixtureOn is newFixtureWith over the store that open makes in a
// directory (newStore: a SQLite file; newStoreTest: storetest's).
func newFixtureOn(t testing.TB, lim Limits, demo bool, edit func(*Config), open func(testing.TB, string) (*sqlstore.DB, *app.App)) *fixture {
	t.Helper()
	ctx := context.Background()
	dir := t.TempDir()
	st, a := open(t, dir)
	if demo {
		if _, err := a.Ingest(ctx, app.IngestRequest{Inputs: demoInputs(t)}); err != nil {
			t.Fatal(err)
		}
		if _, err := a.Analyze(ctx, graph.Options{}); err != nil {
			t.Fatal(err)
		}
	}
	f := &fixture{dir: dir, st: st, app: a, tokens: map[string]string{}}
	for _, r := range Roles {
		_, secret, err := CreateToken(ctx, st, TokenRequest{Name: string(r), Role: string(r)}, time.Now())
		if err != nil {
			t.Fatal(err)
		}
		f.tokens[string(r)] = secret
	}
	for name, req := range map[string]TokenRequest{
		webAnalyst: {Name: webAnalyst, Role: "analyst", Team: "team-web"},
		dataViewer: {Name: dataViewer, Role: "viewer", Team: "team-data"},
		"nobody":   {Name: "nobody", Role: "viewer", Team: "team-none"},
	} {
		_, secret, err := CreateToken(ctx, st, req, time.Now())
		if err != nil {
			t.Fatal(err)
		}
		f.tokens[name] = secret
	}
	logs := &syncBuffer{}
	cfg := Config{App: a, Store: st, SpoolDir: filepath.Join(dir, "spool"), Limits: lim, Log: slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
		Webhooks: WebhookConfig{Guard: webhook.Guard{Allow: []string{"hooks.example.com"}}}, Schedule: Schedule{SLA: -1}}
	if edit != nil {
		edit(&cfg)
	}
	srv, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	f.srv = srv
	// No token may appear in the server's log, whatever the test did.
	t.Cleanup(func() {
		out := logs.String()
		for name, secret := range f.tokens {
			if strings.Contains(out, secret) || strings.Contains(out, secret[len(tokenPrefix):]) {
				t.Errorf("the server's log holds the %s token", name)
			}
		}
	})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	sctx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() {
		done <- srv.Serve(sctx, ln, ListenConfig{Addr: ln.Addr().String(), ShutdownGrace: 5 * time.Second})
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
	f.url = "http://" + ln.Addr().String()
	doc, err := openapi3.NewLoader().LoadFromData(api.OpenAPI)
	if err != nil {
		t.Fatal(err)
	}
	if err := doc.Validate(ctx); err != nil {
		t.Fatalf("openapi.yaml: %v", err)
	}
	if f.router, err = legacy.NewRouter(doc); err != nil {
		t.Fatal(err)
	}
	return f
}

// response is a response read whole.
type response struct {
	status int
	header http.Header
	body   []byte
}

func (r response) decode(t testing.TB, v any) {
	t.Helper()
	if err := json.Unmarshal(r.body, v); err != nil {
		t.Fatalf("decode %s: %v", r.body, err)
	}
}

// do sends a request with the named token ("" for none) and validates
// the response against the OpenAPI document.
func (f *fixture) do(t testing.TB, method, path, token, contentType string, body io.Reader) response {
	t.Helper()
	req, err := http.NewRequest(method, f.url+path, body)
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+f.tokens[token])
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	res, err := http.DefaultClient.Do(req)
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

// validate checks a response against the OpenAPI document: its status
// is documented for the route, and its body matches the schema.
func (f *fixture) validate(t testing.TB, req *http.Request, res response) {
	t.Helper()
	if res.status == http.StatusNotFound && strings.Contains(string(res.body), "no such route") {
		return
	}
	vreq := req.Clone(context.Background())
	vreq.URL.Host = ""
	vreq.URL.Scheme = ""
	vreq.Host = ""
	route, params, err := f.router.FindRoute(vreq)
	if err != nil {
		t.Errorf("%s %s: not in openapi.yaml: %v", req.Method, req.URL.Path, err)
		return
	}
	in := &openapi3filter.ResponseValidationInput{
		RequestValidationInput: &openapi3filter.RequestValidationInput{Request: vreq, PathParams: params, Route: route,
			Options: &openapi3filter.Options{AuthenticationFunc: openapi3filter.NoopAuthenticationFunc}},
		Status:  res.status,
		Header:  res.header,
		Options: &openapi3filter.Options{IncludeResponseStatus: true},
	}
	in.SetBodyBytes(res.body)
	if err := openapi3filter.ValidateResponse(context.Background(), in); err != nil {
		t.Errorf("%s %s: response %d does not match openapi.yaml: %v\n%.600s", req.Method, req.URL.Path, res.status, err, res.body)
	}
}

// counts returns the database's row counts.
func (f *fixture) counts(t testing.TB) store.Counts {
	t.Helper()
	c, err := f.st.Counts(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// waitJob polls a job until it ends.
func (f *fixture) waitJob(t testing.TB, id, token string) store.Job {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		var j store.Job
		res := f.do(t, "GET", "/api/v1/jobs/"+id, token, "", nil)
		if res.status != http.StatusOK {
			t.Fatalf("GET job %s = %d %s", id, res.status, res.body)
		}
		res.decode(t, &j)
		if j.State == store.JobSucceeded || j.State == store.JobFailed {
			return j
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("job %s did not end", id)
	return store.Job{}
}

func app_IngestRequest(name string, data []byte) app.IngestRequest {
	return app.IngestRequest{Inputs: []app.Input{{Name: name, R: bytes.NewReader(data)}}}
}

// findingRows are the findings as the API shows them, without the
// times and scan ids, which differ between two ingests.
func findingRows(t testing.TB, st store.FindingReader) []string {
	t.Helper()
	var out []string
	for x, err := range st.Findings(context.Background(), store.Filter{Sort: store.SortID}) {
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, strings.Join([]string{x.ID, x.Tool, x.Asset, string(x.Severity), string(x.Status), x.ExposureID, x.Package.Name, x.Package.Version, x.RuleID, strings.Join(x.VulnIDs, ",")}, " "))
	}
	return out
}

func exposureRows(t testing.TB, st store.ExposureReader) []string {
	t.Helper()
	var out []string
	for x, err := range st.Exposures(context.Background(), store.Filter{Sort: store.SortID}) {
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, strings.Join([]string{x.ID, x.Asset, string(x.Severity), string(x.Status), strings.Join(x.FindingIDs, ","), strings.Join(x.Tools, ",")}, " "))
	}
	return out
}

func envInt(name string) int {
	n, _ := strconv.Atoi(os.Getenv(name))
	return n
}

// syncBuffer is a buffer safe for concurrent writes, for the server's log.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
