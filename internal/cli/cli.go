// Package cli implements ctem's command line. Each command is built by a
// function that receives its environment, so commands run in tests without
// a process; Run is the whole program.
package cli

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"strconv"
	"strings"

	"github.com/spf13/cobra"

	"github.com/ctem-dev/ctem/internal/app"
	"github.com/ctem-dev/ctem/internal/inputs"
	"github.com/ctem-dev/ctem/internal/store/open"
	"github.com/ctem-dev/ctem/internal/store/postgres"
	"github.com/ctem-dev/ctem/internal/store/sqlite"
	"github.com/ctem-dev/ctem/internal/store/sqlstore"
)

// Version is set at build time with -ldflags "-X ...cli.Version=...".
var Version = "dev"

// env is what every command gets: its streams, environment and the
// global flags.
type env struct {
	stdin          io.Reader
	stdout, stderr io.Writer
	getenv         func(string) string

	dbPath     string
	dbPool     int
	scopePath  string
	codeOwners []string
	quiet      bool
	wide       bool
	cpuProfile string
	profiling  bool
}

// Run runs ctem with args (without the program name) and returns the
// process exit code. Errors are printed to stderr in one line.
func Run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	e := &env{stdin: stdin, stdout: stdout, stderr: stderr, getenv: os.Getenv}
	root := newRoot(e)
	root.SetArgs(args)
	err := cobraUsage(root.ExecuteContext(ctx))
	if e.profiling {
		pprof.StopCPUProfile()
	}
	if err != nil {
		fmt.Fprintf(stderr, "ctem: %s\n", oneLine(err.Error()))
	}
	return ExitCode(err)
}

// cobraUsage marks cobra's own errors about how ctem was called (an
// unknown command, a required flag not set), which cobra returns as plain
// errors, as usage errors (exit code 2).
func cobraUsage(err error) error {
	if err == nil {
		return nil
	}
	msg := err.Error()
	for _, p := range []string{"unknown command ", "required flag(s) ", "unknown shorthand flag", "unknown flag", "invalid argument "} {
		if strings.HasPrefix(msg, p) {
			return usage(err)
		}
	}
	return err
}

// oneLine keeps an error message on one line, whatever the input put
// into it.
func oneLine(s string) string {
	return strings.Join(strings.Fields(sanitize(s)), " ")
}

