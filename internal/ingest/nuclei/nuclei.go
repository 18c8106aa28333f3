// Package nuclei parses the JSON output of ProjectDiscovery's Nuclei
// scanner: JSON lines (-jsonl, and the older -json) and the JSON array of
// -json-export. Each result (a template that matched on a host) is a
// finding: DAST for HTTP templates, network for DNS, TCP, SSL and the rest.
//
// A report is one scan. Nuclei writes results as it finds them, hosts
// interleaved, so a streaming parser cannot group them by host; the scan's
// target is the user's --target, else the host of the first result, and a
// warning asks for --target when the results name several hosts, so that
// the next run of the same target list closes what it no longer finds.
package nuclei

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/go-json-experiment/json/jsontext"

	"github.com/ctem-dev/ctem/internal/ingest"
	"github.com/ctem-dev/ctem/internal/model"
)

// Tool is the tool name findings and scans carry.
const Tool = "nuclei"

// Format is Nuclei's JSON lines or JSON array output.
var Format = ingest.Format{
	Version: ParserVersion,
	Name:    "nuclei",
	Title:   "Nuclei JSON lines or JSON export",
	Detect:  Detect,
	Parse:   Parse,
}

// Detect accepts a JSON object, or an array of objects, with a template id,
// the template's info block and a host or match.
func Detect(s *ingest.Sniff) bool {
	prefix := ""
	switch s.Kind {
	case ingest.SniffJSONObject:
	case ingest.SniffJSONArray:
		prefix = "[]."
	default:
		return false
	}
	if !s.HasAny(prefix+"template-id", prefix+"templateID") || !s.Has(prefix+"info") {
		return false
	}
	return s.HasAny(prefix+"type", prefix+"matched-at", prefix+"matched", prefix+"host")
}

// strList reads a list of strings that Nuclei writes as a list, a single
// string or null depending on the field and the version.
type strList []string

// UnmarshalJSONFrom implements json.UnmarshalerFrom.
func (l *strList) UnmarshalJSONFrom(dec *jsontext.Decoder) error {
	switch dec.PeekKind() {
	case '[':
		var out []string
		err := ingest.WalkArray(dec, func() error {
			var t ingest.Text
			if dec.PeekKind() == '{' || dec.PeekKind() == '[' {
				return dec.SkipValue()
			}
			if err := ingest.DecodeJSON(dec, &t); err != nil {
				return err
			}
			if s := strings.TrimSpace(t.String()); s != "" {
				out = append(out, s)
			}
			return nil
		})
		*l = out
		return err
	case '{':
		*l = nil
		return dec.SkipValue()
	}
	var t ingest.Text
	if err := ingest.DecodeJSON(dec, &t); err != nil {
		return err
	}
	*l = nil
	if s := strings.TrimSpace(t.String()); s != "" {
		*l = strList{s}
	}
	return nil
}

type info struct {
	Name           string  `json:"name"`
	Severity       string  `json:"severity"`
	Description    string  `json:"description"`
	Impact         string  `json:"impact"`
	Remediation    string  `json:"remediation"`
	Tags           strList `json:"tags"`
	Reference      strList `json:"reference"`
	Classification struct {
		CVEID       strList     `json:"cve-id"`
		CWEID       strList     `json:"cwe-id"`
		CVSSMetrics string      `json:"cvss-metrics"`
		CVSSScore   ingest.Text `json:"cvss-score"`
	} `json:"classification"`
}

// result is one Nuclei result. The request, response and curl command are
// not read: they carry cookies, tokens and the credentials a template
// tried, and a curl command is not something to keep around to run.
type result struct {
	TemplateID       string         `json:"template-id"`
	TemplateIDOld    string         `json:"templateID"`
	Info             info           `json:"info"`
	Type             string         `json:"type"`
	Host             string         `json:"host"`
	MatchedAt        string         `json:"matched-at"`
	MatchedOld       string         `json:"matched"`
	URL              string         `json:"url"`
	Path             string         `json:"path"`
	IP               string         `json:"ip"`
	Port             ingest.Text    `json:"port"`
	MatcherName      string         `json:"matcher-name"`
	MatcherNameOld   string         `json:"matcher_name"`
	ExtractedResults strList        `json:"extracted-results"`
	ExtractedOld     strList        `json:"extracted_results"`
	Meta             map[string]any `json:"meta"`
	Timestamp        string         `json:"timestamp"`
	MatcherStatus    *bool          `json:"matcher-status"`
}

