package jira_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ctem-dev/ctem/internal/graph"
	"github.com/ctem-dev/ctem/internal/store"
	"github.com/ctem-dev/ctem/internal/store/sqlite"
	"github.com/ctem-dev/ctem/internal/ticket"
	"github.com/ctem-dev/ctem/internal/ticket/jira"
	"github.com/ctem-dev/ctem/internal/ticket/tickettest"
)

// fakeJira is a stand-in for Jira's REST API v2 built from its documented
// payloads: /rest/api/2/search (startAt, maxResults, total, issues with
// fields.status.statusCategory.key and fields.resolution.name), POST
// /rest/api/2/issue answering {id, key, self}, PUT edit answering 204,
// GET/POST transitions, POST comment. It serves at most pageMax issues a
// page, answers the first search with 429 and Retry-After, and fails
// requests the test asks it to.
type fakeJira struct {
	mu       sync.Mutex
	issues   []*fakeIssue
	pageMax  int
	searches int
	failNext map[string]int // "METHOD path-prefix" -> status to answer once
	creates  int
	failAt   int // the failAt-th create answers 400 (0: none)
	requests []string
}

type fakeIssue struct {
	key, summary, description, status, category, resolution string
	labels                                                  []string
	comments                                                []string
}

func (f *fakeJira) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if u, p, ok := r.BasicAuth(); !ok || u != "bot@example.com" || p != "secret-token" {
		http.Error(w, `{"errorMessages":["unauthorized"]}`, http.StatusUnauthorized)
		return
	}
	f.requests = append(f.requests, r.Method+" "+r.URL.Path)
	for k, status := range f.failNext {
		if m, p, _ := strings.Cut(k, " "); m == r.Method && strings.HasPrefix(r.URL.Path, p) {
			delete(f.failNext, k)
			w.WriteHeader(status)
			fmt.Fprint(w, `{"errorMessages":["injected"]}`)
			return
		}
	}
	body, _ := io.ReadAll(r.Body)
	path := r.URL.Path
	switch {
	case r.Method == http.MethodGet && path == "/rest/api/2/search":
		f.searches++
		if f.searches == 1 {
			w.Header().Set("Retry-After", "2")
			w.WriteHeader(http.StatusTooManyRequests)
			return
		}
		if !strings.Contains(r.URL.Query().Get("jql"), `labels = "ctem"`) {
			http.Error(w, "bad jql", http.StatusBadRequest)
			return
		}
		start, _ := strconv.Atoi(r.URL.Query().Get("startAt"))
		max, _ := strconv.Atoi(r.URL.Query().Get("maxResults"))
		max = min(max, f.pageMax)
		var page []map[string]any
		for i := start; i < len(f.issues) && len(page) < max; i++ {
			is := f.issues[i]
			var res any
			if is.resolution != "" {
				res = map[string]any{"name": is.resolution}
			}
			page = append(page, map[string]any{"id": strconv.Itoa(10000 + i), "key": is.key, "fields": map[string]any{
				"summary": is.summary, "description": is.description, "labels": is.labels, "resolution": res,
				"status": map[string]any{"name": is.status, "statusCategory": map[string]any{"key": is.category}}}})
		}
		json.NewEncoder(w).Encode(map[string]any{"startAt": start, "maxResults": max, "total": len(f.issues), "issues": page})
	case r.Method == http.MethodPost && path == "/rest/api/2/issue":
		f.creates++
		if f.creates == f.failAt {
			http.Error(w, `{"errorMessages":["injected"]}`, http.StatusBadRequest)
			return
		}
		var req struct {
			Fields struct {
				Project     struct{ Key string } `json:"project"`
				Summary     string               `json:"summary"`
				Description string               `json:"description"`
				Labels      []string             `json:"labels"`
			} `json:"fields"`
		}
		if err := json.Unmarshal(body, &req); err != nil || req.Fields.Project.Key == "" {
			http.Error(w, `{"errors":{"project":"required"}}`, http.StatusBadRequest)
			return
		}
		key := fmt.Sprintf("%s-%d", req.Fields.Project.Key, len(f.issues)+1)
		f.issues = append(f.issues, &fakeIssue{key: key, summary: req.Fields.Summary, description: req.Fields.Description,
			labels: req.Fields.Labels, status: "To Do", category: "new"})
		w.WriteHeader(http.StatusCreated)
		json.NewEncoder(w).Encode(map[string]string{"id": strconv.Itoa(10000 + len(f.issues) - 1), "key": key, "self": "http://jira/rest/api/2/issue/" + key})
	default:
		rest, ok := strings.CutPrefix(path, "/rest/api/2/issue/")
		if !ok {
			http.NotFound(w, r)
			return
		}
		key, sub, _ := strings.Cut(rest, "/")
		is := f.find(key)
		if is == nil {
			http.NotFound(w, r)
			return
		}
		switch {
		case r.Method == http.MethodPut && sub == "":
			var req struct {
				Fields struct {
					Summary     string   `json:"summary"`
					Description string   `json:"description"`
					Labels      []string `json:"labels"`
				} `json:"fields"`
			}
			json.Unmarshal(body, &req)
			is.summary, is.description, is.labels = req.Fields.Summary, req.Fields.Description, req.Fields.Labels
			w.WriteHeader(http.StatusNoContent)
		case r.Method == http.MethodGet && sub == "transitions":
			json.NewEncoder(w).Encode(map[string]any{"transitions": []map[string]any{
				{"id": "11", "name": "To Do", "to": map[string]any{"name": "To Do", "statusCategory": map[string]any{"key": "new"}}},
				{"id": "31", "name": "Done", "to": map[string]any{"name": "Done", "statusCategory": map[string]any{"key": "done"}}},
			}})
		case r.Method == http.MethodPost && sub == "transitions":
			var req struct{ Transition struct{ ID string } }
			json.Unmarshal(body, &req)
			switch req.Transition.ID {
			case "31":
				is.status, is.category, is.resolution = "Done", "done", "Done"
			case "11":
				is.status, is.category, is.resolution = "To Do", "new", ""
			default:
				http.Error(w, "bad transition", http.StatusBadRequest)
				return
			}
			w.WriteHeader(http.StatusNoContent)
		case r.Method == http.MethodPost && sub == "comment":
			var req struct{ Body string }
			json.Unmarshal(body, &req)
			is.comments = append(is.comments, req.Body)
			w.WriteHeader(http.StatusCreated)
			fmt.Fprint(w, `{"id":"1"}`)
		default:
			http.NotFound(w, r)
		}
	}
}

