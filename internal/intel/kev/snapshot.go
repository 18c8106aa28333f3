package kev

import (
	"bytes"
	"compress/gzip"
	_ "embed"
	"fmt"
	"sync"
)

// snapshotGz is CISA's catalog version 2026.01.29, gzip-compressed; see
// snapshot/SOURCES.tsv and snapshot/NOTICE.
//
//go:embed snapshot/kev-2026-01.json.gz
var snapshotGz []byte

// Snapshot returns the catalog embedded in the binary (version
// 2026.01.29, 1501 vulnerabilities), loading it on first use. The same
// *Catalog is returned to every caller; it must not be modified.
func Snapshot() (*Catalog, error) { return loadSnapshot() }

var loadSnapshot = sync.OnceValues(func() (*Catalog, error) {
	zr, err := gzip.NewReader(bytes.NewReader(snapshotGz))
	if err != nil {
		return nil, fmt.Errorf("kev snapshot: %w", err)
	}
	c, err := Load(zr)
	if err != nil {
		return nil, fmt.Errorf("kev snapshot: %w", err)
	}
	return c, nil
})
