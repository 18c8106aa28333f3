// Package osvscanner parses the JSON output of Google's OSV-Scanner
// (osv-scanner --format json): results by source file, packages, and the
// OSV records of their vulnerabilities. One finding is emitted per
// vulnerability group of a package, the grain OSV-Scanner itself reports:
// a group joins the records (GHSA, PYSEC, CVE, ...) that describe one
// weakness.
package osvscanner

import (
	"context"
	"errors"
	"fmt"
	"io"
	"path"
	"slices"
	"strings"

	"github.com/go-json-experiment/json/jsontext"

	"github.com/ctem-dev/ctem/internal/ingest"
	"github.com/ctem-dev/ctem/internal/model"
)

// Tool is the tool name findings carry.
const Tool = "osv-scanner"

const formatName = "osvscanner"

// Format is the OSV-Scanner JSON format.
var Format = ingest.Format{
	Version: ParserVersion,
	Name:    formatName,
	Title:   "OSV-Scanner JSON",
	Detect:  Detect,
	Parse:   Parse,
}

// Detect accepts an object whose results carry OSV-Scanner's source
// (path and type) and packages, or an empty result list beside
// OSV-Scanner's experimental_config.
func Detect(s *ingest.Sniff) bool {
	if s.Kind != ingest.SniffJSONObject || !s.Has("results") {
		return false
	}
	if s.Has("results[].source.path") && s.HasAny("results[].source.type", "results[].packages") {
		return true
	}
	return s.Get("results") == "" && !s.Has("results[]") && s.Has("experimental_config")
}

type osvPackage struct {
	Name      string `json:"name"`
	Version   string `json:"version"`
	Ecosystem string `json:"ecosystem"`
	Commit    string `json:"commit"`
}

type osv struct {
	ID       string   `json:"id"`
	Aliases  []string `json:"aliases"`
	Summary  string   `json:"summary"`
	Details  string   `json:"details"`
	Severity []struct {
		Type  string `json:"type"`
		Score string `json:"score"`
	} `json:"severity"`
	Affected []struct {
		Package struct {
			Ecosystem string `json:"ecosystem"`
			Name      string `json:"name"`
			PURL      string `json:"purl"`
		} `json:"package"`
		Ranges []struct {
			Events []struct {
				Fixed string `json:"fixed"`
			} `json:"events"`
		} `json:"ranges"`
		DatabaseSpecific struct {
			CWEs []struct {
				CWEID string `json:"cweId"`
			} `json:"cwes"`
		} `json:"database_specific"`
	} `json:"affected"`
	DatabaseSpecific struct {
		Severity string   `json:"severity"`
		CWEIDs   []string `json:"cwe_ids"`
	} `json:"database_specific"`
}

type group struct {
	IDs         []string    `json:"ids"`
	Aliases     []string    `json:"aliases"`
	MaxSeverity ingest.Text `json:"max_severity"`
}

type pkgResult struct {
	Package         osvPackage `json:"package"`
	Vulnerabilities []osv      `json:"vulnerabilities"`
	Groups          []group    `json:"groups"`
}

type parser struct {
	in   *ingest.Input
	sink ingest.Sink
	dec  *jsontext.Decoder
	dirs []string
	// results holds what the packages need of each result read, in
	// order (an index in "results" may come twice, if the member does).
	results []result
	// pkgs holds the raw package results until the target is known,
	// each tagged with the index of its result in results.
	pkgs ingest.Spool
	// pending is the findings of the package being emitted.
	pending []*model.Finding
}

// result is a result's index in "results", its source path, and how many
// of its packages have been replayed.
type result struct {
	index  int
	source string
	n      int
}

// spoolLimit is the memory limit of the spool of packages; tests lower it
// to exercise the temporary file.
var spoolLimit = ingest.DefaultSpoolLimit

// Parse reads an OSV-Scanner report from in and emits one scan for the
// whole report, named by --target or else by the directory that holds
// every scanned source.
//
// The target depends on every result's source, so the packages are read
// as a stream and spooled raw (in memory up to a limit, then to a
// temporary file), and decoded at the end of the report. An empty input
// is an empty report: OSV-Scanner writes nothing when it finds no package
// to scan.
func Parse(ctx context.Context, in *ingest.Input, sink ingest.Sink) error {
	p := &parser{in: in, sink: sink, dec: in.JSONDecoder()}
	p.pkgs.Limit = spoolLimit
	defer p.pkgs.Close()
	err := p.parse(ctx)
	return ingest.AsInputError(in, p.dec.InputOffset(), err)
}

