// Package kics parses the JSON reports of Checkmarx KICS (Keeping
// Infrastructure as Code Secure): a list of queries, each with the files
// and lines it matched. Every matched file entry is one misconfiguration
// finding.
package kics

import (
	"context"
	"fmt"
	"strings"

	"github.com/go-json-experiment/json/jsontext"

	"github.com/ctem-dev/ctem/internal/ingest"
	"github.com/ctem-dev/ctem/internal/model"
)

// Tool is the tool name findings carry.
const Tool = "kics"

// Format is the KICS JSON format (kics scan --report-formats json).
var Format = ingest.Format{
	Version: ParserVersion,
	Name:    "kics",
	Title:   "KICS JSON",
	Detect:  Detect,
	Parse:   Parse,
}

// Detect accepts an object with a queries list and one of the counters
// only KICS writes.
func Detect(s *ingest.Sniff) bool {
	return s.Kind == ingest.SniffJSONObject && s.Has("queries") &&
		s.HasAny("kics_version", "queries_total", "queries_failed_to_execute", "severity_counters")
}

// query is one element of queries, decoded whole: its metadata may come
// after its files.
type query struct {
	QueryName   string      `json:"query_name"`
	QueryID     string      `json:"query_id"`
	QueryURL    string      `json:"query_url"`
	Severity    string      `json:"severity"`
	Platform    string      `json:"platform"`
	CWE         ingest.Text `json:"cwe"`
	Category    string      `json:"category"`
	Description string      `json:"description"`
	Files       []struct {
		FileName      string      `json:"file_name"`
		SimilarityID  string      `json:"similarity_id"`
		Line          ingest.Text `json:"line"`
		ResourceType  string      `json:"resource_type"`
		ResourceName  string      `json:"resource_name"`
		IssueType     string      `json:"issue_type"`
		SearchKey     string      `json:"search_key"`
		ExpectedValue string      `json:"expected_value"`
		ActualValue   string      `json:"actual_value"`
	} `json:"files"`
}

type parser struct {
	in    *ingest.Input
	sink  ingest.Sink
	dec   *jsontext.Decoder
	began bool
	asset string
}

// Parse reads a KICS report from in and emits its findings. The report
// does not name the repository it scanned: the scan's target is the
// user's --target, else "unknown" with a warning.
func Parse(ctx context.Context, in *ingest.Input, sink ingest.Sink) error {
	p := &parser{in: in, sink: sink, dec: in.JSONDecoder()}
	var version string
	err := ingest.WalkObject(p.dec, func(name string) error {
		switch name {
		case "kics_version":
			return ingest.DecodeJSON(p.dec, &version)
		case "queries":
			if err := p.beginScan(version); err != nil {
				return err
			}
			return ingest.WalkItems(ctx, p.dec, func(i int) error {
				var q query
				if err := ingest.DecodeJSON(p.dec, &q); err != nil {
					return err
				}
				return p.query(&q, fmt.Sprintf("/queries/%d", i))
			})
		}
		return p.dec.SkipValue()
	})
	if err == nil {
		err = p.beginScan(version)
	}
	if err == nil {
		err = ingest.ExpectEOF(in, p.dec)
	}
	return ingest.AsInputError(in, p.dec.InputOffset(), err)
}

func (p *parser) beginScan(version string) error {
	if p.began {
		return nil
	}
	p.began = true
	target := p.in.TargetOr("")
	if target == "" {
		p.in.Warn("%s: a KICS report names no target; pass --target to name the repository it scanned", p.in.Name)
		target = "unknown"
		p.asset = model.FileKey(target)
	} else {
		p.asset = model.RepoKey(strings.ReplaceAll(target, "\\", "/"))
	}
	return p.sink.BeginScan(model.Scan{ParserVersion: ParserVersion, Tool: Tool, ToolVersion: version, Format: "kics", Target: target, Asset: p.asset})
}

// severity maps KICS's words; TRACE is below INFO.
func severity(s string) model.Severity {
	if strings.EqualFold(s, "trace") {
		return model.SeverityInfo
	}
	return model.ParseSeverity(s)
}

func (p *parser) query(q *query, ptr string) error {
	for j, file := range q.Files {
		f := &model.Finding{
			Tool:            Tool,
			Kind:            model.FindingMisconfig,
			RuleID:          q.QueryID,
			Severity:        severity(q.Severity),
			ToolSeverity:    q.Severity,
			Title:           q.QueryName,
			Asset:           p.asset,
			ToolFingerprint: file.SimilarityID,
			Location: model.Location{
				Path:      file.FileName,
				Line:      file.Line.Int(),
				Component: component(file.SearchKey, file.ExpectedValue),
			},
			Pointer: fmt.Sprintf("%s/files/%d", ptr, j),
		}
		if f.RuleID == "" {
			f.RuleID = q.QueryName
		}
		if cwe := model.NormalizeCWE(q.CWE.String()); cwe != "" {
			f.CWEs = []string{cwe}
		}
		var desc []string
		add := func(label, s string) {
			if s = strings.TrimSpace(s); s != "" {
				desc = append(desc, label+s)
			}
		}
		add("", q.Description)
		add("Platform: ", q.Platform)
		add("Category: ", q.Category)
		add("Resource: ", strings.Trim(file.ResourceType+"."+file.ResourceName, "."))
		add("Search key: ", file.SearchKey)
		add("Issue: ", file.IssueType)
		add("Expected: ", file.ExpectedValue)
		if strings.EqualFold(q.Category, "Secret Management") {
			// A secret query's actual value may quote the secret;
			// keep only where it is.
			f.Kind = model.FindingSecret
			f.CWEs = append(f.CWEs, "CWE-798")
		} else {
			add("Actual: ", file.ActualValue)
		}
		add("Reference: ", q.QueryURL)
		f.Description = strings.Join(desc, "\n")
		if err := p.sink.Finding(f); err != nil {
			return err
		}
	}
	return nil
}

// component names the place a file entry is about. KICS reports several
// items under one search key and one similarity id (each element of an
// RBAC rule, say) and tells them apart only in the expected value, which
// then starts with a longer key: "rules[0].verbs shouldn't contain ...".
// That longer key is the component when there is one, so that the items
// stay apart.
func component(searchKey, expected string) string {
	first, _, _ := strings.Cut(strings.TrimSpace(expected), " ")
	if searchKey != "" && len(first) > len(searchKey) && strings.HasPrefix(first, searchKey) {
		return first
	}
	return searchKey
}
