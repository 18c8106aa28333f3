package depcheck

import (
	"context"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/ctem-dev/ctem/internal/ingest"
)

const nameXML = "dependency-check-xml"

// FormatXML is Dependency-Check's XML report.
var FormatXML = ingest.Format{
	Version: ParserVersion,
	Name:    nameXML,
	Title:   "OWASP Dependency-Check XML report",
	Detect:  DetectXML,
	Parse:   ParseXML,
}

// DetectXML accepts an <analysis> root in a Dependency-Check namespace
// (https://jeremylong.github.io/DependencyCheck/dependency-check.N.N.xsd).
func DetectXML(s *ingest.Sniff) bool {
	return s.Kind == ingest.SniffXML && s.XMLRoot.Local == "analysis" &&
		strings.Contains(s.XMLRoot.Space, "/DependencyCheck/dependency-check.")
}

type xmlIdentifiers struct {
	Packages []struct {
		Confidence string `xml:"confidence,attr"`
		ID         string `xml:"id"`
	} `xml:"package"`
	// Schema 1.x.
	Identifiers []struct {
		Type       string `xml:"type,attr"`
		Confidence string `xml:"confidence,attr"`
		Name       string `xml:"name"`
	} `xml:"identifier"`
	// Some reports nest the list once more.
	Nested []xmlIdentifiers `xml:"identifiers"`
}

func (x *xmlIdentifiers) collect(out []ident) []ident {
	for _, p := range x.Packages {
		out = append(out, ident{ID: p.ID, Confidence: p.Confidence})
	}
	for _, p := range x.Identifiers {
		if p.Type == "maven" || strings.HasPrefix(strings.TrimSpace(p.Name), "pkg:") {
			out = append(out, ident{ID: p.Name, Confidence: p.Confidence})
		}
	}
	for i := range x.Nested {
		out = x.Nested[i].collect(out)
	}
	return out
}

type xmlCVSS2 struct {
	Score              string `xml:"score"`
	AccessVector       string `xml:"accessVector"`
	AccessComplexity   string `xml:"accessComplexity"`
	Authenticationr    string `xml:"authenticationr"`
	Authentication     string `xml:"authentication"`
	ConfidentialImpact string `xml:"confidentialImpact"`
	Confidentiality    string `xml:"confidentialityImpact"`
	IntegrityImpact    string `xml:"integrityImpact"`
	AvailabilityImpact string `xml:"availabilityImpact"`
	Severity           string `xml:"severity"`
}

type xmlCVSS3 struct {
	BaseScore             string `xml:"baseScore"`
	AttackVector          string `xml:"attackVector"`
	AttackComplexity      string `xml:"attackComplexity"`
	PrivilegesRequired    string `xml:"privilegesRequired"`
	UserInteraction       string `xml:"userInteraction"`
	Scope                 string `xml:"scope"`
	ConfidentialityImpact string `xml:"confidentialityImpact"`
	IntegrityImpact       string `xml:"integrityImpact"`
	AvailabilityImpact    string `xml:"availabilityImpact"`
	BaseSeverity          string `xml:"baseSeverity"`
	Version               string `xml:"version"`
}

type xmlVuln struct {
	XMLName  xml.Name
	Source   string `xml:"source,attr"`
	Name     string `xml:"name"`
	Severity string `xml:"severity"`
	// Schema 1.x writes CVSS v2 flat.
	CVSSScore              string    `xml:"cvssScore"`
	CVSSAccessVector       string    `xml:"cvssAccessVector"`
	CVSSAccessComplexity   string    `xml:"cvssAccessComplexity"`
	CVSSAuthenticationr    string    `xml:"cvssAuthenticationr"`
	CVSSConfidentialImpact string    `xml:"cvssConfidentialImpact"`
	CVSSIntegrityImpact    string    `xml:"cvssIntegrityImpact"`
	CVSSAvailabilityImpact string    `xml:"cvssAvailabilityImpact"`
	CVSSv2                 *xmlCVSS2 `xml:"cvssV2"`
	CVSSv3                 *xmlCVSS3 `xml:"cvssV3"`
	CVSSv4                 *struct {
		VectorString string `xml:"vectorString"`
		BaseScore    string `xml:"baseScore"`
	} `xml:"cvssV4"`
	CWEs        []string `xml:"cwes>cwe"`
	CWE         string   `xml:"cwe"`
	Description string   `xml:"description"`
	Notes       string   `xml:"notes"`
	References  []struct {
		URL  string `xml:"url"`
		Name string `xml:"name"`
	} `xml:"references>reference"`
	Software []struct {
		Matched      string `xml:"vulnerabilityIdMatched,attr"`
		EndExcluding string `xml:"versionEndExcluding,attr"`
	} `xml:"vulnerableSoftware>software"`
	KEV *struct {
		RequiredAction string `xml:"requiredAction"`
		DateAdded      string `xml:"dateAdded"`
	} `xml:"knownExploitedVulnerability"`
}

type xmlDependency struct {
	FileName    string         `xml:"fileName"`
	FilePath    string         `xml:"filePath"`
	Identifiers xmlIdentifiers `xml:"identifiers"`
	Vulns       []xmlVuln      `xml:"vulnerabilities>vulnerability"`
	Suppressed  []xmlVuln      `xml:"vulnerabilities>suppressedVulnerability"`
	Suppressed2 []xmlVuln      `xml:"suppressedVulnerabilities>suppressedVulnerability"`
}

