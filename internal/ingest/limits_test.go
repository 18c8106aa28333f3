package ingest_test

import (
	"bytes"
	"compress/gzip"
	"encoding/xml"
	"errors"
	"io"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"testing/iotest"

	"github.com/ctem-dev/ctem/internal/ingest"
)

func TestParseSize(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		in   string
		want int64
		ok   bool
	}{
		{"123", 123, true},
		{"16M", 16 << 20, true},
		{"16MiB", 16 << 20, true},
		{"16mb", 16 << 20, true},
		{" 2 G ", 2 << 30, true},
		{"64k", 64 << 10, true},
		{"", 0, false},
		{"M", 0, false},
		{"-1", 0, false},
		{"1T", 0, false},
		{"99999999999G", 0, false},
	} {
		got, err := ingest.ParseSize(tc.in)
		if (err == nil) != tc.ok || got != tc.want {
			t.Errorf("ParseSize(%q) = %d, %v, want %d (ok %v)", tc.in, got, err, tc.want, tc.ok)
		}
	}
}

// firstOver is the reference for the JSON limiter's scanner: the offset
// of the first string of valid JSON data whose raw length is over max,
// byte by byte, or -1.
func firstOver(data []byte, max int64) int64 {
	in, esc := false, false
	start := 0
	for i, c := range data {
		switch {
		case !in && c == '"':
			in, start = true, i
		case in && esc:
			esc = false
		case in && c == '\\':
			esc = true
		case in && c == '"':
			in = false
			if int64(i-start-1) > max {
				return int64(start)
			}
		}
	}
	if in && int64(len(data)-start-1) > max {
		return int64(start)
	}
	return -1
}

// parseLimited parses data as a JSON document with limits, reading it in
// pieces of one byte up to a few, and returns the error.
func parseLimited(data []byte, lim ingest.Limits, oneByte bool) error {
	var r io.Reader = bytes.NewReader(data)
	if oneByte {
		r = iotest.OneByteReader(r)
	}
	src, err := ingest.NewSourceLimits("doc.json", r, lim)
	if err != nil {
		return err
	}
	in := &ingest.Input{Name: "doc.json", R: src.Reader(), Options: ingest.Options{Limits: lim}}
	dec := in.JSONDecoder()
	var v any
	if err := ingest.DecodeJSON(dec, &v); err != nil {
		return ingest.AsInputError(in, dec.InputOffset(), err)
	}
	return nil
}

func checkStringLimit(t *testing.T, data []byte, max int64, oneByte bool) {
	t.Helper()
	at := firstOver(data, max)
	err := parseLimited(data, ingest.Limits{MaxToken: max}, oneByte)
	ie, isInput := errors.AsType[*ingest.InputError](err)
	tooLong := isInput && errors.Is(err, ingest.ErrTooLarge)
	if tooLong != (at >= 0) {
		t.Fatalf("parse(%q) with MaxToken %d = %v, want a limit error: %v (at %d)", data, max, err, at >= 0, at)
	}
	if tooLong && (ie.Offset != at || ie.File != "doc.json") {
		t.Errorf("parse(%q) = %v at %s offset %d, want doc.json offset %d", data, err, ie.File, ie.Offset, at)
	}
}

func TestJSONStringLimit(t *testing.T) {
	t.Parallel()
	for _, doc := range []string{
		`{"a":"12345678"}`,
		`{"a":"123456789"}`,
		`{"a":"1234567\\"}`,
		`{"a":"\\\\\\\\\\"}`,
		`{"a":"\"\"\"\"\"\""}`,
		`{"a":"\\\"\\\"\\\""}`,
		`{"123456789":1}`,
		`["\\","\\\\","\\\"x","1234567"]`,
		`{"a":["x","12345678\\\\\\\\"]}`,
	} {
		for _, one := range []bool{false, true} {
			checkStringLimit(t, []byte(doc), 8, one)
		}
	}
}

