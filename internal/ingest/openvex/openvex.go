// Package openvex reads OpenVEX documents: statements by a supplier or a
// user that a vulnerability affects, does not affect, or is fixed in a
// product. A statement is a fact about a weakness, not an observation of
// one, so the documents become evidence and never findings.
package openvex

import (
	"context"
	"errors"
	"io"
	"net/url"
	"strings"
	"time"

	"github.com/go-json-experiment/json/jsontext"

	"github.com/ctem-dev/ctem/internal/ingest"
	"github.com/ctem-dev/ctem/internal/model"
)

// Tool is the tool name scans of OpenVEX documents carry.
const Tool = "openvex"

// The evidence kinds of the statuses the model has no constant for.
const (
	EvidenceVEXFixed              model.EvidenceKind = "vex-fixed"
	EvidenceVEXUnderInvestigation model.EvidenceKind = "vex-under-investigation"
)

// contextPrefix starts the @context of every OpenVEX document
// ("https://openvex.dev/ns/v0.2.0", "https://openvex.dev/ns").
const contextPrefix = "https://openvex.dev/ns"

// Format is the OpenVEX JSON format.
var Format = ingest.Format{
	Version: ParserVersion,
	Name:    "openvex",
	Title:   "OpenVEX JSON document",
	Detect:  Detect,
	Parse:   Parse,
}

// Detect accepts a JSON object whose @context is an OpenVEX namespace.
func Detect(s *ingest.Sniff) bool {
	return s.Kind == ingest.SniffJSONObject && strings.HasPrefix(s.Get("@context"), contextPrefix)
}

// component is a product or subcomponent: an IRI (a purl, an image
// reference) given as a string in early documents or as {"@id": ...} with
// optional identifiers.
type component struct {
	ID          string `json:"@id"`
	Identifiers struct {
		PURL  string `json:"purl"`
		CPE23 string `json:"cpe23"`
		CPE22 string `json:"cpe22"`
	} `json:"identifiers"`
	Subcomponents []component `json:"subcomponents"`
}

// UnmarshalJSONFrom accepts a component as a string or an object.
func (c *component) UnmarshalJSONFrom(dec *jsontext.Decoder) error {
	if dec.PeekKind() == '"' {
		tok, err := dec.ReadToken()
		if err != nil {
			return err
		}
		*c = component{ID: tok.String()}
		return nil
	}
	type plain component
	return ingest.DecodeJSON(dec, (*plain)(c))
}

// name is the component's identifier: its @id, else a purl or CPE.
func (c *component) name() string {
	for _, s := range []string{c.ID, c.Identifiers.PURL, c.Identifiers.CPE23, c.Identifiers.CPE22} {
		if s = strings.TrimSpace(s); s != "" {
			return s
		}
	}
	return ""
}

// vulnerability is a statement's vulnerability, a string in early
// documents.
type vulnerability struct {
	ID      string   `json:"@id"`
	Name    string   `json:"name"`
	Aliases []string `json:"aliases"`
}

// UnmarshalJSONFrom accepts a vulnerability as a string or an object.
func (v *vulnerability) UnmarshalJSONFrom(dec *jsontext.Decoder) error {
	if dec.PeekKind() == '"' {
		tok, err := dec.ReadToken()
		if err != nil {
			return err
		}
		*v = vulnerability{Name: tok.String()}
		return nil
	}
	type plain vulnerability
	return ingest.DecodeJSON(dec, (*plain)(v))
}

// statement is one VEX statement.
type statement struct {
	Vulnerability   vulnerability `json:"vulnerability"`
	Products        []component   `json:"products"`
	Subcomponents   []component   `json:"subcomponents"` // v0.0.1: beside the products
	Status          string        `json:"status"`
	StatusNotes     string        `json:"status_notes"`
	Justification   string        `json:"justification"`
	ImpactStatement string        `json:"impact_statement"`
	ActionStatement string        `json:"action_statement"`
	Timestamp       string        `json:"timestamp"`
	LastUpdated     string        `json:"last_updated"`
}

type parser struct {
	in   *ingest.Input
	sink ingest.Sink
	dec  *jsontext.Decoder

	context string
	id      string
	at      time.Time
	began   bool
	n       int // statements read, for warnings
}

// Parse reads an OpenVEX document from in and emits one piece of evidence
// per statement and product. The statements are streamed once the
// document's @context and @id are known; in the rare document that puts
// its statements first, they are held until the end.
func Parse(ctx context.Context, in *ingest.Input, sink ingest.Sink) error {
	p := &parser{in: in, sink: sink, dec: in.JSONDecoder()}
	return ingest.AsInputError(in, p.dec.InputOffset(), p.parse(ctx))
}

