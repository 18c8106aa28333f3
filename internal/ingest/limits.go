package ingest

import (
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"sync"
)

// ErrTooLarge is the cause of an InputError for input beyond one of the
// Limits: more bytes once decompressed, a longer string or XML token, a
// larger item or a deeper nesting than ctem holds.
var ErrTooLarge = errors.New("input too large")

// Limits bound what one input may make ctem hold in memory, so that a
// hostile or broken input (a gzip bomb, a string of gigabytes, a document
// nested a million deep) ends in an input error instead of exhausting
// memory. A zero field takes its default, which the CTEM_MAX_* environment
// variable of the same name overrides (sizes in bytes, or with a K, M or
// G suffix meaning KiB, MiB, GiB).
//
// The defaults are far above what real reports need: the largest value
// of the corpus (a SARIF tool object with its rules' help texts) is a few
// MiB, a report of a million findings is about 1 GiB.
type Limits struct {
	// MaxInput is the most bytes read from one input after
	// decompression (CTEM_MAX_INPUT, default 8 GiB).
	MaxInput int64
	// MaxToken is the longest JSON string, and the longest XML token (an
	// element's text, a tag with its attributes, a comment), in bytes
	// (CTEM_MAX_TOKEN, default 16 MiB).
	MaxToken int64
	// MaxItem is the most bytes of one item a parser decodes as a whole
	// (a finding, a host, a component) or holds raw (CTEM_MAX_ITEM,
	// default 64 MiB).
	MaxItem int64
	// MaxDepth is the deepest nesting of JSON arrays and objects or of
	// XML elements (CTEM_MAX_DEPTH, default 512).
	MaxDepth int
}

// The default limits; see Limits.
const (
	DefaultMaxInput = 8 << 30
	DefaultMaxToken = 16 << 20
	DefaultMaxItem  = 64 << 20
	DefaultMaxDepth = 512
)

var envLimits = sync.OnceValue(func() Limits {
	return Limits{
		MaxInput: envSize("CTEM_MAX_INPUT", DefaultMaxInput),
		MaxToken: envSize("CTEM_MAX_TOKEN", DefaultMaxToken),
		MaxItem:  envSize("CTEM_MAX_ITEM", DefaultMaxItem),
		MaxDepth: int(envSize("CTEM_MAX_DEPTH", DefaultMaxDepth)),
	}
})

// envSize reads a size from the environment variable name, def when it
// is unset or not a positive size.
func envSize(name string, def int64) int64 {
	n, err := ParseSize(os.Getenv(name))
	if err != nil || n <= 0 {
		return def
	}
	return n
}

// ParseSize reads a size in bytes: a decimal number, optionally followed
// by K, M or G (KiB, MiB, GiB; "KiB", "MB" and lower case read alike).
func ParseSize(s string) (int64, error) {
	t := strings.ToUpper(strings.TrimSpace(s))
	t = strings.TrimSuffix(strings.TrimSuffix(t, "B"), "I")
	mult := int64(1)
	if t != "" {
		switch t[len(t)-1] {
		case 'K':
			mult = 1 << 10
		case 'M':
			mult = 1 << 20
		case 'G':
			mult = 1 << 30
		}
		if mult > 1 {
			t = strings.TrimSpace(t[:len(t)-1])
		}
	}
	n, err := strconv.ParseInt(t, 10, 64)
	if err != nil || n < 0 {
		return 0, fmt.Errorf("invalid size %q (want bytes, or a number with K, M or G)", s)
	}
	if n > (1<<62)/mult {
		return 0, fmt.Errorf("invalid size %q: too large", s)
	}
	return n * mult, nil
}

// Or returns l with every zero field set from the environment or the
// defaults.
func (l Limits) Or() Limits {
	d := envLimits()
	if l.MaxInput <= 0 {
		l.MaxInput = d.MaxInput
	}
	if l.MaxToken <= 0 {
		l.MaxToken = d.MaxToken
	}
	if l.MaxItem <= 0 {
		l.MaxItem = d.MaxItem
	}
	if l.MaxDepth <= 0 {
		l.MaxDepth = d.MaxDepth
	}
	return l
}

// DefaultLimits returns the limits in force when none are given: the
// defaults, overridden by the CTEM_MAX_* environment variables.
func DefaultLimits() Limits { return Limits{}.Or() }

// tooLarge returns the InputError of a limit: what exceeded it, the
// limit and the environment variable that raises it.
func tooLarge(name string, off int64, what string, limit int64, env string) *InputError {
	return &InputError{File: name, Offset: off, Err: fmt.Errorf("%w: %s larger than %s (set %s to raise the limit)", ErrTooLarge, what, sizeWord(limit), env)}
}

// sizeWord prints a size in the largest binary unit that divides it.
func sizeWord(n int64) string {
	switch {
	case n >= 1<<30 && n%(1<<30) == 0:
		return fmt.Sprintf("%d GiB", n>>30)
	case n >= 1<<20 && n%(1<<20) == 0:
		return fmt.Sprintf("%d MiB", n>>20)
	case n >= 1<<10 && n%(1<<10) == 0:
		return fmt.Sprintf("%d KiB", n>>10)
	}
	return fmt.Sprintf("%d bytes", n)
}

// WholeReader returns the input's stream for a parser whose decoder holds
// a whole document in memory (YAML, HCL), what naming the document ("a
// YAML inventory"). Beyond MaxItem bytes since the start, or since the
// last Reset, its Read fails with an InputError wrapping ErrTooLarge at
// the offset where the document began (as far as the reader knows: a
// decoder reads ahead, YAML's by 512 bytes). Some decoders (YAML's) keep only the text of a
// read error: ReadErr returns the error itself.
func (in *Input) WholeReader(what string) *WholeReader {
	return &WholeReader{name: in.Name, what: what, r: in.R, max: in.Limits.Or().MaxItem}
}

// WholeReader is the stream of Input.WholeReader.
type WholeReader struct {
	name, what string
	r          io.Reader
	max        int64
	n          int64 // bytes since the document began
	start, off int64 // offsets of the document and of the next byte
	err        error
}

// Reset starts a new document at the current offset, for a decoder that
// holds one document of a stream at a time (YAML's, between Decode
// calls).
func (w *WholeReader) Reset() { w.n, w.start = 0, w.off }

// Read reads from the input, within the limit.
func (w *WholeReader) Read(p []byte) (int, error) {
	if w.err != nil {
		return 0, w.err
	}
	if int64(len(p)) > w.max-w.n+1 {
		p = p[:w.max-w.n+1]
	}
	n, err := w.r.Read(p)
	w.n += int64(n)
	w.off += int64(n)
	if w.n > w.max {
		w.err = tooLarge(w.name, w.start, w.what, w.max, "CTEM_MAX_ITEM")
		return n - int(w.n-w.max), w.err
	}
	if err != nil && err != io.EOF {
		w.err = err
	}
	return n, err
}

// ReadErr returns the first error reading met (the limit, a corrupt gzip
// stream, the input's own limits), or nil.
func (w *WholeReader) ReadErr() error { return w.err }
