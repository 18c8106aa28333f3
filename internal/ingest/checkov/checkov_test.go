package checkov_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/ctem-dev/ctem/internal/ingest"
	"github.com/ctem-dev/ctem/internal/ingest/checkov"
	"github.com/ctem-dev/ctem/internal/ingest/formats"
	"github.com/ctem-dev/ctem/internal/ingest/ingesttest"
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
	ingesttest.CheckDetect(t, append(formats.All(), checkov.Format), checkov.Format, testdata(t), "../trivy/testdata/*.json", "../sarif/testdata/*")
}

// counts decodes a report independently and counts its failed and
// skipped checks.
func counts(t *testing.T, path string) (failed, skipped int) {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	type report struct {
		Results struct {
			Failed  []any `json:"failed_checks"`
			Skipped []any `json:"skipped_checks"`
		} `json:"results"`
	}
	var list []report
	if err := json.Unmarshal(data, &list); err != nil {
		var one report
		if err := json.Unmarshal(data, &one); err != nil {
			t.Fatal(err)
		}
		list = []report{one}
	}
	for _, r := range list {
		failed += len(r.Results.Failed)
		skipped += len(r.Results.Skipped)
	}
	return failed, skipped
}

func TestParseCounts(t *testing.T) {
	t.Parallel()
	for _, path := range testdata(t) {
		r := ingesttest.Parse(t, checkov.Format, path, ingest.Options{Target: "https://github.com/bridgecrewio/terragoat"})
		failed, skipped := counts(t, path)
		if got, want := len(r.Findings), failed+skipped; got != want {
			t.Errorf("Parse(%s) = %d findings, want %d", path, got, want)
		}
		if len(r.Scans) != 1 {
			t.Fatalf("Parse(%s) = %d scans, want 1", path, len(r.Scans))
		}
		if got, want := r.Scans[0].Asset, "repo:github.com/bridgecrewio/terragoat"; got != want {
			t.Errorf("Parse(%s) scan asset = %q, want %q", path, got, want)
		}
		for _, f := range r.Findings {
			if f.Asset != r.Scans[0].Asset || f.Kind != model.FindingMisconfig {
				t.Errorf("Parse(%s) finding asset, kind = %q, %q, want scan asset, misconfiguration", path, f.Asset, f.Kind)
			}
		}
	}
}

func TestParseFields(t *testing.T) {
	t.Parallel()
	r := ingesttest.Parse(t, checkov.Format, "testdata/checkov-report-multiple-check_type.json", ingest.Options{Target: "terragoat"})
	f := r.Findings[0]
	want := model.Finding{
		RuleID:   "CKV_AWS_161",
		Title:    "Ensure RDS database has IAM authentication enabled",
		Severity: model.SeverityUnknown,
		Asset:    "repo:terragoat",
		Location: model.Location{Path: "aws/db-app.tf", Line: 1, EndLine: 41, Component: "aws_db_instance.default"},
		Pointer:  "/0/results/failed_checks/0",
		Status:   model.StatusOpen,
	}
	got := model.Finding{RuleID: f.RuleID, Title: f.Title, Severity: f.Severity, Asset: f.Asset, Location: f.Location, Pointer: f.Pointer, Status: f.Status}
	if got.RuleID != want.RuleID || got.Title != want.Title || got.Severity != want.Severity || got.Asset != want.Asset ||
		got.Location != want.Location || got.Pointer != want.Pointer || got.Status != want.Status {
		t.Errorf("Parse first finding = %+v, want %+v", got, want)
	}
	last := r.Findings[len(r.Findings)-1]
	if last.RuleID != "CKV_DOCKER_2" && last.RuleID != "CKV_DOCKER_3" {
		t.Errorf("last finding rule = %q, want a Dockerfile check", last.RuleID)
	}
	if r.Scans[0].ToolVersion != "2.0.209" && r.Scans[0].ToolVersion != "" {
		t.Errorf("scan version = %q", r.Scans[0].ToolVersion)
	}
}

func TestSkipped(t *testing.T) {
	t.Parallel()
	data := []byte(`{"check_type":"terraform","results":{"passed_checks":[{"check_id":"CKV_AWS_1"}],
"failed_checks":[],"skipped_checks":[{"check_id":"CKV_AWS_20","check_name":"S3 public read","check_result":{"result":"SKIPPED","suppress_comment":"public website"},
"file_path":"/s3.tf","file_line_range":[3,9],"resource":"aws_s3_bucket.site","severity":"HIGH","guideline":"https://docs.example/ckv20"}]},
"summary":{"checkov_version":"3.2.0"}}`)
	r, err := ingesttest.ParseBytes(checkov.Format, "skipped.json", data, ingest.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if len(r.Findings) != 1 {
		t.Fatalf("Parse = %d findings, want 1", len(r.Findings))
	}
	f := r.Findings[0]
	if f.Status != model.StatusAccepted || f.ToolStatus != "skipped: public website" || f.Severity != model.SeverityHigh || f.Asset != "file:unknown" {
		t.Errorf("Parse skipped = status %q, tool status %q, severity %q, asset %q; want accepted, %q, high, file:unknown",
			f.Status, f.ToolStatus, f.Severity, f.Asset, "skipped: public website")
	}
	if r.Scans[0].Target != "unknown" {
		t.Errorf("scan target = %q, want unknown", r.Scans[0].Target)
	}
}

func TestEmpty(t *testing.T) {
	t.Parallel()
	r := ingesttest.Parse(t, checkov.Format, "testdata/checkov-report-0-vuln.json", ingest.Options{Target: "repo"})
	if len(r.Scans) != 1 || len(r.Findings) != 0 {
		t.Errorf("Parse(empty) = %d scans, %d findings, want 1, 0", len(r.Scans), len(r.Findings))
	}
	for _, bad := range []string{``, `"x"`, `{"check_type":"terraform","results":[1]}`, `[{"check_type":1}]`, `{} {}`} {
		if _, err := ingesttest.ParseBytes(checkov.Format, "bad.json", []byte(bad), ingest.Options{}); err == nil {
			t.Errorf("Parse(%q) = nil error, want one", bad)
		}
	}
}

func TestMalformed(t *testing.T) {
	t.Parallel()
	ingesttest.CheckMalformed(t, checkov.Format, "testdata/checkov-report-multiple-check_type.json")
}

func TestStore(t *testing.T) {
	t.Parallel()
	st := ingesttest.OpenStore(t)
	path := "testdata/checkov-report-multiple-check_type.json"
	opts := ingest.Options{Target: "terragoat"}
	for range 2 {
		if _, err := ingesttest.Ingest(st, checkov.Format, opts, path); err != nil {
			t.Fatal(err)
		}
	}
	failed, skipped := counts(t, path)
	if got := ingesttest.Count(t, st); got.Findings != failed+skipped {
		t.Errorf("store counts = %+v, want %d findings", got, failed+skipped)
	}
}

func FuzzCheckov(f *testing.F) {
	ingesttest.Fuzz(f, checkov.Format, testdata(f)...)
}
