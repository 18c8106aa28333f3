package export_test

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"maps"
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

// hostile is the formula the CSV test plants; prefixes are the
// characters OWASP lists as starting a formula, each planted before it.
const hostile = `=HYPERLINK("http://evil","x")`

var prefixes = []string{"", "+", "-", "@", "\t", "\r"}

// TestCSVFormulaInjection ingests a real SARIF report whose rules have
// been given formulas as their titles (one per dangerous first
// character) and a formula as a file path, exports the database as CSV,
// and checks that each such cell opens as text (a leading quote) and
// that no cell of the export starts a formula.
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
	// planted maps each planted title to the title ctem stores: the
	// SARIF reader trims white space, so a title starting with a tab or
	// a carriage return is stored from its formula on (those two are
	// planted after ingestion below).
	planted := map[string]string{}
	for i, r := range run["tool"].(map[string]any)["driver"].(map[string]any)["rules"].([]any) {
		title := prefixes[i%len(prefixes)] + hostile
		planted[title] = strings.TrimSpace(title)
		r.(map[string]any)["shortDescription"] = map[string]any{"text": title}
	}
	for i, r := range run["results"].([]any) {
		r.(map[string]any)["message"] = map[string]any{"text": "@" + hostile}
		if i == 0 {
			loc := r.(map[string]any)["locations"].([]any)[0].(map[string]any)
			loc["physicalLocation"].(map[string]any)["artifactLocation"] = map[string]any{"uri": "-2+3+cmd|' /C calc'!A0"}
		}
	}
	doc, err := json.Marshal(log)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	input := filepath.Join(dir, "hostile.sarif")
	if err := os.WriteFile(input, doc, 0o600); err != nil {
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
	// Titles another reader may keep as written: two copies of the
	// first exposure, titled from a tab and from a carriage return.
	for _, p := range []string{"\t", "\r"} {
		x := xs[0]
		x.ID += fmt.Sprintf("-%x", p)
		x.Title = p + hostile
		planted[x.Title] = x.Title
		xs = append(xs, x)
	}
	out := write(t, "csv", xs, nil)
	rows, err := csv.NewReader(bytes.NewReader(out)).ReadAll()
	if err != nil {
		t.Fatalf("CSV export does not parse: %v", err)
	}
	if len(rows) != len(xs)+1 || len(xs) == 0 {
		t.Fatalf("CSV export has %d rows, want a header and %d exposures", len(rows), len(xs))
	}
	title, path := slices.Index(rows[0], "title"), slices.Index(rows[0], "path")
	byID := map[string]exportExposure{}
	for _, x := range xs {
		byID[x.ID] = x
	}
	seen := map[string]bool{}
	paths := 0
	for i, row := range rows[1:] {
		x, ok := byID[row[0]]
		if !ok {
			t.Fatalf("row %d id %q is no exposure of the database", i+1, row[0])
		}
		// The stored title is the planted formula, byte for byte: the
		// ingester kept its first character, so the export meets it.
		if !slices.Contains(slices.Collect(maps.Values(planted)), x.Title) {
			t.Errorf("exposure %s title = %q, want one of the planted formulas", x.ID, x.Title)
		}
		seen[x.Title] = true
		if got, want := row[title], "'"+x.Title; got != want {
			t.Errorf("row %d title = %q, want %q", i+1, got, want)
		}
		if x.Location.Path != "" && strings.HasPrefix(x.Location.Path, "-") {
			paths++
			if got, want := row[path], "'"+x.Location.Path; got != want {
				t.Errorf("row %d path = %q, want %q", i+1, got, want)
			}
		}
		for j, cell := range row {
			if c := strings.TrimLeft(cell, " "); c != "" && strings.ContainsRune("=+-@\t\r", rune(c[0])) {
				t.Errorf("row %d column %s = %q starts a formula", i+1, rows[0][j], cell)
			}
		}
	}
	for p, stored := range planted {
		if !seen[stored] {
			t.Errorf("planted title %q is no exposure's title (want %q) in the export", p, stored)
		}
	}
	for _, p := range prefixes {
		if !seen[p+hostile] {
			t.Errorf("no exposure titled %q reached the export", p+hostile)
		}
	}
	if paths == 0 {
		t.Error("the planted formula path is no exposure's path after ingestion")
	}
}
