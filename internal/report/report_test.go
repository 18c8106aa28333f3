package report_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ctem-dev/ctem/examples"
	"github.com/ctem-dev/ctem/internal/app"
	"github.com/ctem-dev/ctem/internal/graph"
	"github.com/ctem-dev/ctem/internal/inputs"
	"github.com/ctem-dev/ctem/internal/kpi"
	"github.com/ctem-dev/ctem/internal/model"
	"github.com/ctem-dev/ctem/internal/report"
	"github.com/ctem-dev/ctem/internal/store"
	"github.com/ctem-dev/ctem/internal/store/sqlite"
)

// Hostile text a scanner or a person may write.
const (
	hostileTitle  = `<script>document.title="pwned"</script> =HYPERLINK("http://evil","x") **bold** [link](javascript:alert(1)) | cell`
	hostileReason = `<img src=x onerror="document.title='pwned'"> not ours`
	apiReport     = "reports/shop-api-image.trivy.json"
)

// hostileAPIReport is the demo's real Trivy report of the API image with
// every vulnerability's title replaced by hostileTitle.
func hostileAPIReport(t testing.TB) []byte {
	t.Helper()
	raw, err := fs.ReadFile(examples.Files, apiReport)
	if err != nil {
		t.Fatal(err)
	}
	var doc map[string]any
	if err := json.Unmarshal(raw, &doc); err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, r := range doc["Results"].([]any) {
		vs, _ := r.(map[string]any)["Vulnerabilities"].([]any)
		for _, v := range vs {
			v.(map[string]any)["Title"] = hostileTitle
			n++
		}
	}
	if n == 0 {
		t.Fatal("the API report has no vulnerability to make hostile")
	}
	out, err := json.Marshal(doc)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// demoReport builds a database from the demo estate with a hostile API
// report, analyses it, records a person's hostile decision, and gathers
// the report.
func demoReport(t testing.TB) (*report.Report, app.Store) {
	t.Helper()
	ctx := context.Background()
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "ctem.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	now := time.Date(2026, 3, 9, 12, 0, 0, 0, time.UTC)
	st.Now = func() time.Time { return now }
	a := &app.App{Store: st, Formats: inputs.All(), Now: func() time.Time { return now }}
	scope, err := fs.ReadFile(examples.Files, examples.Scope)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := a.SetScope(ctx, app.ScopeFile{Name: "ctem.yaml", Data: scope}); err != nil {
		t.Fatal(err)
	}
	var ins []app.Input
	for _, name := range examples.Inputs {
		in := app.Input{Name: name, Target: examples.Targets[name]}
		if name == apiReport {
			in.R = bytes.NewReader(hostileAPIReport(t))
		} else {
			f, err := examples.Files.Open(name)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { f.Close() })
			in.R = f
		}
		ins = append(ins, in)
	}
	if _, err := a.Ingest(ctx, app.IngestRequest{Inputs: ins}); err != nil {
		t.Fatal(err)
	}
	if _, err := a.Analyze(ctx, graph.Options{}); err != nil {
		t.Fatal(err)
	}
	// A person dismisses the gosec finding, with a hostile reason.
	var dismissed string
	for x, err := range st.Exposures(ctx, store.Filter{Tools: []string{"gosec"}, Limit: 1}) {
		if err != nil {
			t.Fatal(err)
		}
		dismissed = x.ID
	}
	if dismissed == "" {
		t.Fatal("no gosec exposure in the demo")
	}
	if _, err := a.MarkFalsePositive(ctx, dismissed, hostileReason, "alice"); err != nil {
		t.Fatal(err)
	}
	if _, err := st.AppendAudit(ctx, store.AuditEntry{At: now, Actor: "cli:alice", Action: "triage", Target: dismissed, Outcome: "ok"}); err != nil {
		t.Fatal(err)
	}
	if _, err := st.ReplaceEvidence(ctx, "ctem-validate", nil, []model.Evidence{{Kind: model.EvidenceProbeConfirmed, FindingID: "f1", At: now},
		{Kind: model.EvidenceProbeConfirmed, FindingID: "f2", At: now.Add(time.Minute)}}, time.Time{}); err != nil {
		t.Fatal(err)
	}
	r, err := report.Gather(ctx, a, report.Options{KPI: kpi.Options{Now: now.Add(time.Hour), Since: 30 * 24 * time.Hour}})
	if err != nil {
		t.Fatal(err)
	}
	return r, st
}

