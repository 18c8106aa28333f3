// Package grype parses the JSON reports of Anchore's Grype: one finding per
// match (a vulnerability on a package of an image, a directory or an SBOM),
// including the matches an ignore rule suppressed.
package grype

import (
	"context"
	"fmt"
	"strings"

	"github.com/go-json-experiment/json/jsontext"

	"github.com/ctem-dev/ctem/internal/ingest"
	"github.com/ctem-dev/ctem/internal/model"
)

// Tool is the tool name findings carry.
const Tool = "grype"

const formatName = "grype"

// Format is the Grype JSON format (grype -o json).
var Format = ingest.Format{
	Version: ParserVersion,
	Name:    formatName,
	Title:   "Anchore Grype JSON",
	Detect:  Detect,
	Parse:   Parse,
}

// Detect accepts an object with a matches array whose descriptor names
// grype, or whose first match has Grype's vulnerability, artifact and
// matchDetails members, or, for an empty report, Grype's source and distro
// members.
func Detect(s *ingest.Sniff) bool {
	if s.Kind != ingest.SniffJSONObject || !s.Has("matches") {
		return false
	}
	if s.Get("descriptor.name") == "grype" {
		return true
	}
	if s.HasAll("matches[].vulnerability", "matches[].artifact", "matches[].matchDetails") {
		return true
	}
	return s.Get("matches") == "" && s.Has("source.type") && s.Has("distro") && !s.Has("matches[]")
}

type cvss struct {
	Source  string `json:"source"`
	Type    string `json:"type"`
	Version string `json:"version"`
	Vector  string `json:"vector"`
	Metrics struct {
		BaseScore ingest.Text `json:"baseScore"`
	} `json:"metrics"`
}

type epss struct {
	CVE        string      `json:"cve"`
	EPSS       ingest.Text `json:"epss"`
	Percentile ingest.Text `json:"percentile"`
	Date       string      `json:"date"`
}

type vulnerability struct {
	ID          string `json:"id"`
	DataSource  string `json:"dataSource"`
	Namespace   string `json:"namespace"`
	Severity    string `json:"severity"`
	Description string `json:"description"`
	CVSS        []cvss `json:"cvss"`
	EPSS        []epss `json:"epss"`
	KEV         []struct {
		CVE string `json:"cve"`
	} `json:"knownExploited"`
	Fix struct {
		Versions []string `json:"versions"`
		State    string   `json:"state"`
	} `json:"fix"`
}

type match struct {
	Vulnerability          vulnerability   `json:"vulnerability"`
	RelatedVulnerabilities []vulnerability `json:"relatedVulnerabilities"`
	MatchDetails           matchDetails    `json:"matchDetails"`
	Artifact               struct {
		ID        string `json:"id"`
		Name      string `json:"name"`
		Version   string `json:"version"`
		Type      string `json:"type"`
		Language  string `json:"language"`
		PURL      string `json:"purl"`
		Locations []struct {
			Path string `json:"path"`
		} `json:"locations"`
	} `json:"artifact"`
	AppliedIgnoreRules []struct {
		Vulnerability string `json:"vulnerability"`
		Reason        string `json:"reason"`
		VexStatus     string `json:"vex-status"`
		Namespace     string `json:"namespace"`
	} `json:"appliedIgnoreRules"`
}

type matchDetail struct {
	Type    string `json:"type"`
	Matcher string `json:"matcher"`
}

// matchDetails is how Grype found a match: an array of objects, or in
// Grype 0.7's reports a single object.
type matchDetails []matchDetail

// UnmarshalJSONFrom implements json.UnmarshalerFrom.
func (m *matchDetails) UnmarshalJSONFrom(dec *jsontext.Decoder) error {
	if dec.PeekKind() == '{' {
		var d matchDetail
		if err := ingest.DecodeJSON(dec, &d); err != nil {
			return err
		}
		*m = matchDetails{d}
		return nil
	}
	var list []matchDetail
	if err := ingest.DecodeJSON(dec, &list); err != nil {
		return err
	}
	*m = list
	return nil
}

