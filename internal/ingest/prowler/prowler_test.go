package prowler_test

import (
	"bufio"
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/ctem-dev/ctem/internal/ingest"
	"github.com/ctem-dev/ctem/internal/ingest/formats"
	"github.com/ctem-dev/ctem/internal/ingest/ingesttest"
	"github.com/ctem-dev/ctem/internal/ingest/prowler"
	"github.com/ctem-dev/ctem/internal/model"
)

// formatOf names the format of a testdata file by its name; empty
// reports ("[]", nothing at all) carry no hint of their producer and are
// parsed with an explicit format only.
func formatOf(path string) (f ingest.Format, detectable bool) {
	base := filepath.Base(path)
	switch {
	case strings.HasSuffix(base, ".ocsf.json"):
		return prowler.FormatOCSF, !strings.Contains(base, "no_vuln")
	case base == "prowler_zero_vul.json":
		return prowler.FormatOCSF, false
	}
	return prowler.FormatJSON, !strings.Contains(base, "no_vuln")
}

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
	reg := append(formats.All(), prowler.FormatOCSF, prowler.FormatJSON)
	for _, path := range testdata(t) {
		want, ok := formatOf(path)
		if !ok {
			continue
		}
		data, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		f, err := reg.Detect(ingest.SniffBytes(data))
		if err != nil || f.Name != want.Name {
			t.Errorf("Detect(%s) = %q, %v, want %s", path, f.Name, err, want.Name)
		}
	}
	others, _ := filepath.Glob("../trivy/testdata/*.json")
	sarifs, _ := filepath.Glob("../sarif/testdata/*")
	for _, path := range append(others, sarifs...) {
		data, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		s := ingest.SniffBytes(data)
		if prowler.DetectOCSF(s) || prowler.DetectJSON(s) {
			t.Errorf("Detect(%s) = true, want false", path)
		}
	}
}

// records decodes a report independently: an array, or JSON lines.
func records(t *testing.T, path string) []map[string]any {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var list []map[string]any
	if err := json.Unmarshal(data, &list); err == nil {
		return list
	}
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		if strings.TrimSpace(sc.Text()) == "" {
			continue
		}
		var m map[string]any
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		list = append(list, m)
	}
	return list
}

// failed counts the failed records and their accounts.
func failed(t *testing.T, path string) (n int, accounts map[string]bool) {
	accounts = map[string]bool{}
	for _, r := range records(t, path) {
		status, _ := r["status_code"].(string)
		if status == "" {
			status, _ = r["Status"].(string)
		}
		if strings.EqualFold(status, "fail") || strings.EqualFold(status, "muted") {
			n++
		}
		for _, k := range []string{"Account Number", "AccountId"} {
			if a, ok := r[k].(string); ok {
				accounts[a] = true
			}
		}
		if c, ok := r["cloud"].(map[string]any); ok {
			accounts[c["account"].(map[string]any)["uid"].(string)] = true
		}
	}
	return n, accounts
}

func TestParseCounts(t *testing.T) {
	t.Parallel()
	for _, path := range testdata(t) {
		f, _ := formatOf(path)
		r := ingesttest.Parse(t, f, path, ingest.Options{})
		n, accounts := failed(t, path)
		if got := len(r.Findings); got != n {
			t.Errorf("Parse(%s) = %d findings, want %d", path, got, n)
		}
		wantScans := len(accounts)
		if wantScans == 0 {
			wantScans = 1
		}
		if len(r.Scans) != wantScans {
			t.Errorf("Parse(%s) = %d scans, want %d", path, len(r.Scans), wantScans)
		}
	}
}

