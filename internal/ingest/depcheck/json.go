package depcheck

import (
	"context"
	"fmt"
	"strings"

	"github.com/go-json-experiment/json/jsontext"

	"github.com/ctem-dev/ctem/internal/ingest"
)

const nameJSON = "dependency-check-json"

// FormatJSON is Dependency-Check's JSON report.
var FormatJSON = ingest.Format{
	Version: ParserVersion,
	Name:    nameJSON,
	Title:   "OWASP Dependency-Check JSON report",
	Detect:  DetectJSON,
	Parse:   ParseJSON,
}

// DetectJSON accepts an object with Dependency-Check's reportSchema and
// scanInfo.
func DetectJSON(s *ingest.Sniff) bool {
	return s.Kind == ingest.SniffJSONObject && s.Has("reportSchema") && s.Has("scanInfo") &&
		s.HasAny("scanInfo.engineVersion", "projectInfo", "dependencies")
}

type jsonCVSS2 struct {
	Score                 ingest.Text `json:"score"`
	AccessVector          string      `json:"accessVector"`
	AccessComplexity      string      `json:"accessComplexity"`
	Authenticationr       string      `json:"authenticationr"`
	Authentication        string      `json:"authentication"`
	ConfidentialityImpact string      `json:"confidentialityImpact"`
	ConfidentialImpact    string      `json:"confidentialImpact"`
	IntegrityImpact       string      `json:"integrityImpact"`
	AvailabilityImpact    string      `json:"availabilityImpact"`
	Severity              string      `json:"severity"`
}

type jsonCVSS3 struct {
	BaseScore             ingest.Text `json:"baseScore"`
	AttackVector          string      `json:"attackVector"`
	AttackComplexity      string      `json:"attackComplexity"`
	PrivilegesRequired    string      `json:"privilegesRequired"`
	UserInteraction       string      `json:"userInteraction"`
	Scope                 string      `json:"scope"`
	ConfidentialityImpact string      `json:"confidentialityImpact"`
	IntegrityImpact       string      `json:"integrityImpact"`
	AvailabilityImpact    string      `json:"availabilityImpact"`
	BaseSeverity          string      `json:"baseSeverity"`
	Version               ingest.Text `json:"version"`
}

type jsonVuln struct {
	Source   string     `json:"source"`
	Name     string     `json:"name"`
	Severity string     `json:"severity"`
	CVSSv2   *jsonCVSS2 `json:"cvssv2"`
	CVSSv3   *jsonCVSS3 `json:"cvssv3"`
	CVSSv4   *struct {
		VectorString string      `json:"vectorString"`
		BaseScore    ingest.Text `json:"baseScore"`
	} `json:"cvssv4"`
	CWEs        []string `json:"cwes"`
	Description string   `json:"description"`
	Notes       string   `json:"notes"`
	References  []struct {
		URL  string `json:"url"`
		Name string `json:"name"`
	} `json:"references"`
	Software []struct {
		Software struct {
			Matched      ingest.Text `json:"vulnerabilityIdMatched"`
			EndExcluding string      `json:"versionEndExcluding"`
		} `json:"software"`
	} `json:"vulnerableSoftware"`
	KEV *struct {
		RequiredAction string `json:"RequiredAction"`
		DateAdded      string `json:"DateAdded"`
	} `json:"knownExploitedVulnerability"`
}

func (x *jsonVuln) vuln(suppressed bool) vuln {
	v := vuln{
		Source: x.Source, Name: x.Name, Severity: strings.TrimSpace(x.Severity), Suppressed: suppressed,
		Notes: x.Notes, Description: x.Description, CWEs: x.CWEs,
	}
	if c := x.CVSSv2; c != nil {
		v.V2 = &cvss2{
			Score: c.Score.Float(), AV: c.AccessVector, AC: c.AccessComplexity, Au: c.Authenticationr + c.Authentication,
			C: c.ConfidentialityImpact + c.ConfidentialImpact, I: c.IntegrityImpact, A: c.AvailabilityImpact, Severity: c.Severity,
		}
	}
	if c := x.CVSSv3; c != nil {
		v.V3 = &cvss3{
			Score: c.BaseScore.Float(), AV: c.AttackVector, AC: c.AttackComplexity, PR: c.PrivilegesRequired,
			UI: c.UserInteraction, S: c.Scope, C: c.ConfidentialityImpact, I: c.IntegrityImpact, A: c.AvailabilityImpact,
			Severity: c.BaseSeverity, Version: c.Version.String(),
		}
	}
	if c := x.CVSSv4; c != nil && strings.HasPrefix(strings.TrimSpace(c.VectorString), "CVSS:4") {
		v.V4Vector, v.V4Score = strings.TrimSpace(c.VectorString), c.BaseScore.Float()
	}
	for _, r := range x.References {
		v.References = append(v.References, r.URL, r.Name)
	}
	for _, s := range x.Software {
		v.FixedIn = fixedIn(s.Software.Matched == "true", s.Software.EndExcluding, v.FixedIn)
	}
	if x.KEV != nil {
		v.KEV = kevDetail(x.KEV.RequiredAction, x.KEV.DateAdded)
	}
	return v
}

