// Package gosecjson parses the JSON reports of gosec, the Go security
// checker (gosec -fmt=json). gosec's SARIF output is read by the sarif
// package.
package gosecjson

import (
	"context"
	"fmt"
	"strconv"
	"strings"

	"github.com/go-json-experiment/json/jsontext"

	"github.com/ctem-dev/ctem/internal/ingest"
	"github.com/ctem-dev/ctem/internal/model"
)

// Tool is the tool name findings carry.
const Tool = "gosec"

const formatName = "gosec-json"

// Format is gosec's JSON report.
var Format = ingest.Format{
	Version: ParserVersion,
	Name:    formatName,
	Title:   "gosec JSON (gosec -fmt=json)",
	Detect:  Detect,
	Parse:   Parse,
}

// Detect accepts an object with an Issues array and gosec's Stats or
// version, or issues that carry a rule_id and details.
func Detect(s *ingest.Sniff) bool {
	if s.Kind != ingest.SniffJSONObject {
		return false
	}
	if s.HasAll("Issues[].rule_id", "Issues[].details") {
		return true
	}
	return s.Has("Issues") && (s.Has("GosecVersion") || s.HasAll("Stats.files", "Stats.found"))
}

type issue struct {
	Severity   string `json:"severity"`
	Confidence string `json:"confidence"`
	CWE        struct {
		ID  ingest.Text `json:"id"`
		URL string      `json:"url"`
	} `json:"cwe"`
	RuleID       string      `json:"rule_id"`
	Details      string      `json:"details"`
	File         string      `json:"file"`
	Code         string      `json:"code"`
	Line         ingest.Text `json:"line"`
	Column       ingest.Text `json:"column"`
	NoSec        bool        `json:"nosec"`
	Suppressions []struct {
		Kind          string `json:"kind"`
		Justification string `json:"justification"`
	} `json:"suppressions"`
	Autofix string `json:"autofix"`
}

type parser struct {
	in      *ingest.Input
	sink    ingest.Sink
	dec     *jsontext.Decoder
	version string
	began   bool
	asset   string
	places  map[string]int
}

// Parse reads a gosec report from in and emits one scan and its findings.
func Parse(ctx context.Context, in *ingest.Input, sink ingest.Sink) error {
	p := &parser{in: in, sink: sink, dec: in.JSONDecoder(), places: map[string]int{}}
	err := p.parse(ctx)
	return ingest.AsInputError(in, p.dec.InputOffset(), err)
}

func (p *parser) parse(ctx context.Context) error {
	if err := ingest.ExpectStart(p.in, p.dec, '{', "a gosec report"); err != nil {
		return err
	}
	err := ingest.WalkObject(p.dec, func(name string) error {
		switch name {
		case "GosecVersion":
			var v ingest.Text
			if err := ingest.DecodeJSON(p.dec, &v); err != nil {
				return err
			}
			p.version = v.String()
			return nil
		case "Issues":
			if err := p.begin(); err != nil {
				return err
			}
			return ingest.WalkItems(ctx, p.dec, func(i int) error {
				return p.issue(i)
			})
		}
		return p.dec.SkipValue()
	})
	if err != nil {
		return err
	}
	if err := p.begin(); err != nil {
		return err
	}
	return ingest.ExpectEOF(p.in, p.dec)
}

// begin starts the scan. A gosec report does not name the module it
// scanned: the target is the user's --target.
func (p *parser) begin() error {
	if p.began {
		return nil
	}
	p.began = true
	target := p.in.TargetOr("")
	if target == "" {
		p.in.Warn("%s: a gosec report names no project; pass --target to name the repository it scanned", p.in.Name)
		target, p.asset = "unknown", model.FileKey("unknown")
	} else {
		p.asset = model.ProjectKey(target)
	}
	return p.sink.BeginScan(model.Scan{ParserVersion: ParserVersion, Tool: Tool, ToolVersion: p.version, Format: formatName, Target: target, Asset: p.asset})
}

// lines reads gosec's line field: "12", or a range "12-14".
func lines(t ingest.Text) (from, to int) {
	a, b, ok := strings.Cut(strings.TrimSpace(t.String()), "-")
	from = ingest.Text(a).Int()
	to = from
	if ok {
		if n := ingest.Text(b).Int(); n > from {
			to = n
		}
	}
	return from, to
}

func (p *parser) issue(i int) error {
	var is issue
	if err := ingest.DecodeJSON(p.dec, &is); err != nil {
		return err
	}
	from, to := lines(is.Line)
	f := &model.Finding{
		Tool:         Tool,
		Kind:         model.FindingCode,
		RuleID:       is.RuleID,
		Severity:     model.ParseSeverity(is.Severity),
		ToolSeverity: is.Severity,
		Title:        strings.TrimSpace(is.Details),
		Asset:        p.asset,
		Location: model.Location{
			Path:    is.File,
			Line:    from,
			Column:  is.Column.Int(),
			Snippet: snippet(is.Code, from, to),
		},
		Pointer: fmt.Sprintf("/Issues/%d", i),
	}
	if to > from {
		f.Location.EndLine = to
	}
	if f.Title == "" {
		f.Title = is.RuleID
	}
	d := []string{strings.TrimSpace(is.Details)}
	if is.Confidence != "" {
		d = append(d, "Confidence: "+is.Confidence)
	}
	if is.CWE.URL != "" {
		d = append(d, "See "+is.CWE.URL)
	}
	if is.Autofix != "" {
		d = append(d, "Autofix: "+is.Autofix)
	}
	f.Description = strings.Join(d, "\n\n")
	if c := model.NormalizeCWE(is.CWE.ID.String()); c != "" {
		f.CWEs = []string{c}
	}
	var why []string
	if is.NoSec {
		why = append(why, "nosec")
	}
	for _, s := range is.Suppressions {
		w := s.Kind
		if s.Justification != "" {
			w += ": " + s.Justification
		}
		if w != "" {
			why = append(why, w)
		}
	}
	if is.NoSec || len(is.Suppressions) > 0 {
		f.Status = model.StatusAccepted
		f.ToolStatus = "suppressed"
		if len(why) > 0 {
			f.ToolStatus += " (" + strings.Join(why, "; ") + ")"
		}
	}
	key := is.RuleID + "\x00" + is.File + "\x00" + strings.Join(strings.Fields(f.Location.Snippet), " ")
	f.Location.Occurrence = p.places[key]
	p.places[key]++
	return p.sink.Finding(f)
}

// snippet returns the lines from..to of code, a context excerpt whose
// lines begin with their numbers ("12: x := 1"), without the numbers, so
// that the snippet does not change when the code moves. Code without line
// numbers is returned trimmed.
func snippet(code string, from, to int) string {
	var out []string
	numbered := false
	for l := range strings.SplitSeq(code, "\n") {
		l = strings.TrimRight(l, "\r")
		j := 0
		for j < len(l) && l[j] >= '0' && l[j] <= '9' {
			j++
		}
		if j == 0 || (j < len(l) && l[j] != ':') {
			continue
		}
		n, err := strconv.Atoi(l[:j])
		if err != nil {
			continue
		}
		numbered = true
		if n < from || n > to {
			continue
		}
		out = append(out, strings.TrimPrefix(strings.TrimPrefix(l[j:], ":"), " "))
	}
	if !numbered {
		return strings.TrimSpace(code)
	}
	return strings.TrimSpace(strings.Join(out, "\n"))
}
