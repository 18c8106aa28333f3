// Package depcheck reads the reports of OWASP Dependency-Check, in its XML
// syntax (every schema from 1.x to 4.x) and its JSON syntax. Each
// vulnerability of each dependency becomes a finding on the scanned
// project; suppressed vulnerabilities are kept with status accepted.
package depcheck

import (
	"net/url"
	"regexp"
	"strconv"
	"strings"

	"github.com/ctem-dev/ctem/internal/ingest"
	"github.com/ctem-dev/ctem/internal/model"
)

// Tool is the tool name findings carry.
const Tool = "dependency-check"

// dependency is one dependency of either syntax, decoded.
type dependency struct {
	FileName string
	FilePath string
	Packages []ident // purls, best first after bestPURL
	Vulns    []vuln
	Pointer  string
}

type ident struct {
	ID         string
	Confidence string
}

// vuln is one vulnerability of either syntax.
type vuln struct {
	Source      string
	Name        string
	Severity    string
	Suppressed  bool
	Notes       string
	Description string
	CWEs        []string
	V2          *cvss2
	V3          *cvss3
	V4Vector    string
	V4Score     float64
	References  []string // URLs and names
	FixedIn     string
	KEV         string // the required action of a known exploited vulnerability, or "yes"
	Pointer     string
}

type cvss2 struct {
	Score               float64
	AV, AC, Au, C, I, A string
	Severity            string
}

type cvss3 struct {
	Score                      float64
	AV, AC, PR, UI, S, C, I, A string
	Severity, Version          string
}

// emitter turns dependencies into findings on one project asset.
type emitter struct {
	in    *ingest.Input
	sink  ingest.Sink
	asset string
	began bool
	seen  map[string]bool // package assets emitted
}

// begin starts the scan of the project the report names, once.
func (e *emitter) begin(project, version, format string) error {
	if e.began {
		return nil
	}
	e.began = true
	e.seen = map[string]bool{}
	target := strings.TrimSpace(project)
	if target == "" {
		target = e.in.TargetOr("")
	}
	if target == "" {
		e.in.Warn("%s: the Dependency-Check report names no project; pass --target to name the repository or directory it scanned", e.in.Name)
		target = "unknown"
	}
	e.asset = model.ProjectKey(target)
	if err := e.sink.BeginScan(model.Scan{ParserVersion: ParserVersion, Tool: Tool, ToolVersion: strings.TrimSpace(version), Format: format, Target: target, Asset: e.asset}); err != nil {
		return err
	}
	return e.sink.Asset(model.Asset{Key: e.asset, Kind: model.KindOfKey(e.asset), Name: target, Source: Tool})
}

// dependency emits the findings of one dependency, and the package it is
// as an asset the project contains.
func (e *emitter) dependency(d *dependency) error {
	pkg := packageOf(d)
	if pkg.PURL != "" && !e.seen[pkg.PURL] {
		e.seen[pkg.PURL] = true
		name := pkg.Name
		if pkg.Version != "" {
			name += "@" + pkg.Version
		}
		if err := e.sink.Asset(model.Asset{Key: pkg.PURL, Kind: model.KindPackage, Name: name, Source: Tool}); err != nil {
			return err
		}
		if err := e.sink.Relation(model.Relation{From: e.asset, To: pkg.PURL, Type: model.RelContains, Source: Tool}); err != nil {
			return err
		}
	}
	for i := range d.Vulns {
		v := &d.Vulns[i]
		f := e.finding(d, v, pkg)
		if err := e.sink.Finding(f); err != nil {
			return err
		}
		if v.KEV != "" {
			if err := e.sink.Evidence(model.Evidence{
				Kind: model.EvidenceKEV, Asset: e.asset, VulnID: model.CanonicalVulnID(model.SortVulnIDs(f.VulnIDs)),
				FindingID: f.ID, Source: Tool, Detail: v.KEV,
			}); err != nil {
				return err
			}
		}
	}
	return nil
}

var ghsaInURL = regexp.MustCompile(`(?i)/advisories/(GHSA(?:-[23456789cfghjmpqrvwx]{4}){3})\b`)

