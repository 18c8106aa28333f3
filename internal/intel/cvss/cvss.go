// Package cvss parses and scores CVSS v2.0, v3.0, v3.1 and v4.0 vectors
// and describes each one in a version-independent form: its version, its
// score and severity, and the exploitability and impact metrics that the
// attack-path engine reasons with.
//
// Scoring is delegated to github.com/pandatix/go-cvss, which implements the
// FIRST specifications; this package only normalizes the text it is given,
// maps the metrics and turns every failure, including a panic in the
// library, into an error.
package cvss

import (
	"errors"
	"fmt"
	"strings"

	gocvss20 "github.com/pandatix/go-cvss/20"
	gocvss30 "github.com/pandatix/go-cvss/30"
	gocvss31 "github.com/pandatix/go-cvss/31"
	gocvss40 "github.com/pandatix/go-cvss/40"

	"github.com/ctem-dev/ctem/internal/model"
)

// Version is a CVSS version as written in a vector's prefix.
type Version string

// The supported versions.
const (
	V2  Version = "2.0"
	V30 Version = "3.0"
	V31 Version = "3.1"
	V40 Version = "4.0"
)

// rank orders versions for Choose: 4.0 over 3.1 over 3.0 over 2.0.
func (v Version) rank() int {
	switch v {
	case V40:
		return 4
	case V31:
		return 3
	case V30:
		return 2
	case V2:
		return 1
	}
	return 0
}

// AttackVector says from where an attacker can exploit a weakness.
type AttackVector string

// The attack vectors. CVSS v2's "Access Vector" maps onto the first three.
const (
	Network  AttackVector = "network"
	Adjacent AttackVector = "adjacent"
	Local    AttackVector = "local"
	Physical AttackVector = "physical"
)

// Level is the value of a graded metric: attack complexity, attack
// requirements, privileges required, and the confidentiality, integrity
// and availability impacts.
type Level string

// The levels. Medium appears only as CVSS v2's attack complexity.
const (
	None   Level = "none"
	Low    Level = "low"
	Medium Level = "medium"
	High   Level = "high"
)

// Interaction says whether a user other than the attacker must take part.
type Interaction string

// The user interaction values. CVSS v3's "Required" is kept as Required;
// v4 splits it into Passive and Active. CVSS v2 has no such metric and
// reads as InteractionNone.
const (
	InteractionNone     Interaction = "none"
	InteractionRequired Interaction = "required"
	InteractionPassive  Interaction = "passive"
	InteractionActive   Interaction = "active"
)

// Impacts are the confidentiality, integrity and availability impacts on
// one system.
type Impacts struct {
	Confidentiality Level `json:"confidentiality"`
	Integrity       Level `json:"integrity"`
	Availability    Level `json:"availability"`
}

// Vector is a parsed CVSS vector in version-independent form.
//
// The mapping of older metrics: v2 Access Complexity low, medium, high is
// kept as Low, Medium, High; v2 Authentication none, single, multiple reads
// as privileges None, Low, High; v2 impacts none, partial, complete read as
// None, Low, High. For v4, Impact is the vulnerable system (VC, VI, VA) and
// Subsequent the subsequent systems (SC, SI, SA); for v3 a changed scope
// sets ScopeChanged and leaves Subsequent zero.
type Vector struct {
	Version Version `json:"version"`
	// Text is the vector as given, trimmed of space and of the
	// parentheses some tools put around v2 vectors.
	Text string `json:"vector"`
	// Score is the base score for v2 and v3. For v4 it is the score of
	// the metric groups present (see Nomenclature): the base score for a
	// vector of base metrics only.
	Score float64 `json:"score"`
	// Severity is the qualitative rating of Score: the v3/v4 scale
	// (model.SeverityFromScore) for v3 and v4, and NVD's v2 scale (low
	// below 4.0, medium below 7.0, high from 7.0) for v2, which has no
	// critical.
	Severity model.Severity `json:"severity"`
	// Nomenclature is "CVSS-B", "CVSS-BT", "CVSS-BE" or "CVSS-BTE" for v4
	// and empty for older versions.
	Nomenclature string `json:"nomenclature,omitempty"`

	AttackVector     AttackVector `json:"attack_vector"`
	AttackComplexity Level        `json:"attack_complexity"`
	// AttackRequirements is v4's AT (None or High for "present"); None
	// for older versions.
	AttackRequirements Level       `json:"attack_requirements"`
	PrivilegesRequired Level       `json:"privileges_required"`
	UserInteraction    Interaction `json:"user_interaction"`
	// ScopeChanged is v3's S:C, and for v4 true when any subsequent
	// system impact is above None.
	ScopeChanged bool    `json:"scope_changed"`
	Impact       Impacts `json:"impact"`
	Subsequent   Impacts `json:"subsequent,omitzero"`
}

