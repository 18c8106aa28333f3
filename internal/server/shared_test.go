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
func TestTwoServersOneDatabase(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	name := storetest.Name(t)
	spool := t.TempDir()
	var urls []string
	var st0 store.Store
	for i := range 2 {
		st := storetest.OpenName(t, name)
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
	wantFixed := map[string]int{}
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
