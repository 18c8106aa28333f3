package postgres_test

import (
	"context"
	"database/sql"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/ctem-dev/ctem/internal/store/postgres"
	"github.com/ctem-dev/ctem/internal/store/sqlite"
	"github.com/ctem-dev/ctem/internal/store/storetest"
)

// needPostgres returns the test server's URL; these tests are about
// PostgreSQL itself, so without one they say which variable to set.
func needPostgres(t *testing.T) {
	t.Helper()
	if os.Getenv(storetest.EnvPostgres) == "" {
		t.Skipf("set %s to a PostgreSQL server's URL (scripts/test.sh does)", storetest.EnvPostgres)
	}
}

// TestSchemaMatchesSQLite checks that the PostgreSQL migrations port the
// SQLite ones faithfully: the same tables, each with the same columns in
// the same order, and the same indexes on the same columns (primary keys
// and UNIQUE constraints, which SQLite indexes without a definition, are
// compared as columns' constraints by the store tests instead), but for
// findings_exposure, which only PostgreSQL's planner needs.
func TestSchemaMatchesSQLite(t *testing.T) {
	t.Parallel()
	needPostgres(t)
	ctx := context.Background()
	lite, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "ctem.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer lite.Close()
	pg := storetest.Open(t)
	got := map[string][]string{}
	for _, table := range storetest.Tables(t, pg.SQL(), "postgres") {
		got[table] = append(columns(t, pg.SQL(), table), indexes(t, pg.SQL(), `SELECT indexname, indexdef FROM pg_indexes WHERE schemaname = current_schema() AND tablename = $1 AND indexname NOT IN (SELECT conname FROM pg_constraint WHERE contype IN ('p', 'u'))`, table)...)
	}
	want := map[string][]string{}
	for _, table := range storetest.Tables(t, lite.SQL(), "sqlite") {
		if strings.HasPrefix(table, "sqlite_") {
			continue // SQLite's own
		}
		want[table] = append(columns(t, lite.SQL(), table), indexes(t, lite.SQL(), `SELECT name, sql FROM sqlite_master WHERE type = 'index' AND tbl_name = ? AND sql IS NOT NULL`, table)...)
	}
	// The one deliberate difference (migration 00003).
	want["findings"] = append(want["findings"], "index findings_exposure: exposure_id")
	sort.Strings(want["findings"][len(columns(t, lite.SQL(), "findings")):])
	if diff := cmp.Diff(got, want); diff != "" {
		t.Errorf("PostgreSQL's schema differs from SQLite's (-postgres +sqlite):\n%s", diff)
	}
}

func columns(t *testing.T, db *sql.DB, table string) []string {
	t.Helper()
	rows, err := db.Query(`SELECT * FROM ` + table + ` LIMIT 0`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	cols, err := rows.Columns()
	if err != nil {
		t.Fatal(err)
	}
	return cols
}

// indexes returns "index name: columns" for each index of a table, the
// columns as the definition lists them.
func indexes(t *testing.T, db *sql.DB, q, table string) []string {
	t.Helper()
	rows, err := db.Query(q, table)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var name, def string
		if err := rows.Scan(&name, &def); err != nil {
			t.Fatal(err)
		}
		// A partial index's WHERE clause is compared apart from its
		// columns: the two databases spell the predicate differently.
		if i := strings.Index(strings.ToUpper(def), " WHERE "); i >= 0 {
			def = def[:i]
		}
		cols := def[strings.LastIndexByte(def, '(')+1 : strings.LastIndexByte(def, ')')]
		out = append(out, "index "+name+": "+strings.Join(strings.Fields(cols), " "))
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	sort.Strings(out)
	return out
}

// TestMigrateDownAndUp takes a new database down through every
// migration and up again: each Down of the port runs on PostgreSQL.
func TestMigrateDownAndUp(t *testing.T) {
	t.Parallel()
	needPostgres(t)
	ctx := context.Background()
	st := storetest.Open(t)
	if err := postgres.MigrateDownTo(ctx, st.SQL(), 0); err != nil {
		t.Fatalf("down to 0: %v", err)
	}
	if n := len(storetest.Tables(t, st.SQL(), "postgres")); n != 1 {
		t.Errorf("after every Down, %d tables are left, want goose's own", n)
	}
	if err := postgres.MigrateUp(ctx, st.SQL()); err != nil {
		t.Fatalf("up again: %v", err)
	}
}
