package validate

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/ctem-dev/ctem/internal/app"
	"github.com/ctem-dev/ctem/internal/model"
	"github.com/ctem-dev/ctem/internal/store"
)

// RuntimeSource names the evidence RecordRunning records; each run
// replaces the previous one's.
const RuntimeSource = "kubectl-runtime"

// maxPodsInput bounds what ParsePods reads.
const maxPodsInput = 512 << 20

// Running is one running container of the live cluster.
type Running struct {
	Namespace string `json:"namespace"`
	Pod       string `json:"pod"`
	Container string `json:"container"`
	// Image is the reference the pod names; ImageID what the runtime
	// resolved it to (kubectl's imageID, "docker-pullable://repo@sha256:…").
	Image   string `json:"image"`
	ImageID string `json:"image_id,omitempty"`
}

// podDoc is what ParsePods reads of a Pod or a List of them.
type podDoc struct {
	Kind     string `json:"kind"`
	Metadata struct {
		Name      string `json:"name"`
		Namespace string `json:"namespace"`
	} `json:"metadata"`
	Status struct {
		ContainerStatuses     []containerStatus `json:"containerStatuses"`
		InitContainerStatuses []containerStatus `json:"initContainerStatuses"`
	} `json:"status"`
	Items []json.RawMessage `json:"items"`
}

type containerStatus struct {
	Name    string `json:"name"`
	Image   string `json:"image"`
	ImageID string `json:"imageID"`
	State   struct {
		Running *struct{} `json:"running"`
	} `json:"state"`
}

// ParsePods reads kubectl's JSON output of pods (kubectl get pods -A -o
// json: a List or PodList of Pods, or one Pod) and returns the containers
// running, in input order. Other kinds in a List are skipped. Bad input
// is an error naming the input and the byte offset.
func ParsePods(name string, r io.Reader) ([]Running, error) {
	dec := json.NewDecoder(io.LimitReader(r, maxPodsInput))
	var doc podDoc
	if err := dec.Decode(&doc); err != nil {
		return nil, fmt.Errorf("%s: offset %d: not kubectl's JSON output of pods: %w", name, dec.InputOffset(), err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("%s: offset %d: more than one JSON document", name, dec.InputOffset())
	}
	var out []Running
	switch doc.Kind {
	case "Pod":
		out = appendRunning(out, &doc)
	case "List", "PodList":
		for i, raw := range doc.Items {
			var p podDoc
			if err := json.Unmarshal(raw, &p); err != nil {
				return nil, fmt.Errorf("%s: items[%d]: %w", name, i, err)
			}
			if p.Kind == "Pod" || p.Kind == "" && doc.Kind == "PodList" {
				out = appendRunning(out, &p)
			}
		}
	default:
		return nil, fmt.Errorf("%s: kind %q: want a Pod, PodList or List (kubectl get pods -A -o json)", name, doc.Kind)
	}
	return out, nil
}

func appendRunning(out []Running, p *podDoc) []Running {
	for _, c := range slices.Concat(p.Status.ContainerStatuses, p.Status.InitContainerStatuses) {
		if c.State.Running == nil || c.Image == "" {
			continue
		}
		out = append(out, Running{Namespace: p.Metadata.Namespace, Pod: p.Metadata.Name, Container: c.Name, Image: c.Image, ImageID: c.ImageID})
	}
	return out
}

// ImageKeys returns the asset keys that name what r runs: its image
// reference's, and the digest's the runtime resolved it to.
func (r Running) ImageKeys() []string {
	keys := []string{model.ImageKey(r.Image)}
	id := r.ImageID
	for _, p := range []string{"docker-pullable://", "docker://", "containerd://", "cri-o://"} {
		id = strings.TrimPrefix(id, p)
	}
	if repo, digest, ok := strings.Cut(id, "@"); ok && strings.HasPrefix(digest, "sha256:") {
		keys = append(keys, model.ImageKey(repo+"@"+digest))
	} else if strings.HasPrefix(id, "sha256:") {
		ref, _ := model.ParseImageRef(r.Image)
		keys = append(keys, model.ImageKey(ref.Name()+"@"+id))
	}
	return keys
}

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
func RecordRunning(ctx context.Context, a *app.App, rs []Running) (*RuntimeOutcome, error) {
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
	// The assets whose earlier runtime facts go.
	for e, err := range a.Store.AllEvidence(ctx) {
		if err != nil {
			return nil, err
		}
		if e.Source == RuntimeSource && e.Asset != "" {
			changed[e.Asset] = true
		}
	}
	// No expiry by age: each listing replaces the last.
	n, err := rep.ReplaceEvidence(ctx, RuntimeSource, findings, evs, time.Time{})
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
	out.Reanalysis, err = a.Reanalyze(ctx, assets, "the cluster's running images")
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
