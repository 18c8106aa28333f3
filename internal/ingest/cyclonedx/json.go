package cyclonedx

import (
	"context"
	"strings"

	"github.com/go-json-experiment/json/jsontext"

	"github.com/ctem-dev/ctem/internal/ingest"
)

// FormatJSON is CycloneDX JSON.
var FormatJSON = ingest.Format{
	Version: ParserVersion,
	Name:    "cyclonedx-json",
	Title:   "CycloneDX JSON SBOM or VEX (1.2 to 1.7)",
	Detect:  DetectJSON,
	Parse:   ParseJSON,
}

// DetectJSON accepts a JSON object whose bomFormat is "CycloneDX".
func DetectJSON(s *ingest.Sniff) bool {
	return s.Kind == ingest.SniffJSONObject && s.Get("bomFormat") == "CycloneDX"
}

type jsonProperty struct {
	Name  string `json:"name"`
	Value string `json:"value"`
}

type jsonComponent struct {
	Ref        string          `json:"bom-ref"`
	Type       string          `json:"type"`
	Group      string          `json:"group"`
	Name       string          `json:"name"`
	Version    ingest.Text     `json:"version"`
	PURL       string          `json:"purl"`
	Properties []jsonProperty  `json:"properties"`
	Components []jsonComponent `json:"components"`
}

func (j *jsonComponent) component() *component {
	c := &component{Ref: j.Ref, Type: j.Type, Group: j.Group, Name: j.Name, Version: j.Version.String(), PURL: j.PURL}
	for _, p := range j.Properties {
		c.setProperty(p.Name, p.Value)
	}
	return c
}

type jsonSource struct {
	Name string `json:"name"`
	URL  string `json:"url"`
}

type jsonVuln struct {
	ID         string     `json:"id"`
	Source     jsonSource `json:"source"`
	References []struct {
		ID string `json:"id"`
	} `json:"references"`
	Ratings []struct {
		Source   jsonSource  `json:"source"`
		Score    ingest.Text `json:"score"`
		Severity string      `json:"severity"`
		Method   string      `json:"method"`
		Vector   string      `json:"vector"`
	} `json:"ratings"`
	CWEs           []ingest.Text `json:"cwes"`
	Description    string        `json:"description"`
	Detail         string        `json:"detail"`
	Recommendation string        `json:"recommendation"`
	Advisories     []struct {
		Title string `json:"title"`
		URL   string `json:"url"`
	} `json:"advisories"`
	Analysis struct {
		State         string   `json:"state"`
		Justification string   `json:"justification"`
		Response      []string `json:"response"`
		Detail        string   `json:"detail"`
	} `json:"analysis"`
	Affects []struct {
		Ref string `json:"ref"`
	} `json:"affects"`
}

func (j *jsonVuln) vuln(ptr string) *vuln {
	v := &vuln{
		ID:             j.ID,
		Source:         j.Source.Name,
		SourceURL:      j.Source.URL,
		Description:    j.Description,
		Detail:         j.Detail,
		Recommendation: j.Recommendation,
		State:          j.Analysis.State,
		Justification:  j.Analysis.Justification,
		Responses:      j.Analysis.Response,
		AnalysisDetail: j.Analysis.Detail,
		Pointer:        ptr,
	}
	for _, r := range j.References {
		if r.ID != "" {
			v.Aliases = append(v.Aliases, r.ID)
		}
	}
	for _, r := range j.Ratings {
		v.Ratings = append(v.Ratings, rating{Source: r.Source.Name, Score: r.Score.String(), Severity: r.Severity, Method: r.Method, Vector: r.Vector})
	}
	for _, c := range j.CWEs {
		v.CWEs = append(v.CWEs, c.String())
	}
	for _, a := range j.Advisories {
		v.Advisories = append(v.Advisories, a.URL)
	}
	for _, a := range j.Affects {
		if a.Ref != "" {
			v.Affects = append(v.Affects, a.Ref)
		}
	}
	return v
}

// jsonTool is a tool of metadata.tools: an entry of the legacy array or a
// component of the 1.5 object.
type jsonTool struct {
	Name    string      `json:"name"`
	Version ingest.Text `json:"version"`
}

