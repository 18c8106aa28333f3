package sqlstore_test

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/ctem-dev/ctem/internal/ingest"
	"github.com/ctem-dev/ctem/internal/ingest/ingesttest"
	"github.com/ctem-dev/ctem/internal/ingest/sarif"
	"github.com/ctem-dev/ctem/internal/ingest/trivy"
	"github.com/ctem-dev/ctem/internal/model"
	"github.com/ctem-dev/ctem/internal/store"
	"github.com/ctem-dev/ctem/internal/store/open"
	"github.com/ctem-dev/ctem/internal/store/storetest"
	"github.com/ctem-dev/ctem/internal/synth"
)

// writeTrivy writes a synthetic Trivy report to dir and returns its path.
func writeTrivy(t testing.TB, dir, name string, r synth.Trivy) string {
	t.Helper()
	p := filepath.Join(dir, name)
	f, err := os.Create(p)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := synth.WriteTrivy(f, r); err != nil {
		t.Fatal(err)
	}
	return p
}

func collect[T any](t testing.TB, seq func(func(T, error) bool)) []T {
	t.Helper()
	var out []T
	for v, err := range seq {
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, v)
	}
	return out
}

func statusCounts(t testing.TB, st store.Store) map[model.Status]int {
	t.Helper()
	m := map[model.Status]int{}
	for _, f := range collect(t, st.Findings(context.Background(), store.Filter{})) {
		m[f.Status]++
	}
	return m
}

func TestLifecycleFixAndReopen(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	st := ingesttest.OpenStore(t)
	full := writeTrivy(t, dir, "full.json", synth.Trivy{Image: "shop/api:1", Findings: 100, Results: 2})
	later := writeTrivy(t, dir, "later.json", synth.Trivy{Image: "shop/api:1", Findings: 100, Results: 2, Drop: 4})

	scans, err := ingesttest.Ingest(st, trivy.Format, ingest.Options{}, full)
	if err != nil {
		t.Fatal(err)
	}
	if s := scans[0]; s.Findings != 100 || s.New != 100 || s.Fixed != 0 {
		t.Errorf("first scan = %+v, want 100 findings, all new", s)
	}
	// A later scan without every fourth vulnerability fixes those 25.
	scans, err = ingesttest.Ingest(st, trivy.Format, ingest.Options{}, later)
	if err != nil {
		t.Fatal(err)
	}
	if s := scans[0]; s.Findings != 75 || s.New != 0 || s.Fixed != 25 || s.Reopened != 0 {
		t.Errorf("later scan = %+v, want 75 findings, 25 fixed", s)
	}
	if got := statusCounts(t, st); got[model.StatusOpen] != 75 || got[model.StatusFixed] != 25 {
		t.Errorf("statuses after the later scan = %v", got)
	}
	fixed := collect(t, st.Exposures(context.Background(), store.Filter{Statuses: []model.Status{model.StatusFixed}, History: true}))
	if len(fixed) != 25 {
		t.Fatalf("%d fixed exposures, want 25", len(fixed))
	}
	if h := fixed[0].History; len(h) != 1 || h[0].From != model.StatusOpen || h[0].To != model.StatusFixed || fixed[0].FixedAt.IsZero() {
		t.Errorf("history of a fixed exposure = %+v, fixed at %v", h, fixed[0].FixedAt)
	}
	// They come back: reopened.
	scans, err = ingesttest.Ingest(st, trivy.Format, ingest.Options{}, full)
	if err != nil {
		t.Fatal(err)
	}
	if s := scans[0]; s.Findings != 100 || s.Reopened != 25 || s.Fixed != 0 || s.New != 0 {
		t.Errorf("rescan = %+v, want 25 reopened", s)
	}
	if got := statusCounts(t, st); got[model.StatusOpen] != 100 {
		t.Errorf("statuses after reopening = %v", got)
	}
	reopened := collect(t, st.Exposures(context.Background(), store.Filter{IDs: []string{fixed[0].ID}, History: true}))
	if len(reopened) != 1 || reopened[0].Status != model.StatusOpen || len(reopened[0].History) != 2 || !reopened[0].FixedAt.IsZero() {
		t.Errorf("reopened exposure = %+v", reopened)
	}
	// Another image's scan fixes nothing of this one.
	other := writeTrivy(t, dir, "other.json", synth.Trivy{Image: "shop/web:1", Findings: 3})
	if scans, err = ingesttest.Ingest(st, trivy.Format, ingest.Options{}, other); err != nil || scans[0].Fixed != 0 {
		t.Errorf("scan of another image = %+v, %v; want nothing fixed", scans, err)
	}
}

