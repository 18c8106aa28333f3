package store

import (
	"context"
	"iter"
	"slices"
	"strings"
	"time"

	"github.com/ctem-dev/ctem/internal/model"
)

// Dimensions of a KPI snapshot value.
const (
	// KPIWhole is the whole estate (Key "").
	KPIWhole = ""
	// KPIJewel is one crown jewel (Key: its asset key).
	KPIJewel = "jewel"
	// KPIEvidence is one kind of evidence (Key: the kind, "relation"
	// or "label" for steps a relation or label enables) that
	// validated a step of a validated path.
	KPIEvidence = "evidence"
)

// Metrics of a KPI snapshot value.
const (
	// MetricOpenPaths counts the attack paths open after the analysis.
	MetricOpenPaths = "open_paths"
	// MetricValidatedPaths counts those of them whose every step is
	// evidenced (graph.Path.Validated).
	MetricValidatedPaths = "validated_paths"
	// MetricRisk sums the risk of the open paths.
	MetricRisk = "risk"
	// MetricPathExposures counts the distinct exposures that enable a
	// step of an open path.
	MetricPathExposures = "path_exposures"
)

// KPIValue is one figure an analysis recorded.
type KPIValue struct {
	AnalysisID int64     `json:"analysis_id"`
	At         time.Time `json:"at"`
	Dim        string    `json:"dim,omitempty"`
	Key        string    `json:"key,omitempty"`
	Metric     string    `json:"metric"`
	Value      float64   `json:"value"`
}

// KPIHistory reads the figures that analyses recorded (sqlstore records
// them in RecordAnalysis's transaction, over every open path after the
// analysis, so a partial analysis records whole-estate figures too).
type KPIHistory interface {
	// KPISnapshots lists the figures recorded at or after since, by
	// analysis, then dimension, key and metric.
	KPISnapshots(ctx context.Context, since time.Time) iter.Seq2[KPIValue, error]
	// PriorityPeaks returns the highest risk removed any recorded
	// analysis gave each exposure, by exposure id.
	PriorityPeaks(ctx context.Context) (map[string]float64, error)
}

// ValidatingKinds returns, sorted and distinct, the kinds of evidence
// among the steps' evidence (package graph's Step.Evidence: "kev",
// "epss=0.4", "relation:...", "label:...", "exposure:...") that validate
// a step: the strong kinds (KEV, reachable call, runtime loaded, DAST or
// probe confirmed), and "relation" or "label" for a step a relation or a
// label enables.
func ValidatingKinds(steps [][]string) []string {
	var out []string
	for _, ev := range steps {
		for _, e := range ev {
			k, _, _ := strings.Cut(e, ":")
			switch model.EvidenceKind(k) {
			case model.EvidenceKEV, model.EvidenceReachableCall, model.EvidenceRuntimeLoaded, model.EvidenceDASTConfirmed, model.EvidenceProbeConfirmed,
				model.EvidenceRuntimeExec:
			default:
				if k != "relation" && k != "label" {
					continue
				}
			}
			if !slices.Contains(out, k) {
				out = append(out, k)
			}
		}
	}
	slices.Sort(out)
	return out
}

// KPIQuery says how KPIFacts.KPIGroups buckets exposures: by the week
// (of length Week, from From on) in which they were first seen, leaving
// out those first seen after Now.
type KPIQuery struct {
	From, Now time.Time
	Week      time.Duration
}

// KPIGroup counts the exposures of one asset, one triage state and one
// week of first sighting (Bucket: the week's index from KPIQuery.From,
// -1 before it); KPIFacts.KPIVulns gives each untriaged exposure's
// vulnerability ids instead of its asset.
type KPIGroup struct {
	Asset   string
	Triaged bool // accepted, not affected or false positive
	VulnIDs []string
	Bucket  int
	Count   int
}

// KPIChanged is an exposure whose history holds a fix or a reopening:
// its figures, its number of findings and only the events of its
// history that fix a finding or reopen a fixed one.
type KPIChanged struct {
	ID        string
	Asset     string
	Status    model.Status
	Severity  model.Severity
	FirstSeen time.Time
	VulnIDs   []string
	Findings  int
	History   []model.Event
}

// KPIFacts aggregates the exposures for package kpi in the database,
// so that the KPIs of a million exposures read a few thousand rows.
type KPIFacts interface {
	// KPIGroups counts every exposure, as if none had ever been fixed.
	KPIGroups(ctx context.Context, q KPIQuery) iter.Seq2[KPIGroup, error]
	// KPIVulns lists the untriaged exposures' vulnerability ids and
	// weeks (Count 1 each, in no order), for the figures on the KEV
	// catalog: a scan, not a sort of a million lists.
	KPIVulns(ctx context.Context, q KPIQuery) iter.Seq2[KPIGroup, error]
	// KPIChanges lists the exposures with a fix or a reopening in their
	// history, by id.
	KPIChanges(ctx context.Context) iter.Seq2[KPIChanged, error]
}

// KPIKEVFacts is implemented by a store that finds the exposures on given
// vulnerability ids through an index, for the figures on the KEV catalog
// without a scan of every exposure.
type KPIKEVFacts interface {
	// KPIVulnsOn is KPIFacts.KPIVulns restricted to the exposures one of
	// whose vulnerability ids is in ids.
	KPIVulnsOn(ctx context.Context, q KPIQuery, ids []string) iter.Seq2[KPIGroup, error]
}
