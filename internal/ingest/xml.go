package ingest

import (
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
)

// XMLDecoder is the streaming XML decoder of report parsers: an
// xml.Decoder whose input is read within Limits. encoding/xml holds one
// token whole (an element's text, a tag with all its attributes, a
// comment) however long, and the stack of open elements however deep;
// XMLDecoder fails with an InputError wrapping ErrTooLarge when a token
// passes MaxToken, the nesting passes MaxDepth, or one DecodeElement
// reads more than MaxItem bytes.
type XMLDecoder struct {
	*xml.Decoder
	t *xmlTokens
}

// xmlTokens reads raw tokens from a decoder over its own buffered,
// counting reader, and checks the limits: Token marks where a token
// begins, ReadByte stops the raw decoder once the token or the item is
// too long.
type xmlTokens struct {
	name  string
	r     io.Reader
	buf   []byte
	i     int   // next byte of buf
	base  int64 // input offset of buf[0]
	stop  int64 // offset at which the next byte breaks a limit
	raw   *xml.Decoder
	lim   Limits
	mark  int64 // where the current token began
	depth int
	item  int64 // where the current DecodeElement began, or -1
	err   error
}

// NewXMLDecoder returns a streaming XML decoder over r for report
// parsers, with the default Limits. It never resolves external entities
// (encoding/xml has none) and accepts the character sets reports use by
// treating them as UTF-8. A parser should prefer Input.XMLDecoder, whose
// errors name the input.
func NewXMLDecoder(r io.Reader) *XMLDecoder {
	return newXMLDecoder("", r, Limits{})
}

// XMLDecoder returns a streaming XML decoder over the input, within its
// Limits (see NewXMLDecoder).
func (in *Input) XMLDecoder() *XMLDecoder {
	return newXMLDecoder(in.Name, in.R, in.Limits)
}

func newXMLDecoder(name string, r io.Reader, lim Limits) *XMLDecoder {
	t := &xmlTokens{name: name, r: r, buf: make([]byte, 0, 32<<10), lim: lim.Or(), item: -1}
	t.setStop()
	t.raw = xml.NewDecoder(t)
	t.raw.CharsetReader = func(_ string, in io.Reader) (io.Reader, error) { return in, nil }
	return &XMLDecoder{Decoder: xml.NewTokenDecoder(t), t: t}
}

// setStop computes where the current token or item breaks its limit.
func (t *xmlTokens) setStop() {
	t.stop = t.mark + t.lim.MaxToken + 1
	if t.item >= 0 {
		t.stop = min(t.stop, t.item+t.lim.MaxItem+1)
	}
}

// Read is never used: encoding/xml reads a ByteReader byte by byte.
func (t *xmlTokens) Read(p []byte) (int, error) {
	for i := range p {
		b, err := t.ReadByte()
		if err != nil {
			return i, err
		}
		p[i] = b
	}
	return len(p), nil
}

// ReadByte reads one byte of the input for the raw decoder.
func (t *xmlTokens) ReadByte() (byte, error) {
	if t.i < len(t.buf) && t.base+int64(t.i) < t.stop {
		b := t.buf[t.i]
		t.i++
		return b, nil
	}
	return t.slowByte()
}

func (t *xmlTokens) slowByte() (byte, error) {
	if t.err != nil {
		return 0, t.err
	}
	n := t.base + int64(t.i)
	if n >= t.stop {
		if t.item >= 0 && n-t.item > t.lim.MaxItem {
			t.err = tooLarge(t.name, t.item, "one XML element decoded whole", t.lim.MaxItem, "CTEM_MAX_ITEM")
		} else {
			t.err = tooLarge(t.name, t.mark, "an XML token (text, tag with its attributes, or comment)", t.lim.MaxToken, "CTEM_MAX_TOKEN")
		}
		return 0, t.err
	}
	for t.i >= len(t.buf) {
		t.base += int64(len(t.buf))
		t.i = 0
		k, err := t.r.Read(t.buf[:cap(t.buf)])
		t.buf = t.buf[:k]
		if k == 0 && err != nil {
			return 0, err
		}
	}
	b := t.buf[t.i]
	t.i++
	return b, nil
}

