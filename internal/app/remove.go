package app

import (
	"context"
	"errors"
	"fmt"

	"github.com/ctem-dev/ctem/internal/store"
)

// ErrUnsupported means the store cannot do what was asked.
var ErrUnsupported = errors.New("not supported by this store")

// RemoveScanResult is what removing a scan did.
type RemoveScanResult struct {
	Removal store.ScanRemoval
	// Reanalysis is the re-analysis that followed, nil when none ran.
	Reanalysis *AnalysisResult
}

// RemoveScan undoes the ingest of scan id, the latest of its tool and
// target (see store.ScanRemover; an earlier one is a BadInputError): its
// findings, the exposures only it reported and its events are removed,
// the findings it changed restored, and the removal recorded with actor
// and reason. When the database holds an analysis, the components of
// the assets whose exposures changed are re-analysed (see Reanalyze). It
// returns an error wrapping ErrNotFound for an unknown id.
func (a *App) RemoveScan(ctx context.Context, id, actor, reason string) (*RemoveScanResult, error) {
	r, ok := a.Store.(store.ScanRemover)
	if !ok {
		return nil, fmt.Errorf("remove scan: %w", ErrUnsupported)
	}
	since, err := a.Store.IngestSeq(ctx)
	if err != nil {
		return nil, err
	}
	rm, err := r.RemoveScan(ctx, store.ScanRemoval{ScanID: id, Actor: actor, Reason: reason, At: a.now()})
	if errors.Is(err, store.ErrInvalid) {
		return nil, badInput(err)
	}
	if err != nil {
		return nil, err
	}
	res := &RemoveScanResult{Removal: rm}
	res.Reanalysis, err = a.reanalyze(ctx, rm.Assets, "the removal of scan "+id, since)
	if errors.Is(err, ErrConflict) {
		a.warnf("re-analysis after the removal dropped: %v", err)
		err = nil
	}
	return res, err
}
