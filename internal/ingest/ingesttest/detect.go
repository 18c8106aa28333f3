package ingesttest

import (
	"path/filepath"
	"testing"

	"github.com/ctem-dev/ctem/internal/ingest"
)

// SniffFile sniffs the head of a file as the CLI does before detection
// (gzip undone).
func SniffFile(t testing.TB, path string) *ingest.Sniff {
	t.Helper()
	src, err := ingest.Open(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	return src.Sniff()
}

// CheckDetect checks a format's detection on real files: reg, a registry
// holding f among the others, detects each of own as f alone, and f
// rejects every file the patterns in others match (other tools' reports).
func CheckDetect(t *testing.T, reg ingest.Registry, f ingest.Format, own []string, others ...string) {
	t.Helper()
	for _, path := range own {
		got, err := reg.Detect(SniffFile(t, path))
		if err != nil || got.Name != f.Name {
			t.Errorf("Detect(%s) = %q, %v, want %s", path, got.Name, err, f.Name)
		}
	}
	n := 0
	for _, pattern := range others {
		paths, err := filepath.Glob(pattern)
		if err != nil {
			t.Fatal(err)
		}
		for _, path := range paths {
			n++
			if f.Detect(SniffFile(t, path)) {
				t.Errorf("%s detects %s, another tool's report", f.Name, path)
			}
		}
	}
	if len(others) > 0 && n == 0 {
		t.Errorf("no file matches %v: nothing checked that %s rejects", others, f.Name)
	}
}
