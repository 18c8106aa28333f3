package store_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/ctem-dev/ctem/internal/ingest"
	"github.com/ctem-dev/ctem/internal/ingest/govulncheck"
	"github.com/ctem-dev/ctem/internal/ingest/grype"
	"github.com/ctem-dev/ctem/internal/ingest/ingesttest"
	"github.com/ctem-dev/ctem/internal/ingest/openvex"
	"github.com/ctem-dev/ctem/internal/ingest/trivy"
	"github.com/ctem-dev/ctem/internal/model"
	"github.com/ctem-dev/ctem/internal/store"
)

// writeVEX writes an OpenVEX document about the packages of the real
// Trivy report alpine-310.json, naming a package by its purl without
// qualifiers.
func writeVEX(t *testing.T) string {
	t.Helper()
	doc := `{"@context": "https://openvex.dev/ns/v0.2.0", "@id": "https://example.com/vex/1", "author": "test", "version": 1,
  "timestamp": "2026-11-26T00:00:00Z", "statements": [
  {"vulnerability": {"name": "CVE-2019-1549"}, "products": [{"@id": "pkg:apk/alpine/libssl1.1@1.1.1c-r0"}],
   "status": "not_affected", "justification": "vulnerable_code_not_in_execute_path"}]}`
	p := filepath.Join(t.TempDir(), "vex.json")
	if err := os.WriteFile(p, []byte(doc), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestEvidenceIndexMatchesStore checks that the in-memory index gives
// every exposure the same facts as the store's own query, on real
// reports that record facts by finding (govulncheck's reachability), by
// asset and vulnerability (Grype's EPSS and KEV) and by package or no
// product (OpenVEX on a real Trivy report's packages, and a fact on no
// asset).
func TestEvidenceIndexMatchesStore(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	st := ingesttest.OpenStore(t)
	for _, c := range []struct {
		f    ingest.Format
		path string
	}{
		{govulncheck.Format, "../ingest/govulncheck/testdata/many_vulns.json"},
		{grype.Format, "../ingest/grype/testdata/many_vulns_with_epss_values.json"},
		{openvex.Format, "../ingest/openvex/testdata/openvex_many_vuln.json"},
		{trivy.Format, "../ingest/trivy/testdata/alpine-310.json"},
		{openvex.Format, writeVEX(t)},
	} {
		if _, err := ingesttest.Ingest(st, c.f, ingest.Options{Target: "t"}, filepath.FromSlash(c.path)); err != nil {
			t.Fatalf("%s: %v", c.path, err)
		}
	}
	// A fact about a vulnerability on no asset in particular (the store
	// takes it; no parser writes one yet).
	tx, err := st.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := tx.Evidence(model.Evidence{Kind: model.EvidenceKEV, VulnID: "CVE-2019-1551", Source: "test"}); err != nil {
		t.Fatal(err)
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
	ix, err := store.LoadEvidence(ctx, st)
	if err != nil {
		t.Fatal(err)
	}
	key := func(es []model.Evidence) []string {
		var out []string
		for _, e := range es {
			out = append(out, fmt.Sprintf("%s|%s|%s|%s|%s", e.Kind, e.Source, e.Asset, e.VulnID, e.FindingID))
		}
		slices.Sort(out)
		return out
	}
	kinds := func(es []model.Evidence) []model.EvidenceKind {
		var out []model.EvidenceKind
		for _, e := range es {
			out = append(out, e.Kind)
		}
		return out
	}
	matched, byFinding, byVuln, byProduct := 0, 0, 0, map[string]int{}
	for x, err := range st.Exposures(ctx, store.Filter{}) {
		if err != nil {
			t.Fatal(err)
		}
		var want []model.Evidence
		for e, err := range st.Evidence(ctx, x) {
			if err != nil {
				t.Fatal(err)
			}
			want = append(want, e)
		}
		got := ix.Match(x)
		if !slices.Equal(key(got), key(want)) {
			t.Errorf("exposure %s: index gives %v, store %v", x.ID, key(got), key(want))
		}
		// The index of the facts read about x alone (a re-analysis's
		// read) gives the same facts, their kinds in the same order.
		about, err := store.IndexEvidence(st.EvidenceAbout(ctx, x.FindingIDs, x.VulnIDs, store.EvidenceKeys(x)))
		if err != nil {
			t.Fatal(err)
		}
		if a := about.Match(x); !slices.Equal(key(a), key(want)) || !slices.Equal(kinds(a), kinds(got)) {
			t.Errorf("exposure %s: index of EvidenceAbout gives %v (kinds %v), store %v (kinds %v)", x.ID, key(a), kinds(a), key(want), kinds(got))
		}
		matched += len(got)
		for _, e := range got {
			switch {
			case e.FindingID != "":
				byFinding++
			case e.Asset == "":
				byProduct["none"]++
			case e.Asset != x.Asset:
				byProduct["package"]++
			default:
				byVuln++
			}
		}
	}
	if byFinding == 0 || byVuln == 0 || byProduct["none"] == 0 || byProduct["package"] == 0 {
		t.Errorf("facts matched by finding %d, by asset and vulnerability %d, by product %v: the reports should give every way", byFinding, byVuln, byProduct)
	}
	t.Logf("%d facts matched (%d by finding, %d by asset and vulnerability, by product %v)", matched, byFinding, byVuln, byProduct)
}

// TestEvidenceMatches pins the one statement of the evidence rule.
func TestEvidenceMatches(t *testing.T) {
	t.Parallel()
	x := model.Exposure{Asset: "image:a", FindingIDs: []string{"f1"}, VulnIDs: []string{"CVE-1", "GHSA-1"},
		Package: model.Package{PURL: "pkg:golang/x/y@1.0?arch=amd64#sub"}}
	for _, tc := range []struct {
		e    model.Evidence
		want bool
	}{
		{model.Evidence{FindingID: "f1"}, true},
		{model.Evidence{FindingID: "f2", VulnID: "CVE-1", Asset: "image:b"}, false},
		{model.Evidence{VulnID: "CVE-1", Asset: "image:a"}, true},
		{model.Evidence{VulnID: "GHSA-1"}, true},
		{model.Evidence{VulnID: "CVE-2", Asset: "image:a"}, false},
		{model.Evidence{VulnID: "CVE-1", Asset: "pkg:golang/x/y@1.0?arch=amd64#sub"}, true},
		{model.Evidence{VulnID: "CVE-1", Asset: "pkg:golang/x/y@1.0"}, true},
		{model.Evidence{VulnID: "CVE-1", Asset: "pkg:golang/x/y@1.1"}, false},
		{model.Evidence{VulnID: "CVE-1", Asset: "pkg:golang/x/y"}, false},
	} {
		if got := store.EvidenceMatches(tc.e, x); got != tc.want {
			t.Errorf("EvidenceMatches(%+v, x) = %v, want %v", tc.e, got, tc.want)
		}
	}
}

// TestFilterMatchAsset checks the asset filter that the CLI's and the
// server's asset listings apply: kinds, exact keys and key prefixes.
func TestFilterMatchAsset(t *testing.T) {
	t.Parallel()
	img := model.Asset{Key: "image:ghcr.io/acme/api:1.4", Kind: model.KindImage}
	tests := []struct {
		f    store.Filter
		want bool
	}{
		{store.Filter{}, true},
		{store.Filter{Kinds: []string{"image"}}, true},
		{store.Filter{Kinds: []string{"workload"}}, false},
		{store.Filter{Assets: []string{"image:ghcr.io/acme/api:1.4"}}, true},
		{store.Filter{Assets: []string{"image:ghcr.io/acme/*"}}, true},
		{store.Filter{Assets: []string{"image:ghcr.io/acme/api"}}, false},
		{store.Filter{Assets: []string{"repo:*", "image:*"}, Kinds: []string{"image"}}, true},
		{store.Filter{Assets: []string{"image:*"}, Kinds: []string{"repository"}}, false},
	}
	for _, tt := range tests {
		if got := tt.f.MatchAsset(img); got != tt.want {
			t.Errorf("%+v.MatchAsset(%s) = %v, want %v", tt.f, img.Key, got, tt.want)
		}
	}
}
