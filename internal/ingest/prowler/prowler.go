// Package prowler parses the JSON reports of Prowler, the cloud security
// posture scanner for AWS, Azure, GCP and Kubernetes: the OCSF Detection
// Finding array of Prowler 4 and later, and the older JSON of Prowler 2
// (JSON lines) and 3 (an array). Only failed checks are findings; muted
// (suppressed) failures are accepted findings; passed, manual and
// informational checks are dropped.
//
// Each cloud account is a scan target, "provider:account" (aws:123456789012,
// azure:<subscription>, gcp:<project>, kubernetes:<cluster>). A finding's
// asset is its resource:
//
//	arn:...                                   an AWS ARN is its own key
//	azure:/subscriptions/…                    an Azure resource id, lower-cased
//	k8s:<cluster>/<namespace>/<type>/<name>   a Kubernetes resource
//	<provider>:<account>/<region>/<resource>  anything else
//
// Resources become assets of kind resource, member-of their account.
package prowler

import (
	"context"
	"errors"
	"fmt"
	"io"
	"regexp"
	"strings"

	"github.com/go-json-experiment/json/jsontext"

	"github.com/ctem-dev/ctem/internal/ingest"
	"github.com/ctem-dev/ctem/internal/model"
)

// Tool is the tool name findings carry.
const Tool = "prowler"

// FormatOCSF is Prowler's OCSF JSON (prowler -M json-ocsf), Prowler 4 and
// later.
var FormatOCSF = ingest.Format{
	Version: ParserVersion,
	Name:    "prowler-ocsf",
	Title:   "Prowler OCSF JSON (Prowler 4 and later)",
	Detect:  DetectOCSF,
	Parse:   ParseOCSF,
}

// FormatJSON is the JSON of Prowler 2 (one object per line) and Prowler 3
// (an array).
var FormatJSON = ingest.Format{
	Version: ParserVersion,
	Name:    "prowler-json",
	Title:   "Prowler 2 and 3 JSON",
	Detect:  DetectJSON,
	Parse:   ParseJSON,
}

// DetectOCSF accepts an array of OCSF findings that Prowler produced.
func DetectOCSF(s *ingest.Sniff) bool {
	if s.Kind != ingest.SniffJSONArray || !s.HasAll("[].finding_info", "[].status_code", "[].metadata.event_code") {
		return false
	}
	return strings.EqualFold(s.Get("[].metadata.product.name"), "prowler") ||
		strings.HasPrefix(s.Get("[].finding_info.uid"), "prowler-")
}

// DetectJSON accepts Prowler 2 objects (Control, Control ID, Account
// Number) and Prowler 3 arrays (Provider, CheckID, CheckTitle).
func DetectJSON(s *ingest.Sniff) bool {
	switch s.Kind {
	case ingest.SniffJSONObject:
		return s.HasAll("Control", "Control ID", "Account Number", "Status")
	case ingest.SniffJSONArray:
		return s.HasAll("[].Provider", "[].CheckID", "[].CheckTitle", "[].Status")
	}
	return false
}

// item is what both syntaxes say of one check on one resource.
type item struct {
	provider, account, region   string
	resourceUID, resourceName   string
	resourceType, namespace     string
	checkID, title, status      string
	muted                       bool
	severity, detail, desc      string
	risk, remediation, url, uid string
}

type ocsfFinding struct {
	Message  string `json:"message"`
	Metadata struct {
		EventCode string `json:"event_code"`
		Product   struct {
			Version string `json:"version"`
		} `json:"product"`
	} `json:"metadata"`
	Severity     string `json:"severity"`
	Status       string `json:"status"`
	StatusCode   string `json:"status_code"`
	StatusDetail string `json:"status_detail"`
	FindingInfo  struct {
		UID   string `json:"uid"`
		Title string `json:"title"`
		Desc  string `json:"desc"`
	} `json:"finding_info"`
	Resources []struct {
		UID       string `json:"uid"`
		Name      string `json:"name"`
		Region    string `json:"region"`
		Type      string `json:"type"`
		Namespace string `json:"namespace"`
	} `json:"resources"`
	Cloud struct {
		Account struct {
			UID string `json:"uid"`
		} `json:"account"`
		Provider string `json:"provider"`
		Region   string `json:"region"`
	} `json:"cloud"`
	Remediation struct {
		Desc       string   `json:"desc"`
		References []string `json:"references"`
	} `json:"remediation"`
	RiskDetails string `json:"risk_details"`
	Unmapped    struct {
		RelatedURL string `json:"related_url"`
	} `json:"unmapped"`
}

