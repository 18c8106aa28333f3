package validate

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/ctem-dev/ctem/internal/app"
	"github.com/ctem-dev/ctem/internal/model"
	"github.com/ctem-dev/ctem/internal/store"
	"github.com/ctem-dev/ctem/internal/validate/observe"
)

// FalcoSource names the evidence RecordFalco records; each run replaces
// the previous one's.
const FalcoSource = "falco"

// FalcoOutcome is what RecordFalco did.
type FalcoOutcome struct {
	// Confirmed maps an exposure to the workloads whose code execution
	// step it enables and an alert showed.
	Confirmed  map[string][]string `json:"confirmed"`
	Ignored    int                 `json:"ignored"`
	Recorded   int                 `json:"recorded"`
	Removed    int                 `json:"removed"`
	Reanalysis *app.AnalysisResult `json:"-"`
}

// RecordFalco records runtime-exec evidence from execution alerts: an
// alert in a container of image I (in namespace N when Falco names one)
// confirms, on the open paths, every step that gives code execution on a
// workload of the estate that runs I (in N), on the exposures that enable
// it. Alerts without a container or of other tactics confirm nothing
// (Ignored). It replaces the previous run's evidence and re-analyses.
func RecordFalco(ctx context.Context, a *app.App, alerts []observe.FalcoAlert) (*FalcoOutcome, error) {
	rep, ok := a.Store.(store.EvidenceReplacer)
	if !ok {
		return nil, ErrNoEvidenceStore
	}
	var hits []observe.FalcoAlert
	out := &FalcoOutcome{Confirmed: map[string][]string{}}
	for _, al := range alerts {
		if al.Image == "" || !al.Execution() {
			out.Ignored++
			continue
		}
		hits = append(hits, al)
	}
	// The workloads that run each image.
	runs := map[string][]string{}
	for rel, err := range a.Store.Relations(ctx, store.Filter{}) {
		if err != nil {
			return nil, err
		}
		if rel.Type == model.RelRuns && strings.HasPrefix(rel.To, "image:") {
			runs[rel.To] = append(runs[rel.To], rel.From)
		}
	}
	shown := map[string]observe.FalcoAlert{} // workload -> an alert in it
	for _, al := range hits {
		for _, w := range runs[model.ImageKey(al.Image)] {
			if ns, ok := k8sNamespace(w); al.Namespace != "" && ok && ns != al.Namespace {
				continue
			}
			if _, ok := shown[w]; !ok {
				shown[w] = al
			}
		}
	}
	pl, err := a.Paths(ctx, app.PathQuery{})
	if err != nil {
		return nil, err
	}
	var findings []string
	var evs []model.Evidence
	changed := map[string]bool{}
	done := map[string]bool{}
	for _, p := range pl.Paths {
		for _, s := range p.Steps {
			if s.Capability != "exec" {
				continue
			}
			al, ok := shown[s.Asset]
			if !ok {
				continue
			}
			for _, id := range s.ExposureIDs {
				if slices.Contains(out.Confirmed[id], s.Asset) {
					continue
				}
				out.Confirmed[id] = append(out.Confirmed[id], s.Asset)
				x, err := a.Store.Exposure(ctx, id)
				if err != nil {
					return nil, err
				}
				changed[x.Asset] = true
				for _, f := range x.FindingIDs {
					if done[f+s.Asset] {
						continue
					}
					done[f+s.Asset] = true
					findings = append(findings, f)
					evs = append(evs, model.Evidence{Kind: model.EvidenceRuntimeExec, Asset: x.Asset, FindingID: f, At: al.Time,
						Detail: fmt.Sprintf("Falco %q (%s) in %s/%s running %s: code ran on %s", al.Rule, al.Priority, al.Namespace, al.Pod, al.Image, s.Asset)})
				}
			}
		}
	}
	var all []string
	for e, err := range a.Store.AllEvidence(ctx) {
		if err != nil {
			return nil, err
		}
		if e.Source == FalcoSource {
			all = append(all, e.FindingID)
			if e.Asset != "" {
				changed[e.Asset] = true
			}
		}
	}
	n, err := rep.ReplaceEvidence(ctx, FalcoSource, slices.Concat(findings, all), evs, time.Time{})
	if err != nil {
		return nil, err
	}
	out.Recorded, out.Removed = len(evs), n
	if len(changed) == 0 {
		return out, nil
	}
	assets := make([]string, 0, len(changed))
	for k := range changed {
		assets = append(assets, k)
	}
	slices.Sort(assets)
	out.Reanalysis, err = a.Reanalyze(ctx, assets, "Falco alerts")
	return out, err
}
