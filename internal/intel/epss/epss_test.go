package epss

import (
	"bytes"
	"compress/gzip"
	"errors"
	"os"
	"strings"
	"testing"
	"time"
	"unsafe"

	"github.com/google/go-cmp/cmp"
)

func readFile(tb testing.TB, name string) []byte {
	tb.Helper()
	b, err := os.ReadFile(name)
	if err != nil {
		tb.Fatal(err)
	}
	return b
}

var scoreDate = time.Date(2026, 1, 30, 12, 55, 0, 0, time.UTC)

func TestLoadSubset(t *testing.T) {
	t.Parallel()
	for _, name := range []string{"testdata/epss-subset.csv", "testdata/epss-subset.csv.gz"} {
		s, err := Load(bytes.NewReader(readFile(t, name)))
		if err != nil {
			t.Fatalf("Load(%s) error %v", name, err)
		}
		if s.Len() != 6 || s.ModelVersion != "v2025.03.14" || !s.Date.Equal(scoreDate) {
			t.Errorf("Load(%s) = %d rows, model %q, date %v, want 6, v2025.03.14, %v", name, s.Len(), s.ModelVersion, s.Date, scoreDate)
		}
		got, ok := s.Lookup("cve-2021-44228")
		want := Score{CVE: "CVE-2021-44228", EPSS: 0.94358, Percentile: 0.99959, ModelVersion: "v2025.03.14", Date: scoreDate}
		if diff := cmp.Diff(got, want); !ok || diff != "" {
			t.Errorf("Load(%s).Lookup(cve-2021-44228) = %v (-got +want):\n%s", name, ok, diff)
		}
	}
}

func TestSnapshot(t *testing.T) {
	t.Parallel()
	s, err := Snapshot()
	if err != nil {
		t.Fatalf("Snapshot() error %v", err)
	}
	if s.Len() != 313089 || s.ModelVersion != "v2025.03.14" || !s.Date.Equal(scoreDate) {
		t.Errorf("Snapshot() = %d rows, model %q, date %v, want 313089, v2025.03.14, %v", s.Len(), s.ModelVersion, s.Date, scoreDate)
	}
	// Rows as the file gives them (testdata/epss-subset.csv).
	tests := []struct {
		cve       string
		epss, pct float64
	}{
		{"CVE-1999-0001", 0.01151, 0.78086},
		{"CVE-2002-1999", 0.00457, 0.63423},
		{"CVE-2002-2000", 0.00147, 0.35327},
		{"CVE-2014-0160", 0.94464, 0.99994},
		{"CVE-2021-44228", 0.94358, 0.99959},
		{" CVE-2026-25211", 4e-05, 0.00142},
	}
	for _, tt := range tests {
		got, ok := s.Lookup(tt.cve)
		if !ok || got.EPSS != tt.epss || got.Percentile != tt.pct {
			t.Errorf("Lookup(%q) = %+v, %v, want epss %v percentile %v", tt.cve, got, ok, tt.epss, tt.pct)
		}
	}
	for _, cve := range []string{"CVE-2026-99999999", "CVE-1998-0001", "GHSA-xxxx", "", "CVE-2021-9999999"} {
		if got, ok := s.Lookup(cve); ok {
			t.Errorf("Lookup(%q) = %+v, want not found", cve, got)
		}
	}
}

func gz(tb testing.TB, b []byte) []byte {
	tb.Helper()
	var buf bytes.Buffer
	w := gzip.NewWriter(&buf)
	w.Write(b)
	if err := w.Close(); err != nil {
		tb.Fatal(err)
	}
	return buf.Bytes()
}

func TestLoadUnsortedAndOldFormats(t *testing.T) {
	t.Parallel()
	in := "#model_version:v2022.01.01,score_date:2022-02-04T00:00:00+0000\r\ncve,epss,percentile\r\nCVE-2021-10000,0.5,0.9\r\nCVE-2021-2000,0.1,0.2\r\nCVE-2020-0001,1,1\r\n"
	s, err := Load(strings.NewReader(in))
	if err != nil {
		t.Fatalf("Load(unsorted) error %v", err)
	}
	if want := time.Date(2022, 2, 4, 0, 0, 0, 0, time.UTC); !s.Date.Equal(want) {
		t.Errorf("Load(unsorted).Date = %v, want %v", s.Date, want)
	}
	for cve, want := range map[string]float64{"CVE-2021-10000": 0.5, "CVE-2021-2000": 0.1} {
		if got, ok := s.Lookup(cve); !ok || got.EPSS != want {
			t.Errorf("Lookup(%q) = %+v, %v, want epss %v", cve, got, ok, want)
		}
	}
	// Without the comment line there is no model version or date.
	s, err = Load(strings.NewReader("cve,epss,percentile\nCVE-2021-0001,0.5,0.5\n"))
	if err != nil || s.ModelVersion != "" || !s.Date.IsZero() {
		t.Errorf("Load(no comment) = %+v, %v, want no model version or date", s, err)
	}
}

