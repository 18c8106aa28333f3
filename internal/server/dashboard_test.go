package server

import (
	"bytes"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/ctem-dev/ctem/examples"
	"github.com/ctem-dev/ctem/internal/store"
)

// TestListJobs lists the recent jobs newest first, with the error of a
// failed ingest; an uploader or a team sees the jobs it created only.
func TestListJobs(t *testing.T) {
	t.Parallel()
	f := newFixture(t, Limits{}, false)
	report, err := examples.Files.ReadFile("reports/edge-proxy-image.trivy.json")
	if err != nil {
		t.Fatal(err)
	}
	ingest := func(token string, body []byte) store.Job {
		t.Helper()
		res := f.do(t, "POST", "/api/v1/ingest?name=edge.json", token, "application/json", bytes.NewReader(body))
		if res.status != http.StatusAccepted {
			t.Fatalf("POST /api/v1/ingest as %s = %d %s", token, res.status, res.body)
		}
		var j store.Job
		res.decode(t, &j)
		return f.waitJob(t, j.ID, token)
	}
	bad := ingest("uploader", report[:len(report)/2])
	good := ingest("admin", report)
	if bad.State != store.JobFailed || bad.Error == "" || good.State != store.JobSucceeded {
		t.Fatalf("jobs = %s (%q), %s; want a failed one with its error and a succeeded one", bad.State, bad.Error, good.State)
	}
	list := func(token, query string) Page[store.Job] {
		t.Helper()
		res := f.do(t, "GET", "/api/v1/jobs?"+query, token, "", nil)
		if res.status != http.StatusOK {
			t.Fatalf("GET /api/v1/jobs?%s as %s = %d %s", query, token, res.status, res.body)
		}
		var p Page[store.Job]
		res.decode(t, &p)
		return p
	}
	ids := func(p Page[store.Job]) []string {
		out := []string{}
		for _, j := range p.Items {
			out = append(out, j.ID)
		}
		return out
	}
	tests := []struct {
		token, query string
		want         []string
	}{
		{"admin", "kind=ingest", []string{good.ID, bad.ID}},
		{"viewer", "kind=ingest&state=failed", []string{bad.ID}},
		{"viewer", "kind=ingest&state=succeeded", []string{good.ID}},
		{"uploader", "", []string{bad.ID}},
		{webAnalyst, "", []string{}},
		{"admin", "kind=sla", []string{}},
	}
	for _, tt := range tests {
		if diff := cmp.Diff(ids(list(tt.token, tt.query)), tt.want); diff != "" {
			t.Errorf("GET /api/v1/jobs?%s as %s (-got +want):\n%s", tt.query, tt.token, diff)
		}
	}
	failed := list("viewer", "state=failed")
	if len(failed.Items) != 1 || failed.Items[0].Error != bad.Error {
		t.Errorf("GET /api/v1/jobs?state=failed = %+v, want the failed job with error %q", failed.Items, bad.Error)
	}
	// Paging: one job a page, then the next from the cursor.
	p1 := list("admin", "kind=ingest&limit=1")
	if p1.NextCursor == "" {
		t.Fatalf("GET /api/v1/jobs?limit=1 = %+v, want a next cursor", p1)
	}
	p2 := list("admin", "kind=ingest&limit=1&cursor="+url.QueryEscape(p1.NextCursor))
	if got := append(ids(p1), ids(p2)...); !cmp.Equal(got, []string{good.ID, bad.ID}) || p2.NextCursor != "" {
		t.Errorf("two pages of one job = %v (next %q), want [%s %s] and no cursor", got, p2.NextCursor, good.ID, bad.ID)
	}
	for _, q := range []string{"state=done", "cursor=xyz", "cursor=-1-a", "limit=0", "colour=red"} {
		if res := f.do(t, "GET", "/api/v1/jobs?"+q, "admin", "", nil); res.status != http.StatusBadRequest {
			t.Errorf("GET /api/v1/jobs?%s = %d, want 400", q, res.status)
		}
	}
}

// TestSLAByOwner checks the adherence by owner against the SLA listing:
// per owner, the items, the breached ones, and those due within 7 days
// (the due_within=7d listing less the breached), for everyone and for a
// team, which sees its own only.
func TestSLAByOwner(t *testing.T) {
	t.Parallel()
	f := newFixture(t, Limits{}, true)
	for _, token := range []string{"viewer", webAnalyst} {
		var all, soon struct{ Items []SLAItem }
		f.do(t, "GET", "/api/v1/sla", token, "", nil).decode(t, &all)
		f.do(t, "GET", "/api/v1/sla?due_within=7d", token, "", nil).decode(t, &soon)
		want := map[string]OwnerSLA{}
		for _, it := range all.Items {
			o := want[it.Owner]
			o.Owner = it.Owner
			o.Total++
			if it.Breached {
				o.Breached++
			}
			if it.Accepted {
				o.Accepted++
			}
			want[it.Owner] = o
		}
		for _, it := range soon.Items {
			if !it.Breached {
				o := want[it.Owner]
				o.DueSoon++
				want[it.Owner] = o
			}
		}
		var got SLAOwners
		f.do(t, "GET", "/api/v1/sla/owners", token, "", nil).decode(t, &got)
		if len(all.Items) == 0 || len(got.Items) == 0 {
			t.Fatalf("GET /api/v1/sla as %s = %d items, owners %+v; want the demo's SLAs", token, len(all.Items), got.Items)
		}
		gotBy := map[string]OwnerSLA{}
		for i, o := range got.Items {
			if i > 0 && strings.Compare(got.Items[i-1].Owner, o.Owner) >= 0 {
				t.Errorf("owners out of order: %q before %q", got.Items[i-1].Owner, o.Owner)
			}
			if w := float64(o.Total-o.Breached) / float64(o.Total); o.Within != w {
				t.Errorf("owner %q within SLA = %v, want %v", o.Owner, o.Within, w)
			}
			o.Within = 0
			gotBy[o.Owner] = o
		}
		if diff := cmp.Diff(gotBy, want); diff != "" {
			t.Errorf("GET /api/v1/sla/owners as %s (-got +want):\n%s", token, diff)
		}
		if token == webAnalyst && (len(got.Items) != 1 || got.Items[0].Owner != "team-web") {
			t.Errorf("GET /api/v1/sla/owners as team-web = %+v, want team-web only", got.Items)
		}
	}
	if res := f.do(t, "GET", "/api/v1/sla/owners?due_within=soon", "viewer", "", nil); res.status != http.StatusBadRequest {
		t.Errorf("GET /api/v1/sla/owners?due_within=soon = %d, want 400", res.status)
	}
}
