package app

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"iter"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/ctem-dev/ctem/internal/analyze"
	"github.com/ctem-dev/ctem/internal/estate"
	"github.com/ctem-dev/ctem/internal/graph"
	"github.com/ctem-dev/ctem/internal/model"
	"github.com/ctem-dev/ctem/internal/store"
)

// Default analysis options: the most likely paths per crown jewel and the
// longest path, in steps.
const (
	DefaultK        = 5
	DefaultMaxSteps = 10
)

// recordAttempts is how often an analysis is run again when recording it
// conflicts with a newer one (see store.ErrConflict): each attempt reads
// the newer data.
const recordAttempts = 3

// AnalysisResult is an analysis that ran: its input and result, what the
// store recorded of it, the paths it opened and closed, and for a partial
// analysis the components it covered (Kept) of all (Total).
type AnalysisResult struct {
	Run         *analyze.Run
	Analysis    store.Analysis
	Events      []store.PathEvent
	Kept, Total int
	// Duration is how long the analysis took, reading and recording
	// included.
	Duration time.Duration
}

// Opened and Closed count the result's events.
func (r *AnalysisResult) Opened() int { return r.count("opened") }

// Closed counts the paths the analysis closed.
func (r *AnalysisResult) Closed() int { return r.count("closed") }

func (r *AnalysisResult) count(ev string) int {
	n := 0
	for _, e := range r.Events {
		if e.Event == ev {
			n++
		}
	}
	return n
}

// normOptions fills the zero options with the defaults and rejects bad
// ones.
func normOptions(opt graph.Options) (graph.Options, error) {
	if opt.K == 0 {
		opt.K = DefaultK
	}
	if opt.MaxSteps == 0 {
		opt.MaxSteps = DefaultMaxSteps
	}
	if opt.K < 1 || opt.MaxSteps < 1 {
		return opt, badInput(errors.New("-k and --max-steps must be at least 1"))
	}
	return opt, nil
}

// prepared is an analysis ready to run: what it read and its input.
type prepared struct {
	in    *analysisInputs
	intel Intel
	seq   int64
	prev  store.Analysis // the latest recorded analysis when prepared
	run   *analyze.Run
	kept  int
	total int
}

// prepare reads the inputs and builds the run: of every component, or
// with changed set of the components holding those assets. The ingest
// sequence is read first, so that the analysis never claims data newer
// than what it read.
func (a *App) prepare(ctx context.Context, changed []string, partial bool) (*prepared, error) {
	seq, err := a.Store.IngestSeq(ctx)
	if err != nil {
		return nil, err
	}
	prev, _, err := a.Store.LatestAnalysis(ctx)
	if err != nil {
		return nil, err
	}
	in, err := a.loadInputs(ctx)
	if err != nil {
		return nil, err
	}
	es, err := a.estate(ctx, in)
	if err != nil {
		return nil, err
	}
	intel, err := a.intel()
	if err != nil {
		return nil, err
	}
	p := &prepared{in: in, intel: intel, seq: seq, prev: prev}
	for _, w := range Unmatched(es) {
		a.warnf("%s", w)
	}
	if !hasJewel(es) {
		// No crown jewel, no path: nothing of the exposures is read.
		p.run = &analyze.Run{Estate: es, Input: &graph.Input{Entries: []graph.Entry{}}, Exposures: map[string]*model.Exposure{}, Partial: partial}
		return p, nil
	}
	if partial {
		p.run, p.kept, p.total, err = analyze.PrepareAffected(ctx, a.Store, es, intel.Intel, changed)
	} else {
		p.run, err = analyze.Prepare(ctx, a.Store, es, intel.Intel)
	}
	if err != nil {
		return nil, err
	}
	return p, nil
}

// Analyze runs the analysis of every component and records it (see
// store.Results.RecordAnalysis). When a newer analysis was recorded while
// it ran, it runs again on the newer data, up to three times, then
// returns ErrConflict. An estate with no crown jewel has no path to find:
// the analysis is recorded as empty at once, without reading the
// exposures.
func (a *App) Analyze(ctx context.Context, opt graph.Options) (*AnalysisResult, error) {
	opt, err := normOptions(opt)
	if err != nil {
		return nil, err
	}
	return a.runAndRecord(ctx, opt, nil, false, 0)
}

