package server

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/ctem-dev/ctem/internal/app"
	"github.com/ctem-dev/ctem/internal/graph"
	"github.com/ctem-dev/ctem/internal/model"
	"github.com/ctem-dev/ctem/internal/store"
	"github.com/ctem-dev/ctem/internal/validate"
)

// The demo's relation that gives the shop API its service account: the
// what-if of the route-by-role test removes it.
const (
	shopAPI   = "k8s:prod/shop/Deployment/shop-api"
	shopAPISA = "k8s:prod/shop/ServiceAccount/shop-api"
)

// validationCalls returns, for the route-by-role test, the path (and
// body) of a call of each validation route that succeeds for every role
// allowed. The path evidence route's path is found at call time (see
// currentPath): triage by earlier calls may close paths.
func validationCalls(t testing.TB, f *fixture) map[string]string {
	t.Helper()
	return map[string]string{
		"blast-radius": "/api/v1/assets/" + url.PathEscape(shopAPI) + "/blast-radius",
		"whatif":       "/api/v1/whatif",
		"whatif.body":  fmt.Sprintf(`{"remove":[{"from":%q,"type":"uses-identity","to":%q}]}`, shopAPI, shopAPISA),
		"evidence":     "/api/v1/evidence?limit=5",
	}
}

// currentPath returns the id of the riskiest open path now.
func currentPath(t testing.TB, f *fixture) string {
	t.Helper()
	pl, err := f.app.Paths(context.Background(), app.PathQuery{})
	if err != nil || len(pl.Paths) == 0 {
		t.Fatalf("Paths() = %v, %v; want the demo's paths", pl, err)
	}
	return pl.Paths[0].ID
}

// unchanged is what a read must leave as it was: the row counts, the
// latest analysis, the open paths and the fix plan.
type unchanged struct {
	Counts   store.Counts
	Analysis int64
	Paths    []string
	Plan     graph.Plan
}

func snapshot(t testing.TB, f *fixture) unchanged {
	t.Helper()
	ctx := context.Background()
	var u unchanged
	u.Counts = f.counts(t)
	last, ok, err := f.st.LatestAnalysis(ctx)
	if err != nil || !ok {
		t.Fatalf("LatestAnalysis() = %v, %v, want one", ok, err)
	}
	u.Analysis = last.ID
	pl, err := f.app.Paths(ctx, app.PathQuery{})
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range pl.Paths {
		u.Paths = append(u.Paths, fmt.Sprintf("%s %.9f %v", p.ID, p.Risk, p.Validated))
	}
	fp, err := f.app.FixPlan(ctx, 0, graph.Options{})
	if err != nil {
		t.Fatal(err)
	}
	u.Plan = fp.Plan
	return u
}

