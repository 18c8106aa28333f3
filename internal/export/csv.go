package export

import (
	"encoding/csv"
	"io"
	"strconv"
	"strings"
	"time"
	"unicode"
)

// CSV writes exposures as comma-separated values, one row each after a
// header, safe to open in a spreadsheet: every cell is neutralised
// against formula injection (see SafeCell).
type CSV struct {
	w *csv.Writer
}

// NewCSV returns a CSV writer to w.
func NewCSV(w io.Writer) *CSV {
	return &CSV{w: csv.NewWriter(w)}
}

// CSVHeader is the header row of a CSV export.
var CSVHeader = []string{
	"id", "severity", "status", "kind", "weakness", "aliases", "cwes", "asset",
	"package", "version", "fixed_version", "purl", "path", "line", "url",
	"tools", "findings", "first_seen", "last_seen", "fixed_at", "title",
}

// SafeCell neutralises a cell that a spreadsheet would read as a formula
// (OWASP's CSV injection advice): one that begins with =, +, -, @, a tab
// or a carriage return, after any leading spaces, gets a leading single
// quote, so it opens as text. Other control characters, which no
// scanner text needs in a cell, are dropped.
func SafeCell(s string) string {
	if needsCleaning(s) {
		s = clean(s)
	}
	t := strings.TrimLeft(s, " ")
	if t != "" && strings.ContainsRune("=+-@\t\r", rune(t[0])) {
		return "'" + s
	}
	return s
}

// needsCleaning reports whether s may hold a character clean drops: a
// control byte, or any non-ASCII (which may be a bidirectional control).
func needsCleaning(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 && c != '\t' && c != '\r' && c != '\n' || c >= 0x7f {
			return true
		}
	}
	return false
}

// clean drops control and bidirectional-control characters but for tab,
// carriage return and newline.
func clean(s string) string {
	return strings.Map(func(r rune) rune {
		if r != '\t' && r != '\r' && r != '\n' && (unicode.IsControl(r) || unicode.Is(unicode.Bidi_Control, r)) {
			return -1
		}
		return r
	}, s)
}

func csvTime(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(time.RFC3339)
}

// Begin implements Writer: it writes the header.
func (c *CSV) Begin(Info) error {
	return c.w.Write(CSVHeader)
}

// Exposure implements ExposureWriter.
func (c *CSV) Exposure(e *Exposure) error {
	x := &e.Exposure
	weakness, aliases := x.RuleID, ""
	if len(x.VulnIDs) > 0 {
		weakness, aliases = x.VulnIDs[0], strings.Join(x.VulnIDs[1:], " ")
	}
	line := ""
	if x.Location.Line > 0 {
		line = strconv.Itoa(x.Location.Line)
	}
	row := []string{
		x.ID, string(x.Severity), string(x.Status), string(x.Kind), weakness, aliases, strings.Join(x.CWEs, " "), x.Asset,
		x.Package.Name, x.Package.Version, x.Package.FixedVersion, x.Package.PURL, x.Location.Path, line, x.Location.URL,
		strings.Join(x.Tools, " "), strconv.Itoa(len(x.FindingIDs)), csvTime(x.FirstSeen), csvTime(x.LastSeen), csvTime(x.FixedAt), x.Title,
	}
	for i := range row {
		row[i] = SafeCell(row[i])
	}
	return c.w.Write(row)
}

// End implements Writer.
func (c *CSV) End() error {
	c.w.Flush()
	return c.w.Error()
}
