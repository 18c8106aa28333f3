package store

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"iter"

	"github.com/ctem-dev/ctem/internal/model"
)

// EvidenceQuery selects facts for a listing of evidence: of any of
// Kinds, Sources and Assets (each empty for any), in key order after
// After, at most Limit (0 for all).
type EvidenceQuery struct {
	Kinds   []string
	Sources []string
	Assets  []string
	After   EvidenceKey
	Limit   int
}

// EvidenceKey is a fact's key, the order of an evidence listing: kind,
// asset, vulnerability id, finding id and source. The zero key comes
// before every fact.
type EvidenceKey [5]string

// KeyOf returns the key of fact e.
func KeyOf(e model.Evidence) EvidenceKey {
	return EvidenceKey{string(e.Kind), e.Asset, e.VulnID, e.FindingID, e.Source}
}

// EvidenceCursor returns the opaque cursor that continues an evidence
// listing after e.
func EvidenceCursor(e model.Evidence) string {
	k := KeyOf(e)
	b, _ := json.Marshal(k[:])
	return base64.RawURLEncoding.EncodeToString(append([]byte{'e'}, b...))
}

// ParseEvidenceCursor reads a cursor of EvidenceCursor. Anything else is
// an ErrInvalid error.
func ParseEvidenceCursor(c string) (EvidenceKey, error) {
	var k EvidenceKey
	b, err := base64.RawURLEncoding.DecodeString(c)
	if err != nil || len(b) < 2 || b[0] != 'e' {
		return k, fmt.Errorf("the cursor is not one an evidence listing gave: %w", ErrInvalid)
	}
	var parts []string
	if err := json.Unmarshal(b[1:], &parts); err != nil || len(parts) != len(k) {
		return k, fmt.Errorf("the cursor is not one an evidence listing gave: %w", ErrInvalid)
	}
	copy(k[:], parts)
	return k, nil
}

// EvidenceLister lists facts page by page, for the API's evidence
// listing (AllEvidence reads them all).
type EvidenceLister interface {
	// EvidencePage lists the facts q selects, in key order.
	EvidencePage(ctx context.Context, q EvidenceQuery) iter.Seq2[model.Evidence, error]
}
