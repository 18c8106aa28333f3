// Package snyk parses the JSON output of the Snyk CLI's open-source and
// container tests (snyk test --json, snyk container test --json): a single
// project object, or the array of projects that --all-projects writes. Each
// entry of a project's vulnerabilities becomes one finding; ignored and
// patched entries are kept as accepted. Snyk Code writes SARIF, which the
// sarif format reads.
package snyk

import (
	"bytes"
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/go-json-experiment/json/jsontext"

	"github.com/ctem-dev/ctem/internal/ingest"
	"github.com/ctem-dev/ctem/internal/model"
)

// Tool is the tool name findings carry.
const Tool = "snyk"

const formatName = "snyk"

// Format is the Snyk CLI JSON format.
var Format = ingest.Format{
	Version: ParserVersion,
	Name:    formatName,
	Title:   "Snyk CLI JSON (snyk test, --all-projects, snyk container test)",
	Detect:  Detect,
	Parse:   Parse,
}

// Detect accepts a project object, or an array of them, whose first
// vulnerability carries Snyk's dependency path (from and upgradePath) or a
// SNYK- id with a packageName, or whose members are Snyk's project summary
// (ok, dependencyCount, packageManager, policy). CycloneDX documents, which
// also hold vulnerabilities, are refused.
func Detect(s *ingest.Sniff) bool {
	var pre string
	switch s.Kind {
	case ingest.SniffJSONObject:
	case ingest.SniffJSONArray:
		pre = "[]."
	default:
		return false
	}
	if !s.Has(pre + "vulnerabilities") {
		return false
	}
	if s.Has("bomFormat") || s.Has("specVersion") {
		return false // CycloneDX also names its list "vulnerabilities"
	}
	if s.HasAll(pre+"vulnerabilities[].from", pre+"vulnerabilities[].upgradePath") ||
		strings.HasPrefix(s.Get(pre+"vulnerabilities[].id"), "SNYK-") && s.Has(pre+"vulnerabilities[].packageName") {
		return true
	}
	return s.HasAll(pre+"ok", pre+"dependencyCount", pre+"packageManager") && s.HasAny(pre+"policy", pre+"org")
}

type cvssDetail struct {
	Assigner        string      `json:"assigner"`
	CVSSv3Vector    string      `json:"cvssV3Vector"`
	CVSSv3BaseScore ingest.Text `json:"cvssV3BaseScore"`
}

type vulnerability struct {
	ID          string                   `json:"id"`
	Type        string                   `json:"type"`
	Title       string                   `json:"title"`
	Description string                   `json:"description"`
	Severity    string                   `json:"severity"`
	CVSSv3      string                   `json:"CVSSv3"`
	CVSSScore   ingest.Text              `json:"cvssScore"`
	CVSSDetails []cvssDetail             `json:"cvssDetails"`
	Identifiers map[string][]ingest.Text `json:"identifiers"`
	PackageName string                   `json:"packageName"`
	Name        string                   `json:"name"`
	Version     string                   `json:"version"`
	FixedIn     []ingest.Text            `json:"fixedIn"`
	From        []string                 `json:"from"`
	UpgradePath []jsontext.Value         `json:"upgradePath"`
	License     string                   `json:"license"`
	EPSSDetails *struct {
		Probability ingest.Text `json:"probability"`
		Percentile  ingest.Text `json:"percentile"`
	} `json:"epssDetails"`
	Filtered struct {
		Ignored []struct {
			Reason  string `json:"reason"`
			Expires string `json:"expires"`
			Source  string `json:"source"`
		} `json:"ignored"`
		Patches []jsontext.Value `json:"patches"`
	} `json:"filtered"`
}

// pending is a finding with its EPSS detail.
type pending struct {
	f    *model.Finding
	epss string // EPSS detail, when Snyk gave one
}

// project is what one project object says.
type project struct {
	projectName, path, manifest string
	container                   bool
	image                       string // "name:tag" from a docker-image dependency path
}

