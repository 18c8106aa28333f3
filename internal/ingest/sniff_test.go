package ingest_test

import (
	"bytes"
	"compress/gzip"
	"errors"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/ctem-dev/ctem/internal/ingest"
)

func TestSniff(t *testing.T) {
	t.Parallel()
	s := ingest.SniffBytes([]byte(`{"SchemaVersion": 2, "Results": [{"Target": "x", "Vulnerabilities": [{"VulnerabilityID": "CVE-1"`))
	if s.Kind != ingest.SniffJSONObject || s.Get("SchemaVersion") != "2" || !s.Has("Results[].Vulnerabilities[].VulnerabilityID") {
		t.Errorf("truncated JSON head: %+v", s.Paths)
	}
	s = ingest.SniffBytes([]byte("{\"a\":1}\n{\"a\":2}\n"))
	if !s.Stream {
		t.Error("JSON lines not seen as a stream")
	}
	s = ingest.SniffBytes([]byte(`<?xml version="1.0"?><nmaprun scanner="nmap">`))
	if s.Kind != ingest.SniffXML || s.XMLRoot.Local != "nmaprun" {
		t.Errorf("XML root = %+v", s.XMLRoot)
	}
	s = ingest.SniffBytes([]byte("# comment\napiVersion: v1\nkind: Pod\n"))
	if s.Kind != ingest.SniffYAML {
		t.Errorf("YAML kind = %v", s.Kind)
	}
}

func TestOpenGzipAndDigest(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	plain := []byte(`{"SchemaVersion": 2}`)
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	zw.Write(plain)
	zw.Close()
	path := filepath.Join(dir, "report.bin") // the name says nothing
	os.WriteFile(path, buf.Bytes(), 0o600)
	src, err := ingest.Open(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	got, _ := io.ReadAll(src.Reader())
	if !bytes.Equal(got, plain) {
		t.Errorf("Open(gzip) read %q, want %q", got, plain)
	}
	d1 := src.Digest()
	src.Close()
	src2, _ := ingest.NewSource("x", bytes.NewReader(plain))
	if d2 := src2.Digest(); d1 != d2 {
		t.Errorf("digest of the gzip copy %s differs from the plain one %s", d1, d2)
	}
	// A corrupt gzip stream is an input error naming the file.
	os.WriteFile(path, buf.Bytes()[:len(buf.Bytes())/2], 0o600)
	src, err = ingest.Open(path, nil)
	if err == nil {
		_, err = io.ReadAll(src.Reader())
		src.Close()
	}
	if _, ok := errors.AsType[*ingest.InputError](err); !ok {
		t.Errorf("truncated gzip: %v, want an *ingest.InputError", err)
	}
}

func TestLineCol(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "f.json")
	os.WriteFile(path, []byte("{\n  \"a\": é,\n}"), 0o600)
	if l, c := ingest.LineCol(path, 11); l != 2 || c != 9 { // the comma after é: é is one column
		t.Errorf("LineCol = %d:%d, want 2:9", l, c)
	}
}

func FuzzSniff(f *testing.F) {
	for _, s := range []string{`{"a":[{"b":1}]}`, `[{"Target":"x"}]`, `<a xmlns="u"><b/></a>`, "apiVersion: v1\n", "{\"a\":1}\n{\"b\":2}"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		// Detection sees every input first: it must not panic, and what it
		// reports must be consistent.
		s := ingest.SniffBytes(data)
		if s.Kind < ingest.SniffText || s.Kind > ingest.SniffYAML {
			t.Fatalf("kind %d", s.Kind)
		}
		if len(s.Paths) > 0 && s.Kind != ingest.SniffJSONObject && s.Kind != ingest.SniffJSONArray {
			t.Fatalf("JSON paths for a %v input", s.Kind)
		}
	})
}