// Token returns the next raw token, for the namespace-aware decoder above.
func (t *xmlTokens) Token() (xml.Token, error) {
	t.mark = t.base + int64(t.i)
	t.setStop()
	tok, err := t.raw.RawToken()
	if t.err != nil {
		// The raw decoder may report what it made of the bytes it had
		// (an illegal character) instead of the limit that stopped it.
		return nil, t.err
	}
	if err != nil && strings.HasPrefix(err.Error(), "xml: ") {
		if _, ok := errors.AsType[*xml.SyntaxError](err); !ok {
			// encoding/xml reports some malformed input as plain errors
			// ("xml: unsupported version").
			line, col := t.raw.InputPos()
			return nil, &InputError{File: t.name, Offset: t.raw.InputOffset(), Line: line, Col: col, Err: fmt.Errorf("invalid XML: %s", strings.TrimPrefix(err.Error(), "xml: "))}
		}
	}
	switch tok.(type) {
	case xml.StartElement:
		t.depth++
		if t.depth > t.lim.MaxDepth {
			t.err = &InputError{File: t.name, Offset: t.mark, Err: fmt.Errorf("%w: XML nested deeper than %d elements (set CTEM_MAX_DEPTH to raise the limit)", ErrTooLarge, t.lim.MaxDepth)}
			return nil, t.err
		}
	case xml.EndElement:
		t.depth--
	}
	return tok, err
}

// DecodeElement works like xml.Decoder.DecodeElement, within MaxItem.
func (d *XMLDecoder) DecodeElement(v any, start *xml.StartElement) error {
	if d.t.item < 0 {
		d.t.item = d.t.mark
		d.t.setStop()
		defer func() { d.t.item = -1; d.t.setStop() }()
	}
	return d.Decoder.DecodeElement(v, start)
}

// InputOffset returns the offset in the input after the last token read.
func (d *XMLDecoder) InputOffset() int64 { return d.t.raw.InputOffset() }

// InputPos returns the line and column in the input after the last token
// read.
func (d *XMLDecoder) InputPos() (line, column int) { return d.t.raw.InputPos() }

// AsXMLInputError turns the errors of an XML decoder into an *InputError
// with the line and column the decoder had reached (a syntax error's own
// line is no better: the namespace layer of XMLDecoder does not count
// lines), keeping other errors as they are.
// An error that holds an InputError is that InputError, named after in if
// it names no file.
func AsXMLInputError(in *Input, dec *XMLDecoder, err error) error {
	if err == nil {
		return nil
	}
	if ie, ok := errors.AsType[*InputError](err); ok {
		if ie.File == "" {
			ie.File = in.Name
		}
		return ie
	}
	line, col := dec.InputPos()
	off := dec.InputOffset()
	if se, ok := errors.AsType[*xml.SyntaxError](err); ok {
		return &InputError{File: in.Name, Offset: off, Line: line, Col: col, Err: fmt.Errorf("invalid XML: %s", se.Msg)}
	}
	if errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) {
		return &InputError{File: in.Name, Offset: off, Line: line, Col: col, Err: errors.New("unexpected end of input (truncated?)")}
	}
	// What DecodeElement makes of text that does not fit a field: a
	// number that is none, a value of the wrong kind.
	if ne, ok := errors.AsType[*strconv.NumError](err); ok {
		return &InputError{File: in.Name, Offset: off, Line: line, Col: col, Err: fmt.Errorf("invalid number %q", ne.Num)}
	}
	if ue, ok := errors.AsType[xml.UnmarshalError](err); ok {
		return &InputError{File: in.Name, Offset: off, Line: line, Col: col, Err: fmt.Errorf("invalid XML: %s", string(ue))}
	}
	return err
}
