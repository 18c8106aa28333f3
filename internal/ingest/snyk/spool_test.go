package snyk_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/go-json-experiment/json/jsontext"
	"github.com/google/go-cmp/cmp"

	"github.com/ctem-dev/ctem/internal/ingest"
	"github.com/ctem-dev/ctem/internal/ingest/ingesttest"
	"github.com/ctem-dev/ctem/internal/ingest/snyk"
	"github.com/ctem-dev/ctem/internal/model"
	"github.com/ctem-dev/ctem/internal/store"
)

// spySink records, and notes whether a spool file existed in dir when
// the first finding arrived.
type spySink struct {
	*ingesttest.Recorder
	dir     string
	checked bool
	spilled bool
}

func (s *spySink) Finding(f *model.Finding) error {
	if !s.checked {
		s.checked = true
		files, _ := filepath.Glob(filepath.Join(s.dir, "ctem-spool-*"))
		s.spilled = len(files) > 0
	}
	return s.Recorder.Finding(f)
}

// TestSpill parses a generated container report whose vulnerabilities,
// its application's included, overflow a small spool limit into a
// temporary file. Not parallel: it sets the limit and TMPDIR.
func TestSpill(t *testing.T) {
	dir := t.TempDir()
	t.Setenv("TMPDIR", dir)
	snyk.SetSpoolLimit(t, 4<<10)
	const osVulns, ignored, appVulns = 300, 20, 100
	vulns := func(b *strings.Builder, n int, id, from string) {
		for i := range n {
			if i > 0 {
				b.WriteString(",\n")
			}
			fmt.Fprintf(b, `{"id": "%s-%d", "packageName": "pkg%d", "version": "1.0", "severity": "high", "from": [%s, "pkg%d@1.0"]}`, id, i, i, from, i)
		}
	}
	var b strings.Builder
	b.WriteString(`{"vulnerabilities": [`)
	vulns(&b, osVulns, "SNYK-DEBIAN10-X", `"docker-image|registry.example/app@1.2"`)
	b.WriteString(`], "filtered": {"ignore": [`)
	vulns(&b, ignored, "SNYK-DEBIAN10-Y", `"docker-image|registry.example/app@1.2"`)
	b.WriteString(`]}, "docker": {}, "projectName": "docker-image|registry.example/app", "path": "registry.example/app:1.2",
 "applications": [{"vulnerabilities": [`)
	vulns(&b, appVulns, "SNYK-JS-Z", `"app@1.0.0"`)
	b.WriteString(`], "displayTargetFile": "/srv/package-lock.json", "projectName": "app"}]}`)

	src, err := ingest.NewSource("gen.json", strings.NewReader(b.String()))
	if err != nil {
		t.Fatal(err)
	}
	sink := &spySink{Recorder: &ingesttest.Recorder{}, dir: dir}
	if err := snyk.Format.Parse(context.Background(), &ingest.Input{Name: "gen.json", R: src.Reader()}, sink); err != nil {
		t.Fatalf("Parse = %v", err)
	}
	if !sink.spilled {
		t.Errorf("no spool file in TMPDIR while findings were emitted, want one past a 4 KiB limit")
	}
	if left, _ := filepath.Glob(filepath.Join(dir, "*")); len(left) != 0 {
		t.Errorf("after Parse, TMPDIR holds %v, want nothing", left)
	}
	if len(sink.Scans) != 1 || sink.Scans[0].Asset != "image:registry.example/app:1.2" {
		t.Fatalf("scans = %+v, want one of image:registry.example/app:1.2", sink.Scans)
	}
	got := sink.Findings
	if len(got) != osVulns+ignored+appVulns {
		t.Fatalf("Parse = %d findings, want %d", len(got), osVulns+ignored+appVulns)
	}
	for i, f := range got {
		var wantID, wantPtr, wantPath string
		wantStatus := model.StatusOpen
		switch {
		case i < osVulns:
			wantID, wantPtr = fmt.Sprintf("SNYK-DEBIAN10-X-%d", i), fmt.Sprintf("/vulnerabilities/%d", i)
		case i < osVulns+ignored:
			j := i - osVulns
			wantID, wantPtr, wantStatus = fmt.Sprintf("SNYK-DEBIAN10-Y-%d", j), fmt.Sprintf("/filtered/ignore/%d", j), model.StatusAccepted
		default:
			j := i - osVulns - ignored
			wantID, wantPtr, wantPath = fmt.Sprintf("SNYK-JS-Z-%d", j), fmt.Sprintf("/applications/0/vulnerabilities/%d", j), "/srv/package-lock.json"
		}
		if f.RuleID != wantID || f.Pointer != wantPtr || f.Status != wantStatus || f.Location.Path != wantPath || f.Asset != sink.Scans[0].Asset {
			t.Errorf("finding %d = %s at %s, %s, path %q on %s, want %s at %s, %s, path %q", i, f.RuleID, f.Pointer, f.Status, f.Location.Path, f.Asset, wantID, wantPtr, wantStatus, wantPath)
		}
	}
}

