package web_test

import (
	"context"
	"fmt"
	"html"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/ctem-dev/ctem/internal/app"
	"github.com/ctem-dev/ctem/internal/model"
	"github.com/ctem-dev/ctem/internal/server"
)

// Hostile text of a probe's fact: a server banner is whatever the remote
// end sends, so the detail and the source are attacker-controlled.
const (
	evilDetail = `<script>alert("detail")</script><img src=x onerror=alert("detail")> [x](javascript:alert("link"))`
	evilSource = `evil<script>alert("source")</script>`
)

// probedPath records a probe-confirmed fact with hostile text on the
// weakness of the first path step that has one, re-analyses, and
// returns the path's id, the step's number and the exposure.
func probedPath(t testing.TB, f *fixture) (string, int, model.Exposure) {
	t.Helper()
	ctx := context.Background()
	pl, err := f.app.Paths(ctx, app.PathQuery{})
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range pl.Paths {
		for n, s := range p.Steps {
			if s.Weakness == "" || s.Validated {
				continue
			}
			x, err := f.st.Exposure(ctx, s.Weakness)
			if err != nil {
				t.Fatal(err)
			}
			var evs []model.Evidence
			for _, fid := range x.FindingIDs {
				evs = append(evs, model.Evidence{Kind: model.EvidenceProbeConfirmed, Asset: x.Asset, FindingID: fid, Detail: evilDetail, At: time.Now().Add(-time.Hour)})
			}
			if _, err := f.st.ReplaceEvidence(ctx, evilSource, x.FindingIDs, evs, time.Time{}); err != nil {
				t.Fatal(err)
			}
			if _, err := f.app.Reanalyze(ctx, []string{x.Asset}, "probe results"); err != nil {
				t.Fatal(err)
			}
			return p.ID, n + 1, x
		}
	}
	t.Fatal("no path of the demo has an unvalidated step with a weakness")
	return "", 0, model.Exposure{}
}

