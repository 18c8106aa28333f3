package export

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/ctem-dev/ctem/internal/model"
)

// SARIFSchema is the schema URI SARIF logs declare: the OASIS publication
// of SARIF 2.1.0 with errata 01, the schema the tests validate against.
const SARIFSchema = "https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json"

// PathRule is the SARIF rule id of attack-path results.
const PathRule = "ctem/attack-path"

// The partialFingerprints keys of exposure and path results. GitHub code
// scanning tracks a result across uploads by them, so they are ctem's
// stable ids.
const (
	ExposureFingerprint = "ctemExposure/v1"
	PathFingerprint     = "ctemPath/v1"
)

// SARIF writes one SARIF 2.1.0 log with one run: exposures as results of
// a rule per weakness, attack paths as results of the rule PathRule whose
// code flow walks the path's steps. Results are streamed as they come; the
// tool and its rules, which must know every result, are written after the
// results (JSON objects are unordered, and ctem's reader accepts either
// order). Memory grows with the number of distinct rules only.
type SARIF struct {
	w     *bufio.Writer
	info  Info
	n     int
	rules []*sarifRule
	index map[string]int
}

// NewSARIF returns a SARIF writer to w.
func NewSARIF(w io.Writer) *SARIF {
	return &SARIF{w: bufio.NewWriterSize(w, 64<<10), index: map[string]int{}}
}

type sarifText struct {
	Text     string `json:"text"`
	Markdown string `json:"markdown,omitempty"`
}

type sarifRule struct {
	ID               string         `json:"id"`
	Name             string         `json:"name,omitempty"`
	ShortDescription sarifText      `json:"shortDescription"`
	FullDescription  *sarifText     `json:"fullDescription,omitempty"`
	HelpURI          string         `json:"helpUri,omitempty"`
	Help             *sarifText     `json:"help,omitempty"`
	DefaultConfig    sarifRuleLevel `json:"defaultConfiguration"`
	Properties       sarifRuleProps `json:"properties"`

	worst model.Severity
}

type sarifRuleLevel struct {
	Level string `json:"level"`
}

type sarifRuleProps struct {
	Tags             []string `json:"tags,omitempty"`
	SecuritySeverity string   `json:"security-severity"`
	Precision        string   `json:"precision,omitempty"`
}

type sarifArtifact struct {
	URI string `json:"uri"`
}

type sarifRegion struct {
	StartLine   int `json:"startLine,omitempty"`
	EndLine     int `json:"endLine,omitempty"`
	StartColumn int `json:"startColumn,omitempty"`
}

type sarifPhysical struct {
	ArtifactLocation sarifArtifact `json:"artifactLocation"`
	Region           *sarifRegion  `json:"region,omitempty"`
}

// firstLine is the region of a location without a line: GitHub code
// scanning wants a start line on every location (its check GH1003), and
// line 1 of a file, or of an asset's placeholder, is the honest choice.
var firstLine = &sarifRegion{StartLine: 1}

// physical is the physical location of a path with no line.
func physical(uri string) sarifPhysical {
	return sarifPhysical{ArtifactLocation: sarifArtifact{URI: uri}, Region: firstLine}
}

type sarifLogical struct {
	Name               string `json:"name,omitempty"`
	FullyQualifiedName string `json:"fullyQualifiedName,omitempty"`
	Kind               string `json:"kind,omitempty"`
}

type sarifLocation struct {
	ID               *int           `json:"id,omitempty"`
	PhysicalLocation sarifPhysical  `json:"physicalLocation"`
	LogicalLocations []sarifLogical `json:"logicalLocations,omitempty"`
	Message          *sarifText     `json:"message,omitempty"`
}

type sarifSuppression struct {
	Kind          string `json:"kind"`
	Status        string `json:"status"`
	Justification string `json:"justification,omitempty"`
}

