package cli_test

import (
	"context"
	"flag"
	"os"
	"testing"

	"github.com/rogpeppe/go-internal/testscript"

	"github.com/ctem-dev/ctem/internal/cli"
)

var update = flag.Bool("update", false, "rewrite the golden transcripts in testdata/script")

func TestMain(m *testing.M) {
	testscript.Main(m, map[string]func(){
		"ctem": func() { os.Exit(cli.Run(context.Background(), os.Args[1:], os.Stdin, os.Stdout, os.Stderr)) },
	})
}

// TestScripts runs the CLI transcripts in testdata/script: real commands
// on a real database file in each script's work directory.
func TestScripts(t *testing.T) {
	t.Parallel()
	testscript.Run(t, testscript.Params{
		Dir:           "testdata/script",
		UpdateScripts: *update,
		Setup: func(e *testscript.Env) error {
			e.Setenv("CTEM_DB", e.WorkDir+"/ctem.db")
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