func (f *fakeJira) find(key string) *fakeIssue {
	for _, is := range f.issues {
		if is.key == key {
			return is
		}
	}
	return nil
}

func wantTickets(keys ...string) []ticket.Ticket {
	var out []ticket.Ticket
	for _, k := range keys {
		out = append(out, ticket.FromPlanItem(graph.PlanItem{Action: graph.Action{Key: k, Title: "upgrade " + k, Owner: "team-orders",
			Exposures: []string{"x-" + k}}, RiskRemoved: 3}, nil, "2027-01-01", []ticket.Route{{Team: "team-orders", Project: "ORD"}}))
	}
	return out
}

func ops(r *ticket.Result) string {
	var out []string
	for _, c := range r.Changes {
		out = append(out, c.Op)
	}
	return strings.Join(out, ",")
}

func TestSync(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	fake := &fakeJira{pageMax: 2, failNext: map[string]int{}}
	srv := httptest.NewServer(fake)
	defer srv.Close()
	var waits []time.Duration
	client := &ticket.Client{HTTP: srv.Client(), Sleep: func(_ context.Context, d time.Duration) error { waits = append(waits, d); return nil }}
	tr := jira.New(srv.URL, "OPS", "bot@example.com", "secret-token", client)
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "ctem.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	now := time.Date(2026, 12, 3, 9, 0, 0, 0, time.UTC)
	sync := func(want []ticket.Ticket, dry bool) (*ticket.Result, error) {
		return ticket.Sync(ctx, tr, st, want, dry, now)
	}
	want := wantTickets("a", "b", "c", "d", "e")

	// A dry run writes nothing.
	res, err := sync(want, true)
	if err != nil {
		t.Fatal(err)
	}
	if got := ops(res); got != "create,create,create,create,create" || len(fake.issues) != 0 {
		t.Fatalf("Sync(dry run) = %s with %d issues created, want 5 creates planned and none made", got, len(fake.issues))
	}
	if len(waits) != 1 || waits[0] != 2*time.Second {
		t.Errorf("waits after a 429 with Retry-After: 2 = %v, want [2s]", waits)
	}

	// A failure half-way: the third create is refused (400, not
	// retried). The two created are recorded; the run again completes it
	// without duplicates, through a 503 that is retried.
	fake.mu.Lock()
	fake.failAt = 3
	fake.mu.Unlock()
	if _, err := sync(want, false); err == nil || !strings.Contains(err.Error(), "400") {
		t.Fatalf("Sync(third create refused) = %v, want the 400", err)
	}
	if n := countRecords(t, st); n != 2 || len(fake.issues) != 2 {
		t.Fatalf("after a refused third create: %d records, %d issues; want 2, 2", n, len(fake.issues))
	}
	fake.mu.Lock()
	fake.failNext["POST /rest/api/2/issue"] = http.StatusServiceUnavailable
	fake.mu.Unlock()
	res, err = sync(want, false)
	if err != nil {
		t.Fatal(err)
	}
	if got := ops(res); got != "create,create,create" || len(fake.issues) != 5 || countRecords(t, st) != 5 {
		t.Fatalf("Sync() after the failure = %s, %d issues, %d records; want 3 creates, 5 and 5", got, len(fake.issues), countRecords(t, st))
	}
	if fake.issues[0].key != "ORD-1" || !strings.Contains(fake.issues[0].description, "ctem-key: "+ticket.Key("a")) {
		t.Errorf("created issue %s = %q, want the route's project and the key marker", fake.issues[0].key, fake.issues[0].description)
	}

	// Idempotent: nothing changes the second time (the search pages by 2).
	before := len(fake.requests)
	res, err = sync(want, false)
	if err != nil {
		t.Fatal(err)
	}
	if ops(res) != "" || res.Unchanged != 5 {
		t.Errorf("Sync() again = %q, %d unchanged; want nothing to do", ops(res), res.Unchanged)
	}
	for _, r := range fake.requests[before:] {
		if !strings.HasPrefix(r, "GET ") {
			t.Errorf("Sync() again sent %s, want reads only", r)
		}
	}

	// People act: b closed as won't do, c closed as done though the
	// action is still needed; the action of e is fixed (leaves the plan)
	// and d's content changed.
	fake.mu.Lock()
	fake.find("ORD-2").status, fake.find("ORD-2").category, fake.find("ORD-2").resolution = "Closed", "done", "Won't Do"
	fake.find("ORD-3").status, fake.find("ORD-3").category, fake.find("ORD-3").resolution = "Done", "done", "Done"
	fake.mu.Unlock()
	want2 := wantTickets("a", "b", "c", "d")
	want2[3].Body += "\nnow 41 exposures\n"
	res, err = sync(want2, false)
	if err != nil {
		t.Fatal(err)
	}
	if got, wantOps := ops(res), "acceptance-request,reopen,update,close"; got != wantOps {
		t.Errorf("Sync(after people acted) = %s, want %s", got, wantOps)
	}
	if is := fake.find("ORD-3"); is.category != "new" || len(is.comments) == 0 {
		t.Errorf("regressed ORD-3 = %s with %d comments, want reopened with a comment", is.category, len(is.comments))
	}
	if is := fake.find("ORD-5"); is.category != "done" {
		t.Errorf("fixed ORD-5 = %s, want done", is.category)
	}
	if is := fake.find("ORD-2"); is.category != "done" {
		t.Errorf("won't-do ORD-2 = %s, want left closed", is.category)
	}
	res, err = sync(want2, false)
	if err != nil {
		t.Fatal(err)
	}
	if ops(res) != "" {
		t.Errorf("Sync(after people acted) again = %s, want nothing", ops(res))
	}
}

