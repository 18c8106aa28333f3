package report

import (
	"fmt"
	"strings"

	"github.com/ctem-dev/ctem/internal/model"
)

// Control is one control of a framework that a report's evidence
// supports. Titles are short paraphrases; the framework's own text rules.
type Control struct {
	Framework string `json:"framework"`
	ID        string `json:"id"`
	Title     string `json:"title"`
	// Supports says what of the control ctem's evidence shows.
	Supports string `json:"supports"`
	// Sections are the report's sections that hold the evidence
	// (anchors: summary, paths, validation, plan, teams, remediation,
	// scans, intel, decisions, analyses, audit).
	Sections []string `json:"sections"`
}

// Controls are the controls a report maps its evidence to.
var Controls = []Control{
	{Framework: "PCI DSS 4.0", ID: "6.3.1", Title: "Security vulnerabilities are identified and managed",
		Supports: "new vulnerabilities are identified from industry sources (scanners, CISA KEV, FIRST EPSS) and each is ranked by the risk it adds on attack paths",
		Sections: []string{"scans", "intel", "paths", "plan"}},
	{Framework: "PCI DSS 4.0", ID: "6.3.3", Title: "System components are protected from known vulnerabilities by installing patches",
		Supports: "fixes are observed by rescans, and the time from first seen to fixed is measured by severity and priority band, with KEV exposures past their due date counted",
		Sections: []string{"remediation", "summary", "scans"}},
	{Framework: "PCI DSS 4.0", ID: "11.3", Title: "External and internal vulnerabilities are regularly identified, prioritized and addressed",
		Supports: "scans by each tool with their dates, the prioritised fix plan, and the exposures fixed or accepted in the window",
		Sections: []string{"scans", "plan", "remediation", "decisions"}},
	{Framework: "ISO/IEC 27001:2022", ID: "A.8.8", Title: "Management of technical vulnerabilities",
		Supports: "vulnerabilities are identified, their exposure evaluated on attack paths to crown jewels, and remediation or acceptance (with approver and expiry) recorded",
		Sections: []string{"scans", "paths", "validation", "plan", "remediation", "decisions", "audit"}},
	{Framework: "SOC 2 (2017 TSC)", ID: "CC7.1", Title: "Detection and monitoring procedures identify new vulnerabilities and configuration changes",
		Supports: "recurring scans and estate ingests, each analysis recording the attack paths it opened and closed",
		Sections: []string{"scans", "analyses", "audit"}},
	{Framework: "NIST CSF 2.0", ID: "ID.RA", Title: "Risk Assessment",
		Supports: "vulnerabilities identified and validated (ID.RA-01), threat intelligence received (ID.RA-02), likelihood and impact of attack paths (ID.RA-04, ID.RA-05), risk responses planned and tracked (ID.RA-06)",
		Sections: []string{"intel", "paths", "validation", "analyses", "plan", "decisions"}},
}

// ControlEvidence is a control with the facts of this report that
// support it.
type ControlEvidence struct {
	Control
	Evidence []string `json:"evidence"`
}

// mapControls states, for each control, the report's facts that support
// it.
func mapControls(r *Report) []ControlEvidence {
	k := r.KPI
	fixed := 0
	for _, p := range k.Periods {
		fixed += p.Fixed
	}
	var tools []string
	for _, t := range r.Tools {
		tools = append(tools, t.Tool)
	}
	facts := map[string]string{
		"scans": fmt.Sprintf("%d scans since %s by %d tools (%s)", r.ScansTotal, day(r.From), len(r.Tools), strings.Join(tools, ", ")),
		"summary": fmt.Sprintf("%d exposures open, %d on a KEV vulnerability past its due date; %d attack paths open",
			k.Open, k.KEVOverdue, k.OpenPaths),
		"remediation": fmt.Sprintf("%d exposures fixed in the window%s", fixed, ttrFact(r)),
		"decisions":   fmt.Sprintf("%d triage decisions by people in the window (%d acceptances)", r.DecisionsTotal, accepted(r)),
		"plan":        fmt.Sprintf("a fix plan of %d actions ordered by risk removed per effort", r.PlanItems),
		"analyses":    fmt.Sprintf("%d analyses recorded their figures in the window", len(k.Snapshots)),
	}
	if r.Analysed {
		facts["paths"] = fmt.Sprintf("%d attack paths to crown jewels open, %d validated (every step evidenced)", k.OpenPaths, validatedNow(r))
		var feeds []string
		for _, f := range r.Analysis.Feeds {
			feeds = append(feeds, fmt.Sprintf("%s %s (data of %s)", f.Feed, f.Version, day(f.DataDate)))
		}
		if len(feeds) == 0 {
			feeds = []string{"no feed"}
		}
		facts["intel"] = "the latest analysis used " + strings.Join(feeds, ", ")
	}
	if len(r.Validation) > 0 {
		var parts []string
		for _, v := range r.Validation {
			parts = append(parts, fmt.Sprintf("%d %s from %s", v.Facts, v.Kind, v.Source))
		}
		facts["validation"] = "evidence on steps: " + strings.Join(parts, ", ")
	}
	if r.Audit.Available {
		switch {
		case r.Audit.Broken != "":
			facts["audit"] = fmt.Sprintf("audit log BROKEN: %s", r.Audit.Broken)
		case r.Audit.Entries == 0:
			facts["audit"] = "audit log empty (the server writes it)"
		default:
			facts["audit"] = fmt.Sprintf("audit log intact, %d entries, head %s", r.Audit.Entries, r.Audit.Head)
		}
	}
	out := make([]ControlEvidence, 0, len(Controls))
	for _, c := range Controls {
		ce := ControlEvidence{Control: c}
		for _, s := range c.Sections {
			if f, ok := facts[s]; ok {
				ce.Evidence = append(ce.Evidence, f)
			}
		}
		out = append(out, ce)
	}
	return out
}

func ttrFact(r *Report) string {
	for _, m := range r.KPI.BySeverity {
		if m.Severity == model.SeverityCritical {
			return fmt.Sprintf("; critical ones in %s on average (p90 %s)", days(m.Mean), days(m.P90))
		}
	}
	return ""
}

func accepted(r *Report) int {
	n := 0
	for _, d := range r.Decisions {
		if d.To == model.StatusAccepted {
			n++
		}
	}
	return n
}

// validatedNow is the validated paths the latest snapshot counts, else
// those among the listed paths.
func validatedNow(r *Report) int {
	if n := len(r.KPI.Snapshots); n > 0 {
		return r.KPI.Snapshots[n-1].ValidatedPaths
	}
	v := 0
	for _, p := range r.Paths {
		if p.Validated {
			v++
		}
	}
	return v
}
