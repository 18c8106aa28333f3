// Package gitleaks parses the JSON reports of Gitleaks (gitleaks detect
// --report-format json): a top-level array of leaks, in the field names of
// Gitleaks 8 (RuleID, Secret, Match, StartLine) or of Gitleaks 7 (rule,
// offender, line, lineNumber). Secret values never leave the parser: each
// is replaced by its keyed hash (see ingest.RedactSecret).
package gitleaks

import (
	"context"
	"fmt"
	"strings"

	"github.com/go-json-experiment/json/jsontext"

	"github.com/ctem-dev/ctem/internal/ingest"
	"github.com/ctem-dev/ctem/internal/model"
)

// Tool is the tool name findings carry.
const Tool = "gitleaks"

const formatName = "gitleaks"

// Format is Gitleaks' JSON report (versions 7 and 8).
var Format = ingest.Format{
	Version: ParserVersion,
	Name:    formatName,
	Title:   "Gitleaks JSON (v7 and v8)",
	Detect:  Detect,
	Parse:   Parse,
}

// Detect accepts a top-level array whose first leak has Gitleaks 8's
// RuleID with its Secret or Match, or Gitleaks 7's rule with its offender.
func Detect(s *ingest.Sniff) bool {
	if s.Kind != ingest.SniffJSONArray {
		return false
	}
	if s.Has("[].RuleID") && s.HasAny("[].Secret", "[].Match") && s.HasAny("[].StartLine", "[].File") {
		return true
	}
	return s.HasAll("[].rule", "[].offender") && s.HasAny("[].lineNumber", "[].commit", "[].file")
}

// tags is Gitleaks 8's list of tags or Gitleaks 7's comma-separated
// string.
type tags []string

// UnmarshalJSONFrom implements json.UnmarshalerFrom.
func (t *tags) UnmarshalJSONFrom(dec *jsontext.Decoder) error {
	*t = nil
	if dec.PeekKind() == '"' {
		tok, err := dec.ReadToken()
		if err != nil {
			return err
		}
		for part := range strings.SplitSeq(tok.String(), ",") {
			if part = strings.TrimSpace(part); part != "" {
				*t = append(*t, part)
			}
		}
		return nil
	}
	var list []string
	if err := ingest.DecodeJSON(dec, &list); err != nil {
		return err
	}
	*t = list
	return nil
}

// leak holds the fields of both versions. Line (v8.17+) and Match quote
// the secret's line; they are read only to be dropped.
type leak struct {
	// Gitleaks 8.
	RuleID      string      `json:"RuleID"`
	Description string      `json:"Description"`
	StartLine   ingest.Text `json:"StartLine"`
	EndLine     ingest.Text `json:"EndLine"`
	StartColumn ingest.Text `json:"StartColumn"`
	Secret      string      `json:"Secret"`
	Match       string      `json:"Match"`
	File        string      `json:"File"`
	Commit      string      `json:"Commit"`
	Entropy     ingest.Text `json:"Entropy"`
	Author      string      `json:"Author"`
	Date        string      `json:"Date"`
	Tags        tags        `json:"Tags"`
	Fingerprint string      `json:"Fingerprint"`
	Link        string      `json:"Link"`
	// Gitleaks 7.
	Rule       string      `json:"rule"`
	LineNumber ingest.Text `json:"lineNumber"`
	Offender   string      `json:"offender"`
	FileV7     string      `json:"file"`
	CommitV7   string      `json:"commit"`
	RepoURL    string      `json:"repoURL"`
	LeakURL    string      `json:"leakURL"`
	AuthorV7   string      `json:"author"`
	DateV7     string      `json:"date"`
	TagsV7     tags        `json:"tags"`
}

type parser struct {
	in    *ingest.Input
	sink  ingest.Sink
	dec   *jsontext.Decoder
	began bool
	asset string
}

// Parse reads a Gitleaks report from in and emits one scan with a finding
// per leak.
func Parse(ctx context.Context, in *ingest.Input, sink ingest.Sink) error {
	p := &parser{in: in, sink: sink, dec: in.JSONDecoder()}
	err := p.parse(ctx)
	return ingest.AsInputError(in, p.dec.InputOffset(), err)
}

