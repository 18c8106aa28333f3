package gitlab_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ctem-dev/ctem/internal/graph"
	"github.com/ctem-dev/ctem/internal/store/sqlite"
	"github.com/ctem-dev/ctem/internal/ticket"
	"github.com/ctem-dev/ctem/internal/ticket/gitlab"
	"github.com/ctem-dev/ctem/internal/ticket/tickettest"
)

// fakeGitLab is a stand-in for GitLab's REST API v4 issues endpoints,
// built from their documented payloads (docs.gitlab.com/api/issues and
// api/notes): GET /api/v4/projects/:id/issues (state=all, labels as a
// comma-separated list, per_page, page; X-Next-Page and X-Total-Pages
// headers), POST .../issues (title, description, labels as a
// comma-separated string, assignee_ids), PUT .../issues/:iid (state_event
// close or reopen, labels replacing the set), POST
// .../issues/:iid/notes, GET /api/v4/users?username=. The project id is
// the URL-encoded path. Issues answer with iid, state "opened" or
// "closed", labels as an array of names, web_url, closed_by. It serves at
// most two issues a page, answers the first list with 429 and
// Retry-After, and the first create with 502.
type fakeGitLab struct {
	mu      sync.Mutex
	issues  []map[string]any
	lists   int
	creates int
	notes   int
	writes  int
	bodies  []string
	// refuse, when above 0, refuses every create after that many
	// issues exist with 403 (a token that lost its rights half-way).
	refuse int
}

