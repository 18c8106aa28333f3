// Package ingesttest helps test input formats: it parses testdata into a
// recording sink or into a real SQLite store, checks that malformed input
// fails cleanly and changes nothing, and drives fuzz targets.
package ingesttest

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/ctem-dev/ctem/internal/ingest"
	"github.com/ctem-dev/ctem/internal/model"
	"github.com/ctem-dev/ctem/internal/store"
	"github.com/ctem-dev/ctem/internal/store/sqlstore"
	"github.com/ctem-dev/ctem/internal/store/storetest"
)

// TestKey is the secret-hashing key tests use.
var TestKey = []byte("ctem-test-key-0123456789abcdef")

// Recorder is an ingest.Sink that keeps everything it is given, in order.
// Findings are normalized as the store would normalize them.
type Recorder struct {
	Scans     []model.Scan
	Assets    []model.Asset
	Relations []model.Relation
	Findings  []*model.Finding
	Facts     []model.Evidence
}

// BeginScan records a scan.
func (r *Recorder) BeginScan(s model.Scan) error {
	if s.Tool == "" || s.Target == "" {
		return errors.New("scan without tool or target")
	}
	r.Scans = append(r.Scans, s)
	return nil
}

// Asset records an asset.
func (r *Recorder) Asset(a model.Asset) error { r.Assets = append(r.Assets, a); return nil }

// Relation records a relation.
func (r *Recorder) Relation(rel model.Relation) error {
	r.Relations = append(r.Relations, rel)
	return nil
}

// Finding records a finding after normalizing it.
func (r *Recorder) Finding(f *model.Finding) error {
	if len(r.Scans) == 0 {
		return errors.New("finding before any scan")
	}
	if f.Tool == "" {
		f.Tool = r.Scans[len(r.Scans)-1].Tool
	}
	if f.Asset == "" {
		f.Asset = r.Scans[len(r.Scans)-1].Asset
	}
	f.Normalize()
	r.Findings = append(r.Findings, f)
	return nil
}

// Evidence records evidence.
func (r *Recorder) Evidence(e model.Evidence) error { r.Facts = append(r.Facts, e); return nil }

// Distinct returns the findings with distinct ids, in first-seen order:
// what the store keeps.
func (r *Recorder) Distinct() []*model.Finding {
	seen := map[string]bool{}
	var out []*model.Finding
	for _, f := range r.Findings {
		if !seen[f.ID] {
			seen[f.ID] = true
			out = append(out, f)
		}
	}
	return out
}

// Parse parses the file at path with format into a new Recorder. It fails
// the test on error.
func Parse(t testing.TB, f ingest.Format, path string, opts ingest.Options) *Recorder {
	t.Helper()
	r, err := TryParse(f, path, opts)
	if err != nil {
		t.Fatalf("parse %s: %v", path, err)
	}
	return r
}

// TryParse parses the file at path with format into a new Recorder and
// returns the parser's error.
func TryParse(f ingest.Format, path string, opts ingest.Options) (*Recorder, error) {
	if opts.SecretKey == nil {
		opts.SecretKey = TestKey
	}
	src, err := ingest.Open(path, nil)
	if err != nil {
		return nil, err
	}
	defer src.Close()
	r := &Recorder{}
	err = f.Parse(context.Background(), &ingest.Input{Name: path, R: src.Reader(), Options: opts}, r)
	return r, err
}

// ParseBytes parses data with format into a new Recorder.
func ParseBytes(f ingest.Format, name string, data []byte, opts ingest.Options) (*Recorder, error) {
	if opts.SecretKey == nil {
		opts.SecretKey = TestKey
	}
	src, err := ingest.NewSourceLimits(name, bytes.NewReader(data), opts.Limits)
	if err != nil {
		return nil, err
	}
	r := &Recorder{}
	err = f.Parse(context.Background(), &ingest.Input{Name: name, R: src.Reader(), Options: opts}, r)
	return r, err
}

// ParseBytesOrFail is ParseBytes that fails the test on error.
func ParseBytesOrFail(t testing.TB, f ingest.Format, name string, data []byte, opts ingest.Options) *Recorder {
	t.Helper()
	r, err := ParseBytes(f, name, data, opts)
	if err != nil {
		t.Fatalf("parse %s: %v", name, err)
	}
	return r
}