func (e *emitter) finding(d *dependency, v *vuln, pkg model.Package) *model.Finding {
	name := strings.TrimSpace(v.Name)
	ids := model.ExtractVulnIDs(name)
	if len(ids) == 0 || !strings.HasPrefix(strings.ToUpper(name), strings.ToUpper(ids[0])) {
		id := name
		// Old npm advisories are bare numbers.
		if _, err := strconv.Atoi(name); err == nil && v.Source != "" {
			id = strings.ToUpper(v.Source) + "-" + name
		}
		ids = append([]string{id}, ids...)
	}
	for _, r := range v.References {
		for _, m := range ghsaInURL.FindAllStringSubmatch(r, -1) {
			ids = append(ids, m[1])
		}
	}
	f := &model.Finding{
		Tool:         Tool,
		Kind:         model.FindingVulnerability,
		RuleID:       ids[0],
		VulnIDs:      ids,
		CWEs:         v.CWEs,
		ToolSeverity: v.Severity,
		Severity:     model.ParseSeverity(v.Severity),
		Description:  strings.Join(strings.Fields(v.Description), " "),
		Asset:        e.asset,
		Package:      pkg,
		Location:     model.Location{Path: strings.TrimSpace(d.FilePath)},
		Pointer:      v.Pointer,
	}
	f.Package.FixedVersion = v.FixedIn
	what := pkg.Name
	if pkg.Version != "" {
		what += " " + pkg.Version
	}
	f.Title = name + " in " + what
	src := strings.ToLower(v.Source)
	var score float64
	if v.V4Vector != "" {
		f.CVSS = append(f.CVSS, model.CVSS{Source: src, Vector: v.V4Vector, Score: v.V4Score})
		score = v.V4Score
	}
	if v.V3 != nil {
		if vec := v.V3.vector(); vec != "" {
			f.CVSS = append(f.CVSS, model.CVSS{Source: src, Vector: vec, Score: v.V3.Score})
		}
		if score == 0 {
			score = v.V3.Score
		}
	}
	if v.V2 != nil {
		if vec := v.V2.vector(); vec != "" {
			f.CVSS = append(f.CVSS, model.CVSS{Source: src, Vector: vec, Score: v.V2.Score})
		}
		if score == 0 {
			score = v.V2.Score
		}
	}
	if f.Severity == model.SeverityUnknown && score > 0 {
		f.Severity = model.SeverityFromScore(score)
	}
	if v.Suppressed {
		f.Status = model.StatusAccepted
		f.ToolStatus = "suppressed"
		if n := strings.Join(strings.Fields(v.Notes), " "); n != "" {
			f.ToolStatus += ": " + n
		}
	}
	return f
}

var confidenceRank = map[string]int{"HIGHEST": 4, "HIGH": 3, "MEDIUM": 2, "LOW": 1}

// packageOf names a dependency's package from its most confident purl,
// else from its file name.
func packageOf(d *dependency) model.Package {
	best, rank := "", -1
	for _, id := range d.Packages {
		p := strings.TrimSpace(id.ID)
		if !strings.HasPrefix(p, "pkg:") {
			continue
		}
		if r := confidenceRank[strings.ToUpper(id.Confidence)]; r > rank {
			best, rank = p, r
		}
	}
	if best != "" {
		if name, version, ok := parsePURL(best); ok {
			return model.Package{Name: name, Version: version, PURL: best}
		}
	}
	for _, id := range d.Packages {
		// Schema 1.x: <identifier type="maven"><name>group:artifact:version</name>.
		if parts := strings.Split(strings.TrimSpace(id.ID), ":"); len(parts) == 3 && !strings.HasPrefix(id.ID, "cpe:") && !strings.HasPrefix(id.ID, "pkg:") {
			return model.Package{Name: parts[0] + ":" + parts[1], Version: parts[2], PURL: "pkg:maven/" + parts[0] + "/" + parts[1] + "@" + parts[2]}
		}
	}
	return model.Package{Name: strings.TrimSpace(d.FileName)}
}

// parsePURL returns a purl's package name, as the ecosystem writes it
// (group:artifact for Maven, @scope/name for npm, namespace/name
// otherwise), and its version.
func parsePURL(purl string) (name, version string, ok bool) {
	rest := strings.TrimPrefix(purl, "pkg:")
	rest, _, _ = strings.Cut(rest, "#")
	rest, _, _ = strings.Cut(rest, "?")
	typ, rest, found := strings.Cut(rest, "/")
	if !found {
		return "", "", false
	}
	if i := strings.LastIndex(rest, "@"); i > 0 {
		rest, version = rest[:i], rest[i+1:]
	}
	if v, err := url.PathUnescape(version); err == nil {
		version = v
	}
	if n, err := url.PathUnescape(rest); err == nil {
		rest = n
	}
	rest = strings.Trim(rest, "/")
	if rest == "" {
		return "", "", false
	}
	if typ == "maven" {
		if i := strings.LastIndex(rest, "/"); i >= 0 {
			rest = rest[:i] + ":" + rest[i+1:]
		}
	}
	return rest, version, true
}