func countRecords(t testing.TB, st store.Mobilisation) int {
	t.Helper()
	n := 0
	for _, err := range st.Tickets(context.Background(), "jira") {
		if err != nil {
			t.Fatal(err)
		}
		n++
	}
	return n
}

// people plays the people on the Jira stand-in.
type people struct{ f *fakeJira }

func (p people) find(key string) *fakeIssue {
	for _, is := range p.f.issues {
		if strings.Contains(is.description, "ctem-key: "+key) {
			return is
		}
	}
	return nil
}

func (p people) Close(key string, wontFix bool) {
	p.f.mu.Lock()
	defer p.f.mu.Unlock()
	is := p.find(key)
	is.status, is.category, is.resolution = "Done", "done", "Done"
	if wontFix {
		is.resolution = "Won't Do"
	}
}

func (p people) Open(key string) (bool, bool) {
	p.f.mu.Lock()
	defer p.f.mu.Unlock()
	is := p.find(key)
	if is == nil {
		return false, false
	}
	return is.category != "done", true
}

func TestConformance(t *testing.T) {
	t.Parallel()
	fake := &fakeJira{pageMax: 2, failNext: map[string]int{}, searches: 1} // the 429 is TestSync's
	srv := httptest.NewServer(fake)
	defer srv.Close()
	tr := jira.New(srv.URL, "OPS", "bot@example.com", "secret-token", &ticket.Client{HTTP: srv.Client()})
	tickettest.Run(t, tr, people{fake})
}