func (p *parser) parse(ctx context.Context) error {
	switch p.dec.PeekKind() {
	case '{':
		if err := ingest.WalkObject(p.dec, func(name string) error {
			if name != "results" {
				return p.dec.SkipValue()
			}
			return ingest.WalkItems(ctx, p.dec, func(i int) error {
				return p.result(ctx, i)
			})
		}); err != nil {
			return err
		}
		if err := ingest.ExpectEOF(p.in, p.dec); err != nil {
			return err
		}
	case 0:
		// Empty input, or invalid JSON that ReadToken reports.
		if _, err := p.dec.ReadToken(); err == nil || !isEOF(err) {
			if err == nil {
				return p.in.Errorf(0, "not an OSV-Scanner report")
			}
			return err
		}
	default:
		if _, err := p.dec.ReadToken(); err != nil {
			return err
		}
		return p.in.Errorf(0, "not an OSV-Scanner report: expected an object")
	}
	return p.emit(ctx)
}

func isEOF(err error) bool {
	return errors.Is(err, io.EOF)
}

func (p *parser) result(ctx context.Context, index int) error {
	var src struct {
		Path string `json:"path"`
		Type string `json:"type"`
	}
	tag := len(p.results)
	p.results = append(p.results, result{index: index})
	return ingest.WalkObject(p.dec, func(name string) error {
		switch name {
		case "source":
			if err := ingest.DecodeJSON(p.dec, &src); err != nil {
				return err
			}
			p.results[tag].source = src.Path
			if src.Path != "" {
				dir := strings.ReplaceAll(src.Path, "\\", "/")
				if src.Type != "git" && src.Type != "directory" {
					dir = path.Dir(dir)
				}
				p.dirs = append(p.dirs, dir)
			}
			return nil
		case "packages":
			return ingest.WalkArray(p.dec, func() error {
				if err := ctx.Err(); err != nil {
					return err
				}
				return p.pkgs.Read(p.dec, tag)
			})
		}
		return p.dec.SkipValue()
	})
}

// pkg turns the groups of one package into findings, in p.pending;
// records that no group names get a finding each.
func (p *parser) pkg(pr *pkgResult, source, ptr string) {
	byID := map[string]*osv{}
	for i := range pr.Vulnerabilities {
		byID[pr.Vulnerabilities[i].ID] = &pr.Vulnerabilities[i]
	}
	grouped := map[string]bool{}
	for k, g := range pr.Groups {
		var recs []*osv
		for _, id := range g.IDs {
			if v := byID[id]; v != nil && !grouped[id] {
				recs = append(recs, v)
			}
			grouped[id] = true
		}
		if len(recs) == 0 && len(g.IDs) == 0 {
			continue
		}
		f := p.finding(pr, recs, g, source)
		f.Pointer = fmt.Sprintf("%s/groups/%d", ptr, k)
		p.pending = append(p.pending, f)
	}
	for i := range pr.Vulnerabilities {
		v := &pr.Vulnerabilities[i]
		if grouped[v.ID] {
			continue
		}
		f := p.finding(pr, []*osv{v}, group{IDs: []string{v.ID}}, source)
		f.Pointer = fmt.Sprintf("%s/vulnerabilities/%d", ptr, i)
		p.pending = append(p.pending, f)
	}
}