func (o *ocsfFinding) item() item {
	it := item{
		provider: strings.ToLower(o.Cloud.Provider),
		account:  o.Cloud.Account.UID,
		region:   o.Cloud.Region,
		checkID:  o.Metadata.EventCode,
		title:    o.FindingInfo.Title,
		status:   o.StatusCode,
		severity: o.Severity,
		detail:   o.StatusDetail,
		desc:     o.FindingInfo.Desc,
		risk:     o.RiskDetails,
		url:      o.Unmapped.RelatedURL,
		uid:      o.FindingInfo.UID,
	}
	if it.detail == "" {
		it.detail = o.Message
	}
	// Prowler 4 marks a muted failure with status "Suppressed"; later
	// versions with status_code MUTED.
	if strings.EqualFold(o.Status, "suppressed") || strings.EqualFold(o.StatusCode, "muted") {
		it.muted = true
	}
	if len(o.Resources) > 0 {
		r := o.Resources[0]
		it.resourceUID, it.resourceName, it.resourceType, it.namespace = r.UID, r.Name, r.Type, r.Namespace
		if r.Region != "" {
			it.region = r.Region
		}
	}
	if it.provider == "" && (it.namespace != "" || strings.HasPrefix(it.uid, "prowler-kubernetes-")) {
		it.provider = "kubernetes"
	}
	rem := []string{o.Remediation.Desc}
	rem = append(rem, o.Remediation.References...)
	it.remediation = joinNonEmpty(rem, "\n")
	return it
}

// legacyFinding is an element of Prowler 2 or 3 JSON.
type legacyFinding struct {
	// Prowler 3.
	Provider        string `json:"Provider"`
	CheckID         string `json:"CheckID"`
	CheckTitle      string `json:"CheckTitle"`
	Status          string `json:"Status"`
	StatusExtended  string `json:"StatusExtended"`
	Muted           bool   `json:"Muted"`
	Severity        string `json:"Severity"`
	ResourceType    string `json:"ResourceType"`
	ResourceID      string `json:"ResourceId"`
	ResourceArn     string `json:"ResourceArn"`
	AccountID       string `json:"AccountId"`
	Subscription    string `json:"Subscription"`
	ProjectID       string `json:"ProjectId"`
	Region          string `json:"Region"`
	Description     string `json:"Description"`
	Risk            string `json:"Risk"`
	RelatedURL      string `json:"RelatedUrl"`
	FindingUniqueID string `json:"FindingUniqueId"`
	Remediation     *struct {
		Recommendation struct {
			Text string `json:"Text"`
			URL  string `json:"Url"`
		} `json:"Recommendation"`
	} `json:"Remediation"`
	// Prowler 2.
	Control       string `json:"Control"`
	ControlID     string `json:"Control ID"`
	AccountNumber string `json:"Account Number"`
	Message       string `json:"Message"`
	ResourceID2   string `json:"Resource ID"`
	DocLink       string `json:"Doc link"`
}

// controlRE splits a Prowler 2 control: "[check11] Avoid the use of ...".
var controlRE = regexp.MustCompile(`^\[([^\]]+)\]\s*(.*)$`)

func (l *legacyFinding) item(remediation2 string) item {
	it := item{
		provider:     strings.ToLower(l.Provider),
		account:      l.AccountID,
		region:       l.Region,
		resourceUID:  l.ResourceArn,
		resourceName: l.ResourceID,
		resourceType: l.ResourceType,
		checkID:      l.CheckID,
		title:        l.CheckTitle,
		status:       l.Status,
		muted:        l.Muted,
		severity:     l.Severity,
		detail:       l.StatusExtended,
		desc:         l.Description,
		risk:         l.Risk,
		url:          l.RelatedURL,
		uid:          l.FindingUniqueID,
	}
	if l.Remediation != nil {
		it.remediation = joinNonEmpty([]string{l.Remediation.Recommendation.Text, l.Remediation.Recommendation.URL}, "\n")
	}
	if it.account == "" {
		it.account = l.Subscription
	}
	if it.account == "" {
		it.account = l.ProjectID
	}
	if l.Control != "" || l.AccountNumber != "" {
		// Prowler 2: AWS only.
		it.provider = "aws"
		it.account = l.AccountNumber
		it.resourceName = l.ResourceID2
		it.detail = l.Message
		it.remediation = remediation2
		it.url = l.DocLink
		it.title = l.Control
		it.checkID = l.ControlID
		if m := controlRE.FindStringSubmatch(l.Control); m != nil {
			it.checkID, it.title = m[1], m[2]
		}
	}
	if strings.HasPrefix(it.resourceName, "arn:") && it.resourceUID == "" {
		it.resourceUID = it.resourceName
	}
	return it
}

