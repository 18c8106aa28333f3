// Package cyclonedx parses CycloneDX bills of materials, JSON and XML,
// spec versions 1.2 to 1.7 (and the 1.0 vulnerability extension older
// Grype releases embed in 1.1 and 1.2 XML). The metadata component is the
// scanned target; every component becomes a package asset the target
// contains; embedded vulnerabilities, VEX statements included, become
// findings with their analysis as status and evidence.
package cyclonedx

import (
	"fmt"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"github.com/ctem-dev/ctem/internal/ingest"
	"github.com/ctem-dev/ctem/internal/model"
)

// Source is the source recorded on the assets and relations a BOM yields.
const Source = "cyclonedx"

// ctemAssetProperty is the component property by which ctem's CycloneDX
// export names the asset a component belongs to (export.AssetProperty).
const ctemAssetProperty = "ctem:asset"

// component is what the parser keeps of one component, whatever the
// syntax.
type component struct {
	Ref, Type, Group, Name, Version, PURL string
	// Path is where the tool found the component, from Trivy's or Syft's
	// properties.
	Path string
	// RepoDigest and RepoTag are Trivy's properties of an image.
	RepoDigest, RepoTag string
	// Asset is the ctem asset key a ctem export says the component
	// belongs to (property ctem:asset), so that one VEX of many assets
	// ingests each vulnerability on its own asset.
	Asset string
}

// key is the component's asset key: its purl, else a generic purl of its
// name and version. It is "" for a component with neither name nor purl.
func (c *component) key() string {
	if c.PURL != "" {
		return c.PURL
	}
	if c.Name == "" {
		return ""
	}
	return "pkg:generic/" + c.Name + "@" + c.Version
}

// setProperty keeps the properties the parser understands.
func (c *component) setProperty(name, value string) {
	switch name {
	case "aquasecurity:trivy:FilePath", "syft:location:0:path":
		if c.Path == "" {
			c.Path = value
		}
	case "aquasecurity:trivy:RepoDigest":
		if c.RepoDigest == "" {
			c.RepoDigest = value
		}
	case "aquasecurity:trivy:RepoTag":
		if c.RepoTag == "" {
			c.RepoTag = value
		}
	case ctemAssetProperty:
		if v := strings.TrimSpace(value); c.Asset == "" && v != "" && len(v) <= 4096 {
			c.Asset = v
		}
	}
}

// rating is one vulnerability rating.
type rating struct {
	Source   string
	Score    string
	Severity string
	Method   string
	Vector   string
}

// vuln is what the parser keeps of one vulnerability, whatever the syntax.
type vuln struct {
	ID             string
	Source         string
	SourceURL      string
	Aliases        []string
	Ratings        []rating
	CWEs           []string
	Description    string
	Detail         string
	Recommendation string
	Advisories     []string
	State          string
	Justification  string
	Responses      []string
	AnalysisDetail string
	Affects        []string // bom-refs
	Pointer        string
}

// meta is the BOM's metadata: its tool and target.
type meta struct {
	Tool, ToolVersion string
	Component         *component
}

// parser holds the state of one BOM, shared by both syntaxes.
type parser struct {
	in     *ingest.Input
	sink   ingest.Sink
	format string

	tool, toolVersion string
	began             bool
	target            string // the target's asset key, once begun
	targetRef         string // the metadata component's bom-ref

	// refs maps bom-refs to the components they name, so that
	// vulnerabilities can name the package they affect wherever in the
	// document it is defined.
	refs map[string]component
	// pendingRels are component keys read before the scan began.
	pendingRels []string
	// pending are vulnerabilities read before the scan began or naming
	// components not read yet.
	pending []pendingVuln
}

type pendingVuln struct {
	v      *vuln
	inline *component
}

func newParser(in *ingest.Input, sink ingest.Sink, format string) *parser {
	return &parser{in: in, sink: sink, format: format, tool: Source, refs: map[string]component{}}
}

// checkSpecVersion accepts CycloneDX 1.x.
func (p *parser) checkSpecVersion(off int64, v string) error {
	major, _, _ := strings.Cut(v, ".")
	if major != "1" {
		return p.in.Errorf(off, "unsupported CycloneDX specVersion %q (ctem reads 1.2 to 1.7)", v)
	}
	return nil
}

