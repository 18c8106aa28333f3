// Package sarif parses SARIF 2.1.0 logs from any tool (CodeQL, Semgrep,
// gosec, Trivy, Checkov, Gitleaks, Grype, ...). Each run is a scan; each
// result a finding, with its rule's metadata, CWE tags, security-severity,
// fingerprints, suppressions and baseline state.
package sarif

import (
	"context"
	"errors"
	"fmt"
	"hash/maphash"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"github.com/go-json-experiment/json/jsontext"

	"github.com/ctem-dev/ctem/internal/ingest"
	"github.com/ctem-dev/ctem/internal/model"
)

// Format is SARIF 2.1.0.
var Format = ingest.Format{
	Version: ParserVersion,
	Name:    "sarif",
	Title:   "SARIF 2.1.0 (any static analysis tool)",
	Detect:  Detect,
	Parse:   Parse,
}

// Detect accepts a JSON object with a runs array and a SARIF version or
// schema, or, since gosec and other Go tools write "version" and
// "$schema" after a runs array that may fill the whole head, a runs array
// whose first run has a tool driver or whose first result has SARIF's
// message and location shape.
func Detect(s *ingest.Sniff) bool {
	if s.Kind != ingest.SniffJSONObject || !s.Has("runs") {
		return false
	}
	if strings.HasPrefix(s.Get("version"), "2.") || strings.Contains(strings.ToLower(s.Get("$schema")), "sarif") {
		return true
	}
	return s.Has("runs[].tool.driver") ||
		(s.Has("runs[].results[].message") && s.HasAny("runs[].results[].locations", "runs[].results[].ruleId", "runs[].results[].level"))
}

type text struct {
	Text     string `json:"text"`
	Markdown string `json:"markdown"`
}

func (t text) String() string {
	if t.Text != "" {
		return t.Text
	}
	return t.Markdown
}

// stringList reads a JSON array of strings or a single string (mobsfscan
// and njsscan write "cwe" as one string). Other values are ignored.
type stringList []string

// UnmarshalJSONFrom implements json.UnmarshalerFrom.
func (l *stringList) UnmarshalJSONFrom(dec *jsontext.Decoder) error {
	v, err := dec.ReadValue()
	if err != nil {
		return err
	}
	switch v.Kind() {
	case '"':
		var s string
		if err := ingest.UnmarshalJSON(v, &s); err != nil {
			return err
		}
		*l = stringList{s}
	case '[':
		var xs []any
		if err := ingest.UnmarshalJSON(v, &xs); err != nil {
			return err
		}
		for _, x := range xs {
			if s, ok := x.(string); ok {
				*l = append(*l, s)
			}
		}
	}
	return nil
}

// fingerprints reads SARIF's fingerprints and partialFingerprints maps,
// whose values should be strings; a tool that nests objects there
// (Black Duck) gets them as their JSON text.
type fingerprints map[string]string

// UnmarshalJSONFrom implements json.UnmarshalerFrom.
func (f *fingerprints) UnmarshalJSONFrom(dec *jsontext.Decoder) error {
	v, err := dec.ReadValue()
	if err != nil {
		return err
	}
	if v.Kind() != '{' {
		return nil
	}
	var m map[string]jsontext.Value
	if err := ingest.UnmarshalJSON(v, &m); err != nil {
		return err
	}
	*f = fingerprints{}
	for k, raw := range m {
		if raw.Kind() == '"' {
			var s string
			if ingest.UnmarshalJSON(raw, &s) == nil {
				(*f)[k] = s
				continue
			}
		}
		(*f)[k] = string(raw.Clone())
	}
	return nil
}

type properties struct {
	Tags             stringList  `json:"tags"`
	Commit           string      `json:"commit"`
	Offender         string      `json:"offender"`
	Secret           string      `json:"secret"`
	SecuritySeverity ingest.Text `json:"security-severity"`
	ProblemSeverity  string      `json:"problem.severity"`
	Severity         ingest.Text `json:"severity"`
	CWE              stringList  `json:"cwe"`
	// Ctem is the property bag of ctem's own export (see ctem.go).
	Ctem *ctemProps `json:"ctem"`
}

