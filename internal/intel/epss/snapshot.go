package epss

import (
	_ "embed"
	"fmt"
	"sync"
)

// snapshotTable is FIRST's EPSS scores of 2026-01-30
// (snapshot/epss_scores-2026-01-30.csv.gz as published) in the table
// format (see encodeTable), which loads in milliseconds. EPSS scores from
// FIRST, https://www.first.org/epss: see snapshot/NOTICE, which must ship
// beside any copy of the file.
//
//go:embed snapshot/epss_scores-2026-01-30.table
var snapshotTable []byte

// Snapshot returns the scores embedded in the binary (2026-01-30, model
// v2025.03.14, 313,089 CVEs), loading them on first use. The same
// *Scores is returned to every caller.
func Snapshot() (*Scores, error) { return loadSnapshot() }

var loadSnapshot = sync.OnceValues(func() (*Scores, error) {
	s, err := decodeTable(snapshotTable)
	if err != nil {
		return nil, fmt.Errorf("epss snapshot: %w", err)
	}
	return s, nil
})

// Attribution is the notice FIRST asks users of EPSS scores to show.
const Attribution = "EPSS scores from FIRST, https://www.first.org/epss"
