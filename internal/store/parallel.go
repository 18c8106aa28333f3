package store

import (
	"context"
	"errors"
)

// ScanKey is the (tool, target) of a scan: ingests of one key are applied
// one at a time in upload order, ingests of different keys may run at
// once (on a database that allows it, see sqlstore.Dialect).
type ScanKey struct {
	Tool   string `json:"tool"`
	Target string `json:"target"`
}

// Lane returns the key as one string, the lane of the job queue that
// ingests of this key share (Job.Lane); "" for the zero key.
func (k ScanKey) Lane() string {
	if k == (ScanKey{}) {
		return ""
	}
	return k.Tool + "\n" + k.Target
}

type scanKeysKey struct{}

// WithScanKeys returns ctx carrying the keys of the scans an ingest about
// to begin will record, as far as they are known before it reads its
// input: a store that runs ingests in parallel takes their locks when
// the transaction begins (in one sorted order) rather than as each scan
// begins, so that an ingest never waits for one key while holding
// another.
func WithScanKeys(ctx context.Context, keys ...ScanKey) context.Context {
	return context.WithValue(ctx, scanKeysKey{}, keys)
}

// ScanKeysFrom returns the keys WithScanKeys put in ctx, nil when none.
func ScanKeysFrom(ctx context.Context) []ScanKey {
	k, _ := ctx.Value(scanKeysKey{}).([]ScanKey)
	return k
}

// Retryable reports whether err says that the database aborted a
// transaction to break a deadlock or a serialization conflict
// (PostgreSQL's SQLSTATE 40P01 and 40001): run again from the start, the
// transaction may succeed. A store that runs ingests in parallel may
// return it when two ingests touch the same shared rows (assets,
// exposures) in different orders.
func Retryable(err error) bool {
	var s interface{ SQLState() string }
	if errors.As(err, &s) {
		switch s.SQLState() {
		case "40P01", "40001":
			return true
		}
	}
	return false
}

// SeqReporter is implemented by an ingest transaction (Tx) that knows,
// once committed, the ingest sequence number its first scan took. Where
// ingests run in parallel the sequence is assigned at commit, in commit
// order, so it is known only then; an ingest that recorded no scan
// reports 0.
type SeqReporter interface {
	FirstSeq() int64
}
