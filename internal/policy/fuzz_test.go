package policy_test

import (
	"strings"
	"testing"

	"github.com/ctem-dev/ctem/internal/estate/scope"
	"github.com/ctem-dev/ctem/internal/policy"
)

// FuzzCompile compiles and evaluates arbitrary expressions: an error is
// fine, a panic or a run away evaluation is not.
func FuzzCompile(f *testing.F) {
	for _, s := range []string{
		"path.validated && path.target.value >= 9",
		"exposure.kev && asset.internet_exposed",
		"path.rules.exists(r, r == 'escape')",
		"path.validated &&",
		"[1,2,3].map(x, [x, x, x]).size() > 2",
		"'a' + 1",
	} {
		f.Add(s, true)
		f.Add(s, false)
	}
	f.Fuzz(func(t *testing.T, expr string, onPath bool) {
		on := "exposure"
		if onPath {
			on = "path"
		}
		sc := &scope.Scope{Policies: []scope.Policy{{Name: "p", On: on, Expr: expr, Action: "warn"}}}
		set, err := policy.Compile(sc)
		if err != nil {
			if !strings.Contains(err.Error(), "policies[0]") {
				t.Errorf("Compile(%q) error %q does not name the policy", expr, err)
			}
			return
		}
		vars := map[string]any{
			"path":     map[string]any{"validated": true, "rules": []any{"escape"}, "target": map[string]any{"value": int64(9)}},
			"exposure": map[string]any{"kev": true},
			"asset":    map[string]any{"internet_exposed": true},
		}
		_, _ = set.Eval(on, "s", vars)
	})
}