// FuzzJSONStringLimit checks the limiter's string scanner against the
// byte-by-byte reference on any valid JSON.
func FuzzJSONStringLimit(f *testing.F) {
	f.Add([]byte(`{"a":"1234567\\"}`), uint8(8))
	f.Add([]byte(`["\\\"x","\"\"\""]`), uint8(3))
	f.Fuzz(func(t *testing.T, data []byte, max uint8) {
		var v any
		if ingest.UnmarshalJSON(data, &v) != nil || max == 0 {
			return
		}
		checkStringLimit(t, data, int64(max), len(data)%2 == 0)
	})
}

func TestJSONItemAndDepthLimits(t *testing.T) {
	t.Parallel()
	items := `{"a":[` + strings.Repeat(`"x",`, 5000) + `"x"]}`
	deep := strings.Repeat("[", 600) + strings.Repeat("]", 600)
	for _, tc := range []struct {
		name, doc string
		lim       ingest.Limits
		want      string
	}{
		{"item", items, ingest.Limits{MaxItem: 4096}, "one item larger than 4 KiB"},
		{"item within", items, ingest.Limits{MaxItem: 64 << 10}, ""},
		{"depth", deep, ingest.Limits{MaxDepth: 100}, "JSON nested deeper than 100 levels"},
		{"depth within", deep, ingest.Limits{MaxDepth: 700}, ""},
	} {
		err := parseLimited([]byte(tc.doc), tc.lim, false)
		if tc.want == "" && err != nil || tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want) || !errors.Is(err, ingest.ErrTooLarge)) {
			t.Errorf("%s: parse = %v, want %q", tc.name, err, tc.want)
		}
	}
}

func TestXMLLimits(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, doc string
		lim       ingest.Limits
		want      string
	}{
		{"attribute", `<a b="` + strings.Repeat("x", 200) + `"/>`, ingest.Limits{MaxToken: 100}, "doc.xml: offset 0: input too large: an XML token"},
		{"text", `<a>` + strings.Repeat("x", 200) + `</a>`, ingest.Limits{MaxToken: 100}, "doc.xml: offset 3: input too large: an XML token"},
		{"comment", `<a><!--` + strings.Repeat(">", 200) + `--></a>`, ingest.Limits{MaxToken: 100}, "doc.xml: offset 3: input too large: an XML token"},
		{"within", `<a b="` + strings.Repeat("x", 200) + `">` + strings.Repeat("y", 200) + `</a>`, ingest.Limits{MaxToken: 300}, ""},
		{"depth", strings.Repeat("<a>", 50) + strings.Repeat("</a>", 50), ingest.Limits{MaxDepth: 20}, "XML nested deeper than 20 elements"},
		{"item", `<r><i>` + strings.Repeat("<x>y</x>", 100) + `</i></r>`, ingest.Limits{MaxItem: 200}, "one XML element decoded whole larger than 200 bytes"},
		{"item within", `<r><i>` + strings.Repeat("<x>y</x>", 100) + `</i></r>`, ingest.Limits{MaxItem: 2000}, ""},
		{"input", `<r>` + strings.Repeat("<x>y</x>", 100) + `</r>`, ingest.Limits{MaxInput: 500}, "doc.xml: offset 500: input too large: input once decompressed larger than 500 bytes"},
		{"version", `<?xml version="0"?><r/>`, ingest.Limits{}, "invalid XML: unsupported version"},
	} {
		src, err := ingest.NewSourceLimits("doc.xml", strings.NewReader(tc.doc), tc.lim)
		if err != nil {
			t.Fatal(err)
		}
		in := &ingest.Input{Name: "doc.xml", R: src.Reader(), Options: ingest.Options{Limits: tc.lim}}
		dec := in.XMLDecoder()
		err = func() error {
			for {
				tok, err := dec.Token()
				if err == io.EOF {
					return nil
				}
				if err != nil {
					return err
				}
				// Decode each child of the root whole, as report parsers
				// decode their items.
				if se, ok := tok.(xml.StartElement); ok && se.Name.Local == "i" {
					var v struct {
						X []string `xml:"x"`
					}
					if err := dec.DecodeElement(&v, &se); err != nil {
						return err
					}
				}
			}
		}()
		err = ingest.AsXMLInputError(in, dec, err)
		_, isInput := errors.AsType[*ingest.InputError](err)
		if tc.want == "" && err != nil || tc.want != "" && (!isInput || !strings.HasPrefix(err.Error(), "doc.xml") || !strings.Contains(err.Error(), tc.want)) {
			t.Errorf("%s: parse = %v, want an input error with %q", tc.name, err, tc.want)
		}
	}
}

