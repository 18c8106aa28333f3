// Package trivy parses the JSON reports of Aqua Security's Trivy: image,
// filesystem, repository and SBOM reports (schema 2), Kubernetes cluster
// reports, and the legacy list form of Trivy before 0.20. Vulnerabilities,
// misconfigurations, secrets and licences all become findings.
package trivy

import (
	"context"
	"fmt"
	"regexp"
	"slices"
	"strings"

	"github.com/go-json-experiment/json/jsontext"

	"github.com/ctem-dev/ctem/internal/ingest"
	"github.com/ctem-dev/ctem/internal/model"
)

// Tool is the tool name findings carry.
const Tool = "trivy"

// Format is the Trivy JSON format.
var Format = ingest.Format{
	Version: ParserVersion,
	Name:    "trivy",
	Title:   "Trivy JSON (schema 2, Kubernetes, legacy list)",
	Detect:  Detect,
	Parse:   Parse,
}

// Detect accepts a schema-2 report, a Kubernetes cluster report, or the
// legacy top-level list of results.
func Detect(s *ingest.Sniff) bool {
	switch s.Kind {
	case ingest.SniffJSONObject:
		if s.Has("SchemaVersion") && s.HasAny("ArtifactName", "ArtifactType", "Results") {
			return true
		}
		return s.Has("ClusterName") && s.HasAny("Resources", "Vulnerabilities", "Misconfigurations")
	case ingest.SniffJSONArray:
		return s.Has("[].Target") && s.HasAny("[].Vulnerabilities", "[].Type", "[].Class", "[].Misconfigurations")
	}
	return false
}

// The report's item types, decoded one element at a time.

type cvssEntry struct {
	V2Vector  string  `json:"V2Vector"`
	V3Vector  string  `json:"V3Vector"`
	V40Vector string  `json:"V40Vector"`
	V2Score   float64 `json:"V2Score"`
	V3Score   float64 `json:"V3Score"`
	V40Score  float64 `json:"V40Score"`
}

type vulnerability struct {
	VulnerabilityID string   `json:"VulnerabilityID"`
	VendorIDs       []string `json:"VendorIDs"`
	PkgID           string   `json:"PkgID"`
	PkgName         string   `json:"PkgName"`
	PkgPath         string   `json:"PkgPath"`
	PkgIdentifier   struct {
		PURL string `json:"PURL"`
	} `json:"PkgIdentifier"`
	InstalledVersion string               `json:"InstalledVersion"`
	FixedVersion     string               `json:"FixedVersion"`
	Status           string               `json:"Status"`
	Title            string               `json:"Title"`
	Description      string               `json:"Description"`
	Severity         string               `json:"Severity"`
	SeveritySource   string               `json:"SeveritySource"`
	CweIDs           []string             `json:"CweIDs"`
	CVSS             map[string]cvssEntry `json:"CVSS"`
	References       []string             `json:"References"`
	Fingerprint      string               `json:"Fingerprint"`
}

type misconfiguration struct {
	Type          string `json:"Type"`
	ID            string `json:"ID"`
	AVDID         string `json:"AVDID"`
	Title         string `json:"Title"`
	Description   string `json:"Description"`
	Message       string `json:"Message"`
	Resolution    string `json:"Resolution"`
	Severity      string `json:"Severity"`
	Status        string `json:"Status"`
	CauseMetadata struct {
		Resource  string `json:"Resource"`
		Provider  string `json:"Provider"`
		Service   string `json:"Service"`
		StartLine int    `json:"StartLine"`
		EndLine   int    `json:"EndLine"`
	} `json:"CauseMetadata"`
}

type secret struct {
	RuleID    string `json:"RuleID"`
	Category  string `json:"Category"`
	Severity  string `json:"Severity"`
	Title     string `json:"Title"`
	StartLine int    `json:"StartLine"`
	EndLine   int    `json:"EndLine"`
	Match     string `json:"Match"`
}

