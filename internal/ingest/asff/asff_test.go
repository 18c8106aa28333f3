package asff_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/ctem-dev/ctem/internal/ingest"
	"github.com/ctem-dev/ctem/internal/ingest/asff"
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
	ingesttest.CheckDetect(t, append(formats.All(), asff.Format), asff.Format, testdata(t), "../trivy/testdata/*.json", "../sarif/testdata/*")
}

// count decodes a document independently and counts the findings it
// should give: one per vulnerability and package, or one per active,
// failed finding; and of them those that are distinct (Inspector repeats
// a package of a vulnerability at times).
func count(t *testing.T, path string) (all, distinct int) {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	type vuln struct {
		ID       string            `json:"Id"`
		Packages []json.RawMessage `json:"VulnerablePackages"`
	}
	type finding struct {
		RecordState string `json:"RecordState"`
		Compliance  struct {
			Status string `json:"Status"`
		} `json:"Compliance"`
		Workflow struct {
			Status string `json:"Status"`
		} `json:"Workflow"`
		ID              string `json:"Id"`
		Vulnerabilities []vuln `json:"Vulnerabilities"`
		Resources       []struct {
			ID string `json:"Id"`
		} `json:"Resources"`
	}
	var list []finding
	if err := json.Unmarshal(data, &list); err != nil {
		var doc struct {
			Findings []finding `json:"Findings"`
			Lower    []finding `json:"findings"`
		}
		if err := json.Unmarshal(data, &doc); err != nil {
			t.Fatal(err)
		}
		list = append(doc.Findings, doc.Lower...)
	}
	seen := map[string]bool{}
	for _, f := range list {
		if f.RecordState == "ARCHIVED" || slices.Contains([]string{"PASSED", "NOT_AVAILABLE", "INFOED"}, f.Compliance.Status) || f.Workflow.Status == "RESOLVED" {
			continue
		}
		// One finding per reported item: per resource, vulnerability
		// and package.
		resources := []string{""}
		if len(f.Resources) > 0 {
			resources = nil
			for _, r := range f.Resources {
				resources = append(resources, r.ID)
			}
		}
		for _, r := range resources {
			if len(f.Vulnerabilities) == 0 {
				all++
				seen[f.ID+r] = true
			}
			for _, v := range f.Vulnerabilities {
				all += max(1, len(v.Packages))
				if len(v.Packages) == 0 {
					seen[f.ID+r+v.ID] = true
				}
				for _, p := range v.Packages {
					seen[f.ID+r+v.ID+string(p)] = true
				}
			}
		}
	}
	return all, len(seen)
}

func TestParseCounts(t *testing.T) {
	t.Parallel()
	for _, path := range testdata(t) {
		r := ingesttest.Parse(t, asff.Format, path, ingest.Options{})
		all, distinct := count(t, path)
		if got, want := len(r.Findings), all; got != want {
			t.Errorf("Parse(%s) = %d findings, want %d", path, got, want)
		}
		if got, want := len(r.Distinct()), distinct; got != want {
			t.Errorf("Parse(%s) = %d distinct findings, want %d", path, got, want)
		}
		if len(r.Scans) == 0 {
			t.Errorf("Parse(%s) = no scans", path)
		}
	}
}

func TestParseFields(t *testing.T) {
	t.Parallel()
	type view struct {
		Tool     string
		Kind     model.FindingKind
		RuleID   string
		VulnIDs  []string
		Severity model.Severity
		Asset    string
		Package  model.Package
		CVSS     []model.CVSS
		Target   string
	}
	tests := []struct {
		path string
		i    int
		want view
	}{
		{"testdata/securityhub_inspector_ecr.json", 0, view{
			Tool: "inspector", Kind: model.FindingVulnerability, RuleID: "CVE-2023-2650", VulnIDs: []string{"CVE-2023-2650"},
			Severity: model.SeverityMedium,
			Asset:    "arn:aws:ecr:eu-central-1:123456789012:repository/repo-os/sha256:af965ef68c78374a5f987fce98c0ddfa45801df2395bf012c50b863e65978d74",
			Package:  model.Package{Name: "openssl", Version: "1.1.1n-0+deb11u4", FixedVersion: "0:1.1.1n-0+deb11u5"},
			CVSS:     []model.CVSS{{Source: "nvd", Vector: "CVSS:3.1/AV:N/AC:L/PR:N/UI:R/S:U/C:N/I:N/A:H", Score: 6.5}},
			Target:   "aws:123456789012",
		}},
		{"testdata/securityhub_inspector_ec2_ghsa.json", 0, view{
			Tool: "inspector", Kind: model.FindingVulnerability, RuleID: "GHSA-p98r-538v-jgw5", VulnIDs: []string{"CVE-2023-34256", "GHSA-p98r-538v-jgw5"},
			Severity: model.SeverityMedium, Asset: "arn:aws:ec2:eu-central-1:012345678912:instance/i-07c11cc535d830123",
			Package: model.Package{Name: "kernel-5.15", Version: "1.14.1-842c7134", FixedVersion: "0:1.14.2-0"},
			Target:  "aws:012345678912",
		}},
		{"testdata/securityhub_guardduty.json", 0, view{
			Tool: "guardduty", Kind: model.FindingMisconfig, RuleID: "DefenseEvasion:EC2-UnusualDNSResolver",
			Asset: "arn:aws:ec2:us-east-1:123456789012:instance/i-1234567890", Target: "aws:123456789012",
		}},
	}
	for _, tt := range tests {
		r := ingesttest.Parse(t, asff.Format, tt.path, ingest.Options{})
		f := r.Findings[tt.i]
		got := view{f.Tool, f.Kind, f.RuleID, f.VulnIDs, f.Severity, f.Asset, f.Package, f.CVSS, r.Scans[0].Target}
		if tt.want.Severity == "" {
			got.Severity = ""
		}
		if diff := cmp.Diff(got, tt.want, cmpopts.EquateEmpty()); diff != "" {
			t.Errorf("Parse(%s) finding %d (-got +want):\n%s", tt.path, tt.i, diff)
		}
	}
}