// list is one array of vulnerabilities of a project, or of one of its
// applications.
type list struct {
	pr     *project
	ptr    string // its JSON pointer
	filter string // "ignore" or "patch" for those Snyk filtered out
	n      int    // entries replayed so far
}

type parser struct {
	in   *ingest.Input
	sink ingest.Sink
	dec  *jsontext.Decoder

	// vulns holds the raw vulnerabilities of the current top-level
	// project until its target is known, each tagged with the index of
	// its list in lists.
	vulns ingest.Spool
	lists []*list
}

// spoolLimit is the memory limit of the spool of vulnerabilities; tests
// lower it to exercise the temporary file.
var spoolLimit = ingest.DefaultSpoolLimit

// Parse reads a Snyk report from in and emits one scan per project.
//
// Snyk writes a project's name and path after its vulnerabilities; so a
// project's vulnerabilities are read as a stream and spooled raw (in
// memory up to a limit, then to a temporary file), and decoded once the
// project object ends.
func Parse(ctx context.Context, in *ingest.Input, sink ingest.Sink) error {
	p := &parser{in: in, sink: sink, dec: in.JSONDecoder()}
	p.vulns.Limit = spoolLimit
	defer p.vulns.Close()
	err := p.parse(ctx)
	return ingest.AsInputError(in, p.dec.InputOffset(), err)
}

func (p *parser) parse(ctx context.Context) error {
	switch p.dec.PeekKind() {
	case '{':
		if err := p.top(ctx, ""); err != nil {
			return err
		}
	case '[':
		if err := ingest.WalkItems(ctx, p.dec, func(i int) error {
			return p.top(ctx, fmt.Sprintf("/%d", i))
		}); err != nil {
			return err
		}
	default:
		if _, err := p.dec.ReadToken(); err != nil {
			return err
		}
		return p.in.Errorf(0, "not a Snyk report: expected an object or an array")
	}
	return ingest.ExpectEOF(p.in, p.dec)
}

// top reads one top-level project and emits its scan.
func (p *parser) top(ctx context.Context, ptr string) error {
	if err := p.vulns.Close(); err != nil {
		return err
	}
	p.lists = p.lists[:0]
	pr, err := p.project(ctx, ptr, true)
	if err != nil {
		return err
	}
	return p.emit(ctx, pr)
}

func (p *parser) project(ctx context.Context, ptr string, top bool) (*project, error) {
	pr := &project{}
	var displayTarget, targetFile string
	err := ingest.WalkObject(p.dec, func(name string) error {
		switch name {
		case "vulnerabilities":
			return p.spool(ctx, pr, top, ptr+"/vulnerabilities", "")
		case "filtered":
			return ingest.WalkObject(p.dec, func(kind string) error {
				switch kind {
				case "ignore", "patch":
					return p.spool(ctx, pr, top, ptr+"/filtered/"+kind, kind)
				}
				return p.dec.SkipValue()
			})
		case "projectName":
			return ingest.DecodeJSON(p.dec, &pr.projectName)
		case "path":
			return ingest.DecodeJSON(p.dec, &pr.path)
		case "displayTargetFile":
			return ingest.DecodeJSON(p.dec, &displayTarget)
		case "targetFile":
			return ingest.DecodeJSON(p.dec, &targetFile)
		case "docker":
			pr.container = true
			return p.dec.SkipValue()
		case "applications":
			return ingest.WalkItems(ctx, p.dec, func(i int) error {
				// An application's vulnerabilities join the spool of
				// its project, in a list of their own.
				_, err := p.project(ctx, fmt.Sprintf("%s/applications/%d", ptr, i), false)
				return err
			})
		}
		return p.dec.SkipValue()
	})
	if err != nil {
		return nil, err
	}
	pr.manifest = strings.ReplaceAll(displayTarget, "\\", "/")
	if pr.manifest == "" {
		pr.manifest = strings.ReplaceAll(targetFile, "\\", "/")
	}
	if strings.HasPrefix(pr.projectName, "docker-image|") {
		pr.container = true
	}
	return pr, nil
}

