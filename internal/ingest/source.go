package ingest

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"os"
)

// sniffSize is how much of an input detection looks at.
const sniffSize = 64 << 10

// Source is an opened input: decompressed, buffered, and hashed as it is
// read. Close it when done.
type Source struct {
	Name string
	// Size is the compressed size of a regular file, or -1.
	Size int64
	r    *bufio.Reader
	h    hash.Hash
	c    []io.Closer
	// counted tracks the raw bytes read, for progress.
	counted *countingReader
	// max is the most decompressed bytes read (Limits.MaxInput).
	max int64
}

// Open opens path for ingest; "-" is stdin. A gzip stream is decompressed
// transparently (detected by its magic bytes, not the file name). The
// decompressed stream ends in an InputError wrapping ErrTooLarge beyond
// the default MaxInput (see Limits).
func Open(path string, stdin io.Reader) (*Source, error) {
	return OpenLimits(path, stdin, Limits{})
}

// OpenLimits is Open with the MaxInput of lim (zero fields take their
// defaults).
func OpenLimits(path string, stdin io.Reader, lim Limits) (*Source, error) {
	s := &Source{Name: path, Size: -1, max: lim.Or().MaxInput}
	var raw io.Reader
	if path == "-" {
		raw = stdin
		s.Name = "<stdin>"
	} else {
		f, err := os.Open(path)
		if err != nil {
			return nil, err
		}
		if st, err := f.Stat(); err == nil {
			if st.IsDir() {
				f.Close()
				return nil, fmt.Errorf("%s: is a directory", path)
			}
			if st.Mode().IsRegular() {
				s.Size = st.Size()
			}
		}
		s.c = append(s.c, f)
		raw = f
	}
	s.counted = &countingReader{r: raw}
	return s, s.init()
}

// NewSource wraps an in-memory or other reader as a Source named name,
// with the default limits.
func NewSource(name string, r io.Reader) (*Source, error) {
	return NewSourceLimits(name, r, Limits{})
}

// NewSourceLimits is NewSource with the MaxInput of lim.
func NewSourceLimits(name string, r io.Reader, lim Limits) (*Source, error) {
	s := &Source{Name: name, Size: -1, counted: &countingReader{r: r}, max: lim.Or().MaxInput}
	return s, s.init()
}

func (s *Source) init() error {
	s.h = sha256.New()
	br := bufio.NewReaderSize(s.counted, sniffSize)
	magic, _ := br.Peek(2)
	var r io.Reader = br
	if len(magic) == 2 && magic[0] == 0x1f && magic[1] == 0x8b {
		zr, err := gzip.NewReader(br)
		if err != nil {
			s.Close()
			return &InputError{File: s.Name, Offset: 0, Err: fmt.Errorf("gzip: %w", err)}
		}
		s.c = append(s.c, zr)
		r = &gzipErrReader{name: s.Name, r: zr}
	}
	r = &maxReader{name: s.Name, r: r, max: s.max, what: "input once decompressed", env: "CTEM_MAX_INPUT"}
	s.r = bufio.NewReaderSize(io.TeeReader(r, s.h), sniffSize)
	return nil
}

// maxReader ends a stream with an InputError once more than max bytes
// come out of it: a gzip bomb expands to terabytes from a few megabytes.
// The error is kept in Err.
type maxReader struct {
	name      string
	r         io.Reader
	n         int64
	max       int64
	what, env string
	Err       error
}

func (m *maxReader) Read(p []byte) (int, error) {
	if m.Err != nil {
		return 0, m.Err
	}
	if int64(len(p)) > m.max-m.n+1 {
		p = p[:m.max-m.n+1]
	}
	n, err := m.r.Read(p)
	m.n += int64(n)
	if m.n > m.max {
		m.Err = tooLarge(m.name, m.max, m.what, m.max, m.env)
		return n - int(m.n-m.max), m.Err
	}
	return n, err
}

// Reader is the decompressed stream, positioned at the input's start.
func (s *Source) Reader() *bufio.Reader { return s.r }

// Sniff examines the head of the input without consuming it.
func (s *Source) Sniff() *Sniff {
	head, _ := s.r.Peek(sniffSize)
	return SniffBytes(head)
}

// Digest is the SHA-256 of the decompressed bytes read so far; after a
// parser has read the whole input it is the input's digest.
func (s *Source) Digest() string {
	// Drain what a parser left unread (trailing white space) so that the
	// digest covers the whole input.
	_, _ = io.Copy(io.Discard, s.r)
	return "sha256:" + hex.EncodeToString(s.h.Sum(nil))
}

// BytesRead is how many raw (compressed) bytes have been read, for
// progress display.
func (s *Source) BytesRead() int64 { return s.counted.n.Load() }

// Close releases the input.
func (s *Source) Close() error {
	var first error
	for i := len(s.c) - 1; i >= 0; i-- {
		if err := s.c[i].Close(); err != nil && first == nil {
			first = err
		}
	}
	s.c = nil
	return first
}

// gzipErrReader reports a corrupt or truncated gzip stream as an input
// error instead of a bare gzip error.
type gzipErrReader struct {
	name string
	r    io.Reader
	n    int64
}

func (g *gzipErrReader) Read(p []byte) (int, error) {
	n, err := g.r.Read(p)
	g.n += int64(n)
	if err != nil && err != io.EOF {
		return n, &InputError{File: g.name, Offset: g.n, Err: fmt.Errorf("gzip: %w", err)}
	}
	return n, err
}

// maxLineColOffset is the furthest LineCol reads: beyond, an error keeps
// its offset alone, rather than have the input read again up to there
// (an input refused at 8 GiB decompressed).
const maxLineColOffset = 256 << 20

// LineCol computes the 1-based line and column of byte offset off in the
// decompressed content of the file at path. It returns zeros when the file
// cannot be read again (standard input), off is beyond its end, or beyond
// 256 MiB.
func LineCol(path string, off int64) (line, col int) {
	if path == "-" || path == "<stdin>" || off < 0 || off > maxLineColOffset {
		return 0, 0
	}
	src, err := Open(path, nil)
	if err != nil {
		return 0, 0
	}
	defer src.Close()
	line, col = 1, 1
	buf := make([]byte, 32<<10)
	var pos int64
	for pos < off {
		n, err := src.r.Read(buf[:min(int64(len(buf)), off-pos)])
		for _, c := range buf[:n] {
			if c == '\n' {
				line++
				col = 1
			} else if c&0xC0 != 0x80 { // count runes, not bytes
				col++
			}
		}
		pos += int64(n)
		if err != nil {
			if pos < off {
				return 0, 0
			}
			break
		}
	}
	return line, col
}

// WithPosition fills the Line and Col of an InputError for a file on disk.
func WithPosition(err error, path string) error {
	ie, ok := errors.AsType[*InputError](err)
	if !ok || ie.Line > 0 || ie.Offset < 0 {
		return err
	}
	ie.Line, ie.Col = LineCol(path, ie.Offset)
	return err
}

// HeadContains reports whether the sniffed head contains sub.
func (s *Sniff) HeadContains(sub string) bool { return bytes.Contains(s.Head, []byte(sub)) }