type license struct {
	Severity   string `json:"Severity"`
	Category   string `json:"Category"`
	PkgName    string `json:"PkgName"`
	FilePath   string `json:"FilePath"`
	Name       string `json:"Name"`
	Confidence float64
	Link       string `json:"Link"`
}

type metadata struct {
	ImageID     string   `json:"ImageID"`
	RepoTags    []string `json:"RepoTags"`
	RepoDigests []string `json:"RepoDigests"`
	Reference   string   `json:"Reference"`
	ImageConfig struct {
		Config struct {
			Labels map[string]string `json:"Labels"`
		} `json:"config"`
	} `json:"ImageConfig"`
}

// parser holds the state of one report.
type parser struct {
	in   *ingest.Input
	sink ingest.Sink
	dec  *jsontext.Decoder

	version      string
	artifactName string
	artifactType string
	clusterName  string
	meta         metadata

	began bool
	asset string // the asset findings are about, unless a result says otherwise
}

// Parse reads a Trivy report from in and emits its findings.
func Parse(ctx context.Context, in *ingest.Input, sink ingest.Sink) error {
	p := &parser{in: in, sink: sink, dec: in.JSONDecoder()}
	err := p.parse(ctx)
	return ingest.AsInputError(in, p.dec.InputOffset(), err)
}

func (p *parser) parse(ctx context.Context) error {
	switch p.dec.PeekKind() {
	case '[':
		if err := p.beginScan(); err != nil {
			return err
		}
		if err := ingest.WalkItems(ctx, p.dec, func(i int) error {
			return p.result(ctx, fmt.Sprintf("/%d", i), "")
		}); err != nil {
			return err
		}
	case '{':
		if err := ingest.WalkObject(p.dec, func(name string) error { return p.top(ctx, name) }); err != nil {
			return err
		}
		if err := p.beginScan(); err != nil {
			return err
		}
	default:
		_, err := p.dec.ReadToken()
		if err == nil {
			return p.in.Errorf(0, "not a Trivy report: expected an object or an array")
		}
		return err
	}
	return p.end()
}

// end checks that nothing but white space follows the report.
func (p *parser) end() error {
	return ingest.ExpectEOF(p.in, p.dec)
}

func (p *parser) top(ctx context.Context, name string) error {
	switch name {
	case "SchemaVersion":
		var v ingest.Text
		if err := ingest.DecodeJSON(p.dec, &v); err != nil {
			return err
		}
		if v.Int() != 2 {
			return p.in.Errorf(p.dec.InputOffset(), "unsupported Trivy SchemaVersion %s (want 2)", v)
		}
		return nil
	case "Trivy":
		var t struct {
			Version string `json:"Version"`
		}
		if err := ingest.DecodeJSON(p.dec, &t); err != nil {
			return err
		}
		p.version = t.Version
		return nil
	case "ArtifactName":
		return ingest.DecodeJSON(p.dec, &p.artifactName)
	case "ArtifactType":
		return ingest.DecodeJSON(p.dec, &p.artifactType)
	case "ClusterName":
		return ingest.DecodeJSON(p.dec, &p.clusterName)
	case "Metadata":
		return ingest.DecodeJSON(p.dec, &p.meta)
	case "Results":
		if err := p.beginScan(); err != nil {
			return err
		}
		return ingest.WalkItems(ctx, p.dec, func(i int) error {
			return p.result(ctx, fmt.Sprintf("/Results/%d", i), "")
		})
	case "Resources", "Vulnerabilities", "Misconfigurations":
		// Kubernetes cluster reports: resources with their results.
		if err := p.beginScan(); err != nil {
			return err
		}
		return ingest.WalkItems(ctx, p.dec, func(i int) error {
			return p.resource(ctx, fmt.Sprintf("/%s/%d", name, i))
		})
	}
	return p.dec.SkipValue()
}

