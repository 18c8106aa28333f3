package export

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"strings"

	"github.com/ctem-dev/ctem/internal/intel/cvss"
	"github.com/ctem-dev/ctem/internal/model"
)

// OCSFVersion is the OCSF schema version of the events written.
const OCSFVersion = "1.3.0"

// The OCSF classes written: Vulnerability Finding for exposures that name
// a CVE or a CWE (the class requires one of them on every vulnerability),
// Detection Finding for attack paths and the other exposures
// (misconfigurations, DAST alerts without a CWE).
const (
	OCSFVulnerabilityFinding = 2002
	OCSFDetectionFinding     = 2004
)

// OCSF writes one OCSF event per line (JSON Lines): a Vulnerability
// Finding (class 2002) or Detection Finding (class 2004) per exposure, and
// a Detection Finding per attack path. Nothing is buffered beyond a line.
type OCSF struct {
	w    *bufio.Writer
	info Info
}

// NewOCSF returns an OCSF writer to w.
func NewOCSF(w io.Writer) *OCSF {
	return &OCSF{w: bufio.NewWriterSize(w, 64<<10)}
}

type ocsfProduct struct {
	Name       string `json:"name"`
	VendorName string `json:"vendor_name"`
	Version    string `json:"version,omitempty"`
	URL        string `json:"url_string,omitempty"`
}

type ocsfMetadata struct {
	Version string      `json:"version"`
	Product ocsfProduct `json:"product"`
	UID     string      `json:"uid,omitempty"`
	Labels  []string    `json:"labels,omitempty"`
}

type ocsfAnalytic struct {
	Name   string `json:"name,omitempty"`
	UID    string `json:"uid,omitempty"`
	Type   string `json:"type"`
	TypeID int    `json:"type_id"`
}

type ocsfFindingInfo struct {
	UID           string        `json:"uid"`
	Title         string        `json:"title"`
	Desc          string        `json:"desc,omitempty"`
	Types         []string      `json:"types,omitempty"`
	FirstSeenTime int64         `json:"first_seen_time,omitempty"`
	LastSeenTime  int64         `json:"last_seen_time,omitempty"`
	Analytic      *ocsfAnalytic `json:"analytic,omitempty"`
	SrcURL        string        `json:"src_url,omitempty"`
}

type ocsfCVSS struct {
	Version      string  `json:"version"`
	BaseScore    float64 `json:"base_score"`
	VectorString string  `json:"vector_string,omitempty"`
	Severity     string  `json:"severity,omitempty"`
}

type ocsfCVE struct {
	UID  string     `json:"uid"`
	CVSS []ocsfCVSS `json:"cvss,omitempty"`
}

type ocsfCWE struct {
	UID     string `json:"uid"`
	SrcURL  string `json:"src_url,omitempty"`
	Caption string `json:"caption,omitempty"`
}

type ocsfPackage struct {
	Name           string `json:"name"`
	Version        string `json:"version"`
	PURL           string `json:"purl,omitempty"`
	FixedInVersion string `json:"fixed_in_version,omitempty"`
	Path           string `json:"path,omitempty"`
}

type ocsfFile struct {
	Name   string `json:"name"`
	Path   string `json:"path,omitempty"`
	TypeID int    `json:"type_id"`
	Type   string `json:"type,omitempty"`
}

type ocsfAffectedCode struct {
	File      ocsfFile `json:"file"`
	StartLine int      `json:"start_line,omitempty"`
	EndLine   int      `json:"end_line,omitempty"`
}

type ocsfRemediation struct {
	Desc string `json:"desc"`
}

