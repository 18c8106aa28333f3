// Package effect classifies a weakness by what exploiting it gives an
// attacker (code execution, data read or write, credentials, and so on),
// with a confidence and a reason, from its CWEs, its CVSS vector and the
// metadata of the rule that found it. The attack-path engine turns an
// effect into a step; dos-only and info-only weaknesses are not steps.
//
// Classification is table-driven: CWE ids (cwe.go), scanner rule ids and
// tags (rules.go) and title phrases map to effects, and a CVSS vector
// fills in when nothing else speaks. Every Result carries the reason it
// was chosen, so a person can check it.
package effect

import (
	"fmt"
	"slices"
	"strings"

	"github.com/ctem-dev/ctem/internal/intel/cvss"
	"github.com/ctem-dev/ctem/internal/model"
)

// Effect is what exploiting a weakness gives an attacker.
type Effect string

// The effects, ordered from most to least powerful (see Effect.Rank).
const (
	// Exec: the attacker runs code or commands on the component.
	Exec Effect = "exec"
	// Escape: code in a container or sandbox reaches its host.
	Escape Effect = "escape"
	// PrivEsc: the attacker gains privileges beyond those they hold
	// (a local user to root, an identity to an administrator).
	PrivEsc Effect = "privesc"
	// Credential: the attacker obtains secrets or credentials.
	Credential Effect = "credential"
	// AuthBypass: the attacker acts without authenticating, or as
	// another user.
	AuthBypass Effect = "auth-bypass"
	// Write: the attacker changes data the component holds or reaches
	// (SQL injection gives write, which implies read).
	Write Effect = "write"
	// SSRF: the attacker sends requests from the component.
	SSRF Effect = "ssrf"
	// FileRead: the attacker reads files on the component's file system.
	FileRead Effect = "file-read"
	// Read: the attacker reads data the component holds or reaches.
	Read Effect = "read"
	// Exposure: the finding opens network reach to a resource (0.0.0.0/0
	// ingress, a public IP or endpoint). It is not a step: the estate
	// turns it into an entry state of the attack-path model. This effect
	// is an addition to DESIGN.md's list, which has no place for it.
	Exposure Effect = "exposure"
	// DoSOnly: the attacker can only disrupt availability.
	DoSOnly Effect = "dos-only"
	// InfoOnly: the finding gives no capability by itself (weak hygiene,
	// minor disclosure, missing hardening).
	InfoOnly Effect = "info-only"
	// Unknown: nothing tells; the zero value.
	Unknown Effect = ""
)

// Effects lists every effect from most to least powerful.
var Effects = []Effect{Exec, Escape, PrivEsc, Credential, AuthBypass, Write, SSRF, FileRead, Read, Exposure, DoSOnly, InfoOnly}

// Rank orders effects by power: Exec is highest, Unknown 0.
func (e Effect) Rank() int {
	if i := slices.Index(Effects, e); i >= 0 {
		return len(Effects) - i
	}
	return 0
}

// IsStep reports whether the effect is a step of an attack path: every
// known effect but Exposure, DoSOnly and InfoOnly.
func (e Effect) IsStep() bool {
	return e.Rank() > 0 && e != Exposure && e != DoSOnly && e != InfoOnly
}

// Confidence says how sure a classification is.
type Confidence string

// The confidences.
const (
	High   Confidence = "high"   // the weakness class itself gives the effect
	Medium Confidence = "medium" // usually gives it, depending on context
	Low    Confidence = "low"    // a guess from indirect signs (CVSS, words)
)

func (c Confidence) rank() int {
	switch c {
	case High:
		return 3
	case Medium:
		return 2
	case Low:
		return 1
	}
	return 0
}

// Input is what is known of a weakness. Every field is optional.
type Input struct {
	CWEs  []string          // "CWE-79", "79", "cwe_79"
	CVSS  []string          // vectors of any version
	Kind  model.FindingKind // vulnerability, code, misconfiguration, secret, ...
	Rule  string            // the tool's rule or check id: CKV_AWS_24, KSV017, aws-s3-...
	Tags  []string          // SARIF-like tags: "security", "external/cwe/cwe-89", "sql-injection"
	Title string            // the finding's title
}

// FromFinding builds the Input of a finding: its CWEs, the vectors of its
// CVSS scores, its kind, rule id and title.
func FromFinding(f model.Finding) Input {
	in := Input{CWEs: f.CWEs, Kind: f.Kind, Rule: f.RuleID, Title: f.Title}
	for _, c := range f.CVSS {
		in.CVSS = append(in.CVSS, c.Vector)
	}
	return in
}

// Result is a classification.
type Result struct {
	Effect     Effect     `json:"effect"`
	Confidence Confidence `json:"confidence"`
	Reason     string     `json:"reason"`
}

