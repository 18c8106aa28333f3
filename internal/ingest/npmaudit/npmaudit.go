// Package npmaudit parses the JSON output of npm audit: the advisories
// report of npm 6 and earlier ({advisories, actions, metadata}) and the
// vulnerabilities report of npm 7 and later (auditReportVersion 2). One
// finding is emitted per advisory per package: per entry of an npm 6
// advisory's findings (one installed version), and per advisory object in
// the "via" list of an npm 7 package. The strings in a "via" list name
// other vulnerable packages that this one depends on; they are no
// advisories and give no finding.
package npmaudit

import (
	"context"
	"fmt"
	"strconv"
	"strings"

	"github.com/go-json-experiment/json/jsontext"

	"github.com/ctem-dev/ctem/internal/ingest"
	"github.com/ctem-dev/ctem/internal/model"
)

// Tool is the tool name findings carry.
const Tool = "npm-audit"

const formatName = "npmaudit"

// Format is the npm audit JSON format.
var Format = ingest.Format{
	Version: ParserVersion,
	Name:    formatName,
	Title:   "npm audit --json (npm 6 advisories, npm 7+ auditReportVersion 2)",
	Detect:  Detect,
	Parse:   Parse,
}

// Detect accepts an npm 7+ report (auditReportVersion 2 with
// vulnerabilities), an npm 6 report (advisories with actions, muted or
// metadata), or the error object npm audit writes when the registry
// cannot audit (ENOAUDIT, EAUDIT...).
func Detect(s *ingest.Sniff) bool {
	if s.Kind != ingest.SniffJSONObject {
		return false
	}
	if s.Has("auditReportVersion") && s.Has("vulnerabilities") {
		return true
	}
	if s.Has("advisories") && s.HasAny("actions", "muted") {
		return true
	}
	if s.Has("actions") && s.Has("actions[].resolves") && s.Has("actions[].module") {
		return true
	}
	code := s.Get("error.code")
	return len(s.Paths) <= 5 && (strings.HasPrefix(code, "ENOAUDIT") || strings.HasPrefix(code, "EAUDIT"))
}

type cvss struct {
	Score        ingest.Text `json:"score"`
	VectorString string      `json:"vectorString"`
}

// advisory is one npm 6 advisory.
type advisory struct {
	ID                ingest.Text    `json:"id"`
	Title             string         `json:"title"`
	ModuleName        string         `json:"module_name"`
	CVEs              []string       `json:"cves"`
	GitHubAdvisoryID  string         `json:"github_advisory_id"`
	VulnerableVersion string         `json:"vulnerable_versions"`
	PatchedVersions   string         `json:"patched_versions"`
	Overview          string         `json:"overview"`
	Recommendation    string         `json:"recommendation"`
	Severity          string         `json:"severity"`
	CWE               jsontext.Value `json:"cwe"`
	CVSS              cvss           `json:"cvss"`
	URL               string         `json:"url"`
	Findings          []struct {
		Version string   `json:"version"`
		Paths   []string `json:"paths"`
		Dev     bool     `json:"dev"`
	} `json:"findings"`
}

// via is one advisory object of an npm 7 "via" list.
type via struct {
	Source     ingest.Text    `json:"source"`
	Name       string         `json:"name"`
	Dependency string         `json:"dependency"`
	Title      string         `json:"title"`
	URL        string         `json:"url"`
	Severity   string         `json:"severity"`
	CWE        jsontext.Value `json:"cwe"`
	CVSS       cvss           `json:"cvss"`
	Range      string         `json:"range"`
}

// vulnerability is one package of an npm 7 report.
type vulnerability struct {
	Name         string           `json:"name"`
	Severity     string           `json:"severity"`
	IsDirect     bool             `json:"isDirect"`
	Via          []jsontext.Value `json:"via"`
	Effects      []string         `json:"effects"`
	Range        string           `json:"range"`
	Nodes        []string         `json:"nodes"`
	FixAvailable jsontext.Value   `json:"fixAvailable"`
}

type parser struct {
	in    *ingest.Input
	sink  ingest.Sink
	dec   *jsontext.Decoder
	began bool
	asset string
}

// Parse reads an npm audit report from in. npm audit names no project, so
// the scan's target is --target; without it Parse warns and uses
// "unknown". The error object of a failed audit is an error, and nothing
// is emitted.
func Parse(ctx context.Context, in *ingest.Input, sink ingest.Sink) error {
	p := &parser{in: in, sink: sink, dec: in.JSONDecoder()}
	err := p.parse(ctx)
	return ingest.AsInputError(in, p.dec.InputOffset(), err)
}

