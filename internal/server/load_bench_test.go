package server

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"runtime/trace"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/ctem-dev/ctem/examples"
	"github.com/ctem-dev/ctem/internal/app"
	"github.com/ctem-dev/ctem/internal/store/sqlite"
	"github.com/ctem-dev/ctem/internal/store/sqlstore"
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
	// The image is named by its reference (the asset's key): the demo
	// report's own reference would make every generated report a rescan
	// of one image, and a database of 1,000 findings however many were
	// ingested.
	ref := fmt.Sprintf("registry.example/load/app-%d:1.0", i)
	d["ArtifactName"] = ref
	meta := d["Metadata"].(map[string]any)
	meta["Reference"] = ref
	meta["RepoTags"] = []any{ref}
	delete(meta, "RepoDigests")
	delete(meta, "ImageID")
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
// loopback, over a database generated first ($CTEM_LOAD_IMAGES images of
// 1,000 findings, 50 by default; 1,000 for a million findings), and
// reports the readers' throughput and the p50 and p99 latency of a page
// of 100 exposures, and the uploads accepted per second.
//
// Closed loop (each reader sends its next request when the last is
// answered): alone (one reader), readers-only (50, no uploads), distinct-*
// (50 readers each reading one of the first 50 pages, which share no
// computation, while the uploads and their ingests run) and the plain
// metrics (50 readers of the first page while uploads run). On a small
// machine a closed loop of 50 readers measures mostly their queueing:
// 50 requests always in flight on 2 cores.
//
// Open loop (open-*): each reader sends a request of its distinct page
// every 100 to 200 ms ($CTEM_LOAD_EVERY_MS sets the lower bound; the upper
// is twice it) whether or not the last was answered, while the uploads
// run; a latency counts from when the request was due, so a server that
// falls behind is not excused by the readers waiting for it.
//
// open-slow-* is the same open loop at a tenth of the rate (every 1 to 2
// s), below the server's capacity on a loaded 2-core machine.
//
// cpu-ms/page is the process's CPU time (server and load generator, on
// the same machine) per page read by 50 closed-loop readers of distinct
// pages without uploads (distinct-only); the load average is reported as
// load1-before and load1-after.
//
// alone-ingest-* is one closed-loop reader while the uploads run: what
// the jobs cost a read, without readers queueing behind each other.
//
// Two deployments: single (one process serves and runs the jobs) and
// split (an API server that runs none, and a worker process under nice,
// as 'ctem serve --jobs=false' beside 'nice ctem serve --no-api').
// $CTEM_LOAD_DB keeps the generated database for later runs (see
// loadTemplate); $CTEM_LOAD_PROFILE a folder for profiles of the
// open-slow phase (see startProfile).
func BenchmarkLoad(b *testing.B) {
	b.Run("single", func(b *testing.B) { benchLoad(b, false) })
	b.Run("split", func(b *testing.B) { benchLoad(b, true) })
}

