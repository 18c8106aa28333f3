package notify_test

import (
	"bytes"
	"context"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ctem-dev/ctem/examples"
	"github.com/ctem-dev/ctem/internal/app"
	"github.com/ctem-dev/ctem/internal/graph"
	"github.com/ctem-dev/ctem/internal/inputs"
	"github.com/ctem-dev/ctem/internal/intel/feeds"
	"github.com/ctem-dev/ctem/internal/intel/score"
	"github.com/ctem-dev/ctem/internal/model"
	"github.com/ctem-dev/ctem/internal/notify"
	"github.com/ctem-dev/ctem/internal/store"
	"github.com/ctem-dev/ctem/internal/store/sqlite"
)

// exampleApp returns an App over a new database holding the analysed
// example estate, with extra appended to its scope file and a clock that
// reads *now.
func exampleApp(t testing.TB, now *time.Time, extra string) *app.App {
	t.Helper()
	ctx := context.Background()
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "ctem.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	a := &app.App{Store: st, Formats: inputs.All(), Now: func() time.Time { return *now }, Intel: func() (app.Intel, error) {
		in, err := feeds.Load(feeds.Config{}) // the bundled KEV and EPSS snapshots
		if err != nil {
			return app.Intel{}, err
		}
		return app.Intel{Intel: score.Intel{KEV: in.KEV, EPSS: in.EPSS}}, nil
	}}
	data, err := examples.Files.ReadFile(examples.Scope)
	if err != nil {
		t.Fatal(err)
	}
	data = append(data, extra...)
	if _, _, err := a.SetScope(ctx, app.ScopeFile{Name: "ctem.yaml", Data: data}); err != nil {
		t.Fatal(err)
	}
	var ins []app.Input
	for _, name := range examples.Inputs {
		b, err := examples.Files.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		ins = append(ins, app.Input{Name: name, R: bytes.NewReader(b), Target: examples.Targets[name]})
	}
	if _, err := a.Ingest(ctx, app.IngestRequest{Inputs: ins, NoAnalyze: true}); err != nil {
		t.Fatal(err)
	}
	if _, err := a.Analyze(ctx, graph.Options{}); err != nil {
		t.Fatal(err)
	}
	return a
}

// recorder is a Sender that keeps what it was sent and fails while fail
// is set.
type recorder struct {
	mu   sync.Mutex
	name string
	got  []notify.Message
	fail bool
}

func (r *recorder) Name() string { return r.name }

func (r *recorder) Send(_ context.Context, m notify.Message) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.fail {
		return context.DeadlineExceeded
	}
	r.got = append(r.got, m)
	return nil
}

const notifyPolicy = `policies:
  - name: critical-or-high
    on: exposure
    expr: exposure.severity in ["critical", "high"]
    action: notify
`

