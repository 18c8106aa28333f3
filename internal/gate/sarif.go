package gate

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
)

// The gate's SARIF is a handful of fields, written with its own small
// structs (as govulncheck writes its SARIF) rather than a binding of the
// whole specification.

// SARIF rule ids.
const (
	RuleNewPath = "ctem/new-attack-path"
	RuleNewKEV  = "ctem/new-kev-internet"
	RulePolicy  = "ctem/policy"
)

type sarifLog struct {
	Schema  string     `json:"$schema"`
	Version string     `json:"version"`
	Runs    []sarifRun `json:"runs"`
}

type sarifRun struct {
	Tool    sarifTool     `json:"tool"`
	Results []sarifResult `json:"results"`
}

type sarifTool struct {
	Driver sarifDriver `json:"driver"`
}

type sarifDriver struct {
	Name           string      `json:"name"`
	InformationURI string      `json:"informationUri"`
	Version        string      `json:"version,omitempty"`
	Rules          []sarifRule `json:"rules"`
}

type sarifRule struct {
	ID               string       `json:"id"`
	Name             string       `json:"name"`
	ShortDescription sarifMessage `json:"shortDescription"`
	FullDescription  sarifMessage `json:"fullDescription"`
	Help             sarifMessage `json:"help"`
	Properties       sarifProps   `json:"properties"`
}

type sarifProps struct {
	Tags             []string `json:"tags,omitempty"`
	SecuritySeverity string   `json:"security-severity,omitempty"`
}

type sarifMessage struct {
	Text string `json:"text"`
}

type sarifResult struct {
	RuleID              string            `json:"ruleId"`
	RuleIndex           int               `json:"ruleIndex"`
	Level               string            `json:"level"`
	Message             sarifMessage      `json:"message"`
	Locations           []sarifLocation   `json:"locations"`
	PartialFingerprints map[string]string `json:"partialFingerprints"`
}

type sarifLocation struct {
	PhysicalLocation *sarifPhysical `json:"physicalLocation,omitempty"`
	LogicalLocations []sarifLogical `json:"logicalLocations,omitempty"`
}

type sarifPhysical struct {
	ArtifactLocation sarifArtifact `json:"artifactLocation"`
	Region           *sarifRegion  `json:"region,omitempty"`
}

type sarifArtifact struct {
	URI string `json:"uri"`
}

type sarifRegion struct {
	StartLine int `json:"startLine"`
}

type sarifLogical struct {
	FullyQualifiedName string `json:"fullyQualifiedName"`
	Kind               string `json:"kind,omitempty"`
}

// SARIFSchema is the URI of the SARIF 2.1.0 schema the output follows.
const SARIFSchema = "https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json"

