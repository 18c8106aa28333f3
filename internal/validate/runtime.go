package validate

import (
	"context"
	"slices"
	"strings"
	"time"

	"github.com/ctem-dev/ctem/internal/app"
	"github.com/ctem-dev/ctem/internal/model"
	"github.com/ctem-dev/ctem/internal/store"
	"github.com/ctem-dev/ctem/internal/validate/observe"
)

// RuntimeSource names the evidence RecordRunning records; each run
// replaces the previous one's.
const RuntimeSource = "kubectl-runtime"

// RuntimeOutcome is what RecordRunning did.
type RuntimeOutcome struct {
	// Running and NotRunning are the exposures on images the cluster
	// runs, and on images the estate's workloads in the listed
	// namespaces name but nothing runs, by id.
	Running    []string            `json:"running"`
	NotRunning []string            `json:"not_running"`
	Recorded   int                 `json:"recorded"`
	Removed    int                 `json:"removed"`
	Reanalysis *app.AnalysisResult `json:"-"`
}

// RecordRunning records what the live cluster runs as evidence on the
// open exposures on images: image-running when a running container's
// image or digest is the exposure's asset, image-not-running when a
// Kubernetes workload of the estate in a namespace the listing covers
// runs the image by its manifest but no container runs it (a listing
// covers the namespaces its pods are in). It replaces the previous
// run's evidence and re-analyses what changed.
func RecordRunning(ctx context.Context, a *app.App, rs []observe.Running) (*RuntimeOutcome, error) {
	rep, ok := a.Store.(store.EvidenceReplacer)
	if !ok {
		return nil, ErrNoEvidenceStore
	}
	runs := map[string]bool{}
	covered := map[string]bool{}
	for _, r := range rs {
		covered[r.Namespace] = true
		for _, k := range r.ImageKeys() {
			runs[k] = true
		}
	}
	// The images the estate's workloads in covered namespaces run.
	named := map[string]bool{}
	for rel, err := range a.Store.Relations(ctx, store.Filter{}) {
		if err != nil {
			return nil, err
		}
		if rel.Type != model.RelRuns || !strings.HasPrefix(rel.To, "image:") {
			continue
		}
		if ns, ok := k8sNamespace(rel.From); ok && covered[ns] {
			named[rel.To] = true
		}
	}
	out := &RuntimeOutcome{}
	var findings []string
	var evs []model.Evidence
	changed := map[string]bool{}
	for x, err := range a.Store.Exposures(ctx, store.Filter{Assets: []string{"image:*"}, Statuses: []model.Status{model.StatusOpen, model.StatusAccepted}}) {
		if err != nil {
			return nil, err
		}
		findings = append(findings, x.FindingIDs...)
		var kind model.EvidenceKind
		var detail string
		switch {
		case runs[x.Asset]:
			kind, detail = model.EvidenceImageRunning, "a running container runs "+x.Asset
			out.Running = append(out.Running, x.ID)
		case named[x.Asset]:
			kind, detail = model.EvidenceImageNotRunning, "the estate's workloads name "+x.Asset+" but no container in their namespaces runs it"
			out.NotRunning = append(out.NotRunning, x.ID)
		default:
			continue
		}
		changed[x.Asset] = true
		for _, f := range x.FindingIDs {
			evs = append(evs, model.Evidence{Kind: kind, Asset: x.Asset, FindingID: f, Detail: detail})
		}
	}
	// No expiry by age: each listing replaces the last.
	var err error
	out.Recorded = len(evs)
	out.Removed, out.Reanalysis, err = replaceSource(ctx, a, rep, RuntimeSource, findings, evs, changed, false, "the cluster's running images")
	return out, err
}

// k8sNamespace returns the namespace of a Kubernetes object's key
// (k8s:CLUSTER/NAMESPACE/KIND/NAME).
func k8sNamespace(key string) (string, bool) {
	rest, ok := strings.CutPrefix(key, "k8s:")
	if !ok {
		return "", false
	}
	parts := strings.Split(rest, "/")
	if len(parts) != 4 {
		return "", false
	}
	return parts[1], true
}

// replaceSource stores evs as the whole evidence of source: the facts
// about findings (and, with dropPrior, about every finding the source
// named before) are replaced. It then re-analyses the assets in changed
// and those of the source's earlier facts, whose validation may have
// changed, and returns how many facts went and the re-analysis (nil when
// no asset changed).
func replaceSource(ctx context.Context, a *app.App, rep store.EvidenceReplacer, source string, findings []string, evs []model.Evidence, changed map[string]bool, dropPrior bool, reason string) (int, *app.AnalysisResult, error) {
	var prior []string
	for e, err := range a.Store.AllEvidence(ctx) {
		if err != nil {
			return 0, nil, err
		}
		if e.Source != source {
			continue
		}
		if dropPrior {
			prior = append(prior, e.FindingID)
		}
		if e.Asset != "" {
			changed[e.Asset] = true
		}
	}
	n, err := rep.ReplaceEvidence(ctx, source, slices.Concat(findings, prior), evs, time.Time{})
	if err != nil {
		return 0, nil, err
	}
	if len(changed) == 0 {
		return n, nil, nil
	}
	assets := make([]string, 0, len(changed))
	for k := range changed {
		assets = append(assets, k)
	}
	slices.Sort(assets)
	re, err := a.Reanalyze(ctx, assets, reason)
	return n, re, err
}