// Reanalyze keeps the analysis current after new data: when the database
// holds an analysis, it re-runs it on the connected components that hold
// a changed asset, with the options of the last analysis, and records the
// paths that opened and closed there. It returns nil when the database
// was never analysed. why says what changed, for the log.
func (a *App) Reanalyze(ctx context.Context, changed []string, why string) (*AnalysisResult, error) {
	return a.reanalyze(ctx, changed, why, -1)
}

// reanalyze is Reanalyze after the ingest that began at ingest sequence
// since (-1 when no ingest prompted it): when everything before it had
// been analysed, the re-analysis brings the analysis up to date.
func (a *App) reanalyze(ctx context.Context, changed []string, why string, since int64) (*AnalysisResult, error) {
	last, ok, err := a.Store.LatestAnalysis(ctx)
	if err != nil || !ok {
		if err == nil {
			// An older database may have paths but no analyses row.
			_, ok, err = a.Store.LastAnalysis(ctx)
			if err != nil || !ok {
				return nil, err
			}
		} else {
			return nil, err
		}
	}
	opt, _ := normOptions(graph.Options{K: last.K, MaxSteps: last.MaxSteps})
	r, err := a.runAndRecord(ctx, opt, changed, true, since)
	if err != nil {
		return nil, err
	}
	a.logf("re-analysed %d of %d components for %s: %d attack paths there (%d opened, %d closed); see 'ctem events'",
		r.Kept, r.Total, why, len(r.Run.Result.Paths), r.Opened(), r.Closed())
	return r, nil
}

func (a *App) runAndRecord(ctx context.Context, opt graph.Options, changed []string, partial bool, since int64) (*AnalysisResult, error) {
	start := time.Now()
	var err error
	for range recordAttempts {
		var p *prepared
		p, err = a.prepare(ctx, changed, partial)
		if err != nil {
			return nil, err
		}
		if err = p.run.RunContext(ctx, opt); err != nil {
			return nil, err
		}
		if a.beforeRecord != nil {
			a.beforeRecord()
		}
		var r *AnalysisResult
		r, err = a.record(ctx, p, opt, since)
		if errors.Is(err, ErrConflict) {
			a.logf("analysis not recorded: %v; running it again on the newer data", err)
			continue
		}
		if r != nil {
			r.Duration = time.Since(start)
		}
		return r, err
	}
	return nil, err
}

// contexts returns the estate context of every asset that holds one of
// the run's exposures, under its key and each of its other names.
func contexts(run *analyze.Run) ([]store.AssetContext, error) {
	seen := map[string]bool{}
	var out []store.AssetContext
	for x := range runExposures(run) {
		if seen[x.Asset] {
			continue
		}
		seen[x.Asset] = true
		data, err := json.Marshal(run.Estate.Context(x.Asset))
		if err != nil {
			return nil, err
		}
		names := []string{x.Asset}
		if as, ok := run.Estate.Assets[x.Asset]; ok {
			names = append(names, as.Aliases...)
		}
		for _, n := range names {
			out = append(out, store.AssetContext{Key: n, Anchor: x.Asset, Data: string(data)})
		}
	}
	slices.SortFunc(out, func(a, b store.AssetContext) int { return strings.Compare(a.Key, b.Key) })
	return out, nil
}

// runExposures yields the run's exposures, in no particular order: when
// they are those of its weaknesses (a full run), by walking the
// weaknesses in order rather than the map of a million exposures, each
// a random memory access (a second of recording an analysis).
func runExposures(run *analyze.Run) iter.Seq[*model.Exposure] {
	return func(yield func(*model.Exposure) bool) {
		if len(run.Exposures) == len(run.Input.Weaknesses) {
			for i := range run.Input.Weaknesses {
				if !yield(&run.Input.Weaknesses[i].Exposure) {
					return
				}
			}
			return
		}
		for _, x := range run.Exposures {
			if !yield(x) {
				return
			}
		}
	}
}

