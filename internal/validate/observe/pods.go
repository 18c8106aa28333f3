// Package observe reads what a live system shows about itself: the
// containers a Kubernetes cluster runs (kubectl's JSON output of pods)
// and the alerts of a runtime detector (Falco's JSON output). It parses
// only; package validate turns what it reads into evidence.
package observe

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/ctem-dev/ctem/internal/model"
)

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
