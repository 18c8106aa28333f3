package model

import (
	"fmt"
	"strings"
)

// Severity is ctem's normalized severity. Tools' own words are mapped to it
// by ParseSeverity and kept beside it in Finding.ToolSeverity.
type Severity string

// The severities, from most to least severe.
const (
	SeverityCritical Severity = "critical"
	SeverityHigh     Severity = "high"
	SeverityMedium   Severity = "medium"
	SeverityLow      Severity = "low"
	SeverityInfo     Severity = "info"
	SeverityUnknown  Severity = "unknown"
)

// Severities lists every severity from most to least severe.
var Severities = []Severity{SeverityCritical, SeverityHigh, SeverityMedium, SeverityLow, SeverityInfo, SeverityUnknown}

// Rank orders severities: critical is 5, unknown 0.
func (s Severity) Rank() int {
	switch s {
	case SeverityCritical:
		return 5
	case SeverityHigh:
		return 4
	case SeverityMedium:
		return 3
	case SeverityLow:
		return 2
	case SeverityInfo:
		return 1
	}
	return 0
}

// SeverityFromRank is the inverse of Severity.Rank.
func SeverityFromRank(r int) Severity {
	for _, s := range Severities {
		if s.Rank() == r {
			return s
		}
	}
	return SeverityUnknown
}

// ParseSeverity maps a tool's severity word to ctem's. It knows the words of
// the common scanners (CRITICAL, High, moderate, error, warning, note,
// informational, negligible, ...); anything else is SeverityUnknown.
func ParseSeverity(s string) Severity {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "critical", "crit", "very high", "very_high", "blocker", "urgent":
		return SeverityCritical
	case "high", "error", "important", "severe", "major":
		return SeverityHigh
	case "medium", "moderate", "warning", "warn", "med":
		return SeverityMedium
	case "low", "minor", "note":
		return SeverityLow
	case "info", "informational", "information", "none", "negligible", "note-info", "trivial":
		return SeverityInfo
	}
	return SeverityUnknown
}

// SeverityFromScore maps a CVSS base score (0 to 10) to a severity using the
// qualitative rating scale of CVSS v3 and v4: 9.0 and up critical, 7.0 high,
// 4.0 medium, 0.1 low, 0 none (info). It is also the scale of SARIF's
// security-severity property.
func SeverityFromScore(score float64) Severity {
	switch {
	case score >= 9.0:
		return SeverityCritical
	case score >= 7.0:
		return SeverityHigh
	case score >= 4.0:
		return SeverityMedium
	case score > 0:
		return SeverityLow
	case score == 0:
		return SeverityInfo
	}
	return SeverityUnknown
}

// ParseSeverityFilter parses a comma-separated list of severities as given
// to --severity. It rejects words that are not ctem severities.
func ParseSeverityFilter(list string) ([]Severity, error) {
	var out []Severity
	for part := range strings.SplitSeq(list, ",") {
		part = strings.ToLower(strings.TrimSpace(part))
		if part == "" {
			continue
		}
		s := Severity(part)
		if s.Rank() == 0 && s != SeverityUnknown {
			return nil, fmt.Errorf("unknown severity %q (want critical, high, medium, low, info or unknown)", part)
		}
		out = append(out, s)
	}
	return out, nil
}

// Status is the lifecycle state of a finding or an exposure.
type Status string

// The statuses.
const (
	StatusOpen          Status = "open"
	StatusFixed         Status = "fixed"
	StatusAccepted      Status = "accepted"
	StatusNotAffected   Status = "not_affected"
	StatusFalsePositive Status = "false_positive"
)

// Statuses lists every status.
var Statuses = []Status{StatusOpen, StatusFixed, StatusAccepted, StatusNotAffected, StatusFalsePositive}

// Valid reports whether s is one of Statuses.
func (s Status) Valid() bool {
	for _, v := range Statuses {
		if s == v {
			return true
		}
	}
	return false
}