func (p *parser) parse(ctx context.Context) error {
	if p.dec.PeekKind() != '{' {
		if _, err := p.dec.ReadToken(); err != nil {
			return err
		}
		return p.in.Errorf(0, "not an npm audit report: expected an object")
	}
	if err := ingest.WalkObject(p.dec, func(name string) error { return p.top(ctx, name) }); err != nil {
		return err
	}
	if err := ingest.ExpectEOF(p.in, p.dec); err != nil {
		return err
	}
	return p.beginScan()
}

func (p *parser) top(ctx context.Context, name string) error {
	switch name {
	case "error":
		off := p.dec.InputOffset()
		var e struct {
			Code    string `json:"code"`
			Summary string `json:"summary"`
			Detail  string `json:"detail"`
		}
		if err := ingest.DecodeJSON(p.dec, &e); err != nil {
			return err
		}
		if e.Code == "" && e.Summary == "" {
			return nil
		}
		return p.in.Errorf(off, "npm audit failed: %s: %s", e.Code, strings.TrimSpace(e.Summary+" "+e.Detail))
	case "auditReportVersion":
		var v ingest.Text
		if err := ingest.DecodeJSON(p.dec, &v); err != nil {
			return err
		}
		if v.Int() != 2 {
			return p.in.Errorf(p.dec.InputOffset(), "unsupported npm auditReportVersion %s (want 2)", v)
		}
		return nil
	case "advisories":
		if err := p.beginScan(); err != nil {
			return err
		}
		return ingest.WalkObject(p.dec, func(id string) error {
			if err := ctx.Err(); err != nil {
				return err
			}
			var a advisory
			if err := ingest.DecodeJSON(p.dec, &a); err != nil {
				return err
			}
			return p.advisory(&a, "/advisories/"+escape(id))
		})
	case "vulnerabilities":
		if err := p.beginScan(); err != nil {
			return err
		}
		return ingest.WalkObject(p.dec, func(pkg string) error {
			if err := ctx.Err(); err != nil {
				return err
			}
			var v vulnerability
			if err := ingest.DecodeJSON(p.dec, &v); err != nil {
				return err
			}
			if v.Name == "" {
				v.Name = pkg
			}
			return p.vulnerability(&v, "/vulnerabilities/"+escape(pkg))
		})
	}
	return p.dec.SkipValue()
}

// escape escapes a JSON pointer token.
func escape(s string) string {
	return strings.ReplaceAll(strings.ReplaceAll(s, "~", "~0"), "/", "~1")
}

func (p *parser) beginScan() error {
	if p.began {
		return nil
	}
	p.began = true
	target := p.in.Target
	if target == "" {
		p.in.Warn("%s: npm audit names no project; pass --target to name the repository it audited", p.in.Name)
		target = "unknown"
		p.asset = model.FileKey(target)
	} else {
		p.asset = model.ProjectKey(target)
	}
	return p.sink.BeginScan(model.Scan{ParserVersion: ParserVersion, Tool: Tool, Format: formatName, Target: target, Asset: p.asset})
}

func (p *parser) advisory(a *advisory, ptr string) error {
	ids := append([]string{}, a.CVEs...)
	ids = append(ids, a.GitHubAdvisoryID)
	ids = append(ids, model.ExtractVulnIDs(a.URL)...)
	rule := npmID(a.ID)
	if rule != "" {
		ids = append(ids, rule)
	}
	fixed := a.PatchedVersions
	if fixed == "<0.0.0" {
		fixed = ""
	}
	desc := strings.TrimSpace(a.Overview)
	if a.Recommendation != "" {
		desc = strings.TrimSpace(desc + "\n\nRecommendation: " + a.Recommendation)
	}
	if a.URL != "" {
		desc += "\n\n" + a.URL
	}
	for i, fd := range a.Findings {
		f := &model.Finding{
			Tool:         Tool,
			Kind:         model.FindingVulnerability,
			RuleID:       rule,
			VulnIDs:      ids,
			CWEs:         cwes(a.CWE),
			Severity:     model.ParseSeverity(a.Severity),
			ToolSeverity: a.Severity,
			Title:        a.Title,
			Description:  withPaths(desc, fd.Paths),
			Asset:        p.asset,
			Package:      model.Package{Name: a.ModuleName, Version: fd.Version, FixedVersion: fixed, PURL: purl(a.ModuleName, fd.Version)},
			Pointer:      fmt.Sprintf("%s/findings/%d", ptr, i),
		}
		if a.CVSS.VectorString != "" {
			f.CVSS = []model.CVSS{{Source: "npm", Vector: a.CVSS.VectorString, Score: a.CVSS.Score.Float()}}
		}
		if fd.Dev {
			f.ToolStatus = "dev dependency"
		}
		if err := p.sink.Finding(f); err != nil {
			return err
		}
	}
	return nil
}