type sarifThreadFlowLocation struct {
	Location   sarifLocation `json:"location"`
	Importance string        `json:"importance,omitempty"`
}

type sarifThreadFlow struct {
	Locations []sarifThreadFlowLocation `json:"locations"`
}

type sarifCodeFlow struct {
	Message     *sarifText        `json:"message,omitempty"`
	ThreadFlows []sarifThreadFlow `json:"threadFlows"`
}

type sarifResult struct {
	RuleID              string             `json:"ruleId"`
	RuleIndex           int                `json:"ruleIndex"`
	Kind                string             `json:"kind"`
	Level               string             `json:"level"`
	Message             sarifText          `json:"message"`
	Locations           []sarifLocation    `json:"locations"`
	RelatedLocations    []sarifLocation    `json:"relatedLocations,omitempty"`
	CodeFlows           []sarifCodeFlow    `json:"codeFlows,omitempty"`
	PartialFingerprints map[string]string  `json:"partialFingerprints"`
	Suppressions        []sarifSuppression `json:"suppressions,omitempty"`
	BaselineState       string             `json:"baselineState,omitempty"`
	Properties          sarifResultProps   `json:"properties"`
}

type sarifResultProps struct {
	SecuritySeverity string   `json:"security-severity"`
	Tags             []string `json:"tags,omitempty"`
	// Ctem carries what ctem's SARIF reader needs to restore the exposure
	// exactly (its asset, kind and package), or marks a path result.
	Ctem *SARIFProperties `json:"ctem,omitempty"`
}

// SARIFProperties is the "ctem" property bag of a result: the exposure's
// identity as ctem keeps it, so that ingesting the log restores the same
// exposure on the same asset; or, for a path result, the path's id, which
// tells the reader to skip it (paths are recomputed, not ingested).
type SARIFProperties struct {
	Exposure string        `json:"exposure,omitempty"`
	Asset    string        `json:"asset,omitempty"`
	Kind     string        `json:"kind,omitempty"`
	Status   string        `json:"status,omitempty"`
	Severity string        `json:"severity,omitempty"`
	Title    string        `json:"title,omitempty"`
	VulnIDs  []string      `json:"vulnIds,omitempty"`
	CWEs     []string      `json:"cwes,omitempty"`
	Package  model.Package `json:"package,omitzero"`
	// Location is the exposure's own location, which the result's
	// physical location replaces by a placeholder when it has no file.
	Location  model.Location `json:"location,omitzero"`
	Tools     []string       `json:"tools,omitempty"`
	Path      string         `json:"path,omitempty"`
	Jewel     string         `json:"jewel,omitempty"`
	Entry     string         `json:"entry,omitempty"`
	Risk      float64        `json:"risk,omitempty"`
	Validated bool           `json:"validated,omitempty"`
}

// Begin implements Writer.
func (s *SARIF) Begin(info Info) error {
	s.info = info
	_, err := fmt.Fprintf(s.w, `{"version":"2.1.0","$schema":%q,"runs":[{"results":[`, SARIFSchema)
	return err
}

// sarifLevel maps a severity to a SARIF level; GitHub shows levels as
// error, warning and note.
func sarifLevel(sev model.Severity) string {
	switch sev {
	case model.SeverityCritical, model.SeverityHigh:
		return "error"
	case model.SeverityMedium:
		return "warning"
	case model.SeverityLow, model.SeverityInfo:
		return "note"
	}
	return "warning"
}

// severityScore is a representative CVSS-scale score of a severity, for
// SARIF's security-severity: the middle of its band, so that GitHub and
// ctem's own reader read it back as the same severity.
func severityScore(sev model.Severity) float64 {
	switch sev {
	case model.SeverityCritical:
		return 9.5
	case model.SeverityHigh:
		return 8.0
	case model.SeverityMedium:
		return 5.5
	case model.SeverityLow:
		return 2.0
	}
	return 0
}

func score(f float64) string { return strconv.FormatFloat(f, 'f', 1, 64) }