func (x *xmlVuln) vuln(suppressed bool) vuln {
	v := vuln{
		Source: x.Source, Name: x.Name, Severity: strings.TrimSpace(x.Severity), Suppressed: suppressed,
		Notes: x.Notes, Description: x.Description, CWEs: x.CWEs,
	}
	if c := strings.TrimSpace(x.CWE); c != "" {
		v.CWEs = append(v.CWEs, c)
	}
	switch {
	case x.CVSSv2 != nil:
		c := x.CVSSv2
		v.V2 = &cvss2{
			Score: parseFloat(c.Score), AV: c.AccessVector, AC: c.AccessComplexity, Au: c.Authenticationr + c.Authentication,
			C: c.ConfidentialImpact + c.Confidentiality, I: c.IntegrityImpact, A: c.AvailabilityImpact, Severity: c.Severity,
		}
	case x.CVSSScore != "":
		v.V2 = &cvss2{
			Score: parseFloat(x.CVSSScore), AV: x.CVSSAccessVector, AC: x.CVSSAccessComplexity, Au: x.CVSSAuthenticationr,
			C: x.CVSSConfidentialImpact, I: x.CVSSIntegrityImpact, A: x.CVSSAvailabilityImpact,
		}
	}
	if c := x.CVSSv3; c != nil {
		v.V3 = &cvss3{
			Score: parseFloat(c.BaseScore), AV: c.AttackVector, AC: c.AttackComplexity, PR: c.PrivilegesRequired,
			UI: c.UserInteraction, S: c.Scope, C: c.ConfidentialityImpact, I: c.IntegrityImpact, A: c.AvailabilityImpact,
			Severity: c.BaseSeverity, Version: c.Version,
		}
	}
	if c := x.CVSSv4; c != nil && strings.HasPrefix(strings.TrimSpace(c.VectorString), "CVSS:4") {
		v.V4Vector, v.V4Score = strings.TrimSpace(c.VectorString), parseFloat(c.BaseScore)
	}
	for _, r := range x.References {
		v.References = append(v.References, r.URL, r.Name)
	}
	for _, s := range x.Software {
		v.FixedIn = fixedIn(s.Matched == "true", s.EndExcluding, v.FixedIn)
	}
	if x.KEV != nil {
		v.KEV = kevDetail(x.KEV.RequiredAction, x.KEV.DateAdded)
	}
	return v
}

func kevDetail(action, added string) string {
	d := "known exploited"
	if a := strings.TrimSpace(added); a != "" {
		d += " (added " + a + ")"
	}
	if a := strings.TrimSpace(action); a != "" {
		d += ": " + a
	}
	return d
}

// ParseXML reads a Dependency-Check XML report from in. It decodes one
// <dependency> element at a time.
func ParseXML(ctx context.Context, in *ingest.Input, sink ingest.Sink) error {
	dec := in.XMLDecoder()
	return ingest.AsXMLInputError(in, dec, parseXML(ctx, in, dec, sink))
}

func parseXML(ctx context.Context, in *ingest.Input, dec *ingest.XMLDecoder, sink ingest.Sink) error {
	e := &emitter{in: in, sink: sink}
	var project, version string
	root := false
	depth := 0 // 1 inside the root
	for {
		tok, err := dec.Token()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return err
		}
		switch t := tok.(type) {
		case xml.StartElement:
			switch {
			case depth == 0 && root:
				return in.Errorf(dec.InputOffset(), "unexpected element <%s> after the report", t.Name.Local)
			case depth == 0:
				if t.Name.Local != "analysis" {
					return in.Errorf(dec.InputOffset(), "not a Dependency-Check report: root element <%s>, want <analysis>", t.Name.Local)
				}
				root = true
				depth = 1
				continue
			}
			// depth == 1: a child of <analysis>
			switch t.Name.Local {
			case "scanInfo":
				var s struct {
					EngineVersion string `xml:"engineVersion"`
				}
				if err := dec.DecodeElement(&s, &t); err != nil {
					return err
				}
				version = s.EngineVersion
			case "projectInfo":
				var s struct {
					Name string `xml:"name"`
				}
				if err := dec.DecodeElement(&s, &t); err != nil {
					return err
				}
				project = s.Name
			case "dependencies":
				if err := e.begin(project, version, nameXML); err != nil {
					return err
				}
				if err := xmlDependencies(ctx, in, dec, e); err != nil {
					return err
				}
			default:
				if err := dec.Skip(); err != nil {
					return err
				}
			}
		case xml.EndElement:
			depth--
		}
	}
	if !root {
		return in.Errorf(dec.InputOffset(), "not a Dependency-Check report: no <analysis> element")
	}
	return e.begin(project, version, nameXML)
}

// xmlDependencies reads the children of <dependencies> up to its end.
func xmlDependencies(ctx context.Context, in *ingest.Input, dec *ingest.XMLDecoder, e *emitter) error {
	for {
		tok, err := dec.Token()
		if err != nil {
			return err
		}
		switch t := tok.(type) {
		case xml.EndElement:
			return nil
		case xml.StartElement:
			if err := ctx.Err(); err != nil {
				return err
			}
			if t.Name.Local != "dependency" {
				if err := dec.Skip(); err != nil {
					return err
				}
				continue
			}
			line, _ := dec.InputPos()
			var x xmlDependency
			if err := dec.DecodeElement(&x, &t); err != nil {
				return err
			}
			d := dependency{FileName: x.FileName, FilePath: x.FilePath, Packages: x.Identifiers.collect(nil), Pointer: fmt.Sprintf("line %d", line)}
			for i := range x.Vulns {
				d.Vulns = append(d.Vulns, x.Vulns[i].vuln(false))
			}
			for _, list := range [][]xmlVuln{x.Suppressed, x.Suppressed2} {
				for i := range list {
					d.Vulns = append(d.Vulns, list[i].vuln(true))
				}
			}
			for i := range d.Vulns {
				d.Vulns[i].Pointer = d.Pointer
			}
			if err := e.dependency(&d); err != nil {
				return err
			}
		}
	}
}
