package github_test

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
	"github.com/ctem-dev/ctem/internal/store/sqlite"
	"github.com/ctem-dev/ctem/internal/ticket"
	"github.com/ctem-dev/ctem/internal/ticket/github"
	"github.com/ctem-dev/ctem/internal/ticket/tickettest"
)

// fakeGitHub is a stand-in for the GitHub REST API's issues endpoints,
// built from their documented payloads: GET /repos/O/R/issues (state,
// labels, per_page, page; a Link header to the next page; pull requests
// among the issues), POST /repos/O/R/issues, PATCH
// /repos/O/R/issues/N (state, state_reason), POST .../comments. It serves
// at most two issues a page, answers the first list with 429 and
// Retry-After, and the first create with 502.
type fakeGitHub struct {
	mu       sync.Mutex
	srv      *httptest.Server
	issues   []map[string]any
	lists    int
	creates  int
	comments int
	writes   int
}

func (f *fakeGitHub) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if r.Header.Get("Authorization") != "Bearer ghp_test" {
		http.Error(w, `{"message":"Bad credentials"}`, http.StatusUnauthorized)
		return
	}
	path := strings.TrimPrefix(r.URL.Path, "/api/v3")
	rest, ok := strings.CutPrefix(path, "/repos/shop/api/issues")
	if !ok {
		http.NotFound(w, r)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	body, _ := io.ReadAll(r.Body)
	switch {
	case r.Method == http.MethodGet && rest == "":
		f.lists++
		if f.lists == 1 {
			w.Header().Set("Retry-After", "3")
			w.WriteHeader(http.StatusTooManyRequests)
			fmt.Fprint(w, `{"message":"API rate limit exceeded"}`)
			return
		}
		if r.URL.Query().Get("labels") != "ctem" || r.URL.Query().Get("state") != "all" {
			http.Error(w, `{"message":"want labels=ctem state=all"}`, http.StatusBadRequest)
			return
		}
		page, _ := strconv.Atoi(r.URL.Query().Get("page"))
		page = max(page, 1)
		from, to := (page-1)*2, min(page*2, len(f.issues))
		if to < len(f.issues) {
			w.Header().Set("Link", fmt.Sprintf(`<%s/api/v3/repos/shop/api/issues?labels=ctem&page=%d&per_page=2&state=all>; rel="next"`, f.srv.URL, page+1))
		}
		var out []map[string]any
		if from < to {
			out = f.issues[from:to]
		}
		json.NewEncoder(w).Encode(out)
	case r.Method == http.MethodPost && rest == "":
		f.creates++
		if f.creates == 1 {
			w.WriteHeader(http.StatusBadGateway)
			return
		}
		f.writes++
		var req map[string]any
		json.Unmarshal(body, &req)
		n := len(f.issues) + 1
		var labels []map[string]any
		for _, l := range req["labels"].([]any) {
			labels = append(labels, map[string]any{"name": l})
		}
		is := map[string]any{"number": n, "title": req["title"], "body": req["body"], "state": "open", "labels": labels,
			"html_url": fmt.Sprintf("https://github.com/shop/api/issues/%d", n)}
		f.issues = append(f.issues, is)
		w.WriteHeader(http.StatusCreated)
		json.NewEncoder(w).Encode(is)
	case r.Method == http.MethodPatch:
		n, err := strconv.Atoi(strings.TrimPrefix(rest, "/"))
		if err != nil || n < 1 || n > len(f.issues) {
			http.NotFound(w, r)
			return
		}
		f.writes++
		var req map[string]any
		json.Unmarshal(body, &req)
		for k, v := range req {
			if k == "labels" {
				continue // an edit's label names; the issue keeps label objects
			}
			f.issues[n-1][k] = v
		}
		json.NewEncoder(w).Encode(f.issues[n-1])
	case r.Method == http.MethodPost && strings.HasSuffix(rest, "/comments"):
		f.comments++
		w.WriteHeader(http.StatusCreated)
		fmt.Fprint(w, `{"id":1,"body":"ok"}`)
	default:
		http.NotFound(w, r)
	}
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
	fake := &fakeGitHub{}
	fake.srv = httptest.NewServer(fake)
	defer fake.srv.Close()
	// A pull request labelled ctem is listed by the issues endpoint and skipped.
	fake.issues = append(fake.issues, map[string]any{"number": 1, "title": "pr", "body": "ctem-key: ctem-000000000000", "state": "open",
		"pull_request": map[string]any{"url": "x"}})
	var waits []time.Duration
	hc := &http.Client{Transport: &ticket.Transport{Base: fake.srv.Client().Transport,
		Sleep: func(_ context.Context, d time.Duration) error { waits = append(waits, d); return nil }}}
	tr, err := github.New("ghp_test", fake.srv.URL, "shop/api", nil, hc)
	if err != nil {
		t.Fatal(err)
	}
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "ctem.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	item := func(k string) ticket.Ticket {
		return ticket.FromPlanItem(graph.PlanItem{Action: graph.Action{Key: k, Title: "upgrade " + k}, RiskRemoved: 2}, nil, "", nil)
	}
	want := []ticket.Ticket{item("a"), item("b"), item("c")}
	now := time.Date(2026, 12, 3, 9, 0, 0, 0, time.UTC)

	res, err := ticket.Sync(ctx, tr, st, want, false, now)
	if err != nil {
		t.Fatal(err)
	}
	if ops(res) != "create,create,create" || len(fake.issues) != 4 {
		t.Fatalf("Sync() = %s, %d issues; want 3 creates beside the pull request", ops(res), len(fake.issues))
	}
	if len(waits) != 2 || waits[0] != 3*time.Second {
		t.Errorf("waits = %v, want 3s (429 Retry-After) then a backoff (502)", waits)
	}
	writes := fake.writes
	res, err = ticket.Sync(ctx, tr, st, want, false, now)
	if err != nil {
		t.Fatal(err)
	}
	if ops(res) != "" || res.Unchanged != 3 || fake.writes != writes {
		t.Errorf("Sync() again = %q, %d unchanged, %d writes; want nothing", ops(res), res.Unchanged, fake.writes-writes)
	}
	fake.mu.Lock()
	fake.issues[1]["state"], fake.issues[1]["state_reason"] = "closed", "not_planned"
	fake.issues[2]["state"], fake.issues[2]["state_reason"] = "closed", "completed"
	fake.mu.Unlock()
	res, err = ticket.Sync(ctx, tr, st, []ticket.Ticket{item("a"), item("b")}, false, now)
	if err != nil {
		t.Fatal(err)
	}
	if got := ops(res); got != "acceptance-request,reopen,close" {
		t.Errorf("Sync(after people acted) = %s, want acceptance-request,reopen,close", got)
	}
	if fake.issues[2]["state"] != "open" || fake.issues[3]["state"] != "closed" || fake.issues[1]["state"] != "closed" {
		t.Errorf("issue states = %v %v %v, want closed (not planned), reopened, closed (fixed)", fake.issues[1]["state"], fake.issues[2]["state"], fake.issues[3]["state"])
	}
	res, err = ticket.Sync(ctx, tr, st, []ticket.Ticket{item("a"), item("b")}, false, now)
	if err != nil || ops(res) != "" {
		t.Errorf("Sync(after people acted) again = %q, %v; want nothing", ops(res), err)
	}
}

