// Package govulncheck reads the JSON output of the Go team's govulncheck:
// the stream of config, progress, SBOM, osv and finding messages of
// govulncheck 1.0 and later (concatenated objects, or the same objects in
// a JSON array), and the single document of govulncheck before 1.0.
//
// govulncheck reports a vulnerability at up to three levels: the module is
// required, a vulnerable package is imported, a vulnerable symbol is
// called (one finding per call trace). ctem keeps one finding per
// vulnerability and module (the grain of other scanners, which report a
// vulnerable module version once) and records the strongest level reached
// as evidence: reachable-call with the call path, imported-only, or
// required-only.
package govulncheck

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/go-json-experiment/json/jsontext"

	"github.com/ctem-dev/ctem/internal/ingest"
	"github.com/ctem-dev/ctem/internal/model"
)

// Tool is the tool name findings carry.
const Tool = "govulncheck"

// Format is the govulncheck -json format.
var Format = ingest.Format{
	Version: ParserVersion,
	Name:    "govulncheck",
	Title:   "govulncheck -json (stream of messages, and the pre-1.0 document)",
	Detect:  Detect,
	Parse:   Parse,
}

// Detect accepts a stream whose first message is govulncheck's config
// (alone or inside an array), and the pre-1.0 document with its call graph.
func Detect(s *ingest.Sniff) bool {
	switch s.Kind {
	case ingest.SniffJSONObject:
		if s.Get("config.scanner_name") == "govulncheck" {
			return true
		}
		return s.Has("Calls.Functions")
	case ingest.SniffJSONArray:
		return s.Get("[].config.scanner_name") == "govulncheck"
	}
	return false
}

// Message types of the govulncheck protocol (golang.org/x/vuln/internal/govulncheck).

type config struct {
	ProtocolVersion string `json:"protocol_version"`
	ScannerName     string `json:"scanner_name"`
	ScannerVersion  string `json:"scanner_version"`
	GoVersion       string `json:"go_version"`
	ScanLevel       string `json:"scan_level"`
}

type sbom struct {
	GoVersion string `json:"go_version"`
	Modules   []struct {
		Path    string `json:"path"`
		Version string `json:"version"`
	} `json:"modules"`
	Roots []string `json:"roots"`
}

type osvEntry struct {
	ID       string         `json:"id"`
	Aliases  []string       `json:"aliases"`
	Summary  string         `json:"summary"`
	Details  string         `json:"details"`
	Severity jsontext.Value `json:"severity"`
	DBSpec   struct {
		URL string `json:"url"`
	} `json:"database_specific"`
}

type frame struct {
	Module   string `json:"module"`
	Version  string `json:"version"`
	Package  string `json:"package"`
	Function string `json:"function"`
	Receiver string `json:"receiver"`
}

type finding struct {
	OSV          string  `json:"osv"`
	FixedVersion string  `json:"fixed_version"`
	Trace        []frame `json:"trace"`
}

// legacyVuln is one entry of the pre-1.0 document's Vulns.
type legacyVuln struct {
	OSV         osvEntry `json:"OSV"`
	Symbol      string   `json:"Symbol"`
	PkgPath     string   `json:"PkgPath"`
	ModPath     string   `json:"ModPath"`
	CallSink    int      `json:"CallSink"`
	ImportSink  int      `json:"ImportSink"`
	RequireSink int      `json:"RequireSink"`
}

// Levels of reach, weakest first.
const (
	levelRequired = iota
	levelImported
	levelCalled
)

// entry gathers what the report says of one vulnerability in one module.
type entry struct {
	osv, module, version, fixed string
	level                       int
	detail                      string
	pointer                     string
}

// osvInfo is what a finding needs of an OSV entry.
type osvInfo struct {
	aliases  []string
	summary  string
	details  string
	url      string
	severity string // a tool-specific word, when the entry has one
	vectors  []model.CVSS
}

type parser struct {
	in   *ingest.Input
	sink ingest.Sink
	dec  *jsontext.Decoder

	cfg      config
	messages int // govulncheck messages or legacy members seen
	mainMod  string
	traceMod string // main module guessed from call traces

	osvs    map[string]*osvInfo
	entries map[[2]string]*entry
	order   []*entry
	legacy  bool
	modVers map[string]string // legacy: module path to version
}

// Parse reads govulncheck output from in and emits one finding, with its
// evidence, per vulnerability and module. Findings are gathered before
// they are emitted, since the levels of one vulnerability arrive as
// separate messages; memory grows with the number of distinct
// vulnerable modules, not with the input.
func Parse(ctx context.Context, in *ingest.Input, sink ingest.Sink) error {
	p := &parser{
		in: in, sink: sink, dec: in.JSONDecoder(),
		osvs: map[string]*osvInfo{}, entries: map[[2]string]*entry{}, modVers: map[string]string{},
	}
	return ingest.AsInputError(in, p.dec.InputOffset(), p.parse(ctx))
}