// source is the report's scanned target: an image (an object), or a
// directory or file (a string).
type source struct {
	Type   string         `json:"type"`
	Target jsontext.Value `json:"target"`
}

type imageTarget struct {
	UserInput      string   `json:"userInput"`
	ImageID        string   `json:"imageID"`
	ManifestDigest string   `json:"manifestDigest"`
	Tags           []string `json:"tags"`
	RepoDigests    []string `json:"repoDigests"`
}

type parser struct {
	in   *ingest.Input
	sink ingest.Sink
	dec  *jsontext.Decoder

	version string
	src     *source
	distro  struct {
		Name    string `json:"name"`
		Version string `json:"version"`
	}

	began bool
	asset string
	// matches holds the raw matches until the scan can begin, tagged
	// with their list (tagMatch, tagIgnored).
	matches ingest.Spool
}

// The tags of spooled matches: which list each came from.
const (
	tagMatch = iota
	tagIgnored
)

// spoolLimit is the memory limit of the spool of matches; tests lower it
// to exercise the temporary file.
var spoolLimit = ingest.DefaultSpoolLimit

// pendingFinding is a finding with the EPSS and KEV facts of its match.
type pendingFinding struct {
	f    *model.Finding
	epss []epss
	kev  []string
}

// Parse reads a Grype report from in and emits one finding per match.
//
// Grype writes "source", "distro" and "descriptor" after "matches", and
// the scan depends on them; so the matches are read as a stream and
// spooled raw (in memory up to a limit, then to a temporary file), and
// decoded once the whole report has been read.
func Parse(ctx context.Context, in *ingest.Input, sink ingest.Sink) error {
	p := &parser{in: in, sink: sink, dec: in.JSONDecoder()}
	p.matches.Limit = spoolLimit
	defer p.matches.Close()
	err := p.parse(ctx)
	return ingest.AsInputError(in, p.dec.InputOffset(), err)
}

func (p *parser) parse(ctx context.Context) error {
	if k := p.dec.PeekKind(); k != '{' {
		if _, err := p.dec.ReadToken(); err != nil {
			return err
		}
		return p.in.Errorf(0, "not a Grype report: expected an object")
	}
	if err := ingest.WalkObject(p.dec, func(name string) error { return p.top(ctx, name) }); err != nil {
		return err
	}
	if err := p.beginScan(); err != nil {
		return err
	}
	if err := p.replay(ctx); err != nil {
		return err
	}
	return ingest.ExpectEOF(p.in, p.dec)
}

func (p *parser) top(ctx context.Context, name string) error {
	switch name {
	case "matches", "ignoredMatches":
		tag := tagMatch
		if name == "ignoredMatches" {
			tag = tagIgnored
		}
		return ingest.WalkArray(p.dec, func() error {
			if err := ctx.Err(); err != nil {
				return err
			}
			return p.matches.Read(p.dec, tag)
		})
	case "source":
		p.src = &source{}
		return ingest.DecodeJSON(p.dec, p.src)
	case "distro":
		return ingest.DecodeJSON(p.dec, &p.distro)
	case "descriptor":
		var d struct {
			Name    string `json:"name"`
			Version string `json:"version"`
		}
		if err := ingest.DecodeJSON(p.dec, &d); err != nil {
			return err
		}
		p.version = d.Version
		return nil
	}
	return p.dec.SkipValue()
}

// replay decodes the spooled matches and emits their findings, in input
// order.
func (p *parser) replay(ctx context.Context) error {
	var n [2]int // matches of each list so far, for pointers
	return p.matches.Each(func(off int64, tag int, v jsontext.Value) error {
		if err := ctx.Err(); err != nil {
			return err
		}
		list := "matches"
		if tag == tagIgnored {
			list = "ignoredMatches"
		}
		ptr := fmt.Sprintf("/%s/%d", list, n[tag])
		n[tag]++
		var m match
		if err := ingest.DecodeSpooled(p.in, off, ptr, v, &m); err != nil {
			return err
		}
		pf := p.finding(&m, tag == tagIgnored)
		pf.f.Pointer = ptr
		return p.emit(pf)
	})
}

