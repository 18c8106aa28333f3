package osvscanner

import "testing"

// SetSpoolLimit sets the memory limit of the spool of packages until the
// test ends. A test that calls it must not run in parallel.
func SetSpoolLimit(t testing.TB, n int) {
	old := spoolLimit
	spoolLimit = n
	t.Cleanup(func() { spoolLimit = old })
}
