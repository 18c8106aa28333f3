package observe

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"
)

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
