package epss

import (
	"bytes"
	_ "embed"
	"flag"
	"os"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// snapshotGz is the published file the embedded table is made from.
//
//go:embed snapshot/epss_scores-2026-01-30.csv.gz
var snapshotGz []byte

var update = flag.Bool("update", false, "rewrite the embedded score table from the CSV snapshot")

// TestSnapshotTable checks that the embedded table holds exactly the
// scores of the published CSV snapshot; -update rewrites it.
func TestSnapshotTable(t *testing.T) {
	t.Parallel()
	want, err := Load(bytes.NewReader(snapshotGz))
	if err != nil {
		t.Fatal(err)
	}
	if *update {
		if err := os.WriteFile("snapshot/epss_scores-2026-01-30.table", encodeTable(want), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	got, err := decodeTable(snapshotTable)
	if err != nil {
		t.Fatalf("decodeTable(embedded) = %v, want the table of the CSV (go test -update)", err)
	}
	if got.ModelVersion != want.ModelVersion || !got.Date.Equal(want.Date) || len(got.rows) != len(want.rows) {
		t.Fatalf("decodeTable(embedded) = %s %v %d rows, want %s %v %d rows", got.ModelVersion, got.Date, len(got.rows), want.ModelVersion, want.Date, len(want.rows))
	}
	if diff := cmp.Diff(got.rows, want.rows, cmp.AllowUnexported(row{})); diff != "" {
		t.Errorf("embedded table rows differ from the CSV (-got +want):\n%s", diff)
	}
}

// TestDecodeTableRejects checks that a damaged table is an error, not
// wrong scores.
func TestDecodeTableRejects(t *testing.T) {
	t.Parallel()
	good, err := Load(bytes.NewReader(snapshotGz))
	if err != nil {
		t.Fatal(err)
	}
	b := encodeTable(good)
	swapped := bytes.Clone(b)
	last := len(swapped) - tableRow
	copy(swapped[last:], b[last-tableRow:last]) // a duplicate last row
	for name, in := range map[string][]byte{
		"empty":     nil,
		"magic":     append([]byte("x"), b[1:]...),
		"truncated": b[:len(b)-1],
		"longer":    append(bytes.Clone(b), 0),
		"unsorted":  swapped,
	} {
		if _, err := decodeTable(in); err == nil {
			t.Errorf("decodeTable(%s) = nil error, want one", name)
		}
	}
	if _, err := decodeTable(b); err != nil {
		t.Errorf("decodeTable(encodeTable(snapshot)) = %v, want nil", err)
	}
}

// BenchmarkDecodeTable measures loading the embedded snapshot as every
// process does (compare BenchmarkLoadSnapshot, the CSV).
func BenchmarkDecodeTable(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		if _, err := decodeTable(snapshotTable); err != nil {
			b.Fatal(err)
		}
	}
}