func TestCollectAndRun(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	now := time.Now().UTC().Truncate(time.Second)
	a := exampleApp(t, &now, "acceptance:\n  max: 90d\n"+notifyPolicy)
	now = now.Add(40 * 24 * time.Hour) // past the critical (7d) and high (30d) SLAs

	// An acceptance expiring in 3 days is news; the exposure it accepts
	// is paused and no longer a breach.
	springs := exposuresOf(t, a, store.Filter{VulnIDs: []string{"CVE-2022-22965"}})
	if _, err := a.AcceptRisk(ctx, app.AcceptRequest{Scope: app.AcceptScope{ExposureID: springs[0].ID}, Reason: "WAF", By: "alice",
		Approver: "ciso", Expires: now.Add(3 * 24 * time.Hour)}); err != nil {
		t.Fatal(err)
	}
	// So is one exposure's acceptance made outside a rule.
	other := exposuresOf(t, a, store.Filter{Statuses: []model.Status{model.StatusOpen}, Sort: store.SortID, Limit: 1})[0]
	if _, err := a.Store.Triage(ctx, store.Decision{ExposureID: other.ID, Status: model.StatusAccepted, Reason: "test fixture", By: "bob",
		Approver: "ciso", Expires: now.Add(2 * 24 * time.Hour), At: now}); err != nil {
		t.Fatal(err)
	}
	events, err := notify.Collect(ctx, a, notify.CollectOptions{})
	if err != nil {
		t.Fatal(err)
	}
	kinds := map[string]int{}
	for _, e := range events {
		kinds[e.Kind]++
		if e.Kind == notify.KindSLABreach && strings.Contains(e.Key, springs[0].ID) {
			t.Errorf("Collect() has a breach of the accepted %s", springs[0].ID)
		}
	}
	if kinds[notify.KindSLABreach] == 0 || kinds[notify.KindAcceptanceExpiring] != 2 || kinds[notify.KindPolicy] == 0 {
		t.Fatalf("Collect() kinds = %v, want breaches, two expiring acceptances (the rule's, once, and the single one), policy matches", kinds)
	}
	pl, err := a.Paths(ctx, app.PathQuery{})
	if err != nil {
		t.Fatal(err)
	}
	validated := 0
	for _, p := range pl.Paths {
		if p.Validated {
			validated++
		}
	}
	t.Logf("events by kind %v, %d validated paths", kinds, validated)
	if validated == 0 {
		t.Fatal("the example estate has no validated path with the bundled KEV")
	}
	if kinds[notify.KindPath] != validated {
		t.Errorf("Collect() path events = %d, want %d (the validated paths)", kinds[notify.KindPath], validated)
	}

	// A path accepted as a whole is no longer news.
	var vp string
	for _, p := range pl.Paths {
		if p.Validated {
			vp = p.ID
			break
		}
	}
	if _, err := a.AcceptRisk(ctx, app.AcceptRequest{Scope: app.AcceptScope{PathID: vp}, Reason: "segmented", By: "alice",
		Approver: "ciso", Expires: now.Add(30 * 24 * time.Hour)}); err != nil {
		t.Fatal(err)
	}
	events, err = notify.Collect(ctx, a, notify.CollectOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range events {
		if e.Key == "path:"+vp {
			t.Errorf("Collect() after accepting path %s still announces it", vp)
		}
	}

	recs := any(a.Store).(store.Notifications)
	slack, mail := &recorder{name: "slack"}, &recorder{name: "email", fail: true}
	out, err := notify.Run(ctx, recs, []notify.Sender{slack, mail}, events, 10, false, now)
	if err == nil || len(out) != 2 || out[1].Error == "" {
		t.Fatalf("Run(email failing) = %+v, %v; want the email error after slack was sent", out, err)
	}
	if len(slack.got) != 1 || out[0].Sent != len(events) || slack.got[0].More != max(len(events)-10, 0) {
		t.Errorf("Run() slack = %d messages, %d sent; want one digest of %d events", len(slack.got), out[0].Sent, len(events))
	}
	// Again: slack was told, email was not and is told now.
	mail.fail = false
	out, err = notify.Run(ctx, recs, []notify.Sender{slack, mail}, events, 10, false, now)
	if err != nil {
		t.Fatal(err)
	}
	if len(slack.got) != 1 || out[0].Already != len(events) || len(mail.got) != 1 || out[1].Sent != len(events) {
		t.Errorf("Run() again = %+v; want slack quiet (all already told), email told everything", out)
	}
	// A new event reaches both, alone.
	events = append(events, notify.Event{Kind: notify.KindPolicy, Key: "policy:new:x", Title: "new"})
	if _, err := notify.Run(ctx, recs, []notify.Sender{slack, mail}, events, 10, false, now); err != nil {
		t.Fatal(err)
	}
	if len(slack.got) != 2 || len(slack.got[1].Events) != 1 || len(mail.got) != 2 {
		t.Errorf("Run(one new event) = slack %d messages (last %d events), email %d; want the new event alone to each", len(slack.got), len(slack.got[len(slack.got)-1].Events), len(mail.got))
	}
}

func exposuresOf(t testing.TB, a *app.App, f store.Filter) []model.Exposure {
	t.Helper()
	var out []model.Exposure
	for x, err := range a.Store.Exposures(context.Background(), f) {
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, x)
	}
	return out
}
