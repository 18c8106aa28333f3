package tfsec_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/ctem-dev/ctem/internal/ingest"
	"github.com/ctem-dev/ctem/internal/ingest/formats"
	"github.com/ctem-dev/ctem/internal/ingest/ingesttest"
	"github.com/ctem-dev/ctem/internal/ingest/tfsec"
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
	ingesttest.CheckDetect(t, append(formats.All(), tfsec.Format), tfsec.Format, testdata(t), "../trivy/testdata/*.json", "../sarif/testdata/*")
	for _, s := range []string{`{"results":[],"errors":[]}`, `{"results":[{"rule_id":"x"}]}`, `[{"results":null}]`} {
		if tfsec.Detect(ingest.SniffBytes([]byte(s))) {
			t.Errorf("Detect(%s) = true, want false", s)
		}
	}
}

// count decodes a report independently and counts its results that did
// not pass.
func count(t *testing.T, path string) int {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var r struct {
		Results []struct {
			Passed bool   `json:"passed"`
			Status string `json:"status"`
		} `json:"results"`
	}
	if err := json.Unmarshal(data, &r); err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, x := range r.Results {
		if !x.Passed && x.Status != "passed" {
			n++
		}
	}
	return n
}

func TestParseCounts(t *testing.T) {
	t.Parallel()
	for _, path := range testdata(t) {
		r := ingesttest.Parse(t, tfsec.Format, path, ingest.Options{Target: "https://gitlab.com/org/Infra.git"})
		if got, want := len(r.Findings), count(t, path); got != want {
			t.Errorf("Parse(%s) = %d findings, want %d", path, got, want)
		}
		if len(r.Scans) != 1 || r.Scans[0].Asset != "repo:gitlab.com/org/infra" {
			t.Errorf("Parse(%s) scans = %+v, want one of repo:gitlab.com/org/infra", path, r.Scans)
		}
	}
}

func TestParseFields(t *testing.T) {
	t.Parallel()
	type view struct {
		RuleID, Title string
		Severity      model.Severity
		ToolSeverity  string
		Location      model.Location
		Pointer       string
	}
	tests := []struct {
		path string
		i    int
		want view
	}{
		{"testdata/many_findings_current.json", 0, view{
			RuleID: "aws-vpc-no-excessive-port-access", Title: "An ingress Network ACL rule allows ALL ports.",
			Severity: model.SeverityCritical, ToolSeverity: "CRITICAL",
			Location: model.Location{Path: "/tmp/aws-eks/modules/vpc-subnets/resources.tf", Line: 155, EndLine: 155, Component: "module.SUBNETS:aws_network_acl_rule.public_inbound[0]"},
			Pointer:  "/results/0",
		}},
		{"testdata/one_finding_legacy.json", 0, view{
			RuleID: "GEN003", Title: "Potentially sensitive data stored in block attribute.",
			Severity: model.SeverityMedium, ToolSeverity: "WARNING",
			Location: model.Location{Path: "tfsec-test/identity.tf", Line: 226, EndLine: 226, Component: "keycloak_oidc_identity_provider.google"},
			Pointer:  "/results/0",
		}},
		{"testdata/many_findings_legacy.json", 0, view{
			RuleID: "GCP009", Title: "Pod security policy enforcement not defined.",
			Severity: model.SeverityHigh, ToolSeverity: "ERROR",
			Location: model.Location{Path: "tfsec-test/cluster.tf", Line: 52, EndLine: 92, Component: "google_container_cluster.k8s_cluster"},
			Pointer:  "/results/1",
		}},
	}
	for _, tt := range tests {
		r := ingesttest.Parse(t, tfsec.Format, tt.path, ingest.Options{Target: "infra"})
		f := r.Findings[tt.i]
		got := view{f.RuleID, f.Title, f.Severity, f.ToolSeverity, f.Location, f.Pointer}
		if diff := cmp.Diff(got, tt.want); diff != "" {
			t.Errorf("Parse(%s) finding %d (-got +want):\n%s", tt.path, tt.i, diff)
		}
		if f.Asset != "repo:infra" || f.Kind != model.FindingMisconfig {
			t.Errorf("Parse(%s) asset, kind = %q, %q, want repo:infra, misconfiguration", tt.path, f.Asset, f.Kind)
		}
	}
}

func TestStatuses(t *testing.T) {
	t.Parallel()
	data := []byte(`{"results":[
{"rule_id":"AVD-AWS-0086","long_id":"aws-s3-block-public-acls","rule_description":"d","rule_provider":"aws","severity":"HIGH","status":0,"resource":"aws_s3_bucket.a","location":{"filename":"s3.tf","start_line":1,"end_line":4}},
{"rule_id":"AVD-AWS-0086","long_id":"aws-s3-block-public-acls","rule_description":"d","rule_provider":"aws","severity":"HIGH","status":1,"resource":"aws_s3_bucket.b","location":{"filename":"s3.tf","start_line":6,"end_line":9}},
{"rule_id":"AVD-AWS-0086","long_id":"aws-s3-block-public-acls","rule_description":"d","rule_provider":"aws","severity":"HIGH","status":2,"resource":"aws_s3_bucket.c","location":{"filename":"s3.tf","start_line":11,"end_line":14}}]}`)
	r, err := ingesttest.ParseBytes(tfsec.Format, "v1.json", data, ingest.Options{})
	if err != nil {
		t.Fatal(err)
	}
	var got []model.Status
	for _, f := range r.Findings {
		got = append(got, f.Status)
	}
	if want := []model.Status{model.StatusOpen, model.StatusAccepted}; !cmp.Equal(got, want) {
		t.Errorf("Parse statuses = %v, want %v", got, want)
	}
	if r.Scans[0].Target != "unknown" {
		t.Errorf("scan target = %q, want unknown", r.Scans[0].Target)
	}
}

func TestInvalid(t *testing.T) {
	t.Parallel()
	for _, bad := range []string{``, `[]`, `{"results":{}}`, `{"results":[{"location":[]}]}`, `{"results":null} x`} {
		if _, err := ingesttest.ParseBytes(tfsec.Format, "bad.json", []byte(bad), ingest.Options{}); err == nil {
			t.Errorf("Parse(%q) = nil error, want one", bad)
		}
	}
}

func TestMalformed(t *testing.T) {
	t.Parallel()
	ingesttest.CheckMalformed(t, tfsec.Format, "testdata/many_findings_current.json")
	ingesttest.CheckMalformed(t, tfsec.Format, "testdata/many_findings_legacy.json")
}

func TestStore(t *testing.T) {
	t.Parallel()
	st := ingesttest.OpenStore(t)
	path := "testdata/many_findings_current.json"
	for range 2 {
		if _, err := ingesttest.Ingest(st, tfsec.Format, ingest.Options{Target: "infra"}, path); err != nil {
			t.Fatal(err)
		}
	}
	if got, want := ingesttest.Count(t, st).Findings, count(t, path); got != want {
		t.Errorf("store findings = %d, want %d", got, want)
	}
}

func FuzzTfsec(f *testing.F) {
	ingesttest.Fuzz(f, tfsec.Format, testdata(f)...)
}
