// Package score gives every exposure a risk score that explains itself:
// each factor of the score is a Part with its value, the fact it rests on
// and where that fact came from, so a person can check the ranking instead
// of trusting it.
//
// The score is a product of a likelihood and an impact, scaled to 0..100:
//
//	likelihood = max(KEV 0.95, public exploit 0.6, EPSS, CVSS prior)
//	             × reachability (reachable call 1.0, imported only 0.6,
//	               required only 0.3, unknown 1.0)
//	             × exposure (internet-facing 1.0, internal only 0.5)
//	impact     = severity weight (CVSS score / 10, else the tool's severity)
//	             × effect weight (exec, escape, privesc, credential 1.0;
//	               write, ssrf, auth-bypass 0.9; read, file-read 0.8;
//	               dos-only 0.3; info-only 0.1)
//	             × business weight (crown jewel value / 10, else service
//	               criticality: critical 1.0, high 0.8, medium 0.6,
//	               low 0.4, unknown 0.6)
//	score      = 100 × sqrt(likelihood × impact)
//
// The square root spreads the scores: products of several factors below
// one crowd near zero. A VEX not_affected statement or a fixed status
// makes the score 0. The attack-path analysis (package graph) refines
// this per path; this score ranks exposures that no path reaches.
package score

import (
	"fmt"
	"math"
	"strings"

	"github.com/ctem-dev/ctem/internal/intel/cvss"
	"github.com/ctem-dev/ctem/internal/intel/effect"
	"github.com/ctem-dev/ctem/internal/intel/epss"
	"github.com/ctem-dev/ctem/internal/intel/kev"
	"github.com/ctem-dev/ctem/internal/intel/ssvc"
	"github.com/ctem-dev/ctem/internal/model"
)

// Context is what the estate says about the exposure's asset.
type Context struct {
	// InternetExposed, with Via naming the internet-facing asset through
	// which traffic reaches it.
	InternetExposed bool
	Via             string
	Service         string
	Criticality     string
	// CrownJewel is the value (1..10) when the asset is a crown jewel.
	CrownJewel int
	// SSVCOverride sets SSVC decision points outright (an analyst's
	// assessment), with SSVCReason saying why; empty points are derived.
	SSVCOverride ssvc.Inputs
	SSVCReason   string
}

// Intel is the threat intelligence the score draws on. Nil fields are
// treated as "no data".
type Intel struct {
	KEV  *kev.Catalog
	EPSS *epss.Scores
}

// Part is one factor of a score.
type Part struct {
	Name   string  `json:"name"`
	Factor float64 `json:"factor"`
	Detail string  `json:"detail"`
	Source string  `json:"source"`
}

// Assessment is an exposure's score with its parts, its effect and its
// SSVC decision.
type Assessment struct {
	ExposureID string           `json:"exposure_id"`
	Score      float64          `json:"score"`
	Likelihood float64          `json:"likelihood"`
	Impact     float64          `json:"impact"`
	Parts      []Part           `json:"parts"`
	Effect     effect.Result    `json:"effect"`
	CVSS       *model.CVSS      `json:"cvss,omitempty"`
	CVSSWhy    string           `json:"cvss_choice,omitempty"`
	KEV        *kev.Entry       `json:"kev,omitempty"`
	EPSS       *epss.Score      `json:"epss,omitempty"`
	SSVC       ssvc.Derived     `json:"ssvc"`
	Evidence   []model.Evidence `json:"evidence,omitempty"`
}

// Summary is the assessment in one line, its parts joined by "; ".
func (a Assessment) Summary() string {
	var parts []string
	for _, p := range a.Parts {
		parts = append(parts, p.Detail)
	}
	return strings.Join(parts, "; ")
}