// setMeta records the metadata and begins the scan.
func (p *parser) setMeta(m meta) error {
	if m.Tool != "" {
		p.tool = strings.ToLower(strings.TrimSpace(m.Tool))
		p.toolVersion = m.ToolVersion
	}
	return p.beginScan(m.Component)
}

// beginScan starts the BOM's scan once, on the metadata component c (nil
// when the BOM has none).
func (p *parser) beginScan(c *component) error {
	if p.began {
		return nil
	}
	p.began = true
	s := model.Scan{ParserVersion: ParserVersion, Tool: p.tool, ToolVersion: p.toolVersion, Format: p.format}
	a := model.Asset{Source: Source}
	var ctype, name string
	if c != nil {
		ctype, name = c.Type, c.Name
		p.targetRef = c.Ref
		if c.Ref != "" {
			p.refs[c.Ref] = *c
		}
	}
	switch {
	case ctype == "container":
		tagged := imageRef(c)
		if c.RepoTag != "" {
			tagged = c.RepoTag
		}
		tagged = p.in.TargetOr(tagged)
		a.Key = model.ImageKey(tagged)
		if c.RepoDigest != "" {
			a.Key = model.ImageKey(c.RepoDigest)
		} else if ref := purlImageRef(c.PURL); ref != "" && p.in.Target == "" {
			a.Key = model.ImageKey(ref)
		}
		s.Target = model.ImageKey(tagged)
	case ctype == "application" || ctype == "library" || ctype == "framework":
		s.Target = p.in.TargetOr(name)
		switch {
		case s.Target == "" && c.PURL != "":
			s.Target, a.Key = c.PURL, c.PURL
		case looksLikeRepoURL(s.Target):
			a.Key = model.RepoKey(s.Target)
		default:
			a.Key = "repo:" + strings.ToLower(s.Target)
		}
	default:
		s.Target = p.in.TargetOr(name)
		if looksLikeRepoURL(s.Target) {
			a.Key = model.RepoKey(s.Target)
		} else {
			a.Key = model.FileKey(s.Target)
		}
	}
	if c != nil && c.Asset != "" && p.in.Target == "" {
		s.Target, a.Key = c.Asset, c.Asset
	}
	if s.Target == "" || a.Key == "repo:" {
		p.in.Warn("%s: the BOM names no target (no metadata.component); pass --target to name what it describes", p.in.Name)
		s.Target = "unknown"
		a.Key = model.FileKey("unknown")
	}
	p.target = a.Key
	s.Asset = a.Key
	if err := p.sink.BeginScan(s); err != nil {
		return err
	}
	a.Kind = model.KindOfKey(a.Key)
	a.Name = a.Key
	if i := strings.Index(a.Key, ":"); i >= 0 && !strings.HasPrefix(a.Key, "pkg:") {
		a.Name = a.Key[i+1:]
	}
	if c != nil {
		labels := map[string]string{}
		for k, v := range map[string]string{"cyclonedx.type": c.Type, "cyclonedx.name": c.Name, "version": c.Version, "purl": c.PURL} {
			if v != "" {
				labels[k] = v
			}
		}
		if len(labels) > 0 {
			a.Labels = labels
		}
	}
	if err := p.sink.Asset(a); err != nil {
		return err
	}
	for _, k := range p.pendingRels {
		if err := p.relate(k); err != nil {
			return err
		}
	}
	p.pendingRels = nil
	return nil
}

// addComponent records a component and its nested components: an asset
// each, contained by the target.
func (p *parser) addComponent(c *component) error {
	if c.Ref != "" {
		p.refs[c.Ref] = *c
	}
	key := c.key()
	if key == "" {
		return nil
	}
	a := model.Asset{Key: key, Kind: model.KindPackage, Name: c.Name, Source: Source}
	if c.Group != "" {
		a.Name = c.Group + "/" + c.Name
	}
	if c.Version != "" {
		a.Labels = map[string]string{"version": c.Version}
	}
	if err := p.sink.Asset(a); err != nil {
		return err
	}
	if c.Asset != "" {
		// A ctem export's package of a named asset: that asset contains it.
		if key == c.Asset {
			return nil
		}
		return p.sink.Relation(model.Relation{From: c.Asset, To: key, Type: model.RelContains, Source: Source})
	}
	if !p.began {
		p.pendingRels = append(p.pendingRels, key)
		return nil
	}
	return p.relate(key)
}