type rule struct {
	ID                   string `json:"id"`
	Name                 string `json:"name"`
	ShortDescription     text   `json:"shortDescription"`
	FullDescription      text   `json:"fullDescription"`
	Help                 text   `json:"help"`
	DefaultConfiguration struct {
		Level string `json:"level"`
	} `json:"defaultConfiguration"`
	Properties    properties `json:"properties"`
	Relationships []struct {
		Target struct {
			ID            string `json:"id"`
			ToolComponent struct {
				Name string `json:"name"`
			} `json:"toolComponent"`
		} `json:"target"`
	} `json:"relationships"`
}

type toolComponent struct {
	Name            string `json:"name"`
	FullName        string `json:"fullName"`
	Version         string `json:"version"`
	SemanticVersion string `json:"semanticVersion"`
	Rules           []rule `json:"rules"`
}

type tool struct {
	Driver     toolComponent   `json:"driver"`
	Extensions []toolComponent `json:"extensions"`
}

type region struct {
	StartLine   int  `json:"startLine"`
	StartColumn int  `json:"startColumn"`
	EndLine     int  `json:"endLine"`
	Snippet     text `json:"snippet"`
}

type location struct {
	PhysicalLocation struct {
		ArtifactLocation struct {
			URI string `json:"uri"`
		} `json:"artifactLocation"`
		Region        region `json:"region"`
		ContextRegion region `json:"contextRegion"`
	} `json:"physicalLocation"`
	LogicalLocations []struct {
		FullyQualifiedName string `json:"fullyQualifiedName"`
		Name               string `json:"name"`
	} `json:"logicalLocations"`
}

type result struct {
	RuleID    string `json:"ruleId"`
	RuleIndex *int   `json:"ruleIndex"`
	Rule      struct {
		ID    string `json:"id"`
		Index *int   `json:"index"`
	} `json:"rule"`
	Kind                string       `json:"kind"`
	Level               string       `json:"level"`
	Message             text         `json:"message"`
	Locations           []location   `json:"locations"`
	Fingerprints        fingerprints `json:"fingerprints"`
	PartialFingerprints fingerprints `json:"partialFingerprints"`
	Suppressions        []struct {
		Kind          string `json:"kind"`
		Status        string `json:"status"`
		Justification string `json:"justification"`
	} `json:"suppressions"`
	BaselineState string     `json:"baselineState"`
	Properties    properties `json:"properties"`
	Taxa          []struct {
		ID            string `json:"id"`
		ToolComponent struct {
			Name string `json:"name"`
		} `json:"toolComponent"`
	} `json:"taxa"`
}

type provenance struct {
	RepositoryURI string `json:"repositoryUri"`
	RevisionID    string `json:"revisionId"`
}

// run holds what one run says about its results.
type run struct {
	tool     tool
	haveTool bool
	rules    map[string]*rule
	repo     string
	kind     model.FindingKind // the tool's class, if it has one
	began    bool
	index    int
	spooled  ingest.Spool // results read before the tool, replayed after
	// places numbers the places that share a snippet: a place (rule,
	// file, snippet) is known by a hash of it; seen maps (place, line) to
	// its occurrence, and lines counts the lines of each place. The maps
	// hold no pointers, so a run of a million results costs tens of
	// megabytes the garbage collector does not scan, not hundreds.
	places placeIndex
}

// Parse reads a SARIF log from in and emits one scan per run.
func Parse(ctx context.Context, in *ingest.Input, sink ingest.Sink) error {
	p := &parser{in: in, sink: sink, dec: in.JSONDecoder()}
	err := ingest.WalkObject(p.dec, func(name string) error {
		switch name {
		case "version":
			var v string
			if err := ingest.DecodeJSON(p.dec, &v); err != nil {
				return err
			}
			if !strings.HasPrefix(v, "2.") {
				return in.Errorf(p.dec.InputOffset(), "unsupported SARIF version %q (want 2.1.0)", v)
			}
			return nil
		case "runs":
			return ingest.WalkItems(ctx, p.dec, func(i int) error {
				return p.run(ctx, i)
			})
		}
		return p.dec.SkipValue()
	})
	if err == nil {
		err = ingest.ExpectEOF(in, p.dec)
	}
	return ingest.AsInputError(in, p.dec.InputOffset(), err)
}

