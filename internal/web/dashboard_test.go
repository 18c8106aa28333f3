package web_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"html"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/ctem-dev/ctem/examples"
	"github.com/ctem-dev/ctem/internal/server"
	"github.com/ctem-dev/ctem/internal/store"
)

// ingestAPI uploads a report through the API with the admin token and
// waits for its job to end.
func (f *fixture) ingestAPI(t testing.TB, name string, body []byte) store.Job {
	t.Helper()
	req, err := http.NewRequest("POST", f.url+"/api/v1/ingest?name="+url.QueryEscape(name), bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+f.token)
	req.Header.Set("Content-Type", "application/json")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusAccepted {
		t.Fatalf("POST /api/v1/ingest = %d, want 202", res.StatusCode)
	}
	id := strings.TrimPrefix(res.Header.Get("Location"), "/api/v1/jobs/")
	for deadline := time.Now().Add(60 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		var j store.Job
		f.api(t, nil, "/api/v1/jobs/"+id, &j)
		if j.State == store.JobSucceeded || j.State == store.JobFailed {
			return j
		}
	}
	t.Fatalf("job %s did not end", id)
	return store.Job{}
}

// cell returns the unescaped text of the first cell of class class in
// the table row marked attr="value", and whether there is one.
func cell(page, attr, value, class string) (string, bool) {
	_, row, ok := strings.Cut(page, attr+`="`+html.EscapeString(value)+`"`)
	if !ok {
		return "", false
	}
	row, _, _ = strings.Cut(row, "</tr>")
	_, c, ok := strings.Cut(row, `class="`+class+`">`)
	if !ok {
		return "", false
	}
	c, _, _ = strings.Cut(c, "</td>")
	return html.UnescapeString(c), true
}

// TestScansPageJobs uploads a truncated report, whose name holds markup,
// through the API: the scans page lists the failed job with its error
// and name as text, and the succeeded one with its counts; a team-scoped
// user, who created neither, sees neither.
func TestScansPageJobs(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	report, err := examples.Files.ReadFile("reports/edge-proxy-image.trivy.json")
	if err != nil {
		t.Fatal(err)
	}
	const evil = `<img src=x onerror=alert(1)>.json`
	bad := f.ingestAPI(t, evil, report[:len(report)*2/3])
	good := f.ingestAPI(t, "edge.json", report)
	if bad.State != store.JobFailed || bad.Error == "" || good.State != store.JobSucceeded {
		t.Fatalf("jobs = %s (%q), %s; want one failed with its error and one succeeded", bad.State, bad.Error, good.State)
	}
	_, _, page := get(t, f.signIn(t, "admin"), f.url+"/scans")
	if got, ok := cell(page, "data-job", bad.ID, "error job-error"); !ok || got != bad.Error {
		t.Errorf("the scans page shows job %s's error as %q (found %v), want %q", bad.ID, got, ok, bad.Error)
	}
	if strings.Contains(page, "<img src=x") || !strings.Contains(page, html.EscapeString(evil)) {
		t.Errorf("the scans page does not show the report's name %q as text", evil)
	}
	if i, j := strings.Index(page, `data-job="`+good.ID+`"`), strings.Index(page, `data-job="`+bad.ID+`"`); i < 0 || j < 0 || i > j {
		t.Errorf("the scans page lists the jobs at %d (newer) and %d, want both, newest first", i, j)
	}
	var res server.IngestResult
	if err := json.Unmarshal(good.Result, &res); err != nil || len(res.Scans) == 0 {
		t.Fatalf("job %s result = %s (%v), want its scans", good.ID, good.Result, err)
	}
	_, row, _ := strings.Cut(page, `data-job="`+good.ID+`"`)
	row, _, _ = strings.Cut(row, "</tr>")
	want := fmt.Sprintf(`<td class="n">%d</td><td class="n">%d</td>`, len(res.Scans), res.Scans[0].Findings)
	if len(res.Scans) != 1 || !strings.Contains(row, want) {
		t.Errorf("the scans page's row of job %s = %s, want its scan and findings %s", good.ID, row, want)
	}
	_, _, page = get(t, f.signIn(t, "web"), f.url+"/scans")
	if strings.Contains(page, `data-job="`) || !strings.Contains(page, "No upload yet.") {
		t.Errorf("a team-scoped user's scans page lists jobs it did not create")
	}
}

var slaRow = regexp.MustCompile(`<tr data-owner="([^"]*)">.*?data-sla="total">(\d+)<.*?data-sla="breached">(\d+)<.*?data-sla="due_soon">(\d+)<.*?data-sla="within">(\d+)%<`)

// TestOverviewSLA checks the overview's SLA adherence by owner against
// the API's SLA listing, for an unscoped user and a team's, who sees its
// own team only.
func TestOverviewSLA(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	for _, user := range []string{"admin", "web"} {
		c := f.signIn(t, user)
		var all, soon struct{ Items []server.SLAItem }
		f.api(t, c, "/api/v1/sla", &all)
		f.api(t, c, "/api/v1/sla?due_within=7d", &soon)
		type counts struct{ Total, Breached, DueSoon, Within int }
		want := map[string]counts{}
		for _, it := range all.Items {
			o := want[it.Owner]
			o.Total++
			if it.Breached {
				o.Breached++
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
		for k, o := range want {
			o.Within = percent(o.Total-o.Breached, o.Total)
			want[k] = o
		}
		_, _, page := get(t, c, f.url+"/")
		got := map[string]counts{}
		for _, m := range slaRow.FindAllStringSubmatch(page, -1) {
			var o counts
			fmt.Sscan(m[2], &o.Total)
			fmt.Sscan(m[3], &o.Breached)
			fmt.Sscan(m[4], &o.DueSoon)
			fmt.Sscan(m[5], &o.Within)
			got[html.UnescapeString(m[1])] = o
		}
		if len(want) == 0 {
			t.Fatalf("GET /api/v1/sla as %s = no item, want the demo's SLAs", user)
		}
		if diff := cmp.Diff(got, want); diff != "" {
			t.Errorf("the overview's SLA by owner as %s (-got +want):\n%s", user, diff)
		}
		if user == "web" && len(got) != 1 {
			t.Errorf("the overview as team-web shows the SLAs of %v, want team-web's only", got)
		}
	}
}

func percent(n, d int) int {
	var p int
	fmt.Sscanf(fmt.Sprintf("%.0f", float64(n)/float64(d)*100), "%d", &p)
	return p
}