// beginScan starts the report's scan once: the target is what the user
// said, else the cluster or artifact the report names.
func (p *parser) beginScan() error {
	if p.began {
		return nil
	}
	p.began = true
	s := model.Scan{ParserVersion: ParserVersion, Tool: Tool, ToolVersion: p.version, Format: "trivy"}
	switch {
	case p.clusterName != "":
		p.asset = model.K8sKey(p.clusterName, "", "Cluster", p.clusterName)
		s.Target = p.in.TargetOr("cluster:" + p.clusterName)
		if err := p.sink.Asset(model.Asset{Key: p.asset, Kind: model.KindCluster, Name: p.clusterName, Source: Tool}); err != nil {
			return err
		}
	case p.artifactType == "container_image":
		p.asset, s.Target = p.imageAsset()
		if err := p.emitImage(p.asset); err != nil {
			return err
		}
	default:
		name := p.in.TargetOr(p.artifactName)
		switch {
		case name == "" || name == ".":
			p.in.Warn("%s: the report names no target; pass --target to name the repository or directory it scanned", p.in.Name)
			if name == "" {
				name = "unknown"
			}
			p.asset = model.FileKey(name)
		case looksLikeRepoURL(name):
			p.asset = model.RepoKey(name)
		case p.artifactType == "repository" || p.artifactType == "filesystem" || p.artifactType == "":
			p.asset = "repo:" + strings.ToLower(strings.TrimSuffix(strings.Trim(strings.ReplaceAll(name, "\\", "/"), "/"), ".git"))
		default: // cyclonedx, spdx, vm, ...
			p.asset = model.FileKey(name)
		}
		s.Target = name
	}
	s.Asset = p.asset
	return p.sink.BeginScan(s)
}

// imageAsset picks the image's key: a digest wins over a tag, and a
// registry reference over the name of a tarball. The scan target is the
// tagged name, so that rescanning a rebuilt "app:latest" closes what the
// old build had.
func (p *parser) imageAsset() (asset, target string) {
	tagged := p.meta.Reference
	for _, t := range p.meta.RepoTags {
		if tagged == "" && t != "" {
			tagged = t
		}
	}
	if tagged == "" {
		tagged = p.artifactName
	}
	if p.in.Target != "" {
		tagged = p.in.Target
	}
	asset = model.ImageKey(tagged)
	for _, d := range p.meta.RepoDigests {
		if d != "" {
			asset = model.ImageKey(d)
			break
		}
	}
	if tagged == "" {
		p.in.Warn("%s: the image report names no image; pass --target", p.in.Name)
		tagged = "unknown"
		asset = model.ImageKey(tagged)
	}
	return asset, model.ImageKey(tagged)
}

func (p *parser) emitImage(key string) error {
	a := model.Asset{Key: key, Kind: model.KindImage, Name: strings.TrimPrefix(key, "image:"), Source: Tool}
	labels := map[string]string{}
	if p.meta.Reference != "" || len(p.meta.RepoTags) > 0 {
		for _, t := range append([]string{p.meta.Reference}, p.meta.RepoTags...) {
			if t != "" {
				labels["image.ref"] = strings.TrimPrefix(model.ImageKey(t), "image:")
				break
			}
		}
	}
	if p.meta.ImageID != "" {
		labels["image.id"] = p.meta.ImageID
	}
	// The OCI source label ties an image to the repository it is built
	// from.
	if src := p.meta.ImageConfig.Config.Labels["org.opencontainers.image.source"]; src != "" {
		labels["org.opencontainers.image.source"] = src
		if err := p.sink.Relation(model.Relation{From: key, To: model.RepoKey(src), Type: model.RelBuiltFrom, Source: Tool}); err != nil {
			return err
		}
	}
	if len(labels) > 0 {
		a.Labels = labels
	}
	if err := p.sink.Asset(a); err != nil {
		return err
	}
	// The tag is another name of the image keyed by digest: workloads
	// name images by tag.
	if ref := labels["image.ref"]; ref != "" && "image:"+ref != key {
		return p.sink.Relation(model.Relation{From: "image:" + ref, To: key, Type: model.RelAliasOf, Source: Tool})
	}
	return nil
}

func looksLikeRepoURL(s string) bool {
	return strings.Contains(s, "://") || strings.HasPrefix(s, "git@") || strings.HasPrefix(s, "github.com/") || strings.HasPrefix(s, "gitlab.com/")
}

