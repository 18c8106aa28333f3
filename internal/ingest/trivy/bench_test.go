package trivy_test

import (
	"bytes"
	"context"
	"encoding/json"
	"testing"

	"github.com/ctem-dev/ctem/internal/ingest"
	"github.com/ctem-dev/ctem/internal/ingest/trivy"
	"github.com/ctem-dev/ctem/internal/model"
	"github.com/ctem-dev/ctem/internal/synth"
)

// discard is a sink that keeps nothing, to measure parsing alone.
type discard struct{ n int }

func (d *discard) BeginScan(model.Scan) error     { return nil }
func (d *discard) Asset(model.Asset) error        { return nil }
func (d *discard) Relation(model.Relation) error  { return nil }
func (d *discard) Evidence(model.Evidence) error  { return nil }
func (d *discard) Finding(f *model.Finding) error { f.Normalize(); d.n++; return nil }

func synthReport(b *testing.B, n int) []byte {
	var buf bytes.Buffer
	if err := synth.WriteTrivy(&buf, synth.Trivy{Image: "shop/api:1", Results: 10, Findings: n}); err != nil {
		b.Fatal(err)
	}
	return buf.Bytes()
}

// BenchmarkParse measures the streaming parser, findings normalized
// (fingerprints computed) but not stored.
func BenchmarkParse(b *testing.B) {
	data := synthReport(b, 100_000)
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		src, _ := ingest.NewSource("bench.json", bytes.NewReader(data))
		d := &discard{}
		if err := trivy.Parse(context.Background(), &ingest.Input{Name: "bench.json", R: src.Reader(), Options: ingest.Options{Target: "t"}}, d); err != nil {
			b.Fatal(err)
		}
		if d.n != 100_000 {
			b.Fatalf("%d findings", d.n)
		}
	}
}

// BenchmarkEncodingJSON is the yardstick of issue 3: encoding/json
// decoding the same report into typed structs, whole.
func BenchmarkEncodingJSON(b *testing.B) {
	data := synthReport(b, 100_000)
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	type vuln struct {
		VulnerabilityID, PkgName, InstalledVersion, FixedVersion, Status, SeveritySource string
		PrimaryURL, Title, Description, Severity                                         string
		PkgIdentifier                                                                    struct{ PURL string }
		CweIDs, References                                                               []string
		CVSS                                                                             map[string]struct {
			V3Vector string
			V3Score  float64
		}
		PublishedDate string
	}
	type report struct {
		SchemaVersion int
		ArtifactName  string
		Results       []struct {
			Target, Class, Type string
			Vulnerabilities     []vuln
		}
	}
	for b.Loop() {
		var r report
		if err := json.NewDecoder(bytes.NewReader(data)).Decode(&r); err != nil {
			b.Fatal(err)
		}
	}
}
