package trufflehog_test

import (
	"bufio"
	"encoding/base64"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ctem-dev/ctem/internal/ingest"
	"github.com/ctem-dev/ctem/internal/ingest/formats"
	"github.com/ctem-dev/ctem/internal/ingest/ingesttest"
	"github.com/ctem-dev/ctem/internal/ingest/trufflehog"
	"github.com/ctem-dev/ctem/internal/model"
)

var cases = []struct {
	path   string
	format ingest.Format
}{
	{"testdata/v3_git.json", trufflehog.FormatV3},
	{"testdata/v3_github.json", trufflehog.FormatV3},
	{"testdata/v2_many_vulns.json", trufflehog.FormatV2},
}

// lines decodes a JSON-lines file independently.
func lines(t testing.TB, path string) []map[string]any {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []map[string]any
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<24)
	for sc.Scan() {
		if strings.TrimSpace(sc.Text()) == "" {
			continue
		}
		var m map[string]any
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
			t.Fatal(err)
		}
		out = append(out, m)
	}
	return out
}

func TestDetect(t *testing.T) {
	t.Parallel()
	reg := append(formats.All(), trufflehog.FormatV3, trufflehog.FormatV2)
	files, _ := filepath.Glob("testdata/*.json")
	if len(files) != len(cases) {
		t.Errorf("testdata holds %d files, the table %d", len(files), len(cases))
	}
	for _, c := range cases {
		f, err := reg.Detect(ingesttest.SniffFile(t, c.path))
		if err != nil || f.Name != c.format.Name {
			t.Errorf("Detect(%s) = %q, %v, want %s", c.path, f.Name, err, c.format.Name)
		}
	}
	others, _ := filepath.Glob("../trivy/testdata/*.json")
	more, _ := filepath.Glob("../sarif/testdata/*.json")
	gl, _ := filepath.Glob("../gitleaks/testdata/*.json")
	for _, path := range append(append(others, more...), gl...) {
		s := ingesttest.SniffFile(t, path)
		if trufflehog.DetectV3(s) || trufflehog.DetectV2(s) {
			t.Errorf("Detect(%s) = true, want false", path)
		}
	}
}

func TestCounts(t *testing.T) {
	t.Parallel()
	for _, c := range cases {
		r := ingesttest.Parse(t, c.format, c.path, ingest.Options{})
		if got, want := len(r.Findings), len(lines(t, c.path)); got != want {
			t.Errorf("Parse(%s): %d findings, want %d", c.path, got, want)
		}
		if len(r.Scans) != 1 {
			t.Errorf("Parse(%s): %d scans, want 1", c.path, len(r.Scans))
		}
		for _, f := range r.Findings {
			if f.Kind != model.FindingSecret || f.RuleID == "" || f.Location.Path == "" || f.SecretHash == "" || f.Location.Component == "" {
				t.Errorf("Parse(%s): incomplete finding %+v", c.path, f)
			}
		}
	}
}

// TestNoSecrets checks that no raw value, redacted preview, matched string
// or diff of a report survives in what the parser emits.
func TestNoSecrets(t *testing.T) {
	t.Parallel()
	for _, c := range cases {
		r := ingesttest.Parse(t, c.format, c.path, ingest.Options{Target: "repo"})
		out, err := json.Marshal(r)
		if err != nil {
			t.Fatal(err)
		}
		var secrets []string
		for _, l := range lines(t, c.path) {
			for _, k := range []string{"Raw", "RawV2", "Redacted", "printDiff", "diff"} {
				if v, _ := l[k].(string); v != "" {
					secrets = append(secrets, v)
					if b, err := base64.StdEncoding.DecodeString(v); err == nil && len(b) > 0 {
						secrets = append(secrets, string(b))
					}
				}
			}
			found, _ := l["stringsFound"].([]any)
			for _, s := range found {
				if v, _ := s.(string); v != "" {
					secrets = append(secrets, v)
				}
			}
		}
		if len(secrets) == 0 {
			t.Fatalf("%s: no secrets to check", c.path)
		}
		for _, s := range secrets {
			if len(s) >= 6 && strings.Contains(string(out), s) {
				t.Errorf("Parse(%s): the secret %.40q survives in the records", c.path, s)
			}
		}
	}
}

