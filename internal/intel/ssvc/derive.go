package ssvc

import (
	"fmt"
	"strings"

	"github.com/ctem-dev/ctem/internal/intel/cvss"
	"github.com/ctem-dev/ctem/internal/intel/effect"
)

// PoCEPSSThreshold is the EPSS probability at and above which Derive
// takes exploitation to be at least "poc" when there is no other
// evidence. SSVC's "poc" means exploit code or a well-known method is
// public; a 10% chance of exploitation activity within 30 days is a sign
// that such tooling circulates. It is ctem's policy, not part of SSVC; in
// the embedded EPSS snapshot of 2026-01-30 it flags 22,379 of 313,089
// CVEs (7.2%).
const PoCEPSSThreshold = 0.1

// Facts are what ctem knows about one vulnerability on one asset.
type Facts struct {
	// InKEV: the CVE is in CISA's KEV catalog.
	InKEV bool
	// PublicExploit: a public exploit or proof of concept is known
	// (Metasploit, ExploitDB, a scanner's exploit flag).
	PublicExploit bool
	// EPSS is the EPSS probability; HasEPSS says whether there is one.
	EPSS    float64
	HasEPSS bool
	// CVSS is the preferred vector (see cvss.Choose); nil when none.
	CVSS *cvss.Vector
	// Effect is the weakness's effect (see effect.Classify).
	Effect effect.Effect
	// Criticality is the asset's: critical, high, medium, low or empty.
	Criticality string
	// Override sets any decision point outright, with OverrideReason
	// saying why (an analyst's assessment, CISA's ADP values).
	Override       Inputs
	OverrideReason string
}

// Reasons say why each decision point has its value.
type Reasons struct {
	Exploitation     string `json:"exploitation"`
	Automatable      string `json:"automatable"`
	TechnicalImpact  string `json:"technical_impact"`
	MissionWellbeing string `json:"mission_wellbeing"`
}

// Derived is the outcome of Derive.
type Derived struct {
	Inputs   Inputs   `json:"inputs"`
	Reasons  Reasons  `json:"reasons"`
	Decision Decision `json:"decision"`
}

// Derive sets the four decision points from facts and walks the tree:
//
//   - Exploitation: active when the CVE is in KEV; poc when a public
//     exploit is known or EPSS is at least PoCEPSSThreshold; else none.
//   - Automatable: yes when the CVSS vector says network, no privileges
//     and no user interaction (AV:N/PR:N/UI:N, v2 Au:N); no otherwise,
//     including when there is no vector.
//   - Technical impact: total when the effect gives control of the
//     component (exec, escape, privesc) or the CVSS vector has high
//     confidentiality, integrity and availability impact; else partial.
//   - Mission & well-being: high for a critical or high asset, medium for
//     a medium one or one of unknown criticality, low for a low one.
//
// Each value of facts.Override replaces the derived one.
func Derive(f Facts) Derived {
	var d Derived
	in, why := &d.Inputs, &d.Reasons

	switch {
	case f.InKEV:
		in.Exploitation, why.Exploitation = ExploitationActive, "in CISA's KEV catalog: exploited in the wild"
	case f.PublicExploit:
		in.Exploitation, why.Exploitation = ExploitationPoC, "a public exploit is known"
	case f.HasEPSS && f.EPSS >= PoCEPSSThreshold:
		in.Exploitation, why.Exploitation = ExploitationPoC, fmt.Sprintf("EPSS %.3f is at least %.2f", f.EPSS, PoCEPSSThreshold)
	case f.HasEPSS:
		in.Exploitation, why.Exploitation = ExploitationNone, fmt.Sprintf("not in KEV, no known exploit, EPSS %.3f below %.2f", f.EPSS, PoCEPSSThreshold)
	default:
		in.Exploitation, why.Exploitation = ExploitationNone, "not in KEV, no known exploit, no EPSS score"
	}

	switch {
	case f.CVSS == nil:
		in.Automatable, why.Automatable = AutomatableNo, "no CVSS vector to tell"
	case f.CVSS.RemoteUnauthenticated():
		in.Automatable, why.Automatable = AutomatableYes, fmt.Sprintf("CVSS %s: network, no privileges, no user interaction", f.CVSS.Version)
	default:
		in.Automatable, why.Automatable = AutomatableNo, fmt.Sprintf("CVSS %s: attack vector %s, privileges %s, user interaction %s",
			f.CVSS.Version, f.CVSS.AttackVector, f.CVSS.PrivilegesRequired, f.CVSS.UserInteraction)
	}

	switch {
	case f.Effect == effect.Exec || f.Effect == effect.Escape || f.Effect == effect.PrivEsc:
		in.TechnicalImpact, why.TechnicalImpact = TechnicalImpactTotal, fmt.Sprintf("effect %s gives control of the component", f.Effect)
	case f.CVSS != nil && f.CVSS.Impact == cvss.Impacts{Confidentiality: cvss.High, Integrity: cvss.High, Availability: cvss.High}:
		in.TechnicalImpact, why.TechnicalImpact = TechnicalImpactTotal, fmt.Sprintf("CVSS %s: high confidentiality, integrity and availability impact", f.CVSS.Version)
	case f.Effect != effect.Unknown:
		in.TechnicalImpact, why.TechnicalImpact = TechnicalImpactPartial, fmt.Sprintf("effect %s gives limited control", f.Effect)
	default:
		in.TechnicalImpact, why.TechnicalImpact = TechnicalImpactPartial, "no sign of total control"
	}

	switch c := strings.ToLower(strings.TrimSpace(f.Criticality)); c {
	case "critical", "high", "crown-jewel", "essential":
		in.MissionWellbeing, why.MissionWellbeing = MissionHigh, fmt.Sprintf("asset criticality %s", c)
	case "low", "minimal", "none":
		in.MissionWellbeing, why.MissionWellbeing = MissionLow, fmt.Sprintf("asset criticality %s", c)
	case "":
		in.MissionWellbeing, why.MissionWellbeing = MissionMedium, "asset criticality unknown: assumed medium"
	default:
		in.MissionWellbeing, why.MissionWellbeing = MissionMedium, fmt.Sprintf("asset criticality %s", c)
	}

	o, because := f.Override, f.OverrideReason
	if because == "" {
		because = "set by override"
	}
	if o.Exploitation != "" {
		in.Exploitation, why.Exploitation = o.Exploitation, because
	}
	if o.Automatable != "" {
		in.Automatable, why.Automatable = o.Automatable, because
	}
	if o.TechnicalImpact != "" {
		in.TechnicalImpact, why.TechnicalImpact = o.TechnicalImpact, because
	}
	if o.MissionWellbeing != "" {
		in.MissionWellbeing, why.MissionWellbeing = o.MissionWellbeing, because
	}
	// Only an override can hold an unknown value; Decision stays empty
	// then and the reasons say where the values came from.
	d.Decision, _ = Decide(d.Inputs)
	return d
}
