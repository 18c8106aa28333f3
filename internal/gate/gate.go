// Package gate is ctem's CI gate: it compares the estate and findings of a
// change with those of its base and says what the change introduced (new
// attack paths to crown jewels, new KEV exposures on internet-facing
// assets), failing the change when it introduced either.
package gate

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/ctem-dev/ctem/internal/app"
	"github.com/ctem-dev/ctem/internal/estate"
	"github.com/ctem-dev/ctem/internal/estate/scope"
	"github.com/ctem-dev/ctem/internal/graph"
	"github.com/ctem-dev/ctem/internal/intel/kev"
	"github.com/ctem-dev/ctem/internal/model"
	"github.com/ctem-dev/ctem/internal/policy"
	"github.com/ctem-dev/ctem/internal/store"
)

// Config is one run of the gate.
type Config struct {
	// Base is the base's SQLite database file. It is copied, never
	// written.
	Base string
	// Inputs are the change's reports and estate files, ingested into a
	// copy of the base as `ctem ingest` would.
	Inputs []app.Input
	// Target names the scanned target for reports that do not name it.
	Target string
	// Open opens (creating and migrating) a database file.
	Open func(ctx context.Context, path string) (app.Store, error)
	// NewApp returns the application layer over a store, with the
	// caller's scope, threat intelligence and logging.
	NewApp func(st app.Store) *app.App
	// TempDir is where the copies go; empty is os.TempDir. They are
	// removed when Run returns.
	TempDir string
	// Options are the analysis options; zero is the defaults.
	Options graph.Options
}

// KEVExposure is an exposure the change introduced to a vulnerability in
// CISA's Known Exploited Vulnerabilities catalog, on an asset reached
// from the internet.
type KEVExposure struct {
	Exposure model.Exposure `json:"exposure"`
	CVE      string         `json:"cve"`
	KEV      kev.Entry      `json:"kev"`
	// Via is the internet-facing asset through which it is reached.
	Via string `json:"via"`
}

// Report is what the gate found: what the change introduced and fixed,
// and its verdict.
type Report struct {
	// NewPaths are the attack paths to crown jewels open with the change
	// and not in the base, riskiest first; Names names their steps'
	// exposures (see app.PathList).
	NewPaths []graph.Path      `json:"new_paths"`
	Names    map[string]string `json:"-"`
	// NewKEV are the exposures to known exploited vulnerabilities on
	// internet-facing assets open with the change and not in the base.
	NewKEV []KEVExposure `json:"new_kev"`
	// ClosedPaths counts the base's paths the change closes.
	ClosedPaths int `json:"closed_paths"`
	// Fix lists the fix-plan actions of the change that cut a new path.
	Fix []graph.PlanItem `json:"fix"`
	// BasePaths and ChangePaths count the open paths of each side.
	BasePaths   int `json:"base_paths"`
	ChangePaths int `json:"change_paths"`
	// Policies are the matches of the scope's fail policies on what the
	// change introduced (its new paths and new open exposures); Warnings
	// those of its warn policies.
	Policies []policy.Match `json:"policies"`
	Warnings []policy.Match `json:"warnings"`
	// Inputs names the change's inputs.
	Inputs []string `json:"inputs"`
}

// Failed reports whether the change introduced something the gate stops.
func (r *Report) Failed() bool {
	return len(r.NewPaths) > 0 || len(r.NewKEV) > 0 || len(r.Policies) > 0
}

// Reasons says in one line each why the gate failed; none when it passed.
func (r *Report) Reasons() []string {
	var out []string
	if n := len(r.NewPaths); n > 0 {
		out = append(out, fmt.Sprintf("%d new attack path(s) to a crown jewel", n))
	}
	if n := len(r.NewKEV); n > 0 {
		out = append(out, fmt.Sprintf("%d new known exploited vulnerability exposure(s) on internet-facing assets", n))
	}
	if n := len(r.Policies); n > 0 {
		out = append(out, fmt.Sprintf("%d match(es) of fail policies", n))
	}
	return out
}

