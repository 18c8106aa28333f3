package store

import "github.com/ctem-dev/ctem/internal/model"

// ExposureSink is where a store puts the exposures of a bulk read (see
// sqlstore.DB.ReadAnalysisExposures), so that they land in the caller's
// own records (an analysis's weaknesses) without a second copy.
type ExposureSink interface {
	// Grow says that about n exposures are coming; it is a hint.
	Grow(n int)
	// Add keeps a copy of x and returns its number: 0, 1, ... in the
	// order of the calls.
	Add(x model.Exposure) int
	// At returns the kept exposure number i. The store calls it only
	// after its last Add, to complete the exposures it added.
	At(i int) *model.Exposure
}

// ExposureOrderer is an ExposureSink that a store may tell the order of
// the exposures' ids, when it sorted them anyway, so that the sink need
// not sort them again.
type ExposureOrderer interface {
	// Order says that byID[k] is the number (see Add) of the exposure
	// whose id is k-th in id order. It is called at most once, after the
	// last Add, with one number per exposure added.
	Order(byID []int32)
}