// RemoteUnauthenticated reports whether the weakness can be exploited over
// the network, without privileges and without a user's help: AV:N, PR:N
// (v2 Au:N) and UI:N. It is the usual test of whether exploitation can be
// automated.
func (v Vector) RemoteUnauthenticated() bool {
	return v.AttackVector == Network && v.PrivilegesRequired == None && v.UserInteraction == InteractionNone
}

// ErrMalformed is matched (errors.Is) by every error Parse returns for a
// vector it cannot read. Callers keep such vectors as text and flag them.
var ErrMalformed = errors.New("malformed CVSS vector")

// ErrUnsupportedVersion is matched by the error Parse returns for a
// well-formed "CVSS:x.y/" prefix of a version it does not know.
var ErrUnsupportedVersion = errors.New("unsupported CVSS version")

// ParseError is the error Parse returns. It matches ErrMalformed or
// ErrUnsupportedVersion, and unwraps to the scoring library's own error
// when there is one.
type ParseError struct {
	Vector string // the text given, cut to 200 bytes
	Kind   error  // ErrMalformed or ErrUnsupportedVersion
	Err    error  // the cause, nil when Kind says it all
}

func (e *ParseError) Error() string {
	if e.Err == nil {
		return fmt.Sprintf("%v %q", e.Kind, e.Vector)
	}
	return fmt.Sprintf("%v %q: %v", e.Kind, e.Vector, e.Err)
}

// Unwrap returns the kind and the cause.
func (e *ParseError) Unwrap() []error {
	if e.Err == nil {
		return []error{e.Kind}
	}
	return []error{e.Kind, e.Err}
}

// maxVectorLen bounds the text Parse looks at: the longest valid vector
// (v4 with every metric) is under 200 bytes.
const maxVectorLen = 512

// Parse parses and scores a CVSS vector of any supported version. A v3 or
// v4 vector starts with "CVSS:3.0/", "CVSS:3.1/" or "CVSS:4.0/"; anything
// else is read as v2, with or without a "CVSS:2.0/" prefix or surrounding
// parentheses, as NVD and scanners write it. Space around the text is
// ignored. A vector the library rejects, an empty or over-long one, or
// one that makes the library panic yields a *ParseError; Parse itself
// never panics.
func Parse(vector string) (v Vector, err error) {
	text := strings.TrimSpace(vector)
	fail := func(kind, cause error) (Vector, error) {
		shown := vector
		if len(shown) > 200 {
			shown = shown[:200]
		}
		return Vector{}, &ParseError{Vector: shown, Kind: kind, Err: cause}
	}
	if text == "" {
		return fail(ErrMalformed, errors.New("empty"))
	}
	if len(text) > maxVectorLen {
		return fail(ErrMalformed, errors.New("too long"))
	}
	defer func() {
		if r := recover(); r != nil {
			v, err = fail(ErrMalformed, fmt.Errorf("scoring library panicked: %v", r))
		}
	}()

	if rest, ok := strings.CutPrefix(text, "CVSS:"); ok {
		ver, _, _ := strings.Cut(rest, "/")
		switch Version(ver) {
		case V40:
			return parse40(text, fail)
		case V31, V30:
			return parse3(Version(ver), text, fail)
		case V2:
			text = strings.TrimPrefix(text, "CVSS:2.0/")
		default:
			return fail(ErrUnsupportedVersion, nil)
		}
	}
	return parse2(text, fail)
}