// Classify returns the effect of a weakness. The sources, in order; the
// first that gives an effect decides. Within one source, results of
// medium or high confidence beat low ones, then the most powerful effect
// wins, then the more confident:
//
//  1. Kind secret: a secret finding gives its credential (high).
//  2. The rule id (rules.go): Checkov, KICS, tfsec, Trivy and kube
//     checks for public buckets, open security groups, wildcard IAM,
//     privileged containers, host mounts and the like.
//  3. CWEs (cwe.go), including CWEs named in tags such as
//     "external/cwe/cwe-89". Generic CWEs (CWE-20, NVD-CWE-Other) have
//     no entry and fall through.
//  4. Tags and title phrases ("sql injection", "remote code execution",
//     "privileged", "0.0.0.0/0").
//  5. The CVSS vector (the preferred one, see cvss.Choose): high
//     confidentiality, integrity and availability impact over the
//     network is exec (low); availability alone is dos-only; and so on.
//
// With nothing to go on the Result is Unknown with a reason saying so.
func Classify(in Input) Result {
	if in.Kind == model.FindingSecret {
		return Result{Credential, High, "a secret finding: whoever reads the secret holds its credential"}
	}
	if r, ok := byRule(in.Rule); ok {
		return r
	}
	cwes := slices.Clone(in.CWEs)
	for _, t := range in.Tags {
		cwes = append(cwes, model.ExtractCWEs(t)...)
	}
	if r, ok := byCWEs(cwes); ok {
		return r
	}
	if r, ok := byWords(in.Kind, in.Tags, in.Title); ok {
		return r
	}
	if r, ok := byCVSS(in.CVSS); ok {
		return r
	}
	return Result{Unknown, Low, "no CWE, rule, tag, title phrase or CVSS vector that says what exploitation gives"}
}

// better reports whether a should replace b as the pick of one source:
// a medium or high confidence result beats a low one whatever their
// effects (a low-confidence cross-site scripting "credential" must not
// hide a certain SSRF); otherwise the more powerful effect wins, then the
// more confident.
func better(a, b Result) bool {
	if sa, sb := a.Confidence.rank() >= Medium.rank(), b.Confidence.rank() >= Medium.rank(); sa != sb {
		return sa
	}
	if a.Effect.Rank() != b.Effect.Rank() {
		return a.Effect.Rank() > b.Effect.Rank()
	}
	return a.Confidence.rank() > b.Confidence.rank()
}

// ForCWE returns the table entry of one CWE ("CWE-89", "89"); ok is false
// for CWEs the table does not know, including the generic ones.
func ForCWE(cwe string) (Result, bool) {
	id := model.NormalizeCWE(cwe)
	e, ok := cweTable[id]
	if !ok {
		return Result{}, false
	}
	return Result{e.effect, e.confidence, fmt.Sprintf("%s (%s)", id, e.why)}, true
}

func byCWEs(cwes []string) (Result, bool) {
	var best Result
	found := false
	for _, c := range cwes {
		r, ok := ForCWE(c)
		if ok && (!found || better(r, best)) {
			best, found = r, true
		}
	}
	return best, found
}

func byCVSS(vectors []string) (Result, bool) {
	var mc []model.CVSS
	for _, v := range vectors {
		mc = append(mc, model.CVSS{Vector: v})
	}
	best, _ := cvss.Choose(mc)
	if best.Vector == "" {
		return Result{}, false
	}
	v, err := cvss.Parse(best.Vector)
	if err != nil {
		return Result{}, false
	}
	c, i, a := v.Impact.Confidentiality, v.Impact.Integrity, v.Impact.Availability
	where := "locally"
	if v.AttackVector == cvss.Network || v.AttackVector == cvss.Adjacent {
		where = "over the " + string(v.AttackVector)
	}
	why := func(s string) string {
		return fmt.Sprintf("CVSS %s impact %s exploitable %s: %s", v.Version, cia(v.Impact), where, s)
	}
	switch {
	case c == cvss.High && i == cvss.High && a == cvss.High && where != "locally":
		return Result{Exec, Low, why("total loss of confidentiality, integrity and availability over the network is most often code execution")}, true
	case c == cvss.High && i == cvss.High && a == cvss.High:
		return Result{PrivEsc, Low, why("total loss from local access is most often privilege escalation")}, true
	case i == cvss.High || (i == cvss.Low && c != cvss.None):
		return Result{Write, Low, why("integrity impact: the attacker changes data")}, true
	case c == cvss.High || c == cvss.Low:
		return Result{Read, Low, why("confidentiality impact only: the attacker reads data")}, true
	case a != cvss.None && i == cvss.None && c == cvss.None:
		return Result{DoSOnly, Medium, why("availability impact only")}, true
	case i == cvss.Low:
		return Result{Write, Low, why("low integrity impact only")}, true
	}
	return Result{InfoOnly, Low, why("no impact")}, true
}

func cia(im cvss.Impacts) string {
	letter := func(l cvss.Level) string {
		if l == "" {
			return "?"
		}
		return strings.ToUpper(string(l[:1]))
	}
	return "C:" + letter(im.Confidentiality) + "/I:" + letter(im.Integrity) + "/A:" + letter(im.Availability)
}