func TestLoadInvalid(t *testing.T) {
	t.Parallel()
	good := readFile(t, "testdata/epss-subset.csv")
	goodGz := readFile(t, "testdata/epss-subset.csv.gz")
	mut := func(old, new string) []byte { return []byte(strings.Replace(string(good), old, new, 1)) }
	tests := []struct {
		name string
		in   []byte
		want string
	}{
		{"empty", nil, "no header"},
		{"comment only", []byte("#model_version:v1\n"), "no header"},
		{"header only", []byte("cve,epss,percentile\n"), "no scores"},
		{"missing header", mut("cve,epss,percentile\n", ""), `line 2: want the header`},
		{"bad header", mut("cve,epss,percentile", "cve,score,percentile"), `line 2: want the header`},
		{"bad score", mut("0.01151", "0.0x151"), "line 3: epss of CVE-1999-0001"},
		{"score above one", mut("0.94464", "1.5"), "line 6: epss of CVE-2014-0160"},
		{"negative percentile", mut("0.99959", "-0.1"), "line 7: percentile of CVE-2021-44228"},
		{"NaN", mut("0.99959", "NaN"), "line 7: percentile"},
		{"bad cve", mut("CVE-2014-0160", "CVE-14-0160"), "line 6: \"CVE-14-0160\" is not a CVE id"},
		{"four columns", mut("0.78086", "0.78086,1"), "line 3: want 3 columns"},
		{"two columns", mut(",0.78086", ""), "line 3: want 3 columns"},
		{"duplicate", mut("CVE-2002-2000", "CVE-2002-1999"), "CVE-2002-1999 is listed twice"},
		{"bad date", mut("2026-01-30T12:55:00Z", "friday"), "line 1: score_date"},
		{"truncated text", good[:len(good)-5], "line 8: no newline"},
		{"truncated gzip", goodGz[:len(goodGz)-10], "unexpected EOF"},
		{"corrupt gzip", append(append([]byte{}, goodGz[:len(goodGz)-8]...), 0, 0, 0, 0, 0, 0, 0, 0), "checksum"},
		{"bad gzip header", []byte{0x1f, 0x8b, 0}, "gzip"},
		{"long line", append(mut("0.78086", strings.Repeat("7", 70000)), '\n'), "line 3: line too long"},
		{"gzip of garbage", gz(t, []byte("<html>not found</html>\n")), "line 1: want the header"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s, err := Load(bytes.NewReader(tt.in))
			if !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Load(%s) = %v, %v, want an ErrInvalid error containing %q", tt.name, s, err, tt.want)
			}
		})
	}
}

// BenchmarkLoadSnapshot measures decompressing, parsing, validating and
// sorting the embedded 313k-row file. It reports the size of the loaded
// table as table-bytes.
func BenchmarkLoadSnapshot(b *testing.B) {
	b.ReportAllocs()
	var s *Scores
	for b.Loop() {
		var err error
		s, err = Load(bytes.NewReader(snapshotGz))
		if err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(cap(s.rows))*float64(unsafe.Sizeof(row{})), "table-bytes")
}

func BenchmarkLookup(b *testing.B) {
	s, err := Snapshot()
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, ok := s.Lookup("CVE-2021-44228"); !ok {
			b.Fatal("not found")
		}
	}
}

func FuzzLoad(f *testing.F) {
	f.Add(readFile(f, "testdata/epss-subset.csv"))
	f.Add(readFile(f, "testdata/epss-subset.csv.gz"))
	f.Add([]byte("cve,epss,percentile\nCVE-2021-0001,0.5,0.5\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		s, err := Load(bytes.NewReader(b))
		if err != nil {
			if !errors.Is(err, ErrInvalid) {
				t.Fatalf("Load() error %v does not match ErrInvalid", err)
			}
			return
		}
		for _, r := range s.rows {
			if !(r.epss >= 0 && r.epss <= 1 && r.pct >= 0 && r.pct <= 1) {
				t.Fatalf("Load() kept row %+v out of range", r)
			}
		}
	})
}
