// Package export writes ctem's exposures and attack paths in the formats
// other security tools read: SARIF 2.1.0 for code scanning, CycloneDX 1.6
// VEX and OpenVEX for SBOM tools, OCSF events for SIEMs, and CSV for
// spreadsheets. Each format is a streaming writer behind one interface per
// result kind, as govulncheck's Handler is: the caller begins a document,
// hands over exposures (and paths) one at a time, and ends it; nothing
// holds the whole listing in memory.
package export

import (
	"context"
	"errors"
	"fmt"
	"io"
	"iter"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/ctem-dev/ctem/internal/graph"
	"github.com/ctem-dev/ctem/internal/model"
)

// Info describes the document being written: which tool and version wrote
// it, when, and on whose authority.
type Info struct {
	// Tool and Version name the producer ("ctem", "v0.3.0").
	Tool    string
	Version string
	// Time is when the document was made; it is written in UTC.
	Time time.Time
	// Author is who stands behind the statements (VEX formats).
	Author string
	// Subject names what the document is about, when it is one asset (an
	// image exported with --asset): VEX formats name it as their product.
	// Empty means the whole estate.
	Subject string
}

// Exposure is one exposure with the evidence known about it.
type Exposure struct {
	model.Exposure
	Evidence []model.Evidence
}

// Path is one attack path with the exposures its steps name, by id, so a
// writer can point at their locations.
type Path struct {
	graph.Path
	Exposures map[string]model.Exposure
}

// Writer is what every format implements: Begin starts the document, End
// finishes it and flushes. A writer is used for one document; after an
// error it may have written part of one.
type Writer interface {
	Begin(info Info) error
	End() error
}

// ExposureWriter writes exposures, one call each, between Begin and End.
type ExposureWriter interface {
	Writer
	Exposure(x *Exposure) error
}

// PathWriter writes attack paths, one call each, between Begin and End.
// A format that takes both exposures and paths (SARIF, OCSF) implements
// both interfaces on one value and puts them in one document; paths come
// after exposures.
type PathWriter interface {
	Writer
	Path(p *Path) error
}

// Formats lists the export formats by the name --format takes.
var Formats = []string{"sarif", "cyclonedx-vex", "openvex", "ocsf", "csv"}

// ErrUnknownFormat is returned by New for a format name it does not know.
var ErrUnknownFormat = errors.New("unknown export format")

// New returns the writer of the named format, writing to w.
func New(format string, w io.Writer) (ExposureWriter, error) {
	switch format {
	case "sarif":
		return NewSARIF(w), nil
	case "cyclonedx-vex", "cyclonedx":
		return NewCycloneDX(w), nil
	case "openvex":
		return NewOpenVEX(w), nil
	case "ocsf":
		return NewOCSF(w), nil
	case "csv":
		return NewCSV(w), nil
	}
	return nil, fmt.Errorf("%w %q (want %s)", ErrUnknownFormat, format, strings.Join(Formats, ", "))
}

// Run writes one document: Begin, every exposure, every path when w is a
// PathWriter (paths may be nil), End. It stops at the first error,
// whether from a sequence or from w, and at ctx's cancellation.
func Run(ctx context.Context, w ExposureWriter, info Info, exposures iter.Seq2[Exposure, error], paths iter.Seq2[Path, error]) error {
	if err := w.Begin(info); err != nil {
		return err
	}
	for x, err := range exposures {
		if err != nil {
			return err
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		if err := w.Exposure(&x); err != nil {
			return err
		}
	}
	if pw, ok := w.(PathWriter); ok && paths != nil {
		for p, err := range paths {
			if err != nil {
				return err
			}
			if err := ctx.Err(); err != nil {
				return err
			}
			if err := pw.Path(&p); err != nil {
				return err
			}
		}
	}
	return w.End()
}

// TakesPaths reports whether the named format writes attack paths.
func TakesPaths(format string) bool {
	return format == "sarif" || format == "ocsf"
}

// weaknessID names an exposure's weakness: its first vulnerability id
// (the canonical one, CVE first), else its rule.
func weaknessID(x *model.Exposure) string {
	if len(x.VulnIDs) > 0 {
		return x.VulnIDs[0]
	}
	if x.RuleID != "" {
		return x.RuleID
	}
	return "ctem/" + string(x.Kind)
}

// title is the exposure's title, else its weakness on its asset.
func title(x *model.Exposure) string {
	if t := strings.TrimSpace(x.Title); t != "" {
		return t
	}
	return weaknessID(x) + " on " + x.Asset
}

// cves returns the CVE ids among ids.
func cves(ids []string) []string {
	var out []string
	for _, id := range ids {
		if strings.HasPrefix(id, "CVE-") {
			out = append(out, id)
		}
	}
	return out
}

// pathSeverity is the severity of an attack path: its risk, likelihood
// times the jewel's value (1 to 10), read on the CVSS scale, so a
// near-certain path to the most valuable jewel is critical.
func pathSeverity(p *graph.Path) model.Severity {
	return model.SeverityFromScore(min(p.Risk, 10))
}

// pathAssets lists the assets a path goes through, entry first, each once.
func pathAssets(p *graph.Path) []string {
	var out []string
	add := func(state string) {
		_, asset, ok := strings.Cut(state, ":")
		if !ok || asset == "" {
			return
		}
		if !slices.Contains(out, asset) {
			out = append(out, asset)
		}
	}
	add(p.Entry)
	for _, s := range p.Steps {
		if s.Asset != "" && !slices.Contains(out, s.Asset) {
			out = append(out, s.Asset)
		} else {
			add(s.To)
		}
	}
	return out
}

// assetURI turns an asset key into a relative URI reference for formats
// that want a location where an asset has no file: "ctem-asset/" and the
// key, percent-encoded.
func assetURI(key string) string {
	return "ctem-asset/" + url.PathEscape(key)
}

// fileURI turns a path from a report into a relative URI reference: each
// segment percent-encoded, so spaces and odd characters stay valid.
func fileURI(p string) string {
	p = strings.TrimPrefix(strings.ReplaceAll(p, `\`, "/"), "./")
	segs := strings.Split(p, "/")
	for i, s := range segs {
		segs[i] = url.PathEscape(s)
	}
	u := strings.Join(segs, "/")
	if strings.HasPrefix(u, "/") || strings.Contains(strings.SplitN(u, "/", 2)[0], ":") {
		// An absolute path, or a first segment that looks like a scheme:
		// keep it relative and unambiguous.
		u = "./" + strings.TrimLeft(u, "/")
	}
	return u
}

// ms is a time as milliseconds since the epoch (OCSF's timestamp_t), 0
// for the zero time.
func ms(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixMilli()
}
