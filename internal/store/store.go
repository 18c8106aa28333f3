// Package store defines the Store interface through which every part of
// ctem reads and writes its records, and the filters of its listings. The
// implementations live in subpackages named after their database.
package store

import (
	"context"
	"errors"
	"iter"
	"slices"
	"strings"
	"time"

	"github.com/ctem-dev/ctem/internal/ingest"
	"github.com/ctem-dev/ctem/internal/model"
)

// ErrNotFound is returned when a record asked for by id or key is absent.
var ErrNotFound = errors.New("not found")

// Store is ctem's database: every small interface below in one. It is
// safe for concurrent use; several processes may share one database, and
// concurrent ingests serialize. A consumer should ask for the smallest
// interface it needs.
type Store interface {
	IngestWriter
	FindingReader
	ExposureReader
	AssetReader
	ScanReader
	AnalysisResults
	Events
	Triage

	// Counts returns how many rows each table holds.
	Counts(ctx context.Context) (Counts, error)
	// SecretKey returns the database's key for hashing secret values,
	// created with the database.
	SecretKey(ctx context.Context) ([]byte, error)
	// Close closes the database.
	Close() error
}

// IngestWriter writes ingests.
type IngestWriter interface {
	// Begin starts an ingest: one transaction into which any number of
	// inputs are written. Nothing is visible to others, and nothing
	// changes, until Commit; Rollback (or an error) leaves the database
	// exactly as it was.
	Begin(ctx context.Context) (Tx, error)
}

// FindingReader reads findings.
type FindingReader interface {
	// Finding returns the finding with the given id, or an error wrapping
	// ErrNotFound.
	Finding(ctx context.Context, id string) (model.Finding, error)
	// Findings lists findings matching f, most severe first.
	Findings(ctx context.Context, f Filter) iter.Seq2[model.Finding, error]
}

// ExposureReader reads exposures and the evidence about them.
type ExposureReader interface {
	// Exposure returns the exposure with the given id, with its findings
	// and history, or an error wrapping ErrNotFound.
	Exposure(ctx context.Context, id string) (model.Exposure, error)
	// Exposures lists exposures matching f, most severe first, each with
	// its merged finding ids and tools (and history when f.History).
	Exposures(ctx context.Context, f Filter) iter.Seq2[model.Exposure, error]
	// Evidence lists the evidence about an exposure: facts recorded for
	// its findings, or for its asset (or package) and any of its
	// vulnerability ids (see EvidenceMatches).
	Evidence(ctx context.Context, x model.Exposure) iter.Seq2[model.Evidence, error]
	// AllEvidence lists every fact, for reading the evidence of many
	// exposures at once (see EvidenceIndex).
	AllEvidence(ctx context.Context) iter.Seq2[model.Evidence, error]
}

// AssetReader reads the estate: assets and their relations.
type AssetReader interface {
	// Asset returns the asset with the given key, or an error wrapping
	// ErrNotFound.
	Asset(ctx context.Context, key string) (model.Asset, error)
	// Assets lists assets matching f, by key.
	Assets(ctx context.Context, f Filter) iter.Seq2[model.Asset, error]
	// Relations lists the relations touching the asset keys in f.Asset
	// (all relations when it is empty).
	Relations(ctx context.Context, f Filter) iter.Seq2[model.Relation, error]
}

// ScanReader reads scans.
type ScanReader interface {
	// Scan returns the scan with the given id, or an error wrapping
	// ErrNotFound.
	Scan(ctx context.Context, id string) (model.Scan, error)
	// Scans lists scans matching f, newest first.
	Scans(ctx context.Context, f Filter) iter.Seq2[model.Scan, error]
}

// AnalysisResults records what analyses found.
type AnalysisResults interface {
	// RecordPaths stores the paths an analysis found at time at: paths
	// not stored before are opened, stored open paths not among them are
	// closed, and an event is recorded for each. When jewels is not nil
	// the analysis covered only those crown jewels, and only stored paths
	// to them may close. It returns the events.
	RecordPaths(ctx context.Context, at time.Time, paths []StoredPath, jewels map[string]bool) ([]PathEvent, error)
	// LastAnalysis returns when paths were last recorded, and false when
	// the database has never been analysed (RecordPaths sets it, even
	// when no path was found).
	LastAnalysis(ctx context.Context) (time.Time, bool, error)
}

// Events reads what changed and when.
type Events interface {
	// PathEvents lists path events, newest first.
	PathEvents(ctx context.Context, f Filter) iter.Seq2[PathEvent, error]
}

// Tx is an ingest in progress. It is an ingest.Sink; after each input
// (file) the caller calls EndInput, and Commit or Rollback at the end.
type Tx interface {
	ingest.Sink
	// EndInput ends the scans begun since the previous EndInput: it
	// records the input's name and digest on them, marks fixed what an
	// earlier scan of the same (tool, target) reported and these did not,
	// reopens what comes back, and returns the scans with their counts.
	EndInput(ctx context.Context, input, digest string) ([]model.Scan, error)
	Commit() error
	Rollback() error
}

