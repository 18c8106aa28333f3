package web_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/ctem-dev/ctem/internal/app"
	"github.com/ctem-dev/ctem/internal/graph"
	"github.com/ctem-dev/ctem/internal/model"
	"github.com/ctem-dev/ctem/internal/server"
	"github.com/ctem-dev/ctem/internal/synth"
)

// BenchmarkPages measures each page's render time, end to end over HTTP
// with a session (the page, its in-process API calls, the template), on
// the demo estate plus synthetic Trivy reports: 100,000 findings by
// default, $CTEM_WEB_BENCH_FINDINGS to change it (1000000 for the issue's
// 1M-finding database), in images of 50,000 findings.
func BenchmarkPages(b *testing.B) {
	total := 100_000
	if v, err := strconv.Atoi(os.Getenv("CTEM_WEB_BENCH_FINDINGS")); err == nil && v > 0 {
		total = v
	}
	f := newFixture(b)
	ctx := context.Background()
	const perImage = 50_000
	for i := 0; i*perImage < total; i++ {
		pr, pw := io.Pipe()
		go func() {
			pw.CloseWithError(synth.WriteTrivy(pw, synth.Trivy{Image: fmt.Sprintf("registry.example/bench/app-%d:1.0", i), Results: 10, Findings: min(perImage, total-i*perImage), Seed: uint64(i)}))
		}()
		if _, err := f.app.Ingest(ctx, app.IngestRequest{Inputs: []app.Input{{Name: "bench.json", R: pr}}, NoAnalyze: true}); err != nil {
			b.Fatal(err)
		}
	}
	if _, err := f.app.Analyze(ctx, graph.Options{}); err != nil {
		b.Fatal(err)
	}
	c := f.signIn(b, "admin")
	var xs server.Page[model.Exposure]
	f.api(b, nil, "/api/v1/exposures?limit=100&severity=critical", &xs)
	var paths server.PathsBody
	f.api(b, nil, "/api/v1/paths", &paths)
	if len(xs.Items) == 0 || len(paths.Items) == 0 {
		b.Fatalf("%d critical exposures, %d paths: want some", len(xs.Items), len(paths.Items))
	}
	var fp server.FixPlanBody
	f.api(b, nil, "/api/v1/fixplan", &fp)
	if len(fp.Items) == 0 {
		b.Fatal("the fix plan is empty: want an action for the what-if")
	}
	// The first overview computes the KPIs (the server then keeps them
	// for a while): its time is reported apart.
	start := time.Now()
	if res, err := c.Get(f.url + "/"); err != nil || res.StatusCode != http.StatusOK {
		b.Fatalf("GET / = %v %v", res, err)
	} else {
		res.Body.Close()
	}
	b.Logf("%d findings: first overview (KPIs computed) %v", total, time.Since(start))
	for _, p := range []struct{ name, path string }{
		{"overview", "/"},
		{"exposures", "/exposures"},
		{"exposures-critical-newest", "/exposures?severity=critical&sort=newest"},
		{"exposures-next-page", "/exposures?severity=critical&cursor=" + url.QueryEscape(xs.NextCursor)},
		{"exposure", "/exposures/" + xs.Items[0].ID},
		{"paths", "/paths"},
		{"path", "/paths/" + paths.Items[0].ID},
		{"fixplan", "/fixplan"},
		{"fixplan-whatif", "/fixplan?whatif=" + url.QueryEscape(fp.Items[0].Key)},
		{"blast-radius", "/blast-radius?asset=" + url.QueryEscape("k8s:prod/shop/Deployment/shop-api")},
		{"assets", "/assets"},
		{"asset", "/assets/" + url.PathEscape(xs.Items[0].Asset)},
		{"scans", "/scans"},
	} {
		b.Run(p.name, func(b *testing.B) {
			for b.Loop() {
				res, err := c.Get(f.url + p.path)
				if err != nil {
					b.Fatal(err)
				}
				n, _ := io.Copy(io.Discard, res.Body)
				res.Body.Close()
				if res.StatusCode != http.StatusOK {
					b.Fatalf("GET %s = %d", p.path, res.StatusCode)
				}
				b.SetBytes(n)
			}
		})
	}
}
