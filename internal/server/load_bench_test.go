package server

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
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
// of 100 exposures, and the uploads accepted per second.
func BenchmarkLoad(b *testing.B) {
	f := newFixture(b, Limits{}, false)
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
	for b.Loop() {
		var mu sync.Mutex
		var lat []time.Duration
		var uploads, errs atomic.Int64
		stop := time.Now().Add(10 * time.Second)
		var wg sync.WaitGroup
		for u := range 20 {
			wg.Go(func() {
				for n := 0; time.Now().Before(stop); n++ {
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
					_ = u
					time.Sleep(200 * time.Millisecond)
				}
			})
		}
		for range 50 {
			wg.Go(func() {
				for time.Now().Before(stop) {
					t0 := time.Now()
					st, err := get("/api/v1/exposures?limit=100&severity=critical,high", "viewer")
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
		b.ReportMetric(float64(len(lat))/10, "pages/s")
		b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "p50-ms")
		b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds())/1000, "p99-ms")
		b.ReportMetric(float64(uploads.Load())/10, "uploads/s")
		b.ReportMetric(float64(errs.Load()), "errors")
		depth, _ := f.st.QueueDepth(ctx)
		b.ReportMetric(float64(depth), "queued-after")
	}
}
