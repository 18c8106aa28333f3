package web_test

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"

	"github.com/ctem-dev/ctem/examples"
	"github.com/ctem-dev/ctem/internal/graph"
	"github.com/ctem-dev/ctem/internal/kpi"
	"github.com/ctem-dev/ctem/internal/model"
	"github.com/ctem-dev/ctem/internal/server"
	"github.com/ctem-dev/ctem/internal/store"
)

var update = flag.Bool("update", false, "rewrite the dashboard screenshots in docs/")

// chromium returns the path of a Chromium (or Chrome) binary: $CTEM_CHROMIUM,
// else the first of the usual names on PATH. Without one the browser tests
// cannot run: they fail under CI=true (the test command installs Debian's
// chromium there) and are skipped, loudly, elsewhere.
func chromium(t *testing.T) string {
	t.Helper()
	if p := os.Getenv("CTEM_CHROMIUM"); p != "" {
		return p
	}
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome", "google-chrome-stable", "headless-shell"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	msg := "NO CHROMIUM FOUND: the dashboard's browser tests did not run. Install Debian's chromium (apt-get install chromium) or set CTEM_CHROMIUM to a Chrome binary."
	if os.Getenv("CI") != "" {
		t.Fatal(msg)
	}
	fmt.Fprintln(os.Stderr, "\n*** "+msg+" ***")
	t.Skip(msg)
	return ""
}

// browser is one headless Chromium with one tab, recording every console
// message, uncaught exception, browser log entry (CSP violations among
// them) and JavaScript dialog.
type browser struct {
	ctx context.Context
	mu  sync.Mutex
	// msgs are the console messages and log entries since the last check.
	msgs    []string
	dialogs []string
	// quiet, when set, keeps the network's log of an expected error
	// status (a 404 page asked for on purpose) out of msgs.
	quiet bool
}

func newBrowser(t *testing.T, path string) *browser {
	t.Helper()
	opts := append(slices.Clone(chromedp.DefaultExecAllocatorOptions[:]), chromedp.ExecPath(path), chromedp.NoSandbox, chromedp.DisableGPU, chromedp.WindowSize(1366, 900))
	actx, cancelA := chromedp.NewExecAllocator(context.Background(), opts...)
	b := &browser{}
	dialogs := make(chan struct{}, 16)
	ctx, cancel := chromedp.NewContext(actx, chromedp.WithListener(func(ev any) {
		b.mu.Lock()
		defer b.mu.Unlock()
		switch e := ev.(type) {
		case *runtime.EventConsoleAPICalled:
			var args []string
			for _, a := range e.Args {
				args = append(args, string(a.Value)+a.Description)
			}
			b.msgs = append(b.msgs, "console."+string(e.Type)+": "+strings.Join(args, " "))
		case *runtime.EventExceptionThrown:
			b.msgs = append(b.msgs, "exception: "+e.ExceptionDetails.Text)
		case *log.EventEntryAdded:
			if e.Entry.Level == log.EntryLevelVerbose {
				return
			}
			if b.quiet && e.Entry.Source == log.EntrySourceNetwork {
				return
			}
			b.msgs = append(b.msgs, fmt.Sprintf("log %s/%s: %s %s", e.Entry.Source, e.Entry.Level, e.Entry.Text, e.Entry.URL))
		case *page.EventJavascriptDialogOpening:
			b.dialogs = append(b.dialogs, string(e.Type)+": "+e.Message)
			select {
			case dialogs <- struct{}{}:
			default:
			}
		}
	}))
	// A dialog blocks the page until it is answered: dismiss each one (the
	// test fails on it anyway).
	go func() {
		for {
			select {
			case <-ctx.Done():
				return
			case <-dialogs:
				_, _ = chromedp.Call(ctx, page.HandleJavaScriptDialog, page.HandleJavaScriptDialogParams{Accept: false})
			}
		}
	}()
	t.Cleanup(func() { cancel(); cancelA() })
	if err := chromedp.Do(ctx, chromedp.Navigate("about:blank")); err != nil {
		t.Fatalf("start chromium %s: %v", path, err)
	}
	b.ctx = ctx
	return b
}

