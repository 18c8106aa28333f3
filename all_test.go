package ctem_test

// Repository hygiene, run as ordinary tests: vet is clean, go.mod is tidy,
// no banned module is linked, and the checked-in list of linked modules
// (deps.txt) matches what the build links, so a new dependency shows in
// review.

import (
	"bytes"
	"os"
	"os/exec"
	"strings"
	"testing"
)

// banned modules and why.
var banned = map[string]string{
	"github.com/stretchr/testify":      "STYLE.md: standard testing and go-cmp",
	"gopkg.in/yaml.v3":                 "archived; use go.yaml.in/yaml/v3",
	"github.com/spf13/viper":           "STYLE.md: typed config with yaml and CTEM_* env",
	"github.com/mattn/go-sqlite3":      "cgo; use modernc.org/sqlite",
	"golang.org/x/xerrors":             "use the standard errors package",
	"github.com/open-policy-agent/opa": "STYLE.md: cel-go",
	"github.com/pkg/errors":            "use the standard errors package",
}

func goCmd(t *testing.T, args ...string) string {
	t.Helper()
	if _, err := exec.LookPath("go"); err != nil {
		t.Skip("no go command: set PATH to include the Go toolchain")
	}
	cmd := exec.Command("go", args...)
	var out, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("go %s: %v\n%s%s", strings.Join(args, " "), err, out.String(), stderr.String())
	}
	return out.String()
}

func TestModTidy(t *testing.T) {
	goCmd(t, "mod", "tidy", "-diff")
}

// linkedModules lists the modules the ctem command links, one per line.
func linkedModules(t *testing.T) string {
	out := goCmd(t, "list", "-deps", "-f", "{{with .Module}}{{if not .Main}}{{.Path}} {{.Version}}{{end}}{{end}}", "./cmd/ctem")
	seen := map[string]bool{}
	var lines []string
	for l := range strings.SplitSeq(out, "\n") {
		if l != "" && !seen[l] {
			seen[l] = true
			lines = append(lines, l)
		}
	}
	sortStrings(lines)
	return strings.Join(lines, "\n") + "\n"
}

func sortStrings(s []string) {
	for i := 1; i < len(s); i++ {
		for j := i; j > 0 && s[j] < s[j-1]; j-- {
			s[j], s[j-1] = s[j-1], s[j]
		}
	}
}

func TestDependencies(t *testing.T) {
	got := linkedModules(t)
	for l := range strings.SplitSeq(got, "\n") {
		mod, _, _ := strings.Cut(l, " ")
		if why, ok := banned[mod]; ok {
			t.Errorf("banned module %s is linked: %s", mod, why)
		}
	}
	direct := goCmd(t, "list", "-m", "-f", "{{if not .Indirect}}{{.Path}}{{end}}", "all")
	for l := range strings.SplitSeq(direct, "\n") {
		if why, ok := banned[l]; ok {
			t.Errorf("banned module %s is required by go.mod: %s", l, why)
		}
	}
	if os.Getenv("CTEM_UPDATE_DEPS") != "" {
		if err := os.WriteFile("deps.txt", []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile("deps.txt")
	if err != nil {
		t.Fatalf("read deps.txt: %v (run CTEM_UPDATE_DEPS=1 go test -run TestDependencies .)", err)
	}
	if string(want) != got {
		t.Errorf("the linked modules changed; review, then run CTEM_UPDATE_DEPS=1 go test -run TestDependencies .\nnow linked:\n%s", got)
	}
}