func (p *parser) emit(pf pendingFinding) error {
	pf.f.Asset = p.asset
	if err := p.sink.Finding(pf.f); err != nil {
		return err
	}
	for _, e := range pf.epss {
		if e.CVE == "" || e.EPSS == "" {
			continue
		}
		if err := p.sink.Evidence(model.Evidence{
			Kind: model.EvidenceEPSS, Asset: p.asset, VulnID: model.NormalizeVulnID(e.CVE), Source: Tool,
			Detail: fmt.Sprintf("epss %s, percentile %s, %s", e.EPSS, e.Percentile, e.Date),
		}); err != nil {
			return err
		}
	}
	for _, cve := range pf.kev {
		if err := p.sink.Evidence(model.Evidence{Kind: model.EvidenceKEV, Asset: p.asset, VulnID: model.NormalizeVulnID(cve), Source: Tool}); err != nil {
			return err
		}
	}
	return nil
}

// beginScan starts the report's scan at the end of the report.
func (p *parser) beginScan() error {
	if p.began {
		return nil
	}
	p.began = true
	s := model.Scan{ParserVersion: ParserVersion, Tool: Tool, ToolVersion: p.version, Format: formatName}
	var img *imageTarget
	var path string
	if p.src != nil {
		switch {
		case len(p.src.Target) > 0 && p.src.Target.Kind() == '{':
			img = &imageTarget{}
			if err := ingest.UnmarshalJSON(p.src.Target, img); err != nil {
				return err
			}
		case len(p.src.Target) > 0 && p.src.Target.Kind() == '"':
			if err := ingest.UnmarshalJSON(p.src.Target, &path); err != nil {
				return err
			}
		}
	}
	switch {
	case img != nil:
		var tagged string
		p.asset, tagged = p.imageAsset(img)
		s.Target = tagged
		if err := p.emitImage(img); err != nil {
			return err
		}
	default:
		name := p.in.TargetOr(path)
		switch {
		case name == "" || name == ".":
			p.in.Warn("%s: the report names no target; pass --target to name what Grype scanned", p.in.Name)
			if name == "" {
				name = "unknown"
			}
			p.asset = model.FileKey(name)
		case p.src != nil && p.src.Type == "file" && p.in.Target == "":
			p.asset = model.FileKey(name)
		default:
			p.asset = model.ProjectKey(name)
		}
		s.Target = name
	}
	s.Asset = p.asset
	return p.sink.BeginScan(s)
}

// imageAsset picks the image's key and the scan target the way the trivy
// format does, so that both tools' findings on one image meet: a repository
// digest wins for the key; the target is the tagged name, so that
// rescanning a rebuilt "app:latest" closes what the old build had.
func (p *parser) imageAsset(img *imageTarget) (asset, target string) {
	tagged := stripScheme(img.UserInput)
	if _, ok := model.ParseImageRef(tagged); !ok || strings.HasPrefix(tagged, "sha256:") || strings.HasPrefix(tagged, "/") || strings.HasPrefix(tagged, ".") {
		tagged = ""
	}
	if tagged == "" || strings.Contains(tagged, "@") {
		for _, t := range img.Tags {
			if t != "" {
				tagged = t
				break
			}
		}
	}
	if tagged == "" {
		tagged = stripScheme(img.UserInput)
	}
	if p.in.Target != "" {
		tagged = p.in.Target
	}
	if tagged == "" {
		p.in.Warn("%s: the image report names no image; pass --target", p.in.Name)
		tagged = "unknown"
	}
	asset = model.ImageKey(tagged)
	for _, d := range img.RepoDigests {
		if d != "" {
			asset = model.ImageKey(d)
			break
		}
	}
	return asset, model.ImageKey(tagged)
}