// TestReportEscapesScannerText: the hostile title and reason appear in
// both reports as inert text, never as markup.
func TestReportEscapesScannerText(t *testing.T) {
	t.Parallel()
	r, _ := demoReport(t)
	var h, m bytes.Buffer
	if err := report.HTML(&h, r); err != nil {
		t.Fatal(err)
	}
	if err := report.Markdown(&m, r); err != nil {
		t.Fatal(err)
	}
	// The page declares the policy the API sends as its header.
	if meta := `<meta http-equiv="Content-Security-Policy" content="` + report.CSP + `">`; !strings.Contains(h.String(), meta) {
		t.Errorf("HTML(report) lacks %s", meta)
	}
	for _, c := range []struct {
		name, out string
		bad, want []string
	}{
		{"HTML", h.String(), []string{"<script", "<img"}, []string{"&lt;script&gt;document.title=&#34;pwned&#34;&lt;/script&gt;", "&lt;img src=x onerror=&#34;document.title=&#39;pwned&#39;&#34;&gt; not ours"}},
		{"Markdown", m.String(), []string{"<script", "<img", "[link](javascript"}, []string{`&lt;script&gt;document.title=&quot;pwned&quot;&lt;/script&gt; =HYPERLINK(&quot;http://evil&quot;,&quot;x&quot;) \*\*bold\*\* \[link\](javascript:alert(1)) \| cell`,
			`&lt;img src=x onerror=&quot;document.title='pwned'&quot;&gt; not ours`}},
	} {
		low := strings.ToLower(c.out)
		for _, bad := range c.bad {
			if strings.Contains(low, bad) {
				i := strings.Index(low, bad)
				t.Errorf("%s(report) contains %q: %q", c.name, bad, c.out[max(0, i-80):min(len(c.out), i+80)])
			}
		}
		for _, w := range c.want {
			if !strings.Contains(c.out, w) {
				t.Errorf("%s(report) lacks the escaped text %q", c.name, w)
			}
		}
	}
}

// TestReportContents: the report's figures and its control mapping agree
// with what the store holds, counted here independently.
func TestReportContents(t *testing.T) {
	t.Parallel()
	r, st := demoReport(t)
	ctx := context.Background()
	scans, tools := 0, map[string]bool{}
	for sc, err := range st.Scans(ctx, store.Filter{}) {
		if err != nil {
			t.Fatal(err)
		}
		scans++
		tools[sc.Tool] = true
	}
	open := 0
	for x, err := range st.Exposures(ctx, store.Filter{Statuses: []model.Status{model.StatusOpen}}) {
		if err != nil {
			t.Fatal(err)
		}
		_ = x
		open++
	}
	if r.ScansTotal != scans || len(r.Tools) != len(tools) {
		t.Errorf("Gather() = %d scans by %d tools, want %d by %d", r.ScansTotal, len(r.Tools), scans, len(tools))
	}
	if r.KPI.Open != open {
		t.Errorf("Gather().KPI.Open = %d, want %d", r.KPI.Open, open)
	}
	if r.DecisionsTotal != 1 || r.Decisions[0].By != "alice" || r.Decisions[0].To != model.StatusFalsePositive {
		t.Errorf("Gather().Decisions = %+v, want alice's false positive only", r.Decisions)
	}
	if len(r.Paths) == 0 || len(r.Plan.Items) == 0 || len(r.KPI.Snapshots) != 1 {
		t.Fatalf("Gather() = %d paths, %d plan items, %d snapshots; want paths, a plan and one analysis", len(r.Paths), len(r.Plan.Items), len(r.KPI.Snapshots))
	}
	if len(r.Validation) != 1 || r.Validation[0].Facts != 2 || !r.Validation[0].Last.Equal(time.Date(2026, 3, 9, 12, 1, 0, 0, time.UTC)) {
		t.Errorf("Gather().Validation = %+v, want 2 probe-confirmed facts, the last at 12:01", r.Validation)
	}
	if !r.Audit.Available || r.Audit.Broken != "" || r.Audit.Entries != 1 || len(r.Audit.Head) != 64 {
		t.Errorf("Gather().Audit = %+v, want an intact log", r.Audit)
	}
	want := map[string]string{
		"6.3.1": fmt.Sprintf("%d scans since", scans),
		"A.8.8": fmt.Sprintf("%d attack paths to crown jewels open", r.KPI.Snapshots[0].OpenPaths),
		"ID.RA": "2 probe-confirmed from ctem-validate",
		"CC7.1": "1 analyses recorded their figures",
		"11.3":  "1 triage decisions by people",
	}
	var ids []string
	for _, c := range r.Controls {
		ids = append(ids, c.Framework+" "+c.ID)
		if w, ok := want[c.ID]; ok && !strings.Contains(strings.Join(c.Evidence, "; "), w) {
			t.Errorf("control %s evidence = %q, want it to state %q", c.ID, c.Evidence, w)
		}
	}
	if got := strings.Join(ids, ", "); got != "PCI DSS 4.0 6.3.1, PCI DSS 4.0 6.3.3, PCI DSS 4.0 11.3, ISO/IEC 27001:2022 A.8.8, SOC 2 (2017 TSC) CC7.1, NIST CSF 2.0 ID.RA" {
		t.Errorf("Gather().Controls = %s", got)
	}
	var h bytes.Buffer
	if err := report.HTML(&h, r); err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{`id="summary"`, `id="paths"`, `id="plan"`, `id="teams"`, `id="controls"`, `id="scans"`, `id="decisions"`, `id="validation"`, `id="audit"`, "CVE-2022-22965", r.Audit.Head} {
		if !strings.Contains(h.String(), s) {
			t.Errorf("HTML(report) lacks %q", s)
		}
	}
}

