package validate_test

import (
	"context"
	"io/fs"
	"net"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ctem-dev/ctem/examples"
	"github.com/ctem-dev/ctem/internal/app"
	"github.com/ctem-dev/ctem/internal/graph"
	"github.com/ctem-dev/ctem/internal/inputs"
	"github.com/ctem-dev/ctem/internal/model"
	"github.com/ctem-dev/ctem/internal/store"
	"github.com/ctem-dev/ctem/internal/store/sqlite"
	"github.com/ctem-dev/ctem/internal/validate"
)

// demo returns an App over the demo estate, analysed without threat
// intelligence: Spring4Shell is not known exploited there, so no path
// is validated before a probe.
func demo(t *testing.T) *app.App {
	t.Helper()
	ctx := t.Context()
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "ctem.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	a := &app.App{Store: st, Formats: inputs.All()}
	scope, err := fs.ReadFile(examples.Files, examples.Scope)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := a.SetScope(ctx, app.ScopeFile{Name: "ctem.yaml", Data: scope}); err != nil {
		t.Fatal(err)
	}
	var ins []app.Input
	for _, name := range examples.Inputs {
		f, err := examples.Files.Open(name)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { f.Close() })
		ins = append(ins, app.Input{Name: name, R: f, Target: examples.Targets[name]})
	}
	if _, err := a.Ingest(ctx, app.IngestRequest{Inputs: ins}); err != nil {
		t.Fatal(err)
	}
	if _, err := a.Analyze(ctx, graph.Options{}); err != nil {
		t.Fatal(err)
	}
	return a
}

// paths returns the open attack paths.
func paths(t *testing.T, a *app.App) []graph.Path {
	t.Helper()
	pl, err := a.Paths(t.Context(), app.PathQuery{})
	if err != nil {
		t.Fatal(err)
	}
	if len(pl.Paths) == 0 {
		t.Fatal("the demo has no attack path")
	}
	return pl.Paths
}

// through returns the paths from network access to asset.
func through(ps []graph.Path, asset string) []graph.Path {
	var out []graph.Path
	for _, p := range ps {
		if p.Entry == "network:"+asset {
			out = append(out, p)
		}
	}
	return out
}

func loopbackOnly(t *testing.T) validate.Allow {
	t.Helper()
	al, err := validate.ParseAllow([]string{"127.0.0.1/32"})
	if err != nil {
		t.Fatal(err)
	}
	return al
}

