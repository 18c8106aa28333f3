package sqlstore_test

import (
	"context"
	"fmt"
	"os"
	"testing"

	"github.com/ctem-dev/ctem/internal/ingest"
	"github.com/ctem-dev/ctem/internal/ingest/ingesttest"
	"github.com/ctem-dev/ctem/internal/ingest/trivy"
	"github.com/ctem-dev/ctem/internal/model"
	"github.com/ctem-dev/ctem/internal/store"
	"github.com/ctem-dev/ctem/internal/store/open"
	"github.com/ctem-dev/ctem/internal/store/sqlstore"
	"github.com/ctem-dev/ctem/internal/synth"
)

// benchStore opens the database of CTEM_BENCH_DB (made by
// `ctem-synth -findings 1000000 | ctem ingest --no-analyze`, the issue's
// size; a file or a postgres:// URL), or else a generated database of
// 100,000 findings.
func benchStore(b *testing.B) *sqlstore.DB {
	b.Helper()
	ctx := context.Background()
	if p := os.Getenv("CTEM_BENCH_DB"); p != "" {
		st, err := open.Open(ctx, p, open.Options{})
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { st.Close() })
		return st
	}
	st := ingesttest.OpenStore(b)
	p := writeTrivy(b, b.TempDir(), "bench.json", synth.Trivy{Image: "registry.example.com/shop/api:1.0", Results: 10, Findings: 100_000})
	if _, err := ingesttest.Ingest(st, trivy.Format, ingest.Options{}, p); err != nil {
		b.Fatal(err)
	}
	return st
}

// BenchmarkPage reads one page of 100 findings and of 100 exposures, the
// first and one deep in the listing (after a cursor), with each filter
// and each sort: what a listing page or an API request costs in the
// store. The bound is 50 ms a page at 1M findings.
func BenchmarkPage(b *testing.B) {
	ctx := context.Background()
	st := benchStore(b)
	some := collect(b, st.Findings(ctx, store.Filter{Sort: store.SortID, Limit: 1}))[0]
	filters := []struct {
		name string
		f    store.Filter
	}{
		{"none", store.Filter{}},
		{"severity", store.Filter{Severities: []model.Severity{model.SeverityCritical}}},
		{"tool", store.Filter{Tools: []string{"trivy"}}},
		{"tool-absent", store.Filter{Tools: []string{"no-such-tool"}}},
		{"asset", store.Filter{Assets: []string{some.Asset}}},
		{"asset-prefix", store.Filter{Assets: []string{"image:*"}}},
		{"status-open", store.Filter{Statuses: []model.Status{model.StatusOpen}}},
		{"status-fixed", store.Filter{Statuses: []model.Status{model.StatusFixed}}},
		{"cve", store.Filter{VulnIDs: []string{some.VulnIDs[0]}}},
		{"kind", store.Filter{Kinds: []string{string(model.FindingVulnerability)}}},
		{"combined", store.Filter{Tools: []string{"trivy"}, Severities: []model.Severity{model.SeverityHigh}, Statuses: []model.Status{model.StatusOpen}}},
	}
	for _, s := range store.Sorts {
		for _, fc := range filters {
			for _, deep := range []bool{false, true} {
				name := fmt.Sprintf("sort=%s/filter=%s/deep=%v", s, fc.name, deep)
				f := fc.f
				f.Sort, f.Limit = s, 100
				if deep {
					// The cursor of the 1,000th record.
					g := f
					g.Limit = 1000
					fs := collect(b, st.Findings(ctx, g))
					if len(fs) == 0 {
						continue
					}
					f.After = store.Cursor(fs[len(fs)-1])
				}
				b.Run("findings/"+name, func(b *testing.B) {
					for b.Loop() {
						collect(b, st.Findings(ctx, f))
					}
				})
				fx := fc.f
				fx.Sort, fx.Limit = s, 100
				if deep {
					g := fx
					g.Limit = 1000
					xs := collect(b, st.Exposures(ctx, g))
					if len(xs) == 0 {
						continue
					}
					fx.After = store.Cursor(xs[len(xs)-1])
				}
				b.Run("exposures/"+name, func(b *testing.B) {
					for b.Loop() {
						collect(b, st.Exposures(ctx, fx))
					}
				})
			}
		}
	}
}