func (r *result) normalize() {
	if r.TemplateID == "" {
		r.TemplateID = r.TemplateIDOld
	}
	if r.MatchedAt == "" {
		r.MatchedAt = r.MatchedOld
	}
	if r.MatcherName == "" {
		r.MatcherName = r.MatcherNameOld
	}
	if len(r.ExtractedResults) == 0 {
		r.ExtractedResults = r.ExtractedOld
	}
	r.TemplateID = strings.TrimSpace(r.TemplateID)
	r.Host = strings.TrimSpace(r.Host)
	r.MatchedAt = stripUserinfo(strings.TrimSpace(r.MatchedAt))
}

// parser holds the state of one report.
type parser struct {
	in    *ingest.Input
	sink  ingest.Sink
	dec   *jsontext.Decoder
	began bool
	// target and asset of the scan.
	target, asset string
	hosts         map[string]bool
	assets        map[string]bool
}

// Parse reads Nuclei results from in and emits one scan and a finding per
// result.
func Parse(ctx context.Context, in *ingest.Input, sink ingest.Sink) error {
	p := &parser{in: in, sink: sink, dec: in.JSONDecoder(), hosts: map[string]bool{}, assets: map[string]bool{}}
	err := p.parse(ctx)
	return ingest.AsInputError(in, p.dec.InputOffset(), err)
}

func (p *parser) parse(ctx context.Context) error {
	switch p.dec.PeekKind() {
	case '[':
		if err := ingest.WalkItems(ctx, p.dec, func(i int) error {
			return p.result("/" + strconv.Itoa(i))
		}); err != nil {
			return err
		}
		if err := ingest.ExpectEOF(p.in, p.dec); err != nil {
			return err
		}
	case '{':
		for i := 1; ; i++ {
			if err := ctx.Err(); err != nil {
				return err
			}
			if p.dec.PeekKind() == 0 {
				// The end of input, or a syntax error ReadToken reports.
				_, err := p.dec.ReadToken()
				if errors.Is(err, io.EOF) {
					break
				}
				if err == nil {
					err = p.in.Errorf(p.dec.InputOffset(), "expected a Nuclei result object")
				}
				return err
			}
			if p.dec.PeekKind() != '{' {
				return p.in.Errorf(p.dec.InputOffset(), "expected a Nuclei result object")
			}
			if err := p.result("line " + strconv.Itoa(i)); err != nil {
				return err
			}
		}
	default:
		_, err := p.dec.ReadToken()
		if errors.Is(err, io.EOF) {
			break // an empty file: a run that found nothing
		}
		if err == nil {
			err = p.in.Errorf(0, "not a Nuclei report: expected an object or an array")
		}
		return err
	}
	if err := p.beginScan(""); err != nil {
		return err
	}
	if p.in.Target == "" && len(p.hosts) > 1 {
		p.in.Warn("%s: the results name %d hosts; the scan's target is the first, %s; pass --target to name the run, so that the next one closes what it no longer finds", p.in.Name, len(p.hosts), p.target)
	}
	return nil
}

// beginScan starts the report's scan once, named by the user's --target or
// else by first, the host of the first result.
func (p *parser) beginScan(first string) error {
	if p.began {
		return nil
	}
	p.began = true
	p.target = p.in.TargetOr(first)
	if p.target == "" {
		p.in.Warn("%s: the report names no host; pass --target to name what Nuclei scanned", p.in.Name)
		p.target = "unknown"
	}
	switch {
	case strings.Contains(p.target, "://"):
		p.asset = model.URLKey(stripUserinfo(p.target))
	case !strings.ContainsAny(p.target, " \t/,"):
		p.asset = model.HostKey(p.target, "")
	}
	return p.sink.BeginScan(model.Scan{ParserVersion: ParserVersion, Tool: Tool, Format: "nuclei", Target: p.target, Asset: p.asset})
}

func (p *parser) result(ptr string) error {
	var r result
	if err := ingest.DecodeJSON(p.dec, &r); err != nil {
		return err
	}
	r.normalize()
	host := hostOf(&r)
	if host != "" {
		p.hosts[host] = true
	}
	if err := p.beginScan(host); err != nil {
		return err
	}
	if r.MatcherStatus != nil && !*r.MatcherStatus {
		return nil // a template that ran and did not match (-matcher-status): no finding
	}
	f, err := p.finding(&r, ptr)
	if err != nil {
		return err
	}
	if err := p.sink.Finding(f); err != nil {
		return err
	}
	return p.evidence(&r, f)
}

