// Package checkov parses the JSON reports of Bridgecrew's Checkov, the
// infrastructure-as-code scanner: one report object per framework
// (terraform, kubernetes, dockerfile, ...), or a list of them when several
// frameworks ran. Failed checks become findings, skipped (suppressed)
// checks become accepted findings, and passed checks are dropped.
package checkov

import (
	"context"
	"fmt"
	"strings"

	"github.com/go-json-experiment/json/jsontext"

	"github.com/ctem-dev/ctem/internal/ingest"
	"github.com/ctem-dev/ctem/internal/model"
)

// Tool is the tool name findings carry.
const Tool = "checkov"

// Format is the Checkov JSON format (checkov -o json).
var Format = ingest.Format{
	Version: ParserVersion,
	Name:    "checkov",
	Title:   "Checkov JSON (one framework or a list of frameworks)",
	Detect:  Detect,
	Parse:   Parse,
}

// Detect accepts a report object with check_type and results, a list of
// them, or the summary-only object Checkov writes when it found nothing
// to scan.
func Detect(s *ingest.Sniff) bool {
	switch s.Kind {
	case ingest.SniffJSONObject:
		if s.HasAll("check_type", "results") {
			return true
		}
		return s.HasAll("checkov_version", "passed", "failed", "resource_count")
	case ingest.SniffJSONArray:
		return s.HasAll("[].check_type", "[].results")
	}
	return false
}

// check is one entry of failed_checks or skipped_checks.
type check struct {
	CheckID     string `json:"check_id"`
	BCCheckID   string `json:"bc_check_id"`
	CheckName   string `json:"check_name"`
	CheckResult struct {
		Result          string `json:"result"`
		SuppressComment string `json:"suppress_comment"`
	} `json:"check_result"`
	FilePath      string        `json:"file_path"`
	FileLineRange []ingest.Text `json:"file_line_range"`
	Resource      string        `json:"resource"`
	Guideline     string        `json:"guideline"`
	Severity      ingest.Text   `json:"severity"`
	Description   string        `json:"description"`
	ShortDesc     string        `json:"short_description"`
	Details       []string      `json:"details"`
	VulnDetails   *struct {
		ID             string      `json:"id"`
		PackageName    string      `json:"package_name"`
		PackageVersion string      `json:"package_version"`
		FixedVersion   string      `json:"fixed_version"`
		CVSS           ingest.Text `json:"cvss"`
		Vector         string      `json:"vector"`
		Description    string      `json:"description"`
		Link           string      `json:"link"`
	} `json:"vulnerability_details"`
}

type parser struct {
	in     *ingest.Input
	sink   ingest.Sink
	dec    *jsontext.Decoder
	began  bool
	asset  string
	target string
}

// Parse reads a Checkov report from in and emits its findings. The report
// does not name the repository it scanned: the scan's target is the
// user's --target, else "unknown" with a warning.
func Parse(ctx context.Context, in *ingest.Input, sink ingest.Sink) error {
	p := &parser{in: in, sink: sink, dec: in.JSONDecoder()}
	err := p.parse(ctx)
	if err == nil {
		err = ingest.ExpectEOF(in, p.dec)
	}
	return ingest.AsInputError(in, p.dec.InputOffset(), err)
}

func (p *parser) parse(ctx context.Context) error {
	switch p.dec.PeekKind() {
	case '[':
		err := ingest.WalkItems(ctx, p.dec, func(i int) error {
			return p.report(ctx, fmt.Sprintf("/%d", i))
		})
		if err != nil {
			return err
		}
	case '{':
		if err := p.report(ctx, ""); err != nil {
			return err
		}
	default:
		if _, err := p.dec.ReadToken(); err != nil {
			return err
		}
		return p.in.Errorf(0, "not a Checkov report: expected an object or an array")
	}
	return p.beginScan("")
}

// beginScan starts the one scan of the input, once.
func (p *parser) beginScan(version string) error {
	if p.began {
		return nil
	}
	p.began = true
	p.target = p.in.TargetOr("")
	if p.target == "" {
		p.in.Warn("%s: a Checkov report names no target; pass --target to name the repository it scanned", p.in.Name)
		p.target = "unknown"
		p.asset = model.FileKey(p.target)
	} else {
		p.asset = model.RepoKey(strings.ReplaceAll(p.target, "\\", "/"))
	}
	return p.sink.BeginScan(model.Scan{ParserVersion: ParserVersion, Tool: Tool, ToolVersion: version, Format: "checkov", Target: p.target, Asset: p.asset})
}

