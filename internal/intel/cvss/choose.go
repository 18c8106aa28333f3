package cvss

import (
	"fmt"
	"strings"

	"github.com/ctem-dev/ctem/internal/model"
)

// Choose picks the vector a finding should be scored by from the vectors
// its tools reported, and says why in a short sentence.
//
// The preference, in order:
//
//  1. A vector that parses wins over one that does not; malformed vectors
//     are never chosen.
//  2. The newest version: v4.0 over v3.1 over v3.0 over v2.0. A newer
//     version describes the weakness with finer metrics, and every
//     scorer now publishes the newest one it has.
//  3. Within one version, the vendor's vector (any Source other than
//     "nvd", compared without case) over NVD's: the vendor knows its
//     product's defaults and backports, and NVD often scores the worst
//     case of every platform.
//  4. Otherwise the first given.
//
// best is the chosen vector as given, except that a zero Score is filled
// in with the computed one. With no well-formed vector, best is the zero
// CVSS and why says so.
func Choose(vectors []model.CVSS) (best model.CVSS, why string) {
	bestAt, bestRank := -1, 0
	var bestVec Vector
	malformed := 0
	for i, c := range vectors {
		v, err := Parse(c.Vector)
		if err != nil {
			malformed++
			continue
		}
		r := v.Version.rank()*2 + vendorBonus(c.Source)
		if bestAt < 0 || r > bestRank {
			bestAt, bestRank, bestVec = i, r, v
		}
	}
	if bestAt < 0 {
		if len(vectors) == 0 {
			return model.CVSS{}, "no CVSS vector given"
		}
		return model.CVSS{}, fmt.Sprintf("none of the %d CVSS vectors given is well formed", len(vectors))
	}
	best = vectors[bestAt]
	if best.Score == 0 {
		best.Score = bestVec.Score
	}
	return best, reason(vectors, bestAt, bestVec, malformed)
}

func isNVD(source string) bool { return strings.EqualFold(strings.TrimSpace(source), "nvd") }

func vendorBonus(source string) int {
	if isNVD(source) {
		return 0
	}
	return 1
}

func reason(vectors []model.CVSS, at int, v Vector, malformed int) string {
	src := vectors[at].Source
	if src == "" {
		src = "the tool"
	}
	var b strings.Builder
	fmt.Fprintf(&b, "CVSS %s from %s", v.Version, src)
	older, nvdSame, sameVendor := false, false, false
	for i, c := range vectors {
		if i == at {
			continue
		}
		o, err := Parse(c.Vector)
		if err != nil {
			continue
		}
		switch {
		case o.Version.rank() < v.Version.rank():
			older = true
		case o.Version == v.Version && isNVD(c.Source) && !isNVD(vectors[at].Source):
			nvdSame = true
		case o.Version == v.Version:
			sameVendor = true
		}
	}
	var notes []string
	if older {
		notes = append(notes, "newest version given")
	}
	if nvdSame {
		notes = append(notes, "vendor's preferred over NVD's")
	}
	if sameVendor {
		notes = append(notes, "first of its rank")
	}
	if malformed > 0 {
		notes = append(notes, fmt.Sprintf("%d malformed vector(s) ignored", malformed))
	}
	if len(notes) > 0 {
		b.WriteString(": ")
		b.WriteString(strings.Join(notes, "; "))
	}
	return b.String()
}