func (p *parser) relate(key string) error {
	if key == p.target {
		return nil
	}
	return p.sink.Relation(model.Relation{From: p.target, To: key, Type: model.RelContains, Source: Source})
}

// vulnerability emits the findings of v: one per component it affects.
// inline is the component a vulnerability of the 1.0 extension is nested
// in. A vulnerability read before the scan began, or that names a
// component not read yet, waits for the end of the document.
func (p *parser) vulnerability(v *vuln, inline *component) error {
	if !p.began {
		p.pending = append(p.pending, pendingVuln{v, inline})
		return nil
	}
	if inline == nil {
		for _, ref := range v.Affects {
			if _, ok := p.refs[ref]; !ok {
				p.pending = append(p.pending, pendingVuln{v, nil})
				return nil
			}
		}
	}
	return p.emit(v, inline)
}

// finish begins the scan if the BOM had no metadata and emits the
// vulnerabilities that waited.
func (p *parser) finish() error {
	if err := p.beginScan(nil); err != nil {
		return err
	}
	for _, pv := range p.pending {
		if err := p.emit(pv.v, pv.inline); err != nil {
			return err
		}
	}
	p.pending = nil
	return nil
}

// resolve returns the component a bom-ref names. A reference this BOM
// does not define (a BOM-Link "urn:cdx:serial/version#ref" into another
// BOM, say) names its purl, if it is one, or else itself.
func (p *parser) resolve(ref string) component {
	if c, ok := p.refs[ref]; ok {
		return c
	}
	if strings.HasPrefix(ref, "urn:cdx:") {
		if _, frag, ok := strings.Cut(ref, "#"); ok {
			if u, err := url.PathUnescape(frag); err == nil {
				frag = u
			}
			if c, ok := p.refs[frag]; ok {
				return c
			}
			ref = frag
		}
	}
	if strings.HasPrefix(ref, "pkg:") {
		return component{PURL: ref, Name: purlName(ref), Version: purlVersion(ref)}
	}
	return component{Name: ref}
}

func (p *parser) emit(v *vuln, inline *component) error {
	var targets []component
	switch {
	case inline != nil:
		targets = []component{*inline}
	case len(v.Affects) == 0:
		// A vulnerability that names nothing is about the target itself.
		targets = []component{p.refs[p.targetRef]}
	default:
		seen := map[string]bool{}
		for _, ref := range v.Affects {
			if !seen[ref] {
				seen[ref] = true
				targets = append(targets, p.resolve(ref))
			}
		}
	}
	for _, c := range targets {
		f := p.finding(v, &c)
		if err := p.sink.Finding(f); err != nil {
			return err
		}
		if ev, ok := p.evidence(v, f); ok {
			if err := p.sink.Evidence(ev); err != nil {
				return err
			}
		}
	}
	return nil
}