// TestIdenticalReimportClosesNothing is the reimport DefectDojo once got
// wrong (46 of 78 findings closed on an identical reimport).
func TestIdenticalReimportClosesNothing(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		format ingest.Format
		path   string
	}{
		{trivy.Format, "../../ingest/trivy/testdata/scheme_2_many_vulns.json"},
		{trivy.Format, "../../ingest/trivy/testdata/kubernetes.json"},
		{sarif.Format, "../../ingest/sarif/testdata/codeQL-output.sarif"},
	} {
		st := ingesttest.OpenStore(t)
		first, err := ingesttest.Ingest(st, c.format, ingest.Options{Target: "t"}, c.path)
		if err != nil {
			t.Fatal(err)
		}
		before := statusCounts(t, st)
		again, err := ingesttest.Ingest(st, c.format, ingest.Options{Target: "t"}, c.path)
		if err != nil {
			t.Fatal(err)
		}
		if again[0].Fixed != 0 || again[0].New != 0 || again[0].Reopened != 0 || again[0].Findings != first[0].Findings {
			t.Errorf("%s: identical reimport = %+v, first %+v", c.path, again[0], first[0])
		}
		if after := statusCounts(t, st); fmt.Sprint(after) != fmt.Sprint(before) {
			t.Errorf("%s: statuses %v became %v", c.path, before, after)
		}
	}
}