// record stores a run and its results. A partial run after the ingest
// that began at since brings the analysis up to date (UpTo) only when
// everything before that ingest had been analysed.
func (a *App) record(ctx context.Context, p *prepared, opt graph.Options, since int64) (*AnalysisResult, error) {
	run := p.run
	upTo := p.seq
	if run.Partial && (since < 0 || p.prev.UpTo < since) {
		upTo = min(p.prev.UpTo, p.seq)
	}
	rec := &store.AnalysisRecord{Analysis: store.Analysis{
		At: a.now(), Partial: run.Partial, IngestSeq: p.seq, UpTo: upTo, Scope: p.in.ref, CodeOwners: p.in.codeOwners,
		Feeds: p.intel.Feeds, K: opt.K, MaxSteps: opt.MaxSteps, Paths: len(run.Result.Paths), Risk: run.Result.Risk,
	}, PathExposures: map[string][]string{}, PathNames: map[string]map[string]string{}}
	for _, path := range run.Result.Paths {
		steps, err := json.Marshal(path.Steps)
		if err != nil {
			return nil, err
		}
		sp := store.StoredPath{ID: path.ID, Entry: path.Entry, Target: path.Target, Jewel: path.Jewel,
			Likelihood: path.Likelihood, Risk: path.Risk, Validated: path.Validated, Steps: string(steps), Summary: analyze.Summary(path)}
		if path.Validated {
			evs := make([][]string, len(path.Steps))
			for i, s := range path.Steps {
				evs[i] = s.Evidence
			}
			sp.ValidatedBy = store.ValidatingKinds(evs)
		}
		rec.Paths = append(rec.Paths, sp)
		var xs []string
		for _, s := range path.Steps {
			xs = append(xs, s.ExposureIDs...)
		}
		rec.PathExposures[path.ID] = xs
		rec.PathNames[path.ID] = stepNames(path, run.Exposures)
	}
	if run.Partial {
		rec.Jewels = map[string]bool{}
		for _, j := range run.Input.Jewels {
			rec.Jewels[j.Asset] = true
		}
		for _, as := range run.Input.Assets {
			if as.Key != estate.InternetKey {
				rec.Covered = append(rec.Covered, as.Key)
			}
		}
	}
	for _, pr := range run.Result.Priorities {
		rec.Priorities = append(rec.Priorities, store.StoredPriority{ExposureID: pr.ExposureID, Anchor: assetOf(run.Exposures, pr.ExposureID),
			RiskRemoved: pr.RiskRemoved, Paths: pr.Paths})
	}
	for _, it := range run.Result.Plan.Items {
		data, err := json.Marshal(it)
		if err != nil {
			return nil, err
		}
		rec.Plan = append(rec.Plan, store.StoredAction{Anchor: anchor(it.Action, run.Exposures), Data: string(data)})
	}
	for _, c := range run.Result.ChokePoints {
		data, err := json.Marshal(c)
		if err != nil {
			return nil, err
		}
		rec.Chokes = append(rec.Chokes, store.StoredAction{Anchor: anchor(c.Action, run.Exposures), Data: string(data)})
	}
	rec.JewelRisks = jewelRisks(run.Input.Jewels, run.Result.Paths)
	var err error
	if rec.Contexts, err = contexts(run); err != nil {
		return nil, err
	}
	an, events, err := a.Store.RecordAnalysis(ctx, rec)
	if err != nil {
		return nil, err
	}
	return &AnalysisResult{Run: run, Analysis: an, Events: events, Kept: p.kept, Total: p.total}, nil
}

// anchor returns an asset key of the component an action belongs to: the
// asset of its first exposure, else the asset its relation or label is
// on. Components share no asset, so the anchor says which component's
// results the action is.
func anchor(ac graph.Action, xs map[string]*model.Exposure) string {
	for _, id := range ac.Exposures {
		if x, ok := xs[id]; ok {
			return x.Asset
		}
	}
	if len(ac.Relations) > 0 {
		// "type(action) from -> to"
		if i := strings.LastIndex(ac.Relations[0], " -> "); i >= 0 {
			to := ac.Relations[0][i+4:]
			if to != estate.InternetKey {
				return to
			}
			from := ac.Relations[0][:i]
			if j := strings.LastIndex(from, " "); j >= 0 {
				return from[j+1:]
			}
		}
	}
	parts := strings.Split(ac.Key, "|")
	switch {
	case len(parts) == 3 && parts[0] == "harden":
		return parts[1]
	case len(parts) == 5 && parts[0] == "remove":
		if parts[4] != estate.InternetKey {
			return parts[4]
		}
		return parts[3]
	}
	return ""
}