// people plays the people on the GitHub stand-in.
type people struct{ f *fakeGitHub }

func (p people) find(key string) map[string]any {
	for _, is := range p.f.issues {
		if b, _ := is["body"].(string); strings.Contains(b, "ctem-key: "+key) && is["pull_request"] == nil {
			return is
		}
	}
	return nil
}

func (p people) Close(key string, wontFix bool) {
	p.f.mu.Lock()
	defer p.f.mu.Unlock()
	is := p.find(key)
	is["state"], is["state_reason"] = "closed", "completed"
	if wontFix {
		is["state_reason"] = "not_planned"
	}
}

func (p people) Open(key string) (bool, bool) {
	p.f.mu.Lock()
	defer p.f.mu.Unlock()
	is := p.find(key)
	if is == nil {
		return false, false
	}
	return is["state"] == "open", true
}

func TestConformance(t *testing.T) {
	t.Parallel()
	fake := &fakeGitHub{lists: 1, creates: 1} // the 429 and 502 are TestSync's
	fake.srv = httptest.NewServer(fake)
	defer fake.srv.Close()
	tr, err := github.New("ghp_test", fake.srv.URL, "shop/api", nil, fake.srv.Client())
	if err != nil {
		t.Fatal(err)
	}
	tickettest.Run(t, tr, people{fake})
}
