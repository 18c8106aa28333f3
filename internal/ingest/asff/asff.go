// Package asff parses the AWS Security Finding Format: exports of AWS
// Security Hub ({"Findings": [...]}) and the ASFF output of tools that
// write it (Inspector, GuardDuty, Config, Prowler, Trivy), as an object or
// a bare array.
//
// The tool of each finding is its product: the last segment of the
// ProductArn ("inspector", "guardduty", "securityhub", "prowler"), and
// each (tool, AWS account) is a scan whose target is "aws:<account>", so
// that Prowler's ASFF and its own JSON name the same target. A finding
// with vulnerabilities is one vulnerability finding per vulnerability and
// package; any other is a misconfiguration. Archived findings, findings
// whose compliance check passed (or could not be evaluated) and findings
// whose workflow is RESOLVED are not findings; SUPPRESSED ones are
// accepted.
//
// A finding that lists several resources (a Config rule failing on two
// buckets, an Inspector finding on several instances) is one finding per
// resource, and with vulnerabilities one per resource, vulnerability and
// package: one finding per reported item. A resource's asset key is its
// ARN when it has one; the account resource ("AWS::::Account:<id>", or a
// bare account id) is the account "aws:<id>"; anything else
// "aws:<account>/<region>/<id>"; a finding with no resource is on its
// account. An ECR image resource gets its digest and reference as labels
// and a contains relation to the image's canonical key, where image
// scanners' findings meet.
package asff

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

// Format is the AWS Security Finding Format.
var Format = ingest.Format{
	Version: ParserVersion,
	Name:    "asff",
	Title:   "AWS Security Finding Format (Security Hub, Inspector, GuardDuty, Prowler ASFF)",
	Detect:  Detect,
	Parse:   Parse,
}

// Detect accepts an object with a Findings list, or an array, whose first
// element has the required ASFF members SchemaVersion and ProductArn.
func Detect(s *ingest.Sniff) bool {
	switch s.Kind {
	case ingest.SniffJSONObject:
		return s.HasAll("Findings[].SchemaVersion", "Findings[].ProductArn") ||
			s.HasAll("findings[].SchemaVersion", "findings[].ProductArn")
	case ingest.SniffJSONArray:
		return s.HasAll("[].SchemaVersion", "[].ProductArn", "[].GeneratorId")
	}
	return false
}

type resource struct {
	Type    string `json:"Type"`
	ID      string `json:"Id"`
	Region  string `json:"Region"`
	Details struct {
		ECR *struct {
			RegistryID     string   `json:"RegistryId"`
			RepositoryName string   `json:"RepositoryName"`
			ImageDigest    string   `json:"ImageDigest"`
			ImageTags      []string `json:"ImageTags"`
		} `json:"AwsEcrContainerImage"`
	} `json:"Details"`
}

type vulnerability struct {
	ID                     string   `json:"Id"`
	RelatedVulnerabilities []string `json:"RelatedVulnerabilities"`
	VulnerablePackages     []struct {
		Name           string `json:"Name"`
		Version        string `json:"Version"`
		Epoch          string `json:"Epoch"`
		Release        string `json:"Release"`
		PackageManager string `json:"PackageManager"`
		FixedInVersion string `json:"FixedInVersion"`
		FilePath       string `json:"FilePath"`
	} `json:"VulnerablePackages"`
	Cvss []struct {
		Version    string      `json:"Version"`
		BaseScore  ingest.Text `json:"BaseScore"`
		BaseVector string      `json:"BaseVector"`
		Source     string      `json:"Source"`
	} `json:"Cvss"`
	Vendor struct {
		Name           string `json:"Name"`
		URL            string `json:"Url"`
		VendorSeverity string `json:"VendorSeverity"`
	} `json:"Vendor"`
	FixAvailable string `json:"FixAvailable"`
}

