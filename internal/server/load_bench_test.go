package server

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ctem-dev/ctem/examples"
	"github.com/ctem-dev/ctem/internal/app"
)

// syntheticReport returns a Trivy report of the demo's API image renamed
// to image i, its one vulnerability repeated n times over n packages.
func syntheticReport(tb testing.TB, i, n int) []byte {
	tb.Helper()
	raw, err := examples.Files.ReadFile("reports/shop-api-image.trivy.json")
	if err != nil {
		tb.Fatal(err)
	}
	var d map[string]any
	if err := json.Unmarshal(raw, &d); err != nil {
		tb.Fatal(err)
	}
	d["ArtifactName"] = fmt.Sprintf("registry.example/load/app-%d:1.0", i)
	for _, r := range d["Results"].([]any) {
		rm := r.(map[string]any)
		vs, _ := rm["Vulnerabilities"].([]any)
		if len(vs) == 0 {
			continue
		}
		var out []any
		for k := range n {
			v := map[string]any{}
			for key, val := range vs[0].(map[string]any) {
				v[key] = val
			}
			v["PkgName"] = fmt.Sprintf("pkg-%d", k)
			v["VulnerabilityID"] = fmt.Sprintf("CVE-2099-%d", 1000+k%500)
			out = append(out, v)
		}
		rm["Vulnerabilities"] = out
	}
	// The results last, as Trivy writes them: detection reads the head
	// of a report (SchemaVersion, ArtifactName).
	results := d["Results"]
	delete(d, "Results")
	head, err := json.Marshal(d)
	if err != nil {
		tb.Fatal(err)
	}
	rs, err := json.Marshal(results)
	if err != nil {
		tb.Fatal(err)
	}
	return append(append(append(head[:len(head)-1], `,"Results":`...), rs...), '}')
}

