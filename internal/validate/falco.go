package validate

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/ctem-dev/ctem/internal/app"
	"github.com/ctem-dev/ctem/internal/graph"
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
	Confirmed map[string][]string `json:"confirmed"`
	// Observed lists the steps an alert showed that hold no exposure
	// (configuration steps, evidenced by the estate already): nothing is
	// recorded for them.
	Observed   []FalcoObserved     `json:"observed,omitempty"`
	Ignored    int                 `json:"ignored"`
	Recorded   int                 `json:"recorded"`
	Removed    int                 `json:"removed"`
	Reanalysis *app.AnalysisResult `json:"-"`
}

// FalcoObserved is a step an alert showed: its rule, states and the
// alert's rule.
type FalcoObserved struct {
	Rule  string `json:"rule"`
	From  string `json:"from"`
	Asset string `json:"asset"`
	Alert string `json:"alert"`
}

// RecordFalco records runtime-exec evidence from Falco alerts. An alert
// in a container of image I (in namespace N when Falco names one) is
// about the estate's workloads W that run I (in N); by its technique
// (observe.Technique) it shows, on the open paths, the steps that give
// code execution on W (a shell, a write below /etc), or that lead from
// code execution on W to a secret it reads (a sensitive file read), to
// its identity (the API server contacted) or to its node (a privileged
// or sensitive mount container). Those of them that rest on exposures are
// confirmed (runtime-exec evidence on their findings); the others are
// listed as Observed. Alerts without a container or of other techniques
// confirm nothing (Ignored). It replaces the previous run's evidence and
// re-analyses.
func RecordFalco(ctx context.Context, a *app.App, alerts []observe.FalcoAlert) (*FalcoOutcome, error) {
	rep, ok := a.Store.(store.EvidenceReplacer)
	if !ok {
		return nil, ErrNoEvidenceStore
	}
	var hits []observe.FalcoAlert
	out := &FalcoOutcome{Confirmed: map[string][]string{}}
	for _, al := range alerts {
		if al.Image == "" || al.Technique() == "" {
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
	type shownKey struct {
		workload string
		tech     observe.Technique
	}
	shown := map[shownKey]observe.FalcoAlert{} // an alert of each technique in each workload
	for _, al := range hits {
		for _, w := range alertWorkloads(al, runs[model.ImageKey(al.Image)]) {
			if _, ok := shown[shownKey{w, al.Technique()}]; !ok {
				shown[shownKey{w, al.Technique()}] = al
			}
		}
	}
	// match returns the alert that shows step s: code execution on the
	// workload, or from code execution on it, a read of a secret (a
	// sensitive file read), its identity (the API server contacted) or
	// execution on its node (a sensitive mount).
	match := func(s graph.Step) (observe.FalcoAlert, bool) {
		if s.Capability == "exec" {
			if al, ok := shown[shownKey{s.Asset, observe.TechExec}]; ok {
				return al, true
			}
		}
		w, ok := strings.CutPrefix(s.From, "exec:")
		if !ok {
			return observe.FalcoAlert{}, false
		}
		var tech observe.Technique
		switch {
		case s.Capability == "read":
			tech = observe.TechReadSecret
		case s.Capability == "identity":
			tech = observe.TechAPIServer
		case s.Capability == "exec" && s.Asset != w:
			tech = observe.TechEscape
		default:
			return observe.FalcoAlert{}, false
		}
		al, ok := shown[shownKey{w, tech}]
		return al, ok
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
			al, ok := match(s)
			if !ok {
				continue
			}
			if len(s.ExposureIDs) == 0 {
				// A step of configuration (a mounted secret, a bound
				// identity) holds no finding to carry evidence: say so.
				o := FalcoObserved{Rule: s.Rule, From: s.From, Asset: s.Asset, Alert: al.Rule}
				if !slices.Contains(out.Observed, o) {
					out.Observed = append(out.Observed, o)
				}
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
				// The evidence names the workload the step starts from
				// (the one the alert was seen in): it counts there only,
				// not on every workload of the image.
				_, src, _ := strings.Cut(s.From, ":")
				changed[src] = true
				for _, f := range x.FindingIDs {
					if done[f+" "+src] {
						continue
					}
					done[f+" "+src] = true
					findings = append(findings, f)
					evs = append(evs, model.Evidence{Kind: model.EvidenceRuntimeExec, Asset: src, FindingID: f, At: al.Time,
						Detail: fmt.Sprintf("Falco %q (%s, %s) in %s/%s running %s: step %s to %s seen", al.Rule, al.Priority, al.Technique(), al.Namespace, al.Pod, al.Image, s.Rule, s.Asset)})
				}
			}
		}
	}
	out.Recorded = len(evs)
	out.Removed, out.Reanalysis, err = replaceSource(ctx, a, rep, FalcoSource, findings, evs, changed, true, "Falco alerts")
	return out, err
}

// alertWorkloads returns the workloads among ws (those that run the
// alert's image) the alert was seen in: those of its namespace, and of
// them, when Falco names the pod, the one whose pods are named after it
// (a Deployment's "NAME-…-…", a DaemonSet's "NAME-…", a Pod's "NAME"; the
// longest such name), else all of the namespace.
func alertWorkloads(al observe.FalcoAlert, ws []string) []string {
	var inNS []string
	for _, w := range ws {
		if ns, ok := k8sNamespace(w); al.Namespace != "" && ok && ns != al.Namespace {
			continue
		}
		inNS = append(inNS, w)
	}
	if al.Pod == "" {
		return inNS
	}
	best, n := "", 0
	for _, w := range inNS {
		_, _, _, name, ok := model.ParseK8sKey(w)
		if ok && (al.Pod == name || strings.HasPrefix(al.Pod, name+"-")) && len(name) > n {
			best, n = w, len(name)
		}
	}
	if best == "" {
		return inNS
	}
	return []string{best}
}
