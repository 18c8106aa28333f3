package sla_test

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
	"github.com/ctem-dev/ctem/internal/sla"
	"github.com/ctem-dev/ctem/internal/store"
	"github.com/ctem-dev/ctem/internal/store/sqlite"
)

var loadIntel = sync.OnceValues(func() (app.Intel, error) {
	in, err := feeds.Load(feeds.DefaultConfig(""))
	if err != nil {
		return app.Intel{}, err
	}
	return app.Intel{Intel: score.Intel{KEV: in.KEV, EPSS: in.EPSS}}, nil
})

// exampleApp ingests and analyses the example estate under its scope
// with the SLA policy replaced by sla.
func exampleApp(t testing.TB, slaYAML string) *app.App {
	t.Helper()
	ctx := context.Background()
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "ctem.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	data, err := examples.Files.ReadFile(examples.Scope)
	if err != nil {
		t.Fatal(err)
	}
	sc := string(data)
	i := strings.Index(sc, "\nsla:")
	if i < 0 {
		t.Fatal("the example scope has no sla")
	}
	sc = sc[:i+1] + slaYAML
	a := &app.App{Store: st, Formats: inputs.All(), Intel: loadIntel}
	if _, _, err := a.SetScope(ctx, app.ScopeFile{Name: "ctem.yaml", Data: []byte(sc)}); err != nil {
		t.Fatal(err)
	}
	var req app.IngestRequest
	for _, name := range examples.Inputs {
		data, err := examples.Files.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		req.Inputs = append(req.Inputs, app.Input{Name: name, R: bytes.NewReader(data), Target: examples.Targets[name]})
	}
	req.NoAnalyze = true
	if _, err := a.Ingest(ctx, req); err != nil {
		t.Fatal(err)
	}
	if _, err := a.Analyze(ctx, graph.Options{}); err != nil {
		t.Fatal(err)
	}
	return a
}

const day = 24 * time.Hour

// item returns the listed item of the exposure to vuln on an asset whose
// key contains asset.
func item(t testing.TB, items []sla.Item, vuln, asset string) (sla.Item, bool) {
	t.Helper()
	for _, it := range items {
		if app.WeaknessName(it.Exposure) == vuln && strings.Contains(it.Exposure.Asset, asset) {
			return it, true
		}
	}
	return sla.Item{}, false
}

func TestList(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	a := exampleApp(t, "sla:\n  critical: 30d\n  medium: 90d\n  kev_internet: 7d\n  crown_jewel: 14d\n  crown_jewel_min_value: 9\n")
	res, err := sla.List(ctx, a, sla.Query{})
	if err != nil {
		t.Fatal(err)
	}
	spring, ok := item(t, res.Items, "CVE-2022-22965", "spring4shell")
	if !ok {
		t.Fatalf("List() has no Spring4Shell exposure among %d items", len(res.Items))
	}
	first := spring.Exposure.FirstSeen
	if !spring.KEV || !spring.Internet || spring.Due.Rule != sla.RuleKEVInternet || !spring.Due.At.Equal(first.Add(7*day)) {
		t.Errorf("List() Spring4Shell = kev %v internet %v rule %s due %v, want KEV on the internet, kev_internet, due %v",
			spring.KEV, spring.Internet, spring.Due.Rule, spring.Due.At, first.Add(7*day))
	}
	if spring.Owner != "team-orders" || spring.JewelValue != 10 {
		t.Errorf("List() Spring4Shell owner %q jewel value %d, want team-orders 10", spring.Owner, spring.JewelValue)
	}
	ssl, ok := item(t, res.Items, "CVE-2019-1549", "alpine-310")
	if !ok || ssl.Due.Rule != "medium" {
		t.Errorf("List() openssl on the edge image = %+v (found %v), want the medium band", ssl.Due, ok)
	}

	// Eight days on, the KEV is breached: one event, recorded once.
	later := first.Add(8 * day)
	res, err = sla.List(ctx, a, sla.Query{Breached: true, Now: later})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Items) == 0 || len(res.NewBreaches) == 0 {
		t.Fatalf("List(breached, +8d) = %d items, %d new breaches, want Spring4Shell breached", len(res.Items), len(res.NewBreaches))
	}
	for _, it := range res.Items {
		if !it.Due.Breached || it.Due.At.After(later) {
			t.Errorf("List(breached, +8d) lists %s due %v, not breached", it.Exposure.ID, it.Due.At)
		}
	}
	again, err := sla.List(ctx, a, sla.Query{Breached: true, Now: later})
	if err != nil {
		t.Fatal(err)
	}
	if len(again.NewBreaches) != 0 || len(again.Items) != len(res.Items) {
		t.Errorf("List(breached, +8d) again = %d new breaches, %d items, want 0 and %d", len(again.NewBreaches), len(again.Items), len(res.Items))
	}

	// Accepted for two days, then reopened: due two days later, not
	// breached at +8d, breached at +10d.
	if _, err := a.Store.Triage(ctx, store.Decision{ExposureID: spring.Exposure.ID, Status: model.StatusAccepted, Reason: "WAF rule", By: "alice",
		Approver: "ciso", Expires: first.Add(60 * day), At: first.Add(1 * day)}); err != nil {
		t.Fatal(err)
	}
	res, err = sla.List(ctx, a, sla.Query{Now: later})
	if err != nil {
		t.Fatal(err)
	}
	if it, _ := item(t, res.Items, "CVE-2022-22965", "spring4shell"); !it.Due.Accepted || it.Due.Breached {
		t.Errorf("List(+8d) accepted Spring4Shell = %+v, want paused, not breached", it.Due)
	}
	if _, err := a.Store.Triage(ctx, store.Decision{ExposureID: spring.Exposure.ID, Status: model.StatusOpen, Reason: "WAF removed", By: "alice",
		At: first.Add(3 * day)}); err != nil {
		t.Fatal(err)
	}
	res, err = sla.List(ctx, a, sla.Query{Now: later})
	if err != nil {
		t.Fatal(err)
	}
	it, _ := item(t, res.Items, "CVE-2022-22965", "spring4shell")
	if it.Due.Breached || it.Due.Paused != 2*day || !it.Due.At.Equal(first.Add(9*day)) {
		t.Errorf("List(+8d) resumed Spring4Shell = %+v, want paused 48h, due %v, not breached", it.Due, first.Add(9*day))
	}
	res, err = sla.List(ctx, a, sla.Query{Owner: "team-web", DueWithin: 7 * day, Now: first.Add(85 * day)})
	if err != nil {
		t.Fatal(err)
	}
	for _, it := range res.Items {
		if it.Owner != "team-web" || it.Due.At.After(first.Add(92*day)) {
			t.Errorf("List(team-web, within 7d of +85d) lists %s of %s due %v", it.Exposure.ID, it.Owner, it.Due.At)
		}
	}
	if len(res.Items) == 0 {
		t.Errorf("List(team-web, within 7d of +85d) = none, want the edge image's medium exposures (due +90d)")
	}
}

