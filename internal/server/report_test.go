package server

import (
	"bytes"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/getkin/kin-openapi/openapi3filter"

	"github.com/ctem-dev/ctem/internal/kpi"
	"github.com/ctem-dev/ctem/internal/report"
)

// The report's media types, for the responses' validation against
// openapi.yaml (kin-openapi decodes only the types it registers).
func init() {
	openapi3filter.RegisterBodyDecoder("text/html", openapi3filter.PlainBodyDecoder)
	openapi3filter.RegisterBodyDecoder("text/markdown", openapi3filter.PlainBodyDecoder)
	openapi3filter.RegisterBodyDecoder("application/pdf", openapi3filter.FileBodyDecoder)
}

// TestReportAPI reads the report in each format: HTML under the page's
// own Content-Security-Policy with the title escaped, Markdown, PDF when
// a Chromium is installed (503 otherwise); a team-scoped principal is
// refused and bad parameters are named.
func TestReportAPI(t *testing.T) {
	t.Parallel()
	f := newFixture(t, Limits{}, true)
	title := `Q3 <script>alert(1)</script>`
	res := f.do(t, "GET", "/api/v1/report?since=30d&title="+url.QueryEscape(title), "viewer", "", nil)
	if res.status != http.StatusOK {
		t.Fatalf("GET /api/v1/report = %d %s, want 200", res.status, res.body)
	}
	if got := res.header.Get("Content-Security-Policy"); got != report.CSP {
		t.Errorf("GET /api/v1/report: Content-Security-Policy = %q, want %q", got, report.CSP)
	}
	if got := res.header.Get("Content-Type"); got != "text/html; charset=utf-8" {
		t.Errorf("GET /api/v1/report: Content-Type = %q, want text/html; charset=utf-8", got)
	}
	body := string(res.body)
	for _, want := range []string{`<meta http-equiv="Content-Security-Policy" content="` + report.CSP + `">`, "Q3 &lt;script&gt;alert(1)&lt;/script&gt;", "Executive summary", "team-orders"} {
		if !strings.Contains(body, want) {
			t.Errorf("GET /api/v1/report: the page has no %q", want)
		}
	}
	if strings.Contains(body, "<script>") {
		t.Errorf("GET /api/v1/report: the title came through unescaped")
	}

	res = f.do(t, "GET", "/api/v1/report?format=markdown", "analyst", "", nil)
	if res.status != http.StatusOK || !strings.HasPrefix(res.header.Get("Content-Type"), "text/markdown") || !bytes.HasPrefix(res.body, []byte("# CTEM report")) {
		t.Errorf("GET /api/v1/report?format=markdown = %d %s %.40q, want 200 text/markdown starting # CTEM report", res.status, res.header.Get("Content-Type"), res.body)
	}

	res = f.do(t, "GET", "/api/v1/report?format=pdf&since=14d", "viewer", "", nil)
	if _, err := report.Browser(); err != nil {
		if res.status != http.StatusServiceUnavailable {
			t.Errorf("GET /api/v1/report?format=pdf without Chromium = %d, want 503", res.status)
		}
	} else if res.status != http.StatusOK || res.header.Get("Content-Type") != "application/pdf" || !bytes.HasPrefix(res.body, []byte("%PDF-")) {
		t.Errorf("GET /api/v1/report?format=pdf = %d %s %.8q, want 200 application/pdf %%PDF-", res.status, res.header.Get("Content-Type"), res.body)
	}

	for _, c := range []struct {
		path, who string
		want      int
	}{
		{"/api/v1/report", webAnalyst, http.StatusForbidden},
		{"/api/v1/report?format=pdf", dataViewer, http.StatusForbidden},
		{"/api/v1/report?format=docx", "viewer", http.StatusBadRequest},
		{"/api/v1/report?since=3w", "viewer", http.StatusBadRequest},
		{"/api/v1/report?title=" + strings.Repeat("x", 201), "viewer", http.StatusBadRequest},
		{"/api/v1/report", "", http.StatusUnauthorized},
	} {
		if res := f.do(t, "GET", c.path, c.who, "", nil); res.status != c.want {
			t.Errorf("GET %.60s as %q = %d %.200s, want %d", c.path, c.who, res.status, res.body, c.want)
		}
	}
}

// TestKPIsSLA reads the SLA adherence series: one week per period for
// each owner, and at the last week's end (now) the open exposures with an
// SLA and those past due are the ones GET /api/v1/sla/owners counts (no
// exposure of the demo is accepted). A team-scoped principal sees its
// team only.
func TestKPIsSLA(t *testing.T) {
	t.Parallel()
	f := newFixture(t, Limits{}, true)
	var r kpi.Report
	f.do(t, "GET", "/api/v1/kpis?since=14d&sla=true", "viewer", "", nil).decode(t, &r)
	var owners SLAOwners
	f.do(t, "GET", "/api/v1/sla/owners", "viewer", "", nil).decode(t, &owners)
	if len(r.SLA) < 2 || len(r.SLA) != len(owners.Items) {
		t.Fatalf("GET /api/v1/kpis?sla=true: %d owners, want those of /api/v1/sla/owners (%d), at least 2", len(r.SLA), len(owners.Items))
	}
	for i, o := range r.SLA {
		if len(o.Weeks) != len(r.Periods) {
			t.Errorf("owner %s: %d weeks, want %d", o.Owner, len(o.Weeks), len(r.Periods))
			continue
		}
		last, want := o.Weeks[len(o.Weeks)-1], owners.Items[i]
		if o.Owner != want.Owner || last.Open != want.Total || last.PastDue != want.Breached || want.Accepted != 0 {
			t.Errorf("owner %s now: open %d, past due %d, want %s's total %d, breached %d (accepted %d)", o.Owner, last.Open, last.PastDue, want.Owner, want.Total, want.Breached, want.Accepted)
		}
	}
	var plain kpi.Report
	f.do(t, "GET", "/api/v1/kpis?since=14d", "viewer", "", nil).decode(t, &plain)
	if plain.SLA != nil {
		t.Errorf("GET /api/v1/kpis without sla: %d owners' SLA, want none", len(plain.SLA))
	}
	var team kpi.Report
	f.do(t, "GET", "/api/v1/kpis?sla=1", webAnalyst, "", nil).decode(t, &team)
	if len(team.SLA) != 1 || team.SLA[0].Owner != "team-web" {
		t.Errorf("GET /api/v1/kpis?sla=1 as team-web = %+v, want team-web's only", team.SLA)
	}
	if res := f.do(t, "GET", "/api/v1/kpis?sla=maybe", "viewer", "", nil); res.status != http.StatusBadRequest {
		t.Errorf("GET /api/v1/kpis?sla=maybe = %d, want 400", res.status)
	}
}
