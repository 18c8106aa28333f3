package ingest

import (
	"errors"
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/go-json-experiment/json/jsontext"
)

type spooled struct {
	off int64
	tag int
	v   string
}

// spoolInput writes n pretty-printed values of growing size into an array
// and returns it with each value's offset.
func spoolInput(n int) (string, []spooled) {
	var b strings.Builder
	var want []spooled
	b.WriteString("[\n")
	for i := range n {
		if i > 0 {
			b.WriteString(",\n")
		}
		b.WriteString("  ")
		v := fmt.Sprintf(`{"i": %d, "pad": %q}`, i, strings.Repeat("x", i*7))
		want = append(want, spooled{off: int64(b.Len()), tag: i % 3, v: v})
		b.WriteString(v)
	}
	b.WriteString("\n]\n")
	return b.String(), want
}

func fill(t testing.TB, s *Spool, doc string) {
	t.Helper()
	dec := NewJSONDecoder(strings.NewReader(doc))
	i := 0
	if err := WalkArray(dec, func() error {
		defer func() { i++ }()
		return s.Read(dec, i%3)
	}); err != nil {
		t.Fatal(err)
	}
}

func replay(t testing.TB, s *Spool) []spooled {
	t.Helper()
	var got []spooled
	if err := s.Each(func(off int64, tag int, v jsontext.Value) error {
		got = append(got, spooled{off, tag, string(v)})
		return nil
	}); err != nil {
		t.Fatalf("Each = %v", err)
	}
	return got
}

func TestSpoolOrder(t *testing.T) {
	t.Parallel()
	doc, want := spoolInput(200)
	for _, tc := range []struct {
		name  string
		limit int
		spill bool
	}{
		{"memory", 0, false},
		{"memory then file", 2000, true},
		{"file", -1, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s := &Spool{Limit: tc.limit}
			defer s.Close()
			fill(t, s, doc)
			if got := s.Len(); got != len(want) {
				t.Errorf("Len() = %d, want %d", got, len(want))
			}
			if got := s.file != nil; got != tc.spill {
				t.Errorf("spilled to a file = %v, want %v", got, tc.spill)
			}
			if tc.spill && tc.limit > 0 && len(s.items) == 0 {
				t.Errorf("nothing held in memory under a limit of %d", tc.limit)
			}
			got := replay(t, s)
			if len(got) != len(want) {
				t.Fatalf("Each gave %d values, want %d", len(got), len(want))
			}
			for i := range want {
				if got[i] != want[i] {
					t.Errorf("value %d = %+v, want %+v", i, got[i], want[i])
				}
				if w := doc[want[i].off : want[i].off+int64(len(want[i].v))]; w != got[i].v {
					t.Errorf("value %d: input at offset %d is %q, want %q", i, got[i].off, w, got[i].v)
				}
			}
		})
	}
}

func TestSpoolAddAfterEach(t *testing.T) {
	t.Parallel()
	s := &Spool{Limit: 100}
	defer s.Close()
	for i := range 20 {
		if err := s.Add(int64(i), i, jsontext.Value(fmt.Sprintf(`"value %d"`, i))); err != nil {
			t.Fatal(err)
		}
		if got := replay(t, s); len(got) != i+1 || got[i].tag != i {
			t.Fatalf("after %d values Each gave %+v", i+1, got)
		}
	}
}

func TestSpoolClose(t *testing.T) {
	t.Parallel()
	s := &Spool{Limit: -1}
	if err := s.Add(0, 0, jsontext.Value(`{}`)); err != nil {
		t.Fatal(err)
	}
	name := s.file.Name()
	if _, err := os.Stat(name); err != nil {
		t.Fatalf("temporary file: %v", err)
	}
	for range 2 {
		if err := s.Close(); err != nil {
			t.Errorf("Close() = %v", err)
		}
	}
	if _, err := os.Stat(name); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("after Close, stat %s = %v, want it removed", name, err)
	}
	if s.Len() != 0 || len(replay(t, s)) != 0 {
		t.Errorf("closed spool holds %d values, want 0", s.Len())
	}

	var zero Spool
	var nilSpool *Spool
	if zero.Close() != nil || nilSpool.Close() != nil || nilSpool.Len() != 0 || nilSpool.Each(nil) != nil {
		t.Errorf("zero or nil Spool: Close, Len or Each misbehaved")
	}
}

func TestSpoolEachError(t *testing.T) {
	t.Parallel()
	doc, _ := spoolInput(50)
	stop := errors.New("stop")
	for _, at := range []int{3, 45} { // in memory, in the file
		s := &Spool{Limit: 1000}
		fill(t, s, doc)
		n := 0
		err := s.Each(func(int64, int, jsontext.Value) error {
			if n == at {
				return stop
			}
			n++
			return nil
		})
		if !errors.Is(err, stop) || n != at {
			t.Errorf("Each stopping at %d = %v after %d values, want %v after %d", at, err, n, stop, at)
		}
		s.Close()
	}
}

// TestDecodeSpooled checks that an error found at replay reads exactly
// like the error of decoding the value where it stood.
func TestDecodeSpooled(t *testing.T) {
	t.Parallel()
	type item struct {
		A struct {
			B string `json:"b"`
		} `json:"a"`
		T Text `json:"t"`
	}
	for _, doc := range []string{
		"{\"xs\": [\n  {\"a\": {\"b\": \"x\"}},\n  {\"a\":\n {\"b\": 12}}]}",
		"{\"xs\": [{\"a\": {}},\n  {\"t\": {}}]}",
	} {
		in := &Input{Name: "x.json"}
		dec := NewJSONDecoder(strings.NewReader(doc))
		var want error
		_ = WalkObject(dec, func(string) error {
			return WalkArray(dec, func() error {
				var it item
				if err := DecodeJSON(dec, &it); err != nil {
					want = AsInputError(in, dec.InputOffset(), err)
					return err
				}
				return nil
			})
		})
		var s Spool
		fill(t, &s, doc[strings.Index(doc, "["):strings.LastIndex(doc, "}")])
		var got error
		i := 0
		_ = s.Each(func(off int64, _ int, v jsontext.Value) error {
			defer func() { i++ }()
			var it item
			got = DecodeSpooled(in, off+int64(strings.Index(doc, "[")), fmt.Sprintf("/xs/%d", i), v, &it)
			return got
		})
		if want == nil || got == nil || got.Error() != want.Error() {
			t.Errorf("DecodeSpooled in %q = %v, want %v", doc, got, want)
		}
		if _, ok := errors.AsType[*InputError](got); !ok {
			t.Errorf("DecodeSpooled in %q = %T, want *InputError", doc, got)
		}
	}
}