// OpenStore opens a fresh store on the backend under test (see
// storetest: a SQLite file in a temporary directory, or a new
// PostgreSQL database when CTEM_TEST_POSTGRES is set).
func OpenStore(t testing.TB) *sqlstore.DB {
	t.Helper()
	return storetest.Open(t)
}

// Ingest parses the files with format into st in one transaction, as
// `ctem ingest` does, and returns the scans recorded. On error nothing is
// committed.
func Ingest(st store.Store, f ingest.Format, opts ingest.Options, paths ...string) ([]model.Scan, error) {
	ctx := context.Background()
	key, err := st.SecretKey(ctx)
	if err != nil {
		return nil, err
	}
	opts.SecretKey = key
	tx, err := st.Begin(ctx)
	if err != nil {
		return nil, err
	}
	defer tx.Rollback()
	var scans []model.Scan
	for _, p := range paths {
		src, err := ingest.Open(p, nil)
		if err != nil {
			return nil, err
		}
		err = f.Parse(ctx, &ingest.Input{Name: p, R: src.Reader(), Options: opts}, tx)
		if err != nil {
			src.Close()
			return nil, err
		}
		s, err := tx.EndInput(ctx, p, src.Digest())
		src.Close()
		if err != nil {
			return nil, err
		}
		scans = append(scans, s...)
	}
	return scans, tx.Commit()
}

// Count returns the number of findings in st.
func Count(t testing.TB, st store.Store) store.Counts {
	t.Helper()
	c, err := st.Counts(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// CheckMalformed truncates the file at path at several points and checks
// that each truncated copy fails with an *ingest.InputError naming the
// file, and that an ingest of it into a store changes nothing.
func CheckMalformed(t *testing.T, f ingest.Format, path string) {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	st := OpenStore(t)
	if _, err := Ingest(st, f, ingest.Options{Target: "test"}, path); err != nil {
		t.Fatalf("ingest %s: %v", path, err)
	}
	before := Count(t, st)
	dir := t.TempDir()
	for _, frac := range []float64{0.3, 0.6, 0.95} {
		cut := int(float64(len(data)) * frac)
		bad := filepath.Join(dir, "truncated.input")
		if err := os.WriteFile(bad, data[:cut], 0o600); err != nil {
			t.Fatal(err)
		}
		_, err := Ingest(st, f, ingest.Options{Target: "test"}, bad)
		if err == nil {
			t.Errorf("%s cut at %d of %d bytes: ingest succeeded, want an input error", path, cut, len(data))
			continue
		}
		ie, ok := errors.AsType[*ingest.InputError](err)
		if !ok {
			t.Errorf("%s cut at %d: error %v (%T) is no *ingest.InputError", path, cut, err, err)
			continue
		}
		if ie.File != bad {
			t.Errorf("%s cut at %d: error names %q, want %q", path, cut, ie.File, bad)
		}
		if after := Count(t, st); after != before {
			t.Errorf("%s cut at %d: counts changed from %+v to %+v", path, cut, before, after)
		}
	}
}

// Fuzz runs the format's parser on arbitrary input: it must not panic,
// an error must be the documented *ingest.InputError naming the input
// (Format.Parse's contract), and every finding must have an id and an
// asset. seeds are files to start from.
func Fuzz(f *testing.F, format ingest.Format, seeds ...string) {
	for _, s := range seeds {
		data, err := os.ReadFile(s)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	// Inputs every parser meets sooner or later, checked on every run.
	for _, s := range []string{"", " ", "null", "{}", "[]", "[{}]", `{"a":`, "<a/>", "<?xml version=\"1.0\"?>", "\x1f\x8b", "---\n"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		r, err := ParseBytes(format, "fuzz.input", data, ingest.Options{Target: "fuzz"})
		if err != nil {
			CheckInputError(t, err, "fuzz.input")
			return
		}
		for _, fd := range r.Findings {
			if fd.ID == "" || fd.Asset == "" {
				t.Fatalf("finding without id or asset: %+v", fd)
			}
		}
	})
}

// CheckInputError fails the test unless err is, or wraps, an
// *ingest.InputError naming the input name.
func CheckInputError(t testing.TB, err error, name string) {
	t.Helper()
	ie, ok := errors.AsType[*ingest.InputError](err)
	if !ok {
		t.Fatalf("parse error %q (%T) is no *ingest.InputError", err, err)
	}
	if ie.File != name {
		t.Fatalf("parse error %q names %q, want %q", err, ie.File, name)
	}
}
