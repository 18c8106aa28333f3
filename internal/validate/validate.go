package validate

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/ctem-dev/ctem/internal/app"
	"github.com/ctem-dev/ctem/internal/graph"
	"github.com/ctem-dev/ctem/internal/model"
	"github.com/ctem-dev/ctem/internal/store"
)

// Source names the evidence ctem validate records. Each run replaces
// the facts of this source about the exposures it probed for.
const Source = "ctem-validate"

// DefaultMaxAge is how long a probe's evidence counts: older facts of
// Source are deleted by the next run.
const DefaultMaxAge = 30 * 24 * time.Hour

// StateNoPath is the state of a target whose asset starts no open attack
// path: it is not probed.
const StateNoPath = "no-path"

// ErrNoEvidenceStore is returned when the store cannot replace evidence.
var ErrNoEvidenceStore = errors.New("this store cannot record probe evidence")

// RunOptions are Options and what Run does with the results.
type RunOptions struct {
	Options
	// DryRun lists what would be contacted and contacts nothing.
	DryRun bool
	// MaxAge expires older probe evidence; 0 means DefaultMaxAge.
	MaxAge time.Duration
}

// Outcome is what a run did.
type Outcome struct {
	Results []Result `json:"results"`
	// Exposures maps a target's asset to the exposures its probe
	// confirmed or refuted.
	Exposures map[string][]string `json:"exposures"`
	// Recorded counts the facts recorded; Removed the facts of earlier
	// runs deleted, replaced by these or older than the maximum age.
	Recorded int `json:"recorded"`
	Removed  int `json:"removed"`
	// Reanalysis is the re-analysis the evidence caused, nil when none
	// ran.
	Reanalysis *app.AnalysisResult `json:"-"`
}

// EntryExposures returns the exposures whose steps a probe of the entry
// asset vouches for: on every path whose entry is network access to the
// asset, those of the steps taken from network states (routing to the
// workload behind it, then the weakness reached over the network), up to
// the first step taken from another capability. Sorted and distinct.
func EntryExposures(paths []graph.Path, asset string) []string {
	var out []string
	for _, s := range entrySteps(paths, asset) {
		out = append(out, s.exposure)
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// Run probes the targets whose asset starts an open attack path, records
// the results as evidence on the exposures each entry leads to
// (probe-confirmed for an open entry, probe-refuted for a closed,
// filtered or unreachable one; an error records nothing), expires older probe evidence,
// and re-analyses what changed. A dry run contacts nothing and records
// nothing.
func Run(ctx context.Context, a *app.App, ts []Target, opt RunOptions) (*Outcome, error) {
	if err := CheckTargets(ts); err != nil {
		return nil, err
	}
	pl, err := a.Paths(ctx, app.PathQuery{})
	if err != nil {
		return nil, err
	}
	out := &Outcome{Exposures: map[string][]string{}}
	var probe []Target
	for _, t := range ts {
		xs := EntryExposures(pl.Paths, t.Asset)
		if len(xs) == 0 {
			continue
		}
		out.Exposures[t.Asset] = xs
		probe = append(probe, t)
	}
	var results []Result
	if opt.DryRun {
		results, err = DryRun(probe, opt.Options)
	} else {
		results, err = Probe(ctx, probe, opt.Options)
	}
	if err != nil {
		return nil, err
	}
	// Results in target order, the unprobed ones said so.
	k := 0
	for _, t := range ts {
		if _, ok := out.Exposures[t.Asset]; ok && k < len(results) && results[k].Target == t {
			out.Results = append(out.Results, results[k])
			k++
			continue
		}
		out.Results = append(out.Results, Result{Target: t, State: StateNoPath, Detail: "no open attack path starts at this asset: not probed"})
	}
	if opt.DryRun {
		return out, nil
	}
	return out, record(ctx, a, out, opt)
}

// record writes the results as evidence and re-analyses.
func record(ctx context.Context, a *app.App, out *Outcome, opt RunOptions) error {
	rep, ok := a.Store.(store.EvidenceReplacer)
	if !ok {
		return ErrNoEvidenceStore
	}
	var findings []string
	var evs []model.Evidence
	changed := map[string]bool{}
	for _, r := range out.Results {
		var kind model.EvidenceKind
		switch r.State {
		case StateOpen:
			kind = model.EvidenceProbeConfirmed
		case StateClosed, StateFiltered, StateUnreachable:
			kind = model.EvidenceProbeRefuted
		default:
			continue
		}
		for _, id := range out.Exposures[r.Target.Asset] {
			x, err := a.Store.Exposure(ctx, id)
			if errors.Is(err, store.ErrNotFound) {
				continue
			}
			if err != nil {
				return err
			}
			changed[x.Asset] = true
			for _, f := range x.FindingIDs {
				findings = append(findings, f)
				evs = append(evs, model.Evidence{Kind: kind, Asset: x.Asset, FindingID: f,
					Detail: fmt.Sprintf("%s via %s: %s", r.State, r.Target.Asset, r.Detail), At: r.At})
			}
		}
	}
	maxAge := opt.MaxAge
	if maxAge <= 0 {
		maxAge = DefaultMaxAge
	}
	now := time.Now
	if opt.Now != nil {
		now = opt.Now
	}
	cutoff := now().Add(-maxAge)
	// The assets of the facts about to expire change too.
	for e, err := range a.Store.AllEvidence(ctx) {
		if err != nil {
			return err
		}
		if e.Source == Source && e.At.Before(cutoff) && e.Asset != "" {
			changed[e.Asset] = true
		}
	}
	n, err := rep.ReplaceEvidence(ctx, Source, findings, evs, cutoff)
	if err != nil {
		return err
	}
	out.Recorded, out.Removed = len(evs), n
	if len(changed) == 0 {
		return nil
	}
	assets := make([]string, 0, len(changed))
	for k := range changed {
		assets = append(assets, k)
	}
	slices.Sort(assets)
	out.Reanalysis, err = a.Reanalyze(ctx, assets, "probe results")
	return err
}