// spoolLimit is the memory limit of the spool of results that come before
// their run's tool; tests lower it to exercise the temporary file.
var spoolLimit = ingest.DefaultSpoolLimit

type parser struct {
	in   *ingest.Input
	sink ingest.Sink
	dec  *jsontext.Decoder
}

func (p *parser) run(ctx context.Context, index int) (err error) {
	r := &run{index: index, rules: map[string]*rule{}, places: newPlaceIndex()}
	r.spooled.Limit = spoolLimit
	defer r.spooled.Close()
	n := 0
	err = ingest.WalkObject(p.dec, func(name string) error {
		switch name {
		case "tool":
			if err := ingest.DecodeJSON(p.dec, &r.tool); err != nil {
				return err
			}
			r.haveTool = true
			r.indexRules()
			return nil
		case "versionControlProvenance":
			var vcp []provenance
			if err := ingest.DecodeJSON(p.dec, &vcp); err != nil {
				return err
			}
			for _, v := range vcp {
				if v.RepositoryURI != "" && r.repo == "" {
					r.repo = v.RepositoryURI
				}
			}
			return nil
		case "results":
			return ingest.WalkArray(p.dec, func() error {
				defer func() { n++ }()
				if err := ctx.Err(); err != nil {
					return err
				}
				if !r.haveTool {
					// Results before the tool wait for its rules.
					return r.spooled.Read(p.dec, 0)
				}
				var res result
				if err := ingest.DecodeJSON(p.dec, &res); err != nil {
					return err
				}
				return p.emit(r, &res, n)
			})
		}
		return p.dec.SkipValue()
	})
	if err != nil {
		return err
	}
	if err := p.replay(ctx, r); err != nil {
		return err
	}
	// A run with no results is still a scan: it fixes what the last one had.
	return p.begin(r)
}

// replay decodes and emits the results spooled before the run's tool
// description, which are the run's first results.
func (p *parser) replay(ctx context.Context, r *run) error {
	i := 0
	return r.spooled.Each(func(off int64, _ int, v jsontext.Value) error {
		defer func() { i++ }()
		if err := ctx.Err(); err != nil {
			return err
		}
		var res result
		if err := ingest.DecodeSpooled(p.in, off, fmt.Sprintf("/runs/%d/results/%d", r.index, i), v, &res); err != nil {
			return err
		}
		return p.emit(r, &res, i)
	})
}

type placeIndex struct {
	seed  maphash.Seed
	seen  map[[2]uint64]int // (place, line) -> occurrence
	lines map[uint64]int    // place -> lines seen
}

func newPlaceIndex() placeIndex {
	return placeIndex{seed: maphash.MakeSeed(), seen: map[[2]uint64]int{}, lines: map[uint64]int{}}
}

// occurrence returns the number of the line among the lines a place was
// seen at, in the order they were first seen. A collision of two places'
// 64-bit hashes, unlikely in one run, would only renumber them.
func (pi placeIndex) occurrence(place string, line int) int {
	h := maphash.String(pi.seed, place)
	k := [2]uint64{h, uint64(line)}
	if n, ok := pi.seen[k]; ok {
		return n
	}
	n := pi.lines[h]
	pi.seen[k] = n
	pi.lines[h] = n + 1
	return n
}

func (r *run) indexRules() {
	add := func(tc *toolComponent) {
		for i := range tc.Rules {
			rl := &tc.Rules[i]
			if _, dup := r.rules[rl.ID]; !dup && rl.ID != "" {
				r.rules[rl.ID] = rl
			}
		}
	}
	add(&r.tool.Driver)
	for i := range r.tool.Extensions {
		add(&r.tool.Extensions[i])
	}
	r.kind = toolKind(r.toolName())
}

