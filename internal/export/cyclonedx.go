package export

import (
	"bufio"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/ctem-dev/ctem/internal/intel/cvss"
	"github.com/ctem-dev/ctem/internal/model"
)

// AssetProperty is the CycloneDX component property that names the ctem
// asset a package component belongs to, so that a VEX naming packages of
// many assets (images, repositories) says which asset each is in; ctem's
// CycloneDX reader files the vulnerability under that asset.
const AssetProperty = "ctem:asset"

// CycloneDX writes a CycloneDX 1.6 BOM in its VEX form: one vulnerability
// per exposure on a package, its analysis state from the exposure's
// status, affecting a package component of the exposure's asset.
// Exposures without a vulnerability id or a package (code,
// misconfiguration, secrets) are left out: CycloneDX VEX speaks of
// vulnerabilities in components. Vulnerabilities are streamed;
// the components they affect, one per asset and package, are kept in
// memory and written at the end.
type CycloneDX struct {
	w      *bufio.Writer
	info   Info
	n      int
	comps  map[string]cdxComponent
	order  []string
	serial string
}

// NewCycloneDX returns a CycloneDX VEX writer to w.
func NewCycloneDX(w io.Writer) *CycloneDX {
	return &CycloneDX{w: bufio.NewWriterSize(w, 64<<10), comps: map[string]cdxComponent{}}
}

type cdxProperty struct {
	Name  string `json:"name"`
	Value string `json:"value"`
}

type cdxComponent struct {
	BOMRef     string        `json:"bom-ref,omitempty"`
	Type       string        `json:"type"`
	Name       string        `json:"name"`
	Version    string        `json:"version,omitempty"`
	PURL       string        `json:"purl,omitempty"`
	Properties []cdxProperty `json:"properties,omitempty"`
}

type cdxRating struct {
	Source   *cdxSource `json:"source,omitempty"`
	Score    float64    `json:"score,omitempty"`
	Severity string     `json:"severity,omitempty"`
	Method   string     `json:"method,omitempty"`
	Vector   string     `json:"vector,omitempty"`
}

type cdxSource struct {
	Name string `json:"name,omitempty"`
	URL  string `json:"url,omitempty"`
}

type cdxAnalysis struct {
	State         string   `json:"state"`
	Justification string   `json:"justification,omitempty"`
	Response      []string `json:"response,omitempty"`
	Detail        string   `json:"detail,omitempty"`
	LastUpdated   string   `json:"lastUpdated,omitempty"`
}

type cdxAffect struct {
	Ref string `json:"ref"`
}

type cdxReference struct {
	ID     string    `json:"id"`
	Source cdxSource `json:"source"`
}

type cdxVulnerability struct {
	BOMRef         string         `json:"bom-ref"`
	ID             string         `json:"id"`
	Source         *cdxSource     `json:"source,omitempty"`
	References     []cdxReference `json:"references,omitempty"`
	Ratings        []cdxRating    `json:"ratings,omitempty"`
	CWEs           []int          `json:"cwes,omitempty"`
	Description    string         `json:"description,omitempty"`
	Recommendation string         `json:"recommendation,omitempty"`
	Created        string         `json:"created,omitempty"`
	Updated        string         `json:"updated,omitempty"`
	Analysis       cdxAnalysis    `json:"analysis"`
	Affects        []cdxAffect    `json:"affects"`
	Properties     []cdxProperty  `json:"properties,omitempty"`
}

// cdxTime formats a time as CycloneDX wants (RFC 3339, UTC, seconds).
func cdxTime(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format("2006-01-02T15:04:05Z")
}

// uuidOf derives a name-based UUID (version 5 layout, SHA-256 digest)
// from parts, for serial numbers that are stable for the same document.
func uuidOf(parts ...string) string {
	h := sha256.Sum256([]byte(strings.Join(parts, "\x00")))
	b := h[:16]
	b[6] = (b[6] & 0x0f) | 0x50
	b[8] = (b[8] & 0x3f) | 0x80
	x := hex.EncodeToString(b)
	return x[0:8] + "-" + x[8:12] + "-" + x[12:16] + "-" + x[16:20] + "-" + x[20:32]
}

