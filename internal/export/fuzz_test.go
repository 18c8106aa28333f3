package export_test

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"strings"
	"testing"

	"github.com/ctem-dev/ctem/internal/export"
	"github.com/ctem-dev/ctem/internal/model"
)

// FuzzWriters gives every writer an exposure whose text fields are
// arbitrary (as scanner text is): the JSON formats must stay valid JSON,
// the CSV must parse with one row per exposure, and no CSV cell may start
// a formula.
func FuzzWriters(f *testing.F) {
	f.Add(hostile, "image:docker.io/library/x:1", "a/b c.go", "CVE-2021-44228", "pkg:npm/a@1")
	f.Add("\x00\r\n\t-@+", "repo:github.com/a/b", "C:\\x\\y", "GHSA-xxxx", "")
	f.Add("", "", "", "", "")
	f.Fuzz(func(t *testing.T, title, asset, path, id, purl string) {
		x := export.Exposure{Exposure: model.Exposure{
			ID: "0123456789abcdef", Kind: model.FindingVulnerability, RuleID: id, VulnIDs: []string{id, "CVE-2020-0001"},
			CWEs: []string{"CWE-79"}, Severity: model.SeverityHigh, Title: title, Asset: asset,
			Package: model.Package{Name: title, Version: path, PURL: purl}, Location: model.Location{Path: path, Line: 3, URL: purl},
			Status: model.StatusAccepted, Tools: []string{title},
		}}
		for _, format := range export.Formats {
			out := write(t, format, []export.Exposure{x, x}, nil)
			switch format {
			case "csv":
				rows, err := csv.NewReader(bytes.NewReader(out)).ReadAll()
				if err != nil || len(rows) != 3 {
					t.Fatalf("csv export: %d rows, %v, want 3", len(rows), err)
				}
				for _, row := range rows[1:] {
					for _, cell := range row {
						if c := strings.TrimLeft(cell, " "); c != "" && strings.ContainsRune("=+-@\t\r", rune(c[0])) {
							t.Fatalf("csv cell %q starts a formula", cell)
						}
					}
				}
			case "ocsf":
				for _, line := range bytes.Split(bytes.TrimSpace(out), []byte("\n")) {
					if !json.Valid(line) {
						t.Fatalf("ocsf line is no JSON: %s", line)
					}
				}
			default:
				if !json.Valid(out) {
					t.Fatalf("%s export is no JSON: %s", format, out)
				}
			}
		}
	})
}

// BenchmarkWriters measures each format on exposures derived from the
// real test database, repeated over many assets (memory that grows with
// distinct rules or components shows in B/op).
func BenchmarkWriters(b *testing.B) {
	d := realEstate(b)
	const n = 10000
	xs := make([]export.Exposure, 0, n)
	for i := 0; len(xs) < n; i++ {
		x := d.exposures[i%len(d.exposures)]
		x.Asset = x.Asset + "/" + string(rune('a'+i%26)) + strings.Repeat("x", i%7)
		xs = append(xs, x)
	}
	for _, format := range export.Formats {
		b.Run(format, func(b *testing.B) {
			b.ReportAllocs()
			var size int
			for b.Loop() {
				var cw countWriter
				w, _ := export.New(format, &cw)
				if err := export.Run(context.Background(), w, export.Info{Time: fixedTime}, seqOf(xs), seqOf(d.paths)); err != nil {
					b.Fatal(err)
				}
				size = cw.n
			}
			b.ReportMetric(float64(n), "exposures/op")
			b.ReportMetric(float64(size)/n, "bytes/exposure")
		})
	}
}

type countWriter struct{ n int }

func (c *countWriter) Write(p []byte) (int, error) { c.n += len(p); return len(p), nil }
