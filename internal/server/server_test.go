package server

import (
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/ctem-dev/ctem/examples"
	"github.com/ctem-dev/ctem/internal/model"
	"github.com/ctem-dev/ctem/internal/store"
)

// TestPermissions pins the authorisation table: a change to it must
// change this test too.
func TestPermissions(t *testing.T) {
	t.Parallel()
	want := map[Role]string{
		// read triage ingest job.read scope.write token.admin audit.read metrics webhook.admin self
		RoleAdmin:    "1111111111",
		RoleAnalyst:  "1101000101",
		RoleViewer:   "1001000101",
		RoleUploader: "0011000001",
	}
	for _, r := range Roles {
		var got strings.Builder
		for _, a := range Actions {
			if Allowed(r, a) {
				got.WriteByte('1')
			} else {
				got.WriteByte('0')
			}
		}
		if got.String() != want[r] {
			t.Errorf("Allowed(%s, %v) = %s, want %s", r, Actions, got.String(), want[r])
		}
		if !Allowed(r, ActPublic) {
			t.Errorf("Allowed(%s, public) = false, want true", r)
		}
	}
	if Allowed("root", ActRead) {
		t.Errorf("Allowed(root, read) = true, want false")
	}
}

// demoExposure returns an exposure of the demo owned by team (through
// the scope), reading the store directly.
func demoExposure(t testing.TB, f *fixture, team string) model.Exposure {
	t.Helper()
	_, owners, err := f.srv.estateNow(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	for x, err := range f.st.Exposures(context.Background(), store.Filter{Sort: store.SortID}) {
		if err != nil {
			t.Fatal(err)
		}
		if owners[team][x.Asset] {
			return x
		}
	}
	t.Fatalf("no exposure of %s in the demo", team)
	return model.Exposure{}
}

// TestRoutesByRole runs every route with every role and no token on a
// real server: the status is what the authorisation table says, and
// every response matches the OpenAPI document.
func TestRoutesByRole(t *testing.T) {
	t.Parallel()
	f := newFixture(t, Limits{}, true)
	x := demoExposure(t, f, "team-orders")
	var fid, sid string
	for v, err := range f.st.Findings(context.Background(), store.Filter{Limit: 1}) {
		if err != nil {
			t.Fatal(err)
		}
		fid = v.ID
	}
	for v, err := range f.st.Scans(context.Background(), store.Filter{Limit: 1}) {
		if err != nil {
			t.Fatal(err)
		}
		sid = v.ID
	}
	scope, _ := examples.Files.ReadFile(examples.Scope)
	report, _ := examples.Files.ReadFile("reports/edge-proxy-image.trivy.json")
	mob := mobilisationCalls(t, f)
	val := validationCalls(t, f)
	// The uploader's job, which every role that reads jobs may read.
	up := f.do(t, "POST", "/api/v1/ingest?name=edge.json", "uploader", "application/json", bytes.NewReader(report))
	if up.status != http.StatusAccepted {
		t.Fatalf("POST /api/v1/ingest = %d %s", up.status, up.body)
	}
	var job store.Job
	up.decode(t, &job)
	f.waitJob(t, job.ID, "uploader")
	if _, err := CreateUser(context.Background(), f.st, UserRequest{Name: "ann", Role: "viewer", Password: annPassword}, f.srv.now()); err != nil {
		t.Fatal(err)
	}

	type call struct {
		path, ctype string
		body        func() []byte
	}
	calls := map[string]call{
		"healthz": {path: "/healthz"}, "readyz": {path: "/readyz"}, "openapi": {path: "/api/v1/openapi.json"}, "metrics": {path: "/metrics"},
		"findings": {path: "/api/v1/findings?limit=5"}, "finding": {path: "/api/v1/findings/" + fid},
		"exposures": {path: "/api/v1/exposures?severity=critical,high&limit=5"}, "exposure": {path: "/api/v1/exposures/" + x.ID},
		"explain": {path: "/api/v1/exposures/" + x.ID + "/explain"}, "history": {path: "/api/v1/exposures/" + x.ID + "/history"},
		"triage": {path: "/api/v1/exposures/" + x.ID + "/triage", ctype: "application/json", body: func() []byte {
			return []byte(`{"status":"false_positive","reason":"test"}`)
		}},
		"actions": {path: mob["actions"]}, "tickets.sync": {path: mob["tickets.sync"]}, "sla": {path: mob["sla"]}, "acceptances": {path: "/api/v1/acceptances?all=true"},
		"accept": {path: mob["accept"], ctype: "application/json", body: func() []byte { return []byte(mob["accept.body"]) }}, "false-positive": {path: mob["false-positive"], ctype: "application/json", body: func() []byte { return []byte(`{"reason":"test"}`) }},
		"assets": {path: "/api/v1/assets?limit=5"}, "asset": {path: "/api/v1/assets/" + url.PathEscape(x.Asset)},
		"scans": {path: "/api/v1/scans"}, "scan": {path: "/api/v1/scans/" + sid},
		"paths": {path: "/api/v1/paths"}, "fixplan": {path: "/api/v1/fixplan"}, "top": {path: "/api/v1/top?n=3"}, "events": {path: "/api/v1/events"},
		"scope": {path: "/api/v1/scope"}, "scope.set": {path: "/api/v1/scope", ctype: "application/yaml", body: func() []byte { return scope }},
		"feeds":  {path: "/api/v1/feeds"},
		"ingest": {path: "/api/v1/ingest", ctype: "application/json", body: func() []byte { return report }},
		"job":    {path: "/api/v1/jobs/" + job.ID},
		"jobs":   {path: "/api/v1/jobs?kind=ingest&limit=5"}, "sla.owners": {path: "/api/v1/sla/owners?due_within=7d"},
		"tokens": {path: "/api/v1/tokens"},
		"token.create": {path: "/api/v1/tokens", ctype: "application/json", body: func() []byte {
			return []byte(`{"name":"x","role":"viewer"}`)
		}},
		"audit":    {path: "/api/v1/audit"},
		"webhooks": {path: "/api/v1/webhooks"},
		"webhook.create": {path: "/api/v1/webhooks", ctype: "application/json", body: func() []byte {
			return []byte(`{"url":"https://hooks.example.com/ctem","events":["sla.breach"]}`)
		}},
		"webhook.deliveries": {path: "/api/v1/webhooks/0123456789ab/deliveries?limit=5"},
		"kpis":               {path: "/api/v1/kpis?since=30d&sla=true"},
		"report":             {path: "/api/v1/report?format=markdown&since=30d"},
		"session.create": {path: "/api/v1/session", ctype: "application/json", body: func() []byte {
			return []byte(`{"name":"ann","password":"` + annPassword + `"}`)
		}},
		"session":        {path: "/api/v1/session"},
		"session.delete": {path: "/api/v1/session"},
		"blast-radius":   {path: val["blast-radius"]}, "evidence": {path: val["evidence"]},
		"whatif": {path: val["whatif"], ctype: "application/json", body: func() []byte { return []byte(val["whatif.body"]) }},
	}
	for _, rt := range f.srv.routes() {
		for _, who := range []string{"", "admin", "analyst", "viewer", "uploader"} {
			c, ok := calls[rt.Name]
			if rt.Name == "token.revoke" {
				tk, _, err := CreateToken(context.Background(), f.st, TokenRequest{Name: "victim", Role: "viewer"}, f.srv.now())
				if err != nil {
					t.Fatal(err)
				}
				c, ok = call{path: "/api/v1/tokens/" + tk.ID}, true
			}
			if rt.Name == "webhook.delete" {
				h, _, err := CreateWebhook(context.Background(), f.st, WebhookRequest{URL: "https://hooks.example.com/x", Events: []string{"sla.breach"}}, func(string) error { return nil }, f.srv.now())
				if err != nil {
					t.Fatal(err)
				}
				c, ok = call{path: "/api/v1/webhooks/" + h.ID}, true
			}
			if rt.Name == "path.evidence" {
				c, ok = call{path: "/api/v1/paths/" + currentPath(t, f) + "/evidence"}, true
			}
			if !ok {
				t.Fatalf("route %s has no call in the test", rt.Name)
			}
			var body *bytes.Reader
			if c.body != nil {
				body = bytes.NewReader(c.body())
			} else {
				body = bytes.NewReader(nil)
			}
			res := f.do(t, rt.Method, c.path, who, c.ctype, body)
			var want string
			switch {
			case rt.Action == ActPublic:
				want = "2xx"
			case who == "":
				want = "401"
			case !Allowed(Role(who), rt.Action):
				want = "403"
			default:
				want = "2xx"
			}
			got := fmt.Sprint(res.status)
			if res.status >= 200 && res.status < 300 {
				got = "2xx"
			}
			if got != want {
				t.Errorf("%s %s as %q = %d %.300s, want %s", rt.Method, c.path, who, res.status, res.body, want)
			}
			if res.status >= 400 {
				var p Problem
				res.decode(t, &p)
				if p.RequestID == "" || p.RequestID != res.header.Get("X-Request-Id") || p.Status != res.status {
					t.Errorf("%s %s as %q: problem %+v, want the request id %q and status %d", rt.Method, c.path, who, p, res.header.Get("X-Request-Id"), res.status)
				}
			}
		}
	}
}

// TestTeamScope checks that a team-scoped token reads its team's
// exposures and cannot read another team's: not by id, by filter, by
// path, by explain, by triage, by asset or by finding.
func TestTeamScope(t *testing.T) {
	t.Parallel()
	f := newFixture(t, Limits{}, true)
	mine := demoExposure(t, f, "team-web")
	theirs := demoExposure(t, f, "team-orders")

	if res := f.do(t, "GET", "/api/v1/exposures/"+mine.ID, webAnalyst, "", nil); res.status != http.StatusOK {
		t.Errorf("GET own exposure = %d %s, want 200", res.status, res.body)
	}
	for _, p := range []string{
		"/api/v1/exposures/" + theirs.ID,
		"/api/v1/exposures/" + theirs.ID + "/explain",
		"/api/v1/exposures/" + theirs.ID + "/history",
		"/api/v1/findings/" + theirs.FindingIDs[0],
		"/api/v1/assets/" + url.PathEscape(theirs.Asset),
	} {
		if res := f.do(t, "GET", p, webAnalyst, "", nil); res.status != http.StatusNotFound {
			t.Errorf("GET %s as team-web = %d %s, want 404", p, res.status, res.body)
		}
		if res := f.do(t, "GET", p, "viewer", "", nil); res.status != http.StatusOK {
			t.Errorf("GET %s as an unscoped viewer = %d, want 200", p, res.status)
		}
	}
	res := f.do(t, "POST", "/api/v1/exposures/"+theirs.ID+"/triage", webAnalyst, "application/json", strings.NewReader(`{"status":"false_positive","reason":"not mine"}`))
	if res.status != http.StatusNotFound {
		t.Errorf("triage of another team's exposure = %d %s, want 404", res.status, res.body)
	}
	if got, err := f.st.Exposure(context.Background(), theirs.ID); err != nil || got.Status != theirs.Status {
		t.Errorf("after a refused triage, status = %s (%v), want %s", got.Status, err, theirs.Status)
	}
	// By filter: asking for the other team's asset or CVE lists nothing
	// of theirs; a full listing holds only the team's.
	for _, q := range []string{"asset=" + url.QueryEscape(theirs.Asset), "limit=1000", "cve=" + url.QueryEscape(strings.Join(theirs.VulnIDs, ","))} {
		var pg Page[model.Exposure]
		f.do(t, "GET", "/api/v1/exposures?"+q, webAnalyst, "", nil).decode(t, &pg)
		for _, x := range pg.Items {
			if x.ID == theirs.ID || x.Asset == theirs.Asset {
				t.Errorf("GET /api/v1/exposures?%s as team-web lists %s of %s", q, x.ID, x.Asset)
			}
		}
	}
	var all Page[model.Exposure]
	f.do(t, "GET", "/api/v1/exposures?limit=1000", webAnalyst, "", nil).decode(t, &all)
	if !slices.ContainsFunc(all.Items, func(x model.Exposure) bool { return x.ID == mine.ID }) {
		t.Errorf("team-web's listing misses its own exposure %s", mine.ID)
	}
	// By path: team-data sees only paths that reach or cross its assets.
	var paths PathsBody
	f.do(t, "GET", "/api/v1/paths", dataViewer, "", nil).decode(t, &paths)
	_, owners, _ := f.srv.estateNow(context.Background())
	for _, p := range paths.Items {
		ok := false
		for _, s := range p.Steps {
			ok = ok || owners["team-data"][s.Asset]
		}
		if !ok {
			t.Errorf("team-data sees path %s, which crosses none of its assets", p.ID)
		}
	}
	if len(paths.Items) == 0 {
		t.Errorf("paths: team-data sees none, want the paths to its crown jewels")
	}
	// A team that owns nothing sees nothing.
	for _, p := range []string{"/api/v1/paths", "/api/v1/exposures", "/api/v1/findings", "/api/v1/assets", "/api/v1/events", "/api/v1/top"} {
		var pg struct{ Items []any }
		f.do(t, "GET", p, "nobody", "", nil).decode(t, &pg)
		if len(pg.Items) != 0 {
			t.Errorf("GET %s as a team that owns nothing lists %d items, want 0", p, len(pg.Items))
		}
	}
}

// TestIngestOverHTTP checks that an upload stores exactly what
// app.Ingest stores for the same file, gzip or not.
func TestIngestOverHTTP(t *testing.T) {
	t.Parallel()
	const name = "reports/shop-api-image.trivy.json"
	report, err := examples.Files.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	direct, a := newStore(t, t.TempDir())
	if _, err := a.Ingest(ctx, app_IngestRequest(name, report)); err != nil {
		t.Fatal(err)
	}
	var zipped bytes.Buffer
	zw := gzip.NewWriter(&zipped)
	zw.Write(report)
	zw.Close()
	for _, tc := range []struct {
		name, ctype, encoding string
		body                  []byte
	}{
		{"plain", "application/json", "", report},
		{"gzip-encoded", "application/json", "gzip", zipped.Bytes()},
		{"gzip-file", "application/gzip", "", zipped.Bytes()},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			f := newFixture(t, Limits{}, false)
			req, _ := http.NewRequest("POST", f.url+"/api/v1/ingest?name=shop-api-image.trivy.json", bytes.NewReader(tc.body))
			req.Header.Set("Authorization", "Bearer "+f.tokens["uploader"])
			req.Header.Set("Content-Type", tc.ctype)
			if tc.encoding != "" {
				req.Header.Set("Content-Encoding", tc.encoding)
			}
			res, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			res.Body.Close()
			if res.StatusCode != http.StatusAccepted {
				t.Fatalf("POST /api/v1/ingest = %d, want 202", res.StatusCode)
			}
			id := strings.TrimPrefix(res.Header.Get("Location"), "/api/v1/jobs/")
			if j := f.waitJob(t, id, "uploader"); j.State != store.JobSucceeded {
				t.Fatalf("job = %+v, want succeeded", j)
			}
			if diff := cmp.Diff(findingRows(t, f.st), findingRows(t, direct)); diff != "" {
				t.Errorf("findings over HTTP differ from app.Ingest's (-http +direct):\n%s", diff)
			}
			if diff := cmp.Diff(exposureRows(t, f.st), exposureRows(t, direct)); diff != "" {
				t.Errorf("exposures over HTTP differ from app.Ingest's (-http +direct):\n%s", diff)
			}
		})
	}
}