// TestSpillKeepsFindings checks that every testdata file gives the same
// records whether its vulnerabilities stay in memory or go to a file. Not
// parallel: it sets the spool limit.
func TestSpillKeepsFindings(t *testing.T) {
	files := testdata(t)
	want := map[string]*ingesttest.Recorder{}
	for _, path := range files {
		want[path] = ingesttest.Parse(t, snyk.Format, path, ingest.Options{})
	}
	for _, limit := range []int{-1, 2000} {
		snyk.SetSpoolLimit(t, limit)
		for _, path := range files {
			got := ingesttest.Parse(t, snyk.Format, path, ingest.Options{})
			if diff := cmp.Diff(got, want[path]); diff != "" {
				t.Errorf("Parse(%s) with a spool limit of %d (-got +want):\n%s", path, limit, diff)
			}
		}
	}
}

// span returns where the value at path (member names and array indexes)
// starts and ends in data.
func span(t testing.TB, data []byte, path ...any) (start, end int64) {
	t.Helper()
	dec := jsontext.NewDecoder(bytes.NewReader(data))
	for _, step := range path {
		if _, err := dec.ReadToken(); err != nil {
			t.Fatal(err)
		}
		switch s := step.(type) {
		case string:
			for {
				name, err := dec.ReadToken()
				if err != nil {
					t.Fatalf("no member %q: %v", s, err)
				}
				if name.String() == s {
					break
				}
				if err := dec.SkipValue(); err != nil {
					t.Fatal(err)
				}
			}
		case int:
			for range s {
				if err := dec.SkipValue(); err != nil {
					t.Fatal(err)
				}
			}
		}
	}
	v, err := dec.ReadValue()
	if err != nil {
		t.Fatal(err)
	}
	return dec.InputOffset() - int64(len(v)), dec.InputOffset()
}

// TestBadVulnerability checks that a wrong type in the second
// vulnerability, found when the spooled vulnerabilities are decoded, is
// reported at its own place in the file, and that nothing of the report
// is stored.
func TestBadVulnerability(t *testing.T) {
	t.Parallel()
	data, err := os.ReadFile("testdata/single_project_many_vulns.json")
	if err != nil {
		t.Fatal(err)
	}
	start, end := span(t, data, "vulnerabilities", 1)
	loc := regexp.MustCompile(`"packageName":\s*("[^"]*")`).FindSubmatchIndex(data[start:end])
	if loc == nil {
		t.Fatal("no packageName in the second vulnerability")
	}
	at := start + int64(loc[2])
	bad := append(append(bytes.Clone(data[:at]), "12345"...), data[start+int64(loc[3]):]...)
	path := filepath.Join(t.TempDir(), "bad.json")
	if err := os.WriteFile(path, bad, 0o600); err != nil {
		t.Fatal(err)
	}

	st := ingesttest.OpenStore(t)
	_, err = ingesttest.Ingest(st, snyk.Format, ingest.Options{}, path)
	ie, ok := errors.AsType[*ingest.InputError](err)
	if !ok {
		t.Fatalf("Ingest(bad.json) = %v, want an *ingest.InputError", err)
	}
	line, _ := ingest.LineCol(path, ie.Offset)
	wantLine := bytes.Count(bad[:at], []byte("\n")) + 1
	firstLine := bytes.Count(bad[:start], []byte("\n")) + 1
	if ie.File != path || ie.Offset != at || line != wantLine || !strings.Contains(ie.Error(), "/vulnerabilities/1/packageName") {
		t.Errorf("Ingest(bad.json) = %v at offset %d, line %d, want %s at offset %d, line %d (in the vulnerability of line %d), pointer /vulnerabilities/1/packageName", err, ie.Offset, line, path, at, wantLine, firstLine)
	}
	if got := ingesttest.Count(t, st); got != (store.Counts{}) {
		t.Errorf("after the failed ingest the store holds %+v, want nothing", got)
	}
}
