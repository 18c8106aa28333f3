package inputs_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ctem-dev/ctem/internal/ingest"
	"github.com/ctem-dev/ctem/internal/inputs"
)

func TestNamesAreUnique(t *testing.T) {
	t.Parallel()
	seen := map[string]bool{}
	for _, f := range inputs.All() {
		if f.Name == "" || f.Detect == nil || f.Parse == nil || f.Title == "" {
			t.Errorf("format %q is incomplete", f.Name)
		}
		if seen[f.Name] {
			t.Errorf("format name %q twice", f.Name)
		}
		seen[f.Name] = true
	}
}

// TestNoFileMatchesTwoFormats runs every detector on every test report of
// every parser package: no report may be claimed by two formats, and a
// report that one format claims must be claimed by the format of the
// package it is in (one package may hold several formats).
func TestNoFileMatchesTwoFormats(t *testing.T) {
	t.Parallel()
	reg := inputs.All()
	pkgOf := map[string]string{} // format name -> package dir
	dirs, _ := globDirs()
	checked := 0
	for _, dir := range dirs {
		pkg := filepath.Base(filepath.Dir(dir))
		_ = filepath.WalkDir(dir, func(path string, d os.DirEntry, err error) error {
			if err != nil || d.IsDir() {
				if d != nil && d.IsDir() && d.Name() == "fuzz" {
					return filepath.SkipDir
				}
				return nil
			}
			if strings.HasSuffix(path, ".tsv") || strings.HasSuffix(path, ".md") {
				return nil
			}
			src, err := ingest.Open(path, nil)
			if err != nil {
				return nil
			}
			defer src.Close()
			s := src.Sniff()
			var hits []string
			for _, f := range reg {
				if f.Detect(s) {
					hits = append(hits, f.Name)
				}
			}
			checked++
			if len(hits) > 1 {
				t.Errorf("%s is claimed by %v", path, hits)
			}
			if len(hits) == 1 {
				if p, ok := pkgOf[hits[0]]; ok && p != pkg {
					t.Errorf("%s (package %s) detected as %s, a format of package %s", path, pkg, hits[0], p)
				}
				pkgOf[hits[0]] = pkg
			}
			return nil
		})
	}
	if checked < 100 {
		t.Errorf("checked only %d files", checked)
	}
}

// globDirs lists the testdata folders of every input package.
func globDirs() ([]string, error) {
	a, err := filepath.Glob("../ingest/*/testdata")
	if err != nil {
		return nil, err
	}
	b, err := filepath.Glob("../estate/*/testdata")
	return append(a, b...), err
}
