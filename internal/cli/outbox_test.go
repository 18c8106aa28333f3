package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"io/fs"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/ctem-dev/ctem/examples"
	"github.com/ctem-dev/ctem/internal/app"
	"github.com/ctem-dev/ctem/internal/inputs"
	"github.com/ctem-dev/ctem/internal/server"
	"github.com/ctem-dev/ctem/internal/store/sqlite"
	"github.com/ctem-dev/ctem/internal/webhook"
)

// TestCLIAnalysisWebhooks: analyses run by the command line ('ctem
// ingest', 'ctem analyze') on a database a server shares send their path
// events through the server's webhooks: each event recorded is delivered
// once to a receiver on loopback (allowed as a private destination).
func TestCLIAnalysisWebhooks(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	db := filepath.Join(dir, "ctem.db")
	ctx := context.Background()
	st, err := sqlite.Open(ctx, db)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })

	type got struct{ event, path string }
	var mu sync.Mutex
	var received []got
	recv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		var p webhook.Payload
		var d webhook.PathData
		if json.Unmarshal(body, &p) != nil || json.Unmarshal(p.Data, &d) != nil {
			http.Error(w, "bad payload", http.StatusBadRequest)
			return
		}
		mu.Lock()
		received = append(received, got{p.Event, d.PathID})
		mu.Unlock()
	}))
	t.Cleanup(recv.Close)
	guard := webhook.Guard{Allow: []string{"127.0.0.1"}, AllowPrivate: true}
	events := []string{webhook.PathOpened, webhook.PathClosed}
	if _, _, err := server.CreateWebhook(ctx, st, server.WebhookRequest{URL: recv.URL, Events: events}, func(u string) error {
		_, err := guard.CheckURL(u)
		return err
	}, time.Now()); err != nil {
		t.Fatal(err)
	}
	srv, err := server.New(server.Config{App: &app.App{Store: st, Formats: inputs.All()}, Store: st, SpoolDir: filepath.Join(dir, "spool"),
		Schedule: server.Schedule{Expire: -1, SLA: -1}, Webhooks: server.WebhookConfig{Guard: guard}})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	sctx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- srv.Serve(sctx, ln, server.ListenConfig{Addr: ln.Addr().String()}) }()
	t.Cleanup(func() { cancel(); <-done })
	<-srv.Ready()

	// The demo's files, and the command line's analyses of them.
	err = fs.WalkDir(examples.Files, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		data, err := examples.Files.ReadFile(p)
		if err != nil {
			return err
		}
		if err := os.MkdirAll(filepath.Join(dir, filepath.Dir(p)), 0o700); err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(dir, p), data, 0o600)
	})
	if err != nil {
		t.Fatal(err)
	}
	x := func(name string) string { return filepath.Join(dir, name) }
	for _, args := range [][]string{
		{"ingest", "--target", "prod", x("k8s/shop.yaml")},
		{"ingest", "--target", "shop-aws", x("terraform")},
		{"ingest", x("inventory.yaml"), x("reports/edge-proxy-image.trivy.json"), x("reports/shop-api-image.trivy.json")},
		{"analyze"},
	} {
		var out, errb bytes.Buffer
		if code := Run(ctx, append([]string{"--db", db, "--scope", x("ctem.yaml")}, args...), strings.NewReader(""), &out, &errb); code != 0 {
			t.Fatalf("ctem %v = %d\n%s", args, code, errb.String())
		}
	}

	// Every path event the command line recorded, as a delivery.
	var want []got
	rows, err := st.SQL().QueryContext(ctx, `SELECT event, path_id FROM path_events`)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var ev, id string
		if err := rows.Scan(&ev, &id); err != nil {
			t.Fatal(err)
		}
		want = append(want, got{"path." + ev, id})
	}
	rows.Close()
	if len(want) == 0 {
		t.Fatal("the command line's analyses recorded no path event")
	}
	less := func(a, b got) int { return strings.Compare(a.event+a.path, b.event+b.path) }
	slices.SortFunc(want, less)
	var pending int
	for deadline := time.Now().Add(60 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		if err := st.SQL().QueryRowContext(ctx, `SELECT COUNT(*) FROM jobs WHERE kind = 'webhook' AND state IN ('queued', 'running')`).Scan(&pending); err != nil {
			t.Fatal(err)
		}
		mu.Lock()
		n := len(received)
		mu.Unlock()
		if pending == 0 && n >= len(want) {
			break
		}
	}
	// The outbox turns nothing twice, however often it is pumped.
	time.Sleep(1500 * time.Millisecond)
	mu.Lock()
	gotAll := slices.Clone(received)
	mu.Unlock()
	slices.SortFunc(gotAll, less)
	if diff := cmp.Diff(gotAll, want, cmp.AllowUnexported(got{})); diff != "" {
		t.Errorf("deliveries of the command line's path events (-got +want), %d pending:\n%s", pending, diff)
	}
}
