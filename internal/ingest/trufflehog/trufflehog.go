// Package trufflehog parses the JSON-lines output of TruffleHog (trufflehog
// --json): version 3, one object per detected secret with its source
// metadata, detector and verification result, and version 2, one object
// per commit diff with the strings that matched. Secret values never leave
// the parser: each is replaced by its keyed hash (see ingest.RedactSecret),
// and diffs and redacted previews are dropped.
package trufflehog

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/go-json-experiment/json/jsontext"

	"github.com/ctem-dev/ctem/internal/ingest"
	"github.com/ctem-dev/ctem/internal/model"
)

// Tool is the tool name findings carry.
const Tool = "trufflehog"

// FormatV3 is the JSON-lines output of TruffleHog 3.
var FormatV3 = ingest.Format{
	Version: ParserVersion,
	Name:    "trufflehog",
	Title:   "TruffleHog 3 JSON lines (trufflehog --json)",
	Detect:  DetectV3,
	Parse:   ParseV3,
}

// FormatV2 is the JSON-lines output of TruffleHog 2.
var FormatV2 = ingest.Format{
	Version: ParserVersion,
	Name:    "trufflehog-v2",
	Title:   "TruffleHog 2 JSON lines (trufflehog --json, before 3.0)",
	Detect:  DetectV2,
	Parse:   ParseV2,
}

// DetectV3 accepts an object with TruffleHog 3's source metadata and
// detector.
func DetectV3(s *ingest.Sniff) bool {
	return s.Kind == ingest.SniffJSONObject && s.Has("SourceMetadata") && s.HasAny("DetectorName", "DetectorType")
}

// DetectV2 accepts an object with TruffleHog 2's matched strings and
// reason.
func DetectV2(s *ingest.Sniff) bool {
	return s.Kind == ingest.SniffJSONObject && s.HasAll("stringsFound", "reason") && s.HasAny("commitHash", "branch", "path")
}

// sourceData holds the fields the sources of TruffleHog 3 share: git and
// GitHub give a repository, commit, file and line; the filesystem a file
// and line; Docker an image and file.
type sourceData struct {
	File       string      `json:"file"`
	Path       string      `json:"path"`
	Line       ingest.Text `json:"line"`
	Commit     string      `json:"commit"`
	Repository string      `json:"repository"`
	Link       string      `json:"link"`
	Email      string      `json:"email"`
	Timestamp  string      `json:"timestamp"`
	Image      string      `json:"image"`
	Bucket     string      `json:"bucket"`
}

type v3Result struct {
	SourceMetadata struct {
		Data map[string]sourceData `json:"Data"`
	} `json:"SourceMetadata"`
	SourceName        string                    `json:"SourceName"`
	DetectorName      string                    `json:"DetectorName"`
	DetectorType      ingest.Text               `json:"DetectorType"`
	DecoderName       string                    `json:"DecoderName"`
	Verified          bool                      `json:"Verified"`
	VerificationError string                    `json:"VerificationError"`
	Raw               string                    `json:"Raw"`
	RawV2             string                    `json:"RawV2"`
	Redacted          string                    `json:"Redacted"`
	ExtraData         map[string]jsontext.Value `json:"ExtraData"`
}

type v2Result struct {
	Branch       string   `json:"branch"`
	CommitHash   string   `json:"commitHash"`
	Date         string   `json:"date"`
	Path         string   `json:"path"`
	Reason       string   `json:"reason"`
	StringsFound []string `json:"stringsFound"`
}

type parser struct {
	in     *ingest.Input
	sink   ingest.Sink
	dec    *jsontext.Decoder
	format string
	began  bool
	asset  string
}

// ParseV3 reads TruffleHog 3 JSON lines from in and emits one scan with a
// finding per detected secret.
func ParseV3(ctx context.Context, in *ingest.Input, sink ingest.Sink) error {
	p := &parser{in: in, sink: sink, dec: in.JSONDecoder(), format: "trufflehog"}
	err := p.lines(ctx, p.v3)
	return ingest.AsInputError(in, p.dec.InputOffset(), err)
}

