package sqlstore_test

import (
	"context"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/ctem-dev/ctem/internal/ingest/ingesttest"
	"github.com/ctem-dev/ctem/internal/store"
)

func TestNotifications(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	st := ingesttest.OpenStore(t)
	ns, ok := any(st).(store.Notifications)
	if !ok {
		t.Fatal("the SQLite store does not keep notifications")
	}
	at := time.Date(2026, 12, 3, 9, 0, 0, 0, time.UTC)
	if err := ns.MarkNotified(ctx, []store.Notice{{Channel: "slack", Key: "path:a", Kind: "path", At: at}, {Channel: "slack", Key: "sla:b", Kind: "sla-breach", At: at}}); err != nil {
		t.Fatal(err)
	}
	// Recording again keeps the first record and is no error.
	if err := ns.MarkNotified(ctx, []store.Notice{{Channel: "slack", Key: "path:a", Kind: "path", At: at.Add(time.Hour)}}); err != nil {
		t.Fatal(err)
	}
	keys := []string{"path:a", "sla:b", "path:c"}
	for i := range 600 {
		keys = append(keys, "many:"+string(rune('a'+i%26))+time.Duration(i).String())
	}
	got, err := ns.Notified(ctx, "slack", keys)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(got, map[string]bool{"path:a": true, "sla:b": true}); diff != "" {
		t.Errorf("Notified(slack, 603 keys) (-got +want):\n%s", diff)
	}
	got, err = ns.Notified(ctx, "teams", keys[:3])
	if err != nil || len(got) != 0 {
		t.Errorf("Notified(teams) = %v, %v; want nothing: channels are apart", got, err)
	}
}

func TestAcceptanceRulePath(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	st := ingesttest.OpenStore(t)
	m := any(st).(store.Mobilisation)
	at := time.Date(2026, 12, 3, 9, 0, 0, 0, time.UTC)
	want := store.AcceptanceRule{ID: "r1", PathID: "0123456789abcdef", Reason: "segmented", By: "alice", Approver: "ciso", Expires: at.Add(72 * time.Hour), At: at}
	if err := m.AddAcceptanceRule(ctx, want); err != nil {
		t.Fatal(err)
	}
	var got []store.AcceptanceRule
	for r, err := range m.AcceptanceRules(ctx) {
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, r)
	}
	if diff := cmp.Diff(got, []store.AcceptanceRule{want}); diff != "" {
		t.Errorf("AcceptanceRules() (-got +want):\n%s", diff)
	}
}