// TestCrossToolMerge feeds two tools' findings of one vulnerability on
// one package of one image through the store: two findings, one exposure.
func TestCrossToolMerge(t *testing.T) {
	t.Parallel()
	st := ingesttest.OpenStore(t)
	ctx := context.Background()
	tx, err := st.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	img := model.ImageKey("nginx:1.25")
	for _, tool := range []struct{ name, id, alias, sev, pkg string }{
		{"trivy", "CVE-2023-44487", "", "HIGH", "libnghttp2-14"},
		{"grype", "GHSA-qppj-fm5r-hxr3", "CVE-2023-44487", "Medium", "libnghttp2-14"},
	} {
		if err := tx.BeginScan(model.Scan{Tool: tool.name, Target: "nginx:1.25", Asset: img, Format: "test"}); err != nil {
			t.Fatal(err)
		}
		f := &model.Finding{Kind: model.FindingVulnerability, RuleID: tool.id, VulnIDs: []string{tool.id, tool.alias},
			Severity: model.ParseSeverity(tool.sev), Title: "HTTP/2 rapid reset", Asset: img,
			Package: model.Package{Name: tool.pkg, Version: "1.52.0-1"}}
		if err := tx.Finding(f); err != nil {
			t.Fatal(err)
		}
		if _, err := tx.EndInput(ctx, tool.name+".json", "sha256:x"); err != nil {
			t.Fatal(err)
		}
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
	c := ingesttest.Count(t, st)
	if c.Findings != 2 || c.Exposures != 1 {
		t.Fatalf("counts = %+v, want 2 findings and 1 exposure", c)
	}
	xs := collect(t, st.Exposures(ctx, store.Filter{VulnIDs: []string{"GHSA-qppj-fm5r-hxr3"}}))
	if len(xs) != 1 {
		t.Fatalf("exposures by alias = %d, want 1", len(xs))
	}
	x := xs[0]
	if fmt.Sprint(x.Tools) != "[grype trivy]" || len(x.FindingIDs) != 2 || x.Severity != model.SeverityHigh {
		t.Errorf("exposure = tools %v, findings %v, severity %s", x.Tools, x.FindingIDs, x.Severity)
	}
	if fmt.Sprint(x.VulnIDs) != "[CVE-2023-44487 GHSA-qppj-fm5r-hxr3]" {
		t.Errorf("vuln ids = %v, want CVE first then the alias", x.VulnIDs)
	}
}

// checksum digests every row of every table, so that "nothing changed"
// means nothing at all.
func checksum(t testing.TB, db *sql.DB) string {
	t.Helper()
	h := sha256.New()
	for _, table := range []string{"assets", "relations", "scans", "findings", "exposures", "finding_events", "evidence", "meta"} {
		rows, err := db.Query("SELECT * FROM " + table + " ORDER BY 1, 2")
		if err != nil {
			t.Fatal(err)
		}
		cols, _ := rows.Columns()
		vals := make([]any, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		for rows.Next() {
			if err := rows.Scan(ptrs...); err != nil {
				t.Fatal(err)
			}
			fmt.Fprintln(h, table, vals)
		}
		rows.Close()
	}
	return hex.EncodeToString(h.Sum(nil))
}

func TestFailedIngestChangesNothing(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	st := storetest.Open(t)
	good := writeTrivy(t, dir, "good.json", synth.Trivy{Image: "shop/api:1", Findings: 50})
	if _, err := ingesttest.Ingest(st, trivy.Format, ingest.Options{}, good); err != nil {
		t.Fatal(err)
	}
	before := checksum(t, st.SQL())
	// A good file, then a truncated one, in one ingest: neither lands.
	data, _ := os.ReadFile(good)
	bad := filepath.Join(dir, "bad.json")
	os.WriteFile(bad, data[:len(data)/2], 0o600)
	later := writeTrivy(t, dir, "later.json", synth.Trivy{Image: "shop/api:1", Findings: 50, Drop: 2})
	_, err := ingesttest.Ingest(st, trivy.Format, ingest.Options{}, later, bad)
	if _, ok := err.(*ingest.InputError); !ok {
		t.Fatalf("ingest of a truncated file = %v, want an input error", err)
	}
	if after := checksum(t, st.SQL()); after != before {
		t.Error("a failed ingest changed the database")
	}
}

func TestConcurrentIngests(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	// Create the schema once, as the first command would.
	dbPath := storetest.Name(t)
	storetest.OpenName(t, dbPath)
	const writers = 4
	var wg sync.WaitGroup
	errs := make([]error, writers)
	for i := range writers {
		p := writeTrivy(t, dir, fmt.Sprintf("r%d.json", i), synth.Trivy{Image: fmt.Sprintf("shop/svc%d:1", i), Findings: 300, Seed: uint64(i)})
		wg.Go(func() {
			// Each writer has its own connection pool, as separate
			// processes would.
			st, err := open.Open(context.Background(), dbPath, open.Options{})
			if err != nil {
				errs[i] = err
				return
			}
			defer st.Close()
			_, errs[i] = ingesttest.Ingest(st, trivy.Format, ingest.Options{}, p)
		})
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("writer %d: %v", i, err)
		}
	}
	st := storetest.OpenName(t, dbPath)
	if c := ingesttest.Count(t, st); c.Findings != writers*300 || c.Scans != writers {
		t.Errorf("after %d concurrent ingests: %+v, want %d findings and %d scans", writers, c, writers*300, writers)
	}
}

func TestFilters(t *testing.T) {
	t.Parallel()
	st := ingesttest.OpenStore(t)
	if _, err := ingesttest.Ingest(st, trivy.Format, ingest.Options{}, "../../ingest/trivy/testdata/alpine-310.json"); err != nil {
		t.Fatal(err)
	}
	if _, err := ingesttest.Ingest(st, sarif.Format, ingest.Options{Target: "https://github.com/acme/app"}, "../../ingest/sarif/testdata/gh-app-auth-gosec.sarif"); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	all := collect(t, st.Findings(ctx, store.Filter{}))
	count := func(pred func(model.Finding) bool) int {
		n := 0
		for _, f := range all {
			if pred(f) {
				n++
			}
		}
		return n
	}
	cases := []struct {
		name string
		f    store.Filter
		want int
	}{
		{"severity", store.Filter{Severities: []model.Severity{model.SeverityMedium}}, count(func(f model.Finding) bool { return f.Severity == model.SeverityMedium })},
		{"tool", store.Filter{Tools: []string{"gosec"}}, count(func(f model.Finding) bool { return f.Tool == "gosec" })},
		{"asset prefix", store.Filter{Assets: []string{"image:*"}}, count(func(f model.Finding) bool { return f.Kind == model.FindingVulnerability })},
		{"cve", store.Filter{VulnIDs: []string{"cve-2019-1549"}}, 2},
		{"status", store.Filter{Statuses: []model.Status{model.StatusFixed}}, 0},
		{"limit", store.Filter{Limit: 3}, 3},
	}
	for _, c := range cases {
		got := len(collect(t, st.Findings(ctx, c.f)))
		if got != c.want || (c.want == 0 && c.name != "status") {
			t.Errorf("Findings(%s) = %d, want %d", c.name, got, c.want)
		}
	}
	if n := len(all); n != 4+7 {
		t.Errorf("%d findings, want 4 (alpine-310) + 7 (gosec)", n)
	}
}

// TestExposureAggregatesFollowFindings checks an exposure two tools report
// at different severities: when the tool that rated it critical no longer
// reports it, the exposure stays open at the other tool's severity; when
// neither does, it is fixed, at its highest severity, with a fixing time.
func TestExposureAggregatesFollowFindings(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	st := ingesttest.OpenStore(t)
	vuln := func(tool string, sev model.Severity) *model.Finding {
		return &model.Finding{Tool: tool, Kind: model.FindingVulnerability, VulnIDs: []string{"CVE-2021-44228"}, Severity: sev,
			Package: model.Package{Name: "log4j-core", Version: "2.14.1"}}
	}
	scan := func(tool string, fs ...*model.Finding) {
		t.Helper()
		tx, err := st.Begin(ctx)
		if err != nil {
			t.Fatal(err)
		}
		defer tx.Rollback()
		if err := tx.BeginScan(model.Scan{Tool: tool, Target: "image:shop/api:1", Asset: "image:shop/api:1", Format: tool}); err != nil {
			t.Fatal(err)
		}
		for _, f := range fs {
			if err := tx.Finding(f); err != nil {
				t.Fatal(err)
			}
		}
		if _, err := tx.EndInput(ctx, tool+".json", ""); err != nil {
			t.Fatal(err)
		}
		if err := tx.Commit(); err != nil {
			t.Fatal(err)
		}
	}
	only := func() model.Exposure {
		t.Helper()
		xs := collect(t, st.Exposures(ctx, store.Filter{}))
		if len(xs) != 1 {
			t.Fatalf("%d exposures, want 1", len(xs))
		}
		return xs[0]
	}
	scan("trivy", vuln("trivy", model.SeverityCritical))
	scan("grype", vuln("grype", model.SeverityLow))
	if x := only(); x.Status != model.StatusOpen || x.Severity != model.SeverityCritical || len(x.Tools) != 2 {
		t.Fatalf("exposure from both tools = %s %s %v, want open critical from 2 tools", x.Status, x.Severity, x.Tools)
	}
	scan("trivy") // Trivy no longer reports it.
	if x := only(); x.Status != model.StatusOpen || x.Severity != model.SeverityLow || !x.FixedAt.IsZero() {
		t.Errorf("after Trivy's fix = %s %s fixed %v, want open low (Grype's), not fixed", x.Status, x.Severity, x.FixedAt)
	}
	scan("grype")
	if x := only(); x.Status != model.StatusFixed || x.Severity != model.SeverityCritical || x.FixedAt.IsZero() {
		t.Errorf("after both fixed = %s %s fixed %v, want fixed critical with a time", x.Status, x.Severity, x.FixedAt)
	}
}

// TestExposuresByID checks that ByID lists the same exposures, with the
// same findings, in the order of their ids.
func TestExposuresByID(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	st := ingesttest.OpenStore(t)
	if _, err := ingesttest.Ingest(st, trivy.Format, ingest.Options{}, filepath.Join("..", "..", "ingest", "trivy", "testdata", "all_statuses.json")); err != nil {
		t.Fatal(err)
	}
	key := func(x model.Exposure) string { return x.ID + ":" + strings.Join(x.FindingIDs, ",") }
	var ranked, byID []string
	for _, x := range collect(t, st.Exposures(ctx, store.Filter{})) {
		ranked = append(ranked, key(x))
	}
	for _, x := range collect(t, st.Exposures(ctx, store.Filter{ByID: true})) {
		byID = append(byID, key(x))
	}
	if len(byID) < 5 || !slices.IsSorted(byID) {
		t.Errorf("ByID listed %d exposures, sorted %v", len(byID), slices.IsSorted(byID))
	}
	slices.Sort(ranked)
	if !slices.Equal(ranked, byID) {
		t.Errorf("ByID lists other exposures or findings than the ranked listing")
	}
}
