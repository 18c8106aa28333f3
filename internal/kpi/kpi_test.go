package kpi_test

import (
	"context"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/ctem-dev/ctem/examples"
	"github.com/ctem-dev/ctem/internal/analyze"
	"github.com/ctem-dev/ctem/internal/estate"
	"github.com/ctem-dev/ctem/internal/estate/scope"
	"github.com/ctem-dev/ctem/internal/graph"
	"github.com/ctem-dev/ctem/internal/ingest"
	"github.com/ctem-dev/ctem/internal/ingest/ingesttest"
	"github.com/ctem-dev/ctem/internal/inputs"
	"github.com/ctem-dev/ctem/internal/intel/kev"
	"github.com/ctem-dev/ctem/internal/intel/score"
	"github.com/ctem-dev/ctem/internal/kpi"
	"github.com/ctem-dev/ctem/internal/model"
	"github.com/ctem-dev/ctem/internal/store"
	"github.com/ctem-dev/ctem/internal/store/storetest"
)

// catalog is the KEV catalog snapshot ctem embeds.
var catalog = func() *kev.Catalog {
	c, err := kev.Snapshot()
	if err != nil {
		panic(err)
	}
	return c
}()

// base is a Monday: the first week of the script.
var base = time.Date(2026, 1, 5, 0, 0, 0, 0, time.UTC)

// step is one scripted ingest: files at a time, then an analysis when
// analyse is set.
type step struct {
	at      time.Time
	files   []string // paths; examples/... from the demo estate
	target  string
	analyse bool
}

// model is the test's own account of the script, from the reports as
// parsed (not from the store): which exposures each (tool, target)'s
// latest scan reports, when each exposure was first seen, its fixes and
// reopenings, and the attack paths open after each analysis.
type modelState struct {
	latest    map[string]map[string]model.Status // scan key -> exposure -> best status
	vulns     map[string][]string                // exposure -> vulnerability ids
	asset     map[string]string                  // exposure -> asset
	first     map[string]time.Time
	severity  map[string]model.Severity
	present   map[string]bool
	fixes     map[string][]time.Time
	reopens   map[string][]time.Time
	openPaths map[string]string // path id -> jewel
	pathOpen  []time.Time
	pathClose []time.Time
	pathJewel []pathEvent    // every path event, with its jewel
	openAt    []openSnapshot // present and untriaged exposures, and open paths, after each step
}

type pathEvent struct {
	at    time.Time
	jewel string
}

type openSnapshot struct {
	at    time.Time
	open  int
	paths int
	kev   []string // open exposures on a KEV CVE
	jewel map[string]int
	ids   map[string]bool // the open exposures
}

