package ingest

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/go-json-experiment/json"
	"github.com/go-json-experiment/json/jsontext"
)

// jsonOptions are the options every JSON parser uses: reports in the wild
// repeat member names and carry invalid UTF-8 in file contents, and neither
// should make an ingest fail.
var jsonOptions = json.JoinOptions(
	jsontext.AllowDuplicateNames(true),
	jsontext.AllowInvalidUTF8(true),
)

// NewJSONDecoder returns a streaming decoder over r with the options every
// ctem JSON parser uses and the default Limits. Its errors beyond a limit
// name no file; AsInputError names it. A parser should prefer
// Input.JSONDecoder.
func NewJSONDecoder(r io.Reader) *jsontext.Decoder {
	return newLimitedJSONDecoder("", r, Limits{})
}

// JSONDecoder returns a streaming decoder over the input with the options
// every ctem JSON parser uses, within the input's Limits: beyond one, the
// decoder fails with an InputError naming the input and an offset, that
// wraps ErrTooLarge.
func (in *Input) JSONDecoder() *jsontext.Decoder {
	return newLimitedJSONDecoder(in.Name, in.R, in.Limits)
}

// DecodeJSON decodes the next JSON value of dec into v, with the options
// every ctem JSON parser uses and opts. When dec comes from
// NewJSONDecoder or Input.JSONDecoder, the value may not be larger than
// MaxItem (see Limits), since v grows with it.
func DecodeJSON(dec *jsontext.Decoder, v any, opts ...json.Options) error {
	if l := limiterOf(dec); l != nil {
		l.beginItem()
		defer l.endItem()
	}
	if len(opts) > 0 {
		return json.UnmarshalDecode(dec, v, append([]json.Options{jsonOptions}, opts...)...)
	}
	return json.UnmarshalDecode(dec, v, jsonOptions)
}

// UnmarshalJSON decodes one JSON document held in memory, with the
// options every ctem JSON parser uses and opts.
func UnmarshalJSON(b []byte, v any, opts ...json.Options) error {
	if len(opts) > 0 {
		return json.Unmarshal(b, v, append([]json.Options{jsonOptions}, opts...)...)
	}
	return json.Unmarshal(b, v, jsonOptions)
}

// WalkObject reads the next value of dec, which must be an object or
// null, and calls fn with each member name. fn must consume the member's
// value (DecodeJSON, WalkArray, WalkObject or dec.SkipValue).
func WalkObject(dec *jsontext.Decoder, fn func(name string) error) error {
	tok, err := dec.ReadToken()
	if err != nil {
		return err
	}
	switch tok.Kind() {
	case 'n':
		return nil
	case '{':
	default:
		return &json.SemanticError{ByteOffset: dec.InputOffset(), JSONPointer: dec.StackPointer(), JSONKind: tok.Kind(), Err: fmt.Errorf("expected an object, found %s", kindWord(tok.Kind()))}
	}
	for dec.PeekKind() != '}' {
		name, err := dec.ReadToken()
		if err != nil {
			return err
		}
		if err := fn(name.String()); err != nil {
			return err
		}
	}
	_, err = dec.ReadToken()
	return err
}

// WalkItems is WalkArray for a report's list of results: fn gets each
// element's index (for its position in errors and keys), and the walk
// stops with ctx's error once ctx is done.
func WalkItems(ctx context.Context, dec *jsontext.Decoder, fn func(i int) error) error {
	i := 0
	return WalkArray(dec, func() error {
		if err := ctx.Err(); err != nil {
			return err
		}
		i++
		return fn(i - 1)
	})
}

// WalkArray reads the next value of dec, which must be an array or null,
// and calls fn once per element. fn must consume the element.
func WalkArray(dec *jsontext.Decoder, fn func() error) error {
	tok, err := dec.ReadToken()
	if err != nil {
		return err
	}
	switch tok.Kind() {
	case 'n':
		return nil
	case '[':
	default:
		return &json.SemanticError{ByteOffset: dec.InputOffset(), JSONPointer: dec.StackPointer(), JSONKind: tok.Kind(), Err: fmt.Errorf("expected an array, found %s", kindWord(tok.Kind()))}
	}
	for dec.PeekKind() != ']' {
		if dec.PeekKind() == 0 {
			// Let ReadToken report the truncation or syntax error.
			_, err := dec.ReadToken()
			if err == nil {
				err = io.ErrUnexpectedEOF
			}
			return err
		}
		if err := fn(); err != nil {
			return err
		}
	}
	_, err = dec.ReadToken()
	return err
}

func kindWord(k jsontext.Kind) string {
	switch k {
	case '{':
		return "an object"
	case '[':
		return "an array"
	case '"':
		return "a string"
	case '0':
		return "a number"
	case 't', 'f':
		return "a boolean"
	case 'n':
		return "null"
	}
	return "invalid JSON"
}

// Text is a JSON scalar read as text, whatever its JSON kind: tools write
// line numbers, scores and ids as strings in one version and numbers in
// the next. null reads as "".
type Text string

// UnmarshalJSONFrom implements json.UnmarshalerFrom.
func (t *Text) UnmarshalJSONFrom(dec *jsontext.Decoder) error {
	tok, err := dec.ReadToken()
	if err != nil {
		return err
	}
	switch tok.Kind() {
	case '"', '0':
		*t = Text(tok.String())
	case 't', 'f':
		*t = Text(strconv.FormatBool(tok.Bool()))
	case 'n':
		*t = ""
	default:
		return fmt.Errorf("expected a string or number, found %s", kindWord(tok.Kind()))
	}
	return nil
}

// Int reads the text as an integer, 0 when it is none.
func (t Text) Int() int {
	s := strings.TrimSpace(string(t))
	if i, err := strconv.Atoi(s); err == nil {
		return i
	}
	if f, err := strconv.ParseFloat(s, 64); err == nil && f >= -1e9 && f <= 1e9 {
		return int(f)
	}
	return 0
}

// Float reads the text as a number, 0 when it is none.
func (t Text) Float() float64 {
	f, err := strconv.ParseFloat(strings.TrimSpace(string(t)), 64)
	if err != nil {
		return 0
	}
	return f
}

// String returns the text.
func (t Text) String() string { return string(t) }

// ExpectEOF checks that nothing but white space follows the document that
// dec has read.
func ExpectEOF(in *Input, dec *jsontext.Decoder) error {
	off := dec.InputOffset()
	_, err := dec.ReadToken()
	switch {
	case err == nil:
		return in.Errorf(off, "unexpected data after the end of the document")
	case errors.Is(err, io.EOF):
		return nil
	}
	return err
}

// ExpectStart checks that the next value of dec begins with kind ('{' or
// '[') before a parser walks it, and otherwise returns an InputError
// saying the input is empty or not what, the report a parser reads ("a
// Bandit report").
func ExpectStart(in *Input, dec *jsontext.Decoder, kind jsontext.Kind, what string) error {
	if dec.PeekKind() == kind {
		return nil
	}
	if _, err := dec.ReadToken(); err != nil {
		if errors.Is(err, io.EOF) {
			return in.Errorf(0, "empty input: not %s", what)
		}
		return err
	}
	return in.Errorf(0, "not %s: expected %s", what, kindWord(kind))
}
