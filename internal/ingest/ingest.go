// Package ingest turns scanner reports and estate descriptions into ctem's
// core records. It detects an input's format from its content, and hands
// the input to that format's streaming parser, which emits records into a
// Sink. Each format lives in a subpackage of its own; the formats
// subpackage lists them all.
package ingest

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/ctem-dev/ctem/internal/model"
)

// Sink receives the records a parser emits, in input order. The store's
// ingest transaction is the usual Sink. A Sink may keep nothing after an
// error; the parser must stop at the first error a Sink returns.
type Sink interface {
	// BeginScan starts a scan: the findings that follow, up to the next
	// BeginScan, belong to it. Tool and Target must be set.
	BeginScan(s model.Scan) error
	// Asset records an asset, merging with what is known of its key.
	Asset(a model.Asset) error
	// Relation records an edge between two assets, by key.
	Relation(r model.Relation) error
	// Finding records one finding of the current scan. The Sink calls
	// f.Normalize; a parser need not.
	Finding(f *model.Finding) error
	// Evidence records a fact about a vulnerability on an asset.
	Evidence(e model.Evidence) error
}

// Options are what the user said about an input that the input may not
// say itself.
type Options struct {
	// Target names the scanned thing when a report does not ("--target").
	Target string
	// SecretKey keys the hash that replaces secret values; see
	// RedactSecret. It comes from the store, so that the same secret
	// hashes alike across ingests into one database.
	SecretKey []byte
	// Limits bound the memory the input may take; zero fields take their
	// defaults (see Limits).
	Limits Limits
	// Warnf, when set, receives warnings about the input that do not
	// stop the ingest (a report that names no target, say).
	Warnf func(format string, args ...any)
}

// Warn reports a warning through Options.Warnf, if set.
func (o Options) Warn(format string, args ...any) {
	if o.Warnf != nil {
		o.Warnf(format, args...)
	}
}

// Input is one input being parsed: its display name (a path, or "-" for
// standard input), the decompressed stream positioned at its start, and the
// user's options.
type Input struct {
	Name string
	R    *bufio.Reader
	// Path is the file on disk the input was opened from (ctem ingest
	// FILE), empty for standard input, uploads and readers given by the
	// caller. Only with it may a parser read files beside the input
	// (the local modules a Terraform file calls), and only below the
	// input's folder as the parser bounds it.
	Path string
	Options
}

// Errorf returns an InputError at byte offset off of the input.
func (in *Input) Errorf(off int64, format string, args ...any) error {
	return &InputError{File: in.Name, Offset: off, Err: fmt.Errorf(format, args...)}
}

// ErrorAt returns err as an InputError at byte offset off of the input,
// or err itself when it already is or holds one: for the checks a parser
// makes of what it decoded ("a manifest needs a kind").
func (in *Input) ErrorAt(off int64, err error) error {
	if err == nil {
		return nil
	}
	if _, ok := errors.AsType[*InputError](err); ok {
		return err
	}
	return &InputError{File: in.Name, Offset: off, Err: err}
}

// TargetOr returns the user's --target if given, else def.
func (in *Input) TargetOr(def string) string {
	if in.Target != "" {
		return in.Target
	}
	return def
}

// Format is one input format: its name as given to --format, a content
// detector and a streaming parser.
type Format struct {
	// Name is the format's id ("trivy", "sarif").
	Name string
	// Title says what produces it, for listings.
	Title string
	// Version is the version of the parser (its package's ParserVersion),
	// recorded on every scan it begins.
	Version string
	// Detect reports whether the sniffed head of an input is this format.
	// Detectors must be strict enough that no input matches two formats.
	Detect func(s *Sniff) bool
	// Parse reads the whole input and emits its records into sink. It
	// returns an *InputError (or an error wrapping one) for malformed
	// input and must never panic, whatever the input.
	Parse func(ctx context.Context, in *Input, sink Sink) error
}

// Registry is a set of formats.
type Registry []Format

// Lookup returns the format with the given name.
func (r Registry) Lookup(name string) (Format, error) {
	for _, f := range r {
		if f.Name == name {
			return f, nil
		}
	}
	return Format{}, fmt.Errorf("%w %q (known: %s)", ErrUnknownFormat, name, strings.Join(r.Names(), ", "))
}

// Names lists the formats' names in registry order.
func (r Registry) Names() []string {
	names := make([]string, len(r))
	for i, f := range r {
		names[i] = f.Name
	}
	return names
}

// Detect returns the one format whose detector accepts s; a format listed
// twice under one name counts once. It returns an
// error wrapping ErrUnknownFormat when none does and ErrAmbiguousFormat,
// naming the candidates, when several do.
func (r Registry) Detect(s *Sniff) (Format, error) {
	var hits []Format
	for _, f := range r {
		if f.Detect != nil && !slices.ContainsFunc(hits, func(h Format) bool { return h.Name == f.Name }) && f.Detect(s) {
			hits = append(hits, f)
		}
	}
	switch len(hits) {
	case 1:
		return hits[0], nil
	case 0:
		return Format{}, fmt.Errorf("%w: content matches none of %s (use --format)", ErrUnknownFormat, strings.Join(r.Names(), ", "))
	}
	names := make([]string, len(hits))
	for i, f := range hits {
		names[i] = f.Name
	}
	slices.Sort(names)
	return Format{}, fmt.Errorf("%w: content matches %s (use --format)", ErrAmbiguousFormat, strings.Join(names, " and "))
}