// TestKPIDue: the due date KPIDue gives an exposure as of a time is the
// one List gives at that time, and as of a time before an acceptance it
// does not count the pause the acceptance later made.
func TestKPIDue(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	a := exampleApp(t, "sla:\n  critical: 30d\n  medium: 90d\n  kev_internet: 7d\n")
	due, err := sla.KPIDue(ctx, a)
	if err != nil || due == nil {
		t.Fatalf("KPIDue() = %v, %v; want a function", due != nil, err)
	}
	res, err := sla.List(ctx, a, sla.Query{})
	if err != nil {
		t.Fatal(err)
	}
	spring, ok := item(t, res.Items, "CVE-2022-22965", "spring4shell")
	if !ok {
		t.Fatal("List() has no Spring4Shell exposure")
	}
	first := spring.Exposure.FirstSeen
	if _, err := a.Store.Triage(ctx, store.Decision{ExposureID: spring.Exposure.ID, Status: model.StatusAccepted, Reason: "WAF rule", By: "alice",
		Approver: "ciso", Expires: first.Add(60 * day), At: first.Add(1 * day)}); err != nil {
		t.Fatal(err)
	}
	if _, err := a.Store.Triage(ctx, store.Decision{ExposureID: spring.Exposure.ID, Status: model.StatusOpen, Reason: "WAF removed", By: "alice",
		At: first.Add(3 * day)}); err != nil {
		t.Fatal(err)
	}
	if due, err = sla.KPIDue(ctx, a); err != nil {
		t.Fatal(err)
	}
	for _, at := range []time.Duration{4 * day, 40 * day} {
		now := first.Add(at)
		res, err := sla.List(ctx, a, sla.Query{Now: now})
		if err != nil {
			t.Fatal(err)
		}
		if len(res.Items) < 2 {
			t.Fatalf("List(+%v) = %d items, want several", at, len(res.Items))
		}
		for _, it := range res.Items {
			x := it.Exposure
			got, ok := due(&x, now)
			if !ok || !got.Equal(it.Due.At) {
				t.Errorf("KPIDue()(%s, +%v) = %v, %v, want %v as List says", x.ID, at, got, ok, it.Due.At)
			}
		}
	}
	// Before the acceptance, no pause: due first seen + 7 days.
	x := spring.Exposure
	if got, ok := due(&x, first.Add(12*time.Hour)); !ok || !got.Equal(first.Add(7*day)) {
		t.Errorf("KPIDue()(Spring4Shell, +12h) = %v, %v, want %v", got, ok, first.Add(7*day))
	}
	// Accepted at +2d: paused since +1d.
	if got, ok := due(&x, first.Add(2*day)); !ok || !got.Equal(first.Add(8*day)) {
		t.Errorf("KPIDue()(Spring4Shell, +2d) = %v, %v, want %v (paused a day)", got, ok, first.Add(8*day))
	}
	none := exampleApp(t, "sla: {}\n")
	if f, err := sla.KPIDue(ctx, none); err != nil || f != nil {
		t.Errorf("KPIDue() without rules = %v, %v, want nil", f != nil, err)
	}
}