func TestKPIsOverSimulatedWeeks(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	dir := t.TempDir()
	estateFiles := writeExamples(t, dir)
	day := 24 * time.Hour
	script := []step{
		{at: base.Add(1*day + 10*time.Hour), files: estateFiles, analyse: true},
		{at: base.Add(8 * day), files: []string{"testdata/same_cve_different_paths.json"}, target: "registry.example.com/shop/app:1.0"},
		{at: base.Add(16 * day), files: []string{"testdata/no_vuln.json"}, target: "registry.example.com/shop/app:1.0"},
		{at: base.Add(22 * day), files: []string{"testdata/fixed-api.trivy.json"}, analyse: true},
		{at: base.Add(29 * day), files: []string{"testdata/same_cve_different_paths.json"}, target: "registry.example.com/shop/app:1.0"},
		{at: base.Add(36*day + 3*time.Hour), files: []string{"testdata/no_vuln.json"}, target: "registry.example.com/shop/app:1.0"},
	}
	now := base.Add(40*day + 12*time.Hour)

	st := storetest.Open(t)
	var clock time.Time
	st.Now = func() time.Time { return clock }
	m := &modelState{latest: map[string]map[string]model.Status{}, vulns: map[string][]string{}, asset: map[string]string{}, first: map[string]time.Time{}, severity: map[string]model.Severity{},
		present: map[string]bool{}, fixes: map[string][]time.Time{}, reopens: map[string][]time.Time{}, openPaths: map[string]string{}}
	sc := demoScope(t)
	for _, s := range script {
		for i, f := range s.files {
			clock = s.at.Add(time.Duration(i) * time.Second)
			target := exampleTarget(f, s.target)
			format := detect(t, f)
			if _, err := ingesttest.Ingest(st, format, ingest.Options{Target: target}, f); err != nil {
				t.Fatalf("ingest %s: %v", f, err)
			}
			m.scan(t, format, f, target, clock)
		}
		if s.analyse {
			at := s.at.Add(time.Hour)
			run := analyseStore(t, st, sc)
			if _, err := analyze.Record(ctx, st, run, at); err != nil {
				t.Fatal(err)
			}
			m.analysis(run, at)
		}
		m.snapshot(s.at.Add(2 * time.Hour))
	}

	for _, since := range []time.Duration{60 * day, 14 * day} {
		got, err := kpi.Compute(ctx, st, kpi.Options{Now: now, Since: since, Owner: teamOf, Critical: critical, KEVDue: func(cve string) (time.Time, bool) {
			e, ok := catalog.Lookup(cve)
			return e.DueDate, ok && !e.DueDate.IsZero()
		}})
		if err != nil {
			t.Fatal(err)
		}
		want := m.report(now, since)
		// The bands and snapshots are TestSnapshotsAndBands's: this
		// script records paths without an analysis.
		opts := []cmp.Option{cmpopts.IgnoreUnexported(kpi.Period{}), cmpopts.IgnoreFields(kpi.Report{}, "ByBand", "Snapshots")}
		if diff := cmp.Diff(got, want, opts...); diff != "" {
			t.Errorf("Compute(since %v) (-got +want):\n%s", since, diff)
		}
		t.Logf("jewels: %+v", got.Jewels)
		t.Logf("teams: %+v; critical %d of %d (%.2f)", got.Teams, got.OpenOnCritical, got.Open, got.CriticalShare)
		t.Logf("Compute(since %v): %d periods, open %d, open paths %d, KEV overdue %d, time to remediate %+v", since, len(got.Periods), got.Open, got.OpenPaths, got.KEVOverdue, got.BySeverity)
		for _, p := range got.Periods {
			t.Logf("  %s opened %d fixed %d reopened %d open %d kev-overdue %d | paths +%d -%d open %d", p.Start.Format("2006-01-02"), p.Opened, p.Fixed, p.Reopened, p.Open, p.KEVOverdue, p.PathsOpened, p.PathsClosed, p.OpenPaths)
		}
		// SLA adherence by owner under the test's policy (due a number
		// of days after first seen by severity), against the model.
		withSLA, err := kpi.Compute(ctx, st, kpi.Options{Now: now, Since: since, Owner: teamOf, SLA: func(x *model.Exposure, _ time.Time) (time.Time, bool) {
			d, ok := slaAllowed[x.Severity]
			return x.FirstSeen.Add(d), ok
		}})
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(withSLA.SLA, m.sla(now, since)); diff != "" {
			t.Errorf("Compute(since %v).SLA (-got +want):\n%s", since, diff)
		}
		if since == 60*day {
			var slaFixed, inTime, pastDue int
			for _, o := range withSLA.SLA {
				for _, w := range o.Weeks {
					slaFixed, inTime, pastDue = slaFixed+w.Fixed, inTime+w.FixedInTime, pastDue+w.PastDue
				}
			}
			if inTime == 0 || inTime == slaFixed || pastDue == 0 || len(withSLA.SLA) < 2 {
				t.Errorf("Compute(since 60d).SLA: %d fixed, %d in time, %d past due, %d owners: the script exercises too little", slaFixed, inTime, pastDue, len(withSLA.SLA))
			}
			for _, o := range withSLA.SLA {
				for _, w := range o.Weeks {
					t.Logf("SLA %s %s: fixed %d (in time %d, %.2f), open %d (past due %d, %.2f)", o.Owner, w.Start.Format("2006-01-02"), w.Fixed, w.FixedInTime, w.InTimeShare, w.Open, w.PastDue, w.PastDueShare)
				}
			}
			// The script must exercise what it claims to.
			var fixed, reopened, opened, closed int
			for _, p := range got.Periods {
				fixed += p.Fixed
				reopened += p.Reopened
				opened += p.PathsOpened
				closed += p.PathsClosed
			}
			kevs := 0
			for _, p := range got.Periods {
				kevs += p.KEVOverdue
			}
			if got.OpenOnCritical == 0 || got.OpenOnCritical == got.Open || len(got.Teams) < 2 {
				t.Errorf("Compute(since 60d): %d of %d open on critical assets, %d teams: the predicates split nothing", got.OpenOnCritical, got.Open, len(got.Teams))
			}
			if len(got.Jewels) < 2 {
				t.Errorf("Compute(since 60d): open paths to %d jewels, want several", len(got.Jewels))
			}
			if fixed < 2 || reopened == 0 || opened == 0 || closed == 0 || kevs == 0 {
				t.Errorf("Compute(since 60d): fixed %d, reopened %d, paths opened %d closed %d: the script exercises too little", fixed, reopened, opened, closed)
			}
		}
	}
}