// benchLoad is BenchmarkLoad over one process that serves and runs the
// jobs, or with split over an API server that runs none (NoJobs) and a
// worker process (this test binary, see TestMain) that runs them under
// nice -n $CTEM_LOAD_NICE (10 by default); the worker's CPU time is
// reported apart (worker-cpu-s).
func benchLoad(b *testing.B, split bool) {
	ctx := context.Background()
	images := 50
	if v := envInt("CTEM_LOAD_IMAGES"); v > 0 {
		images = v
	}
	every := 100 * time.Millisecond
	if v := envInt("CTEM_LOAD_EVERY_MS"); v > 0 {
		every = time.Duration(v) * time.Millisecond
	}
	template := loadTemplate(b, images)
	// No rate limit: the 50 readers share one token, and the benchmark
	// measures the server, not the limiter.
	f := newFixtureOn(b, Limits{}, false, func(c *Config) { c.RateLimit = -1; c.NoJobs = split }, func(tb testing.TB, dir string) (*sqlstore.DB, *app.App) {
		copyFile(tb, template, filepath.Join(dir, "ctem.db"))
		return newStore(tb, dir)
	})
	var worker *exec.Cmd
	if split {
		nice := "10"
		if v := os.Getenv("CTEM_LOAD_NICE"); v != "" {
			nice = v
		}
		exe, err := os.Executable()
		if err != nil {
			b.Fatal(err)
		}
		worker = exec.Command("nice", "-n", nice, exe, "-test.run=^$")
		worker.Env = append(os.Environ(), "CTEM_TEST_WORKER_DIR="+f.dir)
		worker.Stderr = os.Stderr
		if err := worker.Start(); err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() {
			_ = worker.Process.Signal(syscall.SIGTERM)
			_ = worker.Wait()
		})
	}
	// Each uploader rescans an image of its own (200 findings), as 20
	// pipelines would.
	var uploadBodies [][]byte
	for u := range 20 {
		uploadBodies = append(uploadBodies, syntheticReport(b, 100000+u, 200))
	}
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 200}}
	// get reads a page and checks it is one: the body is read whole but
	// not decoded (decoding 50 readers' pages cost the load generator
	// more CPU than the server spent answering them, on the same cores);
	// the routes' answers are validated against the API document by the
	// tests.
	get := func(path, token string) (int, error) {
		req, _ := http.NewRequest("GET", f.url+path, nil)
		req.Header.Set("Authorization", "Bearer "+f.tokens[token])
		res, err := client.Do(req)
		if err != nil {
			return 0, err
		}
		defer res.Body.Close()
		body, err := io.ReadAll(res.Body)
		if err != nil {
			return res.StatusCode, err
		}
		if !bytes.HasPrefix(body, []byte(`{"items":[{`)) || !bytes.HasSuffix(body, []byte("}\n")) {
			return res.StatusCode, fmt.Errorf("not a page of exposures: %.80q", body)
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
	pathOf := func(i int, distinct bool) string {
		if distinct && cursors[i%len(cursors)] != "" {
			return listing + "&cursor=" + cursors[i%len(cursors)]
		}
		return listing
	}
	// phase runs readers and uploaders for d and returns the readers'
	// page latencies, the uploads accepted and the errors; with distinct,
	// reader i reads the page after the i-th cursor, else all read the
	// first page. With open, each reader sends a request every every to
	// 2*every (uniformly) without waiting for the last.
	phase := func(readers, uploaders int, d time.Duration, distinct, open bool) ([]time.Duration, int64, int64) {
		var mu sync.Mutex
		var lat []time.Duration
		var uploads, errs atomic.Int64
		stop := time.Now().Add(d)
		var wg sync.WaitGroup
		for u := range uploaders {
			upload := uploadBodies[u%len(uploadBodies)]
			wg.Go(func() {
				for time.Now().Before(stop) {
					req, _ := http.NewRequest("POST", f.url+"/api/v1/ingest?name=load.json", bytes.NewReader(upload))
					req.Header.Set("Authorization", "Bearer "+f.tokens["uploader"])
					req.Header.Set("Content-Type", "application/json")
					res, err := client.Do(req)
					if err != nil || res.StatusCode != http.StatusAccepted {
						if errs.Add(1) == 1 {
							st := 0
							if res != nil {
								st = res.StatusCode
							}
							b.Logf("first failed upload: %d %v", st, err)
						}
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
		read := func(path string, due time.Time) {
			st, err := get(path, "viewer")
			d := time.Since(due)
			if err != nil || st != http.StatusOK {
				if errs.Add(1) == 1 {
					b.Logf("first failed read: %d %v", st, err)
				}
				return
			}
			mu.Lock()
			lat = append(lat, d)
			mu.Unlock()
		}
		for i := range readers {
			path := pathOf(i, distinct)
			wg.Go(func() {
				if !open {
					for time.Now().Before(stop) {
						read(path, time.Now())
					}
					return
				}
				rng := rand.New(rand.NewPCG(uint64(i), 1))
				due := time.Now().Add(time.Duration(rng.Int64N(int64(every))))
				var in sync.WaitGroup
				for due.Before(stop) {
					time.Sleep(time.Until(due))
					at := due // due moves on before the request ends
					in.Go(func() { read(path, at) })
					due = due.Add(every + time.Duration(rng.Int64N(int64(every))))
				}
				in.Wait()
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
	pct := func(lat []time.Duration, p int) float64 { return ms(lat[min(len(lat)-1, len(lat)*p/100)]) }
	loadBefore := load1()
	for b.Loop() {
		one, _, _ := phase(1, 0, 3*time.Second, false, false)
		b.ReportMetric(pct(one, 50), "alone-p50-ms")
		b.ReportMetric(pct(one, 99), "alone-p99-ms")
		many, _, _ := phase(50, 0, 5*time.Second, false, false)
		b.ReportMetric(float64(len(many))/5, "readers-only-pages/s")
		b.ReportMetric(pct(many, 50), "readers-only-p50-ms")
		b.ReportMetric(pct(many, 99), "readers-only-p99-ms")
		// CPU per page: distinct pages (no shared computation), no
		// uploads; the load generator's share included.
		cpu0 := cpuTime()
		own, _, _ := phase(50, 0, 5*time.Second, true, false)
		b.ReportMetric(ms(cpuTime()-cpu0)/float64(len(own)), "cpu-ms/page")
		b.ReportMetric(float64(len(own))/5, "distinct-only-pages/s")
		// One reader while the uploads' ingests run: what the jobs cost a
		// read, without the readers queueing behind each other. After
		// the phases without uploads: the jobs queued here outlast it.
		oneIn, _, _ := phase(1, 20, 5*time.Second, false, false)
		b.ReportMetric(pct(oneIn, 50), "alone-ingest-p50-ms")
		b.ReportMetric(pct(oneIn, 99), "alone-ingest-p99-ms")
		dis, _, _ := phase(50, 20, 10*time.Second, true, false)
		b.ReportMetric(float64(len(dis))/10, "distinct-pages/s")
		b.ReportMetric(pct(dis, 50), "distinct-p50-ms")
		b.ReportMetric(pct(dis, 99), "distinct-p99-ms")
		lat, uploads, errs := phase(50, 20, 10*time.Second, false, false)
		b.ReportMetric(float64(len(lat))/10, "pages/s")
		b.ReportMetric(pct(lat, 50), "p50-ms")
		b.ReportMetric(pct(lat, 99), "p99-ms")
		b.ReportMetric(float64(uploads)/10, "uploads/s")
		open, oup, oerrs := phase(50, 20, 10*time.Second, true, true)
		b.ReportMetric(float64(len(open))/10, "open-pages/s")
		b.ReportMetric(pct(open, 50), "open-p50-ms")
		b.ReportMetric(pct(open, 99), "open-p99-ms")
		b.ReportMetric(float64(oup)/10, "open-uploads/s")
		// The same at a tenth of the rate (each reader every 1 to 2 s):
		// below what a loaded 2-core machine serves, where the open
		// loop's latency is the server's, not a backlog's.
		every *= 10
		endProfile := startProfile(b)
		slow, _, serrs := phase(50, 20, 10*time.Second, true, true)
		endProfile()
		every /= 10
		b.ReportMetric(float64(len(slow))/10, "open-slow-pages/s")
		b.ReportMetric(pct(slow, 50), "open-slow-p50-ms")
		b.ReportMetric(pct(slow, 99), "open-slow-p99-ms")
		b.ReportMetric(float64(errs+oerrs+serrs), "errors")
		depth, _ := f.st.QueueDepth(ctx)
		b.ReportMetric(float64(depth), "queued-after")
	}
	b.ReportMetric(loadBefore, "load1-before")
	b.ReportMetric(load1(), "load1-after")
	var done int
	if err := f.st.SQL().QueryRowContext(ctx, `SELECT COUNT(*) FROM jobs WHERE kind = 'ingest' AND state = 'succeeded'`).Scan(&done); err != nil {
		b.Fatal(err)
	}
	b.ReportMetric(float64(done), "ingests-done")
	if worker != nil {
		// The worker's CPU: stop it first (its jobs are cancelled).
		_ = worker.Process.Signal(syscall.SIGTERM)
		if err := worker.Wait(); err != nil {
			b.Errorf("worker: %v", err)
		}
		if ps := worker.ProcessState; ps != nil {
			cpu := ps.UserTime() + ps.SystemTime()
			b.ReportMetric(cpu.Seconds(), "worker-cpu-s")
			if done > 0 {
				b.ReportMetric(ms(cpu)/float64(done), "worker-cpu-ms/ingest")
			}
		}
	}
}

// startProfile, when $CTEM_LOAD_PROFILE names a folder, starts a CPU
// profile and an execution trace (its first 3 s) of this process, and
// block and mutex profiling, written there (cpu.pprof, trace.out,
// block.pprof, mutex.pprof) by the function it returns.
func startProfile(b *testing.B) func() {
	dir := os.Getenv("CTEM_LOAD_PROFILE")
	if dir == "" {
		return func() {}
	}
	create := func(name string) *os.File {
		f, err := os.Create(filepath.Join(dir, b.Name()[strings.LastIndex(b.Name(), "/")+1:]+"-"+name))
		if err != nil {
			b.Fatal(err)
		}
		return f
	}
	cpu, tr := create("cpu.pprof"), create("trace.out")
	if err := pprof.StartCPUProfile(cpu); err != nil {
		b.Fatal(err)
	}
	if err := trace.Start(tr); err != nil {
		b.Fatal(err)
	}
	traced := make(chan struct{})
	stopTrace := time.AfterFunc(3*time.Second, func() { trace.Stop(); close(traced) })
	runtime.SetBlockProfileRate(int(time.Millisecond))
	runtime.SetMutexProfileFraction(10)
	return func() {
		if stopTrace.Stop() {
			trace.Stop()
		} else {
			<-traced
		}
		pprof.StopCPUProfile()
		cpu.Close()
		tr.Close()
		for _, name := range []string{"block", "mutex"} {
			f := create(name + ".pprof")
			_ = pprof.Lookup(name).WriteTo(f, 0)
			f.Close()
		}
		runtime.SetBlockProfileRate(0)
		runtime.SetMutexProfileFraction(0)
	}
}

// loadTemplate returns the path of a database of images generated
// images of 1,000 findings each (with the tests' scope, no token), for a
// benchmark to copy: $CTEM_LOAD_DB when set (made there when missing, and
// reused by later runs; its name should say how many images it holds,
// as nothing checks it), else a file in a temporary folder. A million
// findings take long to ingest; a copy of the file takes seconds.
func loadTemplate(b *testing.B, images int) string {
	b.Helper()
	path := os.Getenv("CTEM_LOAD_DB")
	if path != "" {
		if _, err := os.Stat(path); err == nil {
			b.Logf("database of generated findings: %s (reused)", path)
			return path
		}
	} else {
		path = filepath.Join(b.TempDir(), "template.db")
	}
	ctx := context.Background()
	dir := b.TempDir()
	st, err := sqlite.Open(ctx, filepath.Join(dir, "ctem.db"))
	if err != nil {
		b.Fatal(err)
	}
	_, a := demoScope(b, st)
	start := time.Now()
	// A few images per ingest: one transaction for several reports is
	// cheaper than one each, and stores the same findings.
	const batch = 10
	for i := 0; i < images; i += batch {
		var in []app.Input
		for k := i; k < min(images, i+batch); k++ {
			in = append(in, app.Input{Name: fmt.Sprintf("gen-%d.json", k), R: bytes.NewReader(syntheticReport(b, k, 1000))})
		}
		if _, err := a.Ingest(ctx, app.IngestRequest{Inputs: in, NoAnalyze: true}); err != nil {
			b.Fatal(err)
		}
		if (i/batch)%10 == 9 {
			b.Logf("generated %d images in %v", i+batch, time.Since(start).Round(time.Second))
		}
	}
	if err := st.Close(); err != nil {
		b.Fatal(err)
	}
	copyFile(b, filepath.Join(dir, "ctem.db"), path+".tmp")
	if err := os.Rename(path+".tmp", path); err != nil {
		b.Fatal(err)
	}
	b.Logf("generated %d images of 1,000 findings in %v: %s", images, time.Since(start).Round(time.Second), path)
	return path
}

// copyFile copies the file from to the file to.
func copyFile(tb testing.TB, from, to string) {
	tb.Helper()
	src, err := os.Open(from)
	if err != nil {
		tb.Fatal(err)
	}
	defer src.Close()
	dst, err := os.Create(to)
	if err != nil {
		tb.Fatal(err)
	}
	if _, err := io.Copy(dst, src); err != nil {
		dst.Close()
		tb.Fatal(err)
	}
	if err := dst.Close(); err != nil {
		tb.Fatal(err)
	}
}

// load1 returns the one-minute load average, or -1 where /proc/loadavg
// cannot be read.
func load1() float64 {
	raw, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return -1
	}
	v, err := strconv.ParseFloat(strings.Fields(string(raw) + " x")[0], 64)
	if err != nil {
		return -1
	}
	return v
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