// letter maps a CVSS metric value, as a word (NETWORK) or already as its
// letter (N), to its letter; "" when it is not one of allowed.
func letter(value string, words map[string]string, allowed string) string {
	v := strings.ToUpper(strings.TrimSpace(value))
	if l, ok := words[v]; ok {
		return l
	}
	if len(v) == 1 && strings.Contains(allowed, v) {
		return v
	}
	return ""
}

var (
	v2AV  = map[string]string{"NETWORK": "N", "ADJACENT_NETWORK": "A", "LOCAL": "L"}
	v2AC  = map[string]string{"LOW": "L", "MEDIUM": "M", "HIGH": "H"}
	v2Au  = map[string]string{"NONE": "N", "SINGLE": "S", "SINGLE_INSTANCE": "S", "MULTIPLE": "M", "MULTIPLE_INSTANCES": "M"}
	v2Imp = map[string]string{"NONE": "N", "PARTIAL": "P", "COMPLETE": "C"}
	v3AV  = map[string]string{"NETWORK": "N", "ADJACENT_NETWORK": "A", "ADJACENT": "A", "LOCAL": "L", "PHYSICAL": "P"}
	v3LH  = map[string]string{"LOW": "L", "HIGH": "H"}
	v3PR  = map[string]string{"NONE": "N", "LOW": "L", "HIGH": "H"}
	v3UI  = map[string]string{"NONE": "N", "REQUIRED": "R"}
	v3S   = map[string]string{"UNCHANGED": "U", "CHANGED": "C"}
	v3Imp = map[string]string{"NONE": "N", "LOW": "L", "HIGH": "H"}
)

// vector rebuilds the CVSS v2 vector from the metrics Dependency-Check
// writes one by one; "" when a metric is missing.
func (c *cvss2) vector() string {
	parts := []string{
		"AV:" + letter(c.AV, v2AV, "NAL"),
		"AC:" + letter(c.AC, v2AC, "LMH"),
		"Au:" + letter(c.Au, v2Au, "NSM"),
		"C:" + letter(c.C, v2Imp, "NPC"),
		"I:" + letter(c.I, v2Imp, "NPC"),
		"A:" + letter(c.A, v2Imp, "NPC"),
	}
	for _, p := range parts {
		if strings.HasSuffix(p, ":") {
			return ""
		}
	}
	return strings.Join(parts, "/")
}

// vector rebuilds the CVSS v3 vector; "" when a metric is missing. A
// report without the version is taken as 3.1.
func (c *cvss3) vector() string {
	version := strings.TrimSpace(c.Version)
	if version != "3.0" {
		version = "3.1"
	}
	parts := []string{
		"CVSS:" + version,
		"AV:" + letter(c.AV, v3AV, "NALP"),
		"AC:" + letter(c.AC, v3LH, "LH"),
		"PR:" + letter(c.PR, v3PR, "NLH"),
		"UI:" + letter(c.UI, v3UI, "NR"),
		"S:" + letter(c.S, v3S, "UC"),
		"C:" + letter(c.C, v3Imp, "NLH"),
		"I:" + letter(c.I, v3Imp, "NLH"),
		"A:" + letter(c.A, v3Imp, "NLH"),
	}
	for _, p := range parts {
		if strings.HasSuffix(p, ":") {
			return ""
		}
	}
	return strings.Join(parts, "/")
}

// fixedIn returns the version that ends the range of the vulnerable
// software entry Dependency-Check matched, when it is an exclusive end.
func fixedIn(matched bool, endExcluding string, current string) string {
	if matched && strings.TrimSpace(endExcluding) != "" {
		return strings.TrimSpace(endExcluding)
	}
	return current
}

func parseFloat(s string) float64 {
	f, err := strconv.ParseFloat(strings.TrimSpace(s), 64)
	if err != nil {
		return 0
	}
	return f
}