// scan applies one parsed report to the model.
func (m *modelState) scan(t *testing.T, f ingest.Format, path, target string, at time.Time) {
	t.Helper()
	rec, err := ingesttest.TryParse(f, path, ingest.Options{Target: target})
	if err != nil {
		t.Fatalf("parse %s: %v", path, err)
	}
	if len(rec.Findings) > 0 && len(rec.Scans) != 1 {
		t.Fatalf("%s: %d scans; the model takes one scan per report with findings", path, len(rec.Scans))
	}
	for _, s := range rec.Scans {
		key := s.Tool + "\x00" + s.Target
		reported := map[string]model.Status{}
		for _, fd := range rec.Findings {
			if prev, ok := reported[fd.ExposureID]; !ok || fd.Status == model.StatusOpen || prev == "" {
				reported[fd.ExposureID] = fd.Status
			}
			m.vulns[fd.ExposureID] = fd.VulnIDs
			m.asset[fd.ExposureID] = fd.Asset
			if _, ok := m.first[fd.ExposureID]; !ok {
				m.first[fd.ExposureID] = at
			}
			if fd.Severity.Rank() > m.severity[fd.ExposureID].Rank() || m.severity[fd.ExposureID] == "" {
				m.severity[fd.ExposureID] = fd.Severity
			}
		}
		m.latest[key] = reported
	}
	now := map[string]bool{}
	for _, rep := range m.latest {
		for id := range rep {
			now[id] = true
		}
	}
	for id := range m.present {
		if !now[id] {
			m.fixes[id] = append(m.fixes[id], at)
		}
	}
	for id := range now {
		if !m.present[id] && len(m.fixes[id]) > 0 {
			m.reopens[id] = append(m.reopens[id], at)
		}
	}
	m.present = now
}

// analysis applies one analysis's paths to the model.
func (m *modelState) analysis(run *analyze.Run, at time.Time) {
	now := map[string]string{}
	for _, p := range run.Result.Paths {
		now[p.ID] = p.Jewel
		if _, ok := m.openPaths[p.ID]; !ok {
			m.pathOpen = append(m.pathOpen, at)
			m.pathJewel = append(m.pathJewel, pathEvent{at, p.Jewel})
		}
	}
	for id, j := range m.openPaths {
		if _, ok := now[id]; !ok {
			m.pathClose = append(m.pathClose, at)
			m.pathJewel = append(m.pathJewel, pathEvent{at, j})
		}
	}
	m.openPaths = now
}

// untriaged returns the present exposures that a latest scan reports as
// open.
func (m *modelState) untriaged() map[string]bool {
	open := map[string]bool{}
	for _, rep := range m.latest {
		for id, st := range rep {
			if st == model.StatusOpen {
				open[id] = true
			}
		}
	}
	return open
}

