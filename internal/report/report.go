// Package report gathers what an audit or executive report of a CTEM
// programme shows (trends, top attack paths, fix-plan progress, the state
// per team, and the evidence that exposures are managed, mapped to the
// controls of PCI DSS, ISO/IEC 27001, SOC 2 and NIST CSF it supports) and
// renders it as HTML, Markdown or PDF. Every string that came from a
// scanner, an estate file or a person is escaped for the format it is
// written in.
package report

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"time"

	"github.com/ctem-dev/ctem/internal/app"
	"github.com/ctem-dev/ctem/internal/graph"
	"github.com/ctem-dev/ctem/internal/kpi"
	"github.com/ctem-dev/ctem/internal/model"
	"github.com/ctem-dev/ctem/internal/store"
)

// Defaults of Options.
const (
	DefaultTopPaths     = 10
	DefaultPlanItems    = 10
	DefaultTopExposures = 10
	// MaxRows bounds each listing of the evidence appendix (scans,
	// decisions); the report says how many more there were.
	MaxRows = 1000
)

// Options say what to gather.
type Options struct {
	// Title heads the report; empty means "CTEM report".
	Title string
	// KPI are the options of the figures (Now, Since, Owner, Critical,
	// KEVDue); Now is required and is the report's time.
	KPI kpi.Options
	// TopPaths and PlanItems are how many attack paths and fix-plan
	// actions the summary lists; 0 means the defaults.
	TopPaths, PlanItems int
}

// Report is everything a report shows.
type Report struct {
	Title     string    `json:"title"`
	Generated time.Time `json:"generated"`
	From      time.Time `json:"from"`
	KPI       *kpi.Report
	// Analysis is the latest recorded analysis (Analysed false when
	// none is).
	Analysis store.Analysis
	Analysed bool
	// Paths are the riskiest open attack paths, Names the name of each
	// step's weakness (exposure id to vulnerability id or rule).
	Paths []graph.Path
	Names map[string]string
	// Top are the open exposures whose fix removes the most risk, then
	// the most severe.
	Top []app.Ranked
	// Plan is the head of the fix plan; PlanItems counts all its items.
	Plan      graph.Plan
	PlanItems int
	// Progress compares the open paths' total risk at the first
	// analysis of the window with the latest one (HasProgress false
	// when fewer than two analyses recorded figures in the window).
	Progress Progress
	// Scans are the scans of the window, newest first (at most
	// MaxRows; ScansTotal counts all), Tools each tool's use.
	Scans      []model.Scan
	ScansTotal int
	Tools      []ToolUse
	// Decisions are people's triage decisions in the window, oldest
	// first (at most MaxRows; DecisionsTotal counts all).
	Decisions      []store.StatusChange
	DecisionsTotal int
	Audit          AuditState
	// Validation counts the evidence that validates or refutes steps,
	// by source and kind (probes, runtime state, DAST matches, KEV and
	// reachability facts from scanners), by source then kind.
	Validation []EvidenceCount
	// Controls map the report's evidence to the controls it supports.
	Controls []ControlEvidence
}

// Progress is the fix plan's progress over the window.
type Progress struct {
	HasProgress        bool
	StartAt, EndAt     time.Time
	StartRisk, EndRisk float64
	StartPaths         int
	EndPaths           int
	StartValidated     int
	EndValidated       int
}

// EvidenceCount is how many facts of one kind a source recorded, and
// when it last did.
type EvidenceCount struct {
	Source string
	Kind   model.EvidenceKind
	Facts  int
	Last   time.Time
}

// validationKinds are the kinds of evidence the appendix counts: those
// that validate a step, and those that refute or lower one.
var validationKinds = []model.EvidenceKind{model.EvidenceKEV, model.EvidenceReachableCall, model.EvidenceRuntimeLoaded,
	model.EvidenceDASTConfirmed, model.EvidenceProbeConfirmed, model.EvidenceProbeRefuted, model.EvidenceImageRunning,
	model.EvidenceImageNotRunning, model.EvidenceRuntimeExec, model.EvidenceVEXNotAffected}

// ToolUse is how often a tool scanned in the window, and when it last did.
type ToolUse struct {
	Tool  string
	Scans int
	Last  time.Time
}

// AuditState is the state of the hash-chained audit log.
type AuditState struct {
	// Available is false when the store keeps no audit log.
	Available bool
	Entries   int64
	// Head is the hash of the last entry.
	Head string
	// Broken says where the chain does not hold, "" when it holds.
	Broken string
}

