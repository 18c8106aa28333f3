// Package semgrep parses the JSON output of Semgrep (semgrep --json): code
// findings, with the supply-chain results of semgrep ci, and the
// supply-chain vulnerability lists of the Semgrep App API ({"vulns": [...]}).
package semgrep

import (
	"context"
	"fmt"
	"strings"

	"github.com/go-json-experiment/json/jsontext"

	"github.com/ctem-dev/ctem/internal/ingest"
	"github.com/ctem-dev/ctem/internal/model"
)

// Tool is the tool name findings carry.
const Tool = "semgrep"

const formatName = "semgrep"

// Format is Semgrep's JSON output and its supply-chain vulnerability
// export.
var Format = ingest.Format{
	Version: ParserVersion,
	Name:    formatName,
	Title:   "Semgrep JSON (semgrep --json; Semgrep Supply Chain vulns export)",
	Detect:  Detect,
	Parse:   Parse,
}

// topKeys are the members of a semgrep --json report.
var topKeys = map[string]bool{
	"results": true, "errors": true, "version": true, "paths": true,
	"interfile_languages_used": true, "skipped_rules": true, "time": true,
	"explanations": true, "engine_requested": true, "rules_by_engine": true,
}

// Detect accepts a report whose results carry a check_id, a supply-chain
// export whose vulns carry an advisory, and a report without results whose
// members are all Semgrep's.
func Detect(s *ingest.Sniff) bool {
	if s.Kind != ingest.SniffJSONObject {
		return false
	}
	if s.HasAll("results[].check_id", "results[].extra") {
		return true
	}
	if s.Has("vulns[].advisory") && s.HasAny("vulns[].groupKey", "vulns[].repositoryName", "vulns[].matchedDependency") {
		return true
	}
	if !s.HasAll("results", "errors") || s.Has("results[]") {
		return false
	}
	for p := range s.Paths {
		top := p
		if i := strings.IndexAny(p, ".["); i >= 0 {
			top = p[:i]
		}
		if !topKeys[top] {
			return false
		}
	}
	return true
}

// strList is a metadata value that Semgrep rules write as a string or as a
// list of strings; anything else reads as empty, since rule metadata is
// free-form and must not fail an ingest.
type strList []string

// UnmarshalJSONFrom implements json.UnmarshalerFrom.
func (l *strList) UnmarshalJSONFrom(dec *jsontext.Decoder) error {
	*l = nil
	switch dec.PeekKind() {
	case '"', '0':
		tok, err := dec.ReadToken()
		if err != nil {
			return err
		}
		*l = strList{tok.String()}
		return nil
	case '[':
		if _, err := dec.ReadToken(); err != nil {
			return err
		}
		for dec.PeekKind() != ']' {
			switch dec.PeekKind() {
			case '"', '0':
				tok, err := dec.ReadToken()
				if err != nil {
					return err
				}
				*l = append(*l, tok.String())
			case 0:
				_, err := dec.ReadToken()
				return err
			default:
				if err := dec.SkipValue(); err != nil {
					return err
				}
			}
		}
		_, err := dec.ReadToken()
		return err
	}
	return dec.SkipValue()
}

func (l strList) first() string {
	if len(l) == 0 {
		return ""
	}
	return l[0]
}

type metadata struct {
	CWE         strList `json:"cwe"`
	OWASP       strList `json:"owasp"`
	Confidence  strList `json:"confidence"`
	References  strList `json:"references"`
	Category    strList `json:"category"`
	SCAVulnID   strList `json:"sca-vuln-database-identifier"`
	SCASeverity strList `json:"sca-severity"`
}

type position struct {
	Line ingest.Text `json:"line"`
	Col  ingest.Text `json:"col"`
}

type scaInfo struct {
	Reachable       bool `json:"reachable"`
	DependencyMatch struct {
		FoundDependency struct {
			Package      string `json:"package"`
			Version      string `json:"version"`
			Ecosystem    string `json:"ecosystem"`
			Transitivity string `json:"transitivity"`
			Lockfile     string `json:"lockfile"`
		} `json:"found_dependency"`
	} `json:"dependency_match"`
}