// assetOf returns the asset of exposure id of xs, "" when xs lacks it.
func assetOf(xs map[string]*model.Exposure, id string) string {
	if x, ok := xs[id]; ok {
		return x.Asset
	}
	return ""
}

// jewelRisks is each crown jewel's value and risk: v × (1 − Π(1 − Lᵢ))
// over the likelihoods of the paths to it, as package graph computes the
// risk its fix plan starts from.
func jewelRisks(jewels []graph.Jewel, paths []graph.Path) []store.JewelRisk {
	value := map[string]int{}
	var order []string
	for _, j := range jewels {
		if v, ok := value[j.Asset]; !ok || j.Value > v {
			if !ok {
				order = append(order, j.Asset)
			}
			value[j.Asset] = j.Value
		}
	}
	q := map[string]float64{}
	for _, p := range paths {
		if _, ok := q[p.Jewel]; !ok {
			q[p.Jewel] = 1
		}
		q[p.Jewel] *= 1 - p.Likelihood
	}
	out := make([]store.JewelRisk, 0, len(order))
	for _, j := range order {
		risk := 0.0
		if qq, ok := q[j]; ok {
			risk = float64(value[j]) * (1 - qq)
		}
		out = append(out, store.JewelRisk{Jewel: j, Value: value[j], Risk: math.Max(risk, 0)})
	}
	return out
}

// AfterFeedsUpdate re-analyses what a feed update changed: the connected
// components holding an open exposure to one of the changed
// vulnerabilities. It returns nil when no open exposure is affected or
// the database was never analysed.
func (a *App) AfterFeedsUpdate(ctx context.Context, vulns []string) (*AnalysisResult, error) {
	var assets []string
	for i := 0; i < len(vulns); i += 500 {
		chunk := vulns[i:min(i+500, len(vulns))]
		for x, err := range a.Store.Exposures(ctx, store.Filter{VulnIDs: chunk, Statuses: []model.Status{model.StatusOpen}}) {
			if err != nil {
				return nil, err
			}
			assets = append(assets, x.Asset)
		}
	}
	if len(assets) == 0 {
		a.logf("no open exposure is affected by the %d changed vulnerabilities", len(vulns))
		return nil, nil
	}
	return a.Reanalyze(ctx, assets, fmt.Sprintf("%d exposures with changed threat data", len(assets)))
}

// hasJewel reports whether the estate has a crown jewel.
func hasJewel(es *estate.Estate) bool {
	for _, a := range es.Assets {
		if a.CrownJewel != nil {
			return true
		}
	}
	return false
}

// WeaknessName is how a listing names an exposure: its first
// vulnerability id, else its rule.
func WeaknessName(x model.Exposure) string {
	if len(x.VulnIDs) > 0 {
		return x.VulnIDs[0]
	}
	return x.RuleID
}

// stepNames names the first exposure of each step of p.
func stepNames(p graph.Path, xs map[string]*model.Exposure) map[string]string {
	out := map[string]string{}
	for _, s := range p.Steps {
		if id := StepWeakness(s); id != "" {
			if x, ok := xs[id]; ok {
				out[x.ID] = WeaknessName(*x)
			}
		}
	}
	return out
}

// StepWeakness is the exposure a listing names a step by: the one whose
// way gives the step its probability (Step.Weakness), else, for paths
// stored before that field, the first of its exposures; "" for a step no
// weakness enables.
func StepWeakness(s graph.Step) string {
	if s.Weakness != "" {
		return s.Weakness
	}
	if len(s.ExposureIDs) > 0 {
		return s.ExposureIDs[0]
	}
	return ""
}