// Run copies the base database twice into temporary files, analyses the
// first copy as the base and the second, with the change's inputs
// ingested, as the change, and compares them. A database that is not
// SQLite, an input that does not parse, are errors (the input's a
// BadInputError or InputError); Run never writes the base. It returns the
// report whatever the verdict; the caller fails on Report.Failed.
func Run(ctx context.Context, cfg Config) (*Report, error) {
	if cfg.Base == "" {
		return nil, &app.BadInputError{Err: errors.New("no base database (--base)")}
	}
	if _, err := os.Stat(cfg.Base); err != nil {
		return nil, &app.BadInputError{Err: fmt.Errorf("base database: %w", err)}
	}
	if len(cfg.Inputs) == 0 {
		return nil, &app.BadInputError{Err: errors.New("no inputs: give the change's reports and estate files")}
	}
	dir, err := os.MkdirTemp(cfg.TempDir, "ctem-gate-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)

	basePath := filepath.Join(dir, "base.db")
	if err := copyDB(cfg.Base, basePath); err != nil {
		return nil, err
	}
	bst, err := cfg.Open(ctx, basePath)
	if err != nil {
		return nil, err
	}
	defer bst.Close()
	ba := cfg.NewApp(bst)
	if _, err := ba.Analyze(ctx, cfg.Options); err != nil {
		return nil, fmt.Errorf("analyse the base: %w", err)
	}
	base, err := side(ctx, ba)
	if err != nil {
		return nil, fmt.Errorf("read the base: %w", err)
	}

	changePath := filepath.Join(dir, "change.db")
	if err := copyDB(cfg.Base, changePath); err != nil {
		return nil, err
	}
	cst, err := cfg.Open(ctx, changePath)
	if err != nil {
		return nil, err
	}
	defer cst.Close()
	ca := cfg.NewApp(cst)
	if _, err := ca.Ingest(ctx, app.IngestRequest{Inputs: cfg.Inputs, Target: cfg.Target, NoAnalyze: true}); err != nil {
		return nil, err
	}
	run, err := ca.Analyze(ctx, cfg.Options)
	if err != nil {
		return nil, fmt.Errorf("analyse the change: %w", err)
	}
	change, err := side(ctx, ca)
	if err != nil {
		return nil, fmt.Errorf("read the change: %w", err)
	}

	r := &Report{Names: change.names, BasePaths: len(base.paths), ChangePaths: len(change.paths), NewPaths: []graph.Path{}, NewKEV: []KEVExposure{}, Fix: []graph.PlanItem{}}
	for _, in := range cfg.Inputs {
		r.Inputs = append(r.Inputs, in.Name)
	}
	for _, p := range change.paths {
		if !base.pathIDs[p.ID] {
			r.NewPaths = append(r.NewPaths, p)
		}
	}
	for _, p := range base.paths {
		if !change.pathIDs[p.ID] {
			r.ClosedPaths++
		}
	}
	in, err := ca.Intel()
	if err != nil {
		return nil, err
	}
	if in.KEV != nil {
		r.NewKEV = newKEV(base, change, in.KEV, run.Run.Estate)
	}
	plan, err := ca.FixPlan(ctx, 0, cfg.Options)
	if err != nil {
		return nil, err
	}
	r.Fix = fixFor(plan.Plan.Items, r.NewPaths)
	if err := r.checkPolicies(ctx, ca, base, change, run.Run.Estate, in); err != nil {
		return nil, err
	}
	return r, nil
}

// checkPolicies evaluates the scope's policies on what the change
// introduced: its new paths and the open exposures the base did not have.
func (r *Report) checkPolicies(ctx context.Context, a *app.App, base, change *sideData, es *estate.Estate, in app.Intel) error {
	sc, err := a.ScopeInForce(ctx)
	if err != nil {
		return err
	}
	set, err := policy.Compile(sc)
	if err != nil {
		return &app.BadInputError{Err: err}
	}
	r.Policies, r.Warnings = []policy.Match{}, []policy.Match{}
	keep := func(ms []policy.Match) {
		for _, m := range ms {
			switch m.Action {
			case scope.ActionFail:
				r.Policies = append(r.Policies, m)
			case scope.ActionWarn:
				r.Warnings = append(r.Warnings, m)
			}
		}
	}
	for _, p := range r.NewPaths {
		ms, _ := set.Eval("path", p.ID, policy.PathVars(p, es))
		keep(ms)
	}
	for _, x := range change.exposures {
		if base.open[x.ID] {
			continue
		}
		ms, _ := set.Eval("exposure", x.ID, policy.ExposureVars(x, es, in.KEV))
		keep(ms)
	}
	return nil
}

// sideData is one side's open paths and exposures.
type sideData struct {
	paths     []graph.Path
	pathIDs   map[string]bool
	names     map[string]string
	exposures []model.Exposure
	open      map[string]bool
}

func side(ctx context.Context, a *app.App) (*sideData, error) {
	pl, err := a.Paths(ctx, app.PathQuery{})
	if err != nil {
		return nil, err
	}
	s := &sideData{paths: pl.Paths, pathIDs: map[string]bool{}, names: pl.Names, open: map[string]bool{}}
	for _, p := range pl.Paths {
		s.pathIDs[p.ID] = true
	}
	for x, err := range a.Store.Exposures(ctx, store.Filter{Statuses: []model.Status{model.StatusOpen}, Sort: store.SortID}) {
		if err != nil {
			return nil, err
		}
		s.exposures = append(s.exposures, x)
		s.open[x.ID] = true
	}
	return s, nil
}

// newKEV returns the change's open exposures, not open in the base, to a
// CVE in the catalogue, whose asset the estate says is reached from the
// internet.
func newKEV(base, change *sideData, cat *kev.Catalog, es *estate.Estate) []KEVExposure {
	out := []KEVExposure{}
	for _, x := range change.exposures {
		if base.open[x.ID] {
			continue
		}
		for _, id := range x.VulnIDs {
			e, ok := cat.Lookup(id)
			if !ok {
				continue
			}
			c := es.Context(x.Asset)
			if !c.InternetExposed {
				break
			}
			out = append(out, KEVExposure{Exposure: x, CVE: id, KEV: e, Via: c.Via})
			break
		}
	}
	return out
}

// fixFor returns the plan items that cut one of paths: an item that
// fixes an exposure a step needs, or removes a relation a step takes.
func fixFor(items []graph.PlanItem, paths []graph.Path) []graph.PlanItem {
	xs, rels := map[string]bool{}, map[string]bool{}
	for _, p := range paths {
		for _, s := range p.Steps {
			for _, id := range s.ExposureIDs {
				xs[id] = true
			}
			for _, ev := range s.Evidence {
				if r, ok := strings.CutPrefix(ev, "relation:"); ok {
					rels[r] = true
				}
			}
		}
	}
	out := []graph.PlanItem{}
	for _, it := range items {
		if slices.ContainsFunc(it.Exposures, func(id string) bool { return xs[id] }) ||
			slices.ContainsFunc(it.Relations, func(r string) bool { return rels[r] }) {
			out = append(out, it)
		}
	}
	return out
}

// copyDB copies a SQLite database file and its write-ahead log, when it
// has one, so that the copy holds every committed transaction.
func copyDB(from, to string) error {
	if err := copyFile(from, to); err != nil {
		return fmt.Errorf("copy base database: %w", err)
	}
	if _, err := os.Stat(from + "-wal"); err == nil {
		if err := copyFile(from+"-wal", to+"-wal"); err != nil {
			return fmt.Errorf("copy base database log: %w", err)
		}
	}
	return nil
}

func copyFile(from, to string) error {
	in, err := os.Open(from)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(to, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}