func (p *parser) vulnerability(v *vulnerability, ptr string) error {
	fix := fixText(v.Name, v.FixAvailable)
	for i, raw := range v.Via {
		if raw.Kind() != '{' {
			continue // the name of a vulnerable dependency, not an advisory
		}
		var a via
		if err := ingest.UnmarshalJSON(raw, &a); err != nil {
			return err
		}
		ids := model.ExtractVulnIDs(a.URL)
		rule := npmID(a.Source)
		if rule != "" {
			ids = append(ids, rule)
		}
		if len(ids) > 0 && strings.HasPrefix(ids[0], "GHSA-") {
			rule = ids[0]
		}
		desc := "Vulnerable versions: " + a.Range
		if fix != "" {
			desc += "\n" + fix
		}
		if a.URL != "" {
			desc += "\n" + a.URL
		}
		f := &model.Finding{
			Tool:         Tool,
			Kind:         model.FindingVulnerability,
			RuleID:       rule,
			VulnIDs:      ids,
			CWEs:         cwes(a.CWE),
			Severity:     model.ParseSeverity(a.Severity),
			ToolSeverity: a.Severity,
			Title:        a.Title,
			Description:  withPaths(desc, v.Nodes),
			Asset:        p.asset,
			Package:      model.Package{Name: v.Name, FixedVersion: fixedVersion(v.Name, v.FixAvailable)},
			Pointer:      fmt.Sprintf("%s/via/%d", ptr, i),
		}
		if f.Title == "" {
			f.Title = rule + " in " + v.Name
		}
		if a.CVSS.VectorString != "" {
			f.CVSS = []model.CVSS{{Source: "npm", Vector: a.CVSS.VectorString, Score: a.CVSS.Score.Float()}}
		}
		if f.Severity == model.SeverityUnknown && a.CVSS.Score != "" {
			f.Severity = model.SeverityFromScore(a.CVSS.Score.Float())
		}
		if err := p.sink.Finding(f); err != nil {
			return err
		}
	}
	return nil
}

// npmID names an npm advisory by its number: NPM-1094222.
func npmID(t ingest.Text) string {
	s := strings.TrimSpace(string(t))
	if _, err := strconv.ParseUint(s, 10, 64); err != nil {
		return s
	}
	return "NPM-" + s
}

// cwes reads a cwe member that is a string, a list of strings or null.
func cwes(raw jsontext.Value) []string {
	switch raw.Kind() {
	case '"':
		var s string
		if ingest.UnmarshalJSON(raw, &s) == nil {
			return model.ExtractCWEs(s)
		}
	case '[':
		var list []ingest.Text
		if ingest.UnmarshalJSON(raw, &list) == nil {
			out := make([]string, 0, len(list))
			for _, c := range list {
				out = append(out, string(c))
			}
			return out
		}
	}
	return nil
}

type fixAvailable struct {
	Name          string `json:"name"`
	Version       string `json:"version"`
	IsSemVerMajor bool   `json:"isSemVerMajor"`
}

// fixedVersion is the version npm would install to fix the package, when
// the fix is an upgrade of the package itself.
func fixedVersion(name string, raw jsontext.Value) string {
	if raw.Kind() != '{' {
		return ""
	}
	var fa fixAvailable
	if ingest.UnmarshalJSON(raw, &fa) != nil || fa.Name != name {
		return ""
	}
	return fa.Version
}

// fixText says what npm audit fix would do.
func fixText(name string, raw jsontext.Value) string {
	switch raw.Kind() {
	case 't':
		return "Fix available: npm audit fix"
	case 'f':
		return "No fix available"
	case '{':
		var fa fixAvailable
		if ingest.UnmarshalJSON(raw, &fa) != nil || fa.Name == "" {
			return ""
		}
		s := fmt.Sprintf("Fix available: upgrade %s to %s", fa.Name, fa.Version)
		if fa.IsSemVerMajor {
			s += " (a semver-major change)"
		}
		return s
	}
	return ""
}

// withPaths appends the dependency paths of the package, at most ten.
func withPaths(desc string, paths []string) string {
	if len(paths) == 0 {
		return desc
	}
	shown := paths
	if len(shown) > 10 {
		shown = shown[:10]
	}
	s := desc + "\n\nPaths: " + strings.Join(shown, ", ")
	if len(paths) > len(shown) {
		s += fmt.Sprintf(" and %d more", len(paths)-len(shown))
	}
	return strings.TrimSpace(s)
}

// purl is the package URL of an npm package.
func purl(name, version string) string {
	if name == "" || version == "" {
		return ""
	}
	n := name
	if strings.HasPrefix(n, "@") {
		n = "%40" + n[1:]
	}
	return "pkg:npm/" + n + "@" + version
}
