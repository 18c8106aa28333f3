package sarif

import (
	"slices"
	"strings"

	"github.com/ctem-dev/ctem/internal/model"
)

// ctemProps is the "ctem" property bag that ctem's own SARIF export puts
// on each result (package export): the exposure's asset, kind, package and
// status as ctem keeps them, which SARIF has no place for, so that a log
// ctem wrote ingests into the same exposures. A result with a path id is
// an attack path, which analysis recomputes: it is not a finding.
type ctemProps struct {
	Asset    string        `json:"asset"`
	Kind     string        `json:"kind"`
	Status   string        `json:"status"`
	Severity string        `json:"severity"`
	Title    string        `json:"title"`
	VulnIDs  []string      `json:"vulnIds"`
	CWEs     []string      `json:"cwes"`
	Package  model.Package `json:"package"`
	// Location is the exposure's own location: the result's physical
	// location is a placeholder ("ctem-asset/...") when it has no file.
	Location *model.Location `json:"location"`
	Path     string          `json:"path"`
}

// maxCtemField bounds the fields taken from a ctem property bag, which is
// input like any other.
const maxCtemField = 4096

// applyCtem restores what a ctem export says of the finding's exposure.
// Values that are not plausible (an unknown kind or status, an overlong
// key) are ignored, leaving what the SARIF itself gave.
func applyCtem(f *model.Finding, c *ctemProps) {
	if a := strings.TrimSpace(c.Asset); a != "" && len(a) <= maxCtemField {
		f.Asset = a
	}
	switch k := model.FindingKind(c.Kind); k {
	case model.FindingVulnerability, model.FindingCode, model.FindingMisconfig, model.FindingSecret,
		model.FindingLicense, model.FindingDAST, model.FindingNetwork:
		f.Kind = k
	}
	if st := model.Status(c.Status); st.Valid() {
		f.Status = st
	}
	switch sev := model.Severity(c.Severity); sev {
	case model.SeverityCritical, model.SeverityHigh, model.SeverityMedium, model.SeverityLow, model.SeverityInfo, model.SeverityUnknown:
		f.Severity = sev
	}
	if t := strings.TrimSpace(c.Title); t != "" && len(t) <= maxCtemField {
		f.Title = t
	}
	for _, id := range c.VulnIDs {
		if id = model.NormalizeVulnID(id); id != "" && len(id) <= 256 && !slices.Contains(f.VulnIDs, id) {
			f.VulnIDs = append(f.VulnIDs, id)
		}
	}
	for _, cwe := range c.CWEs {
		if n := model.NormalizeCWE(cwe); n != "" && !slices.Contains(f.CWEs, n) {
			f.CWEs = append(f.CWEs, n)
		}
	}
	switch l := c.Location; {
	case l != nil && len(l.Path)+len(l.URL)+len(l.Component) <= maxCtemField && l.Line >= 0 && l.EndLine >= 0 && l.Column >= 0:
		f.Location = model.Location{Path: l.Path, Line: l.Line, EndLine: l.EndLine, Column: l.Column, URL: l.URL, Component: l.Component}
	case l == nil && c.Asset != "":
		// An exposure without a location: the result's is a placeholder.
		f.Location = model.Location{}
	}
	p := c.Package
	if len(p.Name)+len(p.Version)+len(p.FixedVersion)+len(p.PURL) <= maxCtemField && (p.Name != "" || p.PURL != "") {
		f.Package = p
	}
}