// Assess scores exposure x, whose findings are fs (for their CVSS vectors
// and rule metadata) and whose evidence is ev, in the estate context c.
func Assess(x model.Exposure, fs []model.Finding, ev []model.Evidence, c Context, in Intel) Assessment {
	a := Assessment{ExposureID: x.ID, Evidence: ev}
	// Effect, from every finding's CWEs, vectors and rule.
	var vecs []model.CVSS
	efIn := effect.Input{CWEs: x.CWEs, Kind: x.Kind, Rule: x.RuleID, Title: x.Title}
	for _, f := range fs {
		vecs = append(vecs, f.CVSS...)
		for _, v := range f.CVSS {
			efIn.CVSS = append(efIn.CVSS, v.Vector)
		}
	}
	a.Effect = effect.Classify(efIn)
	var vec *cvss.Vector
	if best, why := cvss.Choose(vecs); best.Vector != "" {
		a.CVSS, a.CVSSWhy = &best, why
		if v, err := cvss.Parse(best.Vector); err == nil {
			vec = &v
		}
	}
	// Likelihood.
	var facts ssvc.Facts
	likelihood, lparts := 0.0, []Part{}
	for _, id := range x.VulnIDs {
		if in.KEV != nil && a.KEV == nil {
			if e, ok := in.KEV.Lookup(id); ok {
				a.KEV = &e
			}
		}
		if in.EPSS != nil && a.EPSS == nil {
			if s, ok := in.EPSS.Lookup(id); ok {
				a.EPSS = &s
			}
		}
	}
	public := false
	reach := 1.0
	reachWhy := ""
	for _, e := range ev {
		switch e.Kind {
		case model.EvidencePublicExploit:
			public = true
		case model.EvidenceReachableCall:
			reach, reachWhy = 1.0, "reachable: the vulnerable code is called ("+e.Source+")"
		case model.EvidenceImportedOnly:
			if reachWhy == "" || reach < 0.6 {
				reach, reachWhy = 0.6, "imported but no call found ("+e.Source+")"
			}
		case model.EvidenceRequiredOnly:
			if reachWhy == "" {
				reach, reachWhy = 0.3, "required but not imported ("+e.Source+")"
			}
		}
	}
	if a.KEV != nil {
		likelihood = 0.95
		lparts = append(lparts, Part{"kev", 0.95, fmt.Sprintf("in KEV since %s", a.KEV.DateAdded.Format("2006-01-02")) + ransomware(a.KEV), "CISA KEV catalog"})
		facts.InKEV = true
	}
	if public {
		likelihood = math.Max(likelihood, 0.6)
		lparts = append(lparts, Part{"public-exploit", 0.6, "a public exploit is known", "scanner report"})
		facts.PublicExploit = true
	}
	if a.EPSS != nil {
		likelihood = math.Max(likelihood, a.EPSS.EPSS)
		lparts = append(lparts, Part{"epss", a.EPSS.EPSS, fmt.Sprintf("EPSS %.2f (%s percentile)", a.EPSS.EPSS, ordinal(int(math.Floor(a.EPSS.Percentile*100)))), "FIRST EPSS " + a.EPSS.Date.Format("2006-01-02")})
		facts.EPSS, facts.HasEPSS = a.EPSS.EPSS, true
	}
	if likelihood == 0 {
		prior, why := priorLikelihood(x, vec)
		likelihood = prior
		lparts = append(lparts, Part{"prior", prior, why, "ctem default"})
	}
	if reachWhy != "" {
		likelihood *= reach
		lparts = append(lparts, Part{"reachability", reach, reachWhy, "call graph"})
	}
	if c.InternetExposed {
		via := ""
		if c.Via != "" {
			via = " through " + c.Via
		}
		lparts = append(lparts, Part{"exposure", 1, "internet-exposed" + via, "estate relations"})
	} else {
		likelihood *= 0.5
		lparts = append(lparts, Part{"exposure", 0.5, "not reachable from the internet", "estate relations"})
	}
	// Impact.
	sev := severityWeight(x.Severity)
	sevWhy := fmt.Sprintf("severity %s", x.Severity)
	if vec != nil {
		sev = vec.Score / 10
		sevWhy = fmt.Sprintf("CVSS %.1f (%s)", vec.Score, a.CVSS.Source)
	}
	eff := effectWeight(a.Effect.Effect)
	biz, bizWhy := businessWeight(c)
	impact := sev * eff * biz
	a.Parts = append(lparts,
		Part{"severity", sev, sevWhy, "scanner and CVSS"},
		Part{"effect", eff, fmt.Sprintf("effect %s (%s, %s confidence)", a.Effect.Effect, a.Effect.Reason, a.Effect.Confidence), "ctem effect table"},
		Part{"business", biz, bizWhy, "scope file"},
	)
	a.Likelihood, a.Impact = round(likelihood), round(impact)
	a.Score = round(100 * math.Sqrt(likelihood*impact))
	switch x.Status {
	case model.StatusNotAffected, model.StatusFixed, model.StatusFalsePositive:
		a.Parts = append(a.Parts, Part{"status", 0, "status " + string(x.Status), "lifecycle"})
		a.Score = 0
	}
	// SSVC.
	facts.CVSS = vec
	facts.Override, facts.OverrideReason = c.SSVCOverride, c.SSVCReason
	facts.Effect = a.Effect.Effect
	facts.Criticality = c.Criticality
	if c.CrownJewel >= 8 {
		facts.Criticality = "critical"
	}
	a.SSVC = ssvc.Derive(facts)
	return a
}