type ocsfVulnerability struct {
	Title                  string             `json:"title"`
	Desc                   string             `json:"desc,omitempty"`
	Severity               string             `json:"severity,omitempty"`
	CVE                    *ocsfCVE           `json:"cve,omitempty"`
	CWE                    *ocsfCWE           `json:"cwe,omitempty"`
	RelatedVulnerabilities []string           `json:"related_vulnerabilities,omitempty"`
	AffectedPackages       []ocsfPackage      `json:"affected_packages,omitempty"`
	AffectedCode           []ocsfAffectedCode `json:"affected_code,omitempty"`
	IsFixAvailable         *bool              `json:"is_fix_available,omitempty"`
	Remediation            *ocsfRemediation   `json:"remediation,omitempty"`
	References             []string           `json:"references,omitempty"`
	VendorName             string             `json:"vendor_name,omitempty"`
	FirstSeenTime          int64              `json:"first_seen_time,omitempty"`
	LastSeenTime           int64              `json:"last_seen_time,omitempty"`
}

type ocsfResource struct {
	UID    string            `json:"uid"`
	Name   string            `json:"name,omitempty"`
	Type   string            `json:"type,omitempty"`
	Labels []string          `json:"labels,omitempty"`
	Data   map[string]string `json:"data,omitempty"`
}

type ocsfEvent struct {
	ActivityID      int                 `json:"activity_id"`
	ActivityName    string              `json:"activity_name"`
	CategoryUID     int                 `json:"category_uid"`
	CategoryName    string              `json:"category_name"`
	ClassUID        int                 `json:"class_uid"`
	ClassName       string              `json:"class_name"`
	TypeUID         int                 `json:"type_uid"`
	TypeName        string              `json:"type_name"`
	SeverityID      int                 `json:"severity_id"`
	Severity        string              `json:"severity"`
	StatusID        int                 `json:"status_id"`
	Status          string              `json:"status"`
	StatusDetail    string              `json:"status_detail,omitempty"`
	Time            int64               `json:"time"`
	Message         string              `json:"message"`
	Metadata        ocsfMetadata        `json:"metadata"`
	FindingInfo     ocsfFindingInfo     `json:"finding_info"`
	Vulnerabilities []ocsfVulnerability `json:"vulnerabilities,omitempty"`
	Resources       []ocsfResource      `json:"resources,omitempty"`
	ConfidenceID    int                 `json:"confidence_id,omitempty"`
	Confidence      string              `json:"confidence,omitempty"`
	ConfidenceScore *int                `json:"confidence_score,omitempty"`
	RiskScore       *int                `json:"risk_score,omitempty"`
	RiskLevelID     *int                `json:"risk_level_id,omitempty"`
	RiskLevel       string              `json:"risk_level,omitempty"`
	StartTime       int64               `json:"start_time,omitempty"`
	EndTime         int64               `json:"end_time,omitempty"`
}

// Begin implements Writer.
func (o *OCSF) Begin(info Info) error {
	o.info = info
	return nil
}

// ocsfSeverity maps a severity to OCSF's severity_id and caption.
func ocsfSeverity(s model.Severity) (int, string) {
	switch s {
	case model.SeverityInfo:
		return 1, "Informational"
	case model.SeverityLow:
		return 2, "Low"
	case model.SeverityMedium:
		return 3, "Medium"
	case model.SeverityHigh:
		return 4, "High"
	case model.SeverityCritical:
		return 5, "Critical"
	}
	return 0, "Unknown"
}

// ocsfStatus maps an exposure status to the finding's activity (Create
// for what is open, Update for an accepted risk, Close for the rest) and
// status (New, Suppressed, Resolved), keeping ctem's word in the detail.
func ocsfStatus(st model.Status) (activity int, activityName string, status int, statusName string) {
	switch st {
	case model.StatusFixed:
		return 3, "Close", 4, "Resolved"
	case model.StatusNotAffected, model.StatusFalsePositive:
		return 3, "Close", 3, "Suppressed"
	case model.StatusAccepted:
		return 2, "Update", 3, "Suppressed"
	}
	return 1, "Create", 1, "New"
}

