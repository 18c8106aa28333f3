package store

import (
	"encoding/base64"
	"fmt"
	"strconv"
	"strings"

	"github.com/ctem-dev/ctem/internal/model"
)

// Sort is the order of a listing. Every sort of a listing accepts every
// filter of it, and gives the same set of records.
type Sort string

// The sort orders. The zero Sort is each listing's own order (documented
// on its method); a listing refuses a sort it does not offer.
const (
	// SortSeverity lists findings and exposures most severe first, then
	// by asset and weakness: the default of both.
	SortSeverity Sort = "severity"
	// SortID lists findings and exposures in the order of their ids, for
	// reading them all without a sort of the whole table.
	SortID Sort = "id"
	// SortNewest lists findings and exposures first seen most recently
	// first (the newest weaknesses).
	SortNewest Sort = "newest"
)

// Sorts lists the sort orders of findings and exposures.
var Sorts = []Sort{SortSeverity, SortID, SortNewest}

// Cursor returns the cursor that continues a listing after v (a
// model.Finding, model.Exposure, model.Asset, model.Scan, PathEvent or
// StatusChange), for Filter.After, or "" for any other value. A cursor
// names a record, not a position: the next page begins with the record
// that follows it in the filter's sort order, whatever was written in
// between, so a page-by-page read returns every record once as long as
// its sort key does not change. A cursor is opaque to callers and safe
// to hand to a client.
func Cursor(v any) string {
	var s string
	switch v := v.(type) {
	case model.Finding:
		s = "f" + v.ID
	case model.Exposure:
		s = "x" + v.ID
	case model.Asset:
		s = "a" + v.Key
	case model.Scan:
		s = "s" + v.ID
	case PathEvent:
		s = "p" + strconv.FormatInt(v.At.UnixMicro(), 10) + " " + v.Event + " " + v.PathID
	case StatusChange:
		s = "c" + strconv.FormatInt(v.Seq, 10)
	default:
		return ""
	}
	return base64.RawURLEncoding.EncodeToString([]byte(s))
}

// ParseCursor returns the record a cursor names: its kind (the first
// letter of Cursor's encoding: f, x, a, s, p or c) and its key. An error
// wraps ErrInvalid when c is not a cursor of that kind.
func ParseCursor(c string, kind byte) (string, error) {
	b, err := base64.RawURLEncoding.DecodeString(c)
	if err != nil || len(b) < 2 || b[0] != kind || strings.ContainsRune(string(b), 0) {
		return "", fmt.Errorf("cursor %q: not a cursor of this listing: %w", c, ErrInvalid)
	}
	return string(b[1:]), nil
}
