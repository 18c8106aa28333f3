package sqlstore_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ctem-dev/ctem/internal/ingest"
	"github.com/ctem-dev/ctem/internal/ingest/ingesttest"
	"github.com/ctem-dev/ctem/internal/ingest/trivy"
	"github.com/ctem-dev/ctem/internal/store"
)

// TestNULInReport ingests a report whose strings hold a NUL (JSON's
// \u0000), which PostgreSQL's text refuses: on either store the ingest
// succeeds and the finding reads back whole, the NUL kept (SQLite) or
// replaced by one substitute byte (PostgreSQL).
func TestNULInReport(t *testing.T) {
	t.Parallel()
	st := ingesttest.OpenStore(t)
	p := filepath.Join(t.TempDir(), "nul.json")
	report := `{"SchemaVersion":2,"ArtifactName":"nul/img:1","ArtifactType":"container_image","Results":[{"Target":"nul/img:1 (alpine 3.10)","Class":"os-pkgs","Type":"alpine",
"Vulnerabilities":[{"VulnerabilityID":"CVE-2020-0001","PkgName":"musl","InstalledVersion":"1","Severity":"HIGH","Title":"bad\u0000title","Description":"d\u0000"}]}]}`
	if err := os.WriteFile(p, []byte(report), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := ingesttest.Ingest(st, trivy.Format, ingest.Options{}, p); err != nil {
		t.Fatalf("ingest of a report with a NUL: %v", err)
	}
	fs := collect(t, st.Findings(t.Context(), store.Filter{}))
	if len(fs) != 1 {
		t.Fatalf("Findings() = %d findings, want 1", len(fs))
	}
	title := strings.NewReplacer("\x00", "?", "\x1a", "?").Replace(fs[0].Title)
	desc := strings.NewReplacer("\x00", "?", "\x1a", "?").Replace(fs[0].Description)
	if title != "bad?title" || desc != "d?" {
		t.Errorf("title, description = %q, %q, want bad?title and d? (? a NUL or SUB)", fs[0].Title, fs[0].Description)
	}
}