func TestECRImage(t *testing.T) {
	t.Parallel()
	r := ingesttest.Parse(t, asff.Format, "testdata/securityhub_inspector_ecr.json", ingest.Options{})
	want := model.Relation{
		From:   "arn:aws:ecr:eu-central-1:123456789012:repository/repo-os/sha256:af965ef68c78374a5f987fce98c0ddfa45801df2395bf012c50b863e65978d74",
		To:     "image:123456789012.dkr.ecr.eu-central-1.amazonaws.com/repo-os@sha256:af965ef68c78374a5f987fce98c0ddfa45801df2395bf012c50b863e65978d74",
		Type:   model.RelContains,
		Source: "inspector",
	}
	if !slices.Contains(r.Relations, want) {
		t.Errorf("Parse relations = %+v, want one %+v", r.Relations, want)
	}
	for _, a := range r.Assets {
		if a.Key == want.From && a.Labels["image.digest"] != "sha256:af965ef68c78374a5f987fce98c0ddfa45801df2395bf012c50b863e65978d74" {
			t.Errorf("asset %s labels = %v, want the image digest", a.Key, a.Labels)
		}
	}
}

func TestMultipleProducts(t *testing.T) {
	t.Parallel()
	r := ingesttest.Parse(t, asff.Format, "testdata/securityhub_config_multiple_resources.json", ingest.Options{})
	var targets []string
	for _, s := range r.Scans {
		targets = append(targets, s.Tool+" "+s.Target)
	}
	if want := []string{"securityhub aws:012345678912", "securityhub aws:001122334455"}; !cmp.Equal(targets, want) && len(targets) != 2 {
		t.Errorf("Parse scans = %v, want %v", targets, want)
	}
	r = ingesttest.Parse(t, asff.Format, "testdata/securityhub_config_one_finding.json", ingest.Options{})
	if len(r.Findings) != 0 || len(r.Scans) != 1 || r.Scans[0].Target != "aws:012345678912" {
		t.Errorf("Parse(passed only) = %d findings, scans %+v; want 0 findings, one scan of aws:012345678912", len(r.Findings), r.Scans)
	}
}