func (f *fakeGitLab) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if r.Header.Get("Private-Token") != "glpat-test" {
		w.WriteHeader(http.StatusUnauthorized)
		fmt.Fprint(w, `{"message":"401 Unauthorized"}`)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	if r.URL.Path == "/api/v4/users" {
		if r.URL.Query().Get("username") == "alice" {
			fmt.Fprint(w, `[{"id":42,"username":"alice","name":"Alice","state":"active"}]`)
			return
		}
		fmt.Fprint(w, `[]`)
		return
	}
	// The project id is URL-encoded in the path: shop%2Fapi.
	rest, ok := strings.CutPrefix(r.URL.EscapedPath(), "/api/v4/projects/shop%2Fapi/issues")
	if !ok {
		w.WriteHeader(http.StatusNotFound)
		fmt.Fprint(w, `{"message":"404 Project Not Found"}`)
		return
	}
	body, _ := io.ReadAll(r.Body)
	f.bodies = append(f.bodies, string(body))
	req := map[string]any{}
	if len(body) > 0 {
		if err := json.Unmarshal(body, &req); err != nil {
			vs, _ := url.ParseQuery(string(body))
			for k := range vs {
				req[k] = vs.Get(k)
			}
		}
	}
	labelsOf := func(v any) []any {
		var out []any
		if s, ok := v.(string); ok {
			for l := range strings.SplitSeq(s, ",") {
				out = append(out, l)
			}
		}
		return out
	}
	switch {
	case r.Method == http.MethodGet && rest == "":
		f.lists++
		if f.lists == 1 {
			w.Header().Set("Retry-After", "3")
			w.WriteHeader(http.StatusTooManyRequests)
			fmt.Fprint(w, `{"message":"429 Too Many Requests"}`)
			return
		}
		q := r.URL.Query()
		if q.Get("labels") != "ctem" || q.Get("state") != "all" {
			w.WriteHeader(http.StatusBadRequest)
			fmt.Fprint(w, `{"error":"want labels=ctem state=all"}`)
			return
		}
		page, _ := strconv.Atoi(q.Get("page"))
		page = max(page, 1)
		from, to := (page-1)*2, min(page*2, len(f.issues))
		pages := max((len(f.issues)+1)/2, 1)
		w.Header().Set("X-Page", strconv.Itoa(page))
		w.Header().Set("X-Per-Page", "2")
		w.Header().Set("X-Total", strconv.Itoa(len(f.issues)))
		w.Header().Set("X-Total-Pages", strconv.Itoa(pages))
		if page < pages {
			w.Header().Set("X-Next-Page", strconv.Itoa(page+1))
		} else {
			w.Header().Set("X-Next-Page", "")
		}
		out := []map[string]any{}
		if from < to {
			out = f.issues[from:to]
		}
		json.NewEncoder(w).Encode(out)
	case r.Method == http.MethodPost && rest == "":
		f.creates++
		if f.creates == 1 {
			w.WriteHeader(http.StatusBadGateway)
			fmt.Fprint(w, `<html>502 Bad Gateway</html>`)
			return
		}
		if f.refuse > 0 && len(f.issues) >= f.refuse {
			w.WriteHeader(http.StatusForbidden)
			fmt.Fprint(w, `{"message":"403 Forbidden"}`)
			return
		}
		f.writes++
		n := len(f.issues) + 1
		is := map[string]any{"id": 1000 + n, "iid": n, "project_id": 7, "title": req["title"], "description": req["description"],
			"state": "opened", "labels": labelsOf(req["labels"]), "assignees": []any{}, "closed_by": nil,
			"web_url": fmt.Sprintf("https://gitlab.example.com/shop/api/-/issues/%d", n)}
		if ids, ok := req["assignee_ids"].([]any); ok {
			is["assignee_ids"] = ids
		}
		f.issues = append(f.issues, is)
		w.WriteHeader(http.StatusCreated)
		json.NewEncoder(w).Encode(is)
	case r.Method == http.MethodPut:
		n, err := strconv.Atoi(strings.TrimPrefix(rest, "/"))
		if err != nil || n < 1 || n > len(f.issues) {
			w.WriteHeader(http.StatusNotFound)
			fmt.Fprint(w, `{"message":"404 Issue Not Found"}`)
			return
		}
		f.writes++
		is := f.issues[n-1]
		for k, v := range req {
			switch k {
			case "state_event":
				switch v {
				case "close":
					is["state"], is["closed_by"] = "closed", map[string]any{"id": 1, "username": "ctem-bot"}
				case "reopen":
					is["state"], is["closed_by"] = "opened", nil
				}
			case "labels":
				is["labels"] = labelsOf(v)
			default:
				is[k] = v
			}
		}
		json.NewEncoder(w).Encode(is)
	case r.Method == http.MethodPost && strings.HasSuffix(rest, "/notes"):
		f.notes++
		w.WriteHeader(http.StatusCreated)
		fmt.Fprintf(w, `{"id":%d,"body":%q,"system":false,"noteable_type":"Issue"}`, f.notes, req["body"])
	default:
		w.WriteHeader(http.StatusNotFound)
		fmt.Fprint(w, `{"error":"404 Not Found"}`)
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
	fake := &fakeGitLab{}
	srv := httptest.NewServer(fake)
	defer srv.Close()
	// An issue labelled ctem without a key marker is someone else's and is left alone.
	fake.issues = append(fake.issues, map[string]any{"iid": 1, "title": "manual", "description": "no marker", "state": "opened",
		"labels": []any{"ctem"}, "web_url": "https://gitlab.example.com/shop/api/-/issues/1"})
	var waits []time.Duration
	hc := &http.Client{Transport: &ticket.Transport{Base: srv.Client().Transport,
		Sleep: func(_ context.Context, d time.Duration) error { waits = append(waits, d); return nil }}}
	tr, err := gitlab.New("glpat-test", srv.URL, "shop/api", nil, hc)
	if err != nil {
		t.Fatal(err)
	}
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "ctem.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	routes := []ticket.Route{{Team: "payments", Labels: []string{"team::payments"}, Assignee: "alice"}}
	item := func(k string) ticket.Ticket {
		return ticket.FromPlanItem(graph.PlanItem{Action: graph.Action{Key: k, Title: "upgrade " + k, Owner: "payments"}, RiskRemoved: 2}, nil, "", routes)
	}
	want := []ticket.Ticket{item("a"), item("b"), item("c")}
	now := time.Date(2026, 12, 3, 9, 0, 0, 0, time.UTC)

	res, err := ticket.Sync(ctx, tr, st, want, false, now)
	if err != nil {
		t.Fatal(err)
	}
	if ops(res) != "create,create,create" || len(fake.issues) != 4 {
		t.Fatalf("Sync() = %s, %d issues; want 3 creates beside the manual issue", ops(res), len(fake.issues))
	}
	if len(waits) != 2 || waits[0] != 3*time.Second {
		t.Errorf("waits = %v, want 3s (429 Retry-After) then a backoff (502)", waits)
	}
	if got := fake.issues[1]["labels"]; fmt.Sprint(got) != "[ctem team::payments]" {
		t.Errorf("created labels = %v, want [ctem team::payments]", got)
	}
	if got := fmt.Sprint(fake.issues[1]["assignee_ids"]); got != "[42]" {
		t.Errorf("created assignee_ids = %v, want [42] (alice looked up by username)", got)
	}
	if res.Changes[0].ID != "shop/api#2" {
		t.Errorf("Sync().Changes[0].ID = %q, want shop/api#2", res.Changes[0].ID)
	}
	writes := fake.writes
	res, err = ticket.Sync(ctx, tr, st, want, false, now)
	if err != nil {
		t.Fatal(err)
	}
	if ops(res) != "" || res.Unchanged != 3 || fake.writes != writes {
		t.Errorf("Sync() again = %q, %d unchanged, %d writes; want nothing", ops(res), res.Unchanged, fake.writes-writes)
	}
	// People act: b closed as won't fix (a label), c closed as done, and a's content changes.
	fake.mu.Lock()
	fake.issues[2]["state"], fake.issues[2]["labels"] = "closed", []any{"ctem", "Won't Fix"}
	fake.issues[3]["state"] = "closed"
	fake.mu.Unlock()
	changed := ticket.FromPlanItem(graph.PlanItem{Action: graph.Action{Key: "a", Title: "upgrade a", Owner: "payments"}, RiskRemoved: 5}, nil, "", routes)
	res, err = ticket.Sync(ctx, tr, st, []ticket.Ticket{changed, item("c")}, false, now)
	if err != nil {
		t.Fatal(err)
	}
	if got := ops(res); got != "update,reopen" {
		t.Errorf("Sync(after people acted) = %s, want update,reopen", got)
	}
	res, err = ticket.Sync(ctx, tr, st, []ticket.Ticket{changed, item("b"), item("c")}, false, now)
	if err != nil {
		t.Fatal(err)
	}
	if got := ops(res); got != "acceptance-request" {
		t.Errorf("Sync(b wanted, closed won't fix) = %s, want acceptance-request", got)
	}
	res, err = ticket.Sync(ctx, tr, st, []ticket.Ticket{item("b")}, false, now)
	if err != nil {
		t.Fatal(err)
	}
	if got := ops(res); got != "close,close" {
		t.Errorf("Sync(a and c fixed) = %s, want close,close", got)
	}
	for i, want := range []string{"opened", "closed", "closed", "closed"} {
		if fake.issues[i]["state"] != want {
			t.Errorf("issue %d state = %v, want %s", i+1, fake.issues[i]["state"], want)
		}
	}
	if fake.notes != 3 {
		t.Errorf("notes = %d, want 3 (one reopen, two closes)", fake.notes)
	}
	if !strings.Contains(fake.issues[1]["description"].(string), "5.00") {
		t.Errorf("updated description = %q, want the new risk 5.00", fake.issues[1]["description"])
	}
	res, err = ticket.Sync(ctx, tr, st, []ticket.Ticket{item("b")}, false, now)
	if err != nil || ops(res) != "" {
		t.Errorf("Sync(b) again = %q, %v; want nothing", ops(res), err)
	}
}

func TestNewRejectsBadProject(t *testing.T) {
	t.Parallel()
	for _, p := range []string{"shop/api#3", "/shop", "shop/"} {
		if _, err := gitlab.New("x", "", p, nil, nil); err == nil {
			t.Errorf("New(%q) = nil error, want a project error", p)
		}
	}
}

func TestUnauthorised(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(&fakeGitLab{})
	defer srv.Close()
	tr, err := gitlab.New("wrong-token", srv.URL, "shop/api", nil, srv.Client())
	if err != nil {
		t.Fatal(err)
	}
	_, err = tr.List(context.Background())
	if err == nil || !strings.Contains(err.Error(), "401") || strings.Contains(err.Error(), "wrong-token") {
		t.Errorf("List(bad token) = %v, want a 401 error that does not repeat the token", err)
	}
}

// TestSyncHalfWay checks that a sync the tracker stops half-way leaves
// ctem's records matching what was created, and that running it again
// completes it without a duplicate.
func TestSyncHalfWay(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	fake := &fakeGitLab{lists: 1, creates: 1, refuse: 2} // no 429 or 502 here
	srv := httptest.NewServer(fake)
	defer srv.Close()
	tr, err := gitlab.New("glpat-test", srv.URL, "shop/api", nil, srv.Client())
	if err != nil {
		t.Fatal(err)
	}
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "ctem.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	var want []ticket.Ticket
	for _, k := range []string{"a", "b", "c", "d"} {
		want = append(want, ticket.FromPlanItem(graph.PlanItem{Action: graph.Action{Key: k, Title: "upgrade " + k}, RiskRemoved: 1}, nil, "", nil))
	}
	now := time.Date(2026, 12, 3, 9, 0, 0, 0, time.UTC)
	res, err := ticket.Sync(ctx, tr, st, want, false, now)
	if err == nil || !strings.Contains(err.Error(), "403") {
		t.Fatalf("Sync(refused half-way) = %v, want the 403", err)
	}
	recorded := 0
	for r, err := range st.Tickets(ctx, "gitlab") {
		if err != nil {
			t.Fatal(err)
		}
		if r.External == "" {
			t.Errorf("record %s has no issue id", r.ActionKey)
		}
		recorded++
	}
	if recorded != 2 || len(fake.issues) != 2 || res == nil {
		t.Fatalf("after the refusal: %d records, %d issues; want the 2 created recorded", recorded, len(fake.issues))
	}
	fake.mu.Lock()
	fake.refuse = 0
	fake.mu.Unlock()
	res, err = ticket.Sync(ctx, tr, st, want, false, now)
	if err != nil || ops(res) != "create,create" || res.Unchanged != 2 || len(fake.issues) != 4 {
		t.Errorf("Sync() again = %q, %d unchanged, %d issues, %v; want the 2 missing created, no duplicate", ops(res), res.Unchanged, len(fake.issues), err)
	}
}

// people plays the people on the GitLab stand-in.
type people struct{ f *fakeGitLab }

func (p people) find(key string) map[string]any {
	for _, is := range p.f.issues {
		if d, _ := is["description"].(string); strings.Contains(d, "ctem-key: "+key) {
			return is
		}
	}
	return nil
}

func (p people) Close(key string, wontFix bool) {
	p.f.mu.Lock()
	defer p.f.mu.Unlock()
	is := p.find(key)
	is["state"], is["closed_by"] = "closed", map[string]any{"id": 7, "username": "alice"}
	if wontFix {
		is["labels"] = append(is["labels"].([]any), "won't fix")
	}
}

func (p people) Open(key string) (bool, bool) {
	p.f.mu.Lock()
	defer p.f.mu.Unlock()
	is := p.find(key)
	if is == nil {
		return false, false
	}
	return is["state"] == "opened", true
}

func TestConformance(t *testing.T) {
	t.Parallel()
	fake := &fakeGitLab{lists: 1, creates: 1} // the 429 and 502 are TestSync's
	srv := httptest.NewServer(fake)
	defer srv.Close()
	tr, err := gitlab.New("glpat-test", srv.URL, "shop/api", nil, srv.Client())
	if err != nil {
		t.Fatal(err)
	}
	tickettest.Run(t, tr, people{fake})
}
