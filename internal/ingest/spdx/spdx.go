// Package spdx parses SPDX 2.2 and 2.3 JSON documents. The package the
// document describes is the scanned target; the other packages become
// package assets it contains, and the document's relationships become
// relations between them. Security references that name a vulnerability
// become findings on their package.
//
// SPDX 3 (JSON-LD) and the tag-value syntax are recognised and rejected
// with a clear error.
package spdx

import (
	"bytes"
	"context"
	"fmt"
	"net/url"
	"regexp"
	"strings"

	"github.com/go-json-experiment/json/jsontext"

	"github.com/ctem-dev/ctem/internal/ingest"
	"github.com/ctem-dev/ctem/internal/model"
)

// Source is the source recorded on the assets and relations a document
// yields, and the tool name when the document names no creator tool.
const Source = "spdx"

// Format is SPDX 2.2 and 2.3 JSON.
var Format = ingest.Format{
	Version: ParserVersion,
	Name:    "spdx",
	Title:   "SPDX 2.2 and 2.3 JSON SBOM",
	Detect:  Detect,
	Parse:   Parse,
}

// Detect accepts a JSON object with an "SPDX-" spdxVersion or an SPDX 3
// JSON-LD context (rejected when parsed, with a clear error), and the
// tag-value syntax (also rejected), which begins with an SPDXVersion tag.
func Detect(s *ingest.Sniff) bool {
	switch s.Kind {
	case ingest.SniffJSONObject:
		if strings.HasPrefix(s.Get("spdxVersion"), "SPDX-") {
			return true
		}
		return isSPDX3Context(s.Get("@context")) || isSPDX3Context(s.Get("@context[]"))
	case ingest.SniffJSONArray, ingest.SniffXML:
		return false
	}
	return isTagValue(s.Head)
}

func isSPDX3Context(ctx string) bool {
	return strings.Contains(ctx, "spdx.org/rdf/3")
}

// isTagValue reports whether head begins, after comments and blank lines,
// with an "SPDXVersion: SPDX-" tag.
func isTagValue(head []byte) bool {
	head = bytes.TrimPrefix(head, []byte("\xef\xbb\xbf"))
	for line := range bytes.SplitSeq(head, []byte("\n")) {
		t := bytes.TrimSpace(line)
		if len(t) == 0 || t[0] == '#' {
			continue
		}
		return bytes.HasPrefix(t, []byte("SPDXVersion:")) && bytes.Contains(t, []byte("SPDX-"))
	}
	return false
}

// pkg is what the parser keeps of one package.
type pkg struct {
	id, name, version, purl, purpose string
	// vulns are the security references naming a vulnerability.
	vulns []secRef
	// fixes are the locators of "fix" references.
	fixes []string
	ptr   string
}

func (p *pkg) key() string {
	if p.purl != "" {
		return p.purl
	}
	return "pkg:generic/" + p.name + "@" + p.version
}

type secRef struct {
	typ, locator, comment string
	ptr                   string
}

type relationship struct {
	from, typ, to string
}

type jsonPackage struct {
	SPDXID                string `json:"SPDXID"`
	Name                  string `json:"name"`
	VersionInfo           string `json:"versionInfo"`
	PrimaryPackagePurpose string `json:"primaryPackagePurpose"`
	ExternalRefs          []struct {
		ReferenceCategory string `json:"referenceCategory"`
		ReferenceType     string `json:"referenceType"`
		ReferenceLocator  string `json:"referenceLocator"`
		Comment           string `json:"comment"`
	} `json:"externalRefs"`
}

// parser holds the state of one document. Packages and relationships are
// kept as small records until the end of the document, when the root
// package is known.
type parser struct {
	in   *ingest.Input
	sink ingest.Sink
	dec  *jsontext.Decoder

	version           string
	docID             string
	name              string
	tool, toolVersion string
	describes         []string
	pkgs              map[string]*pkg
	order             []string // package ids in document order
	rels              []relationship
}

// Parse reads an SPDX JSON document from in and emits its target, its
// packages, their relationships and the vulnerabilities its security
// references name.
func Parse(ctx context.Context, in *ingest.Input, sink ingest.Sink) error {
	if head, _ := in.R.Peek(512); isTagValue(head) {
		return in.Errorf(0, "unsupported SPDX tag-value document (ctem reads SPDX 2.2 and 2.3 JSON)")
	}
	p := &parser{in: in, sink: sink, dec: in.JSONDecoder(), pkgs: map[string]*pkg{}, tool: Source}
	err := p.parse(ctx)
	return ingest.AsInputError(in, p.dec.InputOffset(), err)
}