type result struct {
	CheckID string   `json:"check_id"`
	Path    string   `json:"path"`
	Start   position `json:"start"`
	End     position `json:"end"`
	Extra   struct {
		Message     string   `json:"message"`
		Severity    string   `json:"severity"`
		Metadata    metadata `json:"metadata"`
		Lines       string   `json:"lines"`
		Fingerprint string   `json:"fingerprint"`
		IsIgnored   bool     `json:"is_ignored"`
		SCAInfo     *scaInfo `json:"sca_info"`
	} `json:"extra"`
}

// placeholder is what Semgrep writes for fingerprints and lines when the
// user is not logged in to the Semgrep App.
const placeholder = "requires login"

type parser struct {
	in      *ingest.Input
	sink    ingest.Sink
	dec     *jsontext.Decoder
	version string
	began   bool
	asset   string
	places  map[string]int
	repos   map[string]bool
}

// Parse reads a Semgrep report from in and emits one scan and its
// findings.
func Parse(ctx context.Context, in *ingest.Input, sink ingest.Sink) error {
	p := &parser{in: in, sink: sink, dec: in.JSONDecoder(), places: map[string]int{}, repos: map[string]bool{}}
	err := p.parse(ctx)
	return ingest.AsInputError(in, p.dec.InputOffset(), err)
}

func (p *parser) parse(ctx context.Context) error {
	if err := ingest.ExpectStart(p.in, p.dec, '{', "a Semgrep report"); err != nil {
		return err
	}
	sca := false
	err := ingest.WalkObject(p.dec, func(name string) error {
		switch name {
		case "version":
			var v ingest.Text
			if err := ingest.DecodeJSON(p.dec, &v); err != nil {
				return err
			}
			p.version = v.String()
			return nil
		case "results":
			if err := p.beginCode(); err != nil {
				return err
			}
			return ingest.WalkItems(ctx, p.dec, func(i int) error {
				return p.result(i)
			})
		case "vulns":
			sca = true
			if err := p.beginSCA(); err != nil {
				return err
			}
			return ingest.WalkItems(ctx, p.dec, func(i int) error {
				return p.vuln(i)
			})
		}
		return p.dec.SkipValue()
	})
	if err != nil {
		return err
	}
	if !sca {
		if err := p.beginCode(); err != nil {
			return err
		}
	}
	return ingest.ExpectEOF(p.in, p.dec)
}

// targetKey returns the scan target and its asset key: the user's
// --target, else a placeholder with a warning, since a Semgrep report does
// not name the repository it scanned.
func targetKey(in *ingest.Input) (target, asset string) {
	target = in.TargetOr("")
	if target == "" {
		in.Warn("%s: a Semgrep report names no repository; pass --target to name the repository it scanned", in.Name)
		return "unknown", model.FileKey("unknown")
	}
	return target, model.ProjectKey(target)
}

func (p *parser) beginCode() error {
	if p.began {
		return nil
	}
	p.began = true
	target, asset := targetKey(p.in)
	p.asset = asset
	return p.sink.BeginScan(model.Scan{ParserVersion: ParserVersion, Tool: Tool, ToolVersion: p.version, Format: formatName, Target: target, Asset: asset})
}