// do runs actions with a time limit.
func (b *browser) do(t *testing.T, what string, steps ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 30*time.Second)
	defer cancel()
	if err := chromedp.Do(ctx, steps...); err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

// eval evaluates JavaScript in the page through DevTools (not subject to
// the page's CSP) and decodes the result into out.
func eval[T any](t *testing.T, b *browser, js string) T {
	t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 30*time.Second)
	defer cancel()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](js))
	if err != nil {
		t.Fatalf("evaluate %s: %v", js, err)
	}
	return v
}

// open navigates to a page and waits for sel.
func (b *browser) open(t *testing.T, u, sel string) {
	t.Helper()
	b.do(t, "open "+u, chromedp.Navigate(u), chromedp.WaitReady(chromedp.CSS(sel)))
}

// until polls a JavaScript condition until it is true.
func (b *browser) until(t *testing.T, what, js string) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		ctx, cancel := context.WithTimeout(b.ctx, 5*time.Second)
		ok, err := chromedp.Run(ctx, chromedp.Evaluate[bool](js))
		cancel()
		if err == nil && ok {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	loc := eval[string](t, b, "location.href")
	t.Fatalf("%s: %s not true within 30 s (at %s)", what, js, loc)
}

// clean fails the test on any console message, exception, log entry or
// dialog since the last check, naming the page.
func (b *browser) clean(t *testing.T, where string) {
	t.Helper()
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, m := range b.msgs {
		t.Errorf("%s: the browser reported %s", where, m)
	}
	for _, d := range b.dialogs {
		t.Errorf("%s: a dialog opened: %s", where, d)
	}
	b.msgs, b.dialogs = nil, nil
}

func (b *browser) setQuiet(q bool) {
	b.mu.Lock()
	b.quiet = q
	b.mu.Unlock()
}

// signIn fills the sign-in form.
func (b *browser) signIn(t *testing.T, base, name string) {
	t.Helper()
	b.open(t, base+"/", "#signin")
	b.do(t, "sign in as "+name,
		chromedp.SendKeys(chromedp.ID("name"), name),
		chromedp.SendKeys(chromedp.ID("password"), password),
		chromedp.Click(chromedp.ID("signin")),
		chromedp.WaitVisible(chromedp.ID("me")))
}

// TestBrowserListenerSeesViolations checks the checker: a script and an
// image that the Content-Security-Policy refuses are reported, and so is a
// dialog, so that the other tests' silence means something.
func TestBrowserListenerSeesViolations(t *testing.T) {
	path := chromium(t)
	f := newFixture(t)
	b := newBrowser(t, path)
	b.signIn(t, f.url, "admin")
	b.clean(t, "sign in")
	eval[bool](t, b, `(() => { const s = document.createElement("script"); s.textContent = "window.ran = 1"; document.body.appendChild(s); return true })()`)
	b.until(t, "the inline script is refused", `document.readyState === "complete"`)
	if ran := eval[bool](t, b, `window.ran === 1`); ran {
		t.Errorf("an inline script ran under the page's CSP")
	}
	time.Sleep(300 * time.Millisecond)
	b.mu.Lock()
	got := strings.Join(b.msgs, "\n")
	b.msgs = nil
	b.mu.Unlock()
	if !strings.Contains(got, "Content Security Policy") {
		t.Errorf("an inline script under the CSP: the listener saw %q, want a CSP violation", got)
	}
	eval[bool](t, b, `(() => { setTimeout(() => alert("x"), 0); return true })()`)
	time.Sleep(500 * time.Millisecond)
	b.mu.Lock()
	n := len(b.dialogs)
	b.dialogs = nil
	b.mu.Unlock()
	if n != 1 {
		t.Errorf("alert() from DevTools: the listener saw %d dialogs, want 1", n)
	}
}

