package server

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ctem-dev/ctem/internal/app"
	"github.com/ctem-dev/ctem/internal/graph"
	"github.com/ctem-dev/ctem/internal/model"
	"github.com/ctem-dev/ctem/internal/store"
	"github.com/ctem-dev/ctem/internal/ticket"
)

// mobilisationCalls returns, for the route-by-role test, the path (and
// body) of a call of each mobilisation route that succeeds for every
// role allowed, as often as it is made: the acceptance is of a whole
// path (accepted again with no open exposure left, it is still
// recorded), the false positive of an exposure of its own.
func mobilisationCalls(t testing.TB, f *fixture) map[string]string {
	t.Helper()
	pl, err := f.app.Paths(context.Background(), app.PathQuery{})
	if err != nil || len(pl.Paths) == 0 {
		t.Fatalf("Paths() = %v, %v; want the demo's paths", pl, err)
	}
	var fp string
	for x, err := range f.st.Exposures(context.Background(), store.Filter{Sort: store.SortID, Statuses: []model.Status{model.StatusOpen}}) {
		if err != nil {
			t.Fatal(err)
		}
		fp = x.ID // the last open exposure: not the triage route's
	}
	expires := time.Now().Add(10 * 24 * time.Hour).UTC().Format(time.RFC3339)
	return map[string]string{
		"actions":        "/api/v1/actions",
		"tickets.sync":   "/api/v1/tickets/sync?dry_run=true",
		"sla":            "/api/v1/sla",
		"accept":         "/api/v1/acceptances",
		"accept.body":    fmt.Sprintf(`{"path_id":%q,"reason":"segmented","approver":"ciso","expires":%q}`, pl.Paths[len(pl.Paths)-1].ID, expires),
		"false-positive": "/api/v1/exposures/" + fp + "/false-positive",
	}
}