// spool reads an array of vulnerabilities of pr into the spool; top says
// pr is a top-level project, not an application; filter is "ignore" or
// "patch" for the entries Snyk filtered out.
func (p *parser) spool(ctx context.Context, pr *project, top bool, ptr, filter string) error {
	l := &list{pr: pr, ptr: ptr, filter: filter}
	tag := len(p.lists)
	p.lists = append(p.lists, l)
	return ingest.WalkArray(p.dec, func() error {
		if err := ctx.Err(); err != nil {
			return err
		}
		v, err := p.dec.ReadValue()
		if err != nil {
			return err
		}
		// Only a top-level project's image names a scan.
		if top && pr.image == "" {
			pr.image = image(v)
		}
		return p.vulns.Add(p.dec.InputOffset()-int64(len(v)), tag, v)
	})
}

// image returns the image a vulnerability's dependency path starts from
// ("docker-image|name@tag" as "name:tag"), or "". Its other members are
// left for the full decoding that follows the project's end.
func image(v jsontext.Value) string {
	// Most projects are not images: a byte search spares them a second
	// decoding of every vulnerability. (Snyk writes the prefix plainly,
	// never with escaped characters.)
	if !bytes.Contains(v, []byte("docker-image|")) {
		return ""
	}
	var d struct {
		From []string `json:"from"`
	}
	if ingest.UnmarshalJSON(v, &d) != nil || len(d.From) == 0 {
		return ""
	}
	ref, ok := strings.CutPrefix(d.From[0], "docker-image|")
	if !ok {
		return ""
	}
	if j := strings.LastIndex(ref, "@"); j > 0 && !strings.Contains(ref[j:], ":") {
		ref = ref[:j] + ":" + ref[j+1:]
	}
	return ref
}

// emit begins the scan of a top-level project and emits its findings and
// those of its applications (the language projects Snyk found inside a
// container image), in input order.
func (p *parser) emit(ctx context.Context, pr *project) error {
	s := model.Scan{ParserVersion: ParserVersion, Tool: Tool, Format: formatName}
	if pr.container {
		ref := p.in.Target
		if ref == "" {
			ref = pr.image
		}
		if ref == "" {
			ref = strings.TrimPrefix(pr.projectName, "docker-image|")
		}
		if ref == "" {
			p.in.Warn("%s: the container report names no image; pass --target", p.in.Name)
			ref = "unknown"
		}
		s.Asset = model.ImageKey(ref)
		s.Target = s.Asset
		if err := p.sink.BeginScan(s); err != nil {
			return err
		}
		if err := p.sink.Asset(model.Asset{Key: s.Asset, Kind: model.KindImage, Name: strings.TrimPrefix(s.Asset, "image:"), Source: Tool}); err != nil {
			return err
		}
	} else {
		base := p.in.TargetOr(pr.path)
		if base == "" {
			base = pr.projectName
		}
		if base == "" || base == "." {
			p.in.Warn("%s: the report names no project path; pass --target to name the repository Snyk tested", p.in.Name)
			if base == "" {
				base = "unknown"
			}
		}
		s.Asset = model.ProjectKey(base)
		s.Target = base
		if pr.manifest != "" {
			s.Target = strings.TrimRight(base, "/\\") + "/" + pr.manifest
		}
		if err := p.sink.BeginScan(s); err != nil {
			return err
		}
	}
	return p.vulns.Each(func(off int64, tag int, v jsontext.Value) error {
		if err := ctx.Err(); err != nil {
			return err
		}
		l := p.lists[tag]
		ptr := fmt.Sprintf("%s/%d", l.ptr, l.n)
		l.n++
		var vuln vulnerability
		if err := ingest.DecodeSpooled(p.in, off, ptr, v, &vuln); err != nil {
			return err
		}
		pf := finding(&vuln, l.filter)
		pf.f.Pointer = ptr
		// A container's operating system packages get no path: no
		// manifest tells them apart.
		withPath := l.pr != pr || !pr.container
		return p.finding(pf, l.pr, s.Asset, withPath)
	})
}

