package web_test

import (
	"encoding/json"
	"fmt"
	"html"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/ctem-dev/ctem/examples"
	"github.com/ctem-dev/ctem/internal/kpi"
	"github.com/ctem-dev/ctem/internal/store"
)

var (
	kpiRowRe  = regexp.MustCompile(`(?s)<tr ([^>]*)>(.*?)</tr>`)
	kpiAttrRe = regexp.MustCompile(`data-([a-z_]+)="([^"]*)"`)
	kpiCellRe = regexp.MustCompile(`data-k="([a-z_0-9]+)"(?: data-ns="(\d+)")?>([^<]*)<`)
	kpiTileRe = regexp.MustCompile(`data-kpi="([a-z_]+)">([^<]*)<`)
)

// kpiRow is a table row of the KPI page: its data attributes (key,
// week, owner ...) and its figures by their data-k (a duration in
// nanoseconds).
type kpiRow struct {
	Attrs map[string]string
	Cells map[string]string
}

// kpiTable returns the rows of the page's table id, each with the
// attributes of its tbody (the owner of an SLA row) too.
func kpiTable(t testing.TB, page, id string) []kpiRow {
	t.Helper()
	_, rest, ok := strings.Cut(page, `id="`+id+`"`)
	if !ok {
		return nil
	}
	rest, _, _ = strings.Cut(rest, "</table>")
	var out []kpiRow
	for i, part := range strings.Split(rest, "<tbody") {
		group := map[string]string{}
		if i > 0 {
			head, _, _ := strings.Cut(part, ">")
			for _, m := range kpiAttrRe.FindAllStringSubmatch(head, -1) {
				group[m[1]] = html.UnescapeString(m[2])
			}
		}
		for _, m := range kpiRowRe.FindAllStringSubmatch(part, -1) {
			r := kpiRow{Attrs: map[string]string{}, Cells: map[string]string{}}
			for k, v := range group {
				r.Attrs[k] = v
			}
			for _, a := range kpiAttrRe.FindAllStringSubmatch(m[1], -1) {
				r.Attrs[a[1]] = html.UnescapeString(a[2])
			}
			for _, c := range kpiCellRe.FindAllStringSubmatch(m[2], -1) {
				v := html.UnescapeString(c[3])
				if c[2] != "" {
					v = c[2]
				}
				r.Cells[c[1]] = v
			}
			if len(r.Cells) > 0 {
				out = append(out, r)
			}
		}
	}
	return out
}

// lastRecorded returns the validated paths of the report's latest
// recorded (not derived) snapshot, "–" when there is none.
func lastRecorded(k *kpi.Report, key func(kpi.Snapshot) int) string {
	v := "–"
	for _, s := range k.Snapshots {
		if !s.Derived {
			v = strconv.Itoa(key(s))
		}
	}
	return v
}

