// Package tfsec parses the JSON reports of Aqua Security's tfsec, the
// Terraform scanner: a results list of failed (and, on request, passed or
// ignored) checks, in both the legacy shape (rule_id such as "AWS050",
// link, passed) and the current one (long rule ids, links, status).
package tfsec

import (
	"context"
	"fmt"
	"regexp"
	"strings"

	"github.com/go-json-experiment/json/jsontext"

	"github.com/ctem-dev/ctem/internal/ingest"
	"github.com/ctem-dev/ctem/internal/model"
)

// Tool is the tool name findings carry.
const Tool = "tfsec"

// Format is the tfsec JSON format (tfsec --format json).
var Format = ingest.Format{
	Version: ParserVersion,
	Name:    "tfsec",
	Title:   "tfsec JSON (current and legacy)",
	Detect:  Detect,
	Parse:   Parse,
}

// Detect accepts an object whose results carry tfsec's rule fields, and
// the empty report tfsec writes when nothing failed: an object whose only
// member is a null or empty results.
func Detect(s *ingest.Sniff) bool {
	if s.Kind != ingest.SniffJSONObject || !s.Has("results") {
		return false
	}
	if s.HasAll("results[].rule_id", "results[].location") &&
		s.HasAny("results[].rule_provider", "results[].rule_description", "results[].long_id") {
		return true
	}
	return len(s.Paths) == 1 && !s.Stream && (s.Get("results") == "null" || emptyResults(s.Head))
}

// emptyResults reports whether head is {"results": []}, white space
// aside.
var emptyRE = regexp.MustCompile(`^\s*\{\s*"results"\s*:\s*\[\s*\]\s*\}\s*$`)

func emptyResults(head []byte) bool { return emptyRE.Match(head) }

type result struct {
	RuleID          string      `json:"rule_id"`
	LongID          string      `json:"long_id"`
	LegacyRuleID    string      `json:"legacy_rule_id"`
	RuleDescription string      `json:"rule_description"`
	RuleProvider    string      `json:"rule_provider"`
	RuleService     string      `json:"rule_service"`
	Impact          string      `json:"impact"`
	Resolution      string      `json:"resolution"`
	Link            string      `json:"link"`
	Links           []string    `json:"links"`
	Description     string      `json:"description"`
	Severity        string      `json:"severity"`
	Status          ingest.Text `json:"status"`
	Passed          bool        `json:"passed"`
	Resource        string      `json:"resource"`
	Location        struct {
		Filename  string      `json:"filename"`
		StartLine ingest.Text `json:"start_line"`
		EndLine   ingest.Text `json:"end_line"`
	} `json:"location"`
}

// Parse reads a tfsec report from in and emits its findings. The report
// does not name the repository it scanned: the scan's target is the
// user's --target, else "unknown" with a warning.
func Parse(ctx context.Context, in *ingest.Input, sink ingest.Sink) error {
	dec := in.JSONDecoder()
	err := parse(ctx, in, sink, dec)
	if err == nil {
		err = ingest.ExpectEOF(in, dec)
	}
	return ingest.AsInputError(in, dec.InputOffset(), err)
}

func parse(ctx context.Context, in *ingest.Input, sink ingest.Sink, dec *jsontext.Decoder) error {
	began := false
	var asset string
	begin := func() error {
		if began {
			return nil
		}
		began = true
		target := in.TargetOr("")
		if target == "" {
			in.Warn("%s: a tfsec report names no target; pass --target to name the repository it scanned", in.Name)
			target = "unknown"
			asset = model.FileKey(target)
		} else {
			asset = model.RepoKey(strings.ReplaceAll(target, "\\", "/"))
		}
		return sink.BeginScan(model.Scan{ParserVersion: ParserVersion, Tool: Tool, Format: "tfsec", Target: target, Asset: asset})
	}
	err := ingest.WalkObject(dec, func(name string) error {
		if name != "results" {
			return dec.SkipValue()
		}
		if err := begin(); err != nil {
			return err
		}
		return ingest.WalkItems(ctx, dec, func(i int) error {
			var r result
			if err := ingest.DecodeJSON(dec, &r); err != nil {
				return err
			}
			f := finding(&r, asset)
			if f == nil {
				return nil
			}
			f.Pointer = fmt.Sprintf("/results/%d", i)
			return sink.Finding(f)
		})
	})
	if err != nil {
		return err
	}
	return begin()
}

// resourceRE finds the resource a description names: "Resource
// 'aws_s3_bucket.logs' does not ...", "Block 'x.y' includes ...".
var resourceRE = regexp.MustCompile(`^(?:Resource|Block) '([^']+)'`)

// finding maps one result; passed checks give nil. tfsec writes status
// as a word ("failed", "passed", "ignored") in some versions and as a
// number (0 failed, 1 passed, 2 ignored) in others; the legacy shape has
// a passed flag instead.
func finding(r *result, asset string) *model.Finding {
	status := strings.ToLower(r.Status.String())
	switch status {
	case "passed", "1":
		return nil
	}
	if r.Passed {
		return nil
	}
	f := &model.Finding{
		Tool:         Tool,
		Kind:         model.FindingMisconfig,
		RuleID:       r.RuleID,
		Severity:     model.ParseSeverity(r.Severity),
		ToolSeverity: r.Severity,
		Title:        r.RuleDescription,
		Asset:        asset,
		Location: model.Location{
			Path:      r.Location.Filename,
			Line:      r.Location.StartLine.Int(),
			EndLine:   r.Location.EndLine.Int(),
			Component: r.Resource,
		},
	}
	if f.RuleID == "" {
		f.RuleID = r.LongID
	}
	if f.Title == "" {
		f.Title = f.RuleID
	}
	if f.Location.Component == "" {
		if m := resourceRE.FindStringSubmatch(r.Description); m != nil {
			f.Location.Component = m[1]
		}
	}
	var desc []string
	add := func(label, s string) {
		if s = strings.TrimSpace(s); s != "" {
			desc = append(desc, label+s)
		}
	}
	add("", r.Description)
	add("Impact: ", r.Impact)
	add("Resolution: ", r.Resolution)
	if r.LongID != "" && r.LongID != f.RuleID {
		add("Rule: ", r.LongID)
	}
	if r.LegacyRuleID != "" {
		add("Legacy rule: ", r.LegacyRuleID)
	}
	add("", r.Link)
	for _, l := range r.Links {
		add("", l)
	}
	f.Description = strings.Join(desc, "\n")
	f.CWEs = model.ExtractCWEs(f.Description)
	switch status {
	case "ignored", "2":
		f.Status = model.StatusAccepted
		f.ToolStatus = "ignored"
	}
	return f
}