type jsonIdent struct {
	ID         string `json:"id"`
	Confidence string `json:"confidence"`
}

// ParseJSON reads a Dependency-Check JSON report from in. It decodes one
// dependency at a time.
func ParseJSON(ctx context.Context, in *ingest.Input, sink ingest.Sink) error {
	dec := in.JSONDecoder()
	return ingest.AsInputError(in, dec.InputOffset(), parseJSON(ctx, in, dec, sink))
}

func parseJSON(ctx context.Context, in *ingest.Input, dec *jsontext.Decoder, sink ingest.Sink) error {
	if k := dec.PeekKind(); k != '{' {
		if _, err := dec.ReadToken(); err != nil {
			return err
		}
		return in.Errorf(0, "not a Dependency-Check report: expected a JSON object")
	}
	e := &emitter{in: in, sink: sink}
	var project, version string
	known := false
	err := ingest.WalkObject(dec, func(name string) error {
		switch name {
		case "reportSchema":
			known = true
			return dec.SkipValue()
		case "scanInfo":
			known = true
			var s struct {
				EngineVersion string `json:"engineVersion"`
			}
			if err := ingest.DecodeJSON(dec, &s); err != nil {
				return err
			}
			version = s.EngineVersion
			return nil
		case "projectInfo":
			var s struct {
				Name string `json:"name"`
			}
			if err := ingest.DecodeJSON(dec, &s); err != nil {
				return err
			}
			project = s.Name
			return nil
		case "dependencies":
			if !known {
				return in.Errorf(dec.InputOffset(), "not a Dependency-Check report: dependencies before reportSchema and scanInfo")
			}
			if err := e.begin(project, version, nameJSON); err != nil {
				return err
			}
			return ingest.WalkItems(ctx, dec, func(i int) error {
				return jsonDependency(dec, e, i)
			})
		}
		return dec.SkipValue()
	})
	if err != nil {
		return err
	}
	if err := ingest.ExpectEOF(in, dec); err != nil {
		return err
	}
	if !known {
		return in.Errorf(-1, "not a Dependency-Check report: no reportSchema or scanInfo")
	}
	return e.begin(project, version, nameJSON)
}

func jsonDependency(dec *jsontext.Decoder, e *emitter, i int) error {
	var x struct {
		FileName   string      `json:"fileName"`
		FilePath   string      `json:"filePath"`
		Packages   []jsonIdent `json:"packages"`
		Vulns      []jsonVuln  `json:"vulnerabilities"`
		Suppressed []jsonVuln  `json:"suppressedVulnerabilities"`
	}
	if err := ingest.DecodeJSON(dec, &x); err != nil {
		return err
	}
	d := dependency{FileName: x.FileName, FilePath: x.FilePath}
	for _, p := range x.Packages {
		d.Packages = append(d.Packages, ident(p))
	}
	for j := range x.Vulns {
		v := x.Vulns[j].vuln(false)
		v.Pointer = fmt.Sprintf("/dependencies/%d/vulnerabilities/%d", i, j)
		d.Vulns = append(d.Vulns, v)
	}
	for j := range x.Suppressed {
		v := x.Suppressed[j].vuln(true)
		v.Pointer = fmt.Sprintf("/dependencies/%d/suppressedVulnerabilities/%d", i, j)
		d.Vulns = append(d.Vulns, v)
	}
	return e.dependency(&d)
}
