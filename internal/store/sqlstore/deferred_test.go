package sqlstore_test

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/ctem-dev/ctem/internal/ingest"
	"github.com/ctem-dev/ctem/internal/ingest/ingesttest"
	"github.com/ctem-dev/ctem/internal/ingest/trivy"
	"github.com/ctem-dev/ctem/internal/store"
	"github.com/ctem-dev/ctem/internal/store/sqlstore"
	"github.com/ctem-dev/ctem/internal/synth"
)

// TestDeferredIndexesMatchSchema checks that the indexes a first ingest
// drops and builds again are those the migrations define, word for
// word, both on a new database and after the first ingest built them.
func TestDeferredIndexesMatchSchema(t *testing.T) {
	t.Parallel()
	st := ingesttest.OpenStore(t)
	want := sqlstore.DeferredIndexes()
	schema := func() map[string]string {
		t.Helper()
		got := map[string]string{}
		for name := range want {
			var def string
			q := `SELECT sql FROM sqlite_master WHERE type = 'index' AND name = ?`
			if st.Dialect().Name == "postgres" {
				q = `SELECT indexdef FROM pg_indexes WHERE schemaname = current_schema() AND indexname = ?`
			}
			if err := st.SQL().QueryRow(st.Rebind(q), name).Scan(&def); err != nil {
				t.Fatalf("index %s: %v", name, err)
			}
			// PostgreSQL's definition names the schema and the method.
			def = strings.NewReplacer(" ON public.", " ON ", " USING btree ", " ").Replace(def)
			got[name] = strings.Join(strings.Fields(def), " ")
		}
		return got
	}
	if diff := cmp.Diff(schema(), want); diff != "" {
		t.Errorf("migrated schema differs from deferredIndexes (-got +want):\n%s", diff)
	}
	path := writeTrivy(t, t.TempDir(), "r.json", synth.Trivy{Image: "shop/api:1", Results: 2, Findings: 300})
	if _, err := ingesttest.Ingest(st, trivy.Format, ingest.Options{}, path); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(schema(), want); diff != "" {
		t.Errorf("after a first ingest, indexes differ (-got +want):\n%s", diff)
	}
	// finding_vulns holds each finding's ids after the first.
	want2 := 0
	for f, err := range st.Findings(t.Context(), store.Filter{}) {
		if err != nil {
			t.Fatal(err)
		}
		seen := map[string]bool{}
		for _, v := range f.VulnIDs[min(1, len(f.VulnIDs)):] {
			if v != f.VulnIDs[0] && !seen[v] {
				seen[v] = true
				want2++
			}
		}
	}
	var n int
	if err := st.SQL().QueryRow(`SELECT COUNT(*) FROM finding_vulns`).Scan(&n); err != nil || n != want2 {
		t.Errorf("finding_vulns holds %d rows (%v), want %d", n, err, want2)
	}
}