func newRoot(e *env) *cobra.Command {
	root := &cobra.Command{
		Use:   "ctem",
		Short: "Continuous threat exposure management",
		Long: `ctem ingests the reports of the scanners you already run and the estate
they run in (Kubernetes, Terraform, inventories), merges them into one graph of
deduplicated exposures, finds the attack paths from the internet to your crown
jewels, and tells you which few fixes remove the most risk, and why. Every new
scan updates the picture and records which paths opened and closed.

Start with 'ctem demo', or 'ctem init' to write a scope file.`,
		SilenceUsage:  true,
		SilenceErrors: true,
		Version:       versionLine(),
	}
	root.SetOut(e.stdout)
	root.SetErr(e.stderr)
	root.SetIn(e.stdin)
	root.PersistentFlags().StringVar(&e.dbPath, "db", "", "database file, or a postgres:// URL (default $CTEM_DB, else ctem.db in the user data directory)")
	root.PersistentFlags().IntVar(&e.dbPool, "db-pool", 0, fmt.Sprintf("most connections to PostgreSQL this process opens (default $CTEM_DB_POOL, else %d)", postgres.DefaultPoolSize))
	root.PersistentFlags().StringVar(&e.scopePath, "scope", "", "scope file (default $CTEM_SCOPE, else ./ctem.yaml if present)")
	root.PersistentFlags().StringArrayVar(&e.codeOwners, "codeowners", nil, "REPOSITORY=PATH: a repository's CODEOWNERS file gives owners to the repository and its images (after the scope's ownership rules)")
	root.PersistentFlags().BoolVarP(&e.quiet, "quiet", "q", false, "print nothing but data and errors")
	root.PersistentFlags().BoolVar(&e.wide, "wide", false, "print table cells whole (by default long ones lose their middle to fit the terminal)")
	// --cpuprofile writes a Go CPU profile of the command, for reports of
	// slow ingests and analyses; it is hidden from the help.
	root.PersistentFlags().StringVar(&e.cpuProfile, "cpuprofile", "", "write a CPU profile of the command to this file")
	_ = root.PersistentFlags().MarkHidden("cpuprofile")
	root.PersistentPreRunE = func(*cobra.Command, []string) error {
		if e.cpuProfile == "" {
			return nil
		}
		f, err := os.Create(e.cpuProfile)
		if err != nil {
			return usage(fmt.Errorf("cpu profile: %w", err))
		}
		if err := pprof.StartCPUProfile(f); err != nil {
			f.Close()
			return fmt.Errorf("cpu profile: %w", err)
		}
		e.profiling = true
		return nil
	}
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return usage(err) })
	root.AddCommand(
		newIngestCmd(e),
		newFindingsCmd(e),
		newExposuresCmd(e),
		newAssetsCmd(e),
		newScansCmd(e),
		newFormatsCmd(e),
		newDemoCmd(e),
		newInitCmd(e),
		newScopeCmd(e),
		newGraphCmd(e),
		newExplainCmd(e),
		newSSVCCmd(e),
		newVEXCmd(e),
		newExportCmd(e),
		newKPICmd(e),
		newReportCmd(e),
		newValidateCmd(e),
		newAnalyzeCmd(e),
		newPathsCmd(e),
		newFixPlanCmd(e),
		newTopCmd(e),
		newEventsCmd(e),
		newFeedsCmd(e),
		newTriageCmd(e),
		newServeCmd(e),
		newTokenCmd(e),
		newUserCmd(e),
		newAuditCmd(e),
		newVersionCmd(e),
		newGateCmd(e),
		newSLACmd(e),
		newAcceptCmd(e),
		newFalsePositiveCmd(e),
		newPolicyCmd(e),
		newTicketsCmd(e),
		newNotifyCmd(e),
		newBlastRadiusCmd(e),
		newWhatIfCmd(e),
		newRulesCmd(e),
		newWebhookCmd(e),
		newMigrateCmd(e),
	)
	wrapAllArgs(root)
	return root
}

// wrapAllArgs makes the positional-argument errors of every command
// below c usage errors.
func wrapAllArgs(c *cobra.Command) {
	for _, sub := range c.Commands() {
		sub.Args = wrapArgs(sub.Args)
		wrapAllArgs(sub)
	}
}

// wrapArgs makes positional-argument errors usage errors.
func wrapArgs(v cobra.PositionalArgs) cobra.PositionalArgs {
	if v == nil {
		return nil
	}
	return func(cmd *cobra.Command, args []string) error {
		if err := v(cmd, args); err != nil {
			return usage(err)
		}
		return nil
	}
}

// databasePath resolves --db, then $CTEM_DB, then the user data directory.
// A database named by --db or $CTEM_DB must be in a folder that exists: a
// misspelt folder is a usage error, not a new empty database (only the
// default data directory is created).
func (e *env) databasePath() (string, error) {
	p, how := e.dbPath, "--db"
	if p == "" {
		p, how = e.getenv("CTEM_DB"), "$CTEM_DB"
	}
	if open.IsPostgres(p) {
		return p, nil
	}
	if p != "" {
		dir := filepath.Dir(p)
		if st, err := os.Stat(dir); err != nil || !st.IsDir() {
			return "", usage(fmt.Errorf("%s %s: folder %s does not exist (create it, or fix the path)", how, p, dir))
		}
		return p, nil
	}
	dir, err := dataDir(e.getenv)
	if err != nil {
		return "", usage(fmt.Errorf("no --db given and no data directory: %w", err))
	}
	return filepath.Join(dir, "ctem", "ctem.db"), nil
}

