package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/ctem-dev/ctem/examples"
	"github.com/ctem-dev/ctem/internal/app"
	"github.com/ctem-dev/ctem/internal/inputs"
	"github.com/ctem-dev/ctem/internal/server"
	"github.com/ctem-dev/ctem/internal/store"
	"github.com/ctem-dev/ctem/internal/store/sqlite"
)

// startServer serves a fresh database on loopback and returns its URL,
// the database's path and a file holding an uploader's token.
func startServer(t *testing.T) (string, string, string) {
	t.Helper()
	dir := t.TempDir()
	db := filepath.Join(dir, "server.db")
	st, err := sqlite.Open(context.Background(), db)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	_, secret, err := server.CreateToken(context.Background(), st, server.TokenRequest{Name: "ci", Role: "uploader"}, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	tokenFile := filepath.Join(dir, "token")
	if err := os.WriteFile(tokenFile, []byte(secret+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	srv, err := server.New(server.Config{App: &app.App{Store: st, Formats: inputs.All()}, Store: st, SpoolDir: filepath.Join(dir, "spool"), Schedule: server.Schedule{Expire: -1, SLA: -1}})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ctx, ln, server.ListenConfig{Addr: ln.Addr().String()}) }()
	t.Cleanup(func() { cancel(); <-done })
	<-srv.Ready()
	return "http://" + ln.Addr().String(), db, tokenFile
}

// rows lists a database's findings, exposures and scans without times
// and scan ids, which differ between two ingests, and with the base name
// of each scan's input (a server records the name the upload gives, the
// file's base name: it never learns the client's folders).
func rows(t *testing.T, path string) []string {
	t.Helper()
	st, err := sqlite.Open(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	var out []string
	for x, err := range st.Findings(context.Background(), store.Filter{Sort: store.SortID}) {
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, strings.Join([]string{"finding", x.ID, x.Tool, x.Asset, string(x.Severity), string(x.Status), x.ExposureID, x.Package.Name, x.Package.Version, x.RuleID, strings.Join(x.VulnIDs, ",")}, " "))
	}
	for x, err := range st.Exposures(context.Background(), store.Filter{Sort: store.SortID}) {
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, strings.Join([]string{"exposure", x.ID, x.Asset, string(x.Severity), string(x.Status), strings.Join(x.FindingIDs, ","), strings.Join(x.Tools, ",")}, " "))
	}
	for x, err := range st.Scans(context.Background(), store.Filter{}) {
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, strings.Join([]string{"scan", x.Tool, x.Target, x.Format, filepath.Base(x.Input), x.Digest}, " "))
	}
	return out
}

// scanTimes drops what differs between two ingests of the same file
// from a JSON summary: scan ids and times.
var scanTimes = regexp.MustCompile(`"(id|started_at)":\s*"[^"]*"`)

// inputFolder is the folder of a scan's input in a JSON summary.
var inputFolder = regexp.MustCompile(`"input":\s*"[^"]*/`)

func normSummary(s string) string {
	return inputFolder.ReplaceAllString(scanTimes.ReplaceAllString(s, `"$1":""`), `"input":"`)
}

// TestIngestServer uploads the demo's reports with 'ctem ingest
// --server' to a real server on loopback: the summary is the one a local
// ingest prints, and the server's database holds exactly what the local
// one does.
func TestIngestServer(t *testing.T) {
	t.Parallel()
	url, serverDB, tokenFile := startServer(t)
	dir := t.TempDir()
	var files []string
	for _, name := range examples.Inputs {
		if !strings.HasPrefix(name, "reports/") || examples.Targets[name] != "" {
			continue
		}
		data, err := examples.Files.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		p := filepath.Join(dir, filepath.Base(name))
		if err := os.WriteFile(p, data, 0o600); err != nil {
			t.Fatal(err)
		}
		files = append(files, p)
	}
	run := func(args ...string) (int, string, string) {
		var out, errb bytes.Buffer
		code := Run(context.Background(), args, strings.NewReader(""), &out, &errb)
		return code, out.String(), errb.String()
	}
	localDB := filepath.Join(dir, "local.db")
	code, local, stderr := run(append([]string{"--db", localDB, "ingest", "-o", "json"}, files...)...)
	if code != 0 {
		t.Fatalf("ctem ingest (local) = %d %s", code, stderr)
	}
	code, remote, stderr := run(append([]string{"--db", filepath.Join(dir, "unused.db"), "ingest", "--server", url, "--token-file", tokenFile, "-o", "json"}, files...)...)
	if code != 0 {
		t.Fatalf("ctem ingest --server = %d %s", code, stderr)
	}
	if _, err := os.Stat(filepath.Join(dir, "unused.db")); err == nil {
		t.Errorf("ctem ingest --server wrote the local database")
	}
	var a, b []map[string]any
	if err := json.Unmarshal([]byte(normSummary(local)), &a); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal([]byte(normSummary(remote)), &b); err != nil {
		t.Fatal(err)
	}
	if len(a) != len(files) {
		t.Fatalf("local summary has %d scans, want %d", len(a), len(files))
	}
	if diff := cmp.Diff(b, a); diff != "" {
		t.Errorf("ctem ingest --server summary (-server +local):\n%s", diff)
	}
	if diff := cmp.Diff(rows(t, serverDB), rows(t, localDB)); diff != "" {
		t.Errorf("server database (-server +local):\n%s", diff)
	}

	// --no-wait prints the job ids.
	code, out, stderr := run("ingest", "--server", url, "--token-file", tokenFile, "--no-wait", files[0])
	if code != 0 || !regexp.MustCompile(`^[0-9a-f]{16}\n$`).MatchString(out) {
		t.Errorf("ctem ingest --server --no-wait = %d %q %s, want a job id", code, out, stderr)
	}
	// A report the server cannot read, a missing token, a bad token.
	bad := filepath.Join(dir, "bad.json")
	os.WriteFile(bad, []byte(`{"SchemaVersion": 2, "Results": [`), 0o600)
	for _, tt := range []struct {
		args []string
		want string
	}{
		{[]string{"ingest", "--server", url, "--token-file", tokenFile, bad}, "bad.json"},
		{[]string{"ingest", "--server", url, files[0]}, "CTEM_TOKEN"},
		{[]string{"ingest", "--server", url, "--token-file", bad, files[0]}, "401"},
		{[]string{"ingest", "--server", "http://192.0.2.1:8080", "--token-file", tokenFile, files[0]}, "https"},
		{[]string{"ingest", "--no-wait", files[0]}, "--server"},
	} {
		code, _, stderr := run(tt.args...)
		if code != ExitInput || !strings.Contains(stderr, tt.want) {
			t.Errorf("ctem %v = %d %q, want %d naming %s", tt.args, code, stderr, ExitInput, tt.want)
		}
	}
}