// hostOf names the host a result is about: its "host" field, else the
// input URL (Nuclei 3 writes it as "path" and "url"), else the URL or
// host:port it matched.
func hostOf(r *result) string {
	for _, h := range []string{r.Host, strings.TrimLeft(r.Path, "/"), strings.TrimLeft(r.URL, "/"), r.MatchedAt, r.IP} {
		if h = strings.TrimSpace(h); h != "" {
			return stripUserinfo(h)
		}
	}
	return ""
}

// isDAST reports whether a template type probes a web application.
func isDAST(typ string) bool {
	switch strings.ToLower(typ) {
	case "http", "headless":
		return true
	}
	return false
}

// assetOf returns the key of what a result is about: the URL of the
// scanned web application for HTTP templates (model.URLKey of the host as
// Nuclei was given it), and host or host:port otherwise.
func (p *parser) assetOf(r *result) (key, hostKey string) {
	if isDAST(r.Type) {
		for _, c := range []string{r.Host, strings.TrimLeft(r.Path, "/"), strings.TrimLeft(r.URL, "/"), r.MatchedAt} {
			if strings.Contains(c, "://") {
				return model.URLKey(stripUserinfo(c)), ""
			}
		}
		if r.Host != "" {
			return model.URLKey("http://" + r.Host), ""
		}
	}
	host, port := "", ""
	for _, c := range []string{r.MatchedAt, r.Host, strings.TrimLeft(r.URL, "/"), strings.TrimLeft(r.Path, "/")} {
		if h, pt := splitHost(c); h != "" {
			host, port = h, pt
			break
		}
	}
	if host == "" {
		host = strings.TrimSpace(r.IP)
	}
	if port == "" {
		port = strings.TrimSpace(r.Port.String())
	}
	if host == "" {
		if p.asset != "" {
			return p.asset, ""
		}
		return model.HostKey("unknown", ""), ""
	}
	return model.HostKey(host, port), model.HostKey(host, "")
}

// splitHost reads a host and port from a URL, a host:port or a bare host.
func splitHost(s string) (host, port string) {
	s = strings.TrimSpace(s)
	if s == "" {
		return "", ""
	}
	if strings.Contains(s, "://") {
		u, err := url.Parse(s)
		if err != nil {
			return "", ""
		}
		return u.Hostname(), u.Port()
	}
	if h, pt, err := net.SplitHostPort(s); err == nil {
		if _, err := strconv.Atoi(pt); err == nil {
			return h, pt
		}
	}
	if strings.ContainsAny(s, " /?#@") {
		return "", ""
	}
	return strings.Trim(s, "[]"), ""
}

var secretTags = []string{"token", "tokens", "secret", "secrets", "key", "keys", "password", "credential", "credentials", "creds", "default-login", "api-key", "apikey"}

var secretMetaKey = regexp.MustCompile(`(?i)pass|secret|token|key|auth|cred|cookie|session`)

// secretive reports whether a result's extracted values may be secrets:
// a template that looks for tokens, keys or default credentials.
func secretive(r *result) bool {
	for _, t := range r.Info.Tags {
		for tag := range strings.SplitSeq(t, ",") {
			if slices.Contains(secretTags, strings.ToLower(strings.TrimSpace(tag))) {
				return true
			}
		}
	}
	id := strings.ToLower(r.TemplateID)
	return strings.Contains(id, "token") || strings.Contains(id, "secret") || strings.Contains(id, "api-key") || strings.Contains(id, "default-login")
}