// helpURI points at the public record of a weakness id.
func helpURI(id string) string {
	switch {
	case strings.HasPrefix(id, "CVE-"):
		return "https://nvd.nist.gov/vuln/detail/" + id
	case strings.HasPrefix(id, "GHSA-"):
		return "https://github.com/advisories/" + id
	case strings.HasPrefix(id, "GO-"):
		return "https://pkg.go.dev/vuln/" + id
	case strings.HasPrefix(id, "CWE-"):
		return "https://cwe.mitre.org/data/definitions/" + strings.TrimPrefix(id, "CWE-") + ".html"
	}
	return ""
}

// rule returns the index of the rule id, adding it on first sight.
func (s *SARIF) rule(id string, mk func() *sarifRule) int {
	if i, ok := s.index[id]; ok {
		return i
	}
	r := mk()
	s.index[id] = len(s.rules)
	s.rules = append(s.rules, r)
	return len(s.rules) - 1
}

func (s *SARIF) result(r *sarifResult) error {
	b, err := json.Marshal(r)
	if err != nil {
		return fmt.Errorf("sarif result: %w", err)
	}
	if s.n > 0 {
		s.w.WriteByte(',')
	}
	s.n++
	_, err = s.w.Write(b)
	return err
}

// exposureLocation is where an exposure is: its file and line when a tool
// gave them, its URL for DAST alerts, else the asset itself.
func exposureLocation(x *model.Exposure) sarifLocation {
	loc := sarifLocation{LogicalLocations: []sarifLogical{{FullyQualifiedName: x.Asset, Kind: "module"}}}
	switch {
	case x.Location.Path != "":
		loc.PhysicalLocation = physical(fileURI(x.Location.Path))
		if x.Location.Line > 0 {
			reg := &sarifRegion{StartLine: x.Location.Line}
			if x.Location.EndLine >= x.Location.Line {
				reg.EndLine = x.Location.EndLine
			}
			if x.Location.Column > 0 {
				reg.StartColumn = x.Location.Column
			}
			loc.PhysicalLocation.Region = reg
		}
	case x.Location.URL != "":
		loc.PhysicalLocation = physical(assetURI(x.Location.URL))
	default:
		loc.PhysicalLocation = physical(assetURI(x.Asset))
	}
	return loc
}

func exposureMessage(x *model.Exposure) string {
	var b strings.Builder
	b.WriteString(title(x))
	if x.Package.Name != "" && !strings.Contains(b.String(), x.Package.Name) {
		fmt.Fprintf(&b, " in %s %s", x.Package.Name, x.Package.Version)
	}
	if x.Package.FixedVersion != "" {
		fmt.Fprintf(&b, " (fixed in %s)", x.Package.FixedVersion)
	}
	fmt.Fprintf(&b, ". Asset: %s.", x.Asset)
	if len(x.Tools) > 0 {
		fmt.Fprintf(&b, " Reported by %s.", strings.Join(x.Tools, ", "))
	}
	return b.String()
}