func (p *parser) parse(ctx context.Context) error {
	if k := p.dec.PeekKind(); k != '{' {
		if k == 0 {
			if _, err := p.dec.ReadToken(); err != nil && !errors.Is(err, io.EOF) {
				return err
			}
		}
		return p.in.Errorf(0, "not an OpenVEX document: expected a JSON object")
	}
	type heldStatement struct {
		s statement
		n int
	}
	var held []heldStatement
	var docTime, docUpdated string
	err := ingest.WalkObject(p.dec, func(name string) error {
		switch name {
		case "@context":
			return ingest.DecodeJSON(p.dec, &p.context)
		case "@id":
			return ingest.DecodeJSON(p.dec, &p.id)
		case "timestamp":
			return ingest.DecodeJSON(p.dec, &docTime)
		case "last_updated":
			return ingest.DecodeJSON(p.dec, &docUpdated)
		case "statements":
			return ingest.WalkArray(p.dec, func() error {
				if err := ctx.Err(); err != nil {
					return err
				}
				var s statement
				if err := ingest.DecodeJSON(p.dec, &s); err != nil {
					return err
				}
				p.n++
				if !strings.HasPrefix(p.context, contextPrefix) || p.id == "" {
					held = append(held, heldStatement{s, p.n})
					return nil
				}
				if err := p.begin(docTime, docUpdated); err != nil {
					return err
				}
				return p.statement(&s, p.n)
			})
		}
		return p.dec.SkipValue()
	})
	if err != nil {
		return err
	}
	if err := ingest.ExpectEOF(p.in, p.dec); err != nil {
		return err
	}
	if err := p.begin(docTime, docUpdated); err != nil {
		return err
	}
	for i := range held {
		if err := ctx.Err(); err != nil {
			return err
		}
		if err := p.statement(&held[i].s, held[i].n); err != nil {
			return err
		}
	}
	return nil
}

// begin checks that the document is OpenVEX and starts its scan, once.
func (p *parser) begin(docTime, docUpdated string) error {
	if p.began {
		return nil
	}
	if !strings.HasPrefix(p.context, contextPrefix) {
		if p.context == "" {
			return p.in.Errorf(-1, "not an OpenVEX document: no @context")
		}
		return p.in.Errorf(-1, "not an OpenVEX document: @context %q is not %s...", p.context, contextPrefix)
	}
	p.began = true
	p.at = parseTime(docUpdated)
	if p.at.IsZero() {
		p.at = parseTime(docTime)
	}
	target := strings.TrimSpace(p.id)
	if target == "" {
		target = p.in.TargetOr("")
	}
	if target == "" {
		p.in.Warn("%s: the OpenVEX document has no @id; pass --target to name it", p.in.Name)
		target = "unknown"
	}
	if p.id == "" {
		p.id = target
	}
	return p.sink.BeginScan(model.Scan{ParserVersion: ParserVersion, Tool: Tool, Format: "openvex", Target: target})
}

// statement emits the evidence of statement number n (1-based).
func (p *parser) statement(s *statement, n int) error {
	ids := append([]string{s.Vulnerability.Name, s.Vulnerability.ID}, s.Vulnerability.Aliases...)
	vulnID := model.CanonicalVulnID(model.SortVulnIDs(ids))
	if vulnID == "" {
		p.in.Warn("%s: statement %d names no vulnerability; skipped", p.in.Name, n)
		return nil
	}
	status := strings.ToLower(strings.TrimSpace(s.Status))
	kind := kindOf(status)
	if kind == "" {
		p.in.Warn("%s: statement %d has no status; skipped", p.in.Name, n)
		return nil
	}
	at := parseTime(s.LastUpdated)
	if at.IsZero() {
		at = parseTime(s.Timestamp)
	}
	if at.IsZero() {
		at = p.at
	}
	detail := detailOf(s, status, ids, vulnID)
	if len(s.Products) == 0 {
		p.in.Warn("%s: statement %d on %s names no product; skipped", p.in.Name, n, vulnID)
	}
	for i := range s.Products {
		prod := &s.Products[i]
		key := ProductKey(prod.name())
		if key == "" {
			p.in.Warn("%s: statement %d on %s has a product without an id; skipped", p.in.Name, n, vulnID)
			continue
		}
		d := detail
		subs := append(prod.Subcomponents, s.Subcomponents...)
		if len(subs) > 0 {
			names := make([]string, 0, len(subs))
			for j := range subs {
				if nm := subs[j].name(); nm != "" {
					names = append(names, nm)
				}
			}
			if len(names) > 0 {
				d += "; subcomponents: " + strings.Join(names, ", ")
			}
		}
		if err := p.sink.Evidence(model.Evidence{
			Kind:   kind,
			Asset:  key,
			VulnID: vulnID,
			Source: "openvex:" + p.id,
			Detail: d,
			At:     at,
		}); err != nil {
			return err
		}
	}
	return nil
}

