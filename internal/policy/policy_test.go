package policy_test

import (
	"bytes"
	"context"
	"errors"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/ctem-dev/ctem/examples"
	"github.com/ctem-dev/ctem/internal/app"
	"github.com/ctem-dev/ctem/internal/estate/scope"
	"github.com/ctem-dev/ctem/internal/graph"
	"github.com/ctem-dev/ctem/internal/inputs"
	"github.com/ctem-dev/ctem/internal/intel/feeds"
	"github.com/ctem-dev/ctem/internal/intel/score"
	"github.com/ctem-dev/ctem/internal/policy"
	"github.com/ctem-dev/ctem/internal/store/sqlite"
)

func parse(t testing.TB, src string) *scope.Scope {
	t.Helper()
	sc, err := scope.Parse("ctem.yaml", strings.NewReader(src))
	if err != nil {
		t.Fatal(err)
	}
	return sc
}

func TestCompileErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, src         string
		wantLine, wantCol int
		wantMsg           string
	}{
		{"syntax", "policies:\n  - name: a\n    on: path\n    action: fail\n    expr: path.validated && \n", 5, 28, "Syntax error"},
		{"undeclared", "policies:\n  - name: a\n    on: exposure\n    action: warn\n    expr: exposure.kev && foo.internet\n", 5, 27, "undeclared reference to 'foo'"},
		{"path variable in an exposure policy", "policies:\n  - name: a\n    on: exposure\n    action: warn\n    expr: \"path.validated\"\n", 5, 12, "undeclared reference to 'path'"},
		{"not a bool", "policies:\n  - name: a\n    on: path\n    action: warn\n    expr: path.length + 1 > 2 || 'x'\n", 5, 34, "expected type 'bool' but found 'string'"},
		{"block scalar, second line", "policies:\n  - name: a\n    on: path\n    action: fail\n    expr: |\n      path.validated &&\n        path.target.value >=\n", 8, 1, "expr line 3 column 1: Syntax error"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, err := policy.Compile(parse(t, tc.src))
			se, ok := errors.AsType[*scope.Error](err)
			if !ok {
				t.Fatalf("Compile(%s) = %v, want a *scope.Error", tc.name, err)
			}
			if se.Line != tc.wantLine || se.Column != tc.wantCol || !strings.Contains(se.Msg, tc.wantMsg) {
				t.Errorf("Compile(%s) = %d:%d %q, want %d:%d and %q", tc.name, se.Line, se.Column, se.Msg, tc.wantLine, tc.wantCol, tc.wantMsg)
			}
		})
	}
}

func TestEval(t *testing.T) {
	t.Parallel()
	set, err := policy.Compile(parse(t, `policies:
  - name: validated-to-valuable
    on: path
    action: fail
    expr: path.validated && path.target.value >= 9
  - name: kev-on-internet
    on: exposure
    action: warn
    expr: exposure.kev && asset.internet_exposed
`))
	if err != nil {
		t.Fatal(err)
	}
	path := func(validated bool, value int64) map[string]any {
		return map[string]any{"path": map[string]any{"validated": validated, "target": map[string]any{"value": value}}, "asset": map[string]any{}}
	}
	for _, tc := range []struct {
		vars map[string]any
		want bool
	}{
		{path(true, 10), true}, {path(true, 9), true}, {path(true, 8), false}, {path(false, 10), false},
	} {
		ms, err := set.Eval("path", "p", tc.vars)
		if err != nil {
			t.Fatal(err)
		}
		if got := len(ms) == 1; got != tc.want {
			t.Errorf("Eval(%v) matched = %v, want %v", tc.vars, got, tc.want)
		}
		if len(ms) == 1 && !slices.Contains(ms[0].Because, "path.target.value = 10") && !slices.Contains(ms[0].Because, "path.target.value = 9") {
			t.Errorf("Eval(%v) because = %v, want the jewel's value", tc.vars, ms[0].Because)
		}
	}
	// A missing field is a run-time error, not a match, and not a panic.
	ms, err := set.Eval("exposure", "x", map[string]any{"exposure": map[string]any{"kev": true}, "asset": map[string]any{}})
	if len(ms) != 0 || err == nil {
		t.Errorf("Eval(no asset.internet_exposed) = %v, %v; want no match and an error", ms, err)
	}
}

// TestPolicyTest evaluates the two example policies on the
// example estate through the store.
func TestPolicyTest(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "ctem.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	intel := func() (app.Intel, error) {
		in, err := feeds.Load(feeds.DefaultConfig(""))
		if err != nil {
			return app.Intel{}, err
		}
		return app.Intel{Intel: score.Intel{KEV: in.KEV}}, nil
	}
	a := &app.App{Store: st, Formats: inputs.All(), Intel: intel}
	data, err := examples.Files.ReadFile(examples.Scope)
	if err != nil {
		t.Fatal(err)
	}
	data = append(data, `policies:
  - name: validated-to-valuable
    on: path
    action: fail
    expr: path.validated && path.target.value >= 9
  - name: kev-on-internet
    on: exposure
    action: warn
    expr: exposure.kev && asset.internet_exposed
`...)
	if _, _, err := a.SetScope(ctx, app.ScopeFile{Name: "ctem.yaml", Data: data}); err != nil {
		t.Fatal(err)
	}
	var req app.IngestRequest
	for _, name := range examples.Inputs {
		b, err := examples.Files.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		req.Inputs = append(req.Inputs, app.Input{Name: name, R: bytes.NewReader(b), Target: examples.Targets[name]})
	}
	req.NoAnalyze = true
	if _, err := a.Ingest(ctx, req); err != nil {
		t.Fatal(err)
	}
	if _, err := a.Analyze(ctx, graph.Options{}); err != nil {
		t.Fatal(err)
	}
	r, err := policy.Test(ctx, a)
	if err != nil {
		t.Fatal(err)
	}
	pl, err := a.Paths(ctx, app.PathQuery{})
	if err != nil {
		t.Fatal(err)
	}
	es, err := a.Estate(ctx)
	if err != nil {
		t.Fatal(err)
	}
	want := 0
	for _, p := range pl.Paths {
		if v := es.Assets[p.Jewel].CrownJewel; p.Validated && v != nil && *v >= 9 {
			want++
		}
	}
	if got := len(r.Failed()); got != want || want == 0 {
		t.Errorf("Test() fail matches = %d, want %d validated paths to jewels of value 9 or more", got, want)
	}
	var kevs []string
	for _, m := range r.Matches {
		if m.Policy == "kev-on-internet" {
			kevs = append(kevs, m.String())
		}
	}
	if len(kevs) != 1 || !strings.Contains(kevs[0], "exposure.kev = true") || !strings.Contains(kevs[0], "asset.internet_exposed = true") {
		t.Errorf("Test() kev-on-internet matches = %q, want Spring4Shell explained", kevs)
	}
	if len(r.Errors) != 0 {
		t.Errorf("Test() errors = %v", r.Errors)
	}
}