func (o *OCSF) base(class int, className string, sev model.Severity, st model.Status) ocsfEvent {
	act, actName, stID, stName := ocsfStatus(st)
	sevID, sevName := ocsfSeverity(sev)
	tool := o.info.Tool
	if tool == "" {
		tool = "ctem"
	}
	return ocsfEvent{
		ActivityID: act, ActivityName: actName,
		CategoryUID: 2, CategoryName: "Findings",
		ClassUID: class, ClassName: className,
		TypeUID: class*100 + act, TypeName: className + ": " + actName,
		SeverityID: sevID, Severity: sevName,
		StatusID: stID, Status: stName, StatusDetail: string(st),
		Time:     ms(o.info.Time),
		Metadata: ocsfMetadata{Version: OCSFVersion, Product: ocsfProduct{Name: tool, VendorName: "ctem", Version: o.info.Version, URL: "https://github.com/ctem-dev/ctem"}},
	}
}

func (o *OCSF) write(ev *ocsfEvent) error {
	b, err := json.Marshal(ev)
	if err != nil {
		return fmt.Errorf("ocsf event: %w", err)
	}
	o.w.Write(b)
	return o.w.WriteByte('\n')
}

// resource describes an asset as an OCSF resource.
func resource(key string) ocsfResource {
	r := ocsfResource{UID: key, Type: string(model.KindOfKey(key)), Name: key}
	if _, name, ok := strings.Cut(key, ":"); ok && !strings.HasPrefix(key, "pkg:") {
		r.Name = name
	}
	return r
}

