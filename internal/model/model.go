// Package model holds ctem's core records: assets, relations, findings,
// exposures, evidence and scans. It does no I/O; every other package builds
// on these types.
package model

import "time"

// AssetKind says what an asset is.
type AssetKind string

// The asset kinds ctem knows. An asset of another kind is stored as given.
const (
	KindRepository   AssetKind = "repository"
	KindImage        AssetKind = "image"
	KindPackage      AssetKind = "package"
	KindWorkload     AssetKind = "workload"
	KindHost         AssetKind = "host"
	KindFunction     AssetKind = "function"
	KindLoadBalancer AssetKind = "load-balancer"
	KindEndpoint     AssetKind = "endpoint"
	KindIdentity     AssetKind = "identity"
	KindSecret       AssetKind = "secret"
	KindDatastore    AssetKind = "datastore"
	KindNetwork      AssetKind = "network"
	KindCluster      AssetKind = "cluster"
	KindAccount      AssetKind = "account"
	KindNode         AssetKind = "node"
	KindFile         AssetKind = "file"
	KindResource     AssetKind = "resource"
)

// Asset is one thing in the estate: an image, a repository, a workload, a
// cloud resource. Key is its canonical identity (see the Key functions in
// this package); two sources that name the same thing produce the same key.
type Asset struct {
	Key         string            `json:"key"`
	Kind        AssetKind         `json:"kind"`
	Name        string            `json:"name"`
	Labels      map[string]string `json:"labels"`
	Environment string            `json:"environment"`
	Owner       string            `json:"owner"`
	Criticality string            `json:"criticality"`
	Source      string            `json:"source,omitempty"`
	FirstSeen   time.Time         `json:"first_seen"`
	LastSeen    time.Time         `json:"last_seen"`

	// The fields below are not stored: correlation (package estate)
	// computes them from the scope file and the relations.

	// Service is the business service the scope puts the asset in.
	Service string `json:"service"`
	// CrownJewel is the asset's value as a crown jewel (1 to 10), nil
	// when it is none.
	CrownJewel *int `json:"crown_jewel"`
	// InternetExposed says whether traffic from the internet reaches the
	// asset through exposes and routes-to relations.
	InternetExposed bool `json:"internet_exposed"`
	// Aliases are other keys that name this asset (an image's tag
	// reference when the asset is keyed by digest).
	Aliases []string `json:"aliases,omitempty"`
}

// RelationType names the kind of an edge between two assets.
type RelationType string

// The relation types of the exposure graph (DESIGN.md: core records).
const (
	RelExposes     RelationType = "exposes"
	RelRoutesTo    RelationType = "routes-to"
	RelRuns        RelationType = "runs"
	RelBuiltFrom   RelationType = "built-from"
	RelContains    RelationType = "contains"
	RelUsesIdentit RelationType = "uses-identity"
	RelCan         RelationType = "can"
	RelMounts      RelationType = "mounts"
	RelReadsEnv    RelationType = "reads-env"
	RelConnectsTo  RelationType = "connects-to"
	RelRunsOn      RelationType = "runs-on"
	RelMemberOf    RelationType = "member-of"
	RelDeploys     RelationType = "deploys"
	// RelAliasOf says that From is another name of To: an image's tag
	// reference of the image keyed by its digest. Correlation merges the
	// two into To.
	RelAliasOf RelationType = "alias-of"
	// RelGrants says that a secret (From) holds credentials of an
	// identity (To).
	RelGrants RelationType = "grants"
	// RelTrusts says that a role (From) lets a principal (To) assume it:
	// its trust policy names the principal, an account root or a
	// federated provider. Action is the sts action allowed
	// ("sts:AssumeRole"), with " if " and the conditions it holds under.
	RelTrusts RelationType = "trusts"
	// RelAttached says that a principal (From) has a customer-managed
	// policy (To) attached: who rewrites the policy rewrites what the
	// principal may do.
	RelAttached RelationType = "attached"
)

// Relation is a typed, directed edge between two assets, named by their
// keys. Action qualifies RelCan ("s3:GetObject", "get secrets"). Source
// names the input the edge came from.
type Relation struct {
	From   string       `json:"from"`
	To     string       `json:"to"`
	Type   RelationType `json:"type"`
	Action string       `json:"action,omitempty"`
	Source string       `json:"source,omitempty"`
}

