package sqlstore_test

import (
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ctem-dev/ctem/internal/store"
	"github.com/ctem-dev/ctem/internal/store/sqlite"
)

// BenchmarkRecordSmallAnalysisOver10kPaths records a partial analysis
// that touches one jewel with no path while 10,000 validated paths of
// six steps stay open elsewhere: the cost of the KPI snapshot, which
// reads every open path, on top of a re-analysis that finds nothing.
func BenchmarkRecordSmallAnalysisOver10kPaths(b *testing.B) {
	ctx := b.Context()
	st, err := sqlite.Open(ctx, filepath.Join(b.TempDir(), "ctem.db"))
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	step := `{"rule":"routing","from":"network:a","to":"network:b","capability":"network","asset":"b","exposure_ids":[],"probability":1,"evidence":["relation:routes-to a -> b"]}`
	weak := `{"rule":"remote-code-execution","from":"network:b","to":"exec:b","capability":"exec","asset":"b","exposure_ids":["x"],"weakness":"x","probability":0.95,"evidence":["kev","epss=0.97","exposure:x"]}`
	steps := "[" + strings.Repeat(step+",", 4) + weak + "," + step + "]"
	rec := &store.AnalysisRecord{Analysis: store.Analysis{At: time.Unix(1, 0), IngestSeq: 1}}
	for i := range 10000 {
		rec.Paths = append(rec.Paths, store.StoredPath{ID: fmt.Sprintf("p%05d", i), Entry: "network:lb", Target: "read:db", Jewel: fmt.Sprintf("db%02d", i%50),
			Likelihood: 0.5, Risk: 5, Validated: true, Steps: steps, Summary: "s"})
	}
	if _, _, err := st.RecordAnalysis(ctx, rec); err != nil {
		b.Fatal(err)
	}
	n := 1
	for b.Loop() {
		n++
		part := &store.AnalysisRecord{Analysis: store.Analysis{At: time.Unix(int64(n), 0), IngestSeq: 1, Partial: true},
			Jewels: map[string]bool{"nothing": true}, Covered: []string{"nothing"}}
		if _, _, err := st.RecordAnalysis(ctx, part); err != nil {
			b.Fatal(err)
		}
	}
}