// Exposure implements ExposureWriter.
func (o *OCSF) Exposure(e *Exposure) error {
	x := &e.Exposure
	cveIDs := cves(x.VulnIDs)
	class, className := OCSFVulnerabilityFinding, "Vulnerability Finding"
	if len(cveIDs) == 0 && len(x.CWEs) == 0 {
		class, className = OCSFDetectionFinding, "Detection Finding"
	}
	ev := o.base(class, className, x.Severity, x.Status)
	ev.Message = title(x) + " on " + x.Asset
	ev.Metadata.UID = x.ID
	ev.StartTime, ev.EndTime = ms(x.FirstSeen), ms(x.LastSeen)
	if ev.Time == 0 {
		ev.Time = ms(x.LastSeen)
	}
	ev.FindingInfo = ocsfFindingInfo{
		UID: x.ID, Title: title(x), Types: []string{string(x.Kind)},
		FirstSeenTime: ms(x.FirstSeen), LastSeenTime: ms(x.LastSeen),
		SrcURL: helpURI(weaknessID(x)),
	}
	if len(x.Tools) > 0 {
		ev.FindingInfo.Desc = "Reported by " + strings.Join(x.Tools, ", ") + "."
	}
	ev.Resources = []ocsfResource{resource(x.Asset)}
	_, sevName := ocsfSeverity(x.Severity)
	v := ocsfVulnerability{
		Title: weaknessID(x), Desc: x.Title, Severity: sevName, VendorName: "ctem",
		FirstSeenTime: ms(x.FirstSeen), LastSeenTime: ms(x.LastSeen),
	}
	if len(cveIDs) > 0 {
		v.CVE = &ocsfCVE{UID: cveIDs[0]}
		for _, c := range x.CVSS {
			vec, err := cvss.Parse(c.Vector)
			if err != nil {
				continue
			}
			s := c.Score
			if s == 0 {
				s = vec.Score
			}
			v.CVE.CVSS = append(v.CVE.CVSS, ocsfCVSS{Version: string(vec.Version), BaseScore: s, VectorString: c.Vector, Severity: capitalize(string(vec.Severity))})
		}
	}
	if len(x.CWEs) > 0 {
		v.CWE = &ocsfCWE{UID: x.CWEs[0], SrcURL: helpURI(x.CWEs[0])}
	}
	for _, id := range x.VulnIDs {
		if v.CVE == nil || id != v.CVE.UID {
			v.RelatedVulnerabilities = append(v.RelatedVulnerabilities, id)
		}
	}
	if u := helpURI(weaknessID(x)); u != "" {
		v.References = []string{u}
	}
	if x.Package.Name != "" {
		v.AffectedPackages = []ocsfPackage{{Name: x.Package.Name, Version: x.Package.Version, PURL: x.Package.PURL,
			FixedInVersion: x.Package.FixedVersion, Path: x.Location.Path}}
		fix := x.Package.FixedVersion != ""
		v.IsFixAvailable = &fix
		if fix {
			v.Remediation = &ocsfRemediation{Desc: "Upgrade " + x.Package.Name + " to " + x.Package.FixedVersion + " or later."}
		}
	} else if x.Location.Path != "" {
		name := x.Location.Path
		if i := strings.LastIndexAny(name, `/\`); i >= 0 {
			name = name[i+1:]
		}
		ac := ocsfAffectedCode{File: ocsfFile{Name: name, Path: x.Location.Path, TypeID: 1, Type: "Regular File"}, StartLine: x.Location.Line}
		if x.Location.EndLine >= x.Location.Line && x.Location.Line > 0 {
			ac.EndLine = x.Location.EndLine
		}
		v.AffectedCode = []ocsfAffectedCode{ac}
	}
	if class == OCSFVulnerabilityFinding {
		ev.Vulnerabilities = []ocsfVulnerability{v}
	} else {
		ev.FindingInfo.Analytic = &ocsfAnalytic{Name: weaknessID(x), UID: x.RuleID, Type: "Rule", TypeID: 1}
		if x.Location.URL != "" {
			ev.Resources = append(ev.Resources, ocsfResource{UID: x.Location.URL, Type: "url", Name: x.Location.URL})
		}
	}
	return o.write(&ev)
}

func capitalize(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}

// Path implements PathWriter: an attack path is a Detection Finding whose
// resources are the assets it goes through, entry first, with its risk
// (likelihood × the jewel's value, 0 to 10) scaled to 0-100 as the risk
// score and its likelihood as the confidence.
func (o *OCSF) Path(p *Path) error {
	sev := pathSeverity(&p.Path)
	ev := o.base(OCSFDetectionFinding, "Detection Finding", sev, model.StatusOpen)
	var steps []string
	for _, s := range p.Steps {
		line := s.To + " by " + s.Rule
		if len(s.ExposureIDs) > 0 {
			if x, ok := p.Exposures[s.ExposureIDs[0]]; ok {
				line += " via " + weaknessID(&x)
			}
		}
		steps = append(steps, line)
	}
	ev.Message = fmt.Sprintf("Attack path from %s to crown jewel %s", p.Entry, p.Jewel)
	ev.Metadata.UID = p.ID
	ev.FindingInfo = ocsfFindingInfo{
		UID: p.ID, Title: ev.Message, Types: []string{"attack-path"},
		Desc:     p.Entry + " -> " + strings.Join(steps, " -> "),
		Analytic: &ocsfAnalytic{Name: "ctem attack-path analysis", Type: "Graph", TypeID: 99},
	}
	for _, a := range pathAssets(&p.Path) {
		r := resource(a)
		if a == p.Jewel {
			r.Labels = []string{"crown-jewel"}
		}
		ev.Resources = append(ev.Resources, r)
	}
	risk := int(math.Round(min(p.Risk, 10) * 10))
	conf := int(math.Round(p.Likelihood * 100))
	ev.RiskScore, ev.ConfidenceScore = &risk, &conf
	switch {
	case conf >= 70:
		ev.ConfidenceID, ev.Confidence = 3, "High"
	case conf >= 30:
		ev.ConfidenceID, ev.Confidence = 2, "Medium"
	default:
		ev.ConfidenceID, ev.Confidence = 1, "Low"
	}
	lvl, lvlName := riskLevel(sev)
	ev.RiskLevelID, ev.RiskLevel = &lvl, lvlName
	// No is_alert: Detection Finding has it from OCSF 1.4.0 on, and these
	// events are 1.3.0.
	return o.write(&ev)
}

// riskLevel maps a severity to OCSF's risk_level_id and caption.
func riskLevel(s model.Severity) (int, string) {
	switch s {
	case model.SeverityCritical:
		return 4, "Critical"
	case model.SeverityHigh:
		return 3, "High"
	case model.SeverityMedium:
		return 2, "Medium"
	case model.SeverityLow:
		return 1, "Low"
	}
	return 0, "Info"
}

// End implements Writer.
func (o *OCSF) End() error {
	return o.w.Flush()
}