func (p *parser) finding(pr *pkgResult, recs []*osv, g group, source string) *model.Finding {
	pk := pr.Package
	version := pk.Version
	if version == "" {
		version = pk.Commit
	}
	f := &model.Finding{
		Tool:    Tool,
		Kind:    model.FindingVulnerability,
		VulnIDs: append(slices.Clone(g.IDs), g.Aliases...),
		Package: model.Package{Name: pk.Name, Version: version},
		Location: model.Location{
			Path: source,
		},
	}
	if len(g.IDs) > 0 {
		f.RuleID = g.IDs[0]
	}
	var fixed []string
	sev := model.SeverityUnknown
	for _, v := range recs {
		if f.RuleID == "" {
			f.RuleID = v.ID
		}
		f.VulnIDs = append(f.VulnIDs, v.ID)
		f.VulnIDs = append(f.VulnIDs, v.Aliases...)
		if f.Title == "" {
			f.Title = v.Summary
		}
		if f.Description == "" {
			f.Description = v.Details
		}
		f.CWEs = append(f.CWEs, v.DatabaseSpecific.CWEIDs...)
		if s := model.ParseSeverity(v.DatabaseSpecific.Severity); s.Rank() > sev.Rank() {
			sev = s
			f.ToolSeverity = v.DatabaseSpecific.Severity
		}
		src := strings.ToLower(v.ID)
		if i := strings.Index(src, "-"); i > 0 {
			src = src[:i]
		}
		for _, s := range v.Severity {
			if strings.HasPrefix(s.Type, "CVSS") && s.Score != "" {
				f.CVSS = append(f.CVSS, model.CVSS{Source: src, Vector: s.Score})
			}
		}
		for _, a := range v.Affected {
			if !strings.EqualFold(a.Package.Name, pk.Name) {
				continue
			}
			for _, c := range a.DatabaseSpecific.CWEs {
				f.CWEs = append(f.CWEs, c.CWEID)
			}
			for _, r := range a.Ranges {
				for _, e := range r.Events {
					if e.Fixed != "" && !slices.Contains(fixed, e.Fixed) {
						fixed = append(fixed, e.Fixed)
					}
				}
			}
			if f.Package.PURL == "" && a.Package.PURL != "" {
				f.Package.PURL = a.Package.PURL
				if version != "" && !strings.Contains(a.Package.PURL, "@") {
					f.Package.PURL += "@" + version
				}
			}
		}
	}
	f.Package.FixedVersion = strings.Join(fixed, ", ")
	// The group's max_severity is the highest CVSS base score of its
	// records, which OSV-Scanner computed; it wins over the words of the
	// advisory databases.
	if g.MaxSeverity != "" {
		score := g.MaxSeverity.Float()
		f.Severity = model.SeverityFromScore(score)
		f.ToolSeverity = string(g.MaxSeverity)
	} else {
		f.Severity = sev
	}
	if f.Title == "" {
		f.Title = f.RuleID + " in " + pk.Name
	}
	return f
}

// emit begins the report's one scan, then decodes the spooled packages
// and emits their findings.
func (p *parser) emit(ctx context.Context) error {
	base := p.in.Target
	if base == "" {
		base = commonDir(p.dirs)
	}
	if base == "" || base == "." {
		p.in.Warn("%s: the report names no source; pass --target to name the repository OSV-Scanner scanned", p.in.Name)
		if base == "" {
			base = "unknown"
		}
	}
	s := model.Scan{ParserVersion: ParserVersion, Tool: Tool, Format: formatName, Target: base, Asset: model.ProjectKey(base)}
	if err := p.sink.BeginScan(s); err != nil {
		return err
	}
	return p.pkgs.Each(func(off int64, tag int, v jsontext.Value) error {
		if err := ctx.Err(); err != nil {
			return err
		}
		r := &p.results[tag]
		ptr := fmt.Sprintf("/results/%d/packages/%d", r.index, r.n)
		r.n++
		var pr pkgResult
		if err := ingest.DecodeSpooled(p.in, off, ptr, v, &pr); err != nil {
			return err
		}
		p.pending = p.pending[:0]
		p.pkg(&pr, r.source, ptr)
		for _, f := range p.pending {
			f.Asset = s.Asset
			if err := p.sink.Finding(f); err != nil {
				return err
			}
		}
		return nil
	})
}

// commonDir returns the longest directory that holds every one of dirs,
// compared by path segment; "" when dirs is empty.
func commonDir(dirs []string) string {
	if len(dirs) == 0 {
		return ""
	}
	common := strings.Split(dirs[0], "/")
	for _, d := range dirs[1:] {
		parts := strings.Split(d, "/")
		n := 0
		for n < len(common) && n < len(parts) && common[n] == parts[n] {
			n++
		}
		common = common[:n]
	}
	out := strings.Join(common, "/")
	if out == "" && strings.HasPrefix(dirs[0], "/") {
		return "/"
	}
	return out
}