func (p *parser) parse(ctx context.Context) error {
	switch p.dec.PeekKind() {
	case '[':
		if err := ingest.WalkArray(p.dec, func() error { return p.object(ctx) }); err != nil {
			return err
		}
		if err := ingest.ExpectEOF(p.in, p.dec); err != nil {
			return err
		}
	case '{':
		for {
			if err := p.object(ctx); err != nil {
				return err
			}
			if p.dec.PeekKind() == 0 {
				_, err := p.dec.ReadToken()
				if errors.Is(err, io.EOF) {
					break
				}
				if err == nil {
					err = p.in.Errorf(p.dec.InputOffset(), "expected a JSON object")
				}
				return err
			}
			if p.dec.PeekKind() != '{' {
				return p.in.Errorf(p.dec.InputOffset(), "not govulncheck output: expected a JSON object")
			}
		}
	case 0:
		_, err := p.dec.ReadToken()
		if !errors.Is(err, io.EOF) {
			return err
		}
		// An empty input: govulncheck printed nothing. It has no
		// findings, and closes what an earlier scan reported.
		p.in.Warn("%s: the govulncheck output is empty", p.in.Name)
		return p.emit(ctx)
	default:
		return p.in.Errorf(0, "not govulncheck output: expected a JSON object or array")
	}
	if p.messages == 0 {
		return p.in.Errorf(-1, "not govulncheck output: no config, osv or finding message")
	}
	return p.emit(ctx)
}

// object reads one message of the stream, or the pre-1.0 document.
func (p *parser) object(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	off := p.dec.InputOffset()
	return ingest.WalkObject(p.dec, func(name string) error {
		switch name {
		case "config":
			p.messages++
			return ingest.DecodeJSON(p.dec, &p.cfg)
		case "progress":
			p.messages++
			return p.dec.SkipValue()
		case "SBOM":
			p.messages++
			var s sbom
			if err := ingest.DecodeJSON(p.dec, &s); err != nil {
				return err
			}
			// The main module comes first and has no version.
			for _, m := range s.Modules {
				if m.Version == "" && m.Path != "" && m.Path != "stdlib" {
					p.mainMod = m.Path
					break
				}
			}
			return nil
		case "osv":
			p.messages++
			var o osvEntry
			if err := ingest.DecodeJSON(p.dec, &o); err != nil {
				return err
			}
			p.addOSV(&o)
			return nil
		case "finding":
			p.messages++
			var f finding
			if err := ingest.DecodeJSON(p.dec, &f); err != nil {
				return err
			}
			p.addFinding(&f, fmt.Sprintf("offset %d", off))
			return nil
		case "Vulns":
			p.messages++
			p.legacy = true
			return ingest.WalkItems(ctx, p.dec, func(i int) error {
				var v legacyVuln
				if err := ingest.DecodeJSON(p.dec, &v); err != nil {
					return err
				}
				p.addLegacy(&v, fmt.Sprintf("/Vulns/%d", i))
				return nil
			})
		case "Modules":
			p.messages++
			p.legacy = true
			var mods []struct {
				Path    string `json:"Path"`
				Version string `json:"Version"`
			}
			if err := ingest.DecodeJSON(p.dec, &mods); err != nil {
				return err
			}
			for _, m := range mods {
				p.modVers[m.Path] = m.Version
				if m.Version == "" && m.Path != "stdlib" && p.mainMod == "" {
					p.mainMod = m.Path
				}
			}
			return nil
		case "Calls", "Imports", "Requires":
			p.messages++
			p.legacy = true
		}
		return p.dec.SkipValue()
	})
}

func (p *parser) addOSV(o *osvEntry) {
	if o.ID == "" {
		return
	}
	info := &osvInfo{aliases: o.Aliases, summary: o.Summary, details: o.Details, url: o.DBSpec.URL}
	// The Go database has no severity; other OSV sources give CVSS
	// vectors, and some pipelines add a plain word.
	switch o.Severity.Kind() {
	case '"':
		var s string
		if ingest.UnmarshalJSON(o.Severity, &s) == nil {
			info.severity = s
		}
	case '[':
		var list []struct {
			Type  string `json:"type"`
			Score string `json:"score"`
		}
		if ingest.UnmarshalJSON(o.Severity, &list) == nil {
			for _, s := range list {
				if strings.HasPrefix(s.Score, "CVSS:") || strings.HasPrefix(s.Score, "AV:") {
					info.vectors = append(info.vectors, model.CVSS{Source: "osv", Vector: s.Score})
				}
			}
		}
	}
	p.osvs[o.ID] = info
}

// add records one sighting of a vulnerability in a module at a level,
// keeping the strongest level and the first detail at that level.
func (p *parser) add(osv, module, version, fixed string, level int, detail, pointer string) {
	k := [2]string{osv, module}
	e := p.entries[k]
	if e == nil {
		e = &entry{osv: osv, module: module, level: -1, pointer: pointer}
		p.entries[k] = e
		p.order = append(p.order, e)
	}
	if e.version == "" {
		e.version = version
	}
	if e.fixed == "" {
		e.fixed = fixed
	}
	if level > e.level {
		e.level, e.detail = level, detail
	}
}