// resource reads one Kubernetes resource of a cluster report.
func (p *parser) resource(ctx context.Context, ptr string) error {
	var ns, kind, name string
	var workload string
	return ingest.WalkObject(p.dec, func(field string) error {
		switch field {
		case "Namespace":
			return ingest.DecodeJSON(p.dec, &ns)
		case "Kind":
			return ingest.DecodeJSON(p.dec, &kind)
		case "Name":
			return ingest.DecodeJSON(p.dec, &name)
		case "Results":
			workload = model.K8sKey(p.clusterName, ns, kind, name)
			if err := p.sink.Asset(model.Asset{Key: workload, Kind: model.KindOfKey(workload), Name: kind + "/" + name, Labels: nsLabel(ns), Source: Tool}); err != nil {
				return err
			}
			return ingest.WalkItems(ctx, p.dec, func(i int) error {
				return p.result(ctx, fmt.Sprintf("%s/Results/%d", ptr, i), workload)
			})
		}
		return p.dec.SkipValue()
	})
}

func nsLabel(ns string) map[string]string {
	if ns == "" {
		return nil
	}
	return map[string]string{"namespace": ns}
}

// imageInTarget matches result targets such as
// "gcr.io/google_samples/gb-redis-follower:v2 (debian 10.4)".
var imageInTarget = regexp.MustCompile(`^(\S+) \([^()]+\)$`)

// result reads one result: a target with its vulnerabilities,
// misconfigurations, secrets and licences. workload is the Kubernetes
// resource the result belongs to, in a cluster report.
func (p *parser) result(ctx context.Context, ptr, workload string) error {
	var target, class string
	asset := p.asset
	if workload != "" {
		asset = workload
	}
	vulnAsset := asset
	counts := map[string]int{}
	return ingest.WalkObject(p.dec, func(field string) error {
		switch field {
		case "Target":
			if err := ingest.DecodeJSON(p.dec, &target); err != nil {
				return err
			}
			// In a cluster report, vulnerabilities belong to the image the
			// workload runs.
			if workload != "" {
				if m := imageInTarget.FindStringSubmatch(target); m != nil {
					if _, ok := model.ParseImageRef(m[1]); ok {
						vulnAsset = model.ImageKey(m[1])
						if err := p.sink.Asset(model.Asset{Key: vulnAsset, Kind: model.KindImage, Name: strings.TrimPrefix(vulnAsset, "image:"), Source: Tool}); err != nil {
							return err
						}
						return p.sink.Relation(model.Relation{From: workload, To: vulnAsset, Type: model.RelRuns, Source: Tool})
					}
				}
			}
			return nil
		case "Class":
			return ingest.DecodeJSON(p.dec, &class)
		case "Vulnerabilities", "Misconfigurations", "Secrets", "Licenses", "ModifiedFindings":
			return ingest.WalkArray(p.dec, func() error {
				at := fmt.Sprintf("%s/%s/%d", ptr, field, counts[field])
				counts[field]++
				if err := ctx.Err(); err != nil {
					return err
				}
				var f *model.Finding
				var err error
				switch field {
				case "Vulnerabilities":
					f, err = p.vulnerability(target, class, vulnAsset)
					if f != nil && workload != "" {
						// Two workloads running one image are two items
						// of the report and one exposure of the image.
						f.Location.Component = workload
					}
				case "Misconfigurations":
					f, err = p.misconfiguration(target, asset)
				case "Secrets":
					f, err = p.secret(target, asset)
				case "Licenses":
					f, err = p.license(target, asset)
				case "ModifiedFindings":
					f, err = p.modified(target, class, asset, vulnAsset)
				}
				if err != nil || f == nil {
					return err
				}
				f.Pointer = at
				return p.sink.Finding(f)
			})
		}
		return p.dec.SkipValue()
	})
}

func (p *parser) vulnerability(target, class, asset string) (*model.Finding, error) {
	var v vulnerability
	if err := ingest.DecodeJSON(p.dec, &v); err != nil {
		return nil, err
	}
	return vulnFinding(&v, target, class, asset), nil
}

