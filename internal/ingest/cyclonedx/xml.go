package cyclonedx

import (
	"context"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/ctem-dev/ctem/internal/ingest"
)

// FormatXML is CycloneDX XML.
var FormatXML = ingest.Format{
	Version: ParserVersion,
	Name:    "cyclonedx-xml",
	Title:   "CycloneDX XML SBOM or VEX (1.2 to 1.7)",
	Detect:  DetectXML,
	Parse:   ParseXML,
}

// nsPrefix begins the namespace of every CycloneDX XML version.
const nsPrefix = "http://cyclonedx.org/schema/bom/"

// DetectXML accepts an XML document whose root is a bom element in a
// CycloneDX namespace.
func DetectXML(s *ingest.Sniff) bool {
	return s.Kind == ingest.SniffXML && s.XMLRoot.Local == "bom" && strings.HasPrefix(s.XMLRoot.Space, nsPrefix)
}

// Element names below carry no namespace, so that they match both the
// BOM's namespace and that of the 1.0 vulnerability extension.

type xmlComponent struct {
	Ref        string `xml:"bom-ref,attr"`
	Type       string `xml:"type,attr"`
	Group      string `xml:"group"`
	Name       string `xml:"name"`
	Version    string `xml:"version"`
	PURL       string `xml:"purl"`
	Properties []struct {
		Name  string `xml:"name,attr"`
		Value string `xml:",chardata"`
	} `xml:"properties>property"`
	Components []xmlComponent `xml:"components>component"`
	// Vulns are the 1.0 extension's vulnerabilities of this component.
	Vulns []xmlVuln `xml:"vulnerabilities>vulnerability"`
}

func (x *xmlComponent) component() *component {
	c := &component{
		Ref:     strings.TrimSpace(x.Ref),
		Type:    strings.TrimSpace(x.Type),
		Group:   strings.TrimSpace(x.Group),
		Name:    strings.TrimSpace(x.Name),
		Version: strings.TrimSpace(x.Version),
		PURL:    strings.TrimSpace(x.PURL),
	}
	for _, p := range x.Properties {
		c.setProperty(strings.TrimSpace(p.Name), strings.TrimSpace(p.Value))
	}
	return c
}

type xmlSource struct {
	NameAttr string `xml:"name,attr"`
	Name     string `xml:"name"`
	URL      string `xml:"url"`
}

func (s xmlSource) name() string {
	if n := strings.TrimSpace(s.Name); n != "" {
		return n
	}
	return strings.TrimSpace(s.NameAttr)
}

type xmlVuln struct {
	// ExtRef is the 1.0 extension's reference to the affected component.
	ExtRef     string    `xml:"ref,attr"`
	ID         string    `xml:"id"`
	Source     xmlSource `xml:"source"`
	References []struct {
		ID string `xml:"id"`
	} `xml:"references>reference"`
	Ratings []struct {
		Source xmlSource `xml:"source"`
		Score  struct {
			Text string `xml:",chardata"`
			Base string `xml:"base"`
		} `xml:"score"`
		Severity string `xml:"severity"`
		Method   string `xml:"method"`
		Vector   string `xml:"vector"`
	} `xml:"ratings>rating"`
	CWEs            []string `xml:"cwes>cwe"`
	Description     string   `xml:"description"`
	Detail          string   `xml:"detail"`
	Recommendation  string   `xml:"recommendation"`
	Recommendations []string `xml:"recommendations>recommendation"`
	Advisories      []struct {
		URL  string `xml:"url"`
		Text string `xml:",chardata"`
	} `xml:"advisories>advisory"`
	Analysis struct {
		State         string   `xml:"state"`
		Justification string   `xml:"justification"`
		Responses     []string `xml:"responses>response"`
		Detail        string   `xml:"detail"`
	} `xml:"analysis"`
	Affects []string `xml:"affects>target>ref"`
}