// WriteSARIF writes what the change introduced as a SARIF 2.1.0 log for
// code scanning: one error result per new attack path and per new KEV
// exposure, nothing the base already had. Each result is placed in the
// finding's file when it has one, else in the first of the change's
// inputs, and carries the asset as a logical location and a stable
// fingerprint (the path or exposure id), so that code scanning tracks it
// across runs.
func WriteSARIF(w io.Writer, r *Report, version string) error {
	rules := []sarifRule{
		{ID: RuleNewPath, Name: "NewAttackPath",
			ShortDescription: sarifMessage{"The change opens a new attack path to a crown jewel"},
			FullDescription:  sarifMessage{"An attacker at an entry point of the scope can reach a crown jewel through a path that the base did not have."},
			Help:             sarifMessage{"Run 'ctem paths' and 'ctem fixplan' on the change; remove a step of the path (the fix plan names the cheapest)."},
			Properties:       sarifProps{Tags: []string{"security", "attack-path"}, SecuritySeverity: "9.0"}},
		{ID: RuleNewKEV, Name: "NewKnownExploitedOnInternet",
			ShortDescription: sarifMessage{"The change adds a known exploited vulnerability on an internet-facing asset"},
			FullDescription:  sarifMessage{"A vulnerability in CISA's Known Exploited Vulnerabilities catalog is now present on an asset reached from the internet."},
			Help:             sarifMessage{"Upgrade the package to the fixed version, or keep the asset off the internet."},
			Properties:       sarifProps{Tags: []string{"security", "kev"}, SecuritySeverity: "9.5"}},
		{ID: RulePolicy, Name: "FailPolicy",
			ShortDescription: sarifMessage{"The change makes a fail policy of the scope file match"},
			FullDescription:  sarifMessage{"A policy written in CEL in the scope file, with action fail, matches a path or exposure the change introduced."},
			Help:             sarifMessage{"Run 'ctem policy test' on the change to see each match and the values it read."},
			Properties:       sarifProps{Tags: []string{"security", "policy"}, SecuritySeverity: "8.0"}},
	}
	fallback := "ctem"
	if len(r.Inputs) > 0 {
		fallback = r.Inputs[0]
	}
	results := []sarifResult{}
	for _, p := range r.NewPaths {
		var steps []string
		for _, s := range p.Steps {
			steps = append(steps, s.Rule+" to "+s.To)
		}
		results = append(results, sarifResult{
			RuleID: RuleNewPath, RuleIndex: 0, Level: "error",
			Message: sarifMessage{fmt.Sprintf("New attack path to crown jewel %s (risk %.2f): from %s, %s.", p.Jewel, p.Risk, p.Entry, strings.Join(steps, ", "))},
			Locations: []sarifLocation{{
				PhysicalLocation: &sarifPhysical{ArtifactLocation: sarifArtifact{URI: uri(fallback)}},
				LogicalLocations: []sarifLogical{{FullyQualifiedName: p.Jewel, Kind: "resource"}},
			}},
			PartialFingerprints: map[string]string{"ctemPath/v1": p.ID},
		})
	}
	for _, k := range r.NewKEV {
		file, line := fallback, 0
		if k.Exposure.Location.Path != "" {
			file, line = k.Exposure.Location.Path, k.Exposure.Location.Line
		}
		ph := &sarifPhysical{ArtifactLocation: sarifArtifact{URI: uri(file)}}
		if line > 0 {
			ph.Region = &sarifRegion{StartLine: line}
		}
		results = append(results, sarifResult{
			RuleID: RuleNewKEV, RuleIndex: 1, Level: "error",
			Message: sarifMessage{fmt.Sprintf("%s (known exploited) in %s %s on %s, reached from the internet through %s; fixed in %s.",
				k.CVE, k.Exposure.Package.Name, k.Exposure.Package.Version, k.Exposure.Asset, k.Via, orNone(k.Exposure.Package.FixedVersion))},
			Locations: []sarifLocation{{
				PhysicalLocation: ph,
				LogicalLocations: []sarifLogical{{FullyQualifiedName: k.Exposure.Asset, Kind: "resource"}},
			}},
			PartialFingerprints: map[string]string{"ctemExposure/v1": k.Exposure.ID},
		})
	}
	for _, m := range r.Policies {
		results = append(results, sarifResult{
			RuleID: RulePolicy, RuleIndex: 2, Level: "error",
			Message: sarifMessage{fmt.Sprintf("Policy %s matches %s %s: %s.", m.Policy, m.On, m.Subject, strings.Join(m.Because, ", "))},
			Locations: []sarifLocation{{
				PhysicalLocation: &sarifPhysical{ArtifactLocation: sarifArtifact{URI: uri(fallback)}},
				LogicalLocations: []sarifLogical{{FullyQualifiedName: m.Subject, Kind: "resource"}},
			}},
			PartialFingerprints: map[string]string{"ctemPolicy/v1": m.Policy + "/" + m.Subject},
		})
	}
	log := sarifLog{Schema: SARIFSchema, Version: "2.1.0", Runs: []sarifRun{{
		Tool:    sarifTool{Driver: sarifDriver{Name: "ctem", InformationURI: "https://github.com/ctem-dev/ctem", Version: version, Rules: rules}},
		Results: results,
	}}}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(log)
}

func orNone(s string) string {
	if s == "" {
		return "no version yet"
	}
	return s
}

// uri writes a file name as a relative URI reference: forward slashes,
// and characters outside the unreserved and path sets percent-encoded.
func uri(name string) string {
	name = strings.ReplaceAll(name, `\`, "/")
	var b strings.Builder
	for i := 0; i < len(name); i++ {
		c := name[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9', strings.IndexByte("-._~/", c) >= 0:
			b.WriteByte(c)
		default:
			fmt.Fprintf(&b, "%%%02X", c)
		}
	}
	return b.String()
}