func (p *parser) result(i int) error {
	var r result
	if err := ingest.DecodeJSON(p.dec, &r); err != nil {
		return err
	}
	x := &r.Extra
	md := &x.Metadata
	f := &model.Finding{
		Tool:         Tool,
		Kind:         model.FindingCode,
		RuleID:       r.CheckID,
		Severity:     model.ParseSeverity(x.Severity),
		ToolSeverity: x.Severity,
		Title:        title(x.Message, r.CheckID),
		Description:  description(x.Message, md),
		Asset:        p.asset,
		Location: model.Location{
			Path:    r.Path,
			Line:    r.Start.Line.Int(),
			EndLine: r.End.Line.Int(),
			Column:  r.Start.Col.Int(),
		},
		Pointer: fmt.Sprintf("/results/%d", i),
	}
	if x.Fingerprint != placeholder {
		f.ToolFingerprint = x.Fingerprint
	}
	if x.Lines != placeholder {
		f.Location.Snippet = x.Lines
	}
	for _, c := range md.CWE {
		f.CWEs = append(f.CWEs, model.ExtractCWEs(c)...)
	}
	if x.IsIgnored {
		f.Status = model.StatusAccepted
		f.ToolStatus = "ignored (nosemgrep)"
	}
	if sca := x.SCAInfo; sca != nil && sca.DependencyMatch.FoundDependency.Package != "" {
		return p.scaResult(f, sca, md)
	}
	key := r.CheckID + "\x00" + r.Path + "\x00" + strings.Join(strings.Fields(f.Location.Snippet), " ")
	f.Location.Occurrence = p.places[key]
	p.places[key]++
	return p.sink.Finding(f)
}

// scaResult turns a supply-chain result of semgrep ci into a
// vulnerability on the dependency it matched.
func (p *parser) scaResult(f *model.Finding, sca *scaInfo, md *metadata) error {
	dep := sca.DependencyMatch.FoundDependency
	f.Kind = model.FindingVulnerability
	f.Package = model.Package{Name: dep.Package, Version: dep.Version}
	f.Location = model.Location{Path: dep.Lockfile, Line: f.Location.Line}
	for _, id := range md.SCAVulnID {
		f.VulnIDs = append(f.VulnIDs, model.ExtractVulnIDs(id)...)
	}
	for _, ref := range md.References {
		f.VulnIDs = append(f.VulnIDs, model.ExtractVulnIDs(ref)...)
	}
	if s := md.SCASeverity.first(); s != "" {
		f.Severity, f.ToolSeverity = model.ParseSeverity(s), s
	}
	f.ToolStatus = strings.TrimSpace(f.ToolStatus + " " + reach(sca.Reachable) + " " + strings.ToLower(dep.Transitivity))
	if err := p.sink.Finding(f); err != nil {
		return err
	}
	return p.reachable(sca.Reachable, f, "semgrep found a reachable call to the vulnerable code")
}

func reach(ok bool) string {
	if ok {
		return "reachable"
	}
	return "unreachable"
}

// reachable records Semgrep's reachability analysis as evidence.
func (p *parser) reachable(ok bool, f *model.Finding, detail string) error {
	if !ok {
		return nil
	}
	ids := model.SortVulnIDs(f.VulnIDs)
	if len(ids) == 0 {
		return nil
	}
	return p.sink.Evidence(model.Evidence{Kind: model.EvidenceReachableCall, Asset: f.Asset, VulnID: ids[0], Source: Tool, Detail: detail})
}

// title is the first sentence of the message, or the rule id.
func title(msg, rule string) string {
	msg = strings.TrimSpace(msg)
	if msg == "" {
		return rule
	}
	if i := strings.IndexAny(msg, "\n"); i >= 0 {
		msg = msg[:i]
	}
	if i := strings.Index(msg, ". "); i >= 0 {
		msg = msg[:i+1]
	}
	if r := []rune(msg); len(r) > 200 {
		msg = string(r[:200]) + "…"
	}
	return msg
}

func description(msg string, md *metadata) string {
	var b strings.Builder
	b.WriteString(strings.TrimSpace(msg))
	add := func(label string, l strList) {
		if len(l) > 0 {
			fmt.Fprintf(&b, "\n\n%s: %s", label, strings.Join(l, "; "))
		}
	}
	add("Category", md.Category)
	add("Confidence", md.Confidence)
	add("OWASP", md.OWASP)
	add("References", md.References)
	return b.String()
}
