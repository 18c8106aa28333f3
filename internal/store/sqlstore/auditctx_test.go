package sqlstore_test

import (
	"context"
	"testing"
	"time"

	"github.com/ctem-dev/ctem/internal/ingest"
	"github.com/ctem-dev/ctem/internal/ingest/ingesttest"
	"github.com/ctem-dev/ctem/internal/ingest/trivy"
	"github.com/ctem-dev/ctem/internal/model"
	"github.com/ctem-dev/ctem/internal/store"
	"github.com/ctem-dev/ctem/internal/store/sqlstore"
	"github.com/ctem-dev/ctem/internal/synth"
)

func auditActions(t *testing.T, st *sqlstore.DB) []string {
	t.Helper()
	var out []string
	for e, err := range st.AuditLog(context.Background(), 0, 0) {
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, e.Action+" "+e.Target+" "+e.Detail)
	}
	if _, _, err := store.VerifyAudit(st.AuditLog(context.Background(), 0, 0)); err != nil {
		t.Errorf("VerifyAudit() = %v", err)
	}
	return out
}

// TestAuditInTransaction checks that a change made with an audit note
// appends its entry in its own transaction: built from the result, once,
// only for the change of its kind, and not at all when the change fails.
func TestAuditInTransaction(t *testing.T) {
	t.Parallel()
	st := ingesttest.OpenStore(t)
	p := writeTrivy(t, t.TempDir(), "r.json", synth.Trivy{Image: "shop/api:1", Findings: 10, Results: 1})
	if _, err := ingesttest.Ingest(st, trivy.Format, ingest.Options{}, p); err != nil {
		t.Fatal(err)
	}
	x := collect(t, st.Exposures(context.Background(), store.Filter{Limit: 1}))[0]
	note := func(kind string) context.Context {
		return store.WithAudit(context.Background(), kind, func(res any) []store.AuditEntry {
			d := "?"
			if c, ok := res.(store.StatusChange); ok {
				d = string(c.From) + "->" + string(c.To)
			}
			return []store.AuditEntry{{At: time.Now(), Actor: "t", Action: kind, Target: x.ID, Outcome: "ok", Detail: d}}
		})
	}
	// A failing change appends nothing.
	ctx := note(store.AuditTriage)
	bad := store.Decision{ExposureID: "0000000000000000", Status: model.StatusFalsePositive, Reason: "r", By: "alice"}
	if _, err := st.Triage(ctx, bad); err == nil {
		t.Fatal("Triage(unknown exposure) = nil error")
	}
	if got := auditActions(t, st); len(got) != 0 || store.Audited(ctx) {
		t.Errorf("audit after a failed triage = %v (used %v), want none", got, store.Audited(ctx))
	}
	// A note of another kind is not used.
	other := note(store.AuditScope)
	if _, err := st.Triage(other, store.Decision{ExposureID: x.ID, Status: model.StatusFalsePositive, Reason: "r", By: "alice"}); err != nil {
		t.Fatal(err)
	}
	if got := auditActions(t, st); len(got) != 0 {
		t.Errorf("audit after a triage with a scope note = %v, want none", got)
	}
	// The change of its kind appends the entry from its result, once.
	ok := store.Decision{ExposureID: x.ID, Status: model.StatusOpen, Reason: "r", By: "alice"}
	for range 2 {
		if _, err := st.Triage(ctx, ok); err != nil {
			t.Fatal(err)
		}
	}
	want := []string{"triage " + x.ID + " false_positive->open"}
	if got := auditActions(t, st); len(got) != 1 || got[0] != want[0] || !store.Audited(ctx) {
		t.Errorf("audit after two triages with one note = %v, want %v", got, want)
	}
	// Single-statement changes: a token, revoked twice (the no-op second
	// revocation appends nothing).
	tctx := note(store.AuditToken)
	if err := st.CreateToken(tctx, store.Token{ID: "t1", Name: "ci", Role: "uploader", CreatedAt: time.Now()}, "h1"); err != nil {
		t.Fatal(err)
	}
	rctx := note(store.AuditToken)
	for range 2 {
		if _, err := st.RevokeToken(rctx, "t1", time.Now()); err != nil {
			t.Fatal(err)
		}
	}
	if got := auditActions(t, st); len(got) != 3 {
		t.Errorf("audit after a token created and revoked twice = %v, want 3 entries", got)
	}
}
