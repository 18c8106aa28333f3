package ingest

import (
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/go-json-experiment/json"
	"github.com/go-json-experiment/json/jsontext"
)

// Sentinel errors of format detection.
var (
	// ErrUnknownFormat means no format accepts the input, or --format
	// named none.
	ErrUnknownFormat = errors.New("unknown input format")
	// ErrAmbiguousFormat means several formats accept the input.
	ErrAmbiguousFormat = errors.New("ambiguous input format")
)

// InputError is malformed input at a position in a named input. Offset is
// a byte offset into the decompressed input, or -1 when unknown; Line and
// Col, when not zero, are the 1-based line and column of that offset.
type InputError struct {
	File   string
	Offset int64
	Line   int
	Col    int
	Err    error
}

// Error reads "file:line:col: message (offset N)" or "file: offset N:
// message" when the line is not known.
func (e *InputError) Error() string {
	var b strings.Builder
	b.WriteString(e.File)
	switch {
	case e.Line > 0 && e.Offset >= 0:
		fmt.Fprintf(&b, ":%d:%d: %v (offset %d)", e.Line, e.Col, e.Err, e.Offset)
	case e.Line > 0:
		fmt.Fprintf(&b, ":%d:%d: %v", e.Line, e.Col, e.Err)
	case e.Offset >= 0:
		fmt.Fprintf(&b, ": offset %d: %v", e.Offset, e.Err)
	default:
		fmt.Fprintf(&b, ": %v", e.Err)
	}
	return b.String()
}

// Unwrap returns the cause.
func (e *InputError) Unwrap() error { return e.Err }

// AsInputError turns the errors of the JSON decoder and truncated streams
// into an *InputError on in, keeping other errors as they are. An error
// that holds an InputError (one the decoder met reading, say) is that
// InputError, named after in if it names no file.
func AsInputError(in *Input, off int64, err error) error {
	if err == nil {
		return nil
	}
	if ie, ok := errors.AsType[*InputError](err); ok {
		if ie.File == "" {
			ie.File = in.Name
		}
		return ie
	}
	if se, ok := errors.AsType[*jsontext.SyntacticError](err); ok {
		msg := se.Err
		if msg == nil {
			msg = errors.New("invalid JSON")
		}
		if errors.Is(msg, io.ErrUnexpectedEOF) {
			msg = errors.New("unexpected end of input (truncated?)")
		}
		return &InputError{File: in.Name, Offset: se.ByteOffset, Err: fmt.Errorf("invalid JSON: %v", msg)}
	}
	if se, ok := errors.AsType[*json.SemanticError](err); ok {
		msg := "unexpected JSON value"
		if se.JSONKind != 0 && se.GoType != nil {
			msg = fmt.Sprintf("unexpected JSON %s where %s was expected", se.JSONKind, goTypeWord(se.GoType.String()))
		}
		if se.JSONPointer != "" {
			msg += " at " + string(se.JSONPointer)
		}
		if se.Err != nil && !errors.Is(se.Err, io.ErrUnexpectedEOF) {
			msg += ": " + se.Err.Error()
		}
		if errors.Is(se.Err, io.ErrUnexpectedEOF) {
			msg = "unexpected end of input (truncated?)"
		}
		return &InputError{File: in.Name, Offset: se.ByteOffset, Err: errors.New(msg)}
	}
	if errors.Is(err, io.ErrUnexpectedEOF) {
		return &InputError{File: in.Name, Offset: off, Err: errors.New("unexpected end of input (truncated?)")}
	}
	if errors.Is(err, io.EOF) {
		// A parser that meets the end where a value must begin.
		if off <= 0 {
			return &InputError{File: in.Name, Offset: 0, Err: errors.New("empty input")}
		}
		return &InputError{File: in.Name, Offset: off, Err: errors.New("unexpected end of input (truncated?)")}
	}
	return err
}

// goTypeWord names a Go type the way a report's author would understand.
func goTypeWord(t string) string {
	switch {
	case strings.HasPrefix(t, "[]"):
		return "an array"
	case strings.HasPrefix(t, "map[") || strings.Contains(t, "."):
		return "an object"
	case t == "string":
		return "a string"
	case t == "bool":
		return "a boolean"
	case strings.HasPrefix(t, "int") || strings.HasPrefix(t, "uint") || strings.HasPrefix(t, "float"):
		return "a number"
	}
	return t
}