func (p *parser) finding(v *vuln, c *component) *model.Finding {
	f := &model.Finding{
		Tool:    p.tool,
		Kind:    model.FindingVulnerability,
		RuleID:  v.ID,
		VulnIDs: append([]string{v.ID}, v.Aliases...),
		Asset:   p.target,
		Package: model.Package{Name: c.Name, Version: c.Version, PURL: c.PURL},
		Pointer: v.Pointer,
	}
	if c.Asset != "" {
		f.Asset = c.Asset
	}
	if c.Group != "" && strings.HasPrefix(c.PURL, "pkg:maven/") {
		f.Package.Name = c.Group + ":" + c.Name
	}
	f.Location.Path = c.Path
	for _, cwe := range v.CWEs {
		if n := model.NormalizeCWE(cwe); n != "" {
			f.CWEs = append(f.CWEs, n)
		}
	}
	f.Severity, f.ToolSeverity = severity(v)
	f.CVSS = cvss(v)
	f.Title = v.ID
	if c.Name != "" {
		f.Title = v.ID + " in " + c.Name
		if c.Version != "" {
			f.Title += " " + c.Version
		}
	}
	var desc []string
	for _, s := range []string{v.Description, v.Detail} {
		if s = strings.TrimSpace(s); s != "" {
			desc = append(desc, s)
		}
	}
	if r := strings.TrimSpace(v.Recommendation); r != "" {
		desc = append(desc, "Recommendation: "+r)
	}
	var refs []string
	if v.SourceURL != "" {
		refs = append(refs, v.SourceURL)
	}
	for _, a := range v.Advisories {
		if a != "" && !slices.Contains(refs, a) {
			refs = append(refs, a)
		}
	}
	if len(refs) > 0 {
		desc = append(desc, "References:\n- "+strings.Join(refs, "\n- "))
	}
	f.Description = strings.Join(desc, "\n\n")
	state := strings.ToLower(strings.TrimSpace(v.State))
	switch state {
	case "not_affected":
		f.Status = model.StatusNotAffected
	case "false_positive":
		f.Status = model.StatusFalsePositive
	case "resolved", "resolved_with_pedigree":
		f.Status = model.StatusFixed
	case "exploitable":
		// Exploitable, not to be fixed and with no remedy offered (no
		// update, rollback or workaround) is a risk accepted, as ctem's
		// export writes it; a vendor's "will_not_fix, update" says to
		// upgrade, and stays open.
		if slices.Contains(v.Responses, "will_not_fix") && !slices.ContainsFunc(v.Responses, func(r string) bool {
			return r == "update" || r == "rollback" || r == "workaround_available"
		}) {
			f.Status = model.StatusAccepted
		}
	}
	if state != "" {
		f.ToolStatus = state
		if v.Justification != "" {
			f.ToolStatus += ": " + v.Justification
		}
	}
	return f
}

// evidence turns a VEX analysis into evidence about the finding: not
// affected (not_affected, false_positive) or affected (exploitable).
func (p *parser) evidence(v *vuln, f *model.Finding) (model.Evidence, bool) {
	var kind model.EvidenceKind
	switch strings.ToLower(strings.TrimSpace(v.State)) {
	case "not_affected", "false_positive":
		kind = model.EvidenceVEXNotAffected
	case "exploitable":
		kind = model.EvidenceVEXAffected
	default:
		return model.Evidence{}, false
	}
	var detail []string
	detail = append(detail, "state: "+v.State)
	if v.Justification != "" {
		detail = append(detail, "justification: "+v.Justification)
	}
	if len(v.Responses) > 0 {
		detail = append(detail, "response: "+strings.Join(v.Responses, ", "))
	}
	if d := strings.TrimSpace(v.AnalysisDetail); d != "" {
		detail = append(detail, d)
	}
	id := model.CanonicalVulnID(f.VulnIDs)
	if id == "" {
		id = model.CanonicalVulnID(model.SortVulnIDs(append([]string{v.ID}, v.Aliases...)))
	}
	return model.Evidence{
		Kind:      kind,
		Asset:     f.Asset,
		VulnID:    id,
		FindingID: f.ID,
		Source:    p.tool,
		Detail:    strings.Join(detail, "; "),
	}, true
}

// severity picks the vulnerability's severity: the word of the rating by
// the vulnerability's own source, else the first rating with a known word,
// else the first score.
func severity(v *vuln) (model.Severity, string) {
	ordered := make([]rating, 0, len(v.Ratings))
	for _, r := range v.Ratings {
		if v.Source != "" && strings.EqualFold(r.Source, v.Source) {
			ordered = append(ordered, r)
		}
	}
	for _, r := range v.Ratings {
		if v.Source == "" || !strings.EqualFold(r.Source, v.Source) {
			ordered = append(ordered, r)
		}
	}
	for _, r := range ordered {
		if s := model.ParseSeverity(r.Severity); s != model.SeverityUnknown {
			return s, r.Severity
		}
	}
	for _, r := range ordered {
		if f, err := strconv.ParseFloat(strings.TrimSpace(r.Score), 64); err == nil && f >= 0 && f <= 10 {
			return model.SeverityFromScore(f), ""
		}
	}
	for _, r := range ordered {
		if r.Severity != "" {
			return model.SeverityUnknown, r.Severity
		}
	}
	return model.SeverityUnknown, ""
}

