package cli

import (
	"errors"
	"io/fs"

	"github.com/ctem-dev/ctem/internal/app"
)

// Exit codes, as documented in the README.
const (
	ExitOK       = 0
	ExitGate     = 1 // a gate or policy failed
	ExitInput    = 2 // usage or input error
	ExitInternal = 3 // anything else
)

// ErrGateFailed is returned by commands whose check did not pass.
var ErrGateFailed = app.ErrGateFailed

// usageError marks errors in how ctem was called.
type usageError struct{ err error }

func (e usageError) Error() string { return e.err.Error() }
func (e usageError) Unwrap() error { return e.err }

// usage wraps err as a usage error (exit code 2).
func usage(err error) error { return usageError{err} }

// ExitCode maps an error returned by a command to the process exit code,
// the one place where the application layer's errors meet the process:
// 0 for nil, 1 for a failed gate, 2 for usage and input errors (a bad
// input, an unknown id), 3 for the rest (a conflict that retries did not
// resolve included).
func ExitCode(err error) int {
	switch {
	case err == nil:
		return ExitOK
	case errors.Is(err, app.ErrGateFailed):
		return ExitGate
	case errors.Is(err, app.ErrNotFound), app.IsBadInput(err):
		return ExitInput
	}
	if _, ok := errors.AsType[usageError](err); ok {
		return ExitInput
	}
	if _, ok := errors.AsType[*fs.PathError](err); ok {
		return ExitInput
	}
	return ExitInternal
}