type finding struct {
	ID           string   `json:"Id"`
	ProductArn   string   `json:"ProductArn"`
	ProductName  string   `json:"ProductName"`
	GeneratorID  string   `json:"GeneratorId"`
	AwsAccountID string   `json:"AwsAccountId"`
	Region       string   `json:"Region"`
	Types        []string `json:"Types"`
	Severity     struct {
		Label      string      `json:"Label"`
		Normalized ingest.Text `json:"Normalized"`
		Original   ingest.Text `json:"Original"`
	} `json:"Severity"`
	Title       string `json:"Title"`
	Description string `json:"Description"`
	Remediation struct {
		Recommendation struct {
			Text string `json:"Text"`
			URL  string `json:"Url"`
		} `json:"Recommendation"`
	} `json:"Remediation"`
	ProductFields map[string]any `json:"ProductFields"`
	Resources     []resource     `json:"Resources"`
	Compliance    struct {
		Status string `json:"Status"`
	} `json:"Compliance"`
	Workflow struct {
		Status string `json:"Status"`
	} `json:"Workflow"`
	WorkflowState   string          `json:"WorkflowState"`
	RecordState     string          `json:"RecordState"`
	Vulnerabilities []vulnerability `json:"Vulnerabilities"`
}

func (f *finding) field(name string) string {
	s, _ := f.ProductFields[name].(string)
	return s
}

// tool names a finding's product.
func (f *finding) tool() string {
	name := ""
	if i := strings.LastIndex(f.ProductArn, "/"); i >= 0 {
		name = f.ProductArn[i+1:]
	}
	if name == "" {
		name = f.ProductName
	}
	if name == "" {
		name = f.field("aws/securityhub/ProductName")
	}
	name = strings.ToLower(strings.Join(strings.Fields(name), ""))
	switch name {
	case "":
		return "securityhub"
	case "aquasecurity":
		return "trivy" // Trivy's ASFF template names Aqua's product
	}
	return name
}

type parser struct {
	in   *ingest.Input
	sink ingest.Sink
	dec  *jsontext.Decoder

	cur    [2]string // tool and target of the current scan
	began  map[[2]string]bool
	warned bool
	seen   map[string]bool
}

// Parse reads an ASFF document from in and emits its findings.
func Parse(ctx context.Context, in *ingest.Input, sink ingest.Sink) error {
	p := &parser{in: in, sink: sink, dec: in.JSONDecoder(), began: map[[2]string]bool{}, seen: map[string]bool{}}
	err := p.parse(ctx)
	if err == nil && len(p.began) == 0 {
		err = p.begin("securityhub", "")
	}
	if err == nil {
		err = ingest.ExpectEOF(in, p.dec)
	}
	return ingest.AsInputError(in, p.dec.InputOffset(), err)
}

func (p *parser) parse(ctx context.Context) error {
	list := func(prefix string) error {
		return ingest.WalkItems(ctx, p.dec, func(i int) error {
			var f finding
			if err := ingest.DecodeJSON(p.dec, &f); err != nil {
				return err
			}
			return p.finding(&f, fmt.Sprintf("%s/%d", prefix, i))
		})
	}
	switch p.dec.PeekKind() {
	case '[':
		return list("")
	case '{':
		return ingest.WalkObject(p.dec, func(name string) error {
			switch name {
			case "Findings", "findings":
				return list("/" + name)
			}
			return p.dec.SkipValue()
		})
	}
	if _, err := p.dec.ReadToken(); err != nil {
		return err
	}
	return p.in.Errorf(0, "not an ASFF document: expected an object or an array")
}

// unknownAccount is the target of findings that name no account.
const unknownAccount = "account:unknown"

// begin starts the scan of a (tool, account), once. Findings of one
// (tool, account) usually come together; should one come back after
// another, its findings stay in the current scan, since a second scan of
// the same target in one input would close the first one's findings.
func (p *parser) begin(tool, account string) error {
	target := p.in.Target
	if target == "" && account != "" {
		target = "aws:" + account
	}
	if target == "" {
		if p.cur[1] != "" {
			target = p.cur[1]
		} else {
			p.in.Warn("%s: an ASFF finding names no AWS account; pass --target to name it", p.in.Name)
			target = unknownAccount
		}
	}
	key := [2]string{tool, target}
	if key == p.cur {
		return nil
	}
	if p.began[key] {
		if !p.warned {
			p.warned = true
			p.in.Warn("%s: findings of %s in %s are not contiguous; later ones are kept in the scan of %s in %s", p.in.Name, tool, target, p.cur[0], p.cur[1])
		}
		return nil
	}
	p.began[key] = true
	p.cur = key
	if !p.seen[target] {
		p.seen[target] = true
		if err := p.sink.Asset(model.Asset{Key: target, Kind: model.KindAccount, Name: target, Source: "asff"}); err != nil {
			return err
		}
	}
	return p.sink.BeginScan(model.Scan{ParserVersion: ParserVersion, Tool: tool, Format: "asff", Target: target, Asset: target})
}

