package app

import (
	"bufio"
	"context"
	"errors"

	"github.com/ctem-dev/ctem/internal/ingest"
	"github.com/ctem-dev/ctem/internal/model"
	"github.com/ctem-dev/ctem/internal/store"
)

// errFirstScan stops a read ahead at its first scan.
var errFirstScan = errors.New("first scan read")

// firstScan is a sink that keeps the key of the first scan begun and
// stops the parser there; it keeps nothing else.
type firstScan struct{ key store.ScanKey }

func (s *firstScan) BeginScan(sc model.Scan) error {
	s.key = store.ScanKey{Tool: sc.Tool, Target: sc.Target}
	return errFirstScan
}
func (*firstScan) Asset(model.Asset) error       { return nil }
func (*firstScan) Relation(model.Relation) error { return nil }
func (*firstScan) Finding(*model.Finding) error  { return nil }
func (*firstScan) Evidence(model.Evidence) error { return nil }

// FirstScanKey reads r ahead with format f's parser, with the options
// the ingest will use, up to the first scan it begins, and returns that
// scan's (tool, target): the lane of an upload's job (store.Job.Lane),
// known before the ingest begins. It returns the zero key when the input
// begins no scan or fails first (the ingest will say why). Most parsers
// begin their scan within the first bytes; one that begins it at the end
// reads the whole input, in bounded memory, storing nothing.
func FirstScanKey(ctx context.Context, f ingest.Format, name string, r *bufio.Reader, opts ingest.Options) store.ScanKey {
	var s firstScan
	err := ParseSafely(ctx, f, &ingest.Input{Name: name, R: r, Options: opts}, &s)
	if !errors.Is(err, errFirstScan) {
		return store.ScanKey{}
	}
	return s.key
}
