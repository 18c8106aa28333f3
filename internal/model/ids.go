package model

import (
	"crypto/sha256"
	"encoding/hex"
	"regexp"
	"slices"
	"strings"
)

var (
	cveRE  = regexp.MustCompile(`(?i)\bCVE-\d{4}-\d{4,}\b`)
	ghsaRE = regexp.MustCompile(`(?i)\bGHSA(?:-[23456789cfghjmpqrvwx]{4}){3}\b`)
	goRE   = regexp.MustCompile(`\bGO-\d{4}-\d{4,}\b`)
	cweRE  = regexp.MustCompile(`(?i)\bCWE[-_ :]?(\d{1,5})\b`)
)

// NormalizeVulnID upper-cases the prefix of well-known vulnerability ids
// (cve-2021-1 becomes CVE-2021-1; GHSA ids keep their lower-case body) and
// trims space. Other ids are returned trimmed.
func NormalizeVulnID(id string) string {
	id = strings.TrimSpace(id)
	if strings.HasPrefix(id, "CVE-") && upperASCII(id) {
		// Upper case already: whether or not the rest is a CVE id, the
		// answer is id (listings normalise every id they read).
		return id
	}
	switch {
	case cveRE.MatchString(id) && len(id) >= 4 && strings.EqualFold(id[:4], "CVE-"):
		return strings.ToUpper(id)
	case len(id) >= 5 && strings.EqualFold(id[:5], "GHSA-"):
		return "GHSA-" + strings.ToLower(id[5:])
	}
	return id
}

// upperASCII reports whether s is ASCII without a lower-case letter.
func upperASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c >= 0x80 || ('a' <= c && c <= 'z') {
			return false
		}
	}
	return true
}

// ExtractVulnIDs finds CVE, GHSA and GO- ids in free text, in order of first
// appearance, normalized and without repeats.
func ExtractVulnIDs(text string) []string {
	type hit struct {
		at int
		id string
	}
	var hits []hit
	for _, re := range []*regexp.Regexp{cveRE, ghsaRE, goRE} {
		for _, loc := range re.FindAllStringIndex(text, -1) {
			hits = append(hits, hit{loc[0], NormalizeVulnID(text[loc[0]:loc[1]])})
		}
	}
	slices.SortStableFunc(hits, func(a, b hit) int { return a.at - b.at })
	var out []string
	for _, h := range hits {
		if !slices.Contains(out, h.id) {
			out = append(out, h.id)
		}
	}
	return out
}

// ExtractCWEs finds CWE ids in free text ("CWE-79", "cwe_89", "CWE: 22")
// and returns them as "CWE-N" without repeats, in order of appearance.
func ExtractCWEs(text string) []string {
	var out []string
	for _, m := range cweRE.FindAllStringSubmatch(text, -1) {
		id := "CWE-" + strings.TrimLeft(m[1], "0")
		if id == "CWE-" {
			continue
		}
		if !slices.Contains(out, id) {
			out = append(out, id)
		}
	}
	return out
}

// NormalizeCWE turns "79", "CWE-79", "cwe_079" into "CWE-79"; it returns ""
// for anything else.
func NormalizeCWE(s string) string {
	s = strings.TrimSpace(s)
	if s == "" {
		return ""
	}
	if ids := ExtractCWEs(s); len(ids) > 0 {
		return ids[0]
	}
	n := strings.TrimLeft(s, "0")
	if n == "" || len(n) > 5 {
		return ""
	}
	for _, r := range n {
		if r < '0' || r > '9' {
			return ""
		}
	}
	return "CWE-" + n
}

// vulnIDRank orders id kinds: CVE first, then GHSA, then GO-, then others.
func vulnIDRank(id string) int {
	switch {
	case strings.HasPrefix(id, "CVE-"):
		return 0
	case strings.HasPrefix(id, "GHSA-"):
		return 1
	case strings.HasPrefix(id, "GO-"):
		return 2
	}
	return 3
}

// SortVulnIDs normalizes ids, drops empty ones and repeats, and orders them
// CVE first, then GHSA, then GO-, then the rest, keeping the input order
// within each kind.
func SortVulnIDs(ids []string) []string {
	out := make([]string, 0, len(ids))
	for _, id := range ids {
		id = NormalizeVulnID(id)
		if id != "" && !slices.Contains(out, id) {
			out = append(out, id)
		}
	}
	slices.SortStableFunc(out, func(a, b string) int { return vulnIDRank(a) - vulnIDRank(b) })
	return out
}

// CanonicalVulnID picks the id under which aliases merge: the first CVE if
// there is one, else the first GHSA, else the first id. ids should already
// be sorted by SortVulnIDs.
func CanonicalVulnID(ids []string) string {
	if len(ids) == 0 {
		return ""
	}
	return ids[0]
}

// Hash returns a stable 32-hex-digit digest of its parts, separated so that
// ("ab","c") and ("a","bc") differ. It is the basis of fingerprints and ids
// and never changes between runs or machines.
func Hash(parts ...string) string {
	h := sha256.New()
	for _, p := range parts {
		h.Write([]byte(p))
		h.Write([]byte{0})
	}
	return hex.EncodeToString(h.Sum(nil)[:16])
}

// HexID16 parses an id of sixteen lowercase hexadecimal digits (the form
// of exposure and finding ids) into its number, for sorting and joining
// ids as integers; ok is false for any other text.
func HexID16[T ~string | ~[]byte](id T) (n uint64, ok bool) {
	if len(id) != 16 {
		return 0, false
	}
	for i := 0; i < 16; i++ {
		c := id[i]
		switch {
		case c >= '0' && c <= '9':
			n = n<<4 | uint64(c-'0')
		case c >= 'a' && c <= 'f':
			n = n<<4 | uint64(c-'a'+10)
		default:
			return 0, false
		}
	}
	return n, true
}
