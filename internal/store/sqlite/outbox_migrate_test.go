package sqlite_test

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/ctem-dev/ctem/internal/store/sqlite"
)

// TestMigrateOutboxStartsAfterHistory: migration 00020 starts the
// webhook outbox after the analyses a database already holds, so an
// upgrade sends no event of the past; a fresh database starts at 0.
func TestMigrateOutboxStartsAfterHistory(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "ctem.db")
	st, err := sqlite.Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	if pos, _, _, err := st.OutboxEvents(ctx, "webhooks", 1); err != nil || pos != 0 {
		t.Fatalf("OutboxEvents(fresh database) = %d, %v, want 0", pos, err)
	}
	if err := sqlite.MigrateDownTo(ctx, st.SQL(), 16); err != nil {
		t.Fatal(err)
	}
	for id := 1; id <= 3; id++ {
		if _, err := st.SQL().Exec(`INSERT INTO analyses (id, at, partial, ingest_seq, up_to, scope_source, scope_version, scope_digest, codeowners, feeds, k, max_steps, paths, risk, opened, closed)
VALUES (?, 1, 0, 1, 1, 'default', 0, '', '[]', '[]', 3, 6, 0, 0, 0, 0)`, id); err != nil {
			t.Fatal(err)
		}
	}
	st.Close()
	st, err = sqlite.Open(ctx, path) // migrates up again
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	pos, upTo, events, err := st.OutboxEvents(ctx, "webhooks", 10)
	if err != nil || pos != 3 || upTo != 3 || len(events) != 0 {
		t.Errorf("OutboxEvents(upgraded database with analyses 1 to 3) = %d, %d, %d events, %v, want 3, 3, none", pos, upTo, len(events), err)
	}
}