// Gather reads the report's data through the application layer and its
// store.
func Gather(ctx context.Context, a *app.App, opt Options) (*Report, error) {
	if opt.KPI.Now.IsZero() {
		return nil, fmt.Errorf("report: no time given")
	}
	opt.TopPaths = cmp.Or(opt.TopPaths, DefaultTopPaths)
	opt.PlanItems = cmp.Or(opt.PlanItems, DefaultPlanItems)
	k, err := kpi.Compute(ctx, a.Store, opt.KPI)
	if err != nil {
		return nil, err
	}
	r := &Report{Title: cmp.Or(opt.Title, "CTEM report"), Generated: opt.KPI.Now.UTC(), From: k.From, KPI: k}
	if r.Analysis, r.Analysed, err = a.Store.LatestAnalysis(ctx); err != nil {
		return nil, err
	}
	if r.Analysed {
		pl, err := a.Paths(ctx, app.PathQuery{Limit: opt.TopPaths})
		if err != nil {
			return nil, err
		}
		r.Paths, r.Names = pl.Paths, pl.Names
		fp, err := a.FixPlan(ctx, 0, graph.Options{})
		if err != nil {
			return nil, err
		}
		r.Plan, r.PlanItems = fp.Plan, len(fp.Plan.Items)
		if _, r.Top, err = a.Top(ctx, DefaultTopExposures, graph.Options{}); err != nil {
			return nil, err
		}
		r.Plan.Items = r.Plan.Items[:min(len(r.Plan.Items), opt.PlanItems)]
	}
	if n := len(k.Snapshots); n >= 2 {
		s, e := k.Snapshots[0], k.Snapshots[n-1]
		r.Progress = Progress{HasProgress: true, StartAt: s.At, EndAt: e.At, StartRisk: s.Risk, EndRisk: e.Risk,
			StartPaths: s.OpenPaths, EndPaths: e.OpenPaths, StartValidated: s.ValidatedPaths, EndValidated: e.ValidatedPaths}
	}
	tools := map[string]*ToolUse{}
	for sc, err := range a.Store.Scans(ctx, store.Filter{Since: k.From}) {
		if err != nil {
			return nil, err
		}
		r.ScansTotal++
		if len(r.Scans) < MaxRows {
			r.Scans = append(r.Scans, sc)
		}
		t := tools[sc.Tool]
		if t == nil {
			t = &ToolUse{Tool: sc.Tool}
			tools[sc.Tool] = t
		}
		t.Scans++
		if sc.StartedAt.After(t.Last) {
			t.Last = sc.StartedAt
		}
	}
	for _, name := range slices.Sorted(maps.Keys(tools)) {
		r.Tools = append(r.Tools, *tools[name])
	}
	for c, err := range a.Store.StatusHistory(ctx, store.Filter{}) {
		if err != nil {
			return nil, err
		}
		if c.By == store.Actor || c.At.Before(k.From) || c.At.After(r.Generated) {
			continue
		}
		r.DecisionsTotal++
		if len(r.Decisions) < MaxRows {
			r.Decisions = append(r.Decisions, c)
		}
	}
	counts := map[[2]string]*EvidenceCount{}
	for e, err := range a.Store.AllEvidence(ctx) {
		if err != nil {
			return nil, err
		}
		if !slices.Contains(validationKinds, e.Kind) {
			continue
		}
		k := [2]string{e.Source, string(e.Kind)}
		c := counts[k]
		if c == nil {
			c = &EvidenceCount{Source: e.Source, Kind: e.Kind}
			counts[k] = c
		}
		c.Facts++
		if e.At.After(c.Last) {
			c.Last = e.At
		}
	}
	for _, k := range slices.SortedFunc(maps.Keys(counts), func(a, b [2]string) int {
		return cmp.Or(cmp.Compare(a[0], b[0]), cmp.Compare(a[1], b[1]))
	}) {
		r.Validation = append(r.Validation, *counts[k])
	}
	if au, ok := a.Store.(store.Audit); ok {
		r.Audit.Available = true
		r.Audit.Entries, r.Audit.Head, err = store.VerifyAudit(au.AuditLog(ctx, 0, 0))
		if b, ok := errors.AsType[*store.AuditBrokenError](err); ok {
			r.Audit.Broken = b.Error()
		} else if err != nil {
			return nil, err
		}
	}
	r.Controls = mapControls(r)
	return r, nil
}
