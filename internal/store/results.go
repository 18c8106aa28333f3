package store

import (
	"context"
	"errors"
	"iter"
	"time"
)

// AssetTracker is implemented by a Tx that can say which assets its
// ingest touched: the asset keys it wrote (targets, findings' assets,
// relation ends, estate assets) and the assets of the findings its scans
// fixed or reopened. Re-analysis after an ingest reads this set from the
// ingest itself rather than guessing it from timestamps.
type AssetTracker interface {
	// TouchedAssets returns the asset keys, sorted and distinct, touched
	// by the transaction so far, including those of findings whose
	// status the scans with the given ids changed.
	TouchedAssets(ctx context.Context, scanIDs []string) ([]string, error)
}

// ErrConflict is returned by RecordAnalysis when the analysis read data
// older than an analysis already recorded: a lower ingest sequence, an
// older stored scope version, or older feed data. Its results would
// undo newer ones; the caller re-runs the analysis or drops it.
var ErrConflict = errors.New("conflict: newer analysis results are stored")

// Results stores what an analysis read and what it found, and reads the
// latest results back, so that listings need not re-run the analysis.
type Results interface {
	// IngestSeq returns the ingest sequence: the highest scan sequence
	// number committed, 0 for an empty database.
	IngestSeq(ctx context.Context) (int64, error)
	// RecordAnalysis stores an analysis and its results in one
	// transaction and returns it with its id, and the paths it opened
	// and closed, opened first in the order given, then closed by path
	// id. It returns ErrConflict, and changes nothing, when the latest
	// recorded analysis read newer data (see ErrConflict).
	RecordAnalysis(ctx context.Context, r *AnalysisRecord) (Analysis, []PathEvent, error)
	// LatestAnalysis returns the last recorded analysis, and false when
	// there is none.
	LatestAnalysis(ctx context.Context) (Analysis, bool, error)
	// OpenPaths lists the open paths that match q, riskiest first (then
	// by id).
	OpenPaths(ctx context.Context, q PathFilter) iter.Seq2[OpenPath, error]
	// StoredPriorities lists the stored priorities that match q, highest
	// first (then by exposure id).
	StoredPriorities(ctx context.Context, q PriorityFilter) iter.Seq2[StoredPriority, error]
	// StoredActions lists the stored fix-plan items (kind ActionPlan) or
	// choke points (ActionChoke) by analysis, then position.
	StoredActions(ctx context.Context, kind string) ([]StoredAction, error)
	// JewelRisks lists each crown jewel's risk as last analysed.
	JewelRisks(ctx context.Context) ([]JewelRisk, error)
	// AssetContextOf returns the stored context of the asset named key,
	// and false when none is stored.
	AssetContextOf(ctx context.Context, key string) (AssetContext, bool, error)

	// SetScope stores data as the next scope version unless it is the
	// latest already; it returns the version in force.
	SetScope(ctx context.Context, name string, data []byte, at time.Time) (ScopeVersion, bool, error)
	// LatestScope returns the scope in force, and false when none was
	// ever set.
	LatestScope(ctx context.Context) (ScopeVersion, bool, error)
	// SetCodeOwners stores data as repo's next CODEOWNERS version unless
	// it is the latest already.
	SetCodeOwners(ctx context.Context, repo, name string, data []byte, at time.Time) (CodeOwnersVersion, bool, error)
	// CodeOwners lists the latest CODEOWNERS of every repository, by
	// repository.
	CodeOwners(ctx context.Context) ([]CodeOwnersVersion, error)
}

// Kinds of StoredAction.
const (
	ActionPlan  = "plan"
	ActionChoke = "choke"
)

// FeedVersion is the version of a threat-intelligence feed an analysis
// used.
type FeedVersion struct {
	Feed     string    `json:"feed"`
	Origin   string    `json:"origin"`
	Version  string    `json:"version"`
	DataDate time.Time `json:"data_date"`
}

// ScopeRef says which scope an analysis read: Source "stored" (Version
// set), "file" (Name set) or "default", and its SHA-256 digest.
type ScopeRef struct {
	Source  string `json:"source"`
	Version int64  `json:"version,omitempty"`
	Name    string `json:"name,omitempty"`
	Digest  string `json:"digest"`
}

