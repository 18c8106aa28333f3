package observe_test

import (
	"bytes"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/ctem-dev/ctem/internal/validate/observe"
)

// TestParseFalco: the real alerts parse, one per line, with their rule,
// time and tags; they ran outside any container.
func TestParseFalco(t *testing.T) {
	t.Parallel()
	raw, err := os.ReadFile("testdata/falco-cat-write.json")
	if err != nil {
		t.Fatal(err)
	}
	al, err := observe.ParseFalco("falco.json", bytes.NewReader(raw))
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Count(strings.TrimSpace(string(raw)), "\n") + 1
	if len(al) != lines || al[0].Rule != "open_from_cat" || al[0].Time.IsZero() || !slices.Contains(al[0].Tags, "filesystem") || al[0].Image != "" {
		t.Errorf("ParseFalco() = %d alerts, first %+v; want %d of open_from_cat, in no container", len(al), al[0], lines)
	}
	for _, c := range []struct{ in, want string }{
		{"{\"rule\": \"x\"}\nnot json\n", "falco.json:2:"},
		{`{"priority": "Warning"}`, "falco.json:1: a Falco alert names its rule"},
	} {
		if _, err := observe.ParseFalco("falco.json", strings.NewReader(c.in)); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("ParseFalco(%q) = %v, want an error with %q", c.in, err, c.want)
		}
	}
}

func FuzzParseFalco(f *testing.F) {
	raw, err := os.ReadFile("testdata/falco-cat-write.json")
	if err != nil {
		f.Fatal(err)
	}
	f.Add(raw)
	f.Fuzz(func(t *testing.T, b []byte) {
		al, err := observe.ParseFalco("fuzz.json", bytes.NewReader(b))
		if err != nil && al != nil {
			t.Errorf("ParseFalco = %d alerts and error %v", len(al), err)
		}
	})
}

// TestFalcoTechnique: the default rules map to their techniques by name,
// other rules by their ATT&CK tags, the rest to none.
func TestFalcoTechnique(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		rule string
		tags []string
		want observe.Technique
	}{
		{"Write below etc", []string{"filesystem", "mitre_persistence"}, observe.TechExec},
		{"Read sensitive file untrusted", []string{"T1555", "mitre_credential_access"}, observe.TechReadSecret},
		{"Contact K8S API Server From Container", []string{"mitre_discovery"}, observe.TechAPIServer},
		{"Launch Sensitive Mount Container", nil, observe.TechEscape},
		{"my shell rule", []string{"T1059.004"}, observe.TechExec},
		{"open_from_cat", []string{"filesystem", "process", "testing"}, ""},
	} {
		if got := (observe.FalcoAlert{Rule: c.rule, Tags: c.tags}).Technique(); got != c.want {
			t.Errorf("FalcoAlert{%q, %v}.Technique() = %q, want %q", c.rule, c.tags, got, c.want)
		}
	}
}
