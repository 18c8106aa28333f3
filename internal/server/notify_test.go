package server

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ctem-dev/ctem/examples"
	"github.com/ctem-dev/ctem/internal/netguard"
	"github.com/ctem-dev/ctem/internal/notify"
	"github.com/ctem-dev/ctem/internal/store"
	"github.com/ctem-dev/ctem/internal/store/sqlite"
)

// incoming is an incoming-webhook stand-in (Slack or Teams) that keeps
// the bodies posted to it.
type incoming struct {
	mu     sync.Mutex
	bodies []string
}

func (h *incoming) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	b, _ := io.ReadAll(r.Body)
	h.mu.Lock()
	h.bodies = append(h.bodies, string(b))
	h.mu.Unlock()
	io.WriteString(w, "ok")
}

// holding returns the bodies that contain s.
func (h *incoming) holding(s string) int {
	h.mu.Lock()
	defer h.mu.Unlock()
	n := 0
	for _, b := range h.bodies {
		if strings.Contains(b, s) {
			n++
		}
	}
	return n
}

// loopback is the webhook poster of a stand-in on loopback (allowed
// explicitly, as --notify would not by default).
func loopback(t *testing.T, h http.Handler) notify.Poster {
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return notify.Poster{URL: srv.URL + "/services/T0/B0/secret", Policy: netguard.Policy{AllowHTTP: true, AllowPrivate: true}, Attempts: 1}
}

// TestServerNotifies runs a real server over a real SQLite file with three
// channels: Slack for everyone, Teams for team-orders and Slack for
// team-web. An acceptance of a team-orders exposure expires in three
// days; an upload's re-analysis queues the digest job, which tells Slack
// and the team-orders Teams channel of it, never team-web's channel.
func TestServerNotifies(t *testing.T) {
	t.Parallel()
	slack, teams, web := &incoming{}, &incoming{}, &incoming{}
	f := newFixtureWith(t, Limits{}, true, func(c *Config) {
		c.Notify = Notifications{AfterAnalysis: true, Senders: []notify.Sender{
			&notify.Slack{Poster: loopback(t, slack)},
			notify.ForTeam(&notify.Teams{Poster: loopback(t, teams)}, "team-orders"),
			notify.ForTeam(&notify.Slack{Poster: loopback(t, web)}, "team-web"),
		}}
	})
	ctx := context.Background()
	x := demoExposure(t, f, "team-orders")
	now := time.Now().UTC()
	if _, err := f.st.Triage(ctx, store.Decision{ExposureID: x.ID, Status: "accepted", Reason: "behind the VPN", By: "alice", Approver: "ciso",
		Expires: now.Add(72 * time.Hour), At: now}); err != nil {
		t.Fatal(err)
	}
	data, err := examples.Files.ReadFile("reports/edge-proxy-image.trivy.json")
	if err != nil {
		t.Fatal(err)
	}
	up := f.do(t, "POST", "/api/v1/ingest?name=edge.json", "uploader", "application/json", strings.NewReader(string(data)))
	var j store.Job
	up.decode(t, &j)
	if j = f.waitJob(t, j.ID, "uploader"); j.State != store.JobSucceeded {
		t.Fatalf("ingest job = %s %s", j.State, j.Error)
	}
	// The digest job follows the ingest's: wait for its end.
	var done store.Job
	for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		var jobs []store.Job
		for nj, err := range jobsOf(t, f, jobNotify) {
			if err != nil {
				t.Fatal(err)
			}
			jobs = append(jobs, nj)
		}
		if len(jobs) > 1 {
			t.Fatalf("notify jobs after one analysis = %d, want 1", len(jobs))
		}
		if len(jobs) == 1 && jobs[0].State != store.JobQueued && jobs[0].State != store.JobRunning {
			done = jobs[0]
			break
		}
	}
	if done.State != store.JobSucceeded {
		t.Fatalf("notify job = %q %s, want succeeded", done.State, done.Error)
	}
	var res map[string]map[string]int
	if err := json.Unmarshal(done.Result, &res); err != nil {
		t.Fatalf("notify job result %s: %v", done.Result, err)
	}
	if res["slack"]["sent"] == 0 || res["teams:team-orders"]["sent"] == 0 {
		t.Errorf("notify job result = %v, want events sent to slack and teams:team-orders", res)
	}
	if n := slack.holding(x.ID); n != 1 {
		t.Errorf("Slack messages naming the expiring acceptance of %s = %d, want 1", x.ID, n)
	}
	if n := teams.holding(x.ID); n != 1 {
		t.Errorf("team-orders Teams messages naming the expiring acceptance of %s = %d, want 1", x.ID, n)
	}
	if n := web.holding(x.ID); n != 0 {
		t.Errorf("team-web Slack messages naming team-orders' exposure %s = %d, want 0", x.ID, n)
	}
	for _, h := range []*incoming{slack, teams, web} {
		if h.holding("secret") != 0 {
			t.Errorf("a message holds the webhook's secret")
		}
	}
}

// TestScheduledNotifyOncePerPeriod runs the scheduler of two servers
// with channels on one database file: the digest job is queued once per
// period, and never by a server without a channel.
func TestScheduledNotifyOncePerPeriod(t *testing.T) {
	t.Parallel()
	f := newFixtureWith(t, Limits{}, false, func(c *Config) { c.Schedule = Schedule{Expire: -1, SLA: -1} })
	ctx := context.Background()
	st2, err := sqlite.Open(ctx, filepath.Join(f.dir, "ctem.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st2.Close()
	var servers []*Server
	for i, st := range []Store{f.st, st2, f.st} {
		var senders []notify.Sender
		if i < 2 {
			senders = []notify.Sender{&notify.Slack{Poster: loopback(t, &incoming{})}}
		}
		s, err := New(Config{App: f.app, Store: st, SpoolDir: filepath.Join(f.dir, "spool", string(rune('a'+i))),
			Schedule: Schedule{Expire: -1, SLA: -1, Notify: 2 * time.Hour}, Notify: Notifications{Senders: senders}})
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
	n := 0
	for _, err := range jobsOf(t, f, jobNotify) {
		if err != nil {
			t.Fatal(err)
		}
		n++
	}
	if n != 2 { // periods 10:00 and 12:00
		t.Errorf("notify jobs queued by two schedulers over 2 periods = %d, want 2", n)
	}
}
