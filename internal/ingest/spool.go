package ingest

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/go-json-experiment/json"
	"github.com/go-json-experiment/json/jsontext"
)

// DefaultSpoolLimit is how many bytes a Spool keeps in memory before it
// moves on to a temporary file: enough that ordinary reports never touch
// the disk, small beside the reports of gigabytes that must not be held.
const DefaultSpoolLimit = 4 << 20

// spoolItemSize is what a held value costs beyond its bytes, counted
// against the limit so that a flood of tiny values stays bounded too.
const spoolItemSize = 24

// Spool holds raw JSON values that a parser cannot decode yet, in input
// order, and gives them back later. Several reports name their target
// (which every finding needs) only after their findings; a parser spools
// the findings' raw values until it reaches the target, then replays and
// decodes them, so that memory stays bounded whatever the report's size.
//
// The first values, up to Limit bytes, are held in memory; the rest go to
// a temporary file that Close removes. Each value keeps the input offset
// it started at, so that an error found at replay can name its place in
// the input, and a small tag the parser chooses (which list the value
// came from, say).
//
// The zero Spool is empty and ready to use. A Spool is not safe for
// concurrent use.
type Spool struct {
	// Limit is the most bytes held in memory before values go to a
	// temporary file. Zero means DefaultSpoolLimit; a negative Limit sends
	// every value to the file.
	Limit int

	buf   []byte      // held values, back to back
	items []spoolItem // one per held value, in order
	file  *os.File    // values beyond the limit, once there are any
	w     *bufio.Writer
	n     int // values in all
}

type spoolItem struct {
	off int64
	tag int
	end int // end of the value in buf; it starts where the previous ends
}

// Len returns the number of values added since the spool was made or
// closed.
func (s *Spool) Len() int {
	if s == nil {
		return 0
	}
	return s.n
}

// Read reads the next value of dec and adds it with tag. The offset kept
// is where the value itself begins: the decoder's offset before the read
// would point before the comma and white space that precede it, which in
// a pretty-printed report is the end of the previous line.
func (s *Spool) Read(dec *jsontext.Decoder, tag int) error {
	v, err := dec.ReadValue()
	if err != nil {
		return err
	}
	return s.Add(dec.InputOffset()-int64(len(v)), tag, v)
}

// Add adds a copy of v, read at input offset off, with tag.
func (s *Spool) Add(off int64, tag int, v jsontext.Value) error {
	limit := s.Limit
	if limit == 0 {
		limit = DefaultSpoolLimit
	}
	// Once one value has gone to the file, all that follow go there too,
	// so that replaying the memory and then the file keeps input order.
	if s.file == nil && len(s.buf)+len(v)+(len(s.items)+1)*spoolItemSize <= limit {
		s.buf = append(s.buf, v...)
		s.items = append(s.items, spoolItem{off: off, tag: tag, end: len(s.buf)})
		s.n++
		return nil
	}
	if s.file == nil {
		f, err := os.CreateTemp("", "ctem-spool-*")
		if err != nil {
			return fmt.Errorf("spool: %w", err)
		}
		s.file = f
		s.w = bufio.NewWriterSize(f, 64<<10)
	}
	// A record is the offset, the tag and the length as varints, then the
	// value's bytes.
	var hdr [3 * binary.MaxVarintLen64]byte
	h := binary.AppendVarint(hdr[:0], off)
	h = binary.AppendVarint(h, int64(tag))
	h = binary.AppendUvarint(h, uint64(len(v)))
	if _, err := s.w.Write(h); err != nil {
		return fmt.Errorf("spool: %w", err)
	}
	if _, err := s.w.Write(v); err != nil {
		return fmt.Errorf("spool: %w", err)
	}
	s.n++
	return nil
}

// Each calls fn with every value in the order they were added, with its
// offset and tag, and stops at the first error fn returns, which it
// returns. v is valid only until fn returns. Values may be added after
// Each, and a later Each replays them all again.
func (s *Spool) Each(fn func(off int64, tag int, v jsontext.Value) error) error {
	if s == nil {
		return nil
	}
	start := 0
	for _, it := range s.items {
		if err := fn(it.off, it.tag, jsontext.Value(s.buf[start:it.end:it.end])); err != nil {
			return err
		}
		start = it.end
	}
	if s.file == nil {
		return nil
	}
	if err := s.w.Flush(); err != nil {
		return fmt.Errorf("spool: %w", err)
	}
	if _, err := s.file.Seek(0, io.SeekStart); err != nil {
		return fmt.Errorf("spool: %w", err)
	}
	// Leave the file positioned at its end for values added later.
	defer s.file.Seek(0, io.SeekEnd)
	r := bufio.NewReaderSize(s.file, 64<<10)
	var v []byte
	for range s.n - len(s.items) {
		off, err1 := binary.ReadVarint(r)
		tag, err2 := binary.ReadVarint(r)
		size, err3 := binary.ReadUvarint(r)
		if err := errors.Join(err1, err2, err3); err != nil {
			return fmt.Errorf("spool: read back: %w", err)
		}
		if uint64(cap(v)) < size {
			v = make([]byte, size)
		}
		v = v[:size]
		if _, err := io.ReadFull(r, v); err != nil {
			return fmt.Errorf("spool: read back: %w", err)
		}
		if err := fn(off, int(tag), jsontext.Value(v)); err != nil {
			return err
		}
	}
	return nil
}

// Close empties the spool and removes its temporary file, if any. The
// spool may be used again. Closing a closed, zero or nil Spool does
// nothing.
func (s *Spool) Close() error {
	if s == nil {
		return nil
	}
	var err error
	if s.file != nil {
		err = errors.Join(s.file.Close(), os.Remove(s.file.Name()))
		s.file, s.w = nil, nil
	}
	s.buf, s.items, s.n = nil, nil, 0
	if err != nil {
		return fmt.Errorf("spool: %w", err)
	}
	return nil
}

// DecodeSpooled decodes v, a value that a Spool kept from input offset
// off of in, into dst. ptr is the value's JSON pointer in the input
// ("/matches/3"). A semantic error (a number where a string belongs, say)
// becomes an *InputError at its own place in the input, with ptr before
// its pointer, just as if the value had been decoded where it stood; any
// other error becomes an *InputError at off.
//
// opts are decoding options beyond those of UnmarshalJSON.
func DecodeSpooled(in *Input, off int64, ptr string, v jsontext.Value, dst any, opts ...json.Options) error {
	err := UnmarshalJSON(v, dst, opts...)
	if err == nil {
		return nil
	}
	if se, ok := errors.AsType[*json.SemanticError](err); ok {
		at := *se
		if at.ByteOffset < 0 || at.ByteOffset > int64(len(v)) {
			at.ByteOffset = 0
		}
		at.ByteOffset += off
		at.JSONPointer = jsontext.Pointer(ptr) + se.JSONPointer
		return AsInputError(in, at.ByteOffset, &at)
	}
	if _, ok := errors.AsType[*InputError](err); ok {
		return err
	}
	return &InputError{File: in.Name, Offset: off, Err: err}
}