// finding emits pf, of project pr, on asset; withPath puts the project's
// manifest in its location.
func (p *parser) finding(pf pending, pr *project, asset string, withPath bool) error {
	f := pf.f
	f.Asset = asset
	if withPath {
		f.Location.Path = pr.manifest
	}
	if err := p.sink.Finding(f); err != nil {
		return err
	}
	if pf.epss == "" {
		return nil
	}
	for _, id := range f.VulnIDs {
		if !strings.HasPrefix(id, "CVE-") {
			continue
		}
		if err := p.sink.Evidence(model.Evidence{Kind: model.EvidenceEPSS, Asset: asset, VulnID: id, Source: Tool, Detail: pf.epss}); err != nil {
			return err
		}
	}
	return nil
}

func finding(v *vulnerability, filter string) pending {
	pkg := v.PackageName
	if pkg == "" {
		pkg = v.Name
	}
	f := &model.Finding{
		Tool:         Tool,
		Kind:         model.FindingVulnerability,
		RuleID:       v.ID,
		VulnIDs:      []string{v.ID},
		Severity:     model.ParseSeverity(v.Severity),
		ToolSeverity: v.Severity,
		Title:        v.Title,
		Description:  v.Description,
		Package:      model.Package{Name: pkg, Version: v.Version},
		Location:     model.Location{Component: strings.Join(v.From, " > ")},
	}
	if v.Type == "license" {
		f.Kind = model.FindingLicense
		f.VulnIDs = nil
		if f.Title == "" {
			f.Title = "licence " + v.License
		}
	}
	var fixed []string
	for _, t := range v.FixedIn {
		if t != "" {
			fixed = append(fixed, string(t))
		}
	}
	f.Package.FixedVersion = strings.Join(fixed, ", ")
	for _, kind := range slices.Sorted(maps.Keys(v.Identifiers)) {
		for _, id := range v.Identifiers[kind] {
			s := strings.TrimSpace(string(id))
			switch {
			case s == "":
			case strings.EqualFold(kind, "CWE"):
				f.CWEs = append(f.CWEs, s)
			case isDigits(s):
				// NSP and WhiteSource give bare numbers.
				f.VulnIDs = append(f.VulnIDs, kind+"-"+s)
			default:
				f.VulnIDs = append(f.VulnIDs, s)
			}
		}
	}
	if v.CVSSv3 != "" {
		f.CVSS = append(f.CVSS, model.CVSS{Source: "snyk", Vector: v.CVSSv3, Score: v.CVSSScore.Float()})
	}
	for _, d := range v.CVSSDetails {
		if d.CVSSv3Vector != "" {
			f.CVSS = append(f.CVSS, model.CVSS{Source: strings.ToLower(d.Assigner), Vector: d.CVSSv3Vector, Score: d.CVSSv3BaseScore.Float()})
		}
	}
	if f.Severity == model.SeverityUnknown && v.CVSSScore != "" {
		f.Severity = model.SeverityFromScore(v.CVSSScore.Float())
	}
	if f.Title == "" {
		f.Title = v.ID + " in " + pkg
	}
	switch filter {
	case "ignore":
		f.Status = model.StatusAccepted
		f.ToolStatus = "ignored"
		for _, ig := range v.Filtered.Ignored {
			f.ToolStatus = strings.TrimSpace(fmt.Sprintf("ignored: %s", ig.Reason))
			if ig.Expires != "" {
				f.ToolStatus += " (expires " + ig.Expires + ")"
			}
		}
	case "patch":
		f.Status = model.StatusAccepted
		f.ToolStatus = "patched"
	}
	pf := pending{f: f}
	if v.EPSSDetails != nil && v.EPSSDetails.Probability != "" {
		pf.epss = fmt.Sprintf("epss %s, percentile %s", v.EPSSDetails.Probability, v.EPSSDetails.Percentile)
	}
	return pf
}

func isDigits(s string) bool {
	for _, r := range s {
		if r < '0' || r > '9' {
			return false
		}
	}
	return s != ""
}