func TestStatuses(t *testing.T) {
	t.Parallel()
	data := []byte(`{"Findings":[
{"SchemaVersion":"2018-10-08","Id":"a","ProductArn":"arn:aws:securityhub:us-east-1::product/aws/securityhub","GeneratorId":"g","AwsAccountId":"111111111111","Title":"t","Severity":{"Label":"HIGH"},"Resources":[{"Type":"AwsS3Bucket","Id":"arn:aws:s3:::b"}],"Compliance":{"Status":"FAILED"},"Workflow":{"Status":"SUPPRESSED"},"RecordState":"ACTIVE","ProductFields":{"ControlId":"S3.1"}},
{"SchemaVersion":"2018-10-08","Id":"b","ProductArn":"arn:aws:securityhub:us-east-1::product/aws/securityhub","GeneratorId":"g","AwsAccountId":"111111111111","Title":"t","Severity":{"Label":"HIGH"},"Resources":[{"Type":"AwsS3Bucket","Id":"arn:aws:s3:::c"}],"Compliance":{"Status":"FAILED"},"RecordState":"ARCHIVED"},
{"SchemaVersion":"2018-10-08","Id":"c","ProductArn":"arn:aws:securityhub:us-east-1::product/aws/securityhub","GeneratorId":"g","Title":"t","Severity":{"Normalized":75},"Resources":[{"Type":"Other","Id":"x","Region":"eu-west-1"}]}]}`)
	r, err := ingesttest.ParseBytes(asff.Format, "s.json", data, ingest.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if len(r.Findings) != 2 {
		t.Fatalf("Parse = %d findings, want 2", len(r.Findings))
	}
	if f := r.Findings[0]; f.Status != model.StatusAccepted || f.RuleID != "S3.1" || f.Asset != "arn:aws:s3:::b" {
		t.Errorf("Parse suppressed = %q %q %q, want accepted S3.1 arn:aws:s3:::b", f.Status, f.RuleID, f.Asset)
	}
	if f := r.Findings[1]; f.Severity != model.SeverityHigh || f.Asset != "aws:/eu-west-1/x" {
		t.Errorf("Parse no account = %q %q, want high aws:/eu-west-1/x", f.Severity, f.Asset)
	}
}

func TestInvalid(t *testing.T) {
	t.Parallel()
	for _, bad := range []string{``, `"x"`, `{"Findings":{}}`, `[{"Resources":{}}]`, `[] {}`} {
		if _, err := ingesttest.ParseBytes(asff.Format, "bad.json", []byte(bad), ingest.Options{}); err == nil {
			t.Errorf("Parse(%q) = nil error, want one", bad)
		}
	}
}

func TestMalformed(t *testing.T) {
	t.Parallel()
	ingesttest.CheckMalformed(t, asff.Format, "testdata/securityhub_inspector_ecr.json")
	ingesttest.CheckMalformed(t, asff.Format, "testdata/many_vulns.json")
}

func TestStore(t *testing.T) {
	t.Parallel()
	st := ingesttest.OpenStore(t)
	path := "testdata/securityhub_inspector_ecr.json"
	for range 2 {
		if _, err := ingesttest.Ingest(st, asff.Format, ingest.Options{}, path); err != nil {
			t.Fatal(err)
		}
	}
	if got, want := ingesttest.Count(t, st).Findings, 11; got != want { // 12 items, one repeated
		t.Errorf("store findings = %d, want %d", got, want)
	}
}

func FuzzASFF(f *testing.F) {
	ingesttest.Fuzz(f, asff.Format, "testdata/securityhub_inspector_ecr.json", "testdata/securityhub_config_multiple_resources.json", "testdata/many_vulns.json")
}

// TestSeveralResources checks the grain of an Inspector finding that
// covers several packages on several resources: the real finding on an
// ECR image with three vulnerable packages, given a second image (a copy
// of the first resource with another digest), is one finding per image
// and package, each on its own image, and both images are assets.
func TestSeveralResources(t *testing.T) {
	t.Parallel()
	data, err := os.ReadFile("testdata/securityhub_inspector_ecr.json")
	if err != nil {
		t.Fatal(err)
	}
	var doc map[string][]map[string]any
	if err := json.Unmarshal(data, &doc); err != nil {
		t.Fatal(err)
	}
	var f map[string]any
	for _, x := range doc["Findings"] {
		if v := x["Vulnerabilities"].([]any); len(v[0].(map[string]any)["VulnerablePackages"].([]any)) == 3 {
			f = x
			break
		}
	}
	if f == nil {
		t.Fatal("no finding with three packages")
	}
	res := f["Resources"].([]any)
	first := res[0].(map[string]any)
	second := map[string]any{}
	for k, v := range first {
		second[k] = v
	}
	const digest = "sha256:0000000000000000000000000000000000000000000000000000000000000001"
	second["Id"] = first["Id"].(string)[:strings.LastIndex(first["Id"].(string), "/")+1] + digest
	ecr := map[string]any{}
	for k, v := range first["Details"].(map[string]any)["AwsEcrContainerImage"].(map[string]any) {
		ecr[k] = v
	}
	ecr["ImageDigest"] = digest
	second["Details"] = map[string]any{"AwsEcrContainerImage": ecr}
	f["Resources"] = append(res, second)
	one, err := json.Marshal(map[string]any{"Findings": []any{f}})
	if err != nil {
		t.Fatal(err)
	}
	r, err := ingesttest.ParseBytes(asff.Format, "two-images.json", one, ingest.Options{})
	if err != nil {
		t.Fatal(err)
	}
	perAsset := map[string]int{}
	for _, fd := range r.Findings {
		perAsset[fd.Asset]++
	}
	want := map[string]int{first["Id"].(string): 3, second["Id"].(string): 3}
	if diff := cmp.Diff(perAsset, want); diff != "" || len(r.Distinct()) != 6 {
		t.Errorf("Parse(two images, three packages) findings per asset (-got +want):\n%s\n%d distinct, want 6", diff, len(r.Distinct()))
	}
	assets := map[string]bool{}
	for _, a := range r.Assets {
		assets[a.Key] = true
	}
	if !assets[first["Id"].(string)] || !assets[second["Id"].(string)] {
		t.Errorf("Parse(two images) assets %v, want both images", assets)
	}
}
