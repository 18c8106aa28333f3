package export_test

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/ctem-dev/ctem/internal/export"
	"github.com/ctem-dev/ctem/internal/store/sqlite"
)

func TestSafeCell(t *testing.T) {
	t.Parallel()
	tests := []struct{ in, want string }{
		{`=HYPERLINK("http://evil","x")`, `'=HYPERLINK("http://evil","x")`},
		{"+1+cmd|' /C calc'!A0", "'+1+cmd|' /C calc'!A0"},
		{"-2+3", "'-2+3"},
		{"@SUM(A1:A2)", "'@SUM(A1:A2)"},
		{"\t=1", "'\t=1"},
		{"\r=1", "'\r=1"},
		{"  =1+1", "'  =1+1"},
		{"CVE-2021-44228", "CVE-2021-44228"},
		{"a=b", "a=b"},
		{"", ""},
		{"x\x1b[31my", "x[31my"},
		{"\x00=1", "'=1"},
	}
	for _, tt := range tests {
		if got := export.SafeCell(tt.in); got != tt.want {
			t.Errorf("SafeCell(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

// hostile is the title of the finding the CSV test plants.
const hostile = `=HYPERLINK("http://evil","x")`

// TestCSVFormulaInjection ingests a real SARIF report whose rules and
// messages have been given a formula as their text, exports the database
// as CSV, and checks that the cell opens as text and that no cell of the
// export starts a formula.
func TestCSVFormulaInjection(t *testing.T) {
	t.Parallel()
	data, err := os.ReadFile("testdata/reports/suppression_test.sarif")
	if err != nil {
		t.Fatal(err)
	}
	var log map[string]any
	if err := json.Unmarshal(data, &log); err != nil {
		t.Fatal(err)
	}
	run := log["runs"].([]any)[0].(map[string]any)
	for _, r := range run["tool"].(map[string]any)["driver"].(map[string]any)["rules"].([]any) {
		r.(map[string]any)["shortDescription"] = map[string]any{"text": hostile}
	}
	for _, r := range run["results"].([]any) {
		r.(map[string]any)["message"] = map[string]any{"text": "@" + hostile}
	}
	planted, err := json.Marshal(log)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	input := filepath.Join(dir, "hostile.sarif")
	if err := os.WriteFile(input, planted, 0o600); err != nil {
		t.Fatal(err)
	}
	st, err := sqlite.Open(t.Context(), filepath.Join(dir, "ctem.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if err := ingestPath(st, input, "https://github.com/example/hostile"); err != nil {
		t.Fatal(err)
	}
	xs, err := readExposures(st)
	if err != nil {
		t.Fatal(err)
	}
	out := write(t, "csv", xs, nil)
	rows, err := csv.NewReader(bytes.NewReader(out)).ReadAll()
	if err != nil {
		t.Fatalf("CSV export does not parse: %v", err)
	}
	if len(rows) != len(xs)+1 || len(xs) == 0 {
		t.Fatalf("CSV export has %d rows, want a header and %d exposures", len(rows), len(xs))
	}
	col := slices.Index(rows[0], "title")
	for i, row := range rows[1:] {
		if got := row[col]; got != "'"+hostile {
			t.Errorf("row %d title = %q, want %q", i+1, got, "'"+hostile)
		}
		for j, cell := range row {
			if c := strings.TrimLeft(cell, " "); c != "" && strings.ContainsRune("=+-@\t\r", rune(c[0])) {
				t.Errorf("row %d column %s = %q starts a formula", i+1, rows[0][j], cell)
			}
		}
	}
}
