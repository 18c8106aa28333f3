package cli_test

import (
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/rogpeppe/go-internal/testscript"
	_ "modernc.org/sqlite"

	"github.com/ctem-dev/ctem/internal/store/open"
)

// readArg reads "stdout", "stderr" or a file of the script.
func readArg(ts *testscript.TestScript, name string) []byte {
	switch name {
	case "stdout", "stderr":
		return []byte(ts.ReadFile(name))
	}
	return []byte(ts.ReadFile(name))
}

// jsonLen: jsonlen SOURCE N — SOURCE holds a JSON array of N elements.
func jsonLen(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) != 2 {
		ts.Fatalf("usage: jsonlen stdout|FILE N")
	}
	var arr []json.RawMessage
	if err := json.Unmarshal(readArg(ts, args[0]), &arr); err != nil {
		ts.Fatalf("%s is no JSON array: %v", args[0], err)
	}
	want, err := strconv.Atoi(args[1])
	if err != nil {
		ts.Fatalf("jsonlen: %v", err)
	}
	if (len(arr) == want) == neg {
		ts.Fatalf("%s has %d elements, want %s%d", args[0], len(arr), map[bool]string{true: "not ", false: ""}[neg], want)
	}
}

// jsonHas: jsonhas SOURCE FIELD... — every element of the JSON array in
// SOURCE has every field (dotted paths for nested objects).
func jsonHas(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) < 2 {
		ts.Fatalf("usage: jsonhas stdout|FILE FIELD...")
	}
	var arr []map[string]any
	if err := json.Unmarshal(readArg(ts, args[0]), &arr); err != nil {
		ts.Fatalf("%s is no JSON array of objects: %v", args[0], err)
	}
	if len(arr) == 0 {
		ts.Fatalf("%s is empty", args[0])
	}
	for i, el := range arr {
		for _, field := range args[1:] {
			var cur any = el
			for part := range strings.SplitSeq(field, ".") {
				m, ok := cur.(map[string]any)
				if !ok {
					cur = nil
					break
				}
				v, ok := m[part]
				if !ok {
					cur = nil
					break
				}
				if v == nil {
					v = struct{}{} // present, null
				}
				cur = v
			}
			if (cur != nil) == neg {
				ts.Fatalf("element %d of %s: field %s present = %v", i, args[0], field, cur != nil)
			}
		}
	}
}

// countItems: countitems FILE PATH VAR — counts the values PATH reaches in
// the JSON file (segments separated by dots, * for every array element or
// object member) and sets $VAR, so scripts compare with the report itself.
func countItems(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) != 3 {
		ts.Fatalf("usage: countitems FILE PATH VAR")
	}
	data := readArg(ts, args[0])
	if zr, err := gzip.NewReader(bytes.NewReader(data)); err == nil {
		var buf bytes.Buffer
		buf.ReadFrom(zr)
		data = buf.Bytes()
	}
	var doc any
	if err := json.Unmarshal(data, &doc); err != nil {
		ts.Fatalf("%s: %v", args[0], err)
	}
	cur := []any{doc}
	for seg := range strings.SplitSeq(args[1], ".") {
		var next []any
		for _, v := range cur {
			switch x := v.(type) {
			case []any:
				if seg == "*" {
					next = append(next, x...)
				}
			case map[string]any:
				if seg == "*" {
					for _, y := range x {
						next = append(next, y)
					}
				} else if y, ok := x[seg]; ok && y != nil {
					next = append(next, y)
				}
			}
		}
		cur = next
	}
	ts.Setenv(args[2], strconv.Itoa(len(cur)))
}

// dbSum: dbsum FILE — writes a digest of every row of the database named
// by $CTEM_DB to FILE, to compare with cmp before and after a command.
func dbSum(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) != 1 {
		ts.Fatalf("usage: dbsum FILE")
	}
	name := ts.Getenv("CTEM_DB")
	driver, dsn := "sqlite", "file:"+name+"?mode=ro"
	if open.IsPostgres(name) {
		driver, dsn = "pgx", name
	}
	db, err := sql.Open(driver, dsn)
	if err != nil {
		ts.Fatalf("%v", err)
	}
	defer db.Close()
	h := sha256.New()
	for _, table := range []string{"assets", "relations", "scans", "findings", "exposures", "finding_events", "evidence", "meta"} {
		rows, err := db.Query("SELECT * FROM " + table + " ORDER BY 1, 2")
		if err != nil {
			ts.Fatalf("%v", err)
		}
		cols, _ := rows.Columns()
		vals := make([]any, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		n := 0
		for rows.Next() {
			rows.Scan(ptrs...)
			fmt.Fprintln(h, table, vals)
			n++
		}
		rows.Close()
		fmt.Fprintln(h, table, n)
	}
	os.WriteFile(filepath.Join(ts.Getenv("WORK"), args[0]), []byte(hex.EncodeToString(h.Sum(nil))+"\n"), 0o600)
}

// copyReports puts real reports from the parsers' testdata into the
// script's work directory, with a truncated and a gzipped copy.
func copyReports(work string) error {
	dst := filepath.Join(work, "reports")
	if err := os.MkdirAll(dst, 0o755); err != nil {
		return err
	}
	for _, src := range []string{
		"../ingest/trivy/testdata/alpine-310.json",
		"../ingest/trivy/testdata/scheme_2_many_vulns.json",
		"../ingest/trivy/testdata/scheme_2_no_vuln.json",
		"../ingest/sarif/testdata/gh-app-auth-gosec.sarif",
		"../ingest/sarif/testdata/codeQL-output.sarif",
	} {
		data, err := os.ReadFile(src)
		if err != nil {
			return err
		}
		if err := os.WriteFile(filepath.Join(dst, filepath.Base(src)), data, 0o644); err != nil {
			return err
		}
		if filepath.Base(src) == "scheme_2_many_vulns.json" {
			if err := os.WriteFile(filepath.Join(dst, "truncated.json"), data[:5000], 0o644); err != nil {
				return err
			}
			var buf bytes.Buffer
			zw := gzip.NewWriter(&buf)
			zw.Write(data)
			zw.Close()
			if err := os.WriteFile(filepath.Join(dst, "many.json.gz"), buf.Bytes(), 0o644); err != nil {
				return err
			}
		}
	}
	// The demo estate, for the analysis scripts.
	return copyTree("../../examples", filepath.Join(work, "examples"))
}

// copyTree copies the files of src into dst, skipping Go sources.
func copyTree(src, dst string) error {
	return filepath.WalkDir(src, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		target := filepath.Join(dst, rel)
		if d.IsDir() {
			return os.MkdirAll(target, 0o755)
		}
		if strings.HasSuffix(p, ".go") {
			return nil
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(target, data, 0o644)
	})
}