// report reads one framework's report object.
func (p *parser) report(ctx context.Context, ptr string) error {
	var checkType string
	return ingest.WalkObject(p.dec, func(name string) error {
		switch name {
		case "check_type":
			return ingest.DecodeJSON(p.dec, &checkType)
		case "checkov_version":
			var v string
			if err := ingest.DecodeJSON(p.dec, &v); err != nil {
				return err
			}
			return p.beginScan(v)
		case "results":
			if err := p.beginScan(""); err != nil {
				return err
			}
			return ingest.WalkObject(p.dec, func(list string) error {
				switch list {
				case "failed_checks", "skipped_checks":
					i := 0
					return ingest.WalkArray(p.dec, func() error {
						at := fmt.Sprintf("%s/results/%s/%d", ptr, list, i)
						i++
						if err := ctx.Err(); err != nil {
							return err
						}
						var c check
						if err := ingest.DecodeJSON(p.dec, &c); err != nil {
							return err
						}
						f := p.finding(&c, checkType, list == "skipped_checks")
						f.Pointer = at
						return p.sink.Finding(f)
					})
				}
				return p.dec.SkipValue()
			})
		}
		return p.dec.SkipValue()
	})
}

func (p *parser) finding(c *check, checkType string, skipped bool) *model.Finding {
	sev := c.Severity.String()
	f := &model.Finding{
		Tool:         Tool,
		Kind:         model.FindingMisconfig,
		RuleID:       c.CheckID,
		Severity:     model.ParseSeverity(sev),
		ToolSeverity: sev,
		Title:        c.CheckName,
		Asset:        p.asset,
		Location: model.Location{
			// Checkov writes paths relative to the scanned directory
			// with a leading slash ("/aws/db.tf").
			Path:      strings.TrimPrefix(c.FilePath, "/"),
			Component: c.Resource,
		},
	}
	if f.RuleID == "" {
		f.RuleID = c.BCCheckID
	}
	if f.Title == "" {
		f.Title = f.RuleID
	}
	if len(c.FileLineRange) > 0 {
		f.Location.Line = c.FileLineRange[0].Int()
	}
	if len(c.FileLineRange) > 1 {
		f.Location.EndLine = c.FileLineRange[1].Int()
	}
	var desc []string
	for _, s := range []string{c.Description, c.ShortDesc, strings.Join(c.Details, "\n")} {
		if s = strings.TrimSpace(s); s != "" {
			desc = append(desc, s)
		}
	}
	if c.Guideline != "" {
		desc = append(desc, "Guideline: "+c.Guideline)
	}
	if v := c.VulnDetails; v != nil && v.ID != "" {
		// Software composition results (check_type sca_package) name a
		// vulnerable package.
		f.Kind = model.FindingVulnerability
		f.VulnIDs = []string{v.ID}
		f.RuleID = v.ID
		f.Package = model.Package{Name: v.PackageName, Version: v.PackageVersion, FixedVersion: v.FixedVersion}
		if v.Vector != "" {
			f.CVSS = []model.CVSS{{Source: Tool, Vector: v.Vector, Score: v.CVSS.Float()}}
		}
		if f.Severity == model.SeverityUnknown && v.CVSS != "" {
			f.Severity = model.SeverityFromScore(v.CVSS.Float())
		}
		if v.Description != "" {
			desc = append([]string{v.Description}, desc...)
		}
		if v.Link != "" {
			desc = append(desc, v.Link)
		}
	}
	f.Description = strings.Join(desc, "\n\n")
	f.CWEs = model.ExtractCWEs(f.Description)
	if skipped {
		f.Status = model.StatusAccepted
		f.ToolStatus = strings.TrimSpace("skipped: " + c.CheckResult.SuppressComment)
	}
	if checkType == "secrets" {
		// Checkov masks the secret in its code block and gives no
		// value; the finding is a secret at a place.
		f.Kind = model.FindingSecret
		f.CWEs = append(f.CWEs, "CWE-798")
	}
	return f
}
