package cli

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/ctem-dev/ctem/internal/store/storetest"
)

// TestAuditVerify checks that token changes are audited and that `ctem
// audit verify` fails naming the first entry after an edit, then after a
// deletion.
func TestAuditVerify(t *testing.T) {
	t.Parallel()
	db := storetest.Name(t)
	run := func(args ...string) (int, string, string) {
		var out, errb bytes.Buffer
		code := Run(context.Background(), append([]string{"--db", db}, args...), strings.NewReader(""), &out, &errb)
		return code, out.String(), errb.String()
	}
	for _, name := range []string{"ci", "team", "dash"} {
		if code, out, stderr := run("token", "create", "--name", name, "--role", "uploader", "--expires", "90d"); code != 0 || !strings.HasPrefix(out, "ctem_") {
			t.Fatalf("token create = %d %q %q, want 0 and a token", code, out, stderr)
		}
	}
	if code, out, _ := run("audit", "verify"); code != 0 || !strings.Contains(out, "3 entries") {
		t.Fatalf("audit verify = %d %q, want 0 and 3 entries", code, out)
	}
	if code, out, _ := run("audit", "export"); code != 0 || strings.Count(out, "\n") != 3 || !strings.Contains(out, `"action":"token.create"`) {
		t.Errorf("audit export = %d %q, want 3 JSON lines of token.create", code, out)
	}
	st := storetest.OpenName(t, db)
	for _, tc := range []struct{ sql, want string }{
		{`UPDATE audit_log SET actor = 'someone else' WHERE seq = 3`, "entry 3"},
		{`DELETE FROM audit_log WHERE seq = 2`, "entry 2"},
	} {
		if _, err := st.SQL().Exec(tc.sql); err != nil {
			t.Fatal(err)
		}
		if code, _, stderr := run("audit", "verify"); code != ExitGate || !strings.Contains(stderr, tc.want) {
			t.Errorf("after %q, audit verify = %d %q, want %d naming %s", tc.sql, code, stderr, ExitGate, tc.want)
		}
	}
}
