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

// Technique is what an alert shows an attacker did in a container, as
// far as attack-path steps go.
type Technique string

// The techniques of Falco's default rules (falcosecurity/rules,
// falco_rules.yaml) that validate steps.
const (
	// TechExec: code ran in the container: a shell (Terminal shell in
	// container, tags mitre_execution, T1059), or a process wrote below
	// /etc, /root or a binary directory (Write below etc, Write below
	// root, Write below binary dir; mitre_persistence), which takes
	// code running there.
	TechExec Technique = "exec"
	// TechReadSecret: a process read a sensitive file (Read sensitive
	// file untrusted, Read sensitive file trusted after startup;
	// mitre_credential_access, T1555): the secrets in reach of the
	// workload were read.
	TechReadSecret Technique = "read-sensitive-file"
	// TechAPIServer: a process contacted the Kubernetes API server
	// (Contact K8S API Server From Container; mitre_discovery): the
	// workload's service account identity is in use.
	TechAPIServer Technique = "contact-k8s-api"
	// TechEscape: a container started privileged or with a sensitive
	// host mount (Launch Privileged Container, Launch Sensitive Mount
	// Container; T1610, T1611): the way to the node is open.
	TechEscape Technique = "sensitive-mount"
)

// falcoRules maps the default rules' names to their techniques.
var falcoRules = map[string]Technique{
	"Terminal shell in container":               TechExec,
	"Run shell untrusted":                       TechExec,
	"Write below etc":                           TechExec,
	"Write below root":                          TechExec,
	"Write below binary dir":                    TechExec,
	"Read sensitive file untrusted":             TechReadSecret,
	"Read sensitive file trusted after startup": TechReadSecret,
	"Contact K8S API Server From Container":     TechAPIServer,
	"Launch Privileged Container":               TechEscape,
	"Launch Sensitive Mount Container":          TechEscape,
}

// Technique returns what the alert shows, by its rule's name, else by
// its tags (mitre_execution or T1059 is code execution, T1611 an escape
// to the host); "" when it shows none of them.
func (a FalcoAlert) Technique() Technique {
	if t, ok := falcoRules[a.Rule]; ok {
		return t
	}
	switch {
	case slices.ContainsFunc(a.Tags, func(t string) bool {
		return t == "mitre_execution" || t == "T1059" || strings.HasPrefix(t, "T1059.")
	}):
		return TechExec
	case slices.Contains(a.Tags, "T1611"):
		return TechEscape
	}
	return ""
}

// Execution reports whether the alert shows code run in the container
// (TechExec).
func (a FalcoAlert) Execution() bool { return a.Technique() == TechExec }
