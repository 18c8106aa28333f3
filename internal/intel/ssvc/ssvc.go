// Package ssvc decides how urgently to respond to a vulnerability with
// CISA's Stakeholder-Specific Vulnerability Categorization (SSVC) decision
// tree: from Exploitation, Automatable, Technical Impact and Mission &
// Well-being to Track, Track*, Attend or Act. It also derives those
// decision points from what ctem knows (KEV, EPSS, CVSS, the weakness's
// effect, the asset's criticality) and reads the points CISA publishes in
// its ADP container of CVE records.
package ssvc

import (
	"fmt"
	"slices"
	"strings"
)

// Exploitation is the present state of exploitation of a vulnerability.
type Exploitation string

// The Exploitation values.
const (
	ExploitationNone   Exploitation = "none"   // no evidence of exploitation and no public proof of concept
	ExploitationPoC    Exploitation = "poc"    // a public proof of concept or a well-known method
	ExploitationActive Exploitation = "active" // reliable evidence of use in the wild
)

// Automatable says whether an attacker can reliably automate steps 1 to 4
// of the kill chain (reconnaissance, weaponization, delivery,
// exploitation).
type Automatable string

// The Automatable values.
const (
	AutomatableNo  Automatable = "no"
	AutomatableYes Automatable = "yes"
)

// TechnicalImpact is the control exploitation gives over the vulnerable
// component.
type TechnicalImpact string

// The TechnicalImpact values.
const (
	TechnicalImpactPartial TechnicalImpact = "partial" // limited control or information exposure
	TechnicalImpactTotal   TechnicalImpact = "total"   // total control, or total disclosure of its information
)

// MissionWellbeing combines Mission Prevalence and Public Well-being
// Impact: low (minimal and minimal), medium (support, with minimal or
// material well-being impact), high (essential, or irreversible
// well-being impact).
type MissionWellbeing string

// The MissionWellbeing values.
const (
	MissionLow    MissionWellbeing = "low"
	MissionMedium MissionWellbeing = "medium"
	MissionHigh   MissionWellbeing = "high"
)

// Decision is the outcome of the CISA tree.
type Decision string

// The decisions, from least to most urgent. CISA recommends remediating
// Track and Track* within standard update timelines, Attend sooner than
// standard, and Act as soon as possible.
const (
	Track     Decision = "Track"
	TrackStar Decision = "Track*"
	Attend    Decision = "Attend"
	Act       Decision = "Act"
)

// Rank orders decisions: Track 1 to Act 4, 0 for anything else.
func (d Decision) Rank() int {
	switch d {
	case Track:
		return 1
	case TrackStar:
		return 2
	case Attend:
		return 3
	case Act:
		return 4
	}
	return 0
}

// Inputs are the four decision points of the CISA tree.
type Inputs struct {
	Exploitation     Exploitation     `json:"exploitation"`
	Automatable      Automatable      `json:"automatable"`
	TechnicalImpact  TechnicalImpact  `json:"technical_impact"`
	MissionWellbeing MissionWellbeing `json:"mission_wellbeing"`
}

// node is a decision point of the tree; a leaf has a decision.
type node struct {
	point    string          // the decision point asked at this node
	children map[string]node // by value
	decision Decision        // set on leaves
}

func leaf(d Decision) node { return node{decision: d} }

// mwi is the Mission & Well-being node, the last question of every branch.
func mwi(low, medium, high Decision) node {
	return node{point: "mission_wellbeing", children: map[string]node{
		string(MissionLow): leaf(low), string(MissionMedium): leaf(medium), string(MissionHigh): leaf(high),
	}}
}

func ti(partial, total node) node {
	return node{point: "technical_impact", children: map[string]node{
		string(TechnicalImpactPartial): partial, string(TechnicalImpactTotal): total,
	}}
}

func auto(no, yes node) node {
	return node{point: "automatable", children: map[string]node{
		string(AutomatableNo): no, string(AutomatableYes): yes,
	}}
}

// cisaTree is CISA's SSVC decision tree in the order CISA draws it:
// Exploitation, Automatable, Technical Impact, Mission & Well-being.
// Source: CISA, "Stakeholder-Specific Vulnerability Categorization Guide"
// (November 2022), https://www.cisa.gov/sites/default/files/publications/cisa-ssvc-guide%20508c.pdf,
// as published in machine-readable form by CERT/CC as the "CISA
// Coordinator" decision table v2.0.3 (github.com/CERTCC/SSVC,
// data/json/decision_tables/cisa/cisa_coordinator_2_0_3.json), the version
// CISA names in its ADP SSVC assessments ("version": "2.0.3").
var cisaTree = node{point: "exploitation", children: map[string]node{
	string(ExploitationNone): auto(
		ti(mwi(Track, Track, Track), mwi(Track, Track, TrackStar)),
		ti(mwi(Track, Track, Attend), mwi(Track, Track, Attend)),
	),
	string(ExploitationPoC): auto(
		ti(mwi(Track, Track, TrackStar), mwi(Track, TrackStar, Attend)),
		ti(mwi(Track, Track, Attend), mwi(Track, TrackStar, Attend)),
	),
	string(ExploitationActive): auto(
		ti(mwi(Track, Track, Attend), mwi(Track, Attend, Act)),
		ti(mwi(Attend, Attend, Act), mwi(Attend, Act, Act)),
	),
}}

// Decide walks CISA's tree. Values are compared without case; an empty
// or unknown value of any decision point is an error naming it.
func Decide(in Inputs) (Decision, error) {
	values := map[string]string{
		"exploitation":      string(in.Exploitation),
		"automatable":       string(in.Automatable),
		"technical_impact":  string(in.TechnicalImpact),
		"mission_wellbeing": string(in.MissionWellbeing),
	}
	n := cisaTree
	for n.decision == "" {
		v := strings.ToLower(strings.TrimSpace(values[n.point]))
		next, ok := n.children[v]
		if !ok {
			return "", fmt.Errorf("ssvc: %s %q is not one of %s", n.point, values[n.point], choices(n))
		}
		n = next
	}
	return n.decision, nil
}

func choices(n node) string {
	var out []string
	for k := range n.children {
		out = append(out, k)
	}
	// The order of the specification, for stable messages.
	order := map[string]int{"none": 0, "poc": 1, "active": 2, "no": 0, "yes": 1, "partial": 0, "total": 1, "low": 0, "medium": 1, "high": 2}
	slices.SortFunc(out, func(a, b string) int { return order[a] - order[b] })
	return strings.Join(out, ", ")
}