// TestBrowserJourney walks the dashboard as an analyst would, in a real
// headless Chromium against a real server: sign in, the overview's KPIs
// against the API's, filter exposures, the riskiest path drawn in order, a
// node to its asset, an upload to its scan, sign out. No page may log an
// error or a CSP violation.
func TestBrowserJourney(t *testing.T) {
	path := chromium(t)
	f := newFixture(t)
	b := newBrowser(t, path)
	b.signIn(t, f.url, "admin")
	if got := eval[string](t, b, "location.pathname"); got != "/" {
		t.Errorf("after sign-in, at %s, want /", got)
	}
	b.clean(t, "sign in")

	// Overview: the KPI values are the API's.
	var k kpi.Report
	f.api(t, nil, "/api/v1/kpis?since=90d", &k)
	var paths server.PathsBody
	f.api(t, nil, "/api/v1/paths", &paths)
	tiles := eval[map[string]string](t, b, `Object.fromEntries(Array.from(document.querySelectorAll("[data-kpi]")).map(e => [e.dataset.kpi, e.firstChild.textContent.trim()]))`)
	validated := 0
	for _, p := range paths.Items {
		if p.Validated {
			validated++
		}
	}
	want := map[string]string{"open": fmt.Sprint(k.Open), "open_paths": fmt.Sprint(k.OpenPaths), "open_on_critical": fmt.Sprint(k.OpenOnCritical), "kev_overdue": fmt.Sprint(k.KEVOverdue), "validated_paths": fmt.Sprint(validated)}
	for key, w := range want {
		if tiles[key] != w {
			t.Errorf("overview KPI %s = %q, want the API's %q", key, tiles[key], w)
		}
	}
	if k.Open == 0 || k.OpenPaths == 0 {
		t.Errorf("the demo's KPIs: %d open exposures, %d open paths; want some of each", k.Open, k.OpenPaths)
	}
	if n := eval[int](t, b, `document.querySelectorAll("svg.chart polyline").length`); n != 2 {
		t.Errorf("overview draws %d trend charts, want 2", n)
	}
	// The SLA adherence by owner: the API's SLA listing counted by owner.
	var slas, soon struct{ Items []server.SLAItem }
	f.api(t, nil, "/api/v1/sla", &slas)
	f.api(t, nil, "/api/v1/sla?due_within=7d", &soon)
	wantSLA := map[string][3]int{}
	for _, it := range slas.Items {
		c := wantSLA[it.Owner]
		c[0]++
		if it.Breached {
			c[1]++
		}
		wantSLA[it.Owner] = c
	}
	for _, it := range soon.Items {
		if c := wantSLA[it.Owner]; !it.Breached {
			c[2]++
			wantSLA[it.Owner] = c
		}
	}
	gotSLA := eval[map[string][3]int](t, b, `Object.fromEntries(Array.from(document.querySelectorAll("#sla tr[data-owner]")).map(r => [r.dataset.owner, ["total", "breached", "due_soon"].map(k => Number(r.querySelector("[data-sla=" + k + "]").textContent))]))`)
	if len(wantSLA) == 0 || !reflect.DeepEqual(gotSLA, wantSLA) {
		t.Errorf("overview SLA by owner (total, breached, due within 7 days) = %v, want the API's %v", gotSLA, wantSLA)
	}
	b.clean(t, "overview")
	if *update {
		shot(t, b, "dashboard-overview.png")
	}

	// Exposures: filter by severity through the form; the rows are the
	// API's for the same filter, and the filter is in the URL.
	b.open(t, f.url+"/exposures", "#exposures")
	b.do(t, "filter exposures", chromedp.SetValue(chromedp.ID("severity"), "critical,high"), chromedp.Click(chromedp.ID("filter")))
	b.until(t, "the filtered page", `location.search.includes("severity=critical%2Chigh") && document.readyState === "complete"`)
	rows := eval[[]string](t, b, `Array.from(document.querySelectorAll("#exposures tr[data-exposure]")).map(e => e.dataset.exposure)`)
	var xs server.Page[model.Exposure]
	f.api(t, nil, "/api/v1/exposures?severity=critical,high&limit=50", &xs)
	var ids []string
	for _, x := range xs.Items {
		ids = append(ids, x.ID)
	}
	if len(ids) == 0 || !slices.Equal(rows, ids) {
		t.Errorf("exposures filtered by critical,high show %q, want the API's %q", rows, ids)
	}
	sevs := eval[[]string](t, b, `Array.from(document.querySelectorAll("#exposures tr[data-exposure] .sev")).map(e => e.textContent)`)
	for _, s := range sevs {
		if s != "critical" && s != "high" {
			t.Errorf("a row of severity %q in the critical,high listing", s)
		}
	}
	b.clean(t, "exposures")

	// The riskiest path: its steps drawn left to right in order, each with
	// its rule and probability.
	b.open(t, f.url+"/paths", "#paths")
	first := eval[string](t, b, `document.querySelector("#paths tbody tr").dataset.path`)
	riskiest := paths.Items[0]
	if first != riskiest.ID {
		t.Errorf("the first path listed is %s, want the riskiest %s", first, riskiest.ID)
	}
	b.do(t, "open the riskiest path", chromedp.Click(chromedp.CSS("#paths tbody tr a")), chromedp.WaitVisible(chromedp.ID("pathgraph")))
	drawn := eval[[]string](t, b, `Array.from(document.querySelectorAll("#pathgraph g.step")).map(g => g.querySelector(".rule").textContent + " " + g.querySelector(".prob").textContent)`)
	var wantSteps []string
	for i, s := range riskiest.Steps {
		wantSteps = append(wantSteps, fmt.Sprintf("%d. %s p=%.2f", i+1, s.Rule, s.Probability))
	}
	if !slices.Equal(drawn, wantSteps) {
		t.Errorf("the path page draws steps %q, want %q", drawn, wantSteps)
	}
	// The states are drawn in reading order: left to right, and a long
	// path goes on in the next row.
	at := eval[[][2]float64](t, b, `Array.from(document.querySelectorAll("#pathgraph g.state rect")).map(r => [r.getBBox().y, r.getBBox().x])`)
	inOrder := slices.IsSortedFunc(at, func(a, b [2]float64) int {
		if a[0] != b[0] {
			return int(a[0] - b[0])
		}
		return int(a[1] - b[1])
	})
	if len(at) != len(riskiest.Steps)+1 || !inOrder {
		t.Errorf("the path's states are drawn at (y, x) %v, want %d states in reading order", at, len(riskiest.Steps)+1)
	}
	labels := eval[[]string](t, b, `Array.from(document.querySelectorAll("#pathgraph g.state title")).map(e => e.textContent)`)
	wantLabels := []string{riskiest.Entry}
	for _, s := range riskiest.Steps {
		wantLabels = append(wantLabels, s.To)
	}
	if !slices.Equal(labels, wantLabels) {
		t.Errorf("the path's states are %q, want %q", labels, wantLabels)
	}
	chokes := eval[int](t, b, `document.querySelectorAll("#pathgraph g.step.choke").length`)
	var fp server.FixPlanBody
	f.api(t, nil, "/api/v1/fixplan", &fp)
	wantChokes := 0
	for _, s := range riskiest.Steps {
		for _, c := range fp.ChokePoints {
			if slices.Contains(c.Steps, s.From+" -> "+s.To) {
				wantChokes++
				break
			}
		}
	}
	if chokes != wantChokes {
		t.Errorf("the path page highlights %d choke points, want %d", chokes, wantChokes)
	}
	b.clean(t, "path")
	if *update {
		// The longest path: it shows a row that goes on below.
		longest := slices.MaxFunc(paths.Items, func(a, b graph.Path) int { return len(a.Steps) - len(b.Steps) })
		b.open(t, f.url+"/paths/"+longest.ID, "#pathgraph")
		shot(t, b, "dashboard-path.png")
		b.open(t, f.url+"/paths/"+riskiest.ID, "#pathgraph")
	}

	// Follow the first node that is an asset to its page.
	n := slices.IndexFunc(riskiest.Steps, func(s graph.Step) bool { return s.Asset != "" })
	step := riskiest.Steps[n]
	b.do(t, "follow a node", chromedp.Click(chromedp.CSS(fmt.Sprintf(`#pathgraph g[data-state="%d"] a`, n+1))), chromedp.WaitVisible(chromedp.ID("akey")))
	var detail server.AssetDetail
	f.api(t, nil, "/api/v1/assets/"+url.PathEscape(step.Asset), &detail)
	if got := eval[string](t, b, `document.getElementById("akey").textContent`); got != detail.Key {
		t.Errorf("the node of step %d opens asset %q, want %q", n+1, got, detail.Key)
	}
	b.clean(t, "asset")

	// Upload a report through the form; its job runs and its scan appears.
	report, err := examples.Files.ReadFile("reports/edge-proxy-image.trivy.json")
	if err != nil {
		t.Fatal(err)
	}
	up := filepath.Join(t.TempDir(), "e2e-upload.trivy.json")
	if err := os.WriteFile(up, report, 0o600); err != nil {
		t.Fatal(err)
	}
	b.open(t, f.url+"/scans", "#upload")
	b.do(t, "upload", chromedp.SetUploadFiles(chromedp.ID("report"), []string{up}), chromedp.Click(chromedp.ID("upload-submit")))
	b.until(t, "the job's page", `location.pathname.startsWith("/jobs/") && document.getElementById("job-state") !== null`)
	b.until(t, "the job ends", `document.getElementById("job-state") !== null && document.getElementById("job-state").textContent === "succeeded"`)
	b.open(t, f.url+"/scans", "#scans")
	inputs := eval[[]string](t, b, `Array.from(document.querySelectorAll("#scans td.input")).map(e => e.textContent)`)
	if !slices.Contains(inputs, "e2e-upload.trivy.json") {
		t.Errorf("after the upload, the scans' inputs are %q, want e2e-upload.trivy.json among them", inputs)
	}
	b.clean(t, "upload")

	// A truncated report: its job fails, and the scans page lists it with
	// its error as text.
	cut := filepath.Join(t.TempDir(), "cut<b>short<i>x.trivy.json")
	if err := os.WriteFile(cut, report[:len(report)/2], 0o600); err != nil {
		t.Fatal(err)
	}
	b.open(t, f.url+"/scans", "#upload")
	b.do(t, "upload a truncated report", chromedp.SetUploadFiles(chromedp.ID("report"), []string{cut}), chromedp.Click(chromedp.ID("upload-submit")))
	b.until(t, "the failed job's page", `location.pathname.startsWith("/jobs/") && document.getElementById("job-state") !== null`)
	b.until(t, "the job fails", `document.getElementById("job-state") !== null && document.getElementById("job-state").textContent === "failed"`)
	jobID := strings.TrimPrefix(eval[string](t, b, `location.pathname`), "/jobs/")
	var failed server.Page[store.Job]
	f.api(t, nil, "/api/v1/jobs?state=failed", &failed)
	if len(failed.Items) == 0 || failed.Items[0].ID != jobID || failed.Items[0].Error == "" {
		t.Fatalf("GET /api/v1/jobs?state=failed = %+v, want job %s first with its error", failed.Items, jobID)
	}
	b.open(t, f.url+"/scans", "#jobs")
	row := eval[[]string](t, b, `Array.from(document.querySelectorAll("#jobs tr[data-job='`+jobID+`'] td")).map(e => e.textContent)`)
	if len(row) != 10 || row[1] != "cut<b>short<i>x.trivy.json" || row[3] != "failed" || row[9] != failed.Items[0].Error {
		t.Errorf("the scans page's row of the failed job = %q, want its name, state failed and error %q as text", row, failed.Items[0].Error)
	}
	if n := eval[int](t, b, `document.querySelectorAll("#jobs b, #jobs i").length`); n != 0 {
		t.Errorf("the scans page made %d elements of a report's name", n)
	}
	b.clean(t, "failed upload")

	// Sign out: the session ends, and a page sends to the sign-in form.
	b.do(t, "sign out", chromedp.Click(chromedp.ID("signout")), chromedp.WaitVisible(chromedp.ID("signin")))
	b.open(t, f.url+"/exposures", "#signin")
	if got := eval[string](t, b, "location.pathname"); got != "/signin" {
		t.Errorf("after signing out, /exposures is at %s, want /signin", got)
	}
	b.clean(t, "sign out")
}

