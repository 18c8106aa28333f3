// Package bandit parses the JSON reports of Bandit, the Python security
// linter (bandit -f json). Each result is a code finding.
package bandit

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
const Tool = "bandit"

const formatName = "bandit"

// Format is Bandit's JSON report.
var Format = ingest.Format{
	Version: ParserVersion,
	Name:    formatName,
	Title:   "Bandit JSON (bandit -f json)",
	Detect:  Detect,
	Parse:   Parse,
}

// Detect accepts an object whose results carry a test_id and an issue
// severity, or a report with Bandit's totals and generation time.
func Detect(s *ingest.Sniff) bool {
	if s.Kind != ingest.SniffJSONObject {
		return false
	}
	if s.HasAll("results[].test_id", "results[].issue_severity") {
		return true
	}
	// metrics comes before results and may fill the sniffed head.
	return s.HasAll("generated_at", "metrics._totals") && s.HasAny("metrics._totals.loc", "metrics._totals.nosec")
}

type result struct {
	TestID          string `json:"test_id"`
	TestName        string `json:"test_name"`
	IssueSeverity   string `json:"issue_severity"`
	IssueConfidence string `json:"issue_confidence"`
	IssueCWE        struct {
		ID   ingest.Text `json:"id"`
		Link string      `json:"link"`
	} `json:"issue_cwe"`
	IssueText  string        `json:"issue_text"`
	Filename   string        `json:"filename"`
	LineNumber ingest.Text   `json:"line_number"`
	LineRange  []ingest.Text `json:"line_range"`
	ColOffset  ingest.Text   `json:"col_offset"`
	Code       string        `json:"code"`
	MoreInfo   string        `json:"more_info"`
}

type parser struct {
	in     *ingest.Input
	sink   ingest.Sink
	dec    *jsontext.Decoder
	began  bool
	asset  string
	places map[string]int
}

// Parse reads a Bandit report from in and emits one scan and its findings.
func Parse(ctx context.Context, in *ingest.Input, sink ingest.Sink) error {
	p := &parser{in: in, sink: sink, dec: in.JSONDecoder(), places: map[string]int{}}
	err := p.parse(ctx)
	return ingest.AsInputError(in, p.dec.InputOffset(), err)
}

func (p *parser) parse(ctx context.Context) error {
	if err := ingest.ExpectStart(p.in, p.dec, '{', "a Bandit report"); err != nil {
		return err
	}
	err := ingest.WalkObject(p.dec, func(name string) error {
		if name != "results" {
			return p.dec.SkipValue()
		}
		if err := p.begin(); err != nil {
			return err
		}
		return ingest.WalkItems(ctx, p.dec, func(i int) error {
			return p.result(i)
		})
	})
	if err != nil {
		return err
	}
	if err := p.begin(); err != nil {
		return err
	}
	return ingest.ExpectEOF(p.in, p.dec)
}

// begin starts the scan. A Bandit report does not name the project it
// scanned: the target is the user's --target.
func (p *parser) begin() error {
	if p.began {
		return nil
	}
	p.began = true
	target := p.in.TargetOr("")
	if target == "" {
		p.in.Warn("%s: a Bandit report names no project; pass --target to name the repository it scanned", p.in.Name)
		target, p.asset = "unknown", model.FileKey("unknown")
	} else {
		p.asset = model.ProjectKey(target)
	}
	return p.sink.BeginScan(model.Scan{ParserVersion: ParserVersion, Tool: Tool, Format: formatName, Target: target, Asset: p.asset})
}

func (p *parser) result(i int) error {
	var r result
	if err := ingest.DecodeJSON(p.dec, &r); err != nil {
		return err
	}
	line := r.LineNumber.Int()
	end := line
	for _, l := range r.LineRange {
		if n := l.Int(); n > end {
			end = n
		}
	}
	f := &model.Finding{
		Tool:         Tool,
		Kind:         model.FindingCode,
		RuleID:       r.TestID,
		Severity:     model.ParseSeverity(r.IssueSeverity),
		ToolSeverity: r.IssueSeverity,
		Title:        strings.TrimSpace(r.IssueText),
		Asset:        p.asset,
		Location: model.Location{
			Path:    r.Filename,
			Line:    line,
			Column:  r.ColOffset.Int() + 1,
			Snippet: snippet(r.Code, line, end),
		},
		Pointer: fmt.Sprintf("/results/%d", i),
	}
	if r.ColOffset == "" {
		f.Location.Column = 0
	}
	if end > line {
		f.Location.EndLine = end
	}
	if f.Title == "" {
		f.Title = r.TestName
	}
	var d []string
	d = append(d, strings.TrimSpace(r.IssueText))
	if r.TestName != "" {
		d = append(d, "Test: "+r.TestID+" "+r.TestName)
	}
	if r.IssueConfidence != "" {
		d = append(d, "Confidence: "+r.IssueConfidence)
	}
	if r.MoreInfo != "" {
		d = append(d, "More info: "+r.MoreInfo)
	}
	f.Description = strings.Join(d, "\n\n")
	if c := model.NormalizeCWE(r.IssueCWE.ID.String()); c != "" {
		f.CWEs = []string{c}
	}
	key := r.TestID + "\x00" + r.Filename + "\x00" + strings.Join(strings.Fields(f.Location.Snippet), " ")
	f.Location.Occurrence = p.places[key]
	p.places[key]++
	return p.sink.Finding(f)
}

// snippet returns the lines from..to of code, a context excerpt whose
// lines begin with their numbers ("12 x = 1" in Bandit, "12: x = 1" in
// gosec), without the numbers, so that the snippet does not change when
// the code moves. Code without line numbers is returned trimmed.
func snippet(code string, from, to int) string {
	var out []string
	numbered := false
	for l := range strings.SplitSeq(code, "\n") {
		l = strings.TrimRight(l, "\r")
		j := 0
		for j < len(l) && l[j] >= '0' && l[j] <= '9' {
			j++
		}
		if j == 0 || (j < len(l) && l[j] != ' ' && l[j] != ':') {
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
		rest := l[j:]
		rest = strings.TrimPrefix(rest, ":")
		rest = strings.TrimPrefix(rest, " ")
		out = append(out, rest)
	}
	if !numbered {
		return strings.TrimSpace(code)
	}
	return strings.TrimSpace(strings.Join(out, "\n"))
}