var accountResourceRE = regexp.MustCompile(`^(?:AWS::::Account:)?(\d{12})$`)

// assetKey returns the key of a finding's resource i, or of its account
// when it lists no resource.
func (f *finding) assetKey(i int) string {
	if len(f.Resources) == 0 {
		if f.AwsAccountID != "" {
			return "aws:" + f.AwsAccountID
		}
		return unknownAccount
	}
	r := f.Resources[i]
	switch {
	case strings.HasPrefix(r.ID, "arn:"):
		return r.ID
	case accountResourceRE.MatchString(r.ID):
		return "aws:" + accountResourceRE.FindStringSubmatch(r.ID)[1]
	}
	region := r.Region
	if region == "" {
		region = f.Region
	}
	return "aws:" + f.AwsAccountID + "/" + region + "/" + r.ID
}

// emitResource records the asset of a finding's resource i, once.
func (p *parser) emitResource(f *finding, i int, key, tool string) error {
	if p.seen[key] || len(f.Resources) == 0 || strings.HasPrefix(key, "account:") {
		return nil
	}
	p.seen[key] = true
	r := f.Resources[i]
	a := model.Asset{Key: key, Kind: model.KindResource, Name: r.ID, Source: tool, Labels: map[string]string{}}
	if r.Type == "AwsAccount" || key == "aws:"+f.AwsAccountID {
		a.Kind = model.KindAccount
	}
	for k, v := range map[string]string{"cloud.provider": "aws", "cloud.account": f.AwsAccountID, "cloud.region": r.Region, "resource.type": r.Type} {
		if v != "" {
			a.Labels[k] = v
		}
	}
	var image string
	if e := r.Details.ECR; e != nil && e.ImageDigest != "" {
		a.Kind = model.KindImage
		a.Labels["image.digest"] = e.ImageDigest
		if e.RegistryID != "" && e.RepositoryName != "" && r.Region != "" {
			ref := e.RegistryID + ".dkr.ecr." + r.Region + ".amazonaws.com/" + e.RepositoryName
			image = model.ImageKey(ref + "@" + e.ImageDigest)
			if len(e.ImageTags) > 0 {
				a.Labels["image.ref"] = ref + ":" + e.ImageTags[0]
			}
		}
	}
	if err := p.sink.Asset(a); err != nil {
		return err
	}
	if image != "" {
		if err := p.sink.Asset(model.Asset{Key: image, Kind: model.KindImage, Name: strings.TrimPrefix(image, "image:"), Source: tool}); err != nil {
			return err
		}
		if err := p.sink.Relation(model.Relation{From: key, To: image, Type: model.RelContains, Source: tool}); err != nil {
			return err
		}
	}
	if acct := "aws:" + f.AwsAccountID; f.AwsAccountID != "" && key != acct {
		return p.sink.Relation(model.Relation{From: key, To: acct, Type: model.RelMemberOf, Source: tool})
	}
	return nil
}

func (p *parser) finding(f *finding, ptr string) error {
	tool := f.tool()
	if err := p.begin(tool, f.AwsAccountID); err != nil {
		return err
	}
	if strings.EqualFold(f.RecordState, "ARCHIVED") {
		return nil
	}
	switch strings.ToUpper(f.Compliance.Status) {
	case "PASSED", "NOT_AVAILABLE", "INFOED":
		return nil
	}
	workflow := f.Workflow.Status
	if workflow == "" {
		workflow = f.WorkflowState
	}
	if strings.EqualFold(workflow, "RESOLVED") {
		return nil
	}
	n := max(1, len(f.Resources))
	for i := range n {
		at := ptr
		if n > 1 {
			at = fmt.Sprintf("%s/Resources/%d", ptr, i)
		}
		if err := p.resourceFindings(f, tool, workflow, i, at); err != nil {
			return err
		}
	}
	return nil
}

