// Package app holds ctem's use cases: ingest, analyse, read the attack
// paths, the fix plan, priorities and explanations. Every front end (the
// command line, an HTTP server, background jobs) calls these functions
// and maps their errors in one place; none of them decides anything about
// security data itself.
package app

import (
	"errors"
	"time"

	"github.com/ctem-dev/ctem/internal/ingest"
	"github.com/ctem-dev/ctem/internal/intel/score"
	"github.com/ctem-dev/ctem/internal/store"
)

// Errors the use cases return for conditions their callers act on. A
// front end maps them in one place: the command line to exit codes, a
// server to HTTP statuses.
var (
	// ErrNotFound means a record asked for by id or key is absent.
	ErrNotFound = store.ErrNotFound
	// ErrConflict means a write lost to a newer one: an analysis read
	// data older than what an analysis already recorded.
	ErrConflict = store.ErrConflict
	// ErrGateFailed means a check did not pass.
	ErrGateFailed = errors.New("gate failed")
)

// InputError is malformed input at a position in a named input (the
// ingest package's error, used by every use case).
type InputError = ingest.InputError

// BadInputError is an error in what the caller gave that has no position:
// a missing file, an unknown id, a scope that does not parse as a whole.
type BadInputError struct{ Err error }

// Error returns the cause's message.
func (e *BadInputError) Error() string { return e.Err.Error() }

// Unwrap returns the cause.
func (e *BadInputError) Unwrap() error { return e.Err }

// badInput wraps err as a BadInputError.
func badInput(err error) error { return &BadInputError{err} }

// IsBadInput reports whether err is the caller's fault: a BadInputError,
// an InputError, an unknown or ambiguous input format.
func IsBadInput(err error) bool {
	if _, ok := errors.AsType[*BadInputError](err); ok {
		return true
	}
	if _, ok := errors.AsType[*InputError](err); ok {
		return true
	}
	return errors.Is(err, ingest.ErrUnknownFormat) || errors.Is(err, ingest.ErrAmbiguousFormat)
}

// Store is what the use cases need of the database: the records and
// the analysis inputs and results.
type Store interface {
	store.Store
	store.Results
	store.KPIHistory
}

// Intel is the threat intelligence an analysis scores with, and the
// versions of the feeds it came from.
type Intel struct {
	score.Intel
	Feeds []store.FeedVersion
}

// App runs the use cases over one store. Its fields are its dependencies;
// only Store is required.
type App struct {
	Store Store
	// Formats is the registry ingest detects formats with.
	Formats ingest.Registry
	// Intel loads the threat intelligence; nil means none (no KEV, no
	// EPSS).
	Intel func() (Intel, error)
	// Scope and CodeOwners, when set, override the scope and the
	// CODEOWNERS files the store holds, for this App only (the command
	// line's --scope and --codeowners).
	Scope      *ScopeFile
	CodeOwners []CodeOwnersFile
	// Logf reports progress and Warnf problems that do not stop the
	// work; nil discards them.
	Logf, Warnf func(format string, args ...any)
	// Now is the clock; nil is time.Now.
	Now func() time.Time

	// beforeRecord, when set, runs between an analysis and its
	// recording: tests use it to make another writer interleave.
	beforeRecord func()
}

func (a *App) logf(format string, args ...any) {
	if a.Logf != nil {
		a.Logf(format, args...)
	}
}

func (a *App) warnf(format string, args ...any) {
	if a.Warnf != nil {
		a.Warnf(format, args...)
	}
}

func (a *App) now() time.Time {
	if a.Now != nil {
		return a.Now().UTC()
	}
	return time.Now().UTC()
}

func (a *App) intel() (Intel, error) {
	if a.Intel == nil {
		return Intel{}, nil
	}
	return a.Intel()
}