// ParseJSON reads a CycloneDX JSON BOM from in and emits its target, its
// components and its vulnerabilities.
func ParseJSON(ctx context.Context, in *ingest.Input, sink ingest.Sink) error {
	p := newParser(in, sink, "cyclonedx-json")
	dec := in.JSONDecoder()
	err := p.parseJSON(ctx, dec)
	return ingest.AsInputError(in, dec.InputOffset(), err)
}

func (p *parser) parseJSON(ctx context.Context, dec *jsontext.Decoder) error {
	if k := dec.PeekKind(); k != '{' && k != 0 {
		return p.in.Errorf(0, "not a CycloneDX BOM: expected a JSON object")
	}
	var format string
	err := ingest.WalkObject(dec, func(name string) error {
		switch name {
		case "bomFormat":
			if err := ingest.DecodeJSON(dec, &format); err != nil {
				return err
			}
			if format != "CycloneDX" {
				return p.in.Errorf(dec.InputOffset(), "not a CycloneDX BOM: bomFormat is %q", format)
			}
			return nil
		case "specVersion":
			var v ingest.Text
			if err := ingest.DecodeJSON(dec, &v); err != nil {
				return err
			}
			return p.checkSpecVersion(dec.InputOffset(), v.String())
		case "metadata":
			var m struct {
				Tools     jsontext.Value `json:"tools"`
				Component *jsonComponent `json:"component"`
			}
			if err := ingest.DecodeJSON(dec, &m); err != nil {
				return err
			}
			md := meta{}
			if t, ok := firstTool(m.Tools); ok {
				md.Tool, md.ToolVersion = t.Name, t.Version.String()
			}
			if m.Component != nil {
				md.Component = m.Component.component()
				// Components nested in the target are part of it.
				if err := p.setMeta(md); err != nil {
					return err
				}
				return p.jsonComponents(ctx, m.Component.Components)
			}
			return p.setMeta(md)
		case "components":
			return ingest.WalkArray(dec, func() error {
				if err := ctx.Err(); err != nil {
					return err
				}
				var c jsonComponent
				if err := ingest.DecodeJSON(dec, &c); err != nil {
					return err
				}
				return p.jsonComponents(ctx, []jsonComponent{c})
			})
		case "vulnerabilities":
			return ingest.WalkItems(ctx, dec, func(i int) error {
				var v jsonVuln
				if err := ingest.DecodeJSON(dec, &v); err != nil {
					return err
				}
				return p.vulnerability(v.vuln(pointer("vulnerabilities", i)), nil)
			})
		}
		return dec.SkipValue()
	})
	if err != nil {
		return err
	}
	if format == "" {
		return p.in.Errorf(dec.InputOffset(), "not a CycloneDX BOM: no bomFormat")
	}
	if err := ingest.ExpectEOF(p.in, dec); err != nil {
		return err
	}
	return p.finish()
}

// jsonComponents records components and, depth first, the components
// nested in them.
func (p *parser) jsonComponents(ctx context.Context, cs []jsonComponent) error {
	for i := range cs {
		if err := ctx.Err(); err != nil {
			return err
		}
		if err := p.addComponent(cs[i].component()); err != nil {
			return err
		}
		if err := p.jsonComponents(ctx, cs[i].Components); err != nil {
			return err
		}
	}
	return nil
}

// firstTool returns the first tool metadata.tools names, in either of its
// shapes: an array of tools (up to 1.4) or an object of components and
// services (1.5 and later).
func firstTool(raw jsontext.Value) (jsonTool, bool) {
	raw = jsontext.Value(strings.TrimSpace(string(raw)))
	if len(raw) == 0 {
		return jsonTool{}, false
	}
	var list []jsonTool
	switch raw[0] {
	case '[':
		if ingest.UnmarshalJSON(raw, &list) != nil {
			return jsonTool{}, false
		}
	case '{':
		var obj struct {
			Components []jsonTool `json:"components"`
			Services   []jsonTool `json:"services"`
		}
		if ingest.UnmarshalJSON(raw, &obj) != nil {
			return jsonTool{}, false
		}
		list = append(obj.Components, obj.Services...)
	}
	for _, t := range list {
		if strings.TrimSpace(t.Name) != "" {
			return t, true
		}
	}
	return jsonTool{}, false
}