func joinNonEmpty(parts []string, sep string) string {
	var out []string
	for _, p := range parts {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return strings.Join(out, sep)
}

// parser holds the scans of one input: one per account, in the order
// accounts first appear.
type parser struct {
	in      *ingest.Input
	sink    ingest.Sink
	dec     *jsontext.Decoder
	format  string
	version string

	cur    string          // target of the current scan
	began  map[string]bool // targets begun
	warned bool
	seen   map[string]bool // assets emitted
}

func newParser(in *ingest.Input, sink ingest.Sink, format string) *parser {
	return &parser{in: in, sink: sink, dec: in.JSONDecoder(), format: format, began: map[string]bool{}, seen: map[string]bool{}}
}

// ParseOCSF reads a Prowler OCSF array from in and emits its findings.
func ParseOCSF(ctx context.Context, in *ingest.Input, sink ingest.Sink) error {
	p := newParser(in, sink, "prowler-ocsf")
	err := ingest.WalkItems(ctx, p.dec, func(i int) error {
		var o ocsfFinding
		if err := ingest.DecodeJSON(p.dec, &o); err != nil {
			return err
		}
		if p.version == "" {
			p.version = o.Metadata.Product.Version
		}
		return p.item(o.item(), fmt.Sprintf("/%d", i))
	})
	if err == nil {
		err = p.finish()
	}
	if err == nil {
		err = ingest.ExpectEOF(in, p.dec)
	}
	return ingest.AsInputError(in, p.dec.InputOffset(), err)
}

// ParseJSON reads Prowler 2 JSON lines or a Prowler 3 array from in and
// emits its findings. An empty input (Prowler 2 writes nothing when it
// has nothing to say) is a scan without findings.
func ParseJSON(ctx context.Context, in *ingest.Input, sink ingest.Sink) error {
	p := newParser(in, sink, "prowler-json")
	err := p.parseJSON(ctx)
	if err == nil {
		err = p.finish()
	}
	return ingest.AsInputError(in, p.dec.InputOffset(), err)
}

func (p *parser) parseJSON(ctx context.Context) error {
	decodeOne := func(ptr string) error {
		// Prowler 2 names its remediation "Remediation" as text, Prowler
		// 3 as an object: decode the member by kind.
		var raw jsontext.Value
		if err := ingest.DecodeJSON(p.dec, &raw); err != nil {
			return err
		}
		var l legacyFinding
		var rem2 string
		var probe struct {
			Remediation jsontext.Value `json:"Remediation"`
		}
		if err := ingest.UnmarshalJSON(raw, &probe); err != nil {
			return err
		}
		if len(probe.Remediation) > 0 && probe.Remediation.Kind() == '"' {
			if err := ingest.UnmarshalJSON(probe.Remediation, &rem2); err != nil {
				return err
			}
			var v2 struct {
				legacyFinding
				Remediation jsontext.Value `json:"Remediation"`
			}
			if err := ingest.UnmarshalJSON(raw, &v2); err != nil {
				return err
			}
			l = v2.legacyFinding
		} else if err := ingest.UnmarshalJSON(raw, &l); err != nil {
			return err
		}
		return p.item(l.item(rem2), ptr)
	}
	switch p.dec.PeekKind() {
	case 0:
		// Empty input, or a syntax error ReadToken will name.
		if _, err := p.dec.ReadToken(); err != nil && !errors.Is(err, io.EOF) {
			return err
		}
		return nil
	case '[':
		err := ingest.WalkItems(ctx, p.dec, func(i int) error {
			return decodeOne(fmt.Sprintf("/%d", i))
		})
		if err != nil {
			return err
		}
		return ingest.ExpectEOF(p.in, p.dec)
	case '{':
		for line := 1; p.dec.PeekKind() == '{'; line++ {
			if err := ctx.Err(); err != nil {
				return err
			}
			if err := decodeOne(fmt.Sprintf("record %d", line)); err != nil {
				return err
			}
		}
		return ingest.ExpectEOF(p.in, p.dec)
	}
	if _, err := p.dec.ReadToken(); err != nil {
		return err
	}
	return p.in.Errorf(0, "not a Prowler report: expected JSON objects or an array")
}

// target is the scan target and the asset key of an item's account.
func target(it *item) string {
	if it.account == "" {
		return ""
	}
	prov := it.provider
	if prov == "" {
		prov = "aws"
	}
	return prov + ":" + it.account
}

// unknownAccount is the target of a report that names no account.
const unknownAccount = "account:unknown"

// begin starts the scan of an account, once. Prowler writes one account
// per run, so accounts come in runs; should one come back after another,
// its items stay in the current scan, since a second scan of the same
// target in one input would close the first one's findings.
func (p *parser) begin(t string) error {
	if p.in.Target != "" {
		t = p.in.Target
	}
	if t == "" {
		if p.cur != "" {
			return nil
		}
		p.in.Warn("%s: the Prowler report names no account; pass --target to name it", p.in.Name)
		t = unknownAccount
	}
	if t == p.cur {
		return nil
	}
	if p.began[t] {
		if !p.warned {
			p.warned = true
			p.in.Warn("%s: findings of account %s are not contiguous; later ones are kept in the scan of %s", p.in.Name, t, p.cur)
		}
		return nil
	}
	p.began[t] = true
	p.cur = t
	if err := p.sink.Asset(model.Asset{Key: t, Kind: model.KindAccount, Name: t, Source: Tool}); err != nil {
		return err
	}
	return p.sink.BeginScan(model.Scan{ParserVersion: ParserVersion, Tool: Tool, ToolVersion: p.version, Format: p.format, Target: t, Asset: t})
}

// finish makes sure an input without items still records a scan.
func (p *parser) finish() error {
	if p.cur != "" {
		return nil
	}
	return p.begin("")
}

func placeholder(s string) bool {
	return s == "" || (strings.HasPrefix(s, "<") && strings.HasSuffix(s, ">"))
}

// assetKey picks the key of an item's resource; see the package comment.
func assetKey(it *item, account string) string {
	uid := it.resourceUID
	if strings.HasPrefix(uid, "arn:") {
		return uid
	}
	if it.provider == "azure" && strings.HasPrefix(uid, "/subscriptions/") {
		return "azure:" + strings.ToLower(uid)
	}
	name := uid
	if placeholder(name) {
		name = it.resourceName
	}
	if it.provider == "kubernetes" {
		n := it.resourceName
		if n == "" {
			n = uid
		}
		return model.K8sKey(it.account, it.namespace, it.resourceType, n)
	}
	if name == "" {
		return account
	}
	prov := it.provider
	if prov == "" {
		prov = "aws"
	}
	return prov + ":" + it.account + "/" + it.region + "/" + name
}

func (p *parser) item(it item, ptr string) error {
	acct := target(&it)
	if err := p.begin(acct); err != nil {
		return err
	}
	switch strings.ToUpper(it.status) {
	case "FAIL", "MUTED":
	default:
		return nil // PASS, MANUAL, INFO, WARNING: not findings
	}
	if acct == "" {
		acct = p.cur
	}
	asset := assetKey(&it, acct)
	if asset != acct && !p.seen[asset] {
		p.seen[asset] = true
		a := model.Asset{Key: asset, Kind: model.KindResource, Name: it.resourceName, Source: Tool, Labels: map[string]string{}}
		if a.Name == "" {
			a.Name = asset
		}
		for k, v := range map[string]string{"cloud.provider": it.provider, "cloud.account": it.account, "cloud.region": it.region, "resource.type": it.resourceType} {
			if v != "" {
				a.Labels[k] = v
			}
		}
		if err := p.sink.Asset(a); err != nil {
			return err
		}
		if acct != unknownAccount && it.account != "" {
			if err := p.sink.Relation(model.Relation{From: asset, To: acct, Type: model.RelMemberOf, Source: Tool}); err != nil {
				return err
			}
		}
	}
	f := &model.Finding{
		Tool:            Tool,
		Kind:            model.FindingMisconfig,
		RuleID:          it.checkID,
		Severity:        model.ParseSeverity(it.severity),
		ToolSeverity:    it.severity,
		Title:           it.title,
		Asset:           asset,
		ToolFingerprint: it.uid,
		Pointer:         ptr,
		Location: model.Location{
			Component: it.resourceName,
		},
	}
	if placeholder(f.Location.Component) {
		f.Location.Component = it.resourceUID
	}
	if f.Title == "" {
		f.Title = f.RuleID
	}
	var desc []string
	for _, d := range []struct{ label, s string }{
		{"", it.detail}, {"", it.desc}, {"Risk: ", it.risk}, {"Remediation: ", it.remediation}, {"", it.url},
	} {
		if s := strings.TrimSpace(d.s); s != "" {
			desc = append(desc, d.label+s)
		}
	}
	f.Description = strings.Join(desc, "\n\n")
	if it.muted {
		f.Status = model.StatusAccepted
		f.ToolStatus = "muted"
	}
	return p.sink.Finding(f)
}