// stripScheme drops the source scheme Grype accepts before an image
// reference ("docker:", "registry:", "podman:").
func stripScheme(s string) string {
	for _, scheme := range []string{"docker:", "registry:", "podman:", "containerd:"} {
		if rest, ok := strings.CutPrefix(s, scheme); ok {
			return rest
		}
	}
	return s
}

func (p *parser) emitImage(img *imageTarget) error {
	a := model.Asset{Key: p.asset, Kind: model.KindImage, Name: strings.TrimPrefix(p.asset, "image:"), Source: Tool}
	labels := map[string]string{}
	if img.ImageID != "" {
		labels["image.id"] = img.ImageID
	}
	if img.ManifestDigest != "" {
		labels["image.manifest_digest"] = img.ManifestDigest
	}
	if ref := stripScheme(img.UserInput); ref != "" {
		if _, ok := model.ParseImageRef(ref); ok {
			labels["image.ref"] = strings.TrimPrefix(model.ImageKey(ref), "image:")
		}
	}
	if p.distro.Name != "" {
		labels["os"] = strings.TrimSpace(p.distro.Name + " " + p.distro.Version)
	}
	if len(labels) > 0 {
		a.Labels = labels
	}
	return p.sink.Asset(a)
}

func (p *parser) finding(m *match, ignored bool) pendingFinding {
	v := &m.Vulnerability
	a := &m.Artifact
	f := &model.Finding{
		Tool:         Tool,
		Kind:         model.FindingVulnerability,
		RuleID:       v.ID,
		VulnIDs:      []string{v.ID},
		Severity:     model.ParseSeverity(v.Severity),
		ToolSeverity: v.Severity,
		Title:        v.ID + " in " + a.Name,
		Description:  v.Description,
		Package: model.Package{
			Name:         a.Name,
			Version:      a.Version,
			FixedVersion: strings.Join(v.Fix.Versions, ", "),
			PURL:         a.PURL,
		},
	}
	// The first location tells apart two copies of one package (in two
	// layers, or two jars); for operating system packages it is the
	// package database, which does not move between builds.
	if len(a.Locations) > 0 {
		f.Location.Path = a.Locations[0].Path
	}
	pf := pendingFinding{f: f, epss: v.EPSS}
	for _, k := range v.KEV {
		pf.kev = append(pf.kev, k.CVE)
	}
	f.CVSS = appendCVSS(f.CVSS, v)
	for i := range m.RelatedVulnerabilities {
		r := &m.RelatedVulnerabilities[i]
		f.VulnIDs = append(f.VulnIDs, r.ID)
		if f.Description == "" {
			f.Description = r.Description
		}
		f.CVSS = appendCVSS(f.CVSS, r)
		pf.epss = append(pf.epss, r.EPSS...)
	}
	if f.Severity == model.SeverityUnknown {
		for _, c := range f.CVSS {
			if c.Score > 0 {
				f.Severity = model.SeverityFromScore(c.Score)
				break
			}
		}
	}
	switch v.Fix.State {
	case "wont-fix", "not-fixed":
		f.ToolStatus = "fix: " + v.Fix.State
	}
	if ignored {
		f.Status = model.StatusAccepted
		f.ToolStatus = "ignored"
		for _, r := range m.AppliedIgnoreRules {
			if strings.EqualFold(r.VexStatus, "not_affected") {
				f.Status = model.StatusNotAffected
			}
			f.ToolStatus = strings.TrimSpace(fmt.Sprintf("ignored: %s %s", r.VexStatus, r.Reason))
		}
	}
	return pf
}

// appendCVSS adds v's vectors, each with its scorer: the CVSS entry's own
// source, else the vulnerability's namespace.
func appendCVSS(out []model.CVSS, v *vulnerability) []model.CVSS {
	for _, c := range v.CVSS {
		if c.Vector == "" {
			continue
		}
		src := c.Source
		if src == "" {
			src = v.Namespace
		}
		out = append(out, model.CVSS{Source: src, Vector: c.Vector, Score: c.Metrics.BaseScore.Float()})
	}
	return out
}