// browser returns the Chromium to run, or skips naming what is missing
// (the README's test command installs Debian's chromium).
func browser(t *testing.T) string {
	t.Helper()
	b, err := report.Browser()
	if err != nil {
		need(t, fmt.Sprintf("browser tests need Chromium: %v", err))
	}
	return b
}

// need fails the test under CI=true, where .ci/run installs every tool
// the tests use, and skips it, loudly, elsewhere.
func need(t *testing.T, msg string) {
	t.Helper()
	if os.Getenv("CI") != "" {
		t.Fatal(msg)
	}
	fmt.Fprintln(os.Stderr, "\n*** "+msg+" ***")
	t.Skip(msg)
}

// poppler returns the path of poppler-utils' tool name (pdftotext,
// pdfinfo), failing under CI=true and skipping elsewhere without it.
func poppler(t *testing.T, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		need(t, fmt.Sprintf("the PDF test needs %s from Debian's poppler-utils (apt-get install poppler-utils): %v", name, err))
	}
	return p
}

// pdfText runs pdftotext on pdf and returns its text, one string per
// page (pdftotext ends each page with a form feed).
func pdfText(t *testing.T, pdf []byte) []string {
	t.Helper()
	file := filepath.Join(t.TempDir(), "report.pdf")
	if err := os.WriteFile(file, pdf, 0o600); err != nil {
		t.Fatal(err)
	}
	out, err := exec.CommandContext(t.Context(), poppler(t, "pdftotext"), "-enc", "UTF-8", file, "-").Output()
	if err != nil {
		t.Fatalf("pdftotext %s: %v", file, err)
	}
	pages := strings.Split(string(out), "\f")
	if n := len(pages); n > 0 && strings.TrimSpace(pages[n-1]) == "" {
		pages = pages[:n-1]
	}
	return pages
}

