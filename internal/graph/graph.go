// Package graph builds the exposure graph of an estate and analyses it:
// attack paths from entry states to crown jewels (Yen's k shortest simple
// paths over -log probability), choke points (a weighted minimum cut,
// Dinic's algorithm), the priority of each exposure (the risk that fixing
// it removes) and a fix plan of remediation actions ordered greedily by
// risk removed per unit of effort.
//
// States are (capability, asset) pairs; transitions come from the rule
// table in rules.go. The graph is compact: int32 state ids (asset id × 6 +
// capability) and compressed sparse row (CSR) adjacency arrays, so that a
// million-asset estate fits in memory. Analysis is partitioned by
// connected component, which makes it parallel and lets Reanalyze redo
// only the components whose inputs changed.
package graph

import (
	"github.com/ctem-dev/ctem/internal/intel/effect"
	"github.com/ctem-dev/ctem/internal/model"
)

// Capability is what an attacker holds over an asset.
type Capability uint8

// The capabilities of the attack-path model (DESIGN.md).
const (
	Network  Capability = iota // can send traffic to the asset
	Exec                       // runs code on it
	Read                       // reads its data
	Write                      // changes its data
	Identity                   // holds its credentials and permissions
	Admin                      // controls it (a control plane, a principal's policies)
)

const numCaps = 6

var capNames = [numCaps]string{"network", "exec", "read", "write", "identity", "admin"}

// String returns the capability's name: "network", "exec", ...
func (c Capability) String() string {
	if int(c) < numCaps {
		return capNames[c]
	}
	return "invalid"
}

// State is one (capability, asset) pair. Its String form is
// "capability:asset-key".
type State struct {
	Cap   Capability
	Asset string
}

// String returns "capability:asset-key".
func (s State) String() string { return s.Cap.String() + ":" + s.Asset }

// Relation types, labels and keys this package reads: aliases of the
// stage contracts of internal/model, kept under their old names.
const (
	// RelGrants is a relation S —grants→ I: whoever reads S (a secret, a
	// repository, a file) holds the credentials of identity I. The
	// estate emits it where a secret's contents are known (a Kubernetes
	// Secret holding a database password); a secret finding names its
	// identities in Weakness.Grants instead.
	RelGrants = model.RelGrants
	// RelTrusts is model.RelTrusts: role R's trust policy lets P assume it.
	RelTrusts = model.RelTrusts

	// LabelIMDSv1 is model.LabelIMDSv1: an SSRF on the asset yields its
	// instance role. A uses-identity relation whose Action is
	// ActionIMDSv1 says the same of that one identity.
	LabelIMDSv1 = model.LabelIMDSv1
	// ActionIMDSv1 is model.ActionIMDSv1.
	ActionIMDSv1 = model.ActionIMDSv1
	// LabelPublic is model.LabelPublic: an internet entry point and, by
	// the open data store rule, readable.
	LabelPublic = model.LabelPublic
	// InternetKey is model.InternetKey.
	InternetKey = model.InternetKey
	// escapePrefix starts the labels that say a workload can reach its
	// node (escape.privileged and the like).
	escapePrefix = model.LabelEscapePrefix
)

// Input is the snapshot an analysis runs on. The caller builds it from the
// store and the scope. Assets named only by relations, weaknesses, entries
// or jewels are added with the kind model.KindOfKey guesses.
type Input struct {
	Assets     []model.Asset
	Relations  []model.Relation
	Weaknesses []Weakness
	// Entries are where paths start. Nil means the internet; an empty,
	// non-nil slice means no entry point.
	Entries []Entry
	// Jewels are the targets, each with its value.
	Jewels []Jewel
}

// Weakness is one open exposure with what is known of its exploitability.
type Weakness struct {
	Exposure model.Exposure
	// Effect is the classification of internal/intel/effect. dos-only,
	// info-only and unknown weaknesses are never steps.
	Effect effect.Result
	// Evidence lists the evidence kinds present for the exposure.
	Evidence []model.EvidenceKind
	// EvidenceOn lists, by asset key, evidence kinds that hold only where
	// the weakness is reached through that asset: runtime or DAST evidence
	// seen on one workload of an image that several run. It adds to
	// Evidence on the ways whose source is that asset.
	EvidenceOn map[string][]model.EvidenceKind
	// EPSS is the EPSS probability (0 when unknown) and KEV whether the
	// vulnerability is in CISA's Known Exploited Vulnerabilities.
	EPSS float64
	KEV  bool
	// AttackComplexity is the CVSS attack complexity, "low" or "high",
	// empty when unknown.
	AttackComplexity string
	// Grants lists the identity keys a credential (a secret finding)
	// grants; see the leaked credential rule.
	Grants []string
	// Action is the key of the remediation action that removes the
	// weakness and Effort its cost. Empty and zero mean DefaultAction.
	Action string
	Effort float64
	// ActionTitle describes Action for people; empty means a default.
	ActionTitle string
}

// EntryKind says what kind of entry point an Entry is.
type EntryKind string

// The entry kinds (the names of internal/estate/scope).
const (
	EntryInternet        EntryKind = "internet"
	EntryInternalNetwork EntryKind = "internal-network"
	EntryIdentity        EntryKind = "identity"
)

// Entry is an attacker's starting point. EntryInternet gives network on
// every asset the internet asset exposes or connects to, every asset
// labelled public=true and every asset with an exposure-effect weakness;
// EntryInternalNetwork gives network on every workload, host, function,
// node, endpoint, load balancer and data store; EntryIdentity gives
// identity on Identity, a principal whose credentials are assumed stolen;
// EntryCompromised gives the states CompromisedCaps names on Asset.
type Entry struct {
	Kind     EntryKind `json:"kind"`
	Identity string    `json:"identity,omitempty"`
	// Asset is the asset an EntryCompromised entry assumes compromised.
	Asset string `json:"asset,omitempty"`
}

// String returns "internet", "internal-network" or "identity assumed
// stolen: KEY".
func (e Entry) String() string {
	if e.Kind == EntryIdentity {
		return "identity assumed stolen: " + e.Identity
	}
	if e.Kind == EntryCompromised {
		return "asset assumed compromised: " + e.Asset
	}
	return string(e.Kind)
}

// Jewel is a crown jewel: an asset whose compromise is the harm that
// matters, with a Value from 1 to 10. Any of read, write, admin, exec or
// identity on the asset reaches it.
type Jewel struct {
	Asset string `json:"asset"`
	Value int    `json:"value"`
	Name  string `json:"name,omitempty"`
}

// Options tunes an analysis. The zero value means the defaults.
type Options struct {
	// K is the number of paths per jewel; 0 means 5.
	K int
	// MaxSteps bounds a path's length; 0 means 10.
	MaxSteps int
	// Workers is the number of components analysed at once; 0 means
	// GOMAXPROCS.
	Workers int
	// NoReuse says that the result will not be passed to Reanalyze as
	// its prev: the components are not hashed (a second at a million
	// weaknesses), and a Reanalyze from the result recomputes every
	// component. Paths, cuts and the plan are the same.
	NoReuse bool
}

func (o Options) norm() Options {
	if o.K <= 0 {
		o.K = 5
	}
	if o.MaxSteps <= 0 {
		o.MaxSteps = 10
	}
	return o
}