// TestBadInput sends what a careless or hostile client sends: each gets
// a problem naming what is wrong, and nothing changes.
func TestBadInput(t *testing.T) {
	t.Parallel()
	f := newFixture(t, Limits{MaxUpload: 1 << 20, MaxInput: 4 << 20, MaxJSON: 4 << 10}, true)
	report, _ := examples.Files.ReadFile("reports/shop-api-image.trivy.json")
	before := f.counts(t)
	x := demoExposure(t, f, "team-orders")

	var bomb bytes.Buffer
	zw := gzip.NewWriter(&bomb)
	zw.Write(bytes.Repeat([]byte(" "), 16<<20))
	zw.Close()
	cases := []struct {
		name, method, path, ctype string
		body                      []byte
		status                    int
		field                     string
	}{
		{"wrong content type", "POST", "/api/v1/ingest", "application/x-www-form-urlencoded", report, 415, ""},
		{"not a known format", "POST", "/api/v1/ingest", "application/json", []byte(`{"hello":"world"}`), 415, ""},
		{"oversize body", "POST", "/api/v1/ingest", "application/json", bytes.Repeat([]byte("["), 2<<20), 413, ""},
		{"gzip bomb", "POST", "/api/v1/ingest", "application/gzip", bomb.Bytes(), 413, ""},
		{"damaged gzip", "POST", "/api/v1/ingest", "application/gzip", gzipped(report)[:len(gzipped(report))/2], 400, ""},
		{"empty body", "POST", "/api/v1/ingest", "application/json", nil, 400, ""},
		{"invalid cursor", "GET", "/api/v1/exposures?cursor=bm90LWEtY3Vyc29y", "", nil, 400, "cursor"},
		{"cursor of another listing", "GET", "/api/v1/findings?cursor=" + store.Cursor(x), "", nil, 400, "cursor"},
		{"unknown parameter", "GET", "/api/v1/exposures?colour=red", "", nil, 400, "colour"},
		{"bad limit", "GET", "/api/v1/exposures?limit=100000", "", nil, 400, "limit"},
		{"bad severity", "GET", "/api/v1/findings?severity=dire", "", nil, 400, "severity"},
		{"unknown field", "POST", "/api/v1/exposures/" + x.ID + "/triage", "application/json", []byte(`{"status":"accepted","reason":"r","by":"mallory"}`), 400, "by"},
		{"triage without reason", "POST", "/api/v1/exposures/" + x.ID + "/triage", "application/json", []byte(`{"status":"false_positive"}`), 400, ""},
		{"triage not JSON", "POST", "/api/v1/exposures/" + x.ID + "/triage", "text/plain", []byte(`status=fixed`), 415, ""},
		{"deep nesting", "POST", "/api/v1/exposures/" + x.ID + "/triage", "application/json", bytes.Repeat([]byte("["), 5000), 413, ""},
		{"unknown exposure", "GET", "/api/v1/exposures/0000000000000000", "", nil, 404, ""},
		{"bad scope", "PUT", "/api/v1/scope", "application/yaml", []byte("services: [unclosed"), 400, ""},
	}
	for _, c := range cases {
		res := f.do(t, c.method, c.path, "admin", c.ctype, bytes.NewReader(c.body))
		if res.status != c.status {
			t.Errorf("%s: %s %s = %d %.300s, want %d", c.name, c.method, c.path, res.status, res.body, c.status)
			continue
		}
		var p Problem
		res.decode(t, &p)
		if p.Detail == "" || p.Field != c.field || res.header.Get("Content-Type") != "application/problem+json" {
			t.Errorf("%s: problem %+v (%s), want a detail and field %q", c.name, p, res.header.Get("Content-Type"), c.field)
		}
	}
	// A truncated report is accepted, and its job fails naming the
	// position.
	res := f.do(t, "POST", "/api/v1/ingest?name=cut.json", "uploader", "application/json", bytes.NewReader(report[:len(report)/2]))
	if res.status != http.StatusAccepted {
		t.Fatalf("truncated upload = %d %s, want 202", res.status, res.body)
	}
	var j store.Job
	res.decode(t, &j)
	j = f.waitJob(t, j.ID, "uploader")
	if j.State != store.JobFailed || !strings.Contains(j.Error, "cut.json") {
		t.Errorf("job of a truncated report = %s %q, want failed naming cut.json", j.State, j.Error)
	}
	after := f.counts(t)
	if diff := cmp.Diff(after, before); diff != "" {
		t.Errorf("bad input changed the database (-after +before):\n%s", diff)
	}
}