func (p *parser) parse(ctx context.Context) error {
	if p.dec.PeekKind() != '{' {
		_, err := p.dec.ReadToken()
		if err == nil {
			err = p.in.Errorf(0, "not an SPDX document: expected a JSON object")
		}
		return err
	}
	err := ingest.WalkObject(p.dec, func(name string) error {
		if err := ctx.Err(); err != nil {
			return err
		}
		return p.top(ctx, name)
	})
	if err != nil {
		return err
	}
	if err := ingest.ExpectEOF(p.in, p.dec); err != nil {
		return err
	}
	if p.version == "" {
		return p.in.Errorf(p.dec.InputOffset(), "not an SPDX document: no spdxVersion")
	}
	return p.emit(ctx)
}

var spdx3Version = regexp.MustCompile(`spdx\.org/rdf/(\d+\.\d+)`)

func (p *parser) top(ctx context.Context, name string) error {
	off := p.dec.InputOffset()
	switch name {
	case "spdxVersion":
		if err := ingest.DecodeJSON(p.dec, &p.version); err != nil {
			return err
		}
		v, ok := strings.CutPrefix(p.version, "SPDX-")
		if !ok {
			return p.in.Errorf(off, "not an SPDX document: spdxVersion %q", p.version)
		}
		if !strings.HasPrefix(v, "2.") {
			return p.in.Errorf(off, "unsupported SPDX version %s (ctem reads SPDX 2.2 and 2.3 JSON)", v)
		}
		return nil
	case "@context":
		var c jsontext.Value
		if err := ingest.DecodeJSON(p.dec, &c); err != nil {
			return err
		}
		if m := spdx3Version.FindSubmatch(c); m != nil {
			return p.in.Errorf(off, "unsupported SPDX version %s (ctem reads SPDX 2.2 and 2.3 JSON)", m[1])
		}
		return nil
	case "SPDXID":
		return ingest.DecodeJSON(p.dec, &p.docID)
	case "name":
		return ingest.DecodeJSON(p.dec, &p.name)
	case "creationInfo":
		var ci struct {
			Creators []string `json:"creators"`
		}
		if err := ingest.DecodeJSON(p.dec, &ci); err != nil {
			return err
		}
		for _, c := range ci.Creators {
			if t, ok := strings.CutPrefix(strings.TrimSpace(c), "Tool:"); ok && strings.TrimSpace(t) != "" {
				p.tool, p.toolVersion = splitTool(strings.TrimSpace(t))
				break
			}
		}
		return nil
	case "documentDescribes":
		return ingest.DecodeJSON(p.dec, &p.describes)
	case "packages":
		return ingest.WalkItems(ctx, p.dec, func(i int) error {
			var jp jsonPackage
			if err := ingest.DecodeJSON(p.dec, &jp); err != nil {
				return err
			}
			p.addPackage(&jp, fmt.Sprintf("/packages/%d", i))
			return nil
		})
	case "relationships":
		return ingest.WalkArray(p.dec, func() error {
			if err := ctx.Err(); err != nil {
				return err
			}
			var r struct {
				From string `json:"spdxElementId"`
				Type string `json:"relationshipType"`
				To   string `json:"relatedSpdxElement"`
			}
			if err := ingest.DecodeJSON(p.dec, &r); err != nil {
				return err
			}
			typ := strings.ToUpper(strings.TrimSpace(r.Type))
			if _, ok := containment[typ]; ok && r.From != "" && r.To != "" {
				p.rels = append(p.rels, relationship{r.From, typ, r.To})
			}
			return nil
		})
	}
	return p.dec.SkipValue()
}

// splitTool splits "syft-1.50.0" into "syft" and "1.50.0".
func splitTool(t string) (name, version string) {
	name = t
	if i := strings.LastIndex(t, "-"); i > 0 && i+1 < len(t) && t[i+1] >= '0' && t[i+1] <= '9' {
		name, version = t[:i], t[i+1:]
	}
	return strings.ToLower(name), version
}