// TestValidationPages reads the validation pages over HTTP: a path page
// says whether the path and each step are validated and lists the facts
// per step, escaped; an asset page links to its blast radius, whose page
// shows the API's figures; the fix plan's what-if of its first action
// shows the risk the plan says it removes; a team user gets "not found"
// for another team's asset's blast radius.
func TestValidationPages(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	id, step, x := probedPath(t, f)
	c := f.signIn(t, "admin")

	status, _, page := get(t, c, f.url+"/paths/"+id)
	if status != http.StatusOK {
		t.Fatalf("GET /paths/%s = %d", id, status)
	}
	var pe app.PathEvidence
	f.api(t, nil, "/api/v1/paths/"+id+"/evidence", &pe)
	for _, want := range []string{
		fmt.Sprintf(`<span id="validated" data-validated="%v">`, pe.Validated),
		fmt.Sprintf(`<tr data-step="%d" class="">`, step),
		`<td class="validated" data-validated="true">yes: probe-confirmed`,
		"&lt;script&gt;alert(&#34;detail&#34;)&lt;/script&gt;",
		"evil&lt;script&gt;alert(&#34;source&#34;)&lt;/script&gt;",
		`<a href="/exposures/` + x.ID + `">`,
	} {
		if !strings.Contains(page, want) {
			t.Errorf("GET /paths/%s does not hold %q", id, want)
		}
	}
	for _, bad := range []string{"<script>alert", "<img src=x"} {
		if strings.Contains(page, bad) {
			t.Errorf("GET /paths/%s holds %q unescaped", id, bad)
		}
	}

	// The asset page links to the blast radius; its page shows the API's.
	const asset = "k8s:prod/shop/Deployment/shop-api"
	_, _, page = get(t, c, f.url+"/assets/"+asset)
	link := `/blast-radius?asset=` + url.QueryEscape(asset)
	_, rest, _ := strings.Cut(page, `<a id="blast" href="`)
	href, _, _ := strings.Cut(rest, `"`)
	if u, err := url.Parse(html.UnescapeString(href)); err != nil || u.Path != "/blast-radius" || u.Query().Get("asset") != asset {
		t.Errorf("GET /assets/%s links to the blast radius at %q, want %s", asset, href, link)
	}
	status, _, page = get(t, c, f.url+link)
	var br app.BlastRadius
	f.api(t, nil, "/api/v1/assets/"+url.PathEscape(asset)+"/blast-radius", &br)
	if status != http.StatusOK || len(br.Jewels) == 0 || !strings.Contains(page, fmt.Sprintf(`<strong data-kpi="blast_risk">%.1f</strong>`, br.Risk)) {
		t.Errorf("GET %s = %d, want the API's risk %.1f over %d jewels", link, status, br.Risk, len(br.Jewels))
	}
	if n := strings.Count(page, "<tr>") - 2; n != len(br.Jewels)+len(br.Paths) {
		t.Errorf("GET %s shows %d rows, want %d jewels and %d paths", link, n, len(br.Jewels), len(br.Paths))
	}

	// The fix plan's what-if of its first action.
	var fp server.FixPlanBody
	f.api(t, nil, "/api/v1/fixplan", &fp)
	first := fp.Items[0]
	status, _, page = get(t, c, f.url+"/fixplan?whatif="+url.QueryEscape(first.Key))
	if status != http.StatusOK || !strings.Contains(page, fmt.Sprintf(`<strong data-kpi="whatif_removed">%.1f</strong>`, first.RiskRemoved)) {
		t.Errorf("GET /fixplan?whatif=%s = %d, want risk removed %.1f (the plan's)", first.Key, status, first.RiskRemoved)
	}
	if !strings.Contains(page, fmt.Sprintf(`<strong data-kpi="whatif_before">%.1f</strong>`, fp.Risk)) {
		t.Errorf("GET /fixplan?whatif=%s does not show the risk before as the plan's %.1f", first.Key, fp.Risk)
	}
	if status, _, _ := get(t, c, f.url+"/fixplan?whatif=no-such-action"); status != http.StatusBadRequest {
		t.Errorf("GET /fixplan?whatif=no-such-action = %d, want 400", status)
	}

	// The evidence page lists the facts, escaped, with their staleness.
	status, _, page = get(t, c, f.url+"/evidence?source="+url.QueryEscape(evilSource))
	if n := strings.Count(page, `data-asset="`+html.EscapeString(x.Asset)+`"`); status != http.StatusOK || n != len(x.FindingIDs) {
		t.Errorf("GET /evidence?source=... = %d with %d facts on %s, want %d (one per finding)", status, n, x.Asset, len(x.FindingIDs))
	}
	if strings.Contains(page, "<script>alert") || !strings.Contains(page, "evil&lt;script&gt;") || !strings.Contains(page, `<span class="badge">validates</span>`) {
		t.Errorf("GET /evidence does not show the hostile source escaped and the fact as validating")
	}

	// team-web's analyst: another team's asset is not found, and its
	// facts are not listed.
	w := f.signIn(t, "web")
	_, _, page = get(t, w, f.url+"/evidence")
	es, err := f.app.Estate(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	mine := es.Assets[es.Canonical(x.Asset)] != nil && es.Assets[es.Canonical(x.Asset)].Owner == "team-web"
	if got := strings.Contains(page, `data-asset="`+html.EscapeString(x.Asset)+`"`); got != mine {
		t.Errorf("GET /evidence as team-web lists the facts on %s: %v, want %v (team-web's: %v)", x.Asset, got, mine, mine)
	}
	for _, part := range strings.Split(page, `data-asset="`)[1:] {
		k, _, _ := strings.Cut(part, `"`)
		k = html.UnescapeString(k)
		if a := es.Assets[es.Canonical(k)]; a == nil || a.Owner != "team-web" {
			t.Errorf("GET /evidence as team-web lists a fact on %s, not team-web's", k)
		}
	}
	status, _, page = get(t, w, f.url+link)
	if status != http.StatusNotFound || strings.Contains(page, "blast_risk") {
		t.Errorf("GET %s as team-web = %d, want 404 without figures", link, status)
	}
	u := f.signIn(t, "uploader")
	if status, _, _ := get(t, u, f.url+"/fixplan?whatif="+url.QueryEscape(first.Key)); status != http.StatusForbidden {
		t.Errorf("GET /fixplan?whatif as uploader = %d, want 403", status)
	}
}

// TestBrowserValidation opens the validation pages in Chromium: the path
// page draws each step's validation and the hostile fact text literally
// (no element made of it, no script run); the asset page's link opens the
// blast radius, whose jewels are the API's; the fix plan's what-if form
// shows the risk the plan's first action removes; a hostile asset name in
// the blast radius URL shows as text. No console message, CSP violation
// or dialog on any page.
func TestBrowserValidation(t *testing.T) {
	path := chromium(t)
	f := newFixture(t)
	id, step, _ := probedPath(t, f)
	b := newBrowser(t, path)
	b.signIn(t, f.url, "admin")

	created := `document.querySelectorAll("img, iframe, object, embed").length + document.querySelectorAll("script").length - 1 + document.querySelectorAll("a[href^='javascript:' i]").length`
	b.open(t, f.url+"/paths/"+id, "#evidence")
	text := eval[string](t, b, `document.getElementById("evidence").innerText`)
	for _, lit := range []string{`<script>alert("detail")</script><img src=x onerror=alert("detail")>`, evilSource} {
		if !strings.Contains(text, lit) {
			t.Errorf("/paths/%s: the evidence table does not show %q literally", id, lit)
		}
	}
	if n := eval[int](t, b, created); n != 0 {
		t.Errorf("/paths/%s: %d elements from the fact's markup were created", id, n)
	}
	got := eval[string](t, b, fmt.Sprintf(`document.querySelector("#steps tr[data-step='%d'] td.validated").textContent`, step))
	if !strings.HasPrefix(got, "yes") || !strings.Contains(got, "probe-confirmed") {
		t.Errorf("/paths/%s: step %d reads %q, want validated by probe-confirmed", id, step, got)
	}
	b.clean(t, "/paths/"+id)

	const asset = "k8s:prod/shop/Deployment/shop-api"
	b.open(t, f.url+"/assets/"+asset, "#blast")
	b.do(t, "follow the blast radius link", chromedp.Click(chromedp.ID("blast")), chromedp.WaitReady(chromedp.ID("blast-jewels")))
	var br app.BlastRadius
	f.api(t, nil, "/api/v1/assets/"+url.PathEscape(asset)+"/blast-radius", &br)
	if n := eval[int](t, b, `document.querySelectorAll("#blast-jewels tbody tr").length`); n != len(br.Jewels) {
		t.Errorf("blast radius of %s: %d jewels drawn, want the API's %d", asset, n, len(br.Jewels))
	}
	b.clean(t, "/blast-radius")

	var fp server.FixPlanBody
	f.api(t, nil, "/api/v1/fixplan", &fp)
	b.open(t, f.url+"/fixplan", "#whatif")
	b.do(t, "submit the what-if form", chromedp.Click(chromedp.CSS(`#whatif button`)), chromedp.WaitReady(chromedp.ID("whatif-result")))
	if got := eval[string](t, b, `document.querySelector("[data-kpi=whatif_removed]").textContent`); got != fmt.Sprintf("%.1f", fp.Items[0].RiskRemoved) {
		t.Errorf("what-if of the plan's first action removes %s, want the plan's %.1f", got, fp.Items[0].RiskRemoved)
	}
	b.clean(t, "/fixplan?whatif")

	b.open(t, f.url+"/evidence", "#facts")
	if text := eval[string](t, b, `document.getElementById("facts").innerText`); !strings.Contains(text, evilSource) || !strings.Contains(text, `<script>alert("detail")</script>`) {
		t.Errorf("/evidence does not show the hostile fact literally")
	}
	if n := eval[int](t, b, created); n != 0 {
		t.Errorf("/evidence: %d elements from the fact's markup were created", n)
	}
	b.clean(t, "/evidence")

	b.setQuiet(true)
	b.open(t, f.url+"/blast-radius?asset="+url.QueryEscape(`<img src=x onerror=alert("asset")>`), "main")
	// The problem quotes the name as Go does (%q): its quotes escaped.
	if !strings.Contains(eval[string](t, b, `document.getElementById("problem").innerText`), `<img src=x onerror=alert(\"asset\")>`) || eval[int](t, b, created) != 0 {
		t.Errorf("the blast radius of a hostile name does not show it literally, or made an element of it")
	}
	b.setQuiet(false)
	b.clean(t, "/blast-radius?asset=hostile")
}