func TestFieldsV3(t *testing.T) {
	t.Parallel()
	r := ingesttest.Parse(t, trufflehog.FormatV3, "testdata/v3_github.json", ingest.Options{})
	if got, want := r.Scans[0].Asset, "repo:github.com/trufflesecurity/test_keys"; got != want {
		t.Errorf("scan asset = %q, want %q", got, want)
	}
	f := r.Findings[0]
	want := model.Location{Path: "keys", Line: 4, Component: "fbc14303ffbf8fb1c2c1914e8dda7d0121633aca",
		URL: "https://github.com/trufflesecurity/test_keys/blob/fbc14303ffbf8fb1c2c1914e8dda7d0121633aca/keys"}
	if f.RuleID != "AWS" || f.Severity != model.SeverityCritical || f.ToolStatus != "verified" || f.Location != want ||
		f.Asset != "repo:github.com/trufflesecurity/test_keys" || !strings.Contains(f.Description, "arn:aws:iam::595918472158:user/") {
		t.Errorf("Parse(v3_github.json)[0] = %+v, location %+v", f, f.Location)
	}
	// Base64 Raw is decoded before hashing: the same as hashing the key.
	hash, _ := ingest.RedactSecret(ingesttest.TestKey, "AKIAYVP4CIPPERUVIFXG")
	if f.SecretHash != hash {
		t.Errorf("SecretHash = %s, want the hash of the decoded key %s", f.SecretHash, hash)
	}
	g := ingesttest.Parse(t, trufflehog.FormatV3, "testdata/v3_git.json", ingest.Options{})
	if g.Findings[0].SecretHash != f.SecretHash || g.Findings[0].Asset != f.Asset {
		t.Errorf("git and github sources disagree: %+v vs %+v", g.Findings[0], f)
	}

	// The verified private key (encrypted OpenSSH) keeps its public
	// half's fingerprint, and nothing of the key.
	var key *model.Finding
	for i := range g.Findings {
		if g.Findings[i].RuleID == "PrivateKey" {
			key = g.Findings[i]
		}
	}
	if key == nil || !strings.Contains(key.Description, model.SSHKeyLine+"SHA256:kKHz3VlDXHUFcEW+XuGNqGI7v8c0A/LF9f48s3X1ThM") || strings.Contains(key.Description, "PRIVATE KEY") {
		t.Errorf("Parse(v3_git.json) PrivateKey finding = %+v, want its key's fingerprint in the description", key)
	}

	in := `{"SourceMetadata":{"Data":{"Filesystem":{"file":"conf/app.env","line":7}}},"SourceName":"trufflehog - filesystem","DetectorName":"Github","Verified":false,"Raw":"ghp_abcdefghijklmnopqrstuvwxyz0123456789","Redacted":"","ExtraData":null}`
	rr, err := ingesttest.ParseBytes(trufflehog.FormatV3, "fs.json", []byte(in), ingest.Options{Target: "/srv/app"})
	if err != nil {
		t.Fatal(err)
	}
	f = rr.Findings[0]
	if f.Severity != model.SeverityHigh || f.ToolStatus != "unverified" || f.Location.Path != "conf/app.env" || f.Location.Line != 7 || f.Asset != "repo:srv/app" || f.SecretHint != "…6789" {
		t.Errorf("Parse(filesystem) = %+v", f)
	}
}

func TestFieldsV2(t *testing.T) {
	t.Parallel()
	var warned bool
	r := ingesttest.Parse(t, trufflehog.FormatV2, "testdata/v2_many_vulns.json", ingest.Options{Warnf: func(string, ...any) { warned = true }})
	if !warned {
		t.Error("no warning for output without a repository")
	}
	f := r.Findings[0]
	if f.RuleID != "Generic Secret" || f.Location.Path != "test_all.py" || f.Location.Component != "288f35ed2e73145e3578207e896a4cf1600bea45" || f.Severity != model.SeverityHigh {
		t.Errorf("Parse(v2)[0] = %+v", f)
	}
}

func TestInvalid(t *testing.T) {
	t.Parallel()
	for _, f := range []ingest.Format{trufflehog.FormatV3, trufflehog.FormatV2} {
		for _, in := range []string{``, "\n", `{`, `[1]`, `{"SourceMetadata": 1}`, `{"stringsFound": "x"}`, "{}\n[]", `{"DetectorName": "x", "reason": "y"}` + "\n" + `{"a": 1}`} {
			_, err := ingesttest.ParseBytes(f, "bad.json", []byte(in), ingest.Options{Target: "x"})
			if _, ok := errors.AsType[*ingest.InputError](err); !ok {
				t.Errorf("%s: Parse(%q) = %v, want an *ingest.InputError", f.Name, in, err)
			}
		}
	}
}

func TestMalformed(t *testing.T) {
	t.Parallel()
	ingesttest.CheckMalformed(t, trufflehog.FormatV3, "testdata/v3_git.json")
	ingesttest.CheckMalformed(t, trufflehog.FormatV2, "testdata/v2_many_vulns.json")
}

func TestStore(t *testing.T) {
	t.Parallel()
	for _, c := range cases {
		st := ingesttest.OpenStore(t)
		if _, err := ingesttest.Ingest(st, c.format, ingest.Options{}, c.path); err != nil {
			t.Fatal(err)
		}
		first := ingesttest.Count(t, st)
		r := ingesttest.Parse(t, c.format, c.path, ingest.Options{})
		if got, want := first.Findings, len(r.Distinct()); got != want {
			t.Errorf("%s: store holds %d findings, want %d", c.path, got, want)
		}
		if _, err := ingesttest.Ingest(st, c.format, ingest.Options{}, c.path); err != nil {
			t.Fatal(err)
		}
		if again := ingesttest.Count(t, st); again.Findings != first.Findings {
			t.Errorf("%s: second ingest: %d findings, want %d", c.path, again.Findings, first.Findings)
		}
	}
}

func FuzzTrufflehogV3(f *testing.F) {
	ingesttest.Fuzz(f, trufflehog.FormatV3, "testdata/v3_git.json", "testdata/v3_github.json")
}

func FuzzTrufflehogV2(f *testing.F) {
	ingesttest.Fuzz(f, trufflehog.FormatV2, "testdata/v2_many_vulns.json")
}