// TestRunOpenEntryValidates: a listener standing in for the demo's
// internet-facing service answers, and every path from that entry
// becomes validated, the weakness reached over the network (remote code
// execution, file read) evidenced by the probe; the same estate without
// the probe has none validated.
func TestRunOpenEntryValidates(t *testing.T) {
	t.Parallel()
	a := demo(t)
	before := paths(t, a)
	asset := strings.TrimPrefix(before[0].Entry, "network:")
	from := through(before, asset)
	for _, p := range from {
		if p.Validated {
			t.Fatalf("before probing, path %s is validated already; the test shows nothing", p.ID)
		}
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
	out, err := validate.Run(t.Context(), a, []validate.Target{
		{Asset: asset, Address: ln.Addr().String()},
		{Asset: "k8s:prod/shop/Secret/payment-provider-keys", Address: "127.0.0.1:9"},
	}, validate.RunOptions{Options: validate.Options{Allow: loopbackOnly(t), Timeout: 5 * time.Second}})
	if err != nil {
		t.Fatal(err)
	}
	if r := out.Results[0]; r.State != validate.StateOpen || out.Recorded == 0 || out.Reanalysis == nil {
		t.Fatalf("Run() = %+v, recorded %d, reanalysis %v; want open, evidence and a re-analysis", r, out.Recorded, out.Reanalysis != nil)
	}
	if r := out.Results[1]; r.State != validate.StateNoPath || r.Contacted {
		t.Errorf("Run(a target that starts no path) = %+v, want no-path and not contacted", r)
	}
	after := through(paths(t, a), asset)
	if len(after) != len(from) {
		t.Fatalf("after probing: %d paths from %s, want %d", len(after), asset, len(from))
	}
	// The re-analysis's KPI snapshot counts the paths the probe validated.
	last, probed := int64(0), -1.0
	for v, err := range a.Store.KPISnapshots(t.Context(), time.Time{}) {
		if err != nil {
			t.Fatal(err)
		}
		if v.AnalysisID > last {
			last, probed = v.AnalysisID, 0
		}
		if v.Dim == store.KPIEvidence && v.Key == string(model.EvidenceProbeConfirmed) {
			probed = v.Value
		}
	}
	if probed < float64(len(after)) {
		t.Errorf("KPISnapshots(analysis %d): %v paths validated by probe-confirmed, want at least %d", last, probed, len(after))
	}
	for _, p := range after {
		if !p.Validated {
			t.Errorf("after probing, path %s is not validated", p.ID)
		}
		evidenced := false
		for _, s := range p.Steps {
			if strings.HasPrefix(s.From, "network:") && len(s.ExposureIDs) > 0 && slices.Contains(s.Evidence, string(model.EvidenceProbeConfirmed)) {
				evidenced = true
			}
		}
		if !evidenced {
			t.Errorf("after probing, path %s has no weakness step reached over the network with probe-confirmed evidence: %+v", p.ID, p.Steps)
		}
	}
}

// TestRunClosedEntryLowers: a closed port in front of the entry lowers
// the likelihood of every path from it, and the step says why.
func TestRunClosedEntryLowers(t *testing.T) {
	t.Parallel()
	a := demo(t)
	before := paths(t, a)
	asset := strings.TrimPrefix(before[0].Entry, "network:")
	like := map[string]float64{}
	for _, p := range through(before, asset) {
		like[p.ID] = p.Likelihood
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := ln.Addr().String()
	ln.Close()
	out, err := validate.Run(t.Context(), a, []validate.Target{{Asset: asset, Address: closed}},
		validate.RunOptions{Options: validate.Options{Allow: loopbackOnly(t), Timeout: 5 * time.Second}})
	if err != nil {
		t.Fatal(err)
	}
	if out.Results[0].State != validate.StateClosed {
		t.Fatalf("Run(closed) = %+v, want closed", out.Results[0])
	}
	after := through(paths(t, a), asset)
	if len(after) == 0 {
		t.Fatal("after a closed probe no path is left: want them kept, less likely")
	}
	for _, p := range after {
		if was, ok := like[p.ID]; !ok || p.Likelihood >= was || p.Validated {
			t.Errorf("after a closed probe, path %s likelihood %.4f (was %.4f, known %v), validated %v; want lower and not validated", p.ID, p.Likelihood, was, ok, p.Validated)
		}
		refuted := false
		for _, s := range p.Steps {
			refuted = refuted || slices.Contains(s.Evidence, string(model.EvidenceProbeRefuted))
		}
		if !refuted {
			t.Errorf("after a closed probe, path %s names no probe-refuted step", p.ID)
		}
	}
	// A later open probe replaces the refutation.
	ln2, err := net.Listen("tcp", closed)
	if err != nil {
		t.Skipf("the closed port was taken meanwhile: %v", err)
	}
	defer ln2.Close()
	go func() {
		for {
			c, err := ln2.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
	out, err = validate.Run(context.Background(), a, []validate.Target{{Asset: asset, Address: closed}},
		validate.RunOptions{Options: validate.Options{Allow: loopbackOnly(t), Timeout: 5 * time.Second}})
	if err != nil {
		t.Fatal(err)
	}
	if out.Removed == 0 {
		t.Errorf("Run(open after closed) removed %d facts, want the refutations replaced", out.Removed)
	}
	for e, err := range a.Store.AllEvidence(t.Context()) {
		if err != nil {
			t.Fatal(err)
		}
		if e.Source == validate.Source && e.Kind == model.EvidenceProbeRefuted {
			t.Errorf("after an open probe, a refutation is left: %+v", e)
		}
	}
}

// TestRunDryRunRecordsNothing: a dry run lists the target and neither
// contacts it nor records evidence.
func TestRunDryRunRecordsNothing(t *testing.T) {
	t.Parallel()
	a := demo(t)
	asset := strings.TrimPrefix(paths(t, a)[0].Entry, "network:")
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	accepted := make(chan struct{}, 1)
	go func() {
		if c, err := ln.Accept(); err == nil {
			accepted <- struct{}{}
			c.Close()
		}
	}()
	out, err := validate.Run(t.Context(), a, []validate.Target{{Asset: asset, Address: ln.Addr().String()}},
		validate.RunOptions{DryRun: true, Options: validate.Options{Allow: loopbackOnly(t)}})
	if err != nil {
		t.Fatal(err)
	}
	if out.Results[0].State != validate.StateDryRun || out.Results[0].Contacted || out.Recorded != 0 {
		t.Errorf("Run(dry) = %+v, recorded %d; want a dry-run line and nothing recorded", out.Results[0], out.Recorded)
	}
	select {
	case <-accepted:
		t.Error("Run(dry) connected to the target")
	default:
	}
	n := 0
	for e, err := range a.Store.AllEvidence(t.Context()) {
		if err != nil {
			t.Fatal(err)
		}
		if e.Source == validate.Source {
			n++
		}
	}
	if n != 0 {
		t.Errorf("Run(dry) left %d probe facts, want 0", n)
	}
}