// kindOf maps an OpenVEX status to an evidence kind; "" for none.
func kindOf(status string) model.EvidenceKind {
	switch status {
	case "not_affected":
		return model.EvidenceVEXNotAffected
	case "affected":
		return model.EvidenceVEXAffected
	case "fixed":
		return EvidenceVEXFixed
	case "under_investigation":
		return EvidenceVEXUnderInvestigation
	case "":
		return ""
	}
	// A status the specification does not define is kept, not dropped.
	return model.EvidenceKind("vex-" + strings.ReplaceAll(status, "_", "-"))
}

// detailOf reads "status: justification", then the statement's other
// words and the vulnerability's other names.
func detailOf(s *statement, status string, ids []string, vulnID string) string {
	d := status
	if s.Justification != "" {
		d += ": " + s.Justification
	}
	for _, part := range []struct{ label, text string }{
		{"impact", s.ImpactStatement},
		{"action", s.ActionStatement},
		{"notes", s.StatusNotes},
	} {
		if t := strings.TrimSpace(part.text); t != "" {
			d += "; " + part.label + ": " + t
		}
	}
	var aka []string
	for _, id := range model.SortVulnIDs(ids) {
		if id != vulnID {
			aka = append(aka, id)
		}
	}
	if len(aka) > 0 {
		d += "; aliases: " + strings.Join(aka, ", ")
	}
	return d
}

func parseTime(s string) time.Time {
	t, err := time.Parse(time.RFC3339Nano, strings.TrimSpace(s))
	if err != nil {
		return time.Time{}
	}
	return t.UTC()
}

// ProductKey returns the canonical asset key of a VEX product: an image
// key for OCI and Docker purls and plain image references, the purl as
// given for other purls, and the identifier itself for anything else (a
// CPE, an IRI). It returns "" for an empty identifier.
func ProductKey(id string) string {
	id = strings.TrimSpace(id)
	switch {
	case id == "":
		return ""
	case strings.HasPrefix(id, "pkg:oci/"), strings.HasPrefix(id, "pkg:docker/"):
		if ref, ok := purlImageRef(id); ok {
			return model.ImageKey(ref)
		}
		return id
	case strings.HasPrefix(id, "pkg:"), strings.HasPrefix(id, "cpe:"), strings.Contains(id, "://"):
		return id
	}
	if looksLikeImage(id) {
		return model.ImageKey(id)
	}
	return id
}

// looksLikeImage accepts references with a registry, a tag or a digest
// ("ghcr.io/org/app:1.2", "nginx@sha256:..."), which an identifier of
// another kind does not look like.
func looksLikeImage(id string) bool {
	if _, ok := model.ParseImageRef(id); !ok {
		return false
	}
	return strings.Contains(id, "/") || strings.Contains(id, "@sha256:")
}

// purlImageRef turns pkg:oci/name@sha256%3A...?repository_url=reg/ns/name&tag=t
// and pkg:docker/ns/name@tag?repository_url=reg into an image reference.
func purlImageRef(purl string) (string, bool) {
	rest := strings.TrimPrefix(purl, "pkg:")
	typ, rest, _ := strings.Cut(rest, "/")
	rest, _, _ = strings.Cut(rest, "#")
	rest, query, _ := strings.Cut(rest, "?")
	path, version := rest, ""
	if i := strings.LastIndex(rest, "@"); i >= 0 {
		path, version = rest[:i], rest[i+1:]
	}
	q, err := url.ParseQuery(query)
	if err != nil {
		return "", false
	}
	if p, err := url.PathUnescape(path); err == nil {
		path = p
	}
	if v, err := url.PathUnescape(version); err == nil {
		version = v
	}
	path = strings.Trim(path, "/")
	if path == "" {
		return "", false
	}
	repo := path
	if ru := strings.Trim(q.Get("repository_url"), "/"); ru != "" {
		if typ == "oci" {
			repo = ru // the OCI repository URL names the image itself
		} else {
			repo = ru + "/" + path
		}
	}
	ref := repo
	switch {
	case strings.Contains(version, ":"):
		ref += "@" + version
	case version != "":
		ref += ":" + version
	case q.Get("tag") != "":
		ref += ":" + q.Get("tag")
	}
	if _, ok := model.ParseImageRef(ref); !ok {
		return "", false
	}
	return ref, true
}