// TestWhatIfOverHTTP checks issue 18's point through the API: a what-if
// taking the fix plan's first action removes exactly the risk the plan
// says it removes, the first two actions what the plan's curve says, and
// nothing stored changes (row counts, the latest analysis id, the open
// paths and the plan). Bad bodies are 400 and change nothing either.
func TestWhatIfOverHTTP(t *testing.T) {
	t.Parallel()
	f := newFixtureOn(t, Limits{}, true, nil, newStoreTest)
	var fp FixPlanBody
	if res := f.do(t, "GET", "/api/v1/fixplan", "viewer", "", nil); res.status != http.StatusOK {
		t.Fatalf("GET /api/v1/fixplan = %d %s", res.status, res.body)
	} else {
		res.decode(t, &fp)
	}
	if len(fp.Items) < 2 {
		t.Fatalf("fix plan = %d items, want at least 2 on the demo", len(fp.Items))
	}
	before := snapshot(t, f)
	for n := 1; n <= 2; n++ {
		var keys []string
		for _, it := range fp.Items[:n] {
			keys = append(keys, it.Key)
		}
		body, _ := json.Marshal(map[string]any{"fix": keys})
		res := f.do(t, "POST", "/api/v1/whatif", "viewer", "application/json", strings.NewReader(string(body)))
		if res.status != http.StatusOK {
			t.Fatalf("POST /api/v1/whatif %s = %d %s", body, res.status, res.body)
		}
		var w app.WhatIf
		res.decode(t, &w)
		want := fp.Risk - fp.Items[n-1].Remaining
		if math.Abs(w.RiskRemoved-want) > 1e-9 {
			t.Errorf("POST /api/v1/whatif %s: risk_removed = %v, want %v (the plan's)", body, w.RiskRemoved, want)
		}
		if n == 1 && math.Abs(w.RiskRemoved-fp.Items[0].RiskRemoved) > 1e-9 {
			t.Errorf("POST /api/v1/whatif %s: risk_removed = %v, want the first action's risk_removed %v", body, w.RiskRemoved, fp.Items[0].RiskRemoved)
		}
		if math.Abs(w.Before.Risk-fp.Risk) > 1e-9 || len(w.Closed) == 0 {
			t.Errorf("POST /api/v1/whatif %s: before %v, %d closed; want the plan's risk %v and some closed", body, w.Before.Risk, len(w.Closed), fp.Risk)
		}
	}
	for _, tc := range []struct {
		name, body string
		status     int
	}{
		{"empty", `{}`, 400},
		{"unknown field", `{"fix":["x"],"commit":true}`, 400},
		{"unknown action", `{"fix":["no-such-action"]}`, 400},
		{"relation without type", `{"remove":[{"from":"a","type":"","to":"b"}]}`, 400},
		{"unknown relation", `{"remove":[{"from":"` + shopAPI + `","type":"mounts","to":"` + shopAPISA + `"}]}`, 400},
		{"not JSON", `fix=1`, 400},
	} {
		res := f.do(t, "POST", "/api/v1/whatif", "analyst", "application/json", strings.NewReader(tc.body))
		if res.status != tc.status {
			t.Errorf("POST /api/v1/whatif (%s) = %d %s, want %d", tc.name, res.status, res.body, tc.status)
		}
	}
	if res := f.do(t, "POST", "/api/v1/whatif", "uploader", "application/json", strings.NewReader(`{"fix":["`+fp.Items[0].Key+`"]}`)); res.status != http.StatusForbidden {
		t.Errorf("POST /api/v1/whatif as uploader = %d, want 403", res.status)
	}
	if diff := cmp.Diff(snapshot(t, f), before); diff != "" {
		t.Errorf("stored data after what-ifs (-got +want):\n%s", diff)
	}
}