func (p *parser) parse(ctx context.Context) error {
	if err := ingest.ExpectStart(p.in, p.dec, '[', "a Gitleaks report"); err != nil {
		return err
	}
	err := ingest.WalkItems(ctx, p.dec, func(i int) error {
		return p.leak(i)
	})
	if err != nil {
		return err
	}
	if err := p.begin(""); err != nil {
		return err
	}
	return ingest.ExpectEOF(p.in, p.dec)
}

// begin starts the scan at the first leak: the target is the user's
// --target, else the repository URL Gitleaks 7 gives.
func (p *parser) begin(repoURL string) error {
	if p.began {
		return nil
	}
	p.began = true
	target := p.in.TargetOr(repoURL)
	if target == "" {
		p.in.Warn("%s: a Gitleaks report names no repository; pass --target to name the repository it scanned", p.in.Name)
		target, p.asset = "unknown", model.FileKey("unknown")
	} else {
		p.asset = model.ProjectKey(target)
	}
	return p.sink.BeginScan(model.Scan{ParserVersion: ParserVersion, Tool: Tool, Format: formatName, Target: target, Asset: p.asset})
}

func first(s ...string) string {
	for _, v := range s {
		if v != "" {
			return v
		}
	}
	return ""
}

func (p *parser) leak(i int) error {
	var l leak
	if err := ingest.DecodeJSON(p.dec, &l); err != nil {
		return err
	}
	if err := p.begin(l.RepoURL); err != nil {
		return err
	}
	asset := p.asset
	if l.RepoURL != "" && p.in.Target == "" {
		asset = model.RepoKey(l.RepoURL)
	}
	secret := first(l.Secret, l.Offender, l.Match)
	hash, hint := ingest.RedactSecret(p.in.SecretKey, secret)
	commit := first(l.Commit, l.CommitV7)
	line := l.StartLine.Int()
	if line == 0 {
		line = l.LineNumber.Int()
	}
	f := &model.Finding{
		Tool:     Tool,
		Kind:     model.FindingSecret,
		RuleID:   first(l.RuleID, l.Rule),
		CWEs:     []string{"CWE-798"},
		Severity: model.SeverityHigh,
		Title:    first(l.Description, l.Rule, l.RuleID),
		Asset:    asset,
		Location: model.Location{
			Path:      first(l.File, l.FileV7),
			Line:      line,
			Column:    l.StartColumn.Int(),
			Component: commit,
			URL:       first(l.Link, l.LeakURL),
		},
		ToolFingerprint: l.Fingerprint,
		SecretHash:      hash,
		SecretHint:      hint,
		Pointer:         fmt.Sprintf("/%d", i),
	}
	if end := l.EndLine.Int(); end > line {
		f.Location.EndLine = end
	}
	var d []string
	if commit != "" {
		c := "Commit " + commit
		if a := first(l.Author, l.AuthorV7); a != "" {
			c += " by " + a
		}
		if dt := first(l.Date, l.DateV7); dt != "" && !strings.HasPrefix(dt, "0001-") {
			c += " on " + dt
		}
		d = append(d, c)
	}
	if t := append(l.Tags, l.TagsV7...); len(t) > 0 {
		d = append(d, "Tags: "+strings.Join(t, ", "))
	}
	if e := l.Entropy.Float(); e > 0 {
		d = append(d, fmt.Sprintf("Entropy: %.2f", e))
	}
	// Every text that leaves the parser is masked: a tool may quote the
	// secret anywhere.
	if fp := ingest.SSHFingerprint(secret); fp != "" {
		// The public key's fingerprint, not the key: it meets the
		// hosts that accept the key (model.LabelSSHKeys).
		d = append(d, model.SSHKeyLine+fp)
	}
	if h := ingest.DatabaseHost(secret); h != "" {
		// The database's host, not the password: it meets the
		// database reached there (model.LabelDBHosts).
		d = append(d, model.DBHostLine+h)
	}
	if sa := ingest.ServiceAccountOfToken(secret); sa != "" {
		// The account the token's claims name, not the token.
		d = append(d, model.SATokenLine+sa)
	}
	f.Description = mask(strings.Join(d, "\n"), secret, l.Match)
	f.Title = mask(f.Title, secret, l.Match)
	f.ToolFingerprint = mask(f.ToolFingerprint, secret, l.Match)
	f.Location.URL = mask(f.Location.URL, secret, l.Match)
	return p.sink.Finding(f)
}

// mask removes the secret and its matched text from s.
func mask(s string, values ...string) string {
	for _, v := range values {
		s = ingest.MaskSecret(s, v)
	}
	return s
}
