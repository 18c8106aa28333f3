package model

import (
	"slices"
	"strconv"
	"strings"
)

// Normalize completes a finding that a parser filled in: it sorts and
// de-duplicates vulnerability ids (CVE first) and CWEs, fills the severity
// and status defaults, and derives Fingerprint, ExposureKey, ID and
// ExposureID from the finding's kind (see Fingerprint); the ID begins
// with the ExposureID's first eight digits. Calling it twice
// is harmless.
func (f *Finding) Normalize() {
	f.VulnIDs = SortVulnIDs(f.VulnIDs)
	cwes := f.CWEs[:0:0]
	for _, c := range f.CWEs {
		if c = NormalizeCWE(c); c != "" && !slices.Contains(cwes, c) {
			cwes = append(cwes, c)
		}
	}
	f.CWEs = cwes
	if f.Severity == "" {
		f.Severity = SeverityUnknown
	}
	if f.Status == "" {
		f.Status = StatusOpen
	}
	if f.RuleID == "" && len(f.VulnIDs) > 0 {
		f.RuleID = f.VulnIDs[0]
	}
	f.Fingerprint, f.ExposureKey = fingerprints(f)
	f.ExposureID = Hash(f.ExposureKey)[:16]
	// A finding's id is its exposure's first eight hex digits and eight
	// of its own: the findings of an exposure are then one range of ids,
	// which the store reads without a second index on random keys (an
	// index that cost a 1M-finding ingest a quarter of its time).
	f.ID = f.ExposureID[:8] + Hash(f.Tool, f.Fingerprint)[:8]
}

// PackageKey is the part of a package's identity that every tool agrees
// on: the last segment of its name, lower-cased. Trivy names a Maven
// artifact "org.apache.logging.log4j:log4j-core" where Grype says
// "log4j-core"; both give "log4j-core". Within one asset, vulnerability
// and version this does not confuse two packages in practice.
func PackageKey(p Package) string {
	name := p.Name
	if name == "" && p.PURL != "" {
		rest := strings.TrimPrefix(p.PURL, "pkg:")
		if i := strings.IndexAny(rest, "@?#"); i >= 0 {
			rest = rest[:i]
		}
		name = rest
	}
	if i := strings.LastIndexAny(name, ":/"); i >= 0 {
		name = name[i+1:]
	}
	return strings.ToLower(name)
}

// fingerprints returns the tool-local fingerprint and the cross-tool
// exposure key of f, following the identity rules of each kind:
//
//	vulnerability  (asset, canonical id, package, version)
//	code           (asset, rule or CWE, file, tool fingerprint or snippet hash)
//	misconfig      (asset, check id, resource)
//	secret         (asset, location, keyed hash of the secret)
//	dast, network  (asset, rule, location)
//
// The fingerprint adds what keeps two items of one tool apart (the path a
// package was found at, a line when nothing better is known), so that the
// grain stays one finding per reported item.
func fingerprints(f *Finding) (fp, exposure string) {
	loc := f.Location
	switch f.Kind {
	case FindingVulnerability, FindingLicense:
		id := CanonicalVulnID(f.VulnIDs)
		if id == "" {
			id = f.RuleID
		}
		pkg := PackageKey(f.Package)
		if pkg == "" {
			// Without a package, the tool's rule is all that tells two
			// items apart.
			pkg = "rule:" + f.RuleID
		}
		exposure = Hash(string(f.Kind), f.Asset, id, pkg, f.Package.Version)
		fp = Hash(string(f.Kind), f.Asset, id, pkg, f.Package.Version, loc.Path, loc.Component)
	case FindingCode:
		rule := f.RuleID
		if len(f.CWEs) > 0 {
			rule = f.CWEs[0]
		}
		where := snippetOrLine(loc)
		exposure = Hash("code", f.Asset, rule, loc.Path, where)
		if f.ToolFingerprint != "" {
			where = "fp:" + f.ToolFingerprint
		}
		fp = Hash("code", f.Asset, f.RuleID, loc.Path, where, strconv.Itoa(loc.Column), Hash(f.Title))
	case FindingSecret:
		exposure = Hash("secret", f.Asset, loc.Path, strconv.Itoa(loc.Line), f.SecretHash)
		fp = Hash("secret", f.Asset, f.RuleID, loc.Path, strconv.Itoa(loc.Line), f.SecretHash, loc.Component)
	default: // misconfiguration, dast, network and anything else
		exposure = Hash(string(f.Kind), f.Asset, f.RuleID, loc.Component, loc.Path, loc.URL)
		fp = Hash(string(f.Kind), f.Asset, f.RuleID, loc.Component, loc.Path, loc.URL, strconv.Itoa(loc.Line))
	}
	return fp, exposure
}

// snippetOrLine identifies a place in code independently of line shifts
// when a snippet is known (white space folded), and by its line otherwise.
func snippetOrLine(loc Location) string {
	if s := strings.Join(strings.Fields(loc.Snippet), " "); s != "" {
		return "snip:" + Hash(s) + "#" + strconv.Itoa(loc.Occurrence)
	}
	return "line:" + strconv.Itoa(loc.Line)
}
