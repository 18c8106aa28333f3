package validate

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/ctem-dev/ctem/internal/app"
	"github.com/ctem-dev/ctem/internal/model"
	"github.com/ctem-dev/ctem/internal/store"
)

// FalcoSource names the evidence RecordFalco records; each run replaces
// the previous one's.
const FalcoSource = "falco"

// maxFalcoLine bounds one alert line.
const maxFalcoLine = 1 << 20

// FalcoAlert is one Falco alert (json_output: true), with the fields that
// tie it to a container.
type FalcoAlert struct {
	Time     time.Time `json:"time"`
	Rule     string    `json:"rule"`
	Priority string    `json:"priority"`
	Tags     []string  `json:"tags"`
	// Image is the container's image (repository:tag), Namespace and
	// Pod its Kubernetes pod's; empty when Falco saw no container.
	Image     string `json:"image,omitempty"`
	Namespace string `json:"namespace,omitempty"`
	Pod       string `json:"pod,omitempty"`
}

type falcoLine struct {
	Time         time.Time      `json:"time"`
	Rule         string         `json:"rule"`
	Priority     string         `json:"priority"`
	Tags         []string       `json:"tags"`
	OutputFields map[string]any `json:"output_fields"`
}

// ParseFalco reads Falco's JSON alerts, one per line. A line that is not
// an alert is an error naming the input and the line.
func ParseFalco(name string, r io.Reader) ([]FalcoAlert, error) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), maxFalcoLine)
	var out []FalcoAlert
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" {
			continue
		}
		var l falcoLine
		if err := json.Unmarshal([]byte(line), &l); err != nil {
			return nil, fmt.Errorf("%s:%d: not a Falco JSON alert: %w", name, n, err)
		}
		if l.Rule == "" {
			return nil, fmt.Errorf("%s:%d: a Falco alert names its rule", name, n)
		}
		a := FalcoAlert{Time: l.Time, Rule: l.Rule, Priority: l.Priority, Tags: l.Tags,
			Namespace: field(l.OutputFields, "k8s.ns.name"), Pod: field(l.OutputFields, "k8s.pod.name")}
		if repo := field(l.OutputFields, "container.image.repository"); repo != "" {
			a.Image = repo
			if tag := field(l.OutputFields, "container.image.tag"); tag != "" {
				a.Image += ":" + tag
			}
		}
		out = append(out, a)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	return out, nil
}

// field returns a string output field; Falco writes "<NA>" for none.
func field(m map[string]any, k string) string {
	s, _ := m[k].(string)
	if s == "<NA>" {
		return ""
	}
	return s
}

// Execution reports whether the alert shows code run in the container:
// a rule tagged with ATT&CK's execution tactic (mitre_execution) or
// technique T1059 (command and scripting interpreter), as Falco's rules
// for a shell in a container are.
func (a FalcoAlert) Execution() bool {
	return slices.ContainsFunc(a.Tags, func(t string) bool {
		return t == "mitre_execution" || t == "T1059" || strings.HasPrefix(t, "T1059.")
	})
}

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
func RecordFalco(ctx context.Context, a *app.App, alerts []FalcoAlert) (*FalcoOutcome, error) {
	rep, ok := a.Store.(store.EvidenceReplacer)
	if !ok {
		return nil, ErrNoEvidenceStore
	}
	var hits []FalcoAlert
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
	shown := map[string]FalcoAlert{} // workload -> an alert in it
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