// pdfPages returns the page count pdfinfo reads from pdf.
func pdfPages(t *testing.T, pdf []byte) int {
	t.Helper()
	file := filepath.Join(t.TempDir(), "report.pdf")
	if err := os.WriteFile(file, pdf, 0o600); err != nil {
		t.Fatal(err)
	}
	out, err := exec.CommandContext(t.Context(), poppler(t, "pdfinfo"), file).Output()
	if err != nil {
		t.Fatalf("pdfinfo %s: %v", file, err)
	}
	m := regexp.MustCompile(`(?m)^Pages:\s+(\d+)$`).FindSubmatch(out)
	if m == nil {
		t.Fatalf("pdfinfo %s: no page count in %q", file, out)
	}
	n, err := strconv.Atoi(string(m[1]))
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// TestPDF: headless Chromium prints the report; the PDF has pages.
func TestPDF(t *testing.T) {
	t.Parallel()
	browser(t)
	r, _ := demoReport(t)
	var b bytes.Buffer
	if err := report.PDF(t.Context(), &b, r); err != nil {
		t.Fatal(err)
	}
	pdf := b.Bytes()
	// A page object is "/Type /Page" not followed by "s" (the page tree
	// is /Pages); Chromium writes them uncompressed.
	pages := len(regexp.MustCompile(`/Type\s*/Page[^s]`).FindAll(pdf, -1))
	if !bytes.HasPrefix(pdf, []byte("%PDF-")) || pages < 2 {
		t.Errorf("PDF(report) = %d bytes beginning %q with %d pages, want a PDF of several pages", len(pdf), pdf[:min(len(pdf), 8)], pages)
	}
	// poppler reads the PDF as a viewer would: its page count agrees,
	// and the text of the report is in it, in order, the hostile
	// scanner text shown as text.
	info := pdfPages(t, pdf)
	text := pdfText(t, pdf)
	if info != pages || len(text) != pages {
		t.Errorf("PDF(report): pdfinfo reads %d pages and pdftotext %d, want the %d page objects", info, len(text), pages)
	}
	all := strings.Join(text, "\n")
	// pdftotext may break a long line where the page wraps it; compare
	// with all white space removed.
	flat := strings.Join(strings.Fields(all), "")
	if !strings.Contains(text[0], r.Title) || !strings.Contains(text[0], "Executive summary") {
		t.Errorf("PDF(report) page 1 lacks the title %q and the executive summary:\n%.600s", r.Title, text[0])
	}
	last := -1
	for _, s := range []string{"Executive summary", "Top attack paths", "Fix plan", "State per team", "Controls supported", "Evidence appendix"} {
		i := strings.Index(all, s)
		if i < 0 {
			t.Errorf("PDF(report) text lacks the section %q", s)
			continue
		}
		if i < last {
			t.Errorf("PDF(report) text: section %q out of order", s)
		}
		last = i
	}
	for _, s := range []string{"CVE-2022-22965", "PCI DSS 4.0 6.3.1", "ISO/IEC 27001:2022 A.8.8", "NIST CSF 2.0 ID.RA", r.Audit.Head, `<script>document.title="pwned"</script>`} {
		if !strings.Contains(flat, strings.Join(strings.Fields(s), "")) {
			t.Errorf("PDF(report) text lacks %q", s)
		}
	}
	t.Logf("PDF: %d bytes, %d pages, %d characters of text", len(pdf), pages, len(all))
}

// dumpDOM loads page in headless Chromium and returns the DOM after its
// scripts ran.
func dumpDOM(t *testing.T, page []byte) string {
	t.Helper()
	dir := t.TempDir()
	file := filepath.Join(dir, "page.html")
	if err := os.WriteFile(file, page, 0o600); err != nil {
		t.Fatal(err)
	}
	args := []string{"--headless", "--disable-gpu", "--no-first-run", "--user-data-dir=" + filepath.Join(dir, "profile"),
		"--virtual-time-budget=2000", "--dump-dom"}
	if os.Geteuid() == 0 {
		args = append(args, "--no-sandbox")
	}
	out, err := exec.CommandContext(t.Context(), browser(t), append(args, "file://"+file)...).Output()
	if err != nil {
		t.Fatalf("chromium --dump-dom: %v", err)
	}
	return string(out)
}

// TestHTMLRunsNoScriptInChromium: the report with hostile scanner text,
// opened in headless Chromium, runs none of it, while the same text
// written raw into a page does run there (the control).
func TestHTMLRunsNoScriptInChromium(t *testing.T) {
	t.Parallel()
	browser(t)
	r, _ := demoReport(t)
	var h bytes.Buffer
	if err := report.HTML(&h, r); err != nil {
		t.Fatal(err)
	}
	control := dumpDOM(t, []byte("<!DOCTYPE html><html><head><title>control</title></head><body>"+hostileTitle+"</body></html>"))
	if !strings.Contains(control, "<title>pwned</title>") {
		t.Fatalf("control page: the raw script did not run, so this test shows nothing: %.300s", control)
	}
	dom := dumpDOM(t, h.Bytes())
	if strings.Contains(dom, "pwned</title>") || !strings.Contains(dom, "<title>CTEM report</title>") {
		t.Errorf("report in Chromium: title changed by hostile text: %.300s", dom)
	}
	if !strings.Contains(dom, `&lt;script&gt;document.title="pwned"&lt;/script&gt;`) {
		t.Errorf("report in Chromium: the hostile title is not shown as text")
	}
}