// TestAuditChain checks that changes are audited with who and from
// where, and that editing or deleting an entry is found.
func TestAuditChain(t *testing.T) {
	t.Parallel()
	f := newFixture(t, Limits{}, true)
	x := demoExposure(t, f, "team-orders")
	f.do(t, "POST", "/api/v1/exposures/"+x.ID+"/triage", "analyst", "application/json", strings.NewReader(`{"status":"false_positive","reason":"test double"}`))
	f.do(t, "POST", "/api/v1/tokens", "viewer", "application/json", strings.NewReader(`{"name":"x","role":"admin"}`))
	f.do(t, "GET", "/api/v1/exposures", "", "", nil)
	var pg Page[store.AuditEntry]
	f.do(t, "GET", "/api/v1/audit", "admin", "", nil).decode(t, &pg)
	var got []string
	for _, e := range pg.Items {
		got = append(got, e.Action+" "+e.Outcome+" "+strings.SplitN(e.Actor, ":", 3)[0]+" "+e.Remote)
	}
	want := []string{"triage ok token 127.0.0.1", "denied denied token 127.0.0.1", "denied denied anonymous 127.0.0.1"}
	if diff := cmp.Diff(got, want); diff != "" {
		t.Fatalf("audit log (-got +want):\n%s", diff)
	}
	if n, _, err := store.VerifyAudit(f.st.AuditLog(context.Background(), 0, 0)); err != nil || n != 3 {
		t.Fatalf("VerifyAudit() = %d, %v, want 3, nil", n, err)
	}
	db := f.st.SQL()
	for _, tc := range []struct {
		name, sql string
		seq       int64
	}{
		{"edit", `UPDATE audit_log SET detail = 'nothing to see' WHERE seq = 2`, 2},
		{"delete", `DELETE FROM audit_log WHERE seq = 1`, 1},
	} {
		if _, err := db.Exec(tc.sql); err != nil {
			t.Fatal(err)
		}
		_, _, err := store.VerifyAudit(f.st.AuditLog(context.Background(), 0, 0))
		var b *store.AuditBrokenError
		if !errors.As(err, &b) || b.Seq != tc.seq {
			t.Errorf("after %s, VerifyAudit() = %v, want broken at entry %d", tc.name, err, tc.seq)
		}
	}
}