// TestValidationTeamScope checks the IDOR cases of the validation routes:
// a team-scoped token gets 404 for another team's asset (blast radius),
// path (evidence) and action or relation (what-if), never data; it
// reads its own; its what-if counts its own paths only; its evidence
// listing holds its team's facts only.
func TestValidationTeamScope(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	f := newFixtureOn(t, Limits{}, true, nil, newStoreTest)
	const team, tok = "team-web", webAnalyst
	mine := demoExposure(t, f, team)
	theirs := demoExposure(t, f, "team-orders")
	_, owners, err := f.srv.estateNow(ctx)
	if err != nil {
		t.Fatal(err)
	}
	// Facts on both teams' exposures.
	recordFacts(t, f, "ctem-validate", model.EvidenceProbeConfirmed, time.Now(), mine, theirs)

	// Blast radius.
	for _, tc := range []struct {
		token, asset string
		status       int
	}{
		{tok, mine.Asset, 200}, {tok, theirs.Asset, 404}, {tok, "no-such-asset", 404},
		{"viewer", theirs.Asset, 200}, {"viewer", mine.Asset, 200}, {"uploader", mine.Asset, 403}, {"", mine.Asset, 401},
	} {
		res := f.do(t, "GET", "/api/v1/assets/"+url.PathEscape(tc.asset)+"/blast-radius", tc.token, "", nil)
		if res.status != tc.status {
			t.Errorf("GET blast-radius of %s as %q = %d %.200s, want %d", tc.asset, tc.token, res.status, res.body, tc.status)
		}
		if res.status == 404 && strings.Contains(string(res.body), `"jewels"`) {
			t.Errorf("GET blast-radius of %s as %q: a 404 holds data: %s", tc.asset, tc.token, res.body)
		}
	}
	// A key whose slashes are not encoded reaches the same answer, and
	// the same refusal (the asset route receives it).
	for asset, status := range map[string]int{mine.Asset: 200, theirs.Asset: 404} {
		req, err := http.NewRequest("GET", f.url+"/api/v1/assets/"+asset+"/blast-radius", nil)
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Authorization", "Bearer "+f.tokens[tok])
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		var br app.BlastRadius
		err = json.NewDecoder(res.Body).Decode(&br)
		res.Body.Close()
		if res.StatusCode != status || (status == 200 && (err != nil || br.Asset != asset)) {
			t.Errorf("GET blast-radius of %s unencoded as %s = %d (asset %q), want %d", asset, team, res.StatusCode, br.Asset, status)
		}
	}
	// The API's blast radius is the application's.
	want, err := f.app.BlastRadius(ctx, mine.Asset, graph.Options{})
	if err != nil {
		t.Fatal(err)
	}
	var got app.BlastRadius
	f.do(t, "GET", "/api/v1/assets/"+url.PathEscape(mine.Asset)+"/blast-radius", tok, "", nil).decode(t, &got)
	if got.Asset != want.Asset || math.Abs(got.Risk-want.Risk) > 1e-9 || len(got.Jewels) != len(want.Jewels) || len(got.Paths) != len(want.Paths) {
		t.Errorf("GET blast-radius of %s = %s risk %v, %d jewels, %d paths; want %s %v, %d, %d", mine.Asset, got.Asset, got.Risk, len(got.Jewels), len(got.Paths),
			want.Asset, want.Risk, len(want.Jewels), len(want.Paths))
	}

	// Path evidence: a path a team cannot see is 404 to it (on the demo
	// team-web and team-data see every path; team-none owns nothing and
	// sees none).
	var visible PathsBody
	f.do(t, "GET", "/api/v1/paths", tok, "", nil).decode(t, &visible)
	if len(visible.Items) == 0 {
		t.Fatalf("paths: none visible to %s", team)
	}
	for _, p := range visible.Items {
		if res := f.do(t, "GET", "/api/v1/paths/"+p.ID+"/evidence", "nobody", "", nil); res.status != 404 || strings.Contains(string(res.body), `"steps"`) {
			t.Errorf("GET evidence of path %s as team-none = %d %.200s, want 404 without data", p.ID, res.status, res.body)
		}
		for _, who := range []string{"viewer", "analyst", "admin", tok} {
			if res := f.do(t, "GET", "/api/v1/paths/"+p.ID+"/evidence", who, "", nil); res.status != 200 {
				t.Errorf("GET evidence of path %s as %s = %d, want 200", p.ID, who, res.status)
			}
		}
	}
	// A team reads the facts about its own exposures only.
	for _, p := range visible.Items {
		var pe app.PathEvidence
		f.do(t, "GET", "/api/v1/paths/"+p.ID+"/evidence", tok, "", nil).decode(t, &pe)
		for _, s := range pe.Steps {
			for _, fc := range s.Facts {
				if !owners[team][fc.Asset] {
					t.Errorf("evidence of path %s as %s shows a fact on %s (not its team's)", p.ID, team, fc.Asset)
				}
			}
		}
	}

	// What-if: another team's action or relation is 404; a team's own
	// action is answered, counting the paths that team sees only. On the
	// demo every action of the plan is team-orders'.
	_, ordersSecret, err := CreateToken(ctx, f.st, TokenRequest{Name: "orders", Role: "viewer", Team: "team-orders"}, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	f.tokens["orders"] = ordersSecret
	fp, err := f.app.FixPlan(ctx, 0, graph.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if len(fp.Plan.Items) == 0 || fp.Plan.Items[0].Owner != "team-orders" {
		t.Fatalf("fix plan = %+v, want team-orders' action first on the demo", fp.Plan.Items)
	}
	action := fp.Plan.Items[0].Key
	if res := f.do(t, "POST", "/api/v1/whatif", tok, "application/json", strings.NewReader(`{"fix":["`+action+`"]}`)); res.status != 404 || strings.Contains(string(res.body), "risk_removed") {
		t.Errorf("what-if of team-orders' action as %s = %d %.200s, want 404 without data", team, res.status, res.body)
	}
	rel := fmt.Sprintf(`{"remove":[{"from":%q,"type":"uses-identity","to":%q}]}`, shopAPI, shopAPISA)
	if res := f.do(t, "POST", "/api/v1/whatif", tok, "application/json", strings.NewReader(rel)); res.status != 404 || strings.Contains(string(res.body), "risk_removed") {
		t.Errorf("what-if removing team-orders' relation as %s = %d %.200s, want 404 without data", team, res.status, res.body)
	}
	var ordersPaths PathsBody
	f.do(t, "GET", "/api/v1/paths", "orders", "", nil).decode(t, &ordersPaths)
	for _, body := range []string{`{"fix":["` + action + `"]}`, rel} {
		res := f.do(t, "POST", "/api/v1/whatif", "orders", "application/json", strings.NewReader(body))
		if res.status != 200 {
			t.Fatalf("what-if %s as team-orders = %d %s, want 200", body, res.status, res.body)
		}
		var w app.WhatIf
		res.decode(t, &w)
		if w.Before.Paths != len(ordersPaths.Items) || len(w.Closed) == 0 {
			t.Errorf("what-if %s as team-orders: %d paths before, %d closed; want the %d it sees, some closed", body, w.Before.Paths, len(w.Closed), len(ordersPaths.Items))
		}
		for _, p := range append(w.Closed, w.Opened...) {
			if !scopeOf(owners["team-orders"]).path(p) {
				t.Errorf("what-if as team-orders lists path %s, which it cannot see", p.ID)
			}
		}
	}

	// The evidence listing: the team's facts only; the unscoped viewer
	// sees both teams'.
	for who, wantAssets := range map[string][]string{tok: {mine.Asset}, "viewer": {mine.Asset, theirs.Asset}} {
		var pg app.EvidencePage
		f.do(t, "GET", "/api/v1/evidence?source=ctem-validate&limit=1000", who, "", nil).decode(t, &pg)
		var assets []string
		for _, e := range pg.Items {
			if !slices.Contains(assets, e.Asset) {
				assets = append(assets, e.Asset)
			}
		}
		slices.Sort(assets)
		slices.Sort(wantAssets)
		if !slices.Equal(assets, wantAssets) {
			t.Errorf("GET /api/v1/evidence as %s: facts on %v, want on %v", who, assets, wantAssets)
		}
	}
	// Asking by the other team's asset lists nothing.
	var pg app.EvidencePage
	f.do(t, "GET", "/api/v1/evidence?asset="+url.QueryEscape(theirs.Asset), tok, "", nil).decode(t, &pg)
	if len(pg.Items) != 0 {
		t.Errorf("GET /api/v1/evidence?asset=%s as %s = %d facts, want none", theirs.Asset, team, len(pg.Items))
	}
}

// recordFacts records a fact of kind from source, at time at, on every
// finding of each exposure, as ctem validate does.
func recordFacts(t testing.TB, f *fixture, source string, kind model.EvidenceKind, at time.Time, xs ...model.Exposure) {
	t.Helper()
	var ids []string
	var evs []model.Evidence
	for _, x := range xs {
		for _, fid := range x.FindingIDs {
			ids = append(ids, fid)
			evs = append(evs, model.Evidence{Kind: kind, Asset: x.Asset, FindingID: fid, Detail: "open via test <b>probe</b>", At: at})
		}
	}
	if _, err := f.st.ReplaceEvidence(context.Background(), source, ids, evs, time.Time{}); err != nil {
		t.Fatal(err)
	}
}

// TestPathEvidence checks a path's validation through the API: probe
// evidence recorded on a step's weakness and a re-analysis make that
// step validated with probe-confirmed among its kinds and the fact in
// its facts; the fact is stale only past max_age; the steps' flags
// agree with the path's; the evidence listing pages through every fact
// once.
func TestPathEvidence(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	f := newFixtureOn(t, Limits{}, true, nil, newStoreTest)
	pl, err := f.app.Paths(ctx, app.PathQuery{})
	if err != nil {
		t.Fatal(err)
	}
	// The first unvalidated step with a weakness, of the riskiest path
	// that has one.
	var pathID, weak string
	for _, p := range pl.Paths {
		for _, s := range p.Steps {
			if !s.Validated && s.Weakness != "" {
				pathID, weak = p.ID, s.Weakness
				break
			}
		}
		if pathID != "" {
			break
		}
	}
	if pathID == "" {
		t.Fatal("no path of the demo has an unvalidated step with a weakness")
	}
	x, err := f.st.Exposure(ctx, weak)
	if err != nil {
		t.Fatal(err)
	}
	at := time.Now().Add(-40 * 24 * time.Hour).UTC().Truncate(time.Second)
	recordFacts(t, f, "ctem-validate", model.EvidenceProbeConfirmed, at, x)
	if _, err := f.app.Reanalyze(ctx, []string{x.Asset}, "probe results"); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		query string
		stale bool
	}{{"", true}, {"?max_age=60d", false}} {
		res := f.do(t, "GET", "/api/v1/paths/"+pathID+"/evidence"+tc.query, "viewer", "", nil)
		if res.status != 200 {
			t.Fatalf("GET evidence of %s%s = %d %s", pathID, tc.query, res.status, res.body)
		}
		var pe app.PathEvidence
		res.decode(t, &pe)
		found, all := false, true
		for _, s := range pe.Steps {
			all = all && s.Validated
			if s.Weakness != weak {
				continue
			}
			if !s.Validated || !slices.Contains(s.Kinds, "probe-confirmed") {
				t.Errorf("step %d of %s: validated %v, kinds %v; want validated by probe-confirmed", s.N, pathID, s.Validated, s.Kinds)
			}
			for _, fc := range s.Facts {
				if fc.Kind == model.EvidenceProbeConfirmed && fc.Exposure == weak {
					found = true
					if fc.Stale != tc.stale || !fc.Validating || !fc.At.Equal(at) || fc.AgeSeconds < 40*24*3600 {
						t.Errorf("fact of step %d (%s) = stale %v, validating %v, at %v, age %v; want stale %v, validating, at %v, 40 days old",
							s.N, tc.query, fc.Stale, fc.Validating, fc.At, fc.AgeSeconds, tc.stale, at)
					}
				}
			}
		}
		if !found {
			t.Errorf("GET evidence of %s%s: no probe-confirmed fact on %s", pathID, tc.query, weak)
		}
		if all != pe.Validated {
			t.Errorf("GET evidence of %s: every step validated = %v, path validated = %v; want equal", pathID, all, pe.Validated)
		}
	}
	for _, q := range []string{"?max_age=soon", "?max_age=-1d", "?stale=true"} {
		if res := f.do(t, "GET", "/api/v1/paths/"+pathID+"/evidence"+q, "viewer", "", nil); res.status != 400 {
			t.Errorf("GET evidence%s = %d, want 400", q, res.status)
		}
	}
	if res := f.do(t, "GET", "/api/v1/paths/0000000000000000/evidence", "viewer", "", nil); res.status != 404 {
		t.Errorf("GET evidence of no path = %d, want 404", res.status)
	}

	// Paging the listing by one returns each fact once, in key order.
	var keys []store.EvidenceKey
	for e, err := range f.st.AllEvidence(ctx) {
		if err != nil {
			t.Fatal(err)
		}
		if e.Source == "ctem-validate" {
			keys = append(keys, store.KeyOf(e))
		}
	}
	slices.SortFunc(keys, func(a, b store.EvidenceKey) int { return slices.Compare(a[:], b[:]) })
	var want []string
	for _, k := range keys {
		want = append(want, fmt.Sprint(k))
	}
	var got []string
	cursor := ""
	for range len(want) + 2 {
		q := "/api/v1/evidence?source=ctem-validate&limit=1"
		if cursor != "" {
			q += "&cursor=" + url.QueryEscape(cursor)
		}
		var pg app.EvidencePage
		res := f.do(t, "GET", q, "viewer", "", nil)
		if res.status != 200 {
			t.Fatalf("GET %s = %d %s", q, res.status, res.body)
		}
		res.decode(t, &pg)
		for _, e := range pg.Items {
			got = append(got, fmt.Sprint(store.KeyOf(e.Evidence)))
		}
		if cursor = pg.NextCursor; cursor == "" {
			break
		}
	}
	if len(want) == 0 || !slices.Equal(got, want) {
		t.Errorf("evidence paged by one = %v, want %v", got, want)
	}
	for _, q := range []string{"cursor=bm9wZQ", "limit=0", "max_age=x"} {
		if res := f.do(t, "GET", "/api/v1/evidence?"+q, "viewer", "", nil); res.status != 400 {
			t.Errorf("GET /api/v1/evidence?%s = %d, want 400", q, res.status)
		}
	}
}

// TestHeavyGate checks the bound on in-memory analyses: a third waits
// until a place is given back, or gives up when its context ends.
func TestHeavyGate(t *testing.T) {
	t.Parallel()
	var g heavyGate
	var leaves []func()
	for range maxHeavy {
		leave, err := g.enter(context.Background())
		if err != nil {
			t.Fatalf("enter() = %v, want a place", err)
		}
		leaves = append(leaves, leave)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	if _, err := g.enter(ctx); err == nil {
		t.Errorf("enter() with %d in flight = nil, want the context's error", maxHeavy)
	}
	leaves[0]()
	if _, err := g.enter(context.Background()); err != nil {
		t.Errorf("enter() after a leave = %v, want a place", err)
	}
}

// TestEvidenceMaxAge checks that a reading calls stale what ctem
// validate expires: the two defaults are one figure (package app cannot
// import package validate, which imports it).
func TestEvidenceMaxAge(t *testing.T) {
	t.Parallel()
	if app.DefaultEvidenceMaxAge != validate.DefaultMaxAge {
		t.Errorf("app.DefaultEvidenceMaxAge = %v, want validate.DefaultMaxAge %v", app.DefaultEvidenceMaxAge, validate.DefaultMaxAge)
	}
}
