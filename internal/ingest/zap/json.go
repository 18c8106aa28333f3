package zap

import (
	"context"
	"fmt"

	"github.com/go-json-experiment/json/jsontext"

	"github.com/ctem-dev/ctem/internal/ingest"
)

// FormatJSON is ZAP's traditional JSON report: {"@version", "site": [{"@name",
// "@host", "@port", "@ssl", "alerts": [...]}]}.
var FormatJSON = ingest.Format{
	Version: ParserVersion,
	Name:    nameJSON,
	Title:   "OWASP ZAP traditional JSON report",
	Detect:  DetectJSON,
	Parse:   ParseJSON,
}

// DetectJSON accepts a JSON object with ZAP's "@version" member and a
// "site" list (or ZAP's "@programName").
func DetectJSON(s *ingest.Sniff) bool {
	if s.Kind != ingest.SniffJSONObject || !s.Has("site") {
		return false
	}
	if s.Get("@programName") == "ZAP" {
		return true
	}
	return s.Has("@version") && (s.Has("@generated") || s.HasAny("site[].@name", "site[].alerts"))
}

// ParseJSON reads a ZAP JSON report from in, one alert at a time, and emits
// a scan per site and a finding per alert instance.
func ParseJSON(ctx context.Context, in *ingest.Input, sink ingest.Sink) error {
	dec := in.JSONDecoder()
	err := parseJSON(ctx, in, dec, sink)
	return ingest.AsInputError(in, dec.InputOffset(), err)
}

func parseJSON(ctx context.Context, in *ingest.Input, dec *jsontext.Decoder, sink ingest.Sink) error {
	if k := dec.PeekKind(); k != '{' {
		if _, err := dec.ReadToken(); err != nil {
			return err
		}
		return in.Errorf(0, "not a ZAP report: expected an object")
	}
	var version string
	began := false
	err := ingest.WalkObject(dec, func(name string) error {
		switch name {
		case "@version":
			var v ingest.Text
			if err := ingest.DecodeJSON(dec, &v); err != nil {
				return err
			}
			version = v.String()
			return nil
		case "site":
			return ingest.WalkItems(ctx, dec, func(i int) error {
				began = true
				return jsonSite(ctx, in, dec, sink, version, fmt.Sprintf("/site/%d", i))
			})
		}
		return dec.SkipValue()
	})
	if err != nil {
		return err
	}
	if !began {
		if _, err := beginSite(in, sink, site{}, version, nameJSON); err != nil {
			return err
		}
	}
	return ingest.ExpectEOF(in, dec)
}

// jsonSite reads one site. Its attributes come before its alerts in ZAP's
// output; the scan begins at the alerts, or at the end of a site without
// any.
func jsonSite(ctx context.Context, in *ingest.Input, dec *jsontext.Decoder, sink ingest.Sink, version, ptr string) error {
	var s site
	var asset string
	began := false
	begin := func() error {
		if began {
			return nil
		}
		began = true
		var err error
		asset, err = beginSite(in, sink, s, version, nameJSON)
		return err
	}
	err := ingest.WalkObject(dec, func(name string) error {
		var dst *string
		switch name {
		case "@name":
			dst = &s.Name
		case "@host":
			dst = &s.Host
		case "@port":
			dst = &s.Port
		case "@ssl":
			dst = &s.SSL
		case "alerts":
			if err := begin(); err != nil {
				return err
			}
			return ingest.WalkItems(ctx, dec, func(i int) error {
				var a alert
				if err := ingest.DecodeJSON(dec, &a); err != nil {
					return err
				}
				for _, f := range findings(in, &a, asset, func(j int) string { return fmt.Sprintf("%s/alerts/%d/instances/%d", ptr, i, j) }) {
					if err := sink.Finding(f); err != nil {
						return err
					}
				}
				return nil
			})
		default:
			return dec.SkipValue()
		}
		var v ingest.Text
		if err := ingest.DecodeJSON(dec, &v); err != nil {
			return err
		}
		*dst = v.String()
		return nil
	})
	if err != nil {
		return err
	}
	return begin()
}