// TestKPIsPage checks the KPI page against the API's KPIs for the same
// principal and window, by crown jewel and by team: the tiles, every
// week's figures, the paths per jewel and per team, the time to
// remediate and the SLA adherence by owner week by week. The analyst of
// team-web sees its own team's rows only.
func TestKPIsPage(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	// The edge proxy's image scanned again without two of its four
	// vulnerabilities: two exposures of team-web are fixed, so that there
	// is a time to remediate.
	report, err := examples.Files.ReadFile("reports/edge-proxy-image.trivy.json")
	if err != nil {
		t.Fatal(err)
	}
	var doc map[string]any
	if err := json.Unmarshal(report, &doc); err != nil {
		t.Fatal(err)
	}
	res := doc["Results"].([]any)[0].(map[string]any)
	res["Vulnerabilities"] = res["Vulnerabilities"].([]any)[2:]
	rescan, err := json.Marshal(doc)
	if err != nil {
		t.Fatal(err)
	}
	if j := f.ingestAPI(t, "edge-proxy-rescan.trivy.json", rescan); j.State != store.JobSucceeded {
		t.Fatalf("ingest the rescan: job %s %s", j.State, j.Error)
	}
	for _, user := range []string{"admin", "web"} {
		c := f.signIn(t, user)
		var k, ks kpi.Report
		f.api(t, c, "/api/v1/kpis?since=90d", &k)
		f.api(t, c, "/api/v1/kpis?since=90d&sla=true", &ks)
		if k.Open == 0 || len(k.Periods) == 0 || len(ks.SLA) == 0 || len(k.BySeverity) == 0 {
			t.Fatalf("GET /api/v1/kpis as %s: %d open, %d periods, %d SLA owners, %d severities fixed; want the demo's figures", user, k.Open, len(k.Periods), len(ks.SLA), len(k.BySeverity))
		}
		if user == "admin" && len(k.ByBand) == 0 {
			t.Errorf("GET /api/v1/kpis as admin has no time to remediate by band, want the rescan's fixes in one")
		}
		status, _, jewelPage := get(t, c, f.url+"/kpis?since=90d&by=jewel")
		if status != http.StatusOK {
			t.Fatalf("GET /kpis?by=jewel as %s = %d, want 200", user, status)
		}
		_, _, teamPage := get(t, c, f.url+"/kpis?since=90d&by=team")

		tiles := map[string]string{}
		for _, m := range kpiTileRe.FindAllStringSubmatch(jewelPage, -1) {
			tiles[m[1]] = strings.TrimSpace(html.UnescapeString(m[2]))
		}
		validated := lastRecorded(&k, func(s kpi.Snapshot) int { return s.ValidatedPaths })
		wantTiles := map[string]string{"open": fmt.Sprint(k.Open), "open_paths": fmt.Sprint(k.OpenPaths), "validated_paths": validated,
			"open_on_critical": fmt.Sprint(k.OpenOnCritical), "kev_overdue": fmt.Sprint(k.KEVOverdue), "critical_share": fmt.Sprintf("%.0f%%", k.CriticalShare*100)}
		if diff := cmp.Diff(tiles, wantTiles); diff != "" {
			t.Errorf("the KPI page's tiles as %s (-got +want):\n%s", user, diff)
		}

		var gotWeeks, wantWeeks []map[string]string
		for _, r := range kpiTable(t, jewelPage, "kpi-weeks") {
			r.Cells["week"] = r.Attrs["week"]
			delete(r.Cells, "validated_paths")
			gotWeeks = append(gotWeeks, r.Cells)
		}
		for _, p := range k.Periods {
			wantWeeks = append(wantWeeks, map[string]string{"week": p.Start.Format("2006-01-02"), "opened": fmt.Sprint(p.Opened), "fixed": fmt.Sprint(p.Fixed),
				"reopened": fmt.Sprint(p.Reopened), "open": fmt.Sprint(p.Open), "kev_overdue": fmt.Sprint(p.KEVOverdue),
				"paths_opened": fmt.Sprint(p.PathsOpened), "paths_closed": fmt.Sprint(p.PathsClosed), "open_paths": fmt.Sprint(p.OpenPaths)})
		}
		if diff := cmp.Diff(gotWeeks, wantWeeks); diff != "" {
			t.Errorf("the KPI page's weeks as %s (-got +want):\n%s", user, diff)
		}
		if rows := kpiTable(t, jewelPage, "kpi-weeks"); len(rows) > 0 && rows[len(rows)-1].Cells["validated_paths"] != validated {
			t.Errorf("the KPI page's last week as %s shows %s validated paths, want the latest analysis's %s", user, rows[len(rows)-1].Cells["validated_paths"], validated)
		}

		type jewel struct{ Key, Series, Validated, OpenNow string }
		var gotJ, wantJ []jewel
		for _, r := range kpiTable(t, jewelPage, "kpi-breakdown") {
			gotJ = append(gotJ, jewel{r.Attrs["key"], r.Attrs["series"], r.Attrs["validated"], r.Cells["open_now"]})
		}
		for _, j := range k.Jewels {
			s := make([]string, len(j.Open))
			v := make([]string, len(j.Open))
			for i, n := range j.Open {
				s[i] = fmt.Sprint(n)
				// The validated paths of the latest analysis that recorded
				// them before the week's end (the last week includes To).
				end := k.Periods[i].End
				if i == len(k.Periods)-1 {
					end = k.To.Add(time.Nanosecond)
				}
				v[i] = "–"
				for _, sn := range k.Snapshots {
					if !sn.Derived && sn.At.Before(end) {
						v[i] = fmt.Sprint(sn.Jewels[j.Jewel].ValidatedPaths)
					}
				}
			}
			wantJ = append(wantJ, jewel{j.Jewel, strings.Join(s, ","), strings.Join(v, ","), fmt.Sprint(j.OpenNow)})
		}
		if len(wantJ) == 0 || !cmp.Equal(gotJ, wantJ) {
			t.Errorf("the KPI page's paths by crown jewel as %s = %v, want the API's %v", user, gotJ, wantJ)
		}

		type team struct{ Team, Open, Opened, Fixed, Mean, P90 string }
		var gotT, wantT []team
		for _, r := range kpiTable(t, teamPage, "kpi-teams") {
			gotT = append(gotT, team{r.Attrs["team"], r.Cells["open"], r.Cells["opened"], r.Cells["fixed"], r.Cells["mean"], r.Cells["p90"]})
		}
		for _, tm := range k.Teams {
			wantT = append(wantT, team{tm.Team, fmt.Sprint(tm.Open), fmt.Sprint(tm.Opened), fmt.Sprint(tm.Fixed), fmt.Sprint(int64(tm.Remediation.Mean)), fmt.Sprint(int64(tm.Remediation.P90))})
		}
		if len(wantT) == 0 || !cmp.Equal(gotT, wantT) {
			t.Errorf("the KPI page's exposures by team as %s = %v, want the API's %v", user, gotT, wantT)
		}
		teamKeys := map[string]string{}
		for _, r := range kpiTable(t, teamPage, "kpi-breakdown") {
			teamKeys[r.Attrs["key"]] = r.Cells["open_now"]
		}
		wantKeys := map[string]string{}
		if len(k.Snapshots) > 0 {
			for tm, s := range k.Snapshots[len(k.Snapshots)-1].Teams {
				wantKeys[tm] = fmt.Sprint(s.OpenPaths)
			}
		}
		if len(wantKeys) == 0 || !cmp.Equal(teamKeys, wantKeys) {
			t.Errorf("the KPI page's open paths by team as %s = %v, want the latest analysis's %v", user, teamKeys, wantKeys)
		}

		for _, tc := range []struct {
			id, attr string
			rows     []kpi.Remediation
		}{{"ttr-band", "band", k.ByBand}, {"ttr-severity", "severity", k.BySeverity}} {
			var got, want []string
			for _, r := range kpiTable(t, jewelPage, tc.id) {
				got = append(got, fmt.Sprintf("%s %s %s %s", r.Attrs[tc.attr], r.Cells["fixed"], r.Cells["mean"], r.Cells["p90"]))
			}
			for _, m := range tc.rows {
				key := m.Band
				if tc.attr == "severity" {
					key = string(m.Severity)
				}
				want = append(want, fmt.Sprintf("%s %d %d %d", key, m.Fixed, int64(m.Mean), int64(m.P90)))
			}
			if !cmp.Equal(got, want) {
				t.Errorf("the KPI page's %s as %s = %q, want the API's %q", tc.id, user, got, want)
			}
		}

		type slaWeek struct{ Owner, Week, Fixed, InTime, Open, PastDue string }
		var gotS, wantS []slaWeek
		for _, r := range kpiTable(t, jewelPage, "kpi-sla") {
			gotS = append(gotS, slaWeek{r.Attrs["owner"], r.Attrs["week"], r.Cells["fixed"], r.Cells["fixed_in_time"], r.Cells["open"], r.Cells["past_due"]})
		}
		owners := map[string]bool{}
		for _, o := range ks.SLA {
			owners[o.Owner] = true
			for _, w := range o.Weeks {
				wantS = append(wantS, slaWeek{o.Owner, w.Start.Format("2006-01-02"), fmt.Sprint(w.Fixed), fmt.Sprint(w.FixedInTime), fmt.Sprint(w.Open), fmt.Sprint(w.PastDue)})
			}
		}
		if diff := cmp.Diff(gotS, wantS); diff != "" {
			t.Errorf("the KPI page's SLA adherence by owner as %s (-got +want):\n%s", user, diff)
		}
		if user == "web" {
			for _, r := range kpiTable(t, jewelPage, "kpi-sla") {
				if o := r.Attrs["owner"]; o != "team-web" {
					t.Errorf("the KPI page as team-web shows the SLA row of owner %q", o)
				}
			}
			for _, tm := range gotT {
				if tm.Team != "team-web" {
					t.Errorf("the KPI page as team-web shows the exposures of team %q", tm.Team)
				}
			}
		} else if len(owners) < 2 {
			t.Errorf("GET /api/v1/kpis?sla=true as admin has SLA rows of owners %v, want several", owners)
		}
	}
}

// TestKPIsPageParams checks the page's refusal of a breakdown or window
// it does not know.
func TestKPIsPageParams(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	c := f.signIn(t, "admin")
	for _, tc := range []struct {
		query string
		want  int
	}{
		{"", http.StatusOK},
		{"?since=30d&by=team", http.StatusOK},
		{"?by=asset", http.StatusBadRequest},
		{"?since=90", http.StatusBadRequest},
		{"?since=%3Cscript%3E", http.StatusBadRequest},
	} {
		status, _, page := get(t, c, f.url+"/kpis"+tc.query)
		if status != tc.want {
			t.Errorf("GET /kpis%s = %d, want %d", tc.query, status, tc.want)
		}
		if strings.Contains(page, "<script>") {
			t.Errorf("GET /kpis%s echoes markup", tc.query)
		}
	}
}