func (x *xmlVuln) vuln(ptr string, inline bool) *vuln {
	v := &vuln{
		ID:             strings.TrimSpace(x.ID),
		Source:         x.Source.name(),
		SourceURL:      strings.TrimSpace(x.Source.URL),
		Description:    x.Description,
		Detail:         x.Detail,
		Recommendation: strings.TrimSpace(x.Recommendation + "\n" + strings.Join(x.Recommendations, "\n")),
		State:          strings.TrimSpace(x.Analysis.State),
		Justification:  strings.TrimSpace(x.Analysis.Justification),
		Responses:      x.Analysis.Responses,
		AnalysisDetail: x.Analysis.Detail,
		Pointer:        ptr,
	}
	for _, r := range x.References {
		if id := strings.TrimSpace(r.ID); id != "" {
			v.Aliases = append(v.Aliases, id)
		}
	}
	for _, r := range x.Ratings {
		score := strings.TrimSpace(r.Score.Base)
		if score == "" {
			score = strings.TrimSpace(r.Score.Text)
		}
		v.Ratings = append(v.Ratings, rating{
			Source:   r.Source.name(),
			Score:    score,
			Severity: strings.TrimSpace(r.Severity),
			Method:   strings.TrimSpace(r.Method),
			Vector:   strings.TrimSpace(r.Vector),
		})
	}
	for _, c := range x.CWEs {
		v.CWEs = append(v.CWEs, strings.TrimSpace(c))
	}
	for _, a := range x.Advisories {
		u := strings.TrimSpace(a.URL)
		if u == "" {
			u = strings.TrimSpace(a.Text)
		}
		if u != "" {
			v.Advisories = append(v.Advisories, u)
		}
	}
	for _, r := range x.Affects {
		if r = strings.TrimSpace(r); r != "" {
			v.Affects = append(v.Affects, r)
		}
	}
	if !inline {
		if r := strings.TrimSpace(x.ExtRef); r != "" {
			v.Affects = append(v.Affects, r)
		}
	}
	return v
}

type xmlTool struct {
	Name    string `xml:"name"`
	Version string `xml:"version"`
}

type xmlMetadata struct {
	Tools struct {
		Tools      []xmlTool `xml:"tool"`
		Components []xmlTool `xml:"components>component"`
		Services   []xmlTool `xml:"services>service"`
	} `xml:"tools"`
	Component *xmlComponent `xml:"component"`
}

// ParseXML reads a CycloneDX XML BOM from in and emits its target, its
// components and its vulnerabilities.
func ParseXML(ctx context.Context, in *ingest.Input, sink ingest.Sink) error {
	p := newParser(in, sink, "cyclonedx-xml")
	dec := in.XMLDecoder()
	err := p.parseXML(ctx, dec)
	return ingest.AsXMLInputError(in, dec, err)
}

func (p *parser) parseXML(ctx context.Context, dec *ingest.XMLDecoder) error {
	root, err := rootElement(dec)
	if err != nil {
		return err
	}
	if root.Name.Local != "bom" || !strings.HasPrefix(root.Name.Space, nsPrefix) {
		return p.in.Errorf(dec.InputOffset(), "not a CycloneDX BOM: root element <%s> in namespace %q", root.Name.Local, root.Name.Space)
	}
	if err := p.checkSpecVersion(dec.InputOffset(), strings.TrimPrefix(root.Name.Space, nsPrefix)); err != nil {
		return err
	}
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		tok, err := dec.Token()
		if err != nil {
			return err
		}
		switch t := tok.(type) {
		case xml.EndElement:
			if err := p.finish(); err != nil {
				return err
			}
			return expectXMLEnd(p.in, dec)
		case xml.StartElement:
			if err := p.xmlSection(ctx, dec, t); err != nil {
				return err
			}
		}
	}
}