func TestMaxInput(t *testing.T) {
	t.Parallel()
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	zw.Write(bytes.Repeat([]byte("a"), 1<<20))
	zw.Close()
	for _, tc := range []struct {
		max  int64
		data []byte
		fail bool
	}{
		{1 << 20, gz.Bytes(), false},
		{1<<20 - 1, gz.Bytes(), true},
		{100, bytes.Repeat([]byte("b"), 100), false},
		{100, bytes.Repeat([]byte("b"), 101), true},
	} {
		src, err := ingest.NewSourceLimits("in.gz", bytes.NewReader(tc.data), ingest.Limits{MaxInput: tc.max})
		if err != nil {
			t.Fatal(err)
		}
		n, err := io.Copy(io.Discard, src.Reader())
		ie, ok := errors.AsType[*ingest.InputError](err)
		if tc.fail != ok || tc.fail && (!errors.Is(err, ingest.ErrTooLarge) || ie.File != "in.gz" || ie.Offset != tc.max || n != tc.max) {
			t.Errorf("read of %d bytes with MaxInput %d = %d, %v, want failure %v at offset %d", len(tc.data), tc.max, n, err, tc.fail, tc.max)
		}
	}
}

// xmlTokens reads up to 1000 tokens, copied, and whether reading ended in
// an error other than io.EOF.
func readXMLTokens(next func() (xml.Token, error)) ([]xml.Token, bool) {
	var toks []xml.Token
	for range 1000 {
		tok, err := next()
		if err == io.EOF {
			return toks, false
		}
		if err != nil {
			return toks, true
		}
		toks = append(toks, xml.CopyToken(tok))
	}
	return toks, false
}

// FuzzXMLDecoder checks that XMLDecoder, a namespace layer over a raw
// decoder with a counting reader, reads any input within its limits as
// encoding/xml's own decoder does: the same tokens, names translated
// alike, and an error where it gives one.
func FuzzXMLDecoder(f *testing.F) {
	for _, s := range []string{
		`<?xml version="1.0" encoding="ISO-8859-1"?><a xmlns:x="urn:x" x:b="1"><x:c>t&amp;u</x:c><!-- c --><![CDATA[d]]></a>`,
		`<a><b></a>`,
		`<a xmlns="urn:d"><b/></a>`,
		`<!DOCTYPE a [<!ENTITY e "v">]><a>&e;</a>`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		plain := xml.NewDecoder(bytes.NewReader(data))
		plain.CharsetReader = func(_ string, in io.Reader) (io.Reader, error) { return in, nil }
		want, wantErr := readXMLTokens(plain.Token)
		got, gotErr := readXMLTokens(ingest.NewXMLDecoder(bytes.NewReader(data)).Token)
		if gotErr != wantErr || !reflect.DeepEqual(got, want) {
			t.Fatalf("XMLDecoder read %d tokens (error %v), encoding/xml %d (error %v):\n%#v\n%#v", len(got), gotErr, len(want), wantErr, got, want)
		}
	})
}

// FuzzParseSize checks the parser of the CTEM_MAX_* variables: a size
// read is never negative, and a plain number of bytes reads back as
// itself.
func FuzzParseSize(f *testing.F) {
	for _, s := range []string{"16M", "64MiB", "8G", "123", " 2 k ", "99999999999G", "-1"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		n, err := ingest.ParseSize(s)
		if err != nil {
			return
		}
		if n < 0 {
			t.Fatalf("ParseSize(%q) = %d", s, n)
		}
		if back, err := ingest.ParseSize(strconv.FormatInt(n, 10)); err != nil || back != n {
			t.Fatalf("ParseSize(%d) = %d, %v", n, back, err)
		}
	})
}