// Begin implements Writer.
func (c *CycloneDX) Begin(info Info) error {
	c.info = info
	tool := info.Tool
	if tool == "" {
		tool = "ctem"
	}
	c.serial = "urn:uuid:" + uuidOf("cyclonedx", tool, info.Author, info.Subject, cdxTime(info.Time))
	subject := info.Subject
	if subject == "" {
		subject = "ctem-estate"
	}
	comp := cdxComponent{BOMRef: "subject", Type: subjectType(subject), Name: subject}
	if info.Subject != "" {
		comp.Properties = []cdxProperty{{Name: AssetProperty, Value: info.Subject}}
	}
	meta := map[string]any{
		"tools":     map[string]any{"components": []cdxComponent{{Type: "application", Name: tool, Version: info.Version}}},
		"component": comp,
	}
	if ts := cdxTime(info.Time); ts != "" {
		meta["timestamp"] = ts
	}
	if info.Author != "" {
		meta["authors"] = []map[string]string{{"name": info.Author}}
	}
	mb, err := json.Marshal(meta)
	if err != nil {
		return fmt.Errorf("cyclonedx metadata: %w", err)
	}
	_, err = fmt.Fprintf(c.w, `{"bomFormat":"CycloneDX","specVersion":"1.6","serialNumber":%q,"version":1,"metadata":%s,"vulnerabilities":[`, c.serial, mb)
	return err
}

// subjectType is the component type of an asset key.
func subjectType(key string) string {
	switch model.KindOfKey(key) {
	case model.KindImage:
		return "container"
	case model.KindPackage:
		return "library"
	case model.KindHost, model.KindNode:
		return "device"
	}
	return "application"
}

// cdxState maps an exposure status to a CycloneDX impact analysis state
// and response: not_affected and false_positive as themselves, fixed as
// resolved, accepted as exploitable that will not be fixed (a risk
// acceptance), open as in_triage (a tool reported it; nobody has decided).
func cdxState(st model.Status) (state string, response []string) {
	switch st {
	case model.StatusNotAffected:
		return "not_affected", nil
	case model.StatusFalsePositive:
		return "false_positive", nil
	case model.StatusFixed:
		return "resolved", nil
	case model.StatusAccepted:
		return "exploitable", []string{"will_not_fix"}
	}
	return "in_triage", nil
}

// cdxJustifications are CycloneDX 1.6's justifications of not_affected.
var cdxJustifications = []string{
	"code_not_present", "code_not_reachable", "requires_configuration", "requires_dependency",
	"requires_environment", "protected_by_compiler", "protected_at_runtime", "protected_at_perimeter",
	"protected_by_mitigating_control",
}

// openVEXToCDX maps OpenVEX justifications to CycloneDX's nearest.
var openVEXToCDX = map[string]string{
	"component_not_present":                             "code_not_present",
	"vulnerable_code_not_present":                       "code_not_present",
	"vulnerable_code_not_in_execute_path":               "code_not_reachable",
	"vulnerable_code_cannot_be_controlled_by_adversary": "protected_by_mitigating_control",
	"inline_mitigations_already_exist":                  "protected_by_mitigating_control",
}

// vexDetail returns the VEX justification (in CycloneDX's words) and the
// free text of an exposure's not-affected evidence.
func vexDetail(ev []model.Evidence) (just, detail string) {
	for _, e := range ev {
		if e.Kind != model.EvidenceVEXNotAffected {
			continue
		}
		for _, j := range cdxJustifications {
			if strings.Contains(e.Detail, j) {
				return j, e.Detail
			}
		}
		for o, j := range openVEXToCDX {
			if strings.Contains(e.Detail, o) {
				return j, e.Detail
			}
		}
		return "", e.Detail
	}
	return "", ""
}

// cdxMethod names a CVSS version as a CycloneDX scoring method.
func cdxMethod(v cvss.Version) string {
	switch v {
	case cvss.V2:
		return "CVSSv2"
	case cvss.V30:
		return "CVSSv3"
	case cvss.V31:
		return "CVSSv31"
	case cvss.V40:
		return "CVSSv4"
	}
	return "other"
}

// cdxSeverity maps a ctem severity to CycloneDX's words.
func cdxSeverity(s model.Severity) string {
	switch s {
	case model.SeverityCritical, model.SeverityHigh, model.SeverityMedium, model.SeverityLow, model.SeverityInfo:
		return string(s)
	}
	return "unknown"
}