func TestCheckListen(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		lc   ListenConfig
		fail bool
	}{
		{ListenConfig{Addr: "127.0.0.1:8080"}, false},
		{ListenConfig{Addr: "[::1]:8080"}, false},
		{ListenConfig{Addr: "localhost:8080"}, false},
		{ListenConfig{Addr: "0.0.0.0:8080"}, true},
		{ListenConfig{Addr: ":8080"}, true},
		{ListenConfig{Addr: "10.0.0.5:8080"}, true},
		{ListenConfig{Addr: "0.0.0.0:8080", Insecure: true}, false},
		{ListenConfig{Addr: "0.0.0.0:8080", CertFile: "c", KeyFile: "k"}, false},
		{ListenConfig{Addr: "0.0.0.0:8080", CertFile: "c"}, true},
	} {
		if err := CheckListen(tc.lc); (err != nil) != tc.fail {
			t.Errorf("CheckListen(%+v) = %v, want failure %v", tc.lc, err, tc.fail)
		}
	}
}

func gzipped(b []byte) []byte {
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	zw.Write(b)
	zw.Close()
	return buf.Bytes()
}

// TestCursor reads every exposure page by page, as a team and as a
// viewer: each is read exactly once, and the pages hold what one whole
// listing holds.
func TestCursor(t *testing.T) {
	t.Parallel()
	f := newFixture(t, Limits{}, true)
	for _, who := range []string{"viewer", webAnalyst} {
		for _, sort := range []string{"severity", "id", "newest"} {
			var whole Page[model.Exposure]
			f.do(t, "GET", "/api/v1/exposures?limit=1000&sort="+sort, who, "", nil).decode(t, &whole)
			var paged []string
			cursor, pages := "", 0
			for {
				var pg Page[model.Exposure]
				f.do(t, "GET", "/api/v1/exposures?limit=2&sort="+sort+"&cursor="+url.QueryEscape(cursor), who, "", nil).decode(t, &pg)
				for _, x := range pg.Items {
					paged = append(paged, x.ID)
				}
				pages++
				if pg.NextCursor == "" {
					break
				}
				cursor = pg.NextCursor
			}
			var want []string
			for _, x := range whole.Items {
				want = append(want, x.ID)
			}
			if len(want) < 3 {
				t.Fatalf("%s sees %d exposures, want at least 3 for paging", who, len(want))
			}
			if diff := cmp.Diff(paged, want); diff != "" {
				t.Errorf("exposures by %s as %s, 2 a page over %d pages (-paged +whole):\n%s", sort, who, pages, diff)
			}
		}
	}
}