// dataDir is the user's data directory: $XDG_DATA_HOME or ~/.local/share
// on Unix, ~/Library/Application Support on macOS, %LocalAppData% on
// Windows.
func dataDir(getenv func(string) string) (string, error) {
	switch runtime.GOOS {
	case "windows":
		if d := getenv("LocalAppData"); d != "" {
			return d, nil
		}
		return "", fmt.Errorf("%%LocalAppData%% is not set")
	case "darwin":
		home, err := os.UserHomeDir()
		if err != nil {
			return "", err
		}
		return filepath.Join(home, "Library", "Application Support"), nil
	}
	if d := getenv("XDG_DATA_HOME"); d != "" {
		return d, nil
	}
	home := getenv("HOME")
	if home == "" {
		return "", fmt.Errorf("$HOME is not set")
	}
	return filepath.Join(home, ".local", "share"), nil
}

// openStore opens the database named by the flags.
func (e *env) openStore(ctx context.Context) (app.Store, error) {
	st, err := e.openSQL(ctx)
	if err != nil {
		return nil, err
	}
	return st, nil
}

// openSQL opens the database named by the flags as the SQL store, for
// the commands that use more than the application layer's Store.
func (e *env) openSQL(ctx context.Context) (*sqlstore.DB, error) {
	path, err := e.databasePath()
	if err != nil {
		return nil, err
	}
	return e.openDB(ctx, path)
}

// openDB opens the store named by path (see databasePath), SQLite or
// PostgreSQL, with the connection pool --db-pool or $CTEM_DB_POOL asks.
func (e *env) openDB(ctx context.Context, path string) (*sqlstore.DB, error) {
	if open.IsPostgres(path) {
		pool := e.dbPool
		if v := e.getenv("CTEM_DB_POOL"); pool == 0 && v != "" {
			n, err := strconv.Atoi(v)
			if err != nil || n < 1 {
				return nil, usage(fmt.Errorf("$CTEM_DB_POOL %q: want a positive number", v))
			}
			pool = n
		}
		if pool < 0 {
			return nil, usage(fmt.Errorf("--db-pool %d: want a positive number", pool))
		}
		return open.Open(ctx, path, open.Options{PoolSize: pool})
	}
	if err := checkSQLite(path); err != nil {
		return nil, err
	}
	return sqlite.Open(ctx, path)
}

// checkSQLite returns a usage error when path is a file that is not an
// SQLite database (a report passed as --db, say); a missing or empty file
// is a new database.
func checkSQLite(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return nil // missing: created; unreadable: Open says why
	}
	defer f.Close()
	head := make([]byte, 16)
	n, _ := io.ReadFull(f, head)
	if n == 0 || string(head[:n]) == "SQLite format 3\x00" {
		return nil
	}
	return usage(fmt.Errorf("database %s is not a ctem database (not an SQLite file); name the database with --db", path))
}

// newApp opens the database and returns the application layer over it
// with the command line's inputs: the feeds, --scope (or $CTEM_SCOPE, or
// ./ctem.yaml as a convenience when the database holds no scope) and
// --codeowners. The caller closes the store.
func (e *env) newApp(ctx context.Context) (*app.App, error) {
	st, err := e.openStore(ctx)
	if err != nil {
		return nil, err
	}
	a, err := e.appOver(ctx, st)
	if err != nil {
		st.Close()
		return nil, err
	}
	return a, nil
}

// appOver returns the application layer over st with the command line's
// inputs (see newApp).
func (e *env) appOver(ctx context.Context, st app.Store) (*app.App, error) {
	a := &app.App{Store: st, Formats: inputs.All(), Intel: e.loadIntel, Logf: e.logf, Warnf: e.warnf}
	var err error
	if a.Scope, err = e.scopeFile(ctx, st); err != nil {
		return nil, err
	}
	if a.CodeOwners, err = e.codeOwnersFiles(); err != nil {
		return nil, err
	}
	return a, nil
}

// logf prints a progress or warning line to stderr unless --quiet.
func (e *env) logf(format string, args ...any) {
	if e.quiet {
		return
	}
	fmt.Fprintf(e.stderr, "%s\n", sanitize(fmt.Sprintf(format, args...)))
}

// warnf prints a warning to stderr, even with --quiet.
func (e *env) warnf(format string, args ...any) {
	fmt.Fprintf(e.stderr, "ctem: warning: %s\n", oneLine(fmt.Sprintf(format, args...)))
}