// Exposure implements ExposureWriter.
func (c *CycloneDX) Exposure(e *Exposure) error {
	x := &e.Exposure
	if len(x.VulnIDs) == 0 || (x.Package.Name == "" && x.Package.PURL == "") {
		return nil
	}
	comp := c.component(x)
	state, response := cdxState(x.Status)
	v := cdxVulnerability{
		BOMRef:      "vuln:" + x.ID,
		ID:          weaknessID(x),
		Description: x.Title,
		Created:     cdxTime(x.FirstSeen),
		Updated:     cdxTime(x.LastSeen),
		Analysis:    cdxAnalysis{State: state, Response: response},
		Affects:     []cdxAffect{{Ref: comp}},
		Properties:  []cdxProperty{{Name: "ctem:exposure", Value: x.ID}},
	}
	if u := helpURI(v.ID); u != "" {
		v.Source = &cdxSource{Name: sourceName(v.ID), URL: u}
	}
	for _, alias := range x.VulnIDs[min(1, len(x.VulnIDs)):] {
		ref := cdxReference{ID: alias, Source: cdxSource{Name: sourceName(alias), URL: helpURI(alias)}}
		v.References = append(v.References, ref)
	}
	for _, cw := range x.CWEs {
		if n, err := strconv.Atoi(strings.TrimPrefix(cw, "CWE-")); err == nil && n > 0 {
			v.CWEs = append(v.CWEs, n)
		}
	}
	for _, cv := range x.CVSS {
		vec, err := cvss.Parse(cv.Vector)
		if err != nil {
			continue
		}
		r := cdxRating{Score: cv.Score, Method: cdxMethod(vec.Version), Vector: cv.Vector, Severity: cdxSeverity(vec.Severity)}
		if r.Score == 0 {
			r.Score = vec.Score
		}
		if cv.Source != "" {
			r.Source = &cdxSource{Name: cv.Source}
		}
		v.Ratings = append(v.Ratings, r)
	}
	if len(v.Ratings) == 0 {
		v.Ratings = []cdxRating{{Severity: cdxSeverity(x.Severity), Method: "other", Source: &cdxSource{Name: "ctem"}}}
	}
	if x.Package.FixedVersion != "" {
		v.Recommendation = "Upgrade " + x.Package.Name + " to " + x.Package.FixedVersion + " or later."
	}
	switch x.Status {
	case model.StatusNotAffected, model.StatusFalsePositive:
		v.Analysis.Justification, v.Analysis.Detail = vexDetail(e.Evidence)
		if x.Status == model.StatusFalsePositive {
			v.Analysis.Justification = ""
		}
	case model.StatusAccepted:
		v.Analysis.Detail = "Risk accepted in ctem: no fix planned while the exception holds."
	case model.StatusFixed:
		if !x.FixedAt.IsZero() {
			v.Analysis.Detail = "No longer reported since " + cdxTime(x.FixedAt) + "."
		}
	}
	v.Analysis.LastUpdated = cdxTime(x.LastSeen)
	if !x.FixedAt.IsZero() && x.FixedAt.After(x.LastSeen) {
		v.Analysis.LastUpdated = cdxTime(x.FixedAt)
	}
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("cyclonedx vulnerability: %w", err)
	}
	if c.n > 0 {
		c.w.WriteByte(',')
	}
	c.n++
	_, err = c.w.Write(b)
	return err
}

// sourceName names the database of a vulnerability id.
func sourceName(id string) string {
	switch {
	case strings.HasPrefix(id, "CVE-"):
		return "NVD"
	case strings.HasPrefix(id, "GHSA-"):
		return "GitHub"
	case strings.HasPrefix(id, "GO-"):
		return "Go"
	}
	if i := strings.Index(id, "-"); i > 0 {
		return id[:i]
	}
	return "ctem"
}

// component returns the bom-ref of the component of x's package on x's
// asset, recording it on first sight.
func (c *CycloneDX) component(x *model.Exposure) string {
	pkg := x.Package.PURL
	if pkg == "" {
		pkg = x.Package.Name + "@" + x.Package.Version
	}
	ref := x.Asset + "|" + pkg
	if _, ok := c.comps[ref]; !ok {
		name := x.Package.Name
		if name == "" {
			name = purlName(x.Package.PURL)
		}
		c.comps[ref] = cdxComponent{
			BOMRef: ref, Type: "library", Name: name, Version: x.Package.Version, PURL: x.Package.PURL,
			Properties: []cdxProperty{{Name: AssetProperty, Value: x.Asset}},
		}
		c.order = append(c.order, ref)
	}
	return ref
}

// purlName is the name segment of a purl.
func purlName(purl string) string {
	rest := strings.TrimPrefix(purl, "pkg:")
	if i := strings.IndexAny(rest, "@?#"); i >= 0 {
		rest = rest[:i]
	}
	if i := strings.LastIndex(rest, "/"); i >= 0 {
		rest = rest[i+1:]
	}
	return rest
}

// End implements Writer: it writes the components and closes the BOM.
func (c *CycloneDX) End() error {
	c.w.WriteString(`],"components":[`)
	for i, ref := range c.order {
		b, err := json.Marshal(c.comps[ref])
		if err != nil {
			return fmt.Errorf("cyclonedx component: %w", err)
		}
		if i > 0 {
			c.w.WriteByte(',')
		}
		c.w.Write(b)
	}
	c.w.WriteString("]}\n")
	return c.w.Flush()
}
