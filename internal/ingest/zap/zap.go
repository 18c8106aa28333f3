// Package zap parses the reports of the OWASP ZAP web scanner (Zed Attack
// Proxy) in its traditional XML and traditional JSON forms. Each site of a
// report is a scan of that site; each instance of an alert (an alert on one
// URL, method and parameter) is a DAST finding on the site.
package zap

import (
	"regexp"
	"strconv"
	"strings"

	"github.com/ctem-dev/ctem/internal/ingest"
	"github.com/ctem-dev/ctem/internal/model"
)

// Tool is the tool name findings and scans carry.
const Tool = "zap"

// alert is one alertitem of a site, in either syntax. The JSON form writes
// every number as a string; ingest.Text reads both.
type alert struct {
	PluginID   ingest.Text `xml:"pluginid" json:"pluginid"`
	AlertRef   ingest.Text `xml:"alertRef" json:"alertRef"`
	Alert      string      `xml:"alert" json:"alert"`
	Name       string      `xml:"name" json:"name"`
	RiskCode   ingest.Text `xml:"riskcode" json:"riskcode"`
	Confidence ingest.Text `xml:"confidence" json:"confidence"`
	RiskDesc   string      `xml:"riskdesc" json:"riskdesc"`
	Desc       string      `xml:"desc" json:"desc"`
	Instances  []instance  `xml:"instances>instance" json:"instances"`
	Solution   string      `xml:"solution" json:"solution"`
	OtherInfo  string      `xml:"otherinfo" json:"otherinfo"`
	Reference  string      `xml:"reference" json:"reference"`
	CWEID      ingest.Text `xml:"cweid" json:"cweid"`
	WASCID     ingest.Text `xml:"wascid" json:"wascid"`
}

// instance is one place an alert was raised. Request and response headers
// and bodies, which the "plus" reports add, are not read: they carry
// cookies and tokens and say nothing the finding needs.
type instance struct {
	URI      string `xml:"uri" json:"uri"`
	Method   string `xml:"method" json:"method"`
	Param    string `xml:"param" json:"param"`
	Attack   string `xml:"attack" json:"attack"`
	Evidence string `xml:"evidence" json:"evidence"`
}

// site is what a report says of one scanned site.
type site struct {
	Name, Host, Port, SSL string
}

// secretPlugins are the ZAP rules whose evidence is itself a secret: a
// session id in a URL (3), sensitive information in a URL or a Referer
// header (10024, 10025), a session token (10112), a hash that discloses a
// user name (10057), a Base64 value (10094), personal data (10062). Their
// evidence is replaced by a keyed hash (ingest.RedactSecret).
var secretPlugins = map[string]bool{"3": true, "10024": true, "10025": true, "10057": true, "10062": true, "10094": true, "10112": true}

// riskSeverity maps ZAP's risk codes (3 high, 2 medium, 1 low, 0
// informational) to severities.
func riskSeverity(code string) model.Severity {
	switch strings.TrimSpace(code) {
	case "3":
		return model.SeverityHigh
	case "2":
		return model.SeverityMedium
	case "1":
		return model.SeverityLow
	case "0":
		return model.SeverityInfo
	}
	return model.SeverityUnknown
}

// beginSite starts the scan of one site: the target is the site's name as
// ZAP wrote it (its origin, "https://shop.example.com"); the user's
// --target only names a site that has no name, since a report of several
// sites would otherwise give several scans one target and each would close
// the findings of the one before. It returns the site's asset key.
func beginSite(in *ingest.Input, sink ingest.Sink, s site, version, format string) (string, error) {
	target := strings.TrimSpace(s.Name)
	if target == "" {
		target = in.TargetOr("")
		if target == "" {
			in.Warn("%s: a ZAP site names no URL; pass --target to name it", in.Name)
			target = "unknown"
		}
	}
	asset := siteKey(s, target)
	if err := sink.BeginScan(model.Scan{ParserVersion: ParserVersion, Tool: Tool, ToolVersion: version, Format: format, Target: target, Asset: asset}); err != nil {
		return "", err
	}
	a := model.Asset{Key: asset, Kind: model.KindEndpoint, Name: strings.TrimPrefix(asset, "url:"), Source: Tool}
	return asset, sink.Asset(a)
}

// siteKey is the URL key of a site's origin (scheme://host:port/, default
// ports dropped), built from the host, port and ssl attributes when the
// report has them and from the site's name otherwise.
func siteKey(s site, name string) string {
	if s.Host != "" {
		scheme := "http"
		if strings.EqualFold(s.SSL, "true") {
			scheme = "https"
		}
		host := s.Host
		if strings.Contains(host, ":") && !strings.HasPrefix(host, "[") {
			host = "[" + host + "]" // an IPv6 address
		}
		if p := strings.TrimSpace(s.Port); p != "" {
			if _, err := strconv.Atoi(p); err == nil {
				host += ":" + p
			}
		}
		return model.URLKey(scheme + "://" + host + "/")
	}
	if strings.Contains(name, "://") {
		return model.URLKey(name)
	}
	return model.URLKey("http://" + name)
}

