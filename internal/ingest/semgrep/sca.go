package semgrep

import (
	"fmt"
	"strings"

	"github.com/ctem-dev/ctem/internal/ingest"
	"github.com/ctem-dev/ctem/internal/model"
)

// The Semgrep App's supply-chain export ({"vulns": [...]}) lists, for a
// whole deployment, each vulnerable dependency match in each repository.

type dependency struct {
	Name             string `json:"name"`
	VersionSpecifier string `json:"versionSpecifier"`
}

type scaVuln struct {
	Title    string `json:"title"`
	Advisory struct {
		RuleID      string `json:"ruleId"`
		Title       string `json:"title"`
		Description string `json:"description"`
		Ecosystem   string `json:"ecosystem"`
		Severity    string `json:"severity"`
		References  struct {
			CVEIDs []string `json:"cveIds"`
			CWEIDs []string `json:"cweIds"`
			URLs   []string `json:"urls"`
		} `json:"references"`
		ReachableIf string `json:"reachableIf"`
	} `json:"advisory"`
	ExposureType           string     `json:"exposureType"`
	RepositoryName         string     `json:"repositoryName"`
	MatchedDependency      dependency `json:"matchedDependency"`
	ClosestSafeDependency  dependency `json:"closestSafeDependency"`
	DependencyFileLocation struct {
		Path      string      `json:"path"`
		StartLine ingest.Text `json:"startLine"`
	} `json:"dependencyFileLocation"`
	Triage struct {
		Status        string `json:"status"`
		DismissReason string `json:"dismissReason"`
	} `json:"triage"`
	GroupKey     string `json:"groupKey"`
	Transitivity string `json:"transitivity"`
	Usages       []struct {
		Location struct {
			Path      string      `json:"path"`
			StartLine ingest.Text `json:"startLine"`
		} `json:"location"`
	} `json:"usages"`
}

// beginSCA starts the one scan of an export. An export spans many
// repositories; each finding names its own, and the scan's target is the
// deployment the user names with --target.
func (p *parser) beginSCA() error {
	if p.began {
		return nil
	}
	p.began = true
	target := p.in.TargetOr("")
	if target == "" {
		p.in.Warn("%s: a Semgrep supply-chain export names no deployment; pass --target to name it", p.in.Name)
		target = "semgrep-supply-chain"
	}
	return p.sink.BeginScan(model.Scan{ParserVersion: ParserVersion, Tool: Tool, Format: formatName, Target: target})
}

func (p *parser) vuln(i int) error {
	var v scaVuln
	if err := ingest.DecodeJSON(p.dec, &v); err != nil {
		return err
	}
	a := &v.Advisory
	asset := ""
	if v.RepositoryName != "" {
		asset = model.ProjectKey(v.RepositoryName)
		if !p.repos[asset] {
			p.repos[asset] = true
			if err := p.sink.Asset(model.Asset{Key: asset, Kind: model.KindRepository, Name: v.RepositoryName, Source: Tool}); err != nil {
				return err
			}
		}
	} else {
		_, asset = targetKey(p.in)
	}
	f := &model.Finding{
		Tool:            Tool,
		Kind:            model.FindingVulnerability,
		RuleID:          a.RuleID,
		VulnIDs:         append([]string(nil), a.References.CVEIDs...),
		Severity:        model.ParseSeverity(a.Severity),
		ToolSeverity:    a.Severity,
		Title:           v.Title,
		Description:     strings.TrimSpace(a.Description),
		Asset:           asset,
		Package:         model.Package{Name: v.MatchedDependency.Name, Version: v.MatchedDependency.VersionSpecifier},
		Location:        model.Location{Path: v.DependencyFileLocation.Path, Line: v.DependencyFileLocation.StartLine.Int()},
		ToolFingerprint: v.GroupKey,
		Pointer:         fmt.Sprintf("/vulns/%d", i),
	}
	if f.Title == "" {
		f.Title = a.Title
	}
	if v.ClosestSafeDependency.Name == "" || v.ClosestSafeDependency.Name == v.MatchedDependency.Name {
		f.Package.FixedVersion = v.ClosestSafeDependency.VersionSpecifier
	}
	for _, u := range a.References.URLs {
		f.VulnIDs = append(f.VulnIDs, model.ExtractVulnIDs(u)...)
	}
	for _, c := range a.References.CWEIDs {
		f.CWEs = append(f.CWEs, model.ExtractCWEs(c)...)
	}
	var status []string
	if v.Triage.Status != "" {
		status = append(status, "triage: "+strings.ToLower(v.Triage.Status))
	}
	switch strings.ToUpper(v.Triage.Status) {
	case "IGNORED":
		f.Status = model.StatusAccepted
		if strings.Contains(strings.ToUpper(v.Triage.DismissReason), "FALSE_POSITIVE") {
			f.Status = model.StatusFalsePositive
		}
		status = append(status, "dismissed: "+strings.ToLower(v.Triage.DismissReason))
	case "FIXED", "CLOSED":
		f.Status = model.StatusFixed
	}
	if v.ExposureType != "" {
		status = append(status, strings.ToLower(v.ExposureType))
	}
	if v.Transitivity != "" {
		status = append(status, strings.ToLower(v.Transitivity))
	}
	f.ToolStatus = strings.Join(status, ", ")
	if err := p.sink.Finding(f); err != nil {
		return err
	}
	if !strings.EqualFold(v.ExposureType, "REACHABLE") {
		return nil
	}
	detail := "Semgrep Supply Chain: reachable"
	if a.ReachableIf != "" {
		detail += " if " + a.ReachableIf
	}
	for _, u := range v.Usages {
		detail += fmt.Sprintf("; used at %s:%s", u.Location.Path, u.Location.StartLine)
	}
	return p.reachable(true, f, detail)
}