func (p *parser) addFinding(f *finding, pointer string) {
	if f.OSV == "" {
		return
	}
	var vuln frame
	if len(f.Trace) > 0 {
		vuln = f.Trace[0]
	}
	level, detail := levelRequired, "requires "+vuln.Module
	if vuln.Version != "" {
		detail += "@" + vuln.Version
	}
	switch {
	case vuln.Function != "":
		level = levelCalled
		steps := make([]string, 0, len(f.Trace))
		for i := len(f.Trace) - 1; i >= 0; i-- {
			steps = append(steps, symbol(f.Trace[i]))
		}
		detail = strings.Join(steps, " → ")
		// The trace starts in the main module.
		if last := f.Trace[len(f.Trace)-1]; p.traceMod == "" && last.Version == "" && last.Module != "stdlib" && len(f.Trace) > 1 {
			p.traceMod = last.Module
		}
	case vuln.Package != "":
		level, detail = levelImported, "imports "+vuln.Package
	}
	p.add(f.OSV, vuln.Module, vuln.Version, f.FixedVersion, level, detail, pointer)
}

// symbol names a frame's function as Go prints it: net/http.(*conn).serve.
func symbol(f frame) string {
	s := f.Package
	if s == "" {
		s = f.Module
	}
	if r := f.Receiver; r != "" {
		if strings.HasPrefix(r, "*") {
			r = "(" + r + ")"
		}
		s += "." + r
	}
	if f.Function != "" {
		s += "." + f.Function
	}
	return s
}

func (p *parser) addLegacy(v *legacyVuln, pointer string) {
	if v.OSV.ID == "" {
		return
	}
	if _, ok := p.osvs[v.OSV.ID]; !ok {
		p.addOSV(&v.OSV)
	}
	level, detail := levelRequired, "requires "+v.ModPath
	switch {
	case v.CallSink != 0:
		// The pre-1.0 document keeps call paths in a separate graph;
		// the vulnerable symbol is what ctem records.
		level, detail = levelCalled, "calls "+v.PkgPath+"."+v.Symbol
	case v.ImportSink != 0:
		level, detail = levelImported, "imports "+v.PkgPath
	}
	p.add(v.OSV.ID, v.ModPath, "", "", level, detail, pointer)
}

// emit starts the scan and emits the gathered findings and evidence.
func (p *parser) emit(ctx context.Context) error {
	module := p.mainMod
	if module == "" {
		module = p.traceMod
	}
	target, asset := module, ""
	if target == "" {
		target = p.in.TargetOr("")
		if target == "" {
			p.in.Warn("%s: the govulncheck output names no main module; pass --target to name the repository it scanned", p.in.Name)
			target = "unknown"
		}
	}
	asset = model.RepoKey(target)
	if err := p.sink.BeginScan(model.Scan{ParserVersion: ParserVersion, Tool: Tool, ToolVersion: p.cfg.ScannerVersion, Format: "govulncheck", Target: target, Asset: asset}); err != nil {
		return err
	}
	a := model.Asset{Key: asset, Kind: model.KindRepository, Name: target, Source: Tool}
	if p.cfg.GoVersion != "" {
		a.Labels = map[string]string{"go.version": p.cfg.GoVersion}
	}
	if err := p.sink.Asset(a); err != nil {
		return err
	}
	for _, e := range p.order {
		if err := ctx.Err(); err != nil {
			return err
		}
		f := p.finding(e, asset)
		if err := p.sink.Finding(f); err != nil {
			return err
		}
		kind := model.EvidenceRequiredOnly
		switch e.level {
		case levelCalled:
			kind = model.EvidenceReachableCall
		case levelImported:
			kind = model.EvidenceImportedOnly
		}
		if err := p.sink.Evidence(model.Evidence{
			Kind:      kind,
			Asset:     asset,
			VulnID:    e.osv,
			FindingID: f.ID, // set by the sink's Normalize
			Source:    Tool,
			Detail:    e.detail,
		}); err != nil {
			return err
		}
	}
	return nil
}

func (p *parser) finding(e *entry, asset string) *model.Finding {
	info := p.osvs[e.osv]
	if info == nil {
		info = &osvInfo{}
	}
	version := e.version
	if version == "" && p.legacy {
		version = p.modVers[e.module]
	}
	f := &model.Finding{
		Tool:        Tool,
		Kind:        model.FindingVulnerability,
		RuleID:      e.osv,
		VulnIDs:     append([]string{e.osv}, info.aliases...),
		Title:       info.summary,
		Description: info.details,
		Asset:       asset,
		Package: model.Package{
			Name:         e.module,
			Version:      version,
			FixedVersion: e.fixed,
		},
		CVSS:     info.vectors,
		Severity: model.ParseSeverity(info.severity),
		Pointer:  e.pointer,
	}
	f.ToolSeverity = info.severity
	if f.Title == "" {
		f.Title = e.osv + " in " + e.module
	}
	if e.module != "" {
		f.Package.PURL = "pkg:golang/" + e.module
		if version != "" {
			f.Package.PURL += "@" + version
		}
	}
	if info.url != "" {
		f.Description = strings.TrimSpace(f.Description + "\n\n" + info.url)
	}
	return f
}
