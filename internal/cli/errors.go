package cli

import (
	"errors"
	"io/fs"

	"github.com/ctem-dev/ctem/internal/ingest"
)

// Exit codes, as documented in the README.
const (
	ExitOK       = 0
	ExitGate     = 1 // a gate or policy failed
	ExitInput    = 2 // usage or input error
	ExitInternal = 3 // anything else
)

// ErrGateFailed is returned by commands whose check did not pass.
var ErrGateFailed = errors.New("gate failed")

// usageError marks errors in how ctem was called.
type usageError struct{ err error }

func (e usageError) Error() string { return e.err.Error() }
func (e usageError) Unwrap() error { return e.err }

// usage wraps err as a usage error (exit code 2).
func usage(err error) error { return usageError{err} }

// ExitCode maps an error returned by a command to the process exit code:
// 0 for nil, 1 for a failed gate, 2 for usage and input errors, 3 for the
// rest.
func ExitCode(err error) int {
	switch {
	case err == nil:
		return ExitOK
	case errors.Is(err, ErrGateFailed):
		return ExitGate
	}
	if _, ok := errors.AsType[usageError](err); ok {
		return ExitInput
	}
	if _, ok := errors.AsType[*ingest.InputError](err); ok {
		return ExitInput
	}
	if errors.Is(err, ingest.ErrUnknownFormat) || errors.Is(err, ingest.ErrAmbiguousFormat) {
		return ExitInput
	}
	if _, ok := errors.AsType[*fs.PathError](err); ok {
		return ExitInput
	}
	return ExitInternal
}
