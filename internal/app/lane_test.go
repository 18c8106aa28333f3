package app_test

import (
	"bytes"
	"context"
	"testing"

	"github.com/ctem-dev/ctem/examples"
	"github.com/ctem-dev/ctem/internal/app"
	"github.com/ctem-dev/ctem/internal/ingest"
	"github.com/ctem-dev/ctem/internal/ingest/ingesttest"
	"github.com/ctem-dev/ctem/internal/inputs"
	"github.com/ctem-dev/ctem/internal/store"
)

// TestFirstScanKey reads each of the demo's file inputs ahead and checks
// that the key it finds is that of the first scan a whole parse begins.
func TestFirstScanKey(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	formats := inputs.All()
	n := 0
	for _, name := range examples.Inputs {
		data, err := examples.Files.ReadFile(name)
		if err != nil {
			continue // a folder (Terraform): not an upload
		}
		open := func() (*ingest.Source, ingest.Format) {
			t.Helper()
			src, err := ingest.NewSource(name, bytes.NewReader(data))
			if err != nil {
				t.Fatal(err)
			}
			f, err := formats.Detect(src.Sniff())
			if err != nil {
				t.Fatalf("Detect(%s) = %v", name, err)
			}
			return src, f
		}
		opts := ingest.Options{Target: "prod", SecretKey: []byte("k")}
		src, f := open()
		got := app.FirstScanKey(ctx, f, name, src.Reader(), opts)
		src.Close()
		src, f = open()
		var rec ingesttest.Recorder
		if err := f.Parse(ctx, &ingest.Input{Name: name, R: src.Reader(), Options: opts}, &rec); err != nil {
			t.Fatalf("Parse(%s) = %v", name, err)
		}
		src.Close()
		if len(rec.Scans) == 0 {
			t.Fatalf("Parse(%s) began no scan", name)
		}
		want := store.ScanKey{Tool: rec.Scans[0].Tool, Target: rec.Scans[0].Target}
		if got != want {
			t.Errorf("FirstScanKey(%s) = %+v, want %+v", name, got, want)
		}
		n++
	}
	if n == 0 {
		t.Fatal("no demo input read")
	}
}