// FindingKind is the broad class of a finding; it decides how the finding
// is fingerprinted and merged into exposures.
type FindingKind string

// The finding kinds.
const (
	FindingVulnerability FindingKind = "vulnerability"
	FindingCode          FindingKind = "code"
	FindingMisconfig     FindingKind = "misconfiguration"
	FindingSecret        FindingKind = "secret"
	FindingLicense       FindingKind = "license"
	FindingDAST          FindingKind = "dast"
	FindingNetwork       FindingKind = "network"
)

// Package is the software package a finding is about.
type Package struct {
	Name         string `json:"name"`
	Version      string `json:"version"`
	FixedVersion string `json:"fixed_version"`
	PURL         string `json:"purl"`
}

// Location points into source code, a file in an image, or a URL.
type Location struct {
	Path    string `json:"path"`
	Line    int    `json:"line"`
	EndLine int    `json:"end_line,omitempty"`
	Column  int    `json:"column,omitempty"`
	Snippet string `json:"-"`
	// Occurrence tells apart places in one file that share a snippet:
	// 0 for the first, 1 for the next. Parsers set it; it keeps code
	// fingerprints line-independent without merging two places.
	Occurrence int    `json:"-"`
	URL        string `json:"url,omitempty"`
	Component  string `json:"component,omitempty"`
}

// CVSS is one CVSS vector as the tool reported it. Source names who scored
// it ("nvd", "redhat", "ghsa", the tool itself); Score is the tool's number,
// zero when absent.
type CVSS struct {
	Source string  `json:"source,omitempty"`
	Vector string  `json:"vector"`
	Score  float64 `json:"score,omitempty"`
}

// Finding is one observation by one tool: a vulnerability on a package in
// a target, a SARIF result, a failed check on a resource, a secret at a
// location, an alert on a URL. Its ID is derived from its exposure and
// from the tool and its Fingerprint, so the same observation ingested
// twice is the same finding.
type Finding struct {
	ID           string      `json:"id"`
	Tool         string      `json:"tool"`
	Kind         FindingKind `json:"kind"`
	RuleID       string      `json:"rule_id"`
	VulnIDs      []string    `json:"vuln_ids"`
	CWEs         []string    `json:"cwes"`
	Severity     Severity    `json:"severity"`
	ToolSeverity string      `json:"tool_severity,omitempty"`
	CVSS         []CVSS      `json:"cvss,omitempty"`
	Title        string      `json:"title"`
	Description  string      `json:"description,omitempty"`
	Asset        string      `json:"asset"`
	Package      Package     `json:"package"`
	Location     Location    `json:"location"`
	Status       Status      `json:"status"`
	// ToolStatus keeps what the tool itself said of the item's state
	// ("suppressed: inSource", "will_not_fix", "baseline: unchanged").
	ToolStatus string `json:"tool_status,omitempty"`
	// Fingerprint identifies the item within its tool; see Fingerprint.
	Fingerprint string `json:"fingerprint"`
	// ToolFingerprint is the tool's own fingerprint, when it gives one.
	ToolFingerprint string `json:"tool_fingerprint,omitempty"`
	// SecretHash is a keyed hash (HMAC-SHA256) of a secret's value and
	// SecretHint at most its last four characters; the value itself is
	// never stored (see ingest.RedactSecret).
	SecretHash string `json:"secret_hash,omitempty"`
	SecretHint string `json:"secret_hint,omitempty"`
	// ExposureKey is the cross-tool identity of the weakness; findings of
	// different tools with one key merge into one exposure.
	ExposureKey string `json:"-"`
	ExposureID  string `json:"exposure_id"`
	// Pointer says where in the input the item was (a JSON pointer or an
	// offset), for people tracing a finding back to its report.
	Pointer   string    `json:"pointer,omitempty"`
	ScanID    string    `json:"scan_id"`
	FirstSeen time.Time `json:"first_seen"`
	LastSeen  time.Time `json:"last_seen"`
	FixedAt   time.Time `json:"fixed_at,omitzero"`
}

