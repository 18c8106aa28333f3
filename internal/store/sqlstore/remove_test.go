package sqlstore_test

import (
	"context"
	"errors"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/ctem-dev/ctem/internal/ingest"
	"github.com/ctem-dev/ctem/internal/ingest/ingesttest"
	"github.com/ctem-dev/ctem/internal/ingest/trivy"
	"github.com/ctem-dev/ctem/internal/model"
	"github.com/ctem-dev/ctem/internal/store"
	"github.com/ctem-dev/ctem/internal/synth"
)

// TestRemoveScan checks that removing the latest scan of a target puts
// its findings and exposures back as they were before it, that an
// earlier scan cannot be removed while a newer one exists, and that
// removing the only scan leaves nothing of it but the record.
func TestRemoveScan(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	st := ingesttest.OpenStore(t)
	dir := t.TempDir()
	full := writeTrivy(t, dir, "full.json", synth.Trivy{Image: "shop/api:1", Findings: 200, Results: 4})
	later := writeTrivy(t, dir, "later.json", synth.Trivy{Image: "shop/api:1", Findings: 200, Results: 4, Drop: 5})
	scan := func(p string) model.Scan {
		t.Helper()
		s, err := ingesttest.Ingest(st, trivy.Format, ingest.Options{}, p)
		if err != nil {
			t.Fatal(err)
		}
		return s[0]
	}
	state := func() map[string]model.Status {
		m := map[string]model.Status{}
		for _, f := range collect(t, st.Findings(ctx, store.Filter{})) {
			m["f"+f.ID] = f.Status
		}
		for _, x := range collect(t, st.Exposures(ctx, store.Filter{})) {
			m["x"+x.ID] = x.Status
		}
		return m
	}
	first := scan(full)
	before := state()
	seqBefore, err := st.IngestSeq(ctx)
	if err != nil {
		t.Fatal(err)
	}
	second := scan(later)
	if second.Fixed != 40 {
		t.Fatalf("later scan fixed %d, want 40", second.Fixed)
	}

	if _, err := st.RemoveScan(ctx, store.ScanRemoval{ScanID: first.ID}); !errors.Is(err, store.ErrInvalid) {
		t.Errorf("RemoveScan(%s, not the latest) = %v, want ErrInvalid", first.ID, err)
	}
	if _, err := st.RemoveScan(ctx, store.ScanRemoval{ScanID: "nosuchscan"}); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("RemoveScan(nosuchscan) = %v, want ErrNotFound", err)
	}

	rm, err := st.RemoveScan(ctx, store.ScanRemoval{ScanID: second.ID, Actor: "alice", Reason: "wrong"})
	if err != nil {
		t.Fatalf("RemoveScan(%s) = %v", second.ID, err)
	}
	// Restored counts the 40 findings it fixed and every row it wrote
	// of those it saw again.
	if rm.FindingsRemoved != 0 || rm.FindingsRestored < 40 || rm.ExposuresRemoved != 0 {
		t.Errorf("RemoveScan(%s) = %d removed, %d restored, %d exposures removed; want 0, at least 40, 0", second.ID, rm.FindingsRemoved, rm.FindingsRestored, rm.ExposuresRemoved)
	}
	if diff := cmp.Diff(state(), before); diff != "" {
		t.Errorf("state after removing the later scan (-got +want):\n%s", diff)
	}
	if seq, _ := st.IngestSeq(ctx); seq <= seqBefore+1 || seq != rm.Seq {
		t.Errorf("IngestSeq after the removal = %d, want the removal's %d, above %d", seq, rm.Seq, seqBefore+1)
	}
	if got := collect(t, st.Scans(ctx, store.Filter{})); len(got) != 1 || got[0].ID != first.ID {
		t.Errorf("Scans after the removal = %d scans, want only %s", len(got), first.ID)
	}

	rm, err = st.RemoveScan(ctx, store.ScanRemoval{ScanID: first.ID})
	if err != nil {
		t.Fatalf("RemoveScan(%s) = %v", first.ID, err)
	}
	if rm.FindingsRemoved != 200 || len(state()) != 0 {
		t.Errorf("RemoveScan(only scan) removed %d findings, left %d records; want 200, 0", rm.FindingsRemoved, len(state()))
	}
	if got := collect(t, st.ScanRemovals(ctx)); len(got) != 2 || got[1].Actor != "alice" || got[1].Reason != "wrong" {
		t.Errorf("ScanRemovals() = %+v, want 2, the older by alice", got)
	}
}