func (r *run) toolName() string {
	n := r.tool.Driver.Name
	if n == "" {
		n = r.tool.Driver.FullName
	}
	n = strings.ToLower(strings.Join(strings.Fields(n), "-"))
	if n == "" {
		n = "sarif"
	}
	return n
}

// toolKind classifies tools whose results are not code findings.
func toolKind(name string) model.FindingKind {
	switch {
	case strings.Contains(name, "gitleaks"), strings.Contains(name, "trufflehog"), strings.Contains(name, "detect-secrets"), strings.Contains(name, "secret"):
		return model.FindingSecret
	case strings.Contains(name, "checkov"), strings.Contains(name, "tfsec"), strings.Contains(name, "kics"),
		strings.Contains(name, "terrascan"), strings.Contains(name, "dockle"), strings.Contains(name, "hadolint"),
		strings.Contains(name, "kubescape"), strings.Contains(name, "kube-linter"):
		return model.FindingMisconfig
	case strings.Contains(name, "trivy"), strings.Contains(name, "grype"), strings.Contains(name, "dependency-check"),
		strings.Contains(name, "snyk"), strings.Contains(name, "osv-scanner"), strings.Contains(name, "govulncheck"):
		return model.FindingVulnerability
	}
	return ""
}

func (p *parser) begin(r *run) error {
	if r.began {
		return nil
	}
	r.began = true
	target := r.repo
	if p.in.Target != "" {
		target = p.in.Target
	}
	if target == "" {
		base := p.in.Name
		if i := strings.LastIndexAny(base, `/\`); i >= 0 {
			base = base[i+1:]
		}
		base = strings.TrimSuffix(strings.TrimSuffix(base, ".gz"), ".sarif")
		base = strings.TrimSuffix(base, ".json")
		target = base
	}
	asset := model.RepoKey(target)
	if !strings.Contains(target, "/") && !strings.Contains(target, ":") {
		asset = "repo:" + strings.ToLower(target)
	}
	if r.repo == "" && p.in.Target == "" {
		p.in.Warn("%s: run %d names no repository (versionControlProvenance); using %q, so its findings land on %s, which no image or scope selector names; pass --target REPOSITORY-URL to name it", p.in.Name, r.index, target, asset)
	}
	if err := p.sink.Asset(model.Asset{Key: asset, Kind: model.KindRepository, Name: strings.TrimPrefix(asset, "repo:"), Source: "sarif"}); err != nil {
		return err
	}
	version := r.tool.Driver.SemanticVersion
	if version == "" {
		version = r.tool.Driver.Version
	}
	return p.sink.BeginScan(model.Scan{ParserVersion: ParserVersion, Tool: r.toolName(), ToolVersion: version, Format: "sarif", Target: target, Asset: asset})
}

var (
	pkgLine     = regexp.MustCompile(`(?m)^Package: (.+)$`)
	versionLine = regexp.MustCompile(`(?m)^Installed Version: (.+)$`)
	fixedLine   = regexp.MustCompile(`(?m)^Fixed Version: (.*)$`)
	// Grype: "The path lib/x.jar reports x at version 1.0.1 which ..."
	grypeLine = regexp.MustCompile(`reports (\S+) at version (\S+)`)
)

// emit turns one result into a finding.
func (p *parser) emit(r *run, res *result, n int) error {
	if err := p.begin(r); err != nil {
		return err
	}
	ruleID := res.RuleID
	if ruleID == "" {
		ruleID = res.Rule.ID
	}
	var rl *rule
	if ruleID != "" {
		rl = r.rules[ruleID]
		if rl == nil {
			// Hierarchical ids ("a/b/c") may name a rule by their prefix.
			if i := strings.Index(ruleID, "/"); i > 0 {
				rl = r.rules[ruleID[:i]]
			}
		}
	}
	idx := res.RuleIndex
	if idx == nil {
		idx = res.Rule.Index
	}
	if rl == nil && idx != nil && *idx >= 0 && *idx < len(r.tool.Driver.Rules) {
		rl = &r.tool.Driver.Rules[*idx]
		if ruleID == "" {
			ruleID = rl.ID
		}
	}
	if rl == nil {
		rl = &rule{}
	}
	msg := res.Message.String()
	f := &model.Finding{
		Tool:        r.toolName(),
		Kind:        model.FindingCode,
		RuleID:      ruleID,
		Title:       firstNonEmpty(rl.ShortDescription.String(), rl.Name, firstLine(msg), ruleID),
		Description: strings.TrimSpace(msg + "\n\n" + rl.FullDescription.String()),
		Pointer:     fmt.Sprintf("/runs/%d/results/%d", r.index, n),
	}
	if r.kind != "" {
		f.Kind = r.kind
	}
	// Location.
	if len(res.Locations) > 0 {
		loc := res.Locations[0]
		pl := loc.PhysicalLocation
		f.Location.Path = cleanURI(pl.ArtifactLocation.URI)
		f.Location.Line = pl.Region.StartLine
		f.Location.EndLine = pl.Region.EndLine
		f.Location.Column = pl.Region.StartColumn
		f.Location.Snippet = pl.Region.Snippet.String()
		if f.Location.Path == "" && len(loc.LogicalLocations) > 0 {
			f.Location.Path = firstNonEmpty(loc.LogicalLocations[0].FullyQualifiedName, loc.LogicalLocations[0].Name)
		}
		if f.Location.Snippet != "" {
			key := ruleID + "\x00" + f.Location.Path + "\x00" + strings.Join(strings.Fields(f.Location.Snippet), " ")
			f.Location.Occurrence = r.places.occurrence(key, f.Location.Line)
		}
	}
	// Ids: CWEs from tags, relationships, taxa and properties; CVEs and
	// GHSAs from the rule id and name.
	var cweText []string
	cweText = append(cweText, rl.Properties.Tags...)
	cweText = append(cweText, res.Properties.Tags...)
	cweText = append(cweText, rl.Properties.CWE...)
	cweText = append(cweText, res.Properties.CWE...)
	for _, rel := range rl.Relationships {
		if strings.EqualFold(rel.Target.ToolComponent.Name, "CWE") {
			cweText = append(cweText, "CWE-"+strings.TrimPrefix(strings.ToUpper(rel.Target.ID), "CWE-"))
		}
	}
	for _, t := range res.Taxa {
		if strings.EqualFold(t.ToolComponent.Name, "CWE") {
			cweText = append(cweText, "CWE-"+strings.TrimPrefix(strings.ToUpper(t.ID), "CWE-"))
		}
	}
	f.CWEs = model.ExtractCWEs(strings.Join(cweText, " "))
	f.VulnIDs = model.ExtractVulnIDs(ruleID + " " + rl.Name)
	if f.Kind == model.FindingVulnerability || (f.Kind == model.FindingCode && len(f.VulnIDs) > 0 && pkgLine.MatchString(msg)) {
		// Trivy and Grype write the package into the message.
		f.Kind = model.FindingVulnerability
		if m := pkgLine.FindStringSubmatch(msg); m != nil {
			f.Package.Name = strings.TrimSpace(m[1])
		}
		if m := versionLine.FindStringSubmatch(msg); m != nil {
			f.Package.Version = strings.TrimSpace(m[1])
		}
		if m := fixedLine.FindStringSubmatch(msg); m != nil {
			f.Package.FixedVersion = strings.TrimSpace(m[1])
		}
		if m := grypeLine.FindStringSubmatch(msg); m != nil && f.Package.Name == "" {
			f.Package.Name, f.Package.Version = m[1], m[2]
		}
		if len(f.VulnIDs) == 0 {
			f.Kind = model.FindingCode
		}
	}
	// Severity: security-severity (a CVSS-like score) wins over the level.
	sevScore := res.Properties.SecuritySeverity
	if sevScore == "" {
		sevScore = rl.Properties.SecuritySeverity
	}
	level := res.Level
	if level == "" {
		level = rl.DefaultConfiguration.Level
	}
	if level == "" {
		level = "warning" // SARIF's default
	}
	switch {
	case sevScore != "":
		f.Severity = model.SeverityFromScore(sevScore.Float())
		f.ToolSeverity = "security-severity " + sevScore.String()
	default:
		f.Severity = levelSeverity(level)
		f.ToolSeverity = level
	}
	if res.Kind != "" && res.Kind != "fail" {
		// pass, notApplicable, informational, review, open: not a failure.
		f.Severity = model.SeverityInfo
		f.ToolStatus = "kind: " + res.Kind
	}
	// Fingerprints: the tool's stable ones first.
	f.ToolFingerprint = pickFingerprint(res.Fingerprints)
	if f.ToolFingerprint == "" {
		f.ToolFingerprint = pickFingerprint(res.PartialFingerprints)
	}
	if c := firstNonEmpty(res.Properties.Commit); c != "" {
		f.Location.Component = "commit " + c
	}
	// Secrets: the snippet (or Gitleaks' offender property) holds the
	// secret; keep only its keyed hash.
	if f.Kind == model.FindingSecret {
		secret := firstNonEmpty(res.Properties.Secret, res.Properties.Offender, f.Location.Snippet, f.ToolFingerprint, msg)
		f.SecretHash, f.SecretHint = ingest.RedactSecret(p.in.SecretKey, secret)
		f.Description = ingest.MaskSecret(ingest.MaskSecret(f.Description, f.Location.Snippet), secret)
		f.Title = ingest.MaskSecret(f.Title, secret)
		f.Location.Snippet = ""
		f.ToolFingerprint = ""
		if len(f.CWEs) == 0 {
			f.CWEs = []string{"CWE-798"}
		}
	}
	// Suppressions and baseline state are kept.
	if len(res.Suppressions) > 0 {
		s := res.Suppressions[0]
		state := s.Status
		if state == "" {
			state = "accepted"
		}
		f.ToolStatus = strings.TrimSpace(fmt.Sprintf("suppressed: %s %s %s", s.Kind, state, s.Justification))
		if state == "accepted" {
			f.Status = model.StatusAccepted
		}
	}
	if res.BaselineState != "" {
		f.ToolStatus = strings.TrimSpace(f.ToolStatus + " baseline: " + res.BaselineState)
		if res.BaselineState == "absent" {
			f.Status = model.StatusFixed
		}
	}
	if c := res.Properties.Ctem; c != nil {
		if c.Path != "" {
			return nil // an attack path of ctem's: recomputed, not ingested
		}
		applyCtem(f, c)
	}
	return p.sink.Finding(f)
}

func levelSeverity(level string) model.Severity {
	switch level {
	case "error":
		return model.SeverityHigh
	case "warning":
		return model.SeverityMedium
	case "note":
		return model.SeverityLow
	case "none":
		return model.SeverityInfo
	}
	return model.SeverityUnknown
}

// pickFingerprint chooses a fingerprint deterministically: by key, in
// order, so the same log always yields the same one.
func pickFingerprint(m map[string]string) string {
	if len(m) == 0 {
		return ""
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var parts []string
	for _, k := range keys {
		if m[k] != "" {
			parts = append(parts, k+"="+m[k])
		}
	}
	return strings.Join(parts, ";")
}

// cleanURI turns an artifact URI into a path: file:// and leading ./ go,
// percent-escapes are decoded. No URI is ever fetched.
func cleanURI(u string) string {
	u = strings.TrimPrefix(u, "file://")
	if s, err := unescape(u); err == nil {
		u = s
	}
	return strings.TrimPrefix(u, "./")
}

func unescape(s string) (string, error) {
	if !strings.Contains(s, "%") {
		return s, nil
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '%' && i+2 < len(s) {
			n, err := strconv.ParseUint(s[i+1:i+3], 16, 8)
			if err != nil {
				return "", errors.New("bad escape")
			}
			b.WriteByte(byte(n))
			i += 2
			continue
		}
		b.WriteByte(s[i])
	}
	return b.String(), nil
}

func firstNonEmpty(xs ...string) string {
	for _, x := range xs {
		if x = strings.TrimSpace(x); x != "" {
			return x
		}
	}
	return ""
}

func firstLine(s string) string {
	s, _, _ = strings.Cut(strings.TrimSpace(s), "\n")
	if len(s) > 200 {
		s = s[:200]
	}
	return s
}