// ParseV2 reads TruffleHog 2 JSON lines from in and emits one scan with a
// finding per reported diff.
func ParseV2(ctx context.Context, in *ingest.Input, sink ingest.Sink) error {
	p := &parser{in: in, sink: sink, dec: in.JSONDecoder(), format: "trufflehog-v2"}
	err := p.lines(ctx, p.v2)
	return ingest.AsInputError(in, p.dec.InputOffset(), err)
}

// lines calls item for each top-level object until the end of the input.
func (p *parser) lines(ctx context.Context, item func(n int) error) error {
	n := 0
	for ; ; n++ {
		if err := ctx.Err(); err != nil {
			return err
		}
		switch p.dec.PeekKind() {
		case '{':
		case 0:
			if _, err := p.dec.ReadToken(); err != nil && !errors.Is(err, io.EOF) {
				return err
			}
			if n == 0 {
				return p.in.Errorf(0, "empty input: no TruffleHog results")
			}
			return p.begin("")
		default:
			if _, err := p.dec.ReadToken(); err != nil {
				return err
			}
			return p.in.Errorf(p.dec.InputOffset(), "not TruffleHog output: expected an object per line")
		}
		if err := item(n); err != nil {
			return err
		}
	}
}

// begin starts the scan at the first result: the target is the user's
// --target, else the repository that result names.
func (p *parser) begin(repo string) error {
	if p.began {
		return nil
	}
	p.began = true
	target := p.in.TargetOr(repo)
	if target == "" {
		p.in.Warn("%s: the TruffleHog output names no repository; pass --target to name what it scanned", p.in.Name)
		target, p.asset = "unknown", model.FileKey("unknown")
	} else {
		p.asset = model.ProjectKey(target)
	}
	return p.sink.BeginScan(model.Scan{ParserVersion: ParserVersion, Tool: Tool, Format: p.format, Target: target, Asset: p.asset})
}

// rawValue returns the secret as TruffleHog found it. Early 3.x releases
// wrote Raw as base64 (a Go []byte); a value that decodes strictly to
// printable text is taken to be such an encoding, so that one secret
// hashes alike whichever release reported it.
func rawValue(raw string) string {
	if len(raw) < 8 || len(raw)%4 != 0 {
		return raw
	}
	b, err := base64.StdEncoding.Strict().DecodeString(raw)
	if err != nil || !utf8.Valid(b) {
		return raw
	}
	for _, r := range string(b) {
		if !unicode.IsPrint(r) && r != '\n' && r != '\r' && r != '\t' {
			return raw
		}
	}
	return string(b)
}

