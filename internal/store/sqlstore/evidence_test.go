package sqlstore_test

import (
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/ctem-dev/ctem/internal/model"
	"github.com/ctem-dev/ctem/internal/store/sqlite"
)

// TestReplaceEvidence: a source's facts about the given findings are
// replaced, its facts older than the expiry go, and other sources' facts
// stay.
func TestReplaceEvidence(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "ctem.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	day := func(d int) time.Time { return time.Date(2026, 2, d, 0, 0, 0, 0, time.UTC) }
	first := []model.Evidence{
		{Kind: model.EvidenceProbeConfirmed, FindingID: "f1", At: day(1)},
		{Kind: model.EvidenceProbeConfirmed, FindingID: "f2", At: day(1)},
		{Kind: model.EvidenceProbeConfirmed, FindingID: "f3", At: day(5)},
	}
	if n, err := st.ReplaceEvidence(ctx, "probe", nil, first, time.Time{}); err != nil || n != 0 {
		t.Fatalf("ReplaceEvidence(first) = %d, %v; want 0, nil", n, err)
	}
	if n, err := st.ReplaceEvidence(ctx, "other", nil, []model.Evidence{{Kind: model.EvidenceKEV, FindingID: "f1", At: day(1)}}, time.Time{}); err != nil || n != 0 {
		t.Fatalf("ReplaceEvidence(other) = %d, %v; want 0, nil", n, err)
	}
	// f1 is refuted now; f2's fact (day 1) expires before day 3; f3 stays.
	n, err := st.ReplaceEvidence(ctx, "probe", []string{"f1"}, []model.Evidence{{Kind: model.EvidenceProbeRefuted, FindingID: "f1", At: day(6)}}, day(3))
	if err != nil || n != 2 {
		t.Fatalf("ReplaceEvidence(second) = %d, %v; want 2 removed", n, err)
	}
	var got []string
	for e, err := range st.AllEvidence(ctx) {
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, e.Source+" "+string(e.Kind)+" "+e.FindingID)
	}
	slices.Sort(got)
	want := []string{"other kev f1", "probe probe-confirmed f3", "probe probe-refuted f1"}
	if !slices.Equal(got, want) {
		t.Errorf("AllEvidence() = %q, want %q", got, want)
	}
}