func (m *modelState) snapshot(at time.Time) {
	open := m.untriaged()
	var kevs []string
	for id := range open {
		for _, v := range m.vulns[id] {
			if _, ok := catalog.Lookup(v); ok {
				kevs = append(kevs, id)
				break
			}
		}
	}
	jewels := map[string]int{}
	for _, j := range m.openPaths {
		jewels[j]++
	}
	m.openAt = append(m.openAt, openSnapshot{at, len(open), len(m.openPaths), kevs, jewels, open})
}

// stateAt returns the open exposures and paths of the last snapshot at or
// before t, and how many open exposures are on a KEV CVE due before t.
func (m *modelState) stateAt(t time.Time) (open, paths, overdue int) {
	open, paths, overdue, _ = m.stateWithJewels(t)
	return open, paths, overdue
}

func (m *modelState) stateWithJewels(t time.Time) (open, paths, overdue int, jewels map[string]int) {
	var last openSnapshot
	for _, s := range m.openAt {
		if !s.at.After(t) {
			last = s
		}
	}
	for _, id := range last.kev {
		for _, v := range m.vulns[id] {
			if e, ok := catalog.Lookup(v); ok && !e.DueDate.IsZero() && e.DueDate.Before(t) {
				overdue++
				break
			}
		}
	}
	return last.open, last.paths, overdue, last.jewel
}

// report computes the expected report from the model.
func (m *modelState) report(now time.Time, since time.Duration) *kpi.Report {
	from := now.Add(-since)
	from = time.Date(from.Year(), from.Month(), from.Day(), 0, 0, 0, 0, time.UTC)
	for from.Weekday() != time.Monday {
		from = from.AddDate(0, 0, -1)
	}
	r := &kpi.Report{From: from, To: now}
	in := func(t, a, b time.Time, last bool) bool {
		return !t.Before(a) && (t.Before(b) || last && t.Equal(b))
	}
	for s := from; s.Before(now); s = s.AddDate(0, 0, 7) {
		e := s.AddDate(0, 0, 7)
		last := !e.Before(now)
		if last {
			e = now
		}
		p := kpi.Period{Start: s, End: e}
		for _, f := range m.first {
			if in(f, s, e, last) {
				p.Opened++
			}
		}
		for _, ts := range m.fixes {
			for _, f := range ts {
				if in(f, s, e, last) {
					p.Fixed++
				}
			}
		}
		for _, ts := range m.reopens {
			for _, f := range ts {
				if in(f, s, e, last) {
					p.Reopened++
				}
			}
		}
		for _, f := range m.pathOpen {
			if in(f, s, e, last) {
				p.PathsOpened++
			}
		}
		for _, f := range m.pathClose {
			if in(f, s, e, last) {
				p.PathsClosed++
			}
		}
		p.Open, p.OpenPaths, p.KEVOverdue = m.stateAt(e)
		r.Periods = append(r.Periods, p)
	}
	r.Open, r.OpenPaths, r.KEVOverdue = m.stateAt(now)
	// Jewels: every jewel a path to which was ever open in or before the
	// window's periods.
	series := map[string]*kpi.Jewel{}
	jewelOf := func(j string) *kpi.Jewel {
		if series[j] == nil {
			series[j] = &kpi.Jewel{Jewel: j, Open: make([]int, len(r.Periods))}
		}
		return series[j]
	}
	for _, e := range m.pathJewel {
		if !e.at.Before(from) && !e.at.After(now) {
			jewelOf(e.jewel)
		}
	}
	for k, p := range r.Periods {
		_, _, _, js := m.stateWithJewels(p.End)
		for j, n := range js {
			jewelOf(j).Open[k] = n
		}
	}
	_, _, _, js := m.stateWithJewels(now)
	for j, n := range js {
		jewelOf(j).OpenNow = n
	}
	for _, j := range series {
		r.Jewels = append(r.Jewels, *j)
	}
	slices.SortFunc(r.Jewels, func(a, b kpi.Jewel) int { return strings.Compare(a.Jewel, b.Jewel) })
	durs := map[model.Severity][]time.Duration{}
	for id, ts := range m.fixes {
		last := ts[len(ts)-1]
		if !last.Before(from) {
			durs[m.severity[id]] = append(durs[m.severity[id]], last.Sub(m.first[id]))
		}
	}
	summary := func(ds []time.Duration, sev model.Severity, team string) kpi.Remediation {
		slices.Sort(ds)
		var sum time.Duration
		for _, d := range ds {
			sum += d
		}
		return kpi.Remediation{Severity: sev, Team: team, Fixed: len(ds), Mean: sum / time.Duration(len(ds)),
			P90: ds[int(math.Ceil(float64(len(ds))*9/10))-1]}
	}
	for _, sev := range model.Severities {
		if ds := durs[sev]; len(ds) > 0 {
			r.BySeverity = append(r.BySeverity, summary(ds, sev, ""))
		}
	}
	// Teams and business-critical assets, by the test's own predicates.
	var last openSnapshot
	for _, s := range m.openAt {
		if !s.at.After(now) {
			last = s
		}
	}
	teams := map[string]*kpi.Team{}
	team := func(id string) *kpi.Team {
		name := teamOf(m.asset[id])
		if teams[name] == nil {
			teams[name] = &kpi.Team{Team: name}
		}
		return teams[name]
	}
	teamDurs := map[string][]time.Duration{}
	for id, f := range m.first {
		tm := team(id)
		if !f.Before(from) && !f.After(now) {
			tm.Opened++
		}
		for _, fx := range m.fixes[id] {
			if !fx.Before(from) && !fx.After(now) {
				tm.Fixed++
			}
		}
		if ts := m.fixes[id]; len(ts) > 0 && !ts[len(ts)-1].Before(from) {
			teamDurs[tm.Team] = append(teamDurs[tm.Team], ts[len(ts)-1].Sub(f))
		}
		if last.ids[id] {
			tm.Open++
			if critical(m.asset[id]) {
				r.OpenOnCritical++
			}
		}
	}
	for name, tm := range teams {
		if ds := teamDurs[name]; len(ds) > 0 {
			tm.Remediation = summary(ds, "", name)
		}
		r.Teams = append(r.Teams, *tm)
	}
	slices.SortFunc(r.Teams, func(a, b kpi.Team) int { return strings.Compare(a.Team, b.Team) })
	if r.Open > 0 {
		r.CriticalShare = float64(r.OpenOnCritical) / float64(r.Open)
	}
	return r
}