// BenchmarkLoad runs 20 uploaders and 50 readers against a real server on
// loopback for 10 s per iteration, over a database generated first
// ($CTEM_LOAD_IMAGES images of 1,000 findings, 50 by default), and
// reports the readers' throughput and the p50 and p99 latency of a page
// of 100 exposures, and the uploads accepted per second: the readers all
// reading the first page, and (distinct-*) each reading one of the first
// 50 pages, which share no computation.
func BenchmarkLoad(b *testing.B) {
	// No rate limit: the 50 readers share one token, and the benchmark
	// measures the server, not the limiter.
	f := newFixtureWith(b, Limits{}, false, func(c *Config) { c.RateLimit = -1 })
	ctx := context.Background()
	images := 50
	if v := envInt("CTEM_LOAD_IMAGES"); v > 0 {
		images = v
	}
	for i := range images {
		rep := syntheticReport(b, i, 1000)
		if _, err := f.app.Ingest(ctx, app.IngestRequest{Inputs: []app.Input{{Name: "gen.json", R: bytes.NewReader(rep)}}, NoAnalyze: true}); err != nil {
			b.Fatal(err)
		}
	}
	upload := syntheticReport(b, 100000, 200)
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 100}}
	get := func(path, token string) (int, error) {
		req, _ := http.NewRequest("GET", f.url+path, nil)
		req.Header.Set("Authorization", "Bearer "+f.tokens[token])
		res, err := client.Do(req)
		if err != nil {
			return 0, err
		}
		defer res.Body.Close()
		var pg struct {
			Items      []json.RawMessage `json:"items"`
			NextCursor string            `json:"next_cursor"`
		}
		if err := json.NewDecoder(res.Body).Decode(&pg); err != nil {
			return res.StatusCode, err
		}
		return res.StatusCode, nil
	}
	// The first 50 pages' cursors: readers that read distinct pages
	// share no computation (see coalescer).
	const listing = "/api/v1/exposures?limit=100&severity=critical,high"
	cursors := []string{""}
	for len(cursors) < 50 {
		req, _ := http.NewRequest("GET", f.url+listing+"&cursor="+cursors[len(cursors)-1], nil)
		if cursors[len(cursors)-1] == "" {
			req, _ = http.NewRequest("GET", f.url+listing, nil)
		}
		req.Header.Set("Authorization", "Bearer "+f.tokens["viewer"])
		res, err := client.Do(req)
		if err != nil {
			b.Fatal(err)
		}
		var pg struct {
			NextCursor string `json:"next_cursor"`
		}
		err = json.NewDecoder(res.Body).Decode(&pg)
		res.Body.Close()
		if err != nil || pg.NextCursor == "" {
			break
		}
		cursors = append(cursors, pg.NextCursor)
	}
	// phase runs readers and uploaders for d and returns the readers'
	// page latencies, the uploads accepted and the errors; with distinct,
	// reader i reads the page after the i-th cursor, else all read the
	// first page.
	phase := func(readers, uploaders int, d time.Duration, distinct bool) ([]time.Duration, int64, int64) {
		var mu sync.Mutex
		var lat []time.Duration
		var uploads, errs atomic.Int64
		stop := time.Now().Add(d)
		var wg sync.WaitGroup
		for range uploaders {
			wg.Go(func() {
				for time.Now().Before(stop) {
					req, _ := http.NewRequest("POST", f.url+"/api/v1/ingest?name=load.json", bytes.NewReader(upload))
					req.Header.Set("Authorization", "Bearer "+f.tokens["uploader"])
					req.Header.Set("Content-Type", "application/json")
					res, err := client.Do(req)
					if err != nil || res.StatusCode != http.StatusAccepted {
						errs.Add(1)
					} else {
						uploads.Add(1)
					}
					if res != nil {
						res.Body.Close()
					}
					time.Sleep(200 * time.Millisecond)
				}
			})
		}
		for i := range readers {
			path := listing
			if distinct && cursors[i%len(cursors)] != "" {
				path += "&cursor=" + cursors[i%len(cursors)]
			}
			wg.Go(func() {
				for time.Now().Before(stop) {
					t0 := time.Now()
					st, err := get(path, "viewer")
					d := time.Since(t0)
					if err != nil || st != http.StatusOK {
						errs.Add(1)
						continue
					}
					mu.Lock()
					lat = append(lat, d)
					mu.Unlock()
				}
			})
		}
		wg.Wait()
		slices.Sort(lat)
		if len(lat) == 0 {
			b.Fatal("no page was read")
		}
		return lat, uploads.Load(), errs.Load()
	}
	ms := func(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
	for b.Loop() {
		one, _, _ := phase(1, 0, 3*time.Second, false)
		b.ReportMetric(ms(one[len(one)/2]), "alone-p50-ms")
		b.ReportMetric(ms(one[len(one)*99/100]), "alone-p99-ms")
		many, _, _ := phase(50, 0, 5*time.Second, false)
		b.ReportMetric(float64(len(many))/5, "readers-only-pages/s")
		b.ReportMetric(ms(many[len(many)/2]), "readers-only-p50-ms")
		b.ReportMetric(ms(many[len(many)*99/100]), "readers-only-p99-ms")
		dis, _, _ := phase(50, 20, 10*time.Second, true)
		b.ReportMetric(float64(len(dis))/10, "distinct-pages/s")
		b.ReportMetric(ms(dis[len(dis)/2]), "distinct-p50-ms")
		b.ReportMetric(ms(dis[len(dis)*99/100]), "distinct-p99-ms")
		lat, uploads, errs := phase(50, 20, 10*time.Second, false)
		b.ReportMetric(float64(len(lat))/10, "pages/s")
		b.ReportMetric(ms(lat[len(lat)/2]), "p50-ms")
		b.ReportMetric(ms(lat[len(lat)*99/100]), "p99-ms")
		b.ReportMetric(float64(uploads)/10, "uploads/s")
		b.ReportMetric(float64(errs), "errors")
		depth, _ := f.st.QueueDepth(ctx)
		b.ReportMetric(float64(depth), "queued-after")
	}
}

// BenchmarkPage reads a page of 100 exposures over loopback, one request
// at a time, on a database of 50 generated images of 1,000 findings.
func BenchmarkPage(b *testing.B) {
	f := newFixture(b, Limits{}, false)
	for i := range 50 {
		if _, err := f.app.Ingest(context.Background(), app.IngestRequest{Inputs: []app.Input{{Name: "gen.json", R: bytes.NewReader(syntheticReport(b, i, 1000))}}, NoAnalyze: true}); err != nil {
			b.Fatal(err)
		}
	}
	client := &http.Client{}
	for b.Loop() {
		req, _ := http.NewRequest("GET", f.url+"/api/v1/exposures?limit=100", nil)
		req.Header.Set("Authorization", "Bearer "+f.tokens["viewer"])
		res, err := client.Do(req)
		if err != nil {
			b.Fatal(err)
		}
		n, _ := io.Copy(io.Discard, res.Body)
		res.Body.Close()
		if res.StatusCode != http.StatusOK || n < 1000 {
			b.Fatalf("GET = %d, %d bytes", res.StatusCode, n)
		}
	}
}
