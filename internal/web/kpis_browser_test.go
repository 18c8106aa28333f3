package web_test

import (
	"bytes"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/ctem-dev/ctem/internal/kpi"
)

// hostileTeam is a team name full of markup, given in the scope to the
// teams that own the edge proxy's image (team-web) and the orders
// database, a crown jewel (team-data).
const hostileTeam = `<img src=x onerror=alert("team")><script>alert("team")</script>`

// TestBrowserKPIs opens the KPI page in headless Chromium, by crown jewel
// and by team, over a scope whose team names hold markup: the charts are
// drawn, the names are shown as text in the tables and the charts'
// legends, no element of them is created, no script runs and the page
// logs no error or CSP violation.
func TestBrowserKPIs(t *testing.T) {
	path := chromium(t)
	f := newFixtureScope(t, func(b []byte) []byte {
		q := `'` + hostileTeam + `'`
		for _, team := range []string{"team-web", "team-data"} {
			b = bytes.ReplaceAll(b, []byte("team: "+team), []byte("team: "+q))
			b = bytes.ReplaceAll(b, []byte("owner: "+team), []byte("owner: "+q))
		}
		return b
	})
	var ks kpi.Report
	f.api(t, nil, "/api/v1/kpis?since=90d&sla=true", &ks)
	hostileOwner := false
	for _, o := range ks.SLA {
		hostileOwner = hostileOwner || o.Owner == hostileTeam
	}
	if !hostileOwner {
		t.Fatalf("GET /api/v1/kpis?sla=true has no SLA row of the team %q", hostileTeam)
	}
	b := newBrowser(t, path)
	b.signIn(t, f.url, "admin")
	b.clean(t, "sign in")
	b.open(t, f.url+"/", "main")
	if n := eval[int](t, b, `document.querySelectorAll("nav a[href='/kpis']").length`); n != 1 {
		t.Errorf("the navigation has %d links to /kpis, want 1", n)
	}
	b.do(t, "follow the nav link", chromedp.Click(chromedp.CSS(`nav a[href="/kpis"]`)))
	b.until(t, "the KPI page", `location.pathname === "/kpis" && document.getElementById("kpi-sla") !== null`)
	for _, by := range []string{"jewel", "team"} {
		b.open(t, f.url+"/kpis?since=90d&by="+by, "#kpi-sla")
		where := "/kpis?by=" + by
		// Paths, burn-down, KEV and SLA: four line charts of one or more
		// series, each line with its points.
		lines := eval[[]int](t, b, `Array.from(document.querySelectorAll("svg.chart.multi")).map(s => s.querySelectorAll("polyline.line").length)`)
		if len(lines) != 4 || lines[0] != 2 || lines[1] != 2 || lines[2] != 1 || lines[3] != len(ks.SLA) {
			t.Errorf("%s draws line charts with %v lines, want [2 2 1 %d]", where, lines, len(ks.SLA))
		}
		if n := eval[int](t, b, `Array.from(document.querySelectorAll("svg.chart.multi polyline.line")).filter(l => l.points.numberOfItems > 0).length`); n < 5 {
			t.Errorf("%s: %d of its chart lines have points, want at least 5", where, n)
		}
		if n := eval[int](t, b, `document.querySelectorAll("svg.share rect.fill").length`); n != 1 {
			t.Errorf("%s draws %d critical-share bars, want 1", where, n)
		}
		legends := eval[[]string](t, b, `Array.from(document.querySelectorAll("svg.chart.multi text.legend")).map(e => e.textContent)`)
		if !contains(legends, hostileTeam[:39]) {
			t.Errorf("%s: the SLA chart's legends are %q, want the team %q as text", where, legends, hostileTeam)
		}
		owners := eval[[]string](t, b, `Array.from(document.querySelectorAll("#kpi-sla tbody")).map(e => e.dataset.owner)`)
		if !contains(owners, hostileTeam) {
			t.Errorf("%s: the SLA owners are %q, want %q among them", where, owners, hostileTeam)
		}
		text := eval[string](t, b, `document.getElementById("kpi-sla").innerText`)
		if !strings.Contains(text, hostileTeam[:59]) {
			t.Errorf("%s: the SLA table does not show the team's name as text", where)
		}
		if by == "team" {
			keys := eval[[]string](t, b, `Array.from(document.querySelectorAll("#kpi-breakdown tr[data-key]")).map(e => e.dataset.key)`)
			if !contains(keys, hostileTeam) {
				t.Errorf("%s: the teams of crown jewels are %q, want %q among them", where, keys, hostileTeam)
			}
		}
		created := eval[int](t, b, `document.querySelectorAll("img, iframe, object, embed, main script").length + document.querySelectorAll("script").length - 1`)
		if created != 0 {
			t.Errorf("%s: %d elements were made of the team's name", where, created)
		}
		b.clean(t, where)
	}
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s || strings.HasPrefix(v, s) {
			return true
		}
	}
	return false
}