func ransomware(e *kev.Entry) string {
	if e.KnownRansomware() {
		return ", used in ransomware campaigns"
	}
	return ""
}

// priorLikelihood is the likelihood without exploit data: a small prior
// that remote, unauthenticated, low-complexity weaknesses raise.
func priorLikelihood(x model.Exposure, v *cvss.Vector) (float64, string) {
	switch x.Kind {
	case model.FindingSecret:
		return 0.5, "a secret in reach is as good as a login"
	case model.FindingMisconfig:
		return 0.3, "misconfigurations need no exploit"
	}
	if v == nil {
		return 0.05, "no exploit data; default prior 0.05"
	}
	if v.RemoteUnauthenticated() && v.AttackComplexity == cvss.Low {
		return 0.1, "no exploit data; remote, unauthenticated, low complexity: prior 0.10"
	}
	return 0.03, "no exploit data; prior 0.03"
}

func severityWeight(s model.Severity) float64 {
	switch s {
	case model.SeverityCritical:
		return 0.95
	case model.SeverityHigh:
		return 0.8
	case model.SeverityMedium:
		return 0.5
	case model.SeverityLow:
		return 0.2
	case model.SeverityInfo:
		return 0.05
	}
	return 0.3
}

func effectWeight(e effect.Effect) float64 {
	switch e {
	case effect.Exec, effect.Escape, effect.PrivEsc, effect.Credential:
		return 1
	case effect.Write, effect.SSRF, effect.AuthBypass:
		return 0.9
	case effect.Read, effect.FileRead, effect.Exposure:
		return 0.8
	case effect.DoSOnly:
		return 0.3
	case effect.InfoOnly:
		return 0.1
	}
	return 0.5
}

func businessWeight(c Context) (float64, string) {
	if c.CrownJewel > 0 {
		return float64(c.CrownJewel) / 10, fmt.Sprintf("crown jewel (value %d)", c.CrownJewel)
	}
	svc := ""
	if c.Service != "" {
		svc = "service " + c.Service + " "
	}
	switch c.Criticality {
	case "critical":
		return 1, svc + "(critical)"
	case "high":
		return 0.8, svc + "(high)"
	case "medium":
		return 0.6, svc + "(medium)"
	case "low":
		return 0.4, svc + "(low)"
	}
	return 0.6, strings.TrimSpace(svc + "(criticality unknown)")
}

func ordinal(n int) string {
	suffix := "th"
	if n%100 < 11 || n%100 > 13 {
		switch n % 10 {
		case 1:
			suffix = "st"
		case 2:
			suffix = "nd"
		case 3:
			suffix = "rd"
		}
	}
	return fmt.Sprintf("%d%s", n, suffix)
}

func round(f float64) float64 { return math.Round(f*1000) / 1000 }