func TestMobilisationRoutes(t *testing.T) {
	t.Parallel()
	f := newFixture(t, Limits{}, true)
	mine := demoExposure(t, f, "team-web")
	theirs := demoExposure(t, f, "team-orders")

	// The actions, each with its stable ticket key; a team sees its own.
	var acts struct{ Items []RemediationAction }
	f.do(t, "GET", "/api/v1/actions", "viewer", "", nil).decode(t, &acts)
	if len(acts.Items) == 0 {
		t.Fatal("GET /api/v1/actions = no action, want the fix plan's")
	}
	for _, a := range acts.Items {
		if a.TicketKey != ticket.Key(a.Key) || a.Exposures == 0 {
			t.Errorf("action %s: ticket key %s, %d exposures; want %s and its exposures", a.Key, a.TicketKey, a.Exposures, ticket.Key(a.Key))
		}
	}
	var teamActs struct{ Items []RemediationAction }
	f.do(t, "GET", "/api/v1/actions", dataViewer, "", nil).decode(t, &teamActs)
	for _, a := range teamActs.Items {
		if a.Owner != "team-data" {
			t.Errorf("GET /api/v1/actions as team-data lists %s of %q", a.Key, a.Owner)
		}
	}

	// No tracker: a sync is a dry run or a conflict; a team may not sync.
	if res := f.do(t, "POST", "/api/v1/tickets/sync", "admin", "", nil); res.status != http.StatusConflict {
		t.Errorf("POST sync without a tracker = %d %s, want 409", res.status, res.body)
	}
	var dry ticket.Result
	f.do(t, "POST", "/api/v1/tickets/sync?dry_run=true", "analyst", "", nil).decode(t, &dry)
	if !dry.DryRun || len(dry.Changes) < len(acts.Items) || dry.Changes[0].Op != "create" {
		t.Errorf("POST sync?dry_run=true = %+v, want a create per action", dry)
	}
	if res := f.do(t, "POST", "/api/v1/tickets/sync?dry_run=true", webAnalyst, "", nil); res.status != http.StatusForbidden {
		t.Errorf("POST sync as team-web = %d, want 403", res.status)
	}
	if res := f.do(t, "POST", "/api/v1/tickets/sync?dry_run=maybe", "admin", "", nil); res.status != http.StatusBadRequest {
		t.Errorf("POST sync?dry_run=maybe = %d, want 400", res.status)
	}

	// Acceptance: a team accepts its own exposure, not another team's,
	// not a vulnerability everywhere; the decider is the token.
	expires := time.Now().Add(10 * 24 * time.Hour).UTC().Format(time.RFC3339)
	body := func(scope string) *strings.Reader {
		return strings.NewReader(fmt.Sprintf(`{%s,"reason":"compensating control","approver":"ciso","expires":%q}`, scope, expires))
	}
	if res := f.do(t, "POST", "/api/v1/acceptances", webAnalyst, "application/json", body(fmt.Sprintf(`"exposure_id":%q`, theirs.ID))); res.status != http.StatusNotFound {
		t.Errorf("accept another team's exposure = %d %s, want 404", res.status, res.body)
	}
	if res := f.do(t, "POST", "/api/v1/acceptances", webAnalyst, "application/json", body(fmt.Sprintf(`"vuln_id":%q`, mine.VulnIDs[0]))); res.status != http.StatusForbidden {
		t.Errorf("accept a vulnerability everywhere as team-web = %d %s, want 403", res.status, res.body)
	}
	res := f.do(t, "POST", "/api/v1/acceptances", webAnalyst, "application/json", body(fmt.Sprintf(`"exposure_id":%q`, mine.ID)))
	var ar app.AcceptResult
	res.decode(t, &ar)
	if res.status != http.StatusCreated || len(ar.Changes) != 1 || ar.Changes[0].To != model.StatusAccepted || !strings.Contains(ar.Rule.By, webAnalyst) {
		t.Errorf("accept own exposure = %d %+v, want 201, one change to accepted by the token", res.status, ar)
	}
	for _, bad := range []string{`{"reason":"x","approver":"y","expires":"2020-01-01T00:00:00Z","exposure_id":"` + theirs.ID + `"}`, `{"reason":"x","approver":"y"}`, `{"reason":"x","approver":"y","expires":"` + expires + `","by":"mallory"}`} {
		if res := f.do(t, "POST", "/api/v1/acceptances", "admin", "application/json", strings.NewReader(bad)); res.status != http.StatusBadRequest {
			t.Errorf("accept %s = %d %s, want 400", bad, res.status, res.body)
		}
	}
	// A path, by an admin.
	pl, err := f.app.Paths(context.Background(), app.PathQuery{})
	if err != nil {
		t.Fatal(err)
	}
	res = f.do(t, "POST", "/api/v1/acceptances", "admin", "application/json", body(fmt.Sprintf(`"path_id":%q`, pl.Paths[0].ID[:10])))
	res.decode(t, &ar)
	if res.status != http.StatusCreated || ar.Rule.PathID != pl.Paths[0].ID {
		t.Errorf("accept path = %d %+v, want 201 and the path's id", res.status, ar.Rule)
	}

	// The rules on record: all of them unscoped, the team's own for a team.
	var rules struct{ Items []store.AcceptanceRule }
	f.do(t, "GET", "/api/v1/acceptances", "viewer", "", nil).decode(t, &rules)
	if len(rules.Items) != 2 {
		t.Errorf("GET /api/v1/acceptances = %d rules, want 2 (team-web's and the path's)", len(rules.Items))
	}
	f.do(t, "GET", "/api/v1/acceptances", webAnalyst, "", nil).decode(t, &rules)
	if len(rules.Items) != 1 || rules.Items[0].ExposureID != mine.ID {
		t.Errorf("GET /api/v1/acceptances as team-web = %+v, want its own rule only", rules.Items)
	}

	// A false positive of another team's exposure is not found; of one's own, recorded.
	if res := f.do(t, "POST", "/api/v1/exposures/"+theirs.ID+"/false-positive", webAnalyst, "application/json", strings.NewReader(`{"reason":"x"}`)); res.status != http.StatusNotFound {
		t.Errorf("false positive of another team's exposure = %d, want 404", res.status)
	}
	if res := f.do(t, "POST", "/api/v1/exposures/"+theirs.ID+"/false-positive", "analyst", "application/json", strings.NewReader(`{}`)); res.status != http.StatusBadRequest {
		t.Errorf("false positive without a reason = %d %s, want 400", res.status, res.body)
	}

	// SLA: a team sees its own; bad parameters are refused.
	var slas struct {
		Items    []SLAItem
		Breached int
	}
	f.do(t, "GET", "/api/v1/sla", "viewer", "", nil).decode(t, &slas)
	if len(slas.Items) == 0 {
		t.Fatal("GET /api/v1/sla = nothing, want the demo's SLA items")
	}
	var teamSLA struct{ Items []SLAItem }
	f.do(t, "GET", "/api/v1/sla", webAnalyst, "", nil).decode(t, &teamSLA)
	_, owners, _ := f.srv.estateNow(context.Background())
	for _, it := range teamSLA.Items {
		if !owners["team-web"][it.Asset] {
			t.Errorf("GET /api/v1/sla as team-web lists %s on %s", it.ExposureID, it.Asset)
		}
	}
	if len(teamSLA.Items) == 0 || len(teamSLA.Items) >= len(slas.Items) {
		t.Errorf("team-web SLA items = %d of %d, want its own only", len(teamSLA.Items), len(slas.Items))
	}
	for _, q := range []string{"breached=perhaps", "due_within=soon", "color=red"} {
		if res := f.do(t, "GET", "/api/v1/sla?"+q, "viewer", "", nil); res.status != http.StatusBadRequest {
			t.Errorf("GET /api/v1/sla?%s = %d, want 400", q, res.status)
		}
	}
}

