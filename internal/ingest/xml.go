package ingest

import (
	"encoding/xml"
	"errors"
	"fmt"
	"io"
)

// NewXMLDecoder returns a streaming XML decoder over r for report
// parsers. It never resolves external entities (encoding/xml has none) and
// accepts the character sets reports use by treating them as UTF-8.
func NewXMLDecoder(r io.Reader) *xml.Decoder {
	dec := xml.NewDecoder(r)
	dec.CharsetReader = func(_ string, in io.Reader) (io.Reader, error) { return in, nil }
	return dec
}

// AsXMLInputError turns the errors of an XML decoder into an *InputError
// with the decoder's line and column, keeping other errors as they are.
func AsXMLInputError(in *Input, dec *xml.Decoder, err error) error {
	if err == nil {
		return nil
	}
	if _, ok := errors.AsType[*InputError](err); ok {
		return err
	}
	line, col := dec.InputPos()
	off := dec.InputOffset()
	if se, ok := errors.AsType[*xml.SyntaxError](err); ok {
		return &InputError{File: in.Name, Offset: off, Line: se.Line, Col: col, Err: fmt.Errorf("invalid XML: %s", se.Msg)}
	}
	if errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) {
		return &InputError{File: in.Name, Offset: off, Line: line, Col: col, Err: errors.New("unexpected end of input (truncated?)")}
	}
	return err
}
