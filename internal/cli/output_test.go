package cli

import (
	"bytes"
	"strings"
	"testing"
	"unicode/utf8"
)

// TestTableFitsTerminal checks that a table written to a terminal of 100
// columns fits it by shortening the long columns in their middle (an
// image keeps its tag), that --wide keeps every cell whole, and that a
// table that fits is left as it is.
func TestTableFitsTerminal(t *testing.T) {
	t.Parallel()
	type row struct{ id, key, title string }
	rows := []row{
		{"6968422c82908958", "image:ghcr.io/aquasecurity/trivy-test-images:alpine-310", strings.Repeat("a long title ", 8)},
		{"5f9b8bd7f3a16605", "image:ghcr.io/aquasecurity/trivy-test-images:spring4shell-jre11", "short"},
	}
	cols := []column[row]{
		{"ID", 0, func(r row) string { return r.id }},
		{"ASSET", 72, func(r row) string { return r.key }},
		{"TITLE", 60, func(r row) string { return r.title }},
	}
	for _, tc := range []struct {
		name     string
		w        func(*bytes.Buffer) any
		maxWidth int    // 0: no limit
		want     string // a substring every output must hold
	}{
		{"terminal of 100", func(b *bytes.Buffer) any { return termWriter{b, 100} }, 100, ":alpine-310"},
		{"wide", func(b *bytes.Buffer) any { return wideWriter{b} }, 0, "image:ghcr.io/aquasecurity/trivy-test-images:spring4shell-jre11"},
		{"terminal of 300", func(b *bytes.Buffer) any { return termWriter{b, 300} }, 300, "image:ghcr.io/aquasecurity/trivy-test-images:spring4shell-jre11"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var buf bytes.Buffer
			w := tc.w(&buf)
			var err error
			switch w := w.(type) {
			case termWriter:
				_, err = writeListing(w, outTable, seqOf(rows), cols)
			case wideWriter:
				_, err = writeListing(w, outTable, seqOf(rows), cols)
			}
			if err != nil {
				t.Fatal(err)
			}
			out := buf.String()
			if !strings.Contains(out, tc.want) {
				t.Errorf("writeListing(%s) =\n%s\nwant it to contain %q", tc.name, out, tc.want)
			}
			for line := range strings.SplitSeq(strings.TrimSpace(out), "\n") {
				if n := utf8.RuneCountInString(strings.TrimRight(line, " ")); tc.maxWidth > 0 && n > tc.maxWidth {
					t.Errorf("writeListing(%s) line of %d runes, want at most %d: %q", tc.name, n, tc.maxWidth, line)
				}
			}
		})
	}
}
