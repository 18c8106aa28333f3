package server

import (
	"context"
	"encoding/json"
	"iter"
	"net/http"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/ctem-dev/ctem/examples"
	"github.com/ctem-dev/ctem/internal/store"
	"github.com/ctem-dev/ctem/internal/store/sqlite"
)

// TestScheduleOncePerPeriod runs the scheduler of two servers on one
// database file (each with its own connection) at the same moments: each
// periodic job is queued once per period, whichever server gets there
// first.
func TestScheduleOncePerPeriod(t *testing.T) {
	t.Parallel()
	f := newFixtureWith(t, Limits{}, false, func(c *Config) { c.Schedule = Schedule{Expire: -1, SLA: -1} })
	ctx := context.Background()
	st2, err := sqlite.Open(ctx, filepath.Join(f.dir, "ctem.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st2.Close()
	feeds := func(context.Context) ([]string, error) { return nil, nil }
	var servers []*Server
	for i, st := range []Store{f.st, st2} {
		s, err := New(Config{App: f.app, Store: st, SpoolDir: filepath.Join(f.dir, "spool", string(rune('a'+i))),
			Schedule: Schedule{Expire: time.Hour, SLA: 2 * time.Hour, Feeds: 24 * time.Hour, UpdateFeeds: feeds}})
		if err != nil {
			t.Fatal(err)
		}
		servers = append(servers, s)
	}
	t0 := time.Date(2026, 12, 3, 10, 0, 0, 0, time.UTC)
	for _, at := range []time.Duration{0, 10 * time.Minute, 59 * time.Minute, time.Hour, 90 * time.Minute, 2 * time.Hour} {
		for _, s := range servers {
			s.queuePeriodic(ctx, t0.Add(at))
		}
	}
	// Counted in the table whatever their state: the fixture's own
	// worker may have claimed some meanwhile.
	got := map[string]int{}
	for _, kind := range []string{jobExpire, jobSLA, jobFeeds} {
		for _, err := range jobsOf(t, f, kind) {
			if err != nil {
				t.Fatal(err)
			}
			got[kind]++
		}
	}
	// Expire: periods 10:00, 11:00, 12:00; SLA: 10:00, 12:00; feeds: 00:00.
	if got[jobExpire] != 3 || got[jobSLA] != 2 || got[jobFeeds] != 1 {
		t.Errorf("jobs queued by two schedulers = %v, want expire 3, sla 2, feeds 1", got)
	}
}

// TestScheduledExpiry lets a running server's scheduler queue the expiry
// job and its worker run it: an acceptance past its expiry is reopened
// and audited, and the job's result counts it.
func TestScheduledExpiry(t *testing.T) {
	t.Parallel()
	f := newFixtureWith(t, Limits{}, true, func(c *Config) {
		c.Schedule = Schedule{Expire: 20 * time.Millisecond, SLA: -1, Tick: 10 * time.Millisecond}
	})
	x := demoExposure(t, f, "team-orders")
	at := time.Now().Add(-48 * time.Hour).UTC()
	if _, err := f.st.Triage(context.Background(), store.Decision{ExposureID: x.ID, Status: "accepted", Reason: "r", By: "alice", Approver: "ciso", Expires: at.Add(time.Hour), At: at}); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		got, err := f.st.Exposure(context.Background(), x.ID)
		if err != nil {
			t.Fatal(err)
		}
		if got.Status == "open" {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	got, _ := f.st.Exposure(context.Background(), x.ID)
	if got.Status != "open" {
		t.Fatalf("status of an expired acceptance with the scheduler running = %s, want open", got.Status)
	}
	var n int
	for e, err := range f.st.AuditLog(context.Background(), 0, 0) {
		if err != nil {
			t.Fatal(err)
		}
		if e.Action == "triage.expire" && e.Target == x.ID {
			n++
		}
	}
	if n != 1 {
		t.Errorf("audit entries triage.expire %s = %d, want 1", x.ID, n)
	}
}

// TestAnalysisMetrics uploads a report to an analysed database: the
// re-analysis that follows shows on /metrics with its duration, the open
// paths by crown jewel, the findings per second and the queue depth.
func TestAnalysisMetrics(t *testing.T) {
	t.Parallel()
	f := newFixture(t, Limits{}, true)
	data, err := examples.Files.ReadFile("reports/edge-proxy-image.trivy.json")
	if err != nil {
		t.Fatal(err)
	}
	up := f.do(t, "POST", "/api/v1/ingest?name=edge.json", "uploader", "application/json", strings.NewReader(string(data)))
	var j store.Job
	up.decode(t, &j)
	if j = f.waitJob(t, j.ID, "uploader"); j.State != store.JobSucceeded {
		t.Fatalf("job = %s %s", j.State, j.Error)
	}
	var paths map[string]int
	paths, err = f.st.OpenPathsByJewel(context.Background())
	if err != nil || len(paths) == 0 {
		t.Fatalf("OpenPathsByJewel() = %v, %v, want some paths", paths, err)
	}
	res := f.do(t, "GET", "/metrics", "viewer", "", nil)
	if res.status != http.StatusOK {
		t.Fatalf("GET /metrics = %d", res.status)
	}
	body := string(res.body)
	want := []string{
		`ctem_analysis_duration_seconds_count{trigger="ingest"} 1`,
		`ctem_ingest_findings_per_second `,
		`ctem_job_queue_depth `,
		`ctem_ingested_findings_total `,
	}
	for jewel, n := range paths {
		want = append(want, `ctem_open_paths{jewel="`+jewel+`"} `+strconv.Itoa(n))
	}
	for _, w := range want {
		if !strings.Contains(body, w) {
			t.Errorf("GET /metrics lacks %q", w)
		}
	}
	if strings.Contains(body, "ctem_ingest_findings_per_second 0\n") {
		t.Errorf("ctem_ingest_findings_per_second = 0 after an ingest of findings")
	}
}

// TestAuditWithChanges checks what the audit log holds after changes
// made through the API, each entry written in its change's transaction:
// the upload (queued) and the ingest (committed) by the uploader, a
// triage with its transition, nothing for a triage that failed, and a
// denied request.
func TestAuditWithChanges(t *testing.T) {
	t.Parallel()
	f := newFixture(t, Limits{}, true)
	data, err := examples.Files.ReadFile("reports/edge-proxy-image.trivy.json")
	if err != nil {
		t.Fatal(err)
	}
	up := f.do(t, "POST", "/api/v1/ingest?name=edge.json", "uploader", "application/json", strings.NewReader(string(data)))
	var j store.Job
	up.decode(t, &j)
	f.waitJob(t, j.ID, "uploader")
	x := demoExposure(t, f, "team-orders")
	if res := f.do(t, "POST", "/api/v1/exposures/"+x.ID+"/triage", "analyst", "application/json", strings.NewReader(`{"status":"false_positive","reason":"test"}`)); res.status != http.StatusOK {
		t.Fatalf("triage = %d %s", res.status, res.body)
	}
	if res := f.do(t, "POST", "/api/v1/exposures/"+x.ID+"/triage", "analyst", "application/json", strings.NewReader(`{"status":"accepted","reason":"no approver"}`)); res.status != http.StatusBadRequest {
		t.Fatalf("triage without approver = %d %s, want 400", res.status, res.body)
	}
	f.do(t, "GET", "/api/v1/tokens", "viewer", "", nil)
	var got []string
	for e, err := range f.st.AuditLog(context.Background(), 0, 0) {
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, e.Action+" "+e.Target+" "+e.Outcome)
	}
	want := []string{"ingest " + j.ID + " ok", "ingest.commit " + j.ID + " ok", "triage " + x.ID + " ok", "denied tokens denied"}
	if diff := cmp.Diff(got, want); diff != "" {
		t.Errorf("audit log (-got +want):\n%s", diff)
	}
	if _, _, err := store.VerifyAudit(f.st.AuditLog(context.Background(), 0, 0)); err != nil {
		t.Errorf("VerifyAudit() = %v", err)
	}
}

// TestScheduledFeeds lets the scheduler run the feed update: the update
// function (the configured sources) is called, and the job records how
// many vulnerabilities changed and the re-analysis that followed.
func TestScheduledFeeds(t *testing.T) {
	t.Parallel()
	x := make(chan string, 1)
	var calls atomic.Int32
	f := newFixtureWith(t, Limits{}, true, func(c *Config) {
		c.Schedule = Schedule{Expire: -1, SLA: -1, Feeds: time.Hour, Tick: 10 * time.Millisecond,
			UpdateFeeds: func(context.Context) ([]string, error) {
				calls.Add(1)
				return []string{<-x}, nil
			}}
	})
	var vuln string
	for e, err := range f.st.Exposures(context.Background(), store.Filter{Sort: store.SortID}) {
		if err != nil {
			t.Fatal(err)
		}
		if len(e.VulnIDs) > 0 {
			vuln = e.VulnIDs[0]
			break
		}
	}
	x <- vuln
	var done store.Job
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) && done.State != store.JobSucceeded && done.State != store.JobFailed {
		time.Sleep(20 * time.Millisecond)
		for j, err := range jobsOf(t, f, jobFeeds) {
			if err == nil {
				done = j
			}
		}
	}
	if done.State != store.JobSucceeded || calls.Load() != 1 {
		t.Fatalf("feeds job = %+v after %d updates, want succeeded after 1", done, calls.Load())
	}
	var res map[string]int64
	if err := json.Unmarshal(done.Result, &res); err != nil || res["changed"] != 1 || res["analysis"] == 0 {
		t.Errorf("feeds job result = %s, want 1 changed and the re-analysis' id", done.Result)
	}
}

// jobsOf lists the jobs of a kind, reading the jobs table.
func jobsOf(t *testing.T, f *fixture, kind string) iter.Seq2[store.Job, error] {
	t.Helper()
	rows, err := f.st.SQL().QueryContext(context.Background(), `SELECT id FROM jobs WHERE kind = ?`, kind)
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for rows.Next() {
		var id string
		rows.Scan(&id)
		ids = append(ids, id)
	}
	rows.Close()
	return func(yield func(store.Job, error) bool) {
		for _, id := range ids {
			if !yield(f.st.Job(context.Background(), id)) {
				return
			}
		}
	}
}

// TestScheduledPurge lets a running server's scheduler queue the purge
// job and its worker run it: a success older than the retention is
// deleted, a younger one and an old failure (kept longer) stay, a
// webhook delivery attempt older than its retention is deleted and a
// younger one stays, and the purge job's result counts what it deleted.
func TestScheduledPurge(t *testing.T) {
	t.Parallel()
	f := newFixtureWith(t, Limits{}, false, func(c *Config) {
		c.Schedule = Schedule{Expire: -1, SLA: -1, Purge: 20 * time.Millisecond, Tick: 10 * time.Millisecond,
			JobRetention: 7 * 24 * time.Hour, FailedJobRetention: 30 * 24 * time.Hour, AttemptRetention: 10 * 24 * time.Hour}
	})
	ctx := context.Background()
	now := time.Now()
	for i, age := range []time.Duration{11 * 24 * time.Hour, 9 * 24 * time.Hour} {
		if err := f.st.RecordWebhookAttempt(ctx, store.WebhookAttempt{JobID: "delivery-" + strconv.Itoa(i), Attempt: 1, WebhookID: "hook", Event: "path.opened", At: now.Add(-age), Status: 200}); err != nil {
			t.Fatal(err)
		}
	}
	for _, j := range []struct {
		id, state string
		age       time.Duration
	}{
		{"old-ok", store.JobSucceeded, 8 * 24 * time.Hour},
		{"new-ok", store.JobSucceeded, 6 * 24 * time.Hour},
		{"old-failed", store.JobFailed, 8 * 24 * time.Hour},
	} {
		at := now.Add(-j.age)
		if err := f.st.EnqueueJob(ctx, store.Job{ID: j.id, Kind: "retention-test", CreatedAt: at}); err != nil {
			t.Fatal(err)
		}
		if _, ok, err := f.st.ClaimJobOf(ctx, at, "retention-test"); err != nil || !ok {
			t.Fatalf("ClaimJobOf(%s) = %v, %v", j.id, ok, err)
		}
		if err := f.st.FinishJob(ctx, j.id, j.state, nil, "", at); err != nil {
			t.Fatal(err)
		}
	}
	var purge store.Job
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) && purge.Result == nil {
		for j, err := range jobsOf(t, f, jobPurge) {
			if err != nil {
				t.Fatal(err)
			}
			if j.State == store.JobSucceeded && strings.Contains(string(j.Result), `"succeeded":1`) {
				purge = j
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	if purge.Result == nil {
		t.Fatal("no purge job deleted a job within 20 s")
	}
	if diff := cmp.Diff(string(purge.Result), `{"failed":0,"succeeded":1,"webhook_attempts":1}`); diff != "" {
		t.Errorf("purge job's result (-got +want):\n%s", diff)
	}
	attempts, err := f.st.WebhookAttempts(ctx, "hook", 10)
	if err != nil || len(attempts) != 1 || attempts[0].JobID != "delivery-1" {
		t.Errorf("WebhookAttempts(hook) after the purge = %v, %v, want delivery-1's only", attempts, err)
	}
	for id, want := range map[string]bool{"old-ok": false, "new-ok": true, "old-failed": true} {
		_, err := f.st.Job(ctx, id)
		if got := err == nil; got != want {
			t.Errorf("Job(%s) after the purge: found = %v (%v), want %v", id, got, err, want)
		}
	}
}