func TestParseFields(t *testing.T) {
	t.Parallel()
	type view struct {
		RuleID, Title, Asset string
		Severity             model.Severity
		Status               model.Status
		Component            string
		ToolFingerprint      string
		Target               string
	}
	tests := []struct {
		path string
		i    int
		want view
	}{
		{"testdata/v3plus_many_vuln.ocsf.json", 0, view{
			RuleID: "iam_role_administratoraccess_policy_permissive_trust_relationship",
			Title:  "Ensure IAM Roles with attached AdministratorAccess policy have a well defined trust relationship",
			Asset:  "arn:aws:iam::123456789012:role/myAdministratorExecutionRole", Severity: model.SeverityHigh, Status: model.StatusOpen,
			Component:       "myAdministratorExecutionRole",
			ToolFingerprint: "prowler-aws-iam_role_administratoraccess_policy_permissive_trust_relationship-123456789012-us-east-1-myAdministratorExecutionRole",
			Target:          "aws:123456789012",
		}},
		{"testdata/v2_one_vuln.json", 0, view{
			RuleID: "check114", Title: "Ensure hardware MFA is enabled for the root account",
			Asset: "aws:012345678912/eu-central-1/MFA", Severity: model.SeverityCritical, Status: model.StatusOpen,
			Component: "MFA", Target: "aws:012345678912",
		}},
		{"testdata/v3plus_one_vuln.json", 0, view{
			RuleID: "acm_certificates_expiration_check", Title: "Check if ACM Certificates are about to expire in specific days or less",
			Asset:    "arn:aws:acm:us-east-1:999999999999:certificate/ffffffff-0000-0000-0000-000000000000",
			Severity: model.SeverityHigh, Status: model.StatusOpen, Component: "api.teste.teste.com",
			ToolFingerprint: "prowler-aws-acm_certificates_expiration_check-999999999999-us-east-1-api.sandbox.partner.teste.com",
			Target:          "aws:999999999999",
		}},
		{"testdata/example_output_azure.ocsf.json", 0, view{
			RuleID: "appinsights_ensure_is_configured", Asset: "azure:<subscription_uid>/global/AppInsights",
			Severity: model.SeverityLow, Status: model.StatusOpen, Component: "AppInsights", ToolFingerprint: "<finding_uid>", Target: "azure:<subscription_uid>",
		}},
		{"testdata/example_output_kubernetes.ocsf.json", 0, view{
			RuleID: "apiserver_always_pull_images_plugin", Title: "Ensure that the admission control plugin AlwaysPullImages is set",
			Asset:    "k8s:default/<namespace>/KubernetesAPIServer/<pod>",
			Severity: model.SeverityMedium, Status: model.StatusOpen, Component: "<resource_uid>", ToolFingerprint: "<finding_uid>",
			Target: "account:unknown",
		}},
	}
	for _, tt := range tests {
		f, _ := formatOf(tt.path)
		r := ingesttest.Parse(t, f, tt.path, ingest.Options{})
		fd := r.Findings[tt.i]
		got := view{fd.RuleID, fd.Title, fd.Asset, fd.Severity, fd.Status, fd.Location.Component, fd.ToolFingerprint, r.Scans[0].Target}
		if tt.want.Title == "" {
			got.Title = ""
		}
		if diff := cmp.Diff(got, tt.want); diff != "" {
			t.Errorf("Parse(%s) finding %d (-got +want):\n%s", tt.path, tt.i, diff)
		}
		if fd.Kind != model.FindingMisconfig {
			t.Errorf("Parse(%s) kind = %q, want misconfiguration", tt.path, fd.Kind)
		}
	}
}

func TestMuted(t *testing.T) {
	t.Parallel()
	r := ingesttest.Parse(t, prowler.FormatOCSF, "testdata/v3plus_many_vuln.ocsf.json", ingest.Options{})
	var muted int
	for _, f := range r.Findings {
		if f.Status == model.StatusAccepted && f.ToolStatus == "muted" {
			muted++
		}
	}
	if muted != 1 {
		t.Errorf("Parse muted findings = %d, want 1", muted)
	}
}

func TestAccounts(t *testing.T) {
	t.Parallel()
	r := ingesttest.Parse(t, prowler.FormatJSON, "testdata/v2_many_vuln_plus_one.json", ingest.Options{})
	var targets []string
	for _, s := range r.Scans {
		targets = append(targets, s.Target)
	}
	if want := []string{"aws:012345678912", "aws:012345673312"}; !cmp.Equal(targets, want) {
		t.Errorf("Parse scans = %v, want %v", targets, want)
	}
	r = ingesttest.Parse(t, prowler.FormatJSON, "testdata/v2_many_vuln_plus_one.json", ingest.Options{Target: "prod"})
	if len(r.Scans) != 1 || r.Scans[0].Target != "prod" {
		t.Errorf("Parse --target prod scans = %+v, want one of prod", r.Scans)
	}
}

func TestInvalid(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		f   ingest.Format
		bad string
	}{
		{prowler.FormatOCSF, ``}, {prowler.FormatOCSF, `{}`}, {prowler.FormatOCSF, `[1]`}, {prowler.FormatOCSF, `[] []`},
		{prowler.FormatJSON, `"x"`}, {prowler.FormatJSON, `{"Status":1}`}, {prowler.FormatJSON, `[{}] {}`}, {prowler.FormatJSON, `{} [`},
	} {
		if _, err := ingesttest.ParseBytes(tt.f, "bad.json", []byte(tt.bad), ingest.Options{}); err == nil {
			t.Errorf("Parse %s (%q) = nil error, want one", tt.f.Name, tt.bad)
		}
	}
}

func TestMalformed(t *testing.T) {
	t.Parallel()
	ingesttest.CheckMalformed(t, prowler.FormatOCSF, "testdata/example_output_kubernetes.ocsf.json")
	ingesttest.CheckMalformed(t, prowler.FormatJSON, "testdata/v3plus_many_vuln.json")
	ingesttest.CheckMalformed(t, prowler.FormatJSON, "testdata/v2_many_vuln.json")
}

func TestStore(t *testing.T) {
	t.Parallel()
	st := ingesttest.OpenStore(t)
	path := "testdata/v2_many_vuln_plus_one.json"
	for range 2 {
		if _, err := ingesttest.Ingest(st, prowler.FormatJSON, ingest.Options{}, path); err != nil {
			t.Fatal(err)
		}
	}
	n, _ := failed(t, path)
	if got := ingesttest.Count(t, st); got.Findings != n || got.Scans != 4 {
		t.Errorf("store counts = %+v, want %d findings, 4 scans", got, n)
	}
}

func FuzzOCSF(f *testing.F) {
	ingesttest.Fuzz(f, prowler.FormatOCSF, "testdata/v3plus_many_vuln.ocsf.json", "testdata/example_output_kubernetes.ocsf.json")
}

func FuzzJSON(f *testing.F) {
	ingesttest.Fuzz(f, prowler.FormatJSON, "testdata/v2_many_vuln.json", "testdata/v3plus_many_vuln.json")
}
