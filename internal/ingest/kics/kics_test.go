package kics_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/ctem-dev/ctem/internal/ingest"
	"github.com/ctem-dev/ctem/internal/ingest/formats"
	"github.com/ctem-dev/ctem/internal/ingest/ingesttest"
	"github.com/ctem-dev/ctem/internal/ingest/kics"
	"github.com/ctem-dev/ctem/internal/model"
)

func testdata(t testing.TB) []string {
	t.Helper()
	files, err := filepath.Glob("testdata/*.json")
	if err != nil || len(files) == 0 {
		t.Fatalf("no testdata: %v", err)
	}
	return files
}

func TestDetect(t *testing.T) {
	t.Parallel()
	ingesttest.CheckDetect(t, append(formats.All(), kics.Format), kics.Format, testdata(t), "../trivy/testdata/*.json", "../sarif/testdata/*")
}

// count decodes a report independently and counts its file entries, all
// and distinct (KICS repeats identical entries).
func count(t *testing.T, path string) (all, distinct int) {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var r struct {
		Queries []struct {
			QueryID string            `json:"query_id"`
			Files   []json.RawMessage `json:"files"`
		} `json:"queries"`
	}
	if err := json.Unmarshal(data, &r); err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for _, q := range r.Queries {
		all += len(q.Files)
		for _, f := range q.Files {
			seen[q.QueryID+string(f)] = true
		}
	}
	return all, len(seen)
}

func TestParseCounts(t *testing.T) {
	t.Parallel()
	for _, path := range testdata(t) {
		r := ingesttest.Parse(t, kics.Format, path, ingest.Options{Target: "github.com/org/infra"})
		all, distinct := count(t, path)
		if got, want := len(r.Findings), all; got != want {
			t.Errorf("Parse(%s) = %d findings, want %d", path, got, want)
		}
		if got, want := len(r.Distinct()), distinct; got != want {
			t.Errorf("Parse(%s) = %d distinct findings, want %d", path, got, want)
		}
		if len(r.Scans) != 1 || r.Scans[0].Asset != "repo:github.com/org/infra" {
			t.Errorf("Parse(%s) scans = %+v, want one of repo:github.com/org/infra", path, r.Scans)
		}
	}
}

func TestParseFields(t *testing.T) {
	t.Parallel()
	r := ingesttest.Parse(t, kics.Format, "testdata/many_findings.json", ingest.Options{Target: "infra"})
	type view struct {
		Kind            model.FindingKind
		RuleID          string
		Severity        model.Severity
		Title           string
		Asset           string
		Location        model.Location
		ToolFingerprint string
		Pointer         string
	}
	v := func(f *model.Finding) view {
		return view{f.Kind, f.RuleID, f.Severity, f.Title, f.Asset, f.Location, f.ToolFingerprint, f.Pointer}
	}
	want := view{
		Kind:            model.FindingMisconfig,
		RuleID:          "7af43613-6bb9-4a0e-8c4d-1314b799425e",
		Severity:        model.SeverityHigh,
		Title:           "S3 Bucket Access to Any Principal",
		Asset:           "repo:infra",
		Location:        model.Location{Path: "test/charts/example/terraform/s3.tf", Line: 36, Component: "aws_s3_bucket_policy[this].policy.Principal"},
		ToolFingerprint: "da1423e225c92e2941862ed75eacd8f807f8aa7bc003d490faeb8e56a7264ea9",
		Pointer:         "/queries/1/files/0",
	}
	if diff := cmp.Diff(v(r.Findings[1]), want); diff != "" {
		t.Errorf("Parse finding 1 (-got +want):\n%s", diff)
	}
	if f := r.Findings[0]; f.Kind != model.FindingSecret || f.Location.Line != 25 {
		t.Errorf("Parse finding 0 = kind %q line %d, want secret at line 25", f.Kind, f.Location.Line)
	}
}

func TestEmptyAndInvalid(t *testing.T) {
	t.Parallel()
	r, err := ingesttest.TryParse(kics.Format, "testdata/no_findings.json", ingest.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if len(r.Scans) != 1 || len(r.Findings) != 0 || r.Scans[0].Target != "unknown" {
		t.Errorf("Parse(no_findings) = %+v, %d findings, want one scan of unknown, 0 findings", r.Scans, len(r.Findings))
	}
	for _, bad := range []string{``, `[]`, `{"queries":{}}`, `{"queries":[{"files":[{"line":{}}]}]}`} {
		if _, err := ingesttest.ParseBytes(kics.Format, "bad.json", []byte(bad), ingest.Options{}); err == nil {
			t.Errorf("Parse(%q) = nil error, want one", bad)
		}
	}
}

func TestMalformed(t *testing.T) {
	t.Parallel()
	ingesttest.CheckMalformed(t, kics.Format, "testdata/many_findings.json")
}

func TestStore(t *testing.T) {
	t.Parallel()
	st := ingesttest.OpenStore(t)
	path := "testdata/many_findings.json"
	for range 2 {
		if _, err := ingesttest.Ingest(st, kics.Format, ingest.Options{Target: "infra"}, path); err != nil {
			t.Fatal(err)
		}
	}
	_, distinct := count(t, path)
	if got, want := ingesttest.Count(t, st).Findings, distinct; got != want {
		t.Errorf("store findings = %d, want %d", got, want)
	}
}

func FuzzKICS(f *testing.F) {
	ingesttest.Fuzz(f, kics.Format, testdata(f)...)
}