func (p *parser) addPackage(jp *jsonPackage, ptr string) {
	k := &pkg{
		id:      jp.SPDXID,
		name:    jp.Name,
		version: jp.VersionInfo,
		purpose: strings.ToUpper(jp.PrimaryPackagePurpose),
		ptr:     ptr,
	}
	if k.version == "NOASSERTION" || k.version == "NONE" {
		k.version = ""
	}
	for j, r := range jp.ExternalRefs {
		cat := strings.ToUpper(strings.ReplaceAll(r.ReferenceCategory, "_", "-"))
		switch {
		case cat == "PACKAGE-MANAGER" && r.ReferenceType == "purl" && k.purl == "":
			k.purl = strings.TrimSpace(r.ReferenceLocator)
		case cat == "SECURITY":
			switch r.ReferenceType {
			case "advisory", "url":
				k.vulns = append(k.vulns, secRef{typ: r.ReferenceType, locator: r.ReferenceLocator, comment: r.Comment, ptr: fmt.Sprintf("%s/externalRefs/%d", ptr, j)})
			case "fix":
				k.fixes = append(k.fixes, r.ReferenceLocator)
			}
		}
	}
	if k.name == "" && k.purl == "" {
		return
	}
	if k.id == "" {
		k.id = ptr
	}
	if _, dup := p.pkgs[k.id]; !dup {
		p.order = append(p.order, k.id)
	}
	p.pkgs[k.id] = k
}

// containment maps the relationship types ctem reads to whether the
// relation runs the other way: "a CONTAINED_BY b" is "b contains a".
var containment = map[string]bool{
	"CONTAINS":              false,
	"DEPENDS_ON":            false,
	"DESCRIBES":             false,
	"CONTAINED_BY":          true,
	"DEPENDENCY_OF":         true,
	"RUNTIME_DEPENDENCY_OF": true,
	"DESCRIBED_BY":          true,
}