// memTracker is an in-memory tracker.
type memTracker struct {
	mu      sync.Mutex
	tickets map[string]ticket.Remote
	fail    bool
}

func (m *memTracker) Name() string { return "github" }
func (m *memTracker) List(context.Context) ([]ticket.Remote, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []ticket.Remote
	for _, r := range m.tickets {
		out = append(out, r)
	}
	return out, nil
}
func (m *memTracker) Create(_ context.Context, t ticket.Ticket) (ticket.Remote, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.fail && len(m.tickets) >= 1 {
		return ticket.Remote{}, fmt.Errorf("tracker down (token ghp_secret)")
	}
	r := ticket.Remote{Key: t.Key, ID: fmt.Sprintf("shop/api#%d", len(m.tickets)+1), Open: true, Digest: t.Digest()}
	m.tickets[t.Key] = r
	return r, nil
}
func (m *memTracker) Update(_ context.Context, r ticket.Remote, t ticket.Ticket) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	r.Digest = t.Digest()
	m.tickets[t.Key] = r
	return nil
}
func (m *memTracker) SetOpen(_ context.Context, r ticket.Remote, _ ticket.Ticket, open bool, _ string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	r.Open = open
	m.tickets[r.Key] = r
	return nil
}

func TestTicketSyncOverHTTP(t *testing.T) {
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
	tr := &memTracker{tickets: map[string]ticket.Remote{}, fail: true}
	logs := &syncBuffer{}
	srv, err := New(Config{App: a, Store: st, SpoolDir: filepath.Join(dir, "spool"), Log: slog.New(slog.NewJSONHandler(logs, nil)),
		Mobilisation: Mobilisation{Tracker: func([]string) (ticket.Tracker, error) { return tr, nil }}})
	if err != nil {
		t.Fatal(err)
	}
	_, secret, err := CreateToken(ctx, st, TokenRequest{Name: "lead", Role: "analyst"}, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	sync := func() (int, ticket.Result) {
		req := httptest.NewRequest("POST", "/api/v1/tickets/sync", nil)
		req.Header.Set("Authorization", "Bearer "+secret)
		rec := httptest.NewRecorder()
		srv.Handler().ServeHTTP(rec, req)
		var res ticket.Result
		if rec.Code == http.StatusOK {
			if err := json.Unmarshal(rec.Body.Bytes(), &res); err != nil {
				t.Fatal(err)
			}
		} else if strings.Contains(rec.Body.String(), "ghp_secret") {
			t.Errorf("POST sync error body %s holds the tracker's error", rec.Body)
		}
		return rec.Code, res
	}
	// The tracker fails half-way: 502, and what it took is recorded.
	if code, _ := sync(); code != http.StatusBadGateway {
		t.Fatalf("POST sync (tracker failing) = %d, want 502", code)
	}
	n := 0
	for _, err := range st.Tickets(ctx, "github") {
		if err != nil {
			t.Fatal(err)
		}
		n++
	}
	if n != 1 {
		t.Errorf("ticket records after a failed sync = %d, want the one the tracker took", n)
	}
	tr.fail = false
	code, res := sync()
	if code != http.StatusOK || len(res.Changes) == 0 || res.Unchanged != 1 {
		t.Errorf("POST sync again = %d %+v, want the rest created, the first unchanged", code, res)
	}
	code, res = sync()
	if code != http.StatusOK || len(res.Changes) != 0 {
		t.Errorf("POST sync a third time = %d %+v, want nothing to do", code, res)
	}
	var audited int
	for e, err := range st.AuditLog(ctx, 0, 100) {
		if err != nil {
			t.Fatal(err)
		}
		if e.Action == "tickets.sync" {
			audited++
		}
	}
	if audited != 3 {
		t.Errorf("audit entries of tickets.sync = %d, want 3", audited)
	}
}