// resourceFindings emits the findings of f on its resource i: one, or
// one per vulnerability and package.
func (p *parser) resourceFindings(f *finding, tool, workflow string, res int, ptr string) error {
	asset := f.assetKey(res)
	if err := p.emitResource(f, res, asset, tool); err != nil {
		return err
	}
	label := f.Severity.Label
	if label == "" {
		label = f.field("aws/securityhub/SeverityLabel")
	}
	base := model.Finding{
		Tool:            tool,
		Kind:            model.FindingMisconfig,
		Severity:        model.ParseSeverity(label),
		ToolSeverity:    label,
		Title:           f.Title,
		Asset:           asset,
		ToolFingerprint: f.ID,
		Pointer:         ptr,
	}
	if base.Severity == model.SeverityUnknown && label == "" && f.Severity.Normalized != "" {
		base.Severity = normalizedSeverity(f.Severity.Normalized.Int())
	}
	if len(f.Resources) > 0 {
		base.Location.Component = f.Resources[res].ID
	}
	desc := []string{strings.TrimSpace(f.Description)}
	if rec := f.Remediation.Recommendation; rec.Text != "" || rec.URL != "" {
		desc = append(desc, strings.TrimSpace("Remediation: "+rec.Text+" "+rec.URL))
	}
	base.Description = strings.TrimSpace(strings.Join(desc, "\n\n"))
	if strings.EqualFold(workflow, "SUPPRESSED") {
		base.Status = model.StatusAccepted
		base.ToolStatus = "suppressed"
	}
	if len(f.Vulnerabilities) == 0 {
		fd := base
		fd.RuleID = f.ruleID(tool)
		fd.CWEs = model.ExtractCWEs(fd.Title + " " + fd.Description)
		return p.sink.Finding(&fd)
	}
	for i, v := range f.Vulnerabilities {
		ids := append([]string{v.ID}, v.RelatedVulnerabilities...)
		var cvss []model.CVSS
		for _, c := range v.Cvss {
			if c.BaseVector == "" {
				continue
			}
			cv := model.CVSS{Source: strings.ToLower(c.Source), Vector: c.BaseVector, Score: c.BaseScore.Float()}
			if !slices.Contains(cvss, cv) {
				cvss = append(cvss, cv)
			}
		}
		emit := func(pkg model.Package, path, at string) error {
			fd := base
			fd.Kind = model.FindingVulnerability
			fd.RuleID = v.ID
			fd.VulnIDs = ids
			fd.CVSS = cvss
			fd.Package = pkg
			fd.Location.Path = path
			fd.Location.Component = ""
			fd.Pointer = at
			if v.Vendor.URL != "" {
				fd.Description = strings.TrimSpace(fd.Description + "\n\n" + v.Vendor.URL)
			}
			return p.sink.Finding(&fd)
		}
		at := fmt.Sprintf("%s/Vulnerabilities/%d", ptr, i)
		if len(v.VulnerablePackages) == 0 {
			if err := emit(model.Package{}, "", at); err != nil {
				return err
			}
			continue
		}
		for j, pk := range v.VulnerablePackages {
			version := pk.Version
			if pk.Release != "" {
				version += "-" + pk.Release
			}
			if pk.Epoch != "" && pk.Epoch != "0" {
				version = pk.Epoch + ":" + version
			}
			pkg := model.Package{Name: pk.Name, Version: version, FixedVersion: pk.FixedInVersion}
			if pkg.FixedVersion == "NotAvailable" {
				pkg.FixedVersion = ""
			}
			if err := emit(pkg, pk.FilePath, fmt.Sprintf("%s/VulnerablePackages/%d", at, j)); err != nil {
				return err
			}
		}
	}
	return nil
}

// ruleID picks a finding's rule: the Security Hub control id, else the
// generator (without Prowler's "prowler-" prefix, so that it matches
// Prowler's own check ids), else, for generators that are detector ARNs
// (GuardDuty), the finding type.
func (f *finding) ruleID(tool string) string {
	if id := f.field("ControlId"); id != "" {
		return id
	}
	gen := f.GeneratorID
	if tool == "prowler" {
		gen = strings.TrimPrefix(gen, "prowler-")
	}
	if (gen == "" || strings.HasPrefix(gen, "arn:")) && len(f.Types) > 0 {
		t := f.Types[0]
		if i := strings.LastIndex(t, "/"); i >= 0 {
			t = t[i+1:]
		}
		return t
	}
	if gen == "" {
		return f.Title
	}
	return gen
}

// normalizedSeverity maps ASFF's 0-100 normalized severity, for findings
// without a label, by the ranges the ASFF documentation gives.
func normalizedSeverity(n int) model.Severity {
	switch {
	case n >= 90:
		return model.SeverityCritical
	case n >= 70:
		return model.SeverityHigh
	case n >= 40:
		return model.SeverityMedium
	case n >= 1:
		return model.SeverityLow
	}
	return model.SeverityInfo
}