type failFunc func(kind, cause error) (Vector, error)

func parse2(text string, fail failFunc) (Vector, error) {
	if strings.HasPrefix(text, "(") && strings.HasSuffix(text, ")") {
		text = text[1 : len(text)-1]
	}
	c, err := gocvss20.ParseVector(text)
	if err != nil {
		return fail(ErrMalformed, err)
	}
	get := func(m string) string { s, _ := c.Get(m); return s }
	v := Vector{
		Version:            V2,
		Text:               text,
		Score:              c.BaseScore(),
		AttackVector:       map[string]AttackVector{"N": Network, "A": Adjacent, "L": Local}[get("AV")],
		AttackComplexity:   map[string]Level{"L": Low, "M": Medium, "H": High}[get("AC")],
		AttackRequirements: None,
		PrivilegesRequired: map[string]Level{"N": None, "S": Low, "M": High}[get("Au")],
		UserInteraction:    InteractionNone,
	}
	v2Impact := map[string]Level{"N": None, "P": Low, "C": High}
	v.Impact = Impacts{v2Impact[get("C")], v2Impact[get("I")], v2Impact[get("A")]}
	// NVD's qualitative scale for v2; the v2 specification has none.
	switch {
	case v.Score >= 7.0:
		v.Severity = model.SeverityHigh
	case v.Score >= 4.0:
		v.Severity = model.SeverityMedium
	default:
		v.Severity = model.SeverityLow
	}
	return v, nil
}

// v3 and v4 share these letters.
var (
	avOf     = map[string]AttackVector{"N": Network, "A": Adjacent, "L": Local, "P": Physical}
	levelOf  = map[string]Level{"N": None, "L": Low, "H": High}
	uiOf     = map[string]Interaction{"N": InteractionNone, "R": InteractionRequired, "P": InteractionPassive, "A": InteractionActive}
	presence = map[string]Level{"N": None, "P": High}
)

type getter interface {
	Get(abv string) (string, error)
}

func getAll(g getter) func(string) string {
	return func(m string) string { s, _ := g.Get(m); return s }
}

func parse3(ver Version, text string, fail failFunc) (Vector, error) {
	var (
		g     getter
		score float64
	)
	if ver == V31 {
		c, err := gocvss31.ParseVector(text)
		if err != nil {
			return fail(ErrMalformed, err)
		}
		g, score = c, c.BaseScore()
	} else {
		c, err := gocvss30.ParseVector(text)
		if err != nil {
			return fail(ErrMalformed, err)
		}
		g, score = c, c.BaseScore()
	}
	get := getAll(g)
	return Vector{
		Version:            ver,
		Text:               text,
		Score:              score,
		Severity:           model.SeverityFromScore(score),
		AttackVector:       avOf[get("AV")],
		AttackComplexity:   levelOf[get("AC")],
		AttackRequirements: None,
		PrivilegesRequired: levelOf[get("PR")],
		UserInteraction:    uiOf[get("UI")],
		ScopeChanged:       get("S") == "C",
		Impact:             Impacts{levelOf[get("C")], levelOf[get("I")], levelOf[get("A")]},
	}, nil
}

func parse40(text string, fail failFunc) (Vector, error) {
	c, err := gocvss40.ParseVector(text)
	if err != nil {
		return fail(ErrMalformed, err)
	}
	get := getAll(c)
	score := c.Score()
	v := Vector{
		Version:            V40,
		Text:               text,
		Score:              score,
		Severity:           model.SeverityFromScore(score),
		Nomenclature:       c.Nomenclature(),
		AttackVector:       avOf[get("AV")],
		AttackComplexity:   levelOf[get("AC")],
		AttackRequirements: presence[get("AT")],
		PrivilegesRequired: levelOf[get("PR")],
		UserInteraction:    uiOf[get("UI")],
		Impact:             Impacts{levelOf[get("VC")], levelOf[get("VI")], levelOf[get("VA")]},
		Subsequent:         Impacts{levelOf[get("SC")], levelOf[get("SI")], levelOf[get("SA")]},
	}
	v.ScopeChanged = v.Subsequent != Impacts{None, None, None}
	return v, nil
}