func vulnFinding(v *vulnerability, target, class, asset string) *model.Finding {
	f := &model.Finding{
		Tool:         Tool,
		Kind:         model.FindingVulnerability,
		RuleID:       v.VulnerabilityID,
		VulnIDs:      append([]string{v.VulnerabilityID}, v.VendorIDs...),
		CWEs:         v.CweIDs,
		Severity:     model.ParseSeverity(v.Severity),
		ToolSeverity: v.Severity,
		Title:        v.Title,
		Description:  v.Description,
		Asset:        asset,
		Package: model.Package{
			Name:         v.PkgName,
			Version:      v.InstalledVersion,
			FixedVersion: v.FixedVersion,
			PURL:         v.PkgIdentifier.PURL,
		},
		ToolFingerprint: v.Fingerprint,
	}
	if f.Title == "" {
		f.Title = strings.TrimSpace(firstOf(v.VulnerabilityID, "unidentified vulnerability") + " in " + v.PkgName)
	}
	// Language packages are told apart by the file they were found in;
	// OS packages by nothing more, so renaming the image changes nothing.
	if class != "os-pkgs" {
		f.Location.Path = v.PkgPath
		if f.Location.Path == "" {
			f.Location.Path = target
		}
	}
	for _, ref := range v.References {
		if i := strings.Index(ref, "/advisories/GHSA-"); i >= 0 {
			f.VulnIDs = append(f.VulnIDs, model.ExtractVulnIDs(ref[i:])...)
		}
	}
	for _, src := range sortedSources(v.CVSS, v.SeveritySource) {
		c := v.CVSS[src]
		if c.V40Vector != "" {
			f.CVSS = append(f.CVSS, model.CVSS{Source: src, Vector: c.V40Vector, Score: c.V40Score})
		}
		if c.V3Vector != "" {
			f.CVSS = append(f.CVSS, model.CVSS{Source: src, Vector: c.V3Vector, Score: c.V3Score})
		}
		if c.V2Vector != "" {
			f.CVSS = append(f.CVSS, model.CVSS{Source: src, Vector: "AV:" + strings.TrimPrefix(c.V2Vector, "AV:"), Score: c.V2Score})
		}
	}
	switch strings.ToLower(v.Status) {
	case "not_affected":
		f.Status = model.StatusNotAffected
		f.ToolStatus = "not_affected"
	case "", "affected", "fixed":
	default:
		f.ToolStatus = v.Status
	}
	return f
}

// sortedSources orders CVSS sources: the one Trivy took the severity from
// first, then the rest by name.
func sortedSources(m map[string]cvssEntry, first string) []string {
	var out []string
	if _, ok := m[first]; ok {
		out = append(out, first)
	}
	var rest []string
	for k := range m {
		if k != first {
			rest = append(rest, k)
		}
	}
	slices.Sort(rest)
	return append(out, rest...)
}

func (p *parser) misconfiguration(target, asset string) (*model.Finding, error) {
	var m misconfiguration
	if err := ingest.DecodeJSON(p.dec, &m); err != nil {
		return nil, err
	}
	return misconfFinding(&m, target, asset), nil
}

func misconfFinding(m *misconfiguration, target, asset string) *model.Finding {
	switch strings.ToUpper(m.Status) {
	case "PASS":
		return nil // a passed check is no finding
	}
	f := &model.Finding{
		Tool:         Tool,
		Kind:         model.FindingMisconfig,
		RuleID:       m.ID,
		Severity:     model.ParseSeverity(m.Severity),
		ToolSeverity: m.Severity,
		Title:        m.Title,
		Description:  strings.TrimSpace(m.Message + "\n\n" + m.Description + "\n\nResolution: " + m.Resolution),
		Asset:        asset,
		Location: model.Location{
			Path:      target,
			Line:      m.CauseMetadata.StartLine,
			EndLine:   m.CauseMetadata.EndLine,
			Component: m.CauseMetadata.Resource,
		},
		CWEs: model.ExtractCWEs(m.Description),
	}
	if f.RuleID == "" {
		f.RuleID = m.AVDID
	}
	if strings.EqualFold(m.Status, "EXCEPTION") {
		f.Status = model.StatusAccepted
		f.ToolStatus = "exception"
	}
	return f
}