// Exposure implements ExposureWriter.
func (s *SARIF) Exposure(e *Exposure) error {
	x := &e.Exposure
	id := weaknessID(x)
	idx := s.rule(id, func() *sarifRule {
		r := &sarifRule{ID: id, ShortDescription: sarifText{Text: title(x)}, HelpURI: helpURI(id)}
		if r.HelpURI == "" && len(x.CWEs) > 0 {
			r.HelpURI = helpURI(x.CWEs[0])
		}
		tags := []string{"security"}
		if x.Kind != "" {
			tags = append(tags, string(x.Kind))
		}
		for _, c := range x.CWEs {
			tags = append(tags, "external/cwe/"+strings.ToLower(c))
		}
		r.Properties.Tags = tags
		r.Properties.Precision = "high"
		return r
	})
	r := s.rules[idx]
	if r.worst == "" || x.Severity.Rank() > r.worst.Rank() {
		r.worst = x.Severity
	}
	res := &sarifResult{
		RuleID:              id,
		RuleIndex:           idx,
		Kind:                "fail",
		Level:               sarifLevel(x.Severity),
		Message:             sarifText{Text: exposureMessage(x)},
		Locations:           []sarifLocation{exposureLocation(x)},
		PartialFingerprints: map[string]string{ExposureFingerprint: x.ID},
		Properties: sarifResultProps{
			SecuritySeverity: score(severityScore(x.Severity)),
			Tags:             []string{string(x.Severity)},
			Ctem: &SARIFProperties{
				Exposure: x.ID, Asset: x.Asset, Kind: string(x.Kind), Status: string(x.Status), Severity: string(x.Severity),
				Title: x.Title, VulnIDs: x.VulnIDs, CWEs: x.CWEs, Package: x.Package, Location: x.Location, Tools: x.Tools,
			},
		},
	}
	switch x.Status {
	case model.StatusAccepted:
		res.Suppressions = []sarifSuppression{{Kind: "external", Status: "accepted", Justification: "risk accepted in ctem"}}
	case model.StatusNotAffected, model.StatusFalsePositive:
		just := string(x.Status)
		for _, ev := range e.Evidence {
			if ev.Kind == model.EvidenceVEXNotAffected && ev.Detail != "" {
				just += ": " + ev.Detail
				break
			}
		}
		res.Suppressions = []sarifSuppression{{Kind: "external", Status: "accepted", Justification: just}}
	case model.StatusFixed:
		res.BaselineState = "absent"
	}
	return s.result(res)
}

// stepLocation is where a path step happens: the file of the first of its
// exposures that has one, else the step's asset.
func stepLocation(p *Path, i int) sarifLocation {
	st := p.Steps[i]
	msg := fmt.Sprintf("%s by %s", st.To, st.Rule)
	for _, id := range st.ExposureIDs {
		x, ok := p.Exposures[id]
		if !ok {
			continue
		}
		msg += " via " + weaknessID(&x)
		if x.Location.Path != "" || x.Location.URL != "" {
			loc := exposureLocation(&x)
			loc.Message = &sarifText{Text: msg}
			return loc
		}
		break
	}
	asset := st.Asset
	if asset == "" {
		_, asset, _ = strings.Cut(st.To, ":")
	}
	return sarifLocation{
		PhysicalLocation: physical(assetURI(asset)),
		LogicalLocations: []sarifLogical{{FullyQualifiedName: asset, Kind: "module"}},
		Message:          &sarifText{Text: msg},
	}
}

