package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/ctem-dev/ctem/internal/store/sqlite"
	"github.com/ctem-dev/ctem/internal/store/storetest"
	"github.com/ctem-dev/ctem/internal/store/transfer"
)

// TestMigrate copies a SQLite database holding the example estate,
// analysed and triaged, with tokens and their audit entries, into a new
// database (PostgreSQL when CTEM_TEST_POSTGRES is set, else another
// SQLite file): every table's rows and checksum are equal, the audit
// chain verifies on the copy, listings read the same, the copy takes
// new writes, and a second copy into it is refused.
func TestMigrate(t *testing.T) {
	t.Parallel()
	src := filepath.Join(t.TempDir(), "src.db")
	dst := storetest.Name(t)
	run := func(db string, args ...string) (int, string, string) {
		var out, errb bytes.Buffer
		code := Run(context.Background(), append([]string{"--db", db, "-q"}, args...), strings.NewReader(""), &out, &errb)
		return code, out.String(), errb.String()
	}
	must := func(db string, args ...string) string {
		t.Helper()
		code, out, stderr := run(db, args...)
		if code != 0 {
			t.Fatalf("ctem %s = %d: %s", strings.Join(args, " "), code, stderr)
		}
		return out
	}
	ex := func(p string) string { return filepath.Join("..", "..", "examples", p) }
	must(src, "scope", "set", ex("ctem.yaml"))
	must(src, "ingest", "--no-analyze", "--target", "prod", ex("k8s/shop.yaml"))
	must(src, "ingest", "--no-analyze", "--target", "shop-aws", ex("terraform"))
	must(src, "ingest", ex("inventory.yaml"), ex("reports/edge-proxy-image.trivy.json"), ex("reports/shop-api-image.trivy.json"))
	must(src, "analyze")
	must(src, "token", "create", "--name", "ci", "--role", "uploader")
	var xs []struct {
		ID string `json:"id"`
	}
	if err := json.Unmarshal([]byte(must(src, "exposures", "-o", "json")), &xs); err != nil || len(xs) < 2 {
		t.Fatalf("exposures -o json: %d exposures, %v", len(xs), err)
	}
	must(src, "false-positive", xs[0].ID, "--by", "ana", "--reason", "test fixture")

	if code, _, stderr := run(src, "migrate", "--from", "sqlite:"+src, "--to", dst); code != 0 {
		t.Fatalf("ctem migrate = %d: %s", code, stderr)
	}
	ctx := t.Context()
	s, err := sqlite.Open(ctx, src)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	d := storetest.OpenName(t, dst)
	tables, err := transfer.Tables(ctx, s)
	if err != nil {
		t.Fatal(err)
	}
	counts := map[string]int64{}
	for _, table := range tables {
		n, sum, err := transfer.Sum(ctx, s, table)
		if err != nil {
			t.Fatal(err)
		}
		m, sum2, err := transfer.Sum(ctx, d, table)
		if err != nil {
			t.Fatal(err)
		}
		if n != m || sum != sum2 {
			t.Errorf("table %s: copy holds %d rows (%s), source %d (%s)", table, m, sum2, n, sum)
		}
		counts[table] = n
	}
	for _, table := range []string{"findings", "exposures", "scans", "paths", "path_events", "analyses", "audit_log", "status_events", "triage", "api_tokens", "scopes"} {
		if counts[table] == 0 {
			t.Errorf("the source's %s is empty: the test copies nothing there", table)
		}
	}
	if out := must(dst, "audit", "verify"); !strings.Contains(out, "audit log intact") {
		t.Errorf("audit verify on the copy = %q", out)
	}
	for _, args := range [][]string{{"exposures", "-o", "json"}, {"paths", "-o", "json"}, {"scans", "-o", "json"}} {
		if diff := cmp.Diff(must(dst, args...), must(src, args...)); diff != "" {
			t.Errorf("ctem %s differs on the copy (-copy +source):\n%s", strings.Join(args, " "), diff)
		}
	}
	// New writes continue the copied sequences.
	must(dst, "false-positive", xs[1].ID, "--by", "ana", "--reason", "after the move")
	if out := must(dst, "audit", "verify"); !strings.Contains(out, "audit log intact") {
		t.Errorf("audit verify on the copy after a write = %q", out)
	}
	if code, _, stderr := run(src, "migrate", "--from", "sqlite:"+src, "--to", dst); code != ExitInput || !strings.Contains(stderr, "not empty") {
		t.Errorf("a second migrate into the copy = %d %q, want %d and not empty", code, stderr, ExitInput)
	}
}
