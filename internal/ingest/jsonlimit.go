package ingest

import (
	"bytes"
	"fmt"
	"io"
	"runtime"
	"sync"
	"weak"

	"github.com/go-json-experiment/json/jsontext"
)

// jsonLimiter is the reader under a JSON decoder of NewJSONDecoder: it
// enforces Limits as the decoder reads, since jsontext holds a whole
// string, or a whole value read with ReadValue, in memory, whatever its
// size.
//
//   - A string longer than MaxToken is found by scanning the bytes read
//     for quotes (IndexByte, so the cost is small beside decoding).
//   - What the decoder has read but not consumed is its buffer: a token or
//     a value it must hold whole. Beyond MaxItem the next read fails.
//   - While DecodeJSON decodes one item into Go values, the bytes read
//     since it began may not pass MaxItem either: the decoded value grows
//     with them.
//   - Beyond MaxDepth the next read fails (jsontext itself stops at
//     10000).
//
// The first error is returned by every later Read.
type jsonLimiter struct {
	name string
	r    io.Reader
	lim  Limits
	dec  *jsontext.Decoder
	off  int64 // offset of the next byte read
	err  error

	inString bool
	bsRun    int   // backslashes ending what was scanned of the open string
	strStart int64 // offset of the open string's opening quote

	items     int   // DecodeJSON calls in progress
	itemStart int64 // where the outermost began
}

// jsonLimiters finds the limiter of a decoder, for DecodeJSON. Keys and
// values are weak so that a decoder and its limiter are collected when a
// parser drops them; a cleanup removes the entry then.
var jsonLimiters sync.Map // weak.Pointer[jsontext.Decoder] -> weak.Pointer[jsonLimiter]

func newLimitedJSONDecoder(name string, r io.Reader, lim Limits) *jsontext.Decoder {
	l := &jsonLimiter{name: name, r: r, lim: lim.Or()}
	dec := jsontext.NewDecoder(l, jsonOptions)
	l.dec = dec
	key := weak.Make(dec)
	jsonLimiters.Store(key, weak.Make(l))
	runtime.AddCleanup(dec, func(k weak.Pointer[jsontext.Decoder]) { jsonLimiters.Delete(k) }, key)
	return dec
}

// limiterOf returns the limiter under dec, or nil for a decoder that
// NewJSONDecoder did not make.
func limiterOf(dec *jsontext.Decoder) *jsonLimiter {
	v, ok := jsonLimiters.Load(weak.Make(dec))
	if !ok {
		return nil
	}
	return v.(weak.Pointer[jsonLimiter]).Value()
}

// beginItem marks the start of one item that DecodeJSON decodes whole;
// endItem its end. Nested calls count as one item.
func (l *jsonLimiter) beginItem() {
	if l.items == 0 {
		l.itemStart = l.dec.InputOffset()
	}
	l.items++
}

func (l *jsonLimiter) endItem() { l.items-- }

func (l *jsonLimiter) fail(err error) (int, error) {
	l.err = err
	return 0, err
}

func (l *jsonLimiter) Read(p []byte) (int, error) {
	if l.err != nil {
		return 0, l.err
	}
	at := l.dec.InputOffset()
	switch {
	case l.off-at > l.lim.MaxItem:
		return l.fail(tooLarge(l.name, at, "a JSON value held whole", l.lim.MaxItem, "CTEM_MAX_ITEM"))
	case l.items > 0 && l.off-l.itemStart > l.lim.MaxItem:
		return l.fail(tooLarge(l.name, l.itemStart, "one item", l.lim.MaxItem, "CTEM_MAX_ITEM"))
	case l.dec.StackDepth() > l.lim.MaxDepth:
		l.err = &InputError{File: l.name, Offset: at, Err: fmt.Errorf("%w: JSON nested deeper than %d levels (set CTEM_MAX_DEPTH to raise the limit)", ErrTooLarge, l.lim.MaxDepth)}
		return 0, l.err
	}
	n, err := l.r.Read(p)
	if n > 0 {
		if e := l.scan(p[:n]); e != nil {
			// The decoder ignores an error that comes with bytes: drop
			// them, the input is refused anyway.
			return l.fail(e)
		}
	}
	return n, err
}

// scan follows the strings of b, the next bytes of the input, and fails
// when one is longer than MaxToken. Outside a string every quote opens
// one; inside, a quote preceded by an odd number of backslashes is
// escaped.
func (l *jsonLimiter) scan(b []byte) error {
	base := l.off
	l.off += int64(len(b))
	for i := 0; i < len(b); {
		j := bytes.IndexByte(b[i:], '"')
		if !l.inString {
			if j < 0 {
				break
			}
			l.inString, l.bsRun, l.strStart = true, 0, base+int64(i+j)
			i += j + 1
			continue
		}
		if j < 0 {
			l.bsRun = trailingBackslashes(b[i:], l.bsRun)
			break
		}
		q := i + j
		if trailingBackslashes(b[i:q], l.bsRun)%2 == 1 {
			l.bsRun = 0
			i = q + 1
			continue
		}
		if base+int64(q)-l.strStart-1 > l.lim.MaxToken {
			return l.stringTooLong()
		}
		l.inString = false
		i = q + 1
	}
	if l.inString && l.off-l.strStart-1 > l.lim.MaxToken {
		return l.stringTooLong()
	}
	return nil
}

func (l *jsonLimiter) stringTooLong() error {
	return tooLarge(l.name, l.strStart, "a JSON string", l.lim.MaxToken, "CTEM_MAX_TOKEN")
}

// trailingBackslashes counts the backslashes that end b, adding carry
// (those that ended the bytes before b) when b is all backslashes.
func trailingBackslashes(b []byte, carry int) int {
	k := 0
	for k < len(b) && b[len(b)-1-k] == '\\' {
		k++
	}
	if k == len(b) {
		return carry + k
	}
	return k
}