func (p *parser) finding(r *result, ptr string) (*model.Finding, error) {
	asset, hostKey := p.assetOf(r)
	if err := p.emitAsset(asset, hostKey); err != nil {
		return nil, err
	}
	kind := model.FindingNetwork
	if isDAST(r.Type) {
		kind = model.FindingDAST
	}
	f := &model.Finding{
		Tool:         Tool,
		Kind:         kind,
		RuleID:       r.TemplateID,
		VulnIDs:      r.Info.Classification.CVEID,
		Severity:     model.ParseSeverity(r.Info.Severity),
		ToolSeverity: r.Info.Severity,
		Title:        strings.TrimSpace(r.Info.Name),
		Asset:        asset,
		Location:     model.Location{URL: r.MatchedAt},
		Pointer:      ptr,
	}
	if f.Title == "" {
		f.Title = r.TemplateID
	}
	if f.RuleID == "" {
		f.RuleID = "nuclei"
	}
	if f.Location.URL == "" {
		f.Location.URL = hostOf(r)
	}
	if r.MatcherName != "" {
		f.Location.Component = r.TemplateID + ":" + r.MatcherName
	}
	for _, c := range r.Info.Classification.CWEID {
		if cwe := model.NormalizeCWE(c); cwe != "" {
			f.CWEs = append(f.CWEs, cwe)
		}
	}
	if v := strings.TrimSpace(r.Info.Classification.CVSSMetrics); v != "" {
		f.CVSS = []model.CVSS{{Source: Tool, Vector: v, Score: r.Info.Classification.CVSSScore.Float()}}
	}

	var d strings.Builder
	d.WriteString(strings.TrimSpace(r.Info.Description))
	para := func(label, text string) {
		if text = strings.TrimSpace(text); text != "" {
			if d.Len() > 0 {
				d.WriteString("\n\n")
			}
			d.WriteString(label + text)
		}
	}
	para("Impact: ", r.Info.Impact)
	para("Remediation: ", r.Info.Remediation)
	para("Matcher: ", r.MatcherName)
	if len(r.ExtractedResults) > 0 {
		if secretive(r) {
			f.SecretHash, f.SecretHint = ingest.RedactSecret(p.in.SecretKey, r.ExtractedResults[0])
			para("Extracted: ", fmt.Sprintf("%d value(s), withheld as they may be secrets", len(r.ExtractedResults)))
		} else {
			vals := r.ExtractedResults
			if len(vals) > 20 {
				vals = vals[:20]
			}
			clipped := make([]string, len(vals))
			for i, v := range vals {
				clipped[i] = clip(v)
			}
			para("Extracted: ", strings.Join(clipped, ", "))
		}
	}
	// Credentials a template found (default logins) are hashed, never kept.
	var metaKeys []string
	for k := range r.Meta {
		metaKeys = append(metaKeys, k)
	}
	slices.Sort(metaKeys)
	for _, k := range metaKeys {
		v := fmt.Sprint(r.Meta[k])
		if secretMetaKey.MatchString(k) {
			if f.SecretHash == "" {
				f.SecretHash, f.SecretHint = ingest.RedactSecret(p.in.SecretKey, v)
			}
			para(k+": ", "(redacted)")
			continue
		}
		para(k+": ", clip(v))
	}
	para("References: ", strings.Join(r.Info.Reference, "\n"))
	f.Description = d.String()
	return f, nil
}

// emitAsset records an asset the first time a result names it, and the
// host that exposes a host:port.
func (p *parser) emitAsset(key, hostKey string) error {
	if p.assets[key] {
		return nil
	}
	p.assets[key] = true
	kind := model.KindOfKey(key)
	if err := p.sink.Asset(model.Asset{Key: key, Kind: kind, Name: strings.TrimPrefix(key, strings.SplitN(key, ":", 2)[0]+":"), Source: Tool}); err != nil {
		return err
	}
	if hostKey == "" || hostKey == key {
		return nil
	}
	if !p.assets[hostKey] {
		p.assets[hostKey] = true
		if err := p.sink.Asset(model.Asset{Key: hostKey, Kind: model.KindHost, Name: strings.TrimPrefix(hostKey, "host:"), Source: Tool}); err != nil {
			return err
		}
	}
	return p.sink.Relation(model.Relation{From: hostKey, To: key, Type: model.RelExposes, Source: Tool})
}

// evidence records that Nuclei confirmed a known vulnerability on a live
// target: a template that names a CVE matched there.
func (p *parser) evidence(r *result, f *model.Finding) error {
	kind := model.EvidenceProbeConfirmed
	if f.Kind == model.FindingDAST {
		kind = model.EvidenceDASTConfirmed
	}
	var at time.Time
	if t, err := time.Parse(time.RFC3339Nano, r.Timestamp); err == nil {
		at = t.UTC()
	}
	for _, id := range f.VulnIDs {
		if id = model.NormalizeVulnID(id); !strings.HasPrefix(id, "CVE-") {
			continue
		}
		err := p.sink.Evidence(model.Evidence{
			Kind: kind, Asset: f.Asset, VulnID: id, Source: Tool, At: at,
			Detail: "template " + r.TemplateID + " matched at " + f.Location.URL,
		})
		if err != nil {
			return err
		}
	}
	return nil
}

// clip keeps a value to a readable length.
func clip(s string) string {
	s = strings.TrimSpace(s)
	if r := []rune(s); len(r) > 200 {
		return string(r[:200]) + "…"
	}
	return s
}

// stripUserinfo removes user:password@ from a URL.
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