// Exposure is one deduplicated weakness on one asset: the merge of every
// finding, from every tool, that reports it.
type Exposure struct {
	ID         string      `json:"id"`
	Kind       FindingKind `json:"kind"`
	RuleID     string      `json:"rule_id"`
	VulnIDs    []string    `json:"vuln_ids"`
	CWEs       []string    `json:"cwes"`
	Severity   Severity    `json:"severity"`
	Title      string      `json:"title"`
	Asset      string      `json:"asset"`
	Package    Package     `json:"package"`
	Location   Location    `json:"location"`
	Status     Status      `json:"status"`
	FindingIDs []string    `json:"finding_ids"`
	Tools      []string    `json:"tools"`
	// CVSS holds the vectors its findings that are not fixed carry.
	CVSS      []CVSS    `json:"cvss,omitempty"`
	FirstSeen time.Time `json:"first_seen"`
	LastSeen  time.Time `json:"last_seen"`
	FixedAt   time.Time `json:"fixed_at,omitzero"`
	History   []Event   `json:"history,omitempty"`
}

// Event is one change of a finding's status, recorded by the ingest that
// caused it, or of an exposure's status by a person's triage decision
// (FindingID empty, By and Reason set).
type Event struct {
	FindingID string    `json:"finding_id"`
	From      Status    `json:"from"`
	To        Status    `json:"to"`
	At        time.Time `json:"at"`
	ScanID    string    `json:"scan_id"`
	// By names who changed an exposure's status, and Reason says why.
	By     string `json:"by,omitempty"`
	Reason string `json:"reason,omitempty"`
}

// EvidenceKind names a fact that raises or lowers the odds that a weakness
// is exploitable.
type EvidenceKind string

// The evidence kinds.
const (
	EvidenceKEV            EvidenceKind = "kev"
	EvidenceEPSS           EvidenceKind = "epss"
	EvidencePublicExploit  EvidenceKind = "public-exploit"
	EvidenceReachableCall  EvidenceKind = "reachable-call"
	EvidenceImportedOnly   EvidenceKind = "imported-only"
	EvidenceRequiredOnly   EvidenceKind = "required-only"
	EvidenceRuntimeLoaded  EvidenceKind = "runtime-loaded"
	EvidenceDASTConfirmed  EvidenceKind = "dast-confirmed"
	EvidenceProbeConfirmed EvidenceKind = "probe-confirmed"
	// EvidenceProbeRefuted: a safe probe found the entry in front of the
	// weakness closed or filtered (ctem validate).
	EvidenceProbeRefuted EvidenceKind = "probe-refuted"
	// EvidenceImageRunning: the live cluster runs the image the weakness
	// is on (kubectl's container statuses); EvidenceImageNotRunning: a
	// workload of the estate names the image, but nothing in the
	// namespaces listed runs it.
	EvidenceImageRunning    EvidenceKind = "image-running"
	EvidenceImageNotRunning EvidenceKind = "image-not-running"
	// EvidenceRuntimeExec: a runtime detector (Falco) saw code run in a
	// container of the workload (a shell, an execution technique), so
	// the step that gives code execution there was taken.
	EvidenceRuntimeExec    EvidenceKind = "runtime-exec"
	EvidenceVEXNotAffected EvidenceKind = "vex-not-affected"
	EvidenceVEXAffected    EvidenceKind = "vex-affected"
)

// Evidence is one fact about a vulnerability on an asset. It joins to
// exposures by Asset and VulnID (any alias), or by FindingID when the
// source is the finding's own report.
type Evidence struct {
	Kind      EvidenceKind `json:"kind"`
	Asset     string       `json:"asset,omitempty"`
	VulnID    string       `json:"vuln_id,omitempty"`
	FindingID string       `json:"finding_id,omitempty"`
	Source    string       `json:"source"`
	Detail    string       `json:"detail,omitempty"`
	At        time.Time    `json:"at"`
}

// Scan is one ingest of one source for one target. A newer scan of the same
// (Tool, Target) closes what it no longer reports.
type Scan struct {
	ID          string `json:"id"`
	Tool        string `json:"tool"`
	ToolVersion string `json:"tool_version,omitempty"`
	Format      string `json:"format"`
	// ParserVersion is the version of ctem's parser of Format that read
	// the input (the parser package's ParserVersion).
	ParserVersion string    `json:"parser_version,omitempty"`
	Target        string    `json:"target"`
	Asset         string    `json:"asset,omitempty"`
	Input         string    `json:"input"`
	Digest        string    `json:"digest"`
	StartedAt     time.Time `json:"started_at"`
	Findings      int       `json:"findings"`
	New           int       `json:"new"`
	Fixed         int       `json:"fixed"`
	Reopened      int       `json:"reopened"`
}
