package sqlstore_test

import (
	"bufio"
	"encoding/json"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"testing"
	"time"

	"github.com/ctem-dev/ctem/internal/ingest"
	"github.com/ctem-dev/ctem/internal/ingest/ingesttest"
	"github.com/ctem-dev/ctem/internal/ingest/trivy"
	"github.com/ctem-dev/ctem/internal/synth"
)

// benchFindings is the size of the report BenchmarkIngestVsEncodingJSON
// measures: $CTEM_BENCH_FINDINGS, else 100,000. Issue 3's figure is
// taken at 1,000,000 (a 757 MB report):
//
//	CTEM_BENCH_FINDINGS=1000000 go test -run '^$' -bench IngestVsEncodingJSON -benchtime 3x ./internal/store/sqlstore
func benchFindings(b *testing.B) int {
	if s := os.Getenv("CTEM_BENCH_FINDINGS"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n <= 0 {
			b.Fatalf("CTEM_BENCH_FINDINGS=%q: want a positive number", s)
		}
		return n
	}
	return 100_000
}

// trivyVuln and trivyReport are the typed structs encoding/json decodes
// the report into: every field the synthetic report has.
type trivyVuln struct {
	VulnerabilityID, PkgName, InstalledVersion, FixedVersion, Status, SeveritySource string
	PrimaryURL, Title, Description, Severity                                         string
	PkgIdentifier                                                                    struct{ PURL string }
	CweIDs, References                                                               []string
	CVSS                                                                             map[string]struct {
		V2Vector, V3Vector string
		V2Score, V3Score   float64
	}
	PublishedDate, LastModifiedDate string
}

type trivyReport struct {
	SchemaVersion int
	ArtifactName  string
	ArtifactType  string
	Metadata      struct{ RepoTags []string }
	Results       []struct {
		Target, Class, Type string
		Vulnerabilities     []trivyVuln
	}
}

// BenchmarkIngestVsEncodingJSON measures issue 3's yardstick on one
// synthetic Trivy report file: the whole ingest (parse, fingerprint,
// store into a fresh SQLite database, lifecycle, commit) against
// encoding/json decoding the same file, whole, into typed structs. It
// reports both times and their ratio (the target is at most 3), taken in
// the same iteration so that the machine's speed of the moment cancels.
// Run it on a quiet machine: wall times on a shared 2-core host vary by
// 15% from one minute to the next.
func BenchmarkIngestVsEncodingJSON(b *testing.B) {
	n := benchFindings(b)
	path := filepath.Join(b.TempDir(), "trivy.json")
	f, err := os.Create(path)
	if err != nil {
		b.Fatal(err)
	}
	w := bufio.NewWriterSize(f, 1<<20)
	if err := synth.WriteTrivy(w, synth.Trivy{Image: "registry.example.com/shop/api:1.0", Results: 20, Findings: n}); err != nil {
		b.Fatal(err)
	}
	if err := w.Flush(); err != nil {
		b.Fatal(err)
	}
	f.Close()
	var ingestTime, decodeTime time.Duration
	for b.Loop() {
		t0 := time.Now()
		in, err := os.Open(path)
		if err != nil {
			b.Fatal(err)
		}
		var r trivyReport
		if err := json.NewDecoder(bufio.NewReaderSize(in, 1<<20)).Decode(&r); err != nil {
			b.Fatal(err)
		}
		in.Close()
		decodeTime += time.Since(t0)
		got := 0
		for _, res := range r.Results {
			got += len(res.Vulnerabilities)
		}
		if got != n {
			b.Fatalf("encoding/json decoded %d findings, want %d", got, n)
		}
		b.StopTimer()
		r = trivyReport{}
		runtime.GC() // the decoded report is not the ingest's garbage
		st := ingesttest.OpenStore(b)
		b.StartTimer()
		t1 := time.Now()
		scans, err := ingesttest.Ingest(st, trivy.Format, ingest.Options{}, path)
		if err != nil || scans[0].Findings != n {
			b.Fatalf("ingest: %v, %+v", err, scans)
		}
		ingestTime += time.Since(t1)
		b.StopTimer()
		st.Close()
		b.StartTimer()
	}
	b.ReportMetric(ingestTime.Seconds()/float64(b.N), "ingest-s/op")
	b.ReportMetric(decodeTime.Seconds()/float64(b.N), "decode-s/op")
	b.ReportMetric(ingestTime.Seconds()/decodeTime.Seconds(), "ingest/decode")
	b.ReportMetric(float64(n)*float64(b.N)/ingestTime.Seconds(), "findings/s")
}