func (p *parser) secret(target, asset string) (*model.Finding, error) {
	var s secret
	if err := ingest.DecodeJSON(p.dec, &s); err != nil {
		return nil, err
	}
	return p.secretFinding(&s, target, asset), nil
}

func (p *parser) secretFinding(s *secret, target, asset string) *model.Finding {
	hash, hint := ingest.RedactSecret(p.in.SecretKey, s.Match)
	return &model.Finding{
		Tool:         Tool,
		Kind:         model.FindingSecret,
		RuleID:       s.RuleID,
		Severity:     model.ParseSeverity(s.Severity),
		ToolSeverity: s.Severity,
		Title:        s.Title,
		Description:  s.Category,
		Asset:        asset,
		Location:     model.Location{Path: target, Line: s.StartLine, EndLine: s.EndLine},
		SecretHash:   hash,
		SecretHint:   hint,
		CWEs:         []string{"CWE-798"},
	}
}

func (p *parser) license(target, asset string) (*model.Finding, error) {
	var l license
	if err := ingest.DecodeJSON(p.dec, &l); err != nil {
		return nil, err
	}
	return licenseFinding(&l, target, asset), nil
}

// licenseFinding keeps a licence as information: it is no weakness, but
// its category (restricted, forbidden) matters to legal review.
func licenseFinding(l *license, target, asset string) *model.Finding {
	path := l.FilePath
	if path == "" {
		path = target
	}
	return &model.Finding{
		Tool:         Tool,
		Kind:         model.FindingLicense,
		RuleID:       l.Name,
		Severity:     model.SeverityInfo,
		ToolSeverity: l.Severity,
		Title:        fmt.Sprintf("licence %s (%s)", l.Name, l.Category),
		Asset:        asset,
		Package:      model.Package{Name: l.PkgName},
		Location:     model.Location{Path: path},
		ToolStatus:   l.Category,
	}
}

// modified reads a finding that a VEX document or an ignore file
// suppressed (trivy --show-suppressed): it is stored with its status, not
// dropped.
func (p *parser) modified(target, class, asset, vulnAsset string) (*model.Finding, error) {
	var m struct {
		Type      string         `json:"Type"`
		Status    string         `json:"Status"`
		Statement string         `json:"Statement"`
		Source    string         `json:"Source"`
		Finding   jsontext.Value `json:"Finding"`
	}
	if err := ingest.DecodeJSON(p.dec, &m); err != nil {
		return nil, err
	}
	var f *model.Finding
	switch m.Type {
	case "vulnerability":
		var v vulnerability
		if err := ingest.UnmarshalJSON(m.Finding, &v); err != nil {
			return nil, err
		}
		f = vulnFinding(&v, target, class, vulnAsset)
	case "misconfiguration":
		var mc misconfiguration
		if err := ingest.UnmarshalJSON(m.Finding, &mc); err != nil {
			return nil, err
		}
		mc.Status = "FAIL"
		f = misconfFinding(&mc, target, asset)
	case "secret":
		var s secret
		if err := ingest.UnmarshalJSON(m.Finding, &s); err != nil {
			return nil, err
		}
		f = p.secretFinding(&s, target, asset)
	case "license":
		var l license
		if err := ingest.UnmarshalJSON(m.Finding, &l); err != nil {
			return nil, err
		}
		f = licenseFinding(&l, target, asset)
	default:
		return nil, nil
	}
	if strings.EqualFold(m.Status, "not_affected") {
		f.Status = model.StatusNotAffected
	} else {
		f.Status = model.StatusAccepted
	}
	f.ToolStatus = strings.TrimSpace(fmt.Sprintf("suppressed: %s by %s %s", m.Status, m.Source, m.Statement))
	return f, nil
}

func firstOf(a, b string) string {
	if a != "" {
		return a
	}
	return b
}