// emit begins the scan of the root package and emits the assets,
// relations and findings the document holds.
func (p *parser) emit(ctx context.Context) error {
	root := p.root()
	target, key := p.target(root)
	if err := p.sink.BeginScan(model.Scan{ParserVersion: ParserVersion, Tool: p.tool, ToolVersion: p.toolVersion, Format: Source, Target: target, Asset: key}); err != nil {
		return err
	}
	a := model.Asset{Key: key, Kind: model.KindOfKey(key), Name: key, Source: Source}
	if i := strings.Index(key, ":"); i >= 0 {
		a.Name = key[i+1:]
	}
	if root != nil {
		a.Labels = map[string]string{"spdx.name": root.name}
		if root.version != "" {
			a.Labels["version"] = root.version
		}
		if root.purl != "" {
			a.Labels["purl"] = root.purl
		}
	}
	if err := p.sink.Asset(a); err != nil {
		return err
	}
	keyOf := func(id string) string {
		if id == p.docID || (root != nil && id == root.id) {
			return key
		}
		if k, ok := p.pkgs[id]; ok {
			return k.key()
		}
		return ""
	}
	for _, id := range p.order {
		if err := ctx.Err(); err != nil {
			return err
		}
		k := p.pkgs[id]
		if k == root {
			continue
		}
		pa := model.Asset{Key: k.key(), Kind: model.KindPackage, Name: k.name, Source: Source}
		if k.version != "" {
			pa.Labels = map[string]string{"version": k.version}
		}
		if err := p.sink.Asset(pa); err != nil {
			return err
		}
		// The document describes its target, which holds every package
		// it lists, however deep.
		if pa.Key != key {
			if err := p.sink.Relation(model.Relation{From: key, To: pa.Key, Type: model.RelContains, Source: Source}); err != nil {
				return err
			}
		}
	}
	for _, r := range p.rels {
		from, to := keyOf(r.from), keyOf(r.to)
		if containment[r.typ] {
			from, to = to, from
		}
		if from == "" || to == "" || from == to || from == key {
			continue // the target's relations are above
		}
		if err := p.sink.Relation(model.Relation{From: from, To: to, Type: model.RelContains, Source: Source}); err != nil {
			return err
		}
	}
	for _, id := range p.order {
		k := p.pkgs[id]
		for _, ref := range k.vulns {
			if err := ctx.Err(); err != nil {
				return err
			}
			if f := p.finding(k, ref, key); f != nil {
				if err := p.sink.Finding(f); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

// root returns the package the document describes, or nil.
func (p *parser) root() *pkg {
	ids := p.describes
	for _, r := range p.rels {
		switch {
		case r.typ == "DESCRIBES" && r.from == p.docID:
			ids = append(ids, r.to)
		case r.typ == "DESCRIBED_BY" && r.to == p.docID:
			ids = append(ids, r.from)
		}
	}
	for _, id := range ids {
		if k, ok := p.pkgs[id]; ok {
			return k
		}
	}
	return nil
}

// target names the scanned target and its asset key: the root package, or
// the user's --target, or the document's name.
func (p *parser) target(root *pkg) (target, key string) {
	if root == nil {
		target = p.in.TargetOr(p.name)
		if target == "" {
			p.in.Warn("%s: the SPDX document describes no package and has no name; pass --target", p.in.Name)
			target = "unknown"
		}
		return target, guessKey(target)
	}
	if root.purpose == "CONTAINER" || strings.HasPrefix(root.purl, "pkg:oci/") || strings.HasPrefix(root.purl, "pkg:docker/") {
		ref := p.in.TargetOr(imageRef(root.name, root.version))
		return model.ImageKey(ref), model.ImageKey(ref)
	}
	target = p.in.TargetOr(root.name)
	if target == "" {
		target = root.purl
		return target, root.purl
	}
	return target, guessKey(target)
}

// guessKey reads a target's name: a repository URL, a path, an image
// reference with a tag or digest, else a repository name.
func guessKey(name string) string {
	last := name[strings.LastIndex(name, "/")+1:]
	switch {
	case strings.Contains(name, "://") || strings.HasPrefix(name, "git@"):
		return model.RepoKey(name)
	case strings.HasPrefix(name, "/") || strings.HasPrefix(name, ".") || strings.Contains(name, "\\"):
		return model.FileKey(name)
	case strings.Contains(name, "@sha256:") || strings.Contains(last, ":"):
		if _, ok := model.ParseImageRef(name); ok {
			return model.ImageKey(name)
		}
	}
	return "repo:" + strings.ToLower(name)
}

// imageRef names the image a container package describes.
func imageRef(name, version string) string {
	last := name[strings.LastIndex(name, "/")+1:]
	switch {
	case version == "" || strings.Contains(last, ":") || strings.Contains(name, "@"):
		return name
	case strings.HasPrefix(version, "sha256:"):
		return name + "@" + version
	}
	return name + ":" + version
}

// finding turns a security reference into a finding. An advisory
// reference is one even without an identifier ctem recognises (its
// locator is then the rule); a url reference only when its locator names a
// CVE, GHSA or Go vulnerability.
func (p *parser) finding(k *pkg, ref secRef, asset string) *model.Finding {
	ids := model.ExtractVulnIDs(ref.locator)
	if len(ids) == 0 {
		if u, err := url.PathUnescape(ref.locator); err == nil {
			ids = model.ExtractVulnIDs(u)
		}
	}
	if len(ids) == 0 && ref.typ != "advisory" {
		return nil
	}
	f := &model.Finding{
		Tool:     p.tool,
		Kind:     model.FindingVulnerability,
		VulnIDs:  ids,
		Severity: model.SeverityUnknown,
		Asset:    asset,
		Package:  model.Package{Name: k.name, Version: k.version, PURL: k.purl},
		Pointer:  ref.ptr,
	}
	desc := []string{"SPDX security reference (" + ref.typ + "): " + ref.locator}
	if ref.comment != "" {
		desc = append(desc, ref.comment)
	}
	if len(ids) > 0 {
		f.RuleID = ids[0]
		for _, fix := range k.fixes {
			for _, id := range model.ExtractVulnIDs(fix) {
				if id == ids[0] {
					desc = append(desc, "Fix: "+fix)
				}
			}
		}
	} else {
		f.RuleID = ref.locator
	}
	f.Title = f.RuleID + " in " + k.name
	if k.version != "" {
		f.Title += " " + k.version
	}
	if len(ids) == 0 {
		f.Title = "security advisory for " + k.name
		if k.version != "" {
			f.Title += " " + k.version
		}
	}
	f.Description = strings.Join(desc, "\n\n")
	return f
}