// Filter selects records in listings. Zero fields select everything.
// Each field means one thing for every listing that takes it; a listing
// refuses (ErrInvalid) a field it has no meaning for rather than ignore
// it. Fields of different names combine with AND, values of one field
// with OR.
type Filter struct {
	// Severities: findings and exposures of these severities.
	Severities []model.Severity
	// Tools: findings of these tools, exposures with a finding of one of
	// them, scans of them.
	Tools []string
	// Assets are asset keys (a trailing * matches a prefix): the asset a
	// finding or exposure is on, an asset's key, a scan's asset, either
	// end of a relation.
	Assets []string
	// Statuses: findings and exposures in these statuses.
	Statuses []model.Status
	// VulnIDs: findings with any of these ids among their aliases,
	// exposures with such a finding.
	VulnIDs []string
	// Kinds are asset kinds for Assets, finding kinds for findings and
	// exposures.
	Kinds []string
	// ScanID: findings last seen by this scan (the ones it reported when
	// it is the latest of its tool and target, else those it was the last
	// to report before they were fixed), exposures with such a finding.
	ScanID string
	// IDs: finding, exposure or scan ids, each exact or a prefix of four
	// or more; exact exposure ids for StatusHistory.
	IDs []string
	// Since: findings and exposures first seen at or after it, assets
	// last seen at or after it, scans started at or after it.
	Since time.Time
	// History asks Exposures for each exposure's status history.
	History bool
	// Sort is the order of findings and exposures (see Sort).
	Sort Sort
	// ByID is Sort = SortID, kept for callers written before Sort.
	ByID bool
	// Limit is the most records a listing returns; 0 is no limit.
	Limit int
	// After is the cursor a listing handed out with its last page: the
	// listing goes on after the record it names (see Cursor).
	After string
}

// Counts are row counts, for tests and status displays.
type Counts struct {
	Assets    int `json:"assets"`
	Relations int `json:"relations"`
	Findings  int `json:"findings"`
	Exposures int `json:"exposures"`
	Scans     int `json:"scans"`
	Events    int `json:"events"`
	Evidence  int `json:"evidence"`
}

// StoredPath is an attack path as the store keeps it: its identity, its
// figures, and its steps as JSON (package graph's contract).
type StoredPath struct {
	ID         string  `json:"id"`
	Entry      string  `json:"entry"`
	Target     string  `json:"target"`
	Jewel      string  `json:"jewel"`
	Likelihood float64 `json:"likelihood"`
	Risk       float64 `json:"risk"`
	Validated  bool    `json:"validated"`
	// ValidatedBy lists, for a validated path, the kinds of evidence
	// that validated its steps (see ValidatingKinds); when nil the store
	// finds them in Steps.
	ValidatedBy []string `json:"validated_by,omitempty"`
	Steps       string   `json:"-"`
	Summary     string   `json:"summary"`
}

// PathEvent records an attack path opening or closing.
type PathEvent struct {
	PathID  string    `json:"path_id"`
	Event   string    `json:"event"` // "opened" or "closed"
	At      time.Time `json:"at"`
	Risk    float64   `json:"risk"`
	Summary string    `json:"summary"`
}

// ScanRemoval is the record of a scan removed (see ScanRemover).
type ScanRemoval struct {
	// Seq is the ingest sequence the removal took: analyses see it as
	// newer data.
	Seq    int64  `json:"seq"`
	ScanID string `json:"scan_id"`
	Tool   string `json:"tool"`
	Target string `json:"target"`
	Input  string `json:"input"`
	// FindingsRemoved are the findings the scan first reported, deleted;
	// FindingsRestored those it changed (fixed, reopened or saw again),
	// put back as they were before it.
	FindingsRemoved  int `json:"findings_removed"`
	FindingsRestored int `json:"findings_restored"`
	// ExposuresRemoved are the exposures no other finding reports.
	ExposuresRemoved int `json:"exposures_removed"`
	// Assets are the assets whose exposures changed, for re-analysis.
	Assets []string  `json:"assets,omitempty"`
	Actor  string    `json:"actor,omitempty"`
	Reason string    `json:"reason,omitempty"`
	At     time.Time `json:"at"`
}

// ScanRemover undoes an ingest.
type ScanRemover interface {
	// RemoveScan removes the scan with id rm.ScanID in one transaction:
	// the findings it first reported, the lifecycle changes it made to
	// the others (fixed, reopened, last seen), its finding and status
	// events, the exposures that only its findings reported, and the
	// scan itself; and records the removal with rm's Actor, Reason and
	// At. It returns the record, an error wrapping ErrNotFound when
	// there is no such scan, or one wrapping ErrInvalid when a newer scan
	// of the same tool and target exists (remove that first). Assets and
	// relations the scan's input described stay.
	RemoveScan(ctx context.Context, rm ScanRemoval) (ScanRemoval, error)
	// ScanRemovals lists the removals, newest first.
	ScanRemovals(ctx context.Context) iter.Seq2[ScanRemoval, error]
}

// MatchAsset reports whether asset a passes the filter's asset fields,
// as every listing of assets applies them: its kind is one of Kinds (when
// any are given), and its key is one of Assets, where a trailing * matches
// a prefix (when any are given). The zero Filter matches every asset.
func (f Filter) MatchAsset(a model.Asset) bool {
	if len(f.Kinds) > 0 && !slices.Contains(f.Kinds, string(a.Kind)) {
		return false
	}
	if len(f.Assets) == 0 {
		return true
	}
	for _, k := range f.Assets {
		if p, ok := strings.CutSuffix(k, "*"); ok && strings.HasPrefix(a.Key, p) || k == a.Key {
			return true
		}
	}
	return false
}