// Analysis is one recorded analysis: what it read and what it found.
type Analysis struct {
	ID        int64     `json:"id"`
	At        time.Time `json:"at"`
	Partial   bool      `json:"partial"`
	IngestSeq int64     `json:"ingest_seq"`
	// UpTo is the ingest sequence up to which every ingest's data has
	// been analysed: IngestSeq for a full analysis; for a partial one,
	// lower when an earlier ingest was left unanalysed.
	UpTo  int64    `json:"up_to"`
	Scope ScopeRef `json:"scope"`
	// CodeOwners lists "repository=digest" of the CODEOWNERS files read.
	CodeOwners []string      `json:"codeowners"`
	Feeds      []FeedVersion `json:"feeds"`
	K          int           `json:"k"`
	MaxSteps   int           `json:"max_steps"`
	Paths      int           `json:"paths"`
	Risk       float64       `json:"risk"`
	Opened     int           `json:"opened"`
	Closed     int           `json:"closed"`
}

// AnalysisRecord is an analysis with its results, to store.
type AnalysisRecord struct {
	Analysis Analysis
	// Paths are the paths found, riskiest first; PathExposures maps a
	// path id to the exposures that enable one of its steps.
	Paths         []StoredPath
	PathExposures map[string][]string
	// PathNames maps a path id to the names its listing shows: exposure
	// id to its first vulnerability id or rule.
	PathNames map[string]map[string]string
	// Jewels, when not nil, are the crown jewels a partial analysis
	// covered (only paths to them may close), and Covered the asset keys
	// of the components it covered (only results anchored there are
	// replaced). A full analysis replaces every result.
	Jewels  map[string]bool
	Covered []string
	// The results, each anchored on an asset key of its component.
	Priorities []StoredPriority
	Plan       []StoredAction
	Chokes     []StoredAction
	JewelRisks []JewelRisk
	// Contexts are the estate contexts of the assets that hold an
	// exposure, anchored on the asset's canonical key.
	Contexts []AssetContext
}

// AssetContext is an asset's estate context as JSON (package estate's
// Context), stored under one of its names.
type AssetContext struct {
	Key    string
	Anchor string
	Data   string
}

// PathFilter selects stored paths; zero fields select all.
type PathFilter struct {
	// Exposure keeps the paths with a step that this exposure enables.
	Exposure string
	// Jewel keeps the paths to this crown jewel key, or with a trailing
	// * to the jewels whose key begins with the rest.
	Jewel string
}

// PriorityFilter selects stored priorities; zero fields select all.
type PriorityFilter struct {
	// IDs keeps these exposures' priorities.
	IDs []string
	// After, when set, starts the listing after this priority (keyset
	// pagination: the last one of the previous page).
	After *StoredPriority
	// Limit, when above 0, is the most to list.
	Limit int
}

// OpenPath is an open path with the names its listing shows (see
// AnalysisRecord.PathNames).
type OpenPath struct {
	StoredPath
	Names map[string]string
}

// StoredPriority is the risk that fixing one exposure removes.
type StoredPriority struct {
	ExposureID  string  `json:"exposure_id"`
	Anchor      string  `json:"-"`
	RiskRemoved float64 `json:"risk_removed"`
	Paths       int     `json:"paths"`
	AnalysisID  int64   `json:"analysis_id"`
}

// StoredAction is a fix-plan item or choke point as JSON (package graph's
// PlanItem or ChokePoint), anchored on an asset key of its component.
type StoredAction struct {
	AnalysisID int64
	Pos        int
	Anchor     string
	Data       string
}

// JewelRisk is a crown jewel's value and the risk on the paths to it.
type JewelRisk struct {
	Jewel      string
	Value      int
	Risk       float64
	AnalysisID int64
}

// ScopeVersion is one stored version of the scope file.
type ScopeVersion struct {
	Version int64     `json:"version"`
	Digest  string    `json:"digest"`
	Name    string    `json:"name"`
	Data    []byte    `json:"-"`
	At      time.Time `json:"at"`
}

// CodeOwnersVersion is one stored version of a repository's CODEOWNERS.
type CodeOwnersVersion struct {
	Repo    string    `json:"repo"`
	Version int64     `json:"version"`
	Digest  string    `json:"digest"`
	Name    string    `json:"name"`
	Data    []byte    `json:"-"`
	At      time.Time `json:"at"`
}
