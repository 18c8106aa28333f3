package store_test

import (
	"errors"
	"fmt"
	"testing"

	"github.com/ctem-dev/ctem/internal/store"
)

// sqlStateError carries a SQLSTATE as pgconn.PgError does.
type sqlStateError string

func (e sqlStateError) Error() string    { return "ERROR: (SQLSTATE " + string(e) + ")" }
func (e sqlStateError) SQLState() string { return string(e) }

func TestRetryable(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		err  error
		want bool
	}{
		{sqlStateError("40P01"), true}, // deadlock_detected
		{fmt.Errorf("record exposures: %w", sqlStateError("40P01")), true},
		{fmt.Errorf("commit ingest: %w", sqlStateError("40001")), true}, // serialization_failure
		{sqlStateError("23505"), false},                                 // unique_violation
		{errors.New("deadlock detected"), false},
		{nil, false},
	} {
		if got := store.Retryable(c.err); got != c.want {
			t.Errorf("Retryable(%v) = %v, want %v", c.err, got, c.want)
		}
	}
}

func TestScanKeyLane(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		k    store.ScanKey
		want string
	}{
		{store.ScanKey{}, ""},
		{store.ScanKey{Tool: "trivy", Target: "shop/api:1"}, "trivy\nshop/api:1"},
		{store.ScanKey{Tool: "trivy"}, "trivy\n"},
	} {
		if got := c.k.Lane(); got != c.want {
			t.Errorf("%+v.Lane() = %q, want %q", c.k, got, c.want)
		}
	}
}
