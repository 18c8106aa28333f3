package model_test

import (
	"slices"
	"testing"

	"github.com/ctem-dev/ctem/internal/model"
)

func TestKeys(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name, got, want string
	}{
		{"short hub name", model.ImageKey("nginx"), "image:docker.io/library/nginx:latest"},
		{"hub tag", model.ImageKey("nginx:1.25"), "image:docker.io/library/nginx:1.25"},
		{"hub org", model.ImageKey("bitnami/redis:7"), "image:docker.io/bitnami/redis:7"},
		{"index alias", model.ImageKey("index.docker.io/library/nginx:1.25"), "image:docker.io/library/nginx:1.25"},
		{"digest wins", model.ImageKey("nginx:1.25@sha256:ABC"), "image:docker.io/library/nginx@sha256:abc"},
		{"registry port", model.ImageKey("localhost:5000/app:dev"), "image:localhost:5000/app:dev"},
		{"ghcr", model.ImageKey("ghcr.io/Org/App:v1"), "image:ghcr.io/org/app:v1"},
		{"repo https", model.RepoKey("https://github.com/Org/Repo.git"), "repo:github.com/org/repo"},
		{"repo scp", model.RepoKey("git@github.com:org/repo.git"), "repo:github.com/org/repo"},
		{"repo ssh", model.RepoKey("ssh://git@github.com/org/repo"), "repo:github.com/org/repo"},
		{"project url", model.ProjectKey("https://gitlab.com/a/b.git"), "repo:gitlab.com/a/b"},
		{"project path", model.ProjectKey(`C:\work\Shop\`), "repo:c:/work/shop"},
		{"project dot", model.ProjectKey("."), "file:."},
		{"url default port", model.URLKey("HTTPS://Shop.Example.com:443/login?x=1#f"), "url:https://shop.example.com/login"},
		{"url no path", model.URLKey("http://a.example"), "url:http://a.example/"},
		{"host port", model.HostKey("Web1.Example", "443"), "host:web1.example:443"},
		{"host", model.HostKey("10.0.0.1", ""), "host:10.0.0.1"},
		{"k8s", model.K8sKey("", "shop", "Deployment", "api"), "k8s:default/shop/Deployment/api"},
		{"file", model.FileKey(`a\b/../c.txt`), "file:a/c.txt"},
	}
	for _, c := range cases {
		if c.got != c.want {
			t.Errorf("%s: got %q, want %q", c.name, c.got, c.want)
		}
	}
	for key, want := range map[string]model.AssetKind{
		"k8s:arn:aws:eks:us-east-1:1:cluster/c/shop/Deployment/api": model.KindWorkload,
		"k8s:prod/shop/Secret/db":                                   model.KindSecret,
		"image:docker.io/library/nginx:1":                           model.KindImage,
		"repo:github.com/a/b":                                       model.KindRepository,
		"url:https://x/":                                            model.KindEndpoint,
		"arn:aws:s3:::b":                                            model.KindResource,
	} {
		if got := model.KindOfKey(key); got != want {
			t.Errorf("KindOfKey(%s) = %s, want %s", key, got, want)
		}
	}
}

func TestIDs(t *testing.T) {
	t.Parallel()
	text := "See GHSA-36p3-wjmg-h94x, cve-2022-22965 and GO-2022-0001; also CVE-2022-22965 again. CWE-079, cwe_89"
	if got, want := model.ExtractVulnIDs(text), []string{"GHSA-36p3-wjmg-h94x", "CVE-2022-22965", "GO-2022-0001"}; !slices.Equal(got, want) {
		t.Errorf("ExtractVulnIDs = %v, want %v", got, want)
	}
	if got, want := model.SortVulnIDs([]string{"GHSA-36P3-WJMG-H94X", "", "cve-2022-22965", "GO-2022-0001", "CVE-2022-22965"}), []string{"CVE-2022-22965", "GHSA-36p3-wjmg-h94x", "GO-2022-0001"}; !slices.Equal(got, want) {
		t.Errorf("SortVulnIDs = %v, want %v", got, want)
	}
	if got, want := model.ExtractCWEs(text), []string{"CWE-79", "CWE-89"}; !slices.Equal(got, want) {
		t.Errorf("ExtractCWEs = %v, want %v", got, want)
	}
	for in, want := range map[string]string{"79": "CWE-79", "CWE-0079": "CWE-79", "x": "", "": ""} {
		if got := model.NormalizeCWE(in); got != want {
			t.Errorf("NormalizeCWE(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestSeverity(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]model.Severity{
		"CRITICAL": model.SeverityCritical, "error": model.SeverityHigh, "Moderate": model.SeverityMedium,
		"note": model.SeverityLow, "Negligible": model.SeverityInfo, "weird": model.SeverityUnknown,
	} {
		if got := model.ParseSeverity(in); got != want {
			t.Errorf("ParseSeverity(%q) = %s, want %s", in, got, want)
		}
	}
	for score, want := range map[float64]model.Severity{9.8: model.SeverityCritical, 7: model.SeverityHigh, 6.9: model.SeverityMedium, 0.1: model.SeverityLow, 0: model.SeverityInfo} {
		if got := model.SeverityFromScore(score); got != want {
			t.Errorf("SeverityFromScore(%v) = %s, want %s", score, got, want)
		}
	}
	if _, err := model.ParseSeverityFilter("high,urgent"); err == nil {
		t.Error("ParseSeverityFilter accepted an unknown severity")
	}
}

// TestFingerprints pins the identity rules: aliases and tools meet on one
// exposure, items of one tool stay apart, and ids never change.
func TestFingerprints(t *testing.T) {
	t.Parallel()
	trivy := &model.Finding{Tool: "trivy", Kind: model.FindingVulnerability, VulnIDs: []string{"CVE-2021-44228"}, Asset: "image:x",
		Package: model.Package{Name: "org.apache.logging.log4j:log4j-core", Version: "2.14.1"}, Location: model.Location{Path: "app.jar"}}
	grype := &model.Finding{Tool: "grype", Kind: model.FindingVulnerability, VulnIDs: []string{"GHSA-jfh8-c2jp-5v3q", "CVE-2021-44228"}, Asset: "image:x",
		Package: model.Package{Name: "log4j-core", Version: "2.14.1", PURL: "pkg:maven/org.apache.logging.log4j/log4j-core@2.14.1"}}
	trivy.Normalize()
	grype.Normalize()
	if trivy.ExposureID != grype.ExposureID {
		t.Errorf("Trivy and Grype on one package: exposures %s and %s, want one", trivy.ExposureID, grype.ExposureID)
	}
	if trivy.ID == grype.ID {
		t.Error("two tools gave one finding id")
	}
	other := *trivy
	other.Location.Path = "lib/other.jar"
	other.Normalize()
	if other.ID == trivy.ID || other.ExposureID != trivy.ExposureID {
		t.Errorf("a second copy of the package: finding %s vs %s (want different), exposure %s vs %s (want same)", other.ID, trivy.ID, other.ExposureID, trivy.ExposureID)
	}
	// Code: a line shift keeps the identity when the snippet is known.
	a := &model.Finding{Tool: "semgrep", Kind: model.FindingCode, RuleID: "sqli", Asset: "repo:a", Location: model.Location{Path: "x.py", Line: 10, Snippet: "db.execute(q)"}, Title: "t"}
	b := *a
	b.Location.Line = 42
	a.Normalize()
	b.Normalize()
	if a.ID != b.ID {
		t.Error("a line shift changed a code finding's identity")
	}
	// Stable across runs and machines: these ids are what every database
	// already holds; a change here orphans their history. (Migration
	// 00003 moved the finding ids of older databases, f86764643a9eb0d9
	// here, to this form.)
	if trivy.ID != "2527c5b3f8676464" || trivy.ExposureID != "2527c5b389bbf0b5" {
		t.Errorf("ids = %s, %s; want 2527c5b3f8676464, 2527c5b389bbf0b5", trivy.ID, trivy.ExposureID)
	}
	// A finding's id begins with its exposure's, which is what lets the
	// store find an exposure's findings without an index of their own.
	for _, f := range []*model.Finding{trivy, grype, &other, a, &b} {
		if f.ID[:8] != f.ExposureID[:8] || len(f.ID) != 16 {
			t.Errorf("finding %s of exposure %s: want the exposure's first 8 digits", f.ID, f.ExposureID)
		}
	}
	if got := model.Hash("a", "bc"); got == model.Hash("ab", "c") {
		t.Error("Hash does not separate its parts")
	}
}

func TestAWSAccessKeyIDs(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in   string
		want []string
	}{
		{"AWS_ACCESS_KEY_ID=AKIAIOSFODNN7EXAMPLE", []string{"AKIAIOSFODNN7EXAMPLE"}},
		{"ASIAIOSFODNN7EXAMPLE and AKIAIOSFODNN7EXAMPLE, AKIAIOSFODNN7EXAMPLE", []string{"ASIAIOSFODNN7EXAMPLE", "AKIAIOSFODNN7EXAMPLE"}},
		{"XAKIAIOSFODNN7EXAMPLE", nil}, // part of a longer word
		{"AKIAIOSFODNN7EXAMPLEX", nil}, // longer than an id
		{"AKIAiosfodnn7example", nil},  // lower case
		{"wJalrXUtnFEMI/K7MDENG", nil}, // a secret access key is no id
		{"AKIAIOSFODNN7EXAMP", nil},    // too short
	}
	for _, tt := range tests {
		if got := model.AWSAccessKeyIDs(tt.in); !slices.Equal(got, tt.want) {
			t.Errorf("AWSAccessKeyIDs(%q) = %v, want %v", tt.in, got, tt.want)
		}
	}
}
