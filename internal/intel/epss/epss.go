// Package epss loads the daily scores of FIRST's Exploit Prediction
// Scoring System (EPSS), the probability that a CVE is exploited in the
// next 30 days, and looks them up by CVE id. A snapshot of the scores is
// embedded for use without a network.
package epss

import (
	"bufio"
	"bytes"
	"cmp"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"
)

// ErrInvalid is matched (errors.Is) by every error Load returns for input
// that is not a complete EPSS score file.
var ErrInvalid = errors.New("invalid EPSS file")

// Error is the error Load returns for invalid input. It matches
// ErrInvalid.
type Error struct {
	Line int // 1-based line of the uncompressed CSV, 0 when not one line
	Err  error
}

func (e *Error) Error() string {
	if e.Line > 0 {
		return fmt.Sprintf("epss: line %d: %v", e.Line, e.Err)
	}
	return fmt.Sprintf("epss: %v", e.Err)
}

// Is reports whether target is ErrInvalid.
func (e *Error) Is(target error) bool { return target == ErrInvalid }

// Unwrap returns the cause.
func (e *Error) Unwrap() error { return e.Err }

// Score is the EPSS score of one CVE.
type Score struct {
	CVE string `json:"cve"`
	// EPSS is the probability, from 0 to 1, of exploitation activity in
	// the next 30 days.
	EPSS float64 `json:"epss"`
	// Percentile is the share of scored CVEs with an EPSS at or below
	// this one, from 0 to 1.
	Percentile   float64   `json:"percentile"`
	ModelVersion string    `json:"model_version"`
	Date         time.Time `json:"date"`
}

// row is one score kept compactly: 16 bytes, so the 313k CVEs of a
// daily file take 5 MB. float32 keeps the five significant digits FIRST
// publishes.
type row struct {
	year uint16
	num  uint32
	epss float32
	pct  float32
}

func (r row) key() uint64 { return uint64(r.year)<<32 | uint64(r.num) }

// Scores is one day's EPSS scores. Its methods may be called from several
// goroutines at once.
type Scores struct {
	ModelVersion string    // "v2025.03.14"
	Date         time.Time // the score_date of the file
	rows         []row     // sorted by (year, num)
}

// Len returns the number of CVEs scored.
func (s *Scores) Len() int { return len(s.rows) }

// Lookup returns the score of a CVE id, compared without case and
// surrounding space; ok is false when the CVE has no score. It is a binary
// search: O(log n).
func (s *Scores) Lookup(cve string) (sc Score, ok bool) {
	year, num, ok := parseCVE([]byte(strings.ToUpper(strings.TrimSpace(cve))))
	if !ok {
		return Score{}, false
	}
	k := row{year: year, num: num}.key()
	i, found := slices.BinarySearchFunc(s.rows, k, func(r row, k uint64) int { return cmp.Compare(r.key(), k) })
	if !found {
		return Score{}, false
	}
	r := s.rows[i]
	return Score{
		CVE:          fmt.Sprintf("CVE-%04d-%04d", r.year, r.num),
		EPSS:         round5(r.epss),
		Percentile:   round5(r.pct),
		ModelVersion: s.ModelVersion,
		Date:         s.Date,
	}, true
}

// round5 undoes the float32 storage: FIRST publishes five decimals, so
// 0.94409 reads back as 0.94409 rather than 0.9440900087356567.
func round5(f float32) float64 {
	x := float64(f)
	if x >= 1e-4 {
		return math.Round(x*1e5) / 1e5
	}
	// Tiny scores are written as 5e-05: keep five significant digits.
	v, _ := strconv.ParseFloat(strconv.FormatFloat(x, 'g', 5, 32), 64)
	return v
}

// header is the column line of every EPSS file since 2022.
const header = "cve,epss,percentile"