// rootElement reads up to the root element.
func rootElement(dec *ingest.XMLDecoder) (xml.StartElement, error) {
	for {
		tok, err := dec.Token()
		if err != nil {
			return xml.StartElement{}, err
		}
		if se, ok := tok.(xml.StartElement); ok {
			return se, nil
		}
	}
}

// expectXMLEnd checks that nothing but comments, processing instructions
// and white space follow the root element.
func expectXMLEnd(in *ingest.Input, dec *ingest.XMLDecoder) error {
	for {
		tok, err := dec.Token()
		if err != nil {
			if errors.Is(err, io.EOF) {
				return nil
			}
			return err
		}
		switch t := tok.(type) {
		case xml.CharData:
			if strings.TrimSpace(string(t)) != "" {
				return in.Errorf(dec.InputOffset(), "unexpected text after the end of the document")
			}
		case xml.StartElement:
			return in.Errorf(dec.InputOffset(), "unexpected element <%s> after the end of the document", t.Name.Local)
		}
	}
}

// xmlSection reads one child of the bom element.
func (p *parser) xmlSection(ctx context.Context, dec *ingest.XMLDecoder, se xml.StartElement) error {
	switch se.Name.Local {
	case "metadata":
		var m xmlMetadata
		if err := dec.DecodeElement(&m, &se); err != nil {
			return err
		}
		md := meta{}
		for _, t := range append(append(m.Tools.Tools, m.Tools.Components...), m.Tools.Services...) {
			if n := strings.TrimSpace(t.Name); n != "" {
				md.Tool, md.ToolVersion = n, strings.TrimSpace(t.Version)
				break
			}
		}
		if m.Component == nil {
			return p.setMeta(md)
		}
		md.Component = m.Component.component()
		if err := p.setMeta(md); err != nil {
			return err
		}
		line, _ := dec.InputPos()
		return p.xmlComponents(ctx, m.Component.Components, line)
	case "components":
		return eachChild(ctx, dec, "component", func(se xml.StartElement, line int) error {
			var c xmlComponent
			if err := dec.DecodeElement(&c, &se); err != nil {
				return err
			}
			return p.xmlComponents(ctx, []xmlComponent{c}, line)
		})
	case "vulnerabilities":
		return eachChild(ctx, dec, "vulnerability", func(se xml.StartElement, line int) error {
			var v xmlVuln
			if err := dec.DecodeElement(&v, &se); err != nil {
				return err
			}
			return p.vulnerability(v.vuln(fmt.Sprintf("line %d", line), false), nil)
		})
	}
	return dec.Skip()
}

// eachChild calls fn for each child element named local of the element
// just opened, skipping others, up to its end. fn must consume the child.
func eachChild(ctx context.Context, dec *ingest.XMLDecoder, local string, fn func(se xml.StartElement, line int) error) error {
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		line, _ := dec.InputPos()
		tok, err := dec.Token()
		if err != nil {
			return err
		}
		switch t := tok.(type) {
		case xml.EndElement:
			return nil
		case xml.StartElement:
			if t.Name.Local != local {
				if err := dec.Skip(); err != nil {
					return err
				}
				continue
			}
			if err := fn(t, line); err != nil {
				return err
			}
		}
	}
}

// xmlComponents records components, depth first, with the extension's
// vulnerabilities nested in them.
// line is the line of the top-level component they are read from.
func (p *parser) xmlComponents(ctx context.Context, cs []xmlComponent, line int) error {
	for i := range cs {
		if err := ctx.Err(); err != nil {
			return err
		}
		c := cs[i].component()
		if err := p.addComponent(c); err != nil {
			return err
		}
		for j := range cs[i].Vulns {
			ptr := fmt.Sprintf("line %d", line)
			if err := p.vulnerability(cs[i].Vulns[j].vuln(ptr, true), c); err != nil {
				return err
			}
		}
		if err := p.xmlComponents(ctx, cs[i].Components, line); err != nil {
			return err
		}
	}
	return nil
}