// cvssPrefix maps CycloneDX rating methods to the prefix their vectors
// carry in the CVSS specifications.
var cvssPrefix = map[string]string{
	"cvssv2":  "",
	"cvssv3":  "CVSS:3.0/",
	"cvssv31": "CVSS:3.1/",
	"cvssv4":  "CVSS:4.0/",
}

// cvss returns the CVSS vectors of the ratings, with the version prefix
// CycloneDX leaves out.
func cvss(v *vuln) []model.CVSS {
	var out []model.CVSS
	for _, r := range v.Ratings {
		vec := strings.TrimSpace(r.Vector)
		prefix, ok := cvssPrefix[strings.ToLower(strings.TrimSpace(r.Method))]
		if vec == "" || !ok {
			continue
		}
		if prefix != "" && !strings.HasPrefix(vec, "CVSS:") {
			vec = prefix + vec
		}
		src := r.Source
		if src == "" {
			src = v.Source
		}
		c := model.CVSS{Source: src, Vector: vec}
		if f, err := strconv.ParseFloat(strings.TrimSpace(r.Score), 64); err == nil && f >= 0 && f <= 10 {
			c.Score = f
		}
		if !slices.Contains(out, c) {
			out = append(out, c)
		}
	}
	return out
}

// imageRef names the image a container component describes: its name,
// with its version as tag or digest unless the name has one.
func imageRef(c *component) string {
	name := strings.TrimSpace(c.Name)
	last := name[strings.LastIndex(name, "/")+1:]
	switch {
	case c.Version == "" || strings.Contains(last, ":") || strings.Contains(name, "@"):
		return name
	case strings.HasPrefix(c.Version, "sha256:"):
		return name + "@" + c.Version
	}
	return name + ":" + c.Version
}

// purlImageRef reads the image an oci or docker purl names:
// "pkg:oci/app@sha256%3Aabc?repository_url=ghcr.io/o/app" is
// ghcr.io/o/app@sha256:abc. It returns "" for other purls.
func purlImageRef(purl string) string {
	rest, ok := strings.CutPrefix(purl, "pkg:oci/")
	docker := false
	if !ok {
		if rest, ok = strings.CutPrefix(purl, "pkg:docker/"); !ok {
			return ""
		}
		docker = true
	}
	rest, _, _ = strings.Cut(rest, "#")
	rest, query, _ := strings.Cut(rest, "?")
	name, version, _ := strings.Cut(rest, "@")
	if u, err := url.PathUnescape(version); err == nil {
		version = u
	}
	if u, err := url.PathUnescape(name); err == nil {
		name = u
	}
	repo := name
	if q, err := url.ParseQuery(query); err == nil {
		if r := q.Get("repository_url"); r != "" {
			repo = r
		} else if !docker {
			return ""
		}
		if version == "" {
			version = q.Get("tag")
		}
	}
	if repo == "" || version == "" {
		return ""
	}
	if strings.Contains(version, ":") {
		return repo + "@" + version
	}
	return repo + ":" + version
}

// purlName returns the name of a purl: "pkg:npm/%40a/b@1" is "b".
func purlName(purl string) string {
	rest := strings.TrimPrefix(purl, "pkg:")
	if i := strings.IndexAny(rest, "@?#"); i >= 0 {
		rest = rest[:i]
	}
	name := rest[strings.LastIndex(rest, "/")+1:]
	if u, err := url.PathUnescape(name); err == nil {
		return u
	}
	return name
}

// purlVersion returns the version of a purl, or "".
func purlVersion(purl string) string {
	rest := purl
	if i := strings.IndexAny(rest, "?#"); i >= 0 {
		rest = rest[:i]
	}
	i := strings.LastIndex(rest, "@")
	if i < 0 {
		return ""
	}
	v := rest[i+1:]
	if u, err := url.PathUnescape(v); err == nil {
		return u
	}
	return v
}

func looksLikeRepoURL(s string) bool {
	return strings.Contains(s, "://") || strings.HasPrefix(s, "git@") || strings.HasPrefix(s, "github.com/") || strings.HasPrefix(s, "gitlab.com/")
}

// pointer formats a JSON pointer of an array element.
func pointer(array string, i int) string { return fmt.Sprintf("/%s/%d", array, i) }