// slaAllowed is the test's SLA policy: the time allowed from first seen,
// by severity; low and unknown have none.
var slaAllowed = map[model.Severity]time.Duration{
	model.SeverityCritical: 10 * 24 * time.Hour,
	model.SeverityHigh:     12 * 24 * time.Hour,
	model.SeverityMedium:   20 * 24 * time.Hour,
}

// sla computes the expected SLA adherence by owner from the model: in
// each week, the fixes of exposures with an SLA (in time when at or
// before first seen + allowed) and the exposures open at the week's last
// instant (past due when that instant is after the due date).
func (m *modelState) sla(now time.Time, since time.Duration) []kpi.OwnerSLA {
	want := m.report(now, since)
	by := map[string]*kpi.OwnerSLA{}
	for id, first := range m.first {
		allowed, ok := slaAllowed[m.severity[id]]
		if !ok || first.After(now) {
			continue
		}
		due := first.Add(allowed)
		owner := teamOf(m.asset[id])
		o := by[owner]
		if o == nil {
			o = &kpi.OwnerSLA{Owner: owner}
			for _, p := range want.Periods {
				o.Weeks = append(o.Weeks, kpi.SLAWeek{Start: p.Start})
			}
			by[owner] = o
		}
		for k, p := range want.Periods {
			last := k == len(want.Periods)-1
			w := &o.Weeks[k]
			for _, fx := range m.fixes[id] {
				if !fx.Before(p.Start) && (fx.Before(p.End) || last && fx.Equal(p.End)) {
					w.Fixed++
					if !fx.After(due) {
						w.FixedInTime++
					}
				}
			}
			end := p.End
			if !last {
				end = end.Add(-time.Nanosecond)
			}
			var snap openSnapshot
			for _, s := range m.openAt {
				if !s.at.After(end) {
					snap = s
				}
			}
			if snap.ids[id] {
				w.Open++
				if end.After(due) {
					w.PastDue++
				}
			}
		}
	}
	var out []kpi.OwnerSLA
	for _, o := range by {
		for i := range o.Weeks {
			w := &o.Weeks[i]
			if w.Fixed > 0 {
				w.InTimeShare = float64(w.FixedInTime) / float64(w.Fixed)
			}
			if w.Open > 0 {
				w.PastDueShare = float64(w.PastDue) / float64(w.Open)
			}
		}
		out = append(out, *o)
	}
	slices.SortFunc(out, func(a, b kpi.OwnerSLA) int { return strings.Compare(a.Owner, b.Owner) })
	return out
}