// findings turns one alert into its findings, one per instance; an alert
// with no instances (a report written with instances left out) gives one
// finding on the site itself. ptr gives the pointer of instance i.
func findings(in *ingest.Input, a *alert, asset string, ptr func(i int) string) []*model.Finding {
	ruleID := strings.TrimSpace(a.AlertRef.String())
	if ruleID == "" {
		ruleID = strings.TrimSpace(a.PluginID.String())
	}
	title := strings.TrimSpace(a.Alert)
	if title == "" {
		title = strings.TrimSpace(a.Name)
	}
	sev := riskSeverity(a.RiskCode.String())
	toolSev := strings.TrimSpace(a.RiskDesc)
	if toolSev == "" {
		toolSev = "riskcode " + a.RiskCode.String()
	}
	var cwes []string
	if n := a.CWEID.Int(); n > 0 {
		cwes = []string{"CWE-" + strconv.Itoa(n)}
	}
	desc := strings.TrimSpace(stripHTML(a.Desc))
	if s := strings.TrimSpace(stripHTML(a.Solution)); s != "" {
		desc += "\n\nSolution: " + s
	}
	if s := clip(stripHTML(a.OtherInfo)); s != "" && !secretPlugins[strings.TrimSpace(a.PluginID.String())] {
		desc += "\n\nOther information: " + s
	}
	if s := strings.TrimSpace(stripHTML(a.Reference)); s != "" {
		desc += "\n\nReferences: " + s
	}
	if n := a.WASCID.Int(); n > 0 {
		desc += "\n\nWASC-" + strconv.Itoa(n)
	}
	secret := secretPlugins[strings.TrimSpace(a.PluginID.String())]
	insts := a.Instances
	if len(insts) == 0 {
		insts = []instance{{}}
	}
	out := make([]*model.Finding, 0, len(insts))
	for i, inst := range insts {
		f := &model.Finding{
			Tool:   Tool,
			Kind:   model.FindingDAST,
			RuleID: ruleID,
			CWEs:   cwes,
			// Some rules (the vulnerable JavaScript library check) name
			// the CVEs they found.
			VulnIDs:      model.ExtractVulnIDs(a.OtherInfo + "\n" + a.Reference),
			Severity:     sev,
			ToolSeverity: toolSev,
			Title:        title,
			Asset:        asset,
			Location: model.Location{
				URL:       stripUserinfo(strings.TrimSpace(inst.URI)),
				Component: strings.TrimSpace(strings.TrimSpace(inst.Method) + " " + strings.TrimSpace(inst.Param)),
			},
			Pointer: ptr(i),
		}
		d := desc
		if secret {
			// The URL's query is where such a value travels.
			if i := strings.IndexAny(f.Location.URL, "?#"); i >= 0 {
				f.Location.URL = f.Location.URL[:i]
			}
			f.Location.URL = ingest.MaskSecret(f.Location.URL, inst.Evidence)
		}
		if secret && inst.Evidence != "" {
			f.SecretHash, f.SecretHint = ingest.RedactSecret(in.SecretKey, inst.Evidence)
			d += "\n\nEvidence: (redacted)"
		} else if ev := clip(inst.Evidence); ev != "" {
			d += "\n\nEvidence: " + ev
		}
		if at := clip(inst.Attack); at != "" {
			if secret {
				at = ingest.MaskSecret(at, inst.Evidence)
			}
			d += "\n\nAttack: " + at
		}
		f.Description = strings.TrimSpace(d)
		if strings.TrimSpace(a.Confidence.String()) == "0" {
			f.Status = model.StatusFalsePositive
			f.ToolStatus = "confidence 0 (false positive)"
		}
		out = append(out, f)
	}
	return out
}

var tagRE = regexp.MustCompile(`<[^>]*>`)

// stripHTML drops the paragraph markup ZAP puts in descriptions.
func stripHTML(s string) string {
	s = strings.ReplaceAll(s, "</p><p>", "\n")
	return tagRE.ReplaceAllString(s, "")
}

// clip keeps evidence and attack strings to a readable length.
func clip(s string) string {
	s = strings.TrimSpace(s)
	if r := []rune(s); len(r) > 300 {
		return string(r[:300]) + "…"
	}
	return s
}

// stripUserinfo removes user:password@ from a URL, should a scanned URL
// carry credentials.
func stripUserinfo(u string) string {
	scheme, rest, ok := strings.Cut(u, "://")
	if !ok {
		return u
	}
	end := strings.IndexAny(rest, "/?#")
	if end < 0 {
		end = len(rest)
	}
	if at := strings.LastIndex(rest[:end], "@"); at >= 0 {
		return scheme + "://" + rest[at+1:]
	}
	return u
}

// The formats' names, as given to --format.
const (
	nameXML  = "zap-xml"
	nameJSON = "zap-json"
)
