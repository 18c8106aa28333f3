package gate_test

import (
	"os"
	"regexp"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"
)

// yamlBlocks returns the ```yaml blocks of a Markdown file.
func yamlBlocks(t testing.TB, path string) []string {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	re := regexp.MustCompile("(?s)```yaml\n(.*?)```")
	var out []string
	for _, m := range re.FindAllStringSubmatch(string(data), -1) {
		out = append(out, m[1])
	}
	return out
}

// gateArgs returns the flags of the `ctem ... gate` command in a shell
// script, folded lines joined.
func gateArgs(script string) string {
	script = strings.ReplaceAll(script, "\\\n", " ")
	for line := range strings.SplitSeq(script, "\n") {
		if i := strings.Index(line, " gate --base "); i >= 0 && strings.Contains(line, "ctem") {
			return line[i:]
		}
	}
	return ""
}

// TestCISnippets parses the GitHub Actions and GitLab CI snippets of
// docs/ci.md and checks that each runs the gate with the SARIF and
// Markdown it then hands on.
func TestCISnippets(t *testing.T) {
	t.Parallel()
	blocks := yamlBlocks(t, "../../docs/ci.md")
	if len(blocks) != 2 {
		t.Fatalf("docs/ci.md yaml blocks = %d, want 2 (GitHub Actions, GitLab CI)", len(blocks))
	}

	var gh struct {
		Name        string            `yaml:"name"`
		On          map[string]any    `yaml:"on"`
		Permissions map[string]string `yaml:"permissions"`
		Jobs        map[string]struct {
			RunsOn string `yaml:"runs-on"`
			Steps  []struct {
				Name string            `yaml:"name"`
				ID   string            `yaml:"id"`
				Env  map[string]string `yaml:"env"`
				Uses string            `yaml:"uses"`
				Run  string            `yaml:"run"`
				With map[string]string `yaml:"with"`
				If   string            `yaml:"if"`
			} `yaml:"steps"`
		} `yaml:"jobs"`
	}
	dec := yaml.NewDecoder(strings.NewReader(blocks[0]))
	dec.KnownFields(true)
	if err := dec.Decode(&gh); err != nil {
		t.Fatalf("GitHub Actions snippet: %v", err)
	}
	if _, ok := gh.On["pull_request"]; !ok {
		t.Errorf("GitHub Actions snippet on = %v, want pull_request", gh.On)
	}
	if gh.Permissions["security-events"] != "write" {
		t.Errorf("GitHub Actions permissions = %v, want security-events: write for the SARIF upload", gh.Permissions)
	}
	job, ok := gh.Jobs["gate"]
	if !ok {
		t.Fatalf("GitHub Actions jobs = %v, want gate", gh.Jobs)
	}
	var args, sarif string
	for _, s := range job.Steps {
		if a := gateArgs(s.Run); a != "" {
			args = a
		}
		if strings.HasPrefix(s.Uses, "github/codeql-action/upload-sarif@") {
			sarif = s.With["sarif_file"]
			if s.If != "always()" {
				t.Errorf("GitHub Actions SARIF upload if = %q, want always() (the gate fails the step)", s.If)
			}
		}
	}
	if args == "" || sarif == "" || !strings.Contains(args, "--sarif "+sarif+" ") {
		t.Errorf("GitHub Actions gate args = %q, upload = %q, want the gate to write the uploaded SARIF", args, sarif)
	}

	var gl map[string]struct {
		Stage     string   `yaml:"stage"`
		Image     string   `yaml:"image"`
		Rules     []any    `yaml:"rules"`
		Variables any      `yaml:"variables"`
		Script    []string `yaml:"script"`
		After     []string `yaml:"after_script"`
		Artifacts struct {
			When  string   `yaml:"when"`
			Paths []string `yaml:"paths"`
		} `yaml:"artifacts"`
	}
	dec = yaml.NewDecoder(strings.NewReader(blocks[1]))
	dec.KnownFields(true)
	if err := dec.Decode(&gl); err != nil {
		t.Fatalf("GitLab CI snippet: %v", err)
	}
	gj, ok := gl["ctem-gate"]
	if !ok {
		t.Fatalf("GitLab CI jobs = %v, want ctem-gate", gl)
	}
	args = gateArgs(strings.Join(gj.Script, "\n"))
	if args == "" || !strings.Contains(args, "--sarif ctem.sarif") || !strings.Contains(args, "--markdown ctem-gate.md") {
		t.Errorf("GitLab CI gate args = %q, want --sarif ctem.sarif --markdown ctem-gate.md", args)
	}
	if gj.Artifacts.When != "always" || len(gj.Artifacts.Paths) != 2 {
		t.Errorf("GitLab CI artifacts = %+v, want both files kept always", gj.Artifacts)
	}
}