// Path implements PathWriter: the result is at the path's first weakness
// (its first step with a file location, else its entry asset), and its
// code flow walks every step, so code scanning shows the path as a trace.
func (s *SARIF) Path(p *Path) error {
	idx := s.rule(PathRule, func() *sarifRule {
		return &sarifRule{
			ID:               PathRule,
			Name:             "AttackPathToCrownJewel",
			ShortDescription: sarifText{Text: "Attack path from an entry point to a crown jewel"},
			FullDescription:  &sarifText{Text: "A chain of weaknesses, relations and permissions by which an attacker at an entry point reaches a crown jewel. Fixing any one step closes the path; ctem's fix plan names the cheapest."},
			Help:             &sarifText{Text: "Run 'ctem explain' on the path's exposures and 'ctem fixplan' for the actions that close it."},
			Properties:       sarifRuleProps{Tags: []string{"security", "attack-path"}, Precision: "medium"},
		}
	})
	r := s.rules[idx]
	sev := pathSeverity(&p.Path)
	if r.worst == "" || sev.Rank() > r.worst.Rank() {
		r.worst = sev
	}
	entryAsset := p.Entry
	if _, a, ok := strings.Cut(p.Entry, ":"); ok {
		entryAsset = a
	}
	flow := []sarifThreadFlowLocation{{Location: sarifLocation{
		PhysicalLocation: physical(assetURI(entryAsset)),
		LogicalLocations: []sarifLogical{{FullyQualifiedName: entryAsset, Kind: "module"}},
		Message:          &sarifText{Text: "entry " + p.Entry},
	}, Importance: "essential"}}
	var primary *sarifLocation
	for i := range p.Steps {
		loc := stepLocation(p, i)
		if primary == nil && len(p.Steps[i].ExposureIDs) > 0 {
			l := loc
			l.Message = nil
			primary = &l
		}
		flow = append(flow, sarifThreadFlowLocation{Location: loc, Importance: "essential"})
	}
	if primary == nil {
		primary = &sarifLocation{
			PhysicalLocation: physical(assetURI(entryAsset)),
			LogicalLocations: []sarifLogical{{FullyQualifiedName: entryAsset, Kind: "module"}},
		}
	}
	jewelID := 0
	jewel := sarifLocation{
		ID:               &jewelID,
		PhysicalLocation: physical(assetURI(p.Jewel)),
		LogicalLocations: []sarifLogical{{FullyQualifiedName: p.Jewel, Kind: "module"}},
		Message:          &sarifText{Text: "crown jewel " + p.Jewel},
	}
	validated := ""
	if p.Validated {
		validated = " Every step is evidenced."
	}
	res := &sarifResult{
		RuleID:    PathRule,
		RuleIndex: idx,
		Kind:      "fail",
		Level:     sarifLevel(sev),
		Message: sarifText{Text: fmt.Sprintf("Attack path from %s to %s (crown jewel %s) in %d steps: likelihood %.3f, risk %.2f.%s",
			p.Entry, p.Target, p.Jewel, len(p.Steps), p.Likelihood, p.Risk, validated)},
		Locations:           []sarifLocation{*primary},
		RelatedLocations:    []sarifLocation{jewel},
		PartialFingerprints: map[string]string{PathFingerprint: p.ID},
		Properties: sarifResultProps{
			SecuritySeverity: score(min(p.Risk, 10)),
			Tags:             []string{"attack-path", string(sev)},
			Ctem:             &SARIFProperties{Path: p.ID, Entry: p.Entry, Jewel: p.Jewel, Risk: p.Risk, Validated: p.Validated},
		},
	}
	res.CodeFlows = []sarifCodeFlow{{ThreadFlows: []sarifThreadFlow{{Locations: flow}}}}
	return s.result(res)
}

// End implements Writer: it writes the tool with its rules and closes the
// log.
func (s *SARIF) End() error {
	for _, r := range s.rules {
		sev := r.worst
		if sev == "" {
			sev = model.SeverityUnknown
		}
		r.DefaultConfig.Level = sarifLevel(sev)
		r.Properties.SecuritySeverity = score(severityScore(sev))
	}
	name := s.info.Tool
	if name == "" {
		name = "ctem"
	}
	driver := struct {
		Name           string       `json:"name"`
		Version        string       `json:"version,omitempty"`
		InformationURI string       `json:"informationUri"`
		Rules          []*sarifRule `json:"rules"`
	}{name, s.info.Version, "https://github.com/ctem-dev/ctem", s.rules}
	if driver.Rules == nil {
		driver.Rules = []*sarifRule{}
	}
	b, err := json.Marshal(driver)
	if err != nil {
		return fmt.Errorf("sarif tool: %w", err)
	}
	fmt.Fprintf(s.w, `],"tool":{"driver":%s},"columnKind":"utf16CodeUnits"`, b)
	if !s.info.Time.IsZero() {
		fmt.Fprintf(s.w, `,"invocations":[{"executionSuccessful":true,"endTimeUtc":%q}]`, s.info.Time.UTC().Format("2006-01-02T15:04:05Z"))
	}
	s.w.WriteString("}]}\n")
	return s.w.Flush()
}
