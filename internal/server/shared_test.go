package server

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ctem-dev/ctem/examples"
	"github.com/ctem-dev/ctem/internal/app"
	"github.com/ctem-dev/ctem/internal/graph"
	"github.com/ctem-dev/ctem/internal/ingest"
	"github.com/ctem-dev/ctem/internal/ingest/ingesttest"
	"github.com/ctem-dev/ctem/internal/ingest/trivy"
	"github.com/ctem-dev/ctem/internal/inputs"
	"github.com/ctem-dev/ctem/internal/model"
	"github.com/ctem-dev/ctem/internal/store"
	"github.com/ctem-dev/ctem/internal/store/sqlstore"
	"github.com/ctem-dev/ctem/internal/store/storetest"
	"github.com/ctem-dev/ctem/internal/synth"
)

// TestTwoServersOneDatabase runs two servers, each with its own
// connections, over one database (PostgreSQL when CTEM_TEST_POSTGRES is
// set, else one SQLite file), with several clients uploading at once to
// both: every job succeeds (no lock or deadlock error reaches a client),
// each job runs once, two scans of one image are applied in upload order
// although each went to another server, and each path's events alternate
// opened, closed, opened (an event recorded by both servers would repeat).
// Each ingest's time between its scan's start and its commit is
// recorded: on PostgreSQL, ingests of different (tool, target)s must
// overlap (the first ingest waits, inside its transaction, until another
// key's has begun: were ingests serialised it would wait in vain), and
// on both databases those of one (tool, target) never overlap, and on
// SQLite none do (one writer).
func TestTwoServersOneDatabase(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	name := storetest.Name(t)
	spool := t.TempDir()
	var urls []string
	var st0 store.Store
	var sts []*sqlstore.DB
	for i := range 2 {
		st := storetest.OpenName(t, name)
		sts = append(sts, st)
		a := &app.App{Store: st, Formats: inputs.All()}
		if i == 0 {
			st0 = a.Store
			scope, err := examples.Files.ReadFile(examples.Scope)
			if err != nil {
				t.Fatal(err)
			}
			if _, _, err := a.SetScope(ctx, app.ScopeFile{Name: "ctem.yaml", Data: scope}); err != nil {
				t.Fatal(err)
			}
			// The estate without the images' reports: their uploads open
			// the paths.
			var estate []app.Input
			for _, in := range demoInputs(t) {
				if !strings.HasPrefix(in.Name, "reports/") {
					estate = append(estate, in)
				}
			}
			if _, err := a.Ingest(ctx, app.IngestRequest{Inputs: estate}); err != nil {
				t.Fatal(err)
			}
			if _, err := a.Analyze(ctx, graph.Options{}); err != nil {
				t.Fatal(err)
			}
		}
		srv, err := New(Config{App: a, Store: st, SpoolDir: spool})
		if err != nil {
			t.Fatal(err)
		}
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		sctx, cancel := context.WithCancel(ctx)
		done := make(chan error, 1)
		go func() {
			done <- srv.Serve(sctx, ln, ListenConfig{Addr: ln.Addr().String(), ShutdownGrace: 10 * time.Second})
		}()
		t.Cleanup(func() {
			cancel()
			if err := <-done; err != nil && err != http.ErrServerClosed {
				t.Errorf("Serve() = %v", err)
			}
		})
		<-srv.Ready()
		urls = append(urls, "http://"+ln.Addr().String())
	}
	parallel := sts[0].Dialect().IngestBeginSQL != ""
	rec := &ingestLog{parallel: parallel, met: make(chan struct{})}
	for _, st := range sts {
		st.IngestHook = rec.hook
	}
	_, token, err := CreateToken(ctx, st0.(store.Tokens), TokenRequest{Name: "ci", Role: "uploader"}, time.Now())
	if err != nil {
		t.Fatal(err)
	}

	upload := func(url, name string, body []byte) (string, error) {
		req, _ := http.NewRequest("POST", url+"/api/v1/ingest?name="+name, bytes.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+token)
		req.Header.Set("Content-Type", "application/json")
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			return "", err
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		if res.StatusCode != http.StatusAccepted {
			return "", fmt.Errorf("POST %s = %d %s", name, res.StatusCode, b)
		}
		return strings.TrimPrefix(res.Header.Get("Location"), "/api/v1/jobs/"), nil
	}
	wait := func(url, id string) (store.Job, error) {
		for deadline := time.Now().Add(2 * time.Minute); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
			req, _ := http.NewRequest("GET", url+"/api/v1/jobs/"+id, nil)
			req.Header.Set("Authorization", "Bearer "+token)
			res, err := http.DefaultClient.Do(req)
			if err != nil {
				return store.Job{}, err
			}
			var j store.Job
			err = json.NewDecoder(res.Body).Decode(&j)
			res.Body.Close()
			if err != nil {
				return j, err
			}
			if j.State == store.JobSucceeded || j.State == store.JobFailed {
				return j, nil
			}
		}
		return store.Job{}, fmt.Errorf("job %s did not end", id)
	}

	// Each client uploads a first scan of its image to one server and,
	// once that is queued, a later scan (some vulnerabilities fixed) to
	// the other; two more clients upload the demo's image reports.
	const images = 4
	dir := t.TempDir()
	type upl struct{ name, path string }
	var clients [][]upl
	wantFixed, wantAll := map[string]int{}, map[string]int{}
	for i := range images {
		img := fmt.Sprintf("shop/svc%d:1", i)
		v1 := filepath.Join(dir, fmt.Sprintf("svc%d-v1.json", i))
		v2 := filepath.Join(dir, fmt.Sprintf("svc%d-v2.json", i))
		for _, r := range []struct {
			path string
			rep  synth.Trivy
		}{{v1, synth.Trivy{Image: img, Findings: 300, Seed: uint64(i)}}, {v2, synth.Trivy{Image: img, Findings: 300, Seed: uint64(i), Drop: 4}}} {
			var buf bytes.Buffer
			if err := synth.WriteTrivy(&buf, r.rep); err != nil {
				t.Fatal(err)
			}
			writeFile(t, r.path, buf.Bytes())
		}
		before, after := map[string]bool{}, map[string]bool{}
		for _, f := range ingesttest.Parse(t, trivy.Format, v1, ingest.Options{}).Findings {
			before[f.ID] = true
		}
		for _, f := range ingesttest.Parse(t, trivy.Format, v2, ingest.Options{}).Findings {
			after[f.ID] = true
		}
		for id := range before {
			if !after[id] {
				wantFixed[img]++
			}
		}
		wantAll[img] = len(before)
		for id := range after {
			if !before[id] {
				wantAll[img]++
			}
		}
		clients = append(clients, []upl{{filepath.Base(v1), v1}, {filepath.Base(v2), v2}})
	}
	for _, in := range examples.Inputs {
		if strings.HasPrefix(in, "reports/") {
			data, err := examples.Files.ReadFile(in)
			if err != nil {
				t.Fatal(err)
			}
			p := filepath.Join(dir, filepath.Base(in))
			writeFile(t, p, data)
			clients = append(clients, []upl{{filepath.Base(in), p}})
		}
	}
	var wg sync.WaitGroup
	errs := make(chan error, 64)
	var mu sync.Mutex
	var jobs []string
	for c, ups := range clients {
		wg.Go(func() {
			var ids []string
			for k, u := range ups {
				data := readFile(t, u.path)
				id, err := upload(urls[(c+k)%2], u.name, data)
				if err != nil {
					errs <- err
					return
				}
				ids = append(ids, id)
			}
			for k, id := range ids {
				j, err := wait(urls[(c+k+1)%2], id)
				if err != nil {
					errs <- err
					return
				}
				if j.State != store.JobSucceeded || j.Attempts != 1 {
					errs <- fmt.Errorf("job %s (%s) = %s after %d attempts, error %q; want succeeded at the first", id, ups[k].name, j.State, j.Attempts, j.Error)
				}
			}
			mu.Lock()
			jobs = append(jobs, ids...)
			mu.Unlock()
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if t.Failed() {
		return
	}
	rec.check(t)
	// Upload order held for each image: the later scan fixed what it no
	// longer reports.
	for i := range images {
		img := fmt.Sprintf("shop/svc%d:1", i)
		counts := map[model.Status]int{}
		for f, err := range st0.Findings(ctx, store.Filter{}) {
			if err != nil {
				t.Fatal(err)
			}
			if strings.HasSuffix(f.Asset, img) {
				counts[f.Status]++
			}
		}
		if counts[model.StatusFixed] != wantFixed[img] || counts[model.StatusOpen] == 0 {
			t.Errorf("findings of %s = %v, want %d fixed by the later scan and the rest open", img, counts, wantFixed[img])
		}
		if n := counts[model.StatusFixed] + counts[model.StatusOpen]; n != wantAll[img] {
			t.Errorf("findings of %s = %d, want %d, each finding of the two scans once", img, n, wantAll[img])
		}
		// The scans, newest first: the later upload's scan has the
		// higher sequence number and the later start.
		var scans []model.Scan
		for sc, err := range st0.Scans(ctx, store.Filter{}) {
			if err != nil {
				t.Fatal(err)
			}
			if strings.Contains(sc.Target, img) {
				scans = append(scans, sc)
			}
		}
		want := []string{fmt.Sprintf("svc%d-v2.json", i), fmt.Sprintf("svc%d-v1.json", i)}
		var got []string
		for _, sc := range scans {
			got = append(got, sc.Input)
		}
		if !slices.Equal(got, want) || !scans[0].StartedAt.After(scans[1].StartedAt) {
			t.Errorf("scans of %s, newest first = %v (started %v), want %v, one after the other", img, got, scanTimes(scans), want)
		}
	}
	c, err := st0.Counts(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if c.Scans != len(jobs)+3 { // and the estate's three inputs
		t.Errorf("%d scans after %d jobs and the estate's 3 inputs, want one each", c.Scans, len(jobs))
	}
	// Path events: per path, opened and closed alternate (the listing
	// is newest first).
	var events []store.PathEvent
	for e, err := range st0.(store.Events).PathEvents(ctx, store.Filter{}) {
		if err != nil {
			t.Fatal(err)
		}
		events = append(events, e)
	}
	slices.Reverse(events)
	last := map[string]string{}
	opened := 0
	for _, e := range events {
		if last[e.PathID] == e.Event || (last[e.PathID] == "" && e.Event != "opened") {
			t.Errorf("path %s: event %q after %q: recorded twice", e.PathID, e.Event, last[e.PathID])
		}
		last[e.PathID] = e.Event
		if e.Event == "opened" {
			opened++
		}
	}
	if opened == 0 {
		t.Error("no path opened: the uploads of the demo's images should open some")
	}
}

// ingestLog records, through sqlstore.DB.IngestHook, when each ingest's
// scan began and when its transaction committed.
type ingestLog struct {
	parallel bool
	mu       sync.Mutex
	spans    []ingestSpan
	inflight map[store.ScanKey]int
	waited   bool          // the first ingest waited for another key
	met      chan struct{} // closed once two keys were in flight at once
	overlap  bool
}

type ingestSpan struct {
	key          store.ScanKey
	begin, end   time.Time
	ended, first bool
}

func (l *ingestLog) hook(event string, k store.ScanKey) {
	l.mu.Lock()
	if l.inflight == nil {
		l.inflight = map[store.ScanKey]int{}
	}
	now := time.Now()
	switch event {
	case "begin":
		l.spans = append(l.spans, ingestSpan{key: k, begin: now})
		l.inflight[k]++
		if len(l.inflight) >= 2 && !l.overlap {
			l.overlap = true
			close(l.met)
		}
		wait := l.parallel && !l.waited && !l.overlap
		if wait {
			l.waited = true
			l.spans[len(l.spans)-1].first = true
		}
		l.mu.Unlock()
		if wait {
			// Inside the transaction, holding this key's lock: another
			// key's ingest can begin only if ingests run in parallel.
			select {
			case <-l.met:
			case <-time.After(time.Minute):
			}
		}
		return
	case "commit":
		for i := len(l.spans) - 1; i >= 0; i-- {
			if l.spans[i].key == k && !l.spans[i].ended {
				l.spans[i].end, l.spans[i].ended = now, true
				break
			}
		}
		if l.inflight[k]--; l.inflight[k] == 0 {
			delete(l.inflight, k)
		}
	}
	l.mu.Unlock()
}

// check asserts what the spans show: no two ingests of one key
// overlapped, and ingests of different keys did on PostgreSQL and did
// not on SQLite.
func (l *ingestLog) check(t *testing.T) {
	t.Helper()
	l.mu.Lock()
	defer l.mu.Unlock()
	apart := 0
	for i, a := range l.spans {
		if !a.ended {
			t.Errorf("ingest of %v begun at %v never committed", a.key, a.begin)
			continue
		}
		for _, b := range l.spans[i+1:] {
			if !b.ended || !(a.begin.Before(b.end) && b.begin.Before(a.end)) {
				continue
			}
			switch {
			case a.key == b.key:
				t.Errorf("ingests of %v overlapped: %v to %v and %v to %v; want one after the other", a.key, a.begin, a.end, b.begin, b.end)
			case !l.parallel:
				t.Errorf("ingests of %v and %v overlapped on a single-writer store", a.key, b.key)
			default:
				apart++
			}
		}
	}
	if l.parallel && (!l.overlap || apart == 0) {
		t.Errorf("no two ingests of different (tool, target)s overlapped (%d overlapping pairs among %d ingests); want them in parallel", apart, len(l.spans))
	}
	t.Logf("%d ingests, %d overlapping pairs of different (tool, target)s", len(l.spans), apart)
}

func scanTimes(scans []model.Scan) []time.Time {
	var out []time.Time
	for _, s := range scans {
		out = append(out, s.StartedAt)
	}
	return out
}

func writeFile(t testing.TB, path string, data []byte) {
	t.Helper()
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
}

func readFile(t testing.TB, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Error(err)
	}
	return b
}
