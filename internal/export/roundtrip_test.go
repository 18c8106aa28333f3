package export_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/ctem-dev/ctem/internal/app"
	"github.com/ctem-dev/ctem/internal/ingest/openvex"
	"github.com/ctem-dev/ctem/internal/inputs"
	"github.com/ctem-dev/ctem/internal/model"
	"github.com/ctem-dev/ctem/internal/store"
	"github.com/ctem-dev/ctem/internal/store/sqlite"
)

// reingest writes out to a file named name and ingests it into a fresh
// SQLite database through the application's ingest use case, as
// `ctem ingest` does (format detected from the file), returning the
// database.
func reingest(t *testing.T, name string, out []byte) store.Store {
	t.Helper()
	dir := t.TempDir()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, out, 0o600); err != nil {
		t.Fatal(err)
	}
	st, err := sqlite.Open(context.Background(), filepath.Join(dir, "fresh.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	a := &app.App{Store: st, Formats: inputs.All()}
	res, err := a.Ingest(context.Background(), app.IngestRequest{Inputs: []app.Input{{Name: p}}})
	if err != nil {
		t.Fatalf("ingest the %s export: %v", name, err)
	}
	if len(res.Scans) != 1 {
		t.Fatalf("ingest the %s export: %d scans recorded, want 1", name, len(res.Scans))
	}
	return st
}

// sarifView is what a SARIF round trip keeps of an exposure: everything
// but the tools that reported it, their CVSS vectors and times (the
// reader is ctem).
type sarifView struct {
	Asset    string
	Kind     model.FindingKind
	VulnIDs  []string
	CWEs     []string
	Severity model.Severity
	Status   model.Status
	Title    string
	Package  model.Package
	Location model.Location
}

func sarifViewOf(x model.Exposure) sarifView {
	l := x.Location
	l.Snippet, l.Occurrence = "", 0
	return sarifView{x.Asset, x.Kind, x.VulnIDs, x.CWEs, x.Severity, x.Status, x.Title, x.Package, l}
}

func sortViews[T any](xs []T) []T {
	slices.SortFunc(xs, func(a, b T) int { return strings.Compare(fmt.Sprintf("%+v", a), fmt.Sprintf("%+v", b)) })
	return xs
}

func TestSARIFRoundTrip(t *testing.T) {
	t.Parallel()
	d := realEstate(t)
	fresh := reingest(t, "ctem.sarif", write(t, "sarif", d.exposures, d.paths))
	again, err := readExposures(fresh)
	if err != nil {
		t.Fatal(err)
	}
	var want, got []sarifView
	for _, x := range d.exposures {
		want = append(want, sarifViewOf(x.Exposure))
	}
	for _, x := range again {
		got = append(got, sarifViewOf(x.Exposure))
	}
	if diff := cmp.Diff(sortViews(got), sortViews(want)); diff != "" {
		t.Errorf("exposures after a SARIF round trip (-got +want):\n%s", diff)
	}
	// A vulnerability's identity is (asset, id, package, version): it
	// round-trips to the same exposure id. Code and secret exposures
	// are keyed by a snippet hash and a per-database secret hash the
	// export does not carry, so only their fields are compared above.
	ids := map[string]bool{}
	for _, x := range again {
		ids[x.ID] = true
	}
	n := 0
	for _, x := range d.exposures {
		if x.Kind != model.FindingVulnerability {
			continue
		}
		n++
		if !ids[x.ID] {
			t.Errorf("vulnerability exposure %s (%s on %s) has another id after a SARIF round trip", x.ID, x.VulnIDs, x.Asset)
		}
	}
	if n == 0 {
		t.Error("no vulnerability exposure to round-trip")
	}
}

// vexView is what a CycloneDX VEX round trip keeps of an exposure.
type vexView struct {
	ID, Asset, Vuln string
	Name, Version   string
	PURL            string
	Status          model.Status
}

func TestCycloneDXRoundTrip(t *testing.T) {
	t.Parallel()
	d := realEstate(t)
	// No report in testdata accepts a vulnerability on a package (the
	// corpus's suppressions are of code findings), so one open one is
	// accepted here, as a triage in ctem would.
	xs := slices.Clone(d.exposures)
	i := slices.IndexFunc(xs, func(x exportExposure) bool {
		return x.Status == model.StatusOpen && len(x.VulnIDs) > 0 && x.Package.Name != ""
	})
	if i < 0 {
		t.Fatal("no open vulnerability on a package in the test database")
	}
	xs[i].Status = model.StatusAccepted
	fresh := reingest(t, "ctem.cdx.json", write(t, "cyclonedx-vex", xs, nil))
	again, err := readExposures(fresh)
	if err != nil {
		t.Fatal(err)
	}
	var want, got []vexView
	statuses := map[model.Status]bool{}
	for _, x := range xs {
		if len(x.VulnIDs) == 0 || x.Package.Name == "" && x.Package.PURL == "" {
			continue
		}
		statuses[x.Status] = true
		want = append(want, vexView{x.ID, x.Asset, x.VulnIDs[0], x.Package.Name, x.Package.Version, x.Package.PURL, x.Status})
	}
	for _, x := range again {
		got = append(got, vexView{x.ID, x.Asset, x.VulnIDs[0], x.Package.Name, x.Package.Version, x.Package.PURL, x.Status})
	}
	if diff := cmp.Diff(sortViews(got), sortViews(want)); diff != "" {
		t.Errorf("exposures after a CycloneDX VEX round trip (-got +want):\n%s", diff)
	}
	if len(statuses) < len(model.Statuses) {
		t.Errorf("CycloneDX round trip saw statuses %v, want all of %v", statuses, model.Statuses)
	}
}

// TestOpenVEXRoundTrip checks that an OpenVEX export, ingested into a
// fresh database, states of each exposure's asset and vulnerability what
// ctem knew: OpenVEX statements become evidence, not findings.
func TestOpenVEXRoundTrip(t *testing.T) {
	t.Parallel()
	d := realEstate(t)
	fresh := reingest(t, "ctem.openvex.json", write(t, "openvex", d.exposures, nil))
	kindOf := map[model.Status]model.EvidenceKind{
		model.StatusOpen:          openvex.EvidenceVEXUnderInvestigation,
		model.StatusFixed:         openvex.EvidenceVEXFixed,
		model.StatusAccepted:      model.EvidenceVEXAffected,
		model.StatusNotAffected:   model.EvidenceVEXNotAffected,
		model.StatusFalsePositive: model.EvidenceVEXNotAffected,
	}
	type fact struct {
		Asset, Vuln string
		Kind        model.EvidenceKind
	}
	want := map[fact]bool{}
	for _, x := range d.exposures {
		if len(x.VulnIDs) == 0 {
			continue
		}
		want[fact{x.Asset, model.CanonicalVulnID(x.VulnIDs), kindOf[x.Status]}] = true
	}
	got := map[fact]bool{}
	for ev, err := range fresh.AllEvidence(context.Background()) {
		if err != nil {
			t.Fatal(err)
		}
		got[fact{ev.Asset, ev.VulnID, ev.Kind}] = true
	}
	if diff := cmp.Diff(got, want); diff != "" {
		t.Errorf("evidence after an OpenVEX round trip (-got +want):\n%s", diff)
	}
}
