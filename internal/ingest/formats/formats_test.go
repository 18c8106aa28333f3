package formats_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/ctem-dev/ctem/internal/ingest"
	"github.com/ctem-dev/ctem/internal/ingest/formats"
	"github.com/ctem-dev/ctem/internal/ingest/ingesttest"
)

// TestParserVersions checks that every format of the registry names its
// parser's version, and that every scan a parser begins on the parsers'
// own testdata carries that version: the store records it on the scan.
func TestParserVersions(t *testing.T) {
	t.Parallel()
	reg := formats.All()
	for _, f := range reg {
		if f.Version == "" {
			t.Errorf("format %s has no Version", f.Name)
		}
	}
	files, err := filepath.Glob(filepath.Join("..", "*", "testdata", "*"))
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for _, path := range files {
		if fi, err := os.Stat(path); err != nil || fi.IsDir() || filepath.Base(path) == "SOURCES.tsv" {
			continue
		}
		f, err := reg.Detect(ingesttest.SniffFile(t, path))
		if err != nil {
			continue // another format's negative sample, or not a report
		}
		rec, err := ingesttest.TryParse(f, path, ingest.Options{Target: "test"})
		if err != nil {
			continue // a malformed sample kept for an error test
		}
		for _, s := range rec.Scans {
			seen[f.Name] = true
			if s.ParserVersion != f.Version {
				t.Errorf("%s (%s): scan ParserVersion = %q, want %q", path, f.Name, s.ParserVersion, f.Version)
			}
		}
	}
	for _, f := range reg {
		if !seen[f.Name] {
			t.Errorf("no testdata of format %s began a scan; the check did not cover it", f.Name)
		}
	}
}
