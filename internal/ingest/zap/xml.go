package zap

import (
	"context"
	"encoding/xml"
	"errors"
	"fmt"
	"io"

	"github.com/ctem-dev/ctem/internal/ingest"
)

// FormatXML is ZAP's traditional XML report (root element OWASPZAPReport),
// with or without requests and responses.
var FormatXML = ingest.Format{
	Version: ParserVersion,
	Name:    nameXML,
	Title:   "OWASP ZAP traditional XML report",
	Detect:  DetectXML,
	Parse:   ParseXML,
}

// DetectXML accepts an XML document whose root is OWASPZAPReport.
func DetectXML(s *ingest.Sniff) bool {
	return s.Kind == ingest.SniffXML && s.XMLRoot.Local == "OWASPZAPReport"
}

// ParseXML reads a ZAP XML report from in, one alertitem at a time, and
// emits a scan per site and a finding per alert instance.
func ParseXML(ctx context.Context, in *ingest.Input, sink ingest.Sink) error {
	dec := in.XMLDecoder()
	return ingest.AsXMLInputError(in, dec, parseXML(ctx, in, dec, sink))
}

func parseXML(ctx context.Context, in *ingest.Input, dec *ingest.XMLDecoder, sink ingest.Sink) error {
	var (
		root    bool
		version string
		began   bool
		asset   string
		depth   int
	)
	for {
		tok, err := dec.Token()
		if errors.Is(err, io.EOF) {
			if !root {
				return in.Errorf(dec.InputOffset(), "not a ZAP report: no OWASPZAPReport element")
			}
			if depth != 0 {
				return io.ErrUnexpectedEOF
			}
			break
		}
		if err != nil {
			return err
		}
		switch t := tok.(type) {
		case xml.StartElement:
			depth++
			if !root {
				if t.Name.Local != "OWASPZAPReport" {
					return in.Errorf(dec.InputOffset(), "not a ZAP report: root element <%s>", t.Name.Local)
				}
				root = true
				version = attr(t, "version")
				continue
			}
			switch t.Name.Local {
			case "site":
				s := site{Name: attr(t, "name"), Host: attr(t, "host"), Port: attr(t, "port"), SSL: attr(t, "ssl")}
				if asset, err = beginSite(in, sink, s, version, nameXML); err != nil {
					return err
				}
				began = true
			case "alertitem":
				if err := ctx.Err(); err != nil {
					return err
				}
				line, _ := dec.InputPos()
				if !began {
					if asset, err = beginSite(in, sink, site{}, version, nameXML); err != nil {
						return err
					}
					began = true
				}
				var a alert
				if err := dec.DecodeElement(&a, &t); err != nil {
					return err
				}
				depth--
				ptr := func(i int) string { return fmt.Sprintf("line %d: instance %d", line, i) }
				for _, f := range findings(in, &a, asset, ptr) {
					if err := sink.Finding(f); err != nil {
						return err
					}
				}
			}
		case xml.EndElement:
			depth--
		}
	}
	if !began {
		// A report of no site still says that nothing was found.
		if _, err := beginSite(in, sink, site{}, version, nameXML); err != nil {
			return err
		}
	}
	return nil
}

func attr(se xml.StartElement, name string) string {
	for _, a := range se.Attr {
		if a.Name.Local == name {
			return a.Value
		}
	}
	return ""
}