// teamOf is the test's owner of an asset: its kind of key ("image",
// "repo", "k8s").
func teamOf(asset string) string {
	kind, _, _ := strings.Cut(asset, ":")
	return kind
}

// critical is the test's business-critical predicate: images.
func critical(asset string) bool { return strings.HasPrefix(asset, "image:") }

func detect(t *testing.T, path string) ingest.Format {
	t.Helper()
	src, err := ingest.Open(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	f, err := inputs.All().Detect(src.Sniff())
	if err != nil {
		t.Fatalf("detect %s: %v", path, err)
	}
	return f
}

// writeExamples writes the demo estate's inputs under dir/examples and
// returns their paths in ingest order.
func writeExamples(t *testing.T, dir string) []string {
	t.Helper()
	var out []string
	for _, name := range examples.Inputs {
		data, err := examples.Files.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		p := filepath.Join(dir, "examples", name)
		if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, data, 0o600); err != nil {
			t.Fatal(err)
		}
		out = append(out, p)
	}
	return out
}

// exampleTarget is the demo's target of a demo input, else target.
func exampleTarget(path, target string) string {
	for name, tg := range examples.Targets {
		if filepath.ToSlash(path) == name || len(path) > len(name) && filepath.ToSlash(path)[len(path)-len(name):] == name {
			return tg
		}
	}
	return target
}

func demoScope(t *testing.T) *scope.Scope {
	t.Helper()
	f, err := examples.Files.Open(examples.Scope)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc, err := scope.Parse("ctem.yaml", f)
	if err != nil {
		t.Fatal(err)
	}
	return sc
}

func analyseStore(t *testing.T, st store.Store, sc *scope.Scope) *analyze.Run {
	t.Helper()
	ctx := context.Background()
	var assets []model.Asset
	for a, err := range st.Assets(ctx, store.Filter{}) {
		if err != nil {
			t.Fatal(err)
		}
		assets = append(assets, a)
	}
	var rels []model.Relation
	for r, err := range st.Relations(ctx, store.Filter{}) {
		if err != nil {
			t.Fatal(err)
		}
		rels = append(rels, r)
	}
	run, err := analyze.Analyze(ctx, st, estate.Build(assets, rels, sc), score.Intel{}, graph.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return run
}

func TestJewelOf(t *testing.T) {
	t.Parallel()
	tests := []struct{ summary, want string }{
		{"network:k8s:prod/shop/Service/a -[routing]-> network:k8s:prod/shop/Deployment/a -[permission]-> read:tf:aws_s3_bucket.x", "tf:aws_s3_bucket.x"},
		{"network:k8s:prod/shop/Service/a => write:k8s:prod/shop/StatefulSet/orders-db", "k8s:prod/shop/StatefulSet/orders-db"},
		{"identity:arn:aws:iam::1:role/x", "arn:aws:iam::1:role/x"},
	}
	for _, tt := range tests {
		if got := kpi.JewelOf(tt.summary); got != tt.want {
			t.Errorf("JewelOf(%q) = %q, want %q", tt.summary, got, tt.want)
		}
	}
}