// shot writes a full-page screenshot into docs/.
func shot(t *testing.T, b *browser, name string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 30*time.Second)
	defer cancel()
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join("..", "..", "docs", name), png, 0o644); err != nil {
		t.Fatal(err)
	}
}

// evilSARIF is a SARIF report whose tool, rule, messages and paths hold
// markup, script, event handlers and javascript: links, and a 100 KB
// title.
func evilSARIF(t *testing.T) []byte {
	t.Helper()
	big := strings.Repeat("T", 100<<10)
	doc := map[string]any{"version": "2.1.0", "runs": []any{map[string]any{
		"tool": map[string]any{"driver": map[string]any{"name": `evil<script>alert("tool")</script>`, "informationUri": `javascript:alert("uri")`,
			"rules": []any{map[string]any{"id": `XSS<script>alert("rule")</script>`, "name": `<img src=x onerror=alert("name")>`,
				"shortDescription": map[string]any{"text": `<script>alert("title")</script><img src=x onerror=alert("title")>` + big},
				"fullDescription":  map[string]any{"text": `<a href="javascript:alert('full')">click</a>`},
				"helpUri":          `javascript:alert("help")`}}}},
		"results": []any{map[string]any{"ruleId": `XSS<script>alert("rule")</script>`, "level": "error",
			"message": map[string]any{"text": `<img src=x onerror=alert("msg")> [click](javascript:alert("link")) ` + big},
			"locations": []any{map[string]any{"physicalLocation": map[string]any{
				"artifactLocation": map[string]any{"uri": `src/<script>alert("path")</script>.go`}, "region": map[string]any{"startLine": 3}}}}}},
	}}}
	b, err := json.Marshal(doc)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestBrowserXSS uploads a report full of markup through the browser and
// opens every page that shows it: the text is shown literally, no element
// of it is created, no script runs and no dialog opens.
func TestBrowserXSS(t *testing.T) {
	path := chromium(t)
	f := newFixture(t)
	b := newBrowser(t, path)
	b.signIn(t, f.url, "admin")
	up := filepath.Join(t.TempDir(), `evil<img src=x onerror=alert("file")>.sarif`)
	if err := os.WriteFile(up, evilSARIF(t), 0o600); err != nil {
		t.Fatal(err)
	}
	b.open(t, f.url+"/scans", "#upload")
	b.do(t, "upload the report", chromedp.SetValue(chromedp.ID("target"), "https://github.com/example-shop/shop-api"),
		chromedp.SetUploadFiles(chromedp.ID("report"), []string{up}), chromedp.Click(chromedp.ID("upload-submit")))
	b.until(t, "the job's page", `location.pathname.startsWith("/jobs/") && document.getElementById("job-state") !== null`)
	b.until(t, "the job ends", `document.getElementById("job-state") !== null && document.getElementById("job-state").textContent === "succeeded"`)
	var xs server.Page[model.Exposure]
	f.api(t, nil, "/api/v1/exposures?limit=1000", &xs)
	i := slices.IndexFunc(xs.Items, func(x model.Exposure) bool { return strings.Contains(x.RuleID, "<script>") })
	if i < 0 {
		t.Fatalf("the evil report's exposure is not stored")
	}
	x := xs.Items[i]
	pages := []string{
		"/exposures?limit=500", "/exposures?tool=" + url.QueryEscape(x.Tools[0]), "/exposures/" + x.ID,
		"/assets/" + url.PathEscape(x.Asset), "/scans", "/audit", "/", "/fixplan", "/paths", "/kpis?by=team",
		"/blast-radius?asset=" + url.QueryEscape(x.Asset),
	}
	for _, p := range pages {
		b.open(t, f.url+p, "main")
		text := eval[string](t, b, `document.body.innerText`)
		created := eval[int](t, b, `document.querySelectorAll("img, iframe, object, embed").length + document.querySelectorAll("script").length - 1 + document.querySelectorAll("a[href^='javascript:' i]").length`)
		if created != 0 {
			t.Errorf("%s: %d elements from the report's markup were created", p, created)
		}
		if eval[bool](t, b, `window.alerted === true`) {
			t.Errorf("%s: a script ran", p)
		}
		switch {
		case strings.HasPrefix(p, "/exposures/"):
			for _, lit := range []string{`<script>alert("title")</script><img src=x onerror=alert("title")>`, `XSS<script>alert("rule")</script>`, `src/<script>alert("path")</script>.go`} {
				if !strings.Contains(text, lit) {
					t.Errorf("%s does not show %q literally", p, lit)
				}
			}
			if n := len(text); n > 40<<10 {
				t.Errorf("%s shows %d characters of text, want the 100 KB title cut short", p, n)
			}
		case strings.HasPrefix(p, "/exposures"):
			if !strings.Contains(text, `<script>alert("title")</script>`) {
				t.Errorf("%s does not show the title's markup literally", p)
			}
		case p == "/scans":
			if !strings.Contains(text, `evil<script>alert("tool")</script>`) {
				t.Errorf("%s does not show the tool's name literally", p)
			}
			// Chromium sends the file name's quotes as %22.
			if !strings.Contains(text, "Recent uploads") || !strings.Contains(text, `evil<img src=x onerror=alert(%22file%22)>.sarif	user:admin	succeeded`) {
				t.Errorf("%s does not list the upload with its file name literally", p)
			}
		}
		b.clean(t, p)
	}
}

// TestBrowserTeamScope signs in as an analyst of team-web: the pages show
// only team-web's assets, and another team's asset or exposure is not
// found, as through the API.
func TestBrowserTeamScope(t *testing.T) {
	path := chromium(t)
	f := newFixture(t)
	es, err := f.app.Estate(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	owner := func(key string) string {
		if a := es.Assets[es.Canonical(key)]; a != nil {
			return a.Owner
		}
		return ""
	}
	var all server.Page[model.Exposure]
	f.api(t, nil, "/api/v1/exposures?limit=1000", &all)
	var theirs model.Exposure
	for _, x := range all.Items {
		if o := owner(x.Asset); o != "" && o != "team-web" {
			theirs = x
			break
		}
	}
	if theirs.ID == "" {
		t.Fatal("the demo has no exposure of a team other than team-web")
	}
	b := newBrowser(t, path)
	b.signIn(t, f.url, "web")
	seen := 0
	for _, p := range []string{"/assets", "/exposures?limit=500", "/scans", "/"} {
		b.open(t, f.url+p, "main")
		keys := eval[[]string](t, b, `Array.from(document.querySelectorAll("main a[href^='/assets/']")).map(a => decodeURIComponent(a.getAttribute("href").slice(8))).concat(Array.from(document.querySelectorAll("[data-asset]")).map(e => e.dataset.asset))`)
		for _, k := range keys {
			seen++
			if o := owner(k); o != "team-web" {
				t.Errorf("%s as team-web shows asset %s of %q", p, k, o)
			}
		}
		b.clean(t, p)
	}
	if seen == 0 {
		t.Errorf("team-web's pages show none of its assets")
	}
	b.open(t, f.url+"/paths", "#paths")
	ids := eval[[]string](t, b, `Array.from(document.querySelectorAll("#paths tr[data-path]")).map(e => e.dataset.path)`)
	var paths server.PathsBody
	f.api(t, nil, "/api/v1/paths", &paths)
	for _, id := range ids {
		p := paths.Items[slices.IndexFunc(paths.Items, func(p graph.Path) bool { return p.ID == id })]
		if !slices.ContainsFunc(p.Steps, func(s graph.Step) bool { return owner(s.Asset) == "team-web" }) {
			t.Errorf("team-web sees path %s, which crosses none of its assets", id)
		}
	}
	b.clean(t, "/paths")
	b.setQuiet(true)
	for _, p := range []string{"/exposures/" + theirs.ID, "/assets/" + url.PathEscape(theirs.Asset)} {
		b.open(t, f.url+p, "main")
		if got := eval[string](t, b, `document.title`); !strings.HasPrefix(got, "Not Found") {
			t.Errorf("%s as team-web has title %q, want Not Found", p, got)
		}
		if eval[bool](t, b, `document.getElementById("akey") !== null || document.getElementById("xid") !== null || document.getElementById("owner") !== null`) {
			t.Errorf("%s as team-web shows the other team's record", p)
		}
	}
	b.setQuiet(false)
	b.clean(t, "other team's pages")
}