// Load reads an EPSS score file from r, gzip-compressed (as FIRST
// publishes it, epss_scores-YYYY-MM-DD.csv.gz) or not. The file starts
// with an optional comment line "#model_version:...,score_date:..."
// followed by the header "cve,epss,percentile" and one line per CVE.
//
// Load streams the file and validates it: the header must be there, each
// line must hold a well-formed CVE id and two numbers from 0 to 1, no CVE
// may appear twice, there must be at least one score, and the file must
// end with a newline (a file cut short usually does not). A gzip file
// must be complete and pass its checksum. Any failure returns an *Error
// matching ErrInvalid that names the line, and no scores.
func Load(r io.Reader) (*Scores, error) {
	br := bufio.NewReaderSize(r, 64<<10)
	if magic, _ := br.Peek(2); len(magic) == 2 && magic[0] == 0x1f && magic[1] == 0x8b {
		zr, err := gzip.NewReader(br)
		if err != nil {
			return nil, &Error{Err: fmt.Errorf("gzip: %w", err)}
		}
		defer zr.Close()
		br = bufio.NewReaderSize(zr, 64<<10)
	}

	s := &Scores{rows: make([]row, 0, 1<<16)}
	sorted := true
	sawHeader := false
	for line := 1; ; line++ {
		b, err := br.ReadSlice('\n')
		if err != nil {
			switch {
			case errors.Is(err, bufio.ErrBufferFull):
				return nil, &Error{Line: line, Err: errors.New("line too long")}
			case errors.Is(err, io.EOF) && len(b) == 0:
				// A clean end after a newline.
			case errors.Is(err, io.EOF):
				return nil, &Error{Line: line, Err: errors.New("no newline at the end of the file: truncated?")}
			default:
				return nil, &Error{Line: line, Err: err}
			}
			break
		}
		b = bytes.TrimRight(b, "\r\n")
		switch {
		case line == 1 && len(b) > 0 && b[0] == '#':
			if err := s.readComment(string(b[1:])); err != nil {
				return nil, &Error{Line: line, Err: err}
			}
			continue
		case !sawHeader:
			if string(b) != header {
				return nil, &Error{Line: line, Err: fmt.Errorf("want the header %q, found %.60q", header, b)}
			}
			sawHeader = true
			continue
		}
		r, err := parseRow(b)
		if err != nil {
			return nil, &Error{Line: line, Err: err}
		}
		if n := len(s.rows); n > 0 && s.rows[n-1].key() >= r.key() {
			sorted = false
		}
		s.rows = append(s.rows, r)
	}
	switch {
	case !sawHeader:
		return nil, &Error{Err: errors.New("empty file: no header")}
	case len(s.rows) == 0:
		return nil, &Error{Err: errors.New("no scores")}
	}
	if !sorted {
		slices.SortFunc(s.rows, func(a, b row) int { return cmp.Compare(a.key(), b.key()) })
	}
	for i := 1; i < len(s.rows); i++ {
		if s.rows[i].key() == s.rows[i-1].key() {
			return nil, &Error{Err: fmt.Errorf("CVE-%04d-%04d is listed twice", s.rows[i].year, s.rows[i].num)}
		}
	}
	// Drop the slack that growing by append left: up to half the array.
	s.rows = slices.Clone(s.rows)
	return s, nil
}

// readComment reads "model_version:v2025.03.14,score_date:2026-01-30T12:55:00Z".
func (s *Scores) readComment(c string) error {
	for part := range strings.SplitSeq(c, ",") {
		k, v, _ := strings.Cut(strings.TrimSpace(part), ":")
		switch k {
		case "model_version":
			s.ModelVersion = v
		case "score_date":
			t, err := parseDate(v)
			if err != nil {
				return err
			}
			s.Date = t
		}
	}
	return nil
}

func parseDate(v string) (time.Time, error) {
	// FIRST writes RFC 3339 now, and wrote "+0000" offsets before.
	for _, layout := range []string{time.RFC3339, "2006-01-02T15:04:05-0700", time.DateOnly} {
		if t, err := time.Parse(layout, v); err == nil {
			return t.UTC(), nil
		}
	}
	return time.Time{}, fmt.Errorf("score_date %q is not a date", v)
}

func parseRow(b []byte) (row, error) {
	cve, rest, ok1 := bytes.Cut(b, []byte{','})
	e, p, ok2 := bytes.Cut(rest, []byte{','})
	if !ok1 || !ok2 || bytes.IndexByte(p, ',') >= 0 {
		return row{}, fmt.Errorf("want 3 columns in %.60q", b)
	}
	year, num, ok := parseCVE(cve)
	if !ok {
		return row{}, fmt.Errorf("%.40q is not a CVE id", cve)
	}
	ev, err := parseProb(e)
	if err != nil {
		return row{}, fmt.Errorf("epss of %s: %v", cve, err)
	}
	pv, err := parseProb(p)
	if err != nil {
		return row{}, fmt.Errorf("percentile of %s: %v", cve, err)
	}
	return row{year: year, num: num, epss: ev, pct: pv}, nil
}

// parseProb parses a number from 0 to 1.
func parseProb(b []byte) (float32, error) {
	f, err := strconv.ParseFloat(string(b), 32)
	if err != nil || !(f >= 0 && f <= 1) {
		return 0, fmt.Errorf("%.30q is not a number from 0 to 1", b)
	}
	return float32(f), nil
}

// parseCVE reads "CVE-YYYY-NNNN..." (four or more digits, at most ten).
func parseCVE(b []byte) (year uint16, num uint32, ok bool) {
	if len(b) < len("CVE-2000-0000") || string(b[:4]) != "CVE-" || b[8] != '-' {
		return 0, 0, false
	}
	y, okY := digits(b[4:8])
	n, okN := digits(b[9:])
	if !okY || !okN || len(b[9:]) < 4 || len(b[9:]) > 10 || n > math.MaxUint32 {
		return 0, 0, false
	}
	return uint16(y), uint32(n), true
}

func digits(b []byte) (uint64, bool) {
	var n uint64
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + uint64(c-'0')
	}
	return n, len(b) > 0
}