func (p *parser) v3(n int) error {
	var r v3Result
	if err := ingest.DecodeJSON(p.dec, &r); err != nil {
		return err
	}
	if r.DetectorName == "" && r.DetectorType == "" && r.SourceMetadata.Data == nil {
		return p.in.Errorf(p.dec.InputOffset(), "line %d is no TruffleHog 3 result: no detector or source", n+1)
	}
	// One source kind per result; take the first by name for stability.
	var kinds []string
	for k := range r.SourceMetadata.Data {
		kinds = append(kinds, k)
	}
	sort.Strings(kinds)
	var src sourceData
	var kind string
	if len(kinds) > 0 {
		kind = kinds[0]
		src = r.SourceMetadata.Data[kind]
	}
	if err := p.begin(src.Repository); err != nil {
		return err
	}
	secret := rawValue(r.Raw)
	if secret == "" {
		secret = rawValue(r.RawV2)
	}
	hash, hint := ingest.RedactSecret(p.in.SecretKey, secret)
	masks := []string{secret, r.Raw, r.RawV2, rawValue(r.RawV2), r.Redacted}
	asset := p.asset
	switch {
	case p.in.Target != "":
	case src.Repository != "":
		asset = model.RepoKey(src.Repository)
	case src.Image != "":
		asset = model.ImageKey(src.Image)
	}
	name := r.DetectorName
	if name == "" {
		name = "detector " + r.DetectorType.String()
	}
	f := &model.Finding{
		Tool:     Tool,
		Kind:     model.FindingSecret,
		RuleID:   name,
		CWEs:     []string{"CWE-798"},
		Severity: model.SeverityHigh,
		Title:    name + " secret",
		Asset:    asset,
		Location: model.Location{
			Path:      mask(firstOf(src.File, src.Path), masks),
			Line:      src.Line.Int(),
			Component: src.Commit,
			URL:       mask(src.Link, masks),
		},
		SecretHash: hash,
		SecretHint: hint,
		Pointer:    fmt.Sprintf("line %d", n+1),
	}
	if r.Verified {
		f.Severity, f.ToolStatus, f.Title = model.SeverityCritical, "verified", name+" secret (verified)"
	} else {
		f.ToolStatus = "unverified"
		if r.VerificationError != "" {
			f.ToolStatus += ": " + mask(r.VerificationError, masks)
		}
	}
	var d []string
	where := r.SourceName
	if where == "" {
		where = kind
	}
	if where != "" {
		d = append(d, "Found by TruffleHog ("+where+")")
	}
	if src.Commit != "" {
		c := "Commit " + src.Commit
		if src.Email != "" {
			c += " by " + src.Email
		}
		if src.Timestamp != "" {
			c += " on " + src.Timestamp
		}
		d = append(d, c)
	}
	if src.Bucket != "" {
		d = append(d, "Bucket "+src.Bucket)
	}
	if src.Image != "" {
		d = append(d, "Image "+src.Image)
	}
	// Of the detector's extra data only the identity a credential grants
	// is kept: other members may quote the secret or its parts.
	for _, k := range []string{"arn", "account"} {
		if v, ok := r.ExtraData[k]; ok && v.Kind() == '"' {
			var s string
			if err := ingest.UnmarshalJSON(v, &s); err == nil && s != "" {
				d = append(d, k+": "+s)
			}
		}
	}
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
	f.Description = mask(strings.Join(d, "\n"), masks)
	return p.sink.Finding(f)
}

func (p *parser) v2(n int) error {
	var r v2Result
	if err := ingest.DecodeJSON(p.dec, &r); err != nil {
		return err
	}
	if r.Reason == "" && r.StringsFound == nil {
		return p.in.Errorf(p.dec.InputOffset(), "line %d is no TruffleHog 2 result: no reason or strings found", n+1)
	}
	if err := p.begin(""); err != nil {
		return err
	}
	secret := strings.Join(r.StringsFound, "\n")
	hash, hint := ingest.RedactSecret(p.in.SecretKey, secret)
	masks := append([]string{secret}, r.StringsFound...)
	reason := r.Reason
	if reason == "" {
		reason = "secret"
	}
	f := &model.Finding{
		Tool:     Tool,
		Kind:     model.FindingSecret,
		RuleID:   reason,
		CWEs:     []string{"CWE-798"},
		Severity: model.SeverityHigh,
		Title:    mask(reason, masks),
		Asset:    p.asset,
		Location: model.Location{
			Path:      mask(r.Path, masks),
			Component: r.CommitHash,
		},
		SecretHash: hash,
		SecretHint: hint,
		Pointer:    fmt.Sprintf("line %d", n+1),
	}
	var d []string
	if r.CommitHash != "" {
		c := "Commit " + r.CommitHash
		if r.Branch != "" {
			c += " on branch " + r.Branch
		}
		if r.Date != "" {
			c += " at " + r.Date
		}
		d = append(d, c)
	}
	d = append(d, fmt.Sprintf("%d matching strings", len(r.StringsFound)))
	f.Description = mask(strings.Join(d, "\n"), masks)
	return p.sink.Finding(f)
}

func firstOf(s ...string) string {
	for _, v := range s {
		if v != "" {
			return v
		}
	}
	return ""
}

// mask removes every secret value from s.
func mask(s string, values []string) string {
	for _, v := range values {
		s = ingest.MaskSecret(s, v)
	}
	return s
}
