package cli_test

import (
	"bytes"
	"context"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rogpeppe/go-internal/testscript"

	"github.com/ctem-dev/ctem/internal/cli"
	"github.com/ctem-dev/ctem/internal/store/storetest"
)

var update = flag.Bool("update", false, "rewrite the golden transcripts in testdata/script")

func TestMain(m *testing.M) {
	testscript.Main(m, map[string]func(){
		"ctem": func() { os.Exit(cli.Run(context.Background(), os.Args[1:], os.Stdin, os.Stdout, os.Stderr)) },
	})
}

// TestScripts runs the CLI transcripts in testdata/script: real commands
// on a real database, a file in each script's work directory or a
// PostgreSQL database of its own (storetest).
func TestScripts(t *testing.T) {
	t.Parallel()
	testscript.Run(t, testscript.Params{
		Dir:           "testdata/script",
		UpdateScripts: *update,
		Setup: func(e *testscript.Env) error {
			// A file in the work directory, or a new PostgreSQL
			// database when CTEM_TEST_POSTGRES is set (storetest).
			db, err := storetest.NameFor(e.WorkDir, e.Defer)
			if err != nil {
				return err
			}
			e.Setenv("CTEM_DB", db)
			e.Setenv("HOME", e.WorkDir+"/home")
			return copyReports(e.WorkDir)
		},
		Cmds: map[string]func(ts *testscript.TestScript, neg bool, args []string){
			"jsonlen":    jsonLen,
			"jsonhas":    jsonHas,
			"dbsum":      dbSum,
			"countitems": countItems,
			"kevserver":  kevServer,
		},
	})
}

// TestExitCodes pins the exit codes of usage errors that transcripts,
// which only see failure, cannot tell apart from internal errors.
func TestExitCodes(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	notDB := filepath.Join(dir, "report.json")
	if err := os.WriteFile(notDB, []byte(`{"SchemaVersion": 2}`), 0o644); err != nil {
		t.Fatal(err)
	}
	db := filepath.Join(dir, "ctem.db")
	for _, tc := range []struct {
		args []string
		want int
	}{
		{[]string{"--db", db, "scans"}, cli.ExitOK},
		{[]string{"--db", filepath.Join(dir, "missing", "ctem.db"), "scans"}, cli.ExitInput},
		{[]string{"--db", notDB, "scans"}, cli.ExitInput},
		{[]string{"--db", db, "nosuchcommand"}, cli.ExitInput},
		{[]string{"--db", db, "ssvc", "--exploitation", "none"}, cli.ExitInput},
		{[]string{"--db", db, "scans", "--nosuchflag"}, cli.ExitInput},
		{[]string{"--db", db, "paths", "--to", "k8s:prod/ns/Deployment/none"}, cli.ExitInput},
	} {
		var out, errb bytes.Buffer
		if got := cli.Run(t.Context(), tc.args, strings.NewReader(""), &out, &errb); got != tc.want {
			t.Errorf("Run(%q) = %d, want %d (stderr %q)", tc.args, got, tc.want, errb.String())
		}
	}
}
