package graph

import (
	"bytes"
	"encoding/json"
	"math"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/ctem-dev/ctem/internal/intel/effect"
	"github.com/ctem-dev/ctem/internal/model"
)

// diamond has two ways into one service account: a KEV RCE on w1 and a
// bare one on w2.
func diamond() *Input {
	kev := weak("CVE-KEV", "w1", model.FindingVulnerability, effect.Exec)
	kev.KEV = true
	return &Input{
		Relations: []model.Relation{rel("internet", model.RelExposes, "lb"), rel("lb", model.RelRoutesTo, "w1"), rel("lb", model.RelRoutesTo, "w2"),
			rel("w1", model.RelUsesIdentit, "sa"), rel("w2", model.RelUsesIdentit, "sa"), rel("sa", model.RelCan, "db", "read")},
		Weaknesses: []Weakness{kev, weak("CVE-BARE", "w2", model.FindingVulnerability, effect.Exec)},
		Jewels:     []Jewel{{Asset: "db", Value: 10}},
	}
}

func TestYenOrderAndLimits(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		opt       Options
		wantLikes []float64
	}{
		{"k=5 finds both", Options{}, []float64{0.95, 0.3}},
		{"k=1 finds the best", Options{K: 1}, []float64{0.95}},
		{"max steps too short", Options{MaxSteps: 3}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			res, err := Analyze(diamond(), tt.opt)
			if err != nil {
				t.Fatal(err)
			}
			var got []float64
			for _, p := range res.Paths {
				got = append(got, math.Round(p.Likelihood*1000)/1000)
				seen := map[string]bool{p.Entry: true}
				for _, s := range p.Steps {
					if seen[s.To] {
						t.Errorf("Analyze() path %s revisits %s, want a simple path", p.ID, s.To)
					}
					seen[s.To] = true
				}
				if math.Abs(p.Risk-10*p.Likelihood) > 1e-9 {
					t.Errorf("Analyze() risk = %v, want %v", p.Risk, 10*p.Likelihood)
				}
			}
			if diff := cmp.Diff(got, tt.wantLikes); diff != "" {
				t.Errorf("Analyze(%+v) likelihoods (-got +want):\n%s", tt.opt, diff)
			}
		})
	}
}

func TestPriorityChokePointsAndPlan(t *testing.T) {
	t.Parallel()
	res, err := Analyze(diamond(), Options{})
	if err != nil {
		t.Fatal(err)
	}
	// Both paths share identity(sa) → read(db): the cut is one action of
	// effort 1 that removes a step both need.
	if len(res.ChokePoints) != 1 {
		t.Fatalf("Analyze() choke points = %+v, want 1", res.ChokePoints)
	}
	cp := res.ChokePoints[0]
	for _, p := range res.Paths {
		if !cuts(p, cp.Action.Key) {
			t.Errorf("choke point %s does not cut path %s", cp.Action.Key, p.ID)
		}
	}
	// Fixing the KEV leaves the 0.3 path: 10 × (1 − 0.05·0.7) − 10 × 0.3.
	wantKEV := 10*(1-0.05*0.7) - 10*0.3
	for _, pr := range res.Priorities {
		if pr.ExposureID == "CVE-KEV" && math.Abs(pr.RiskRemoved-wantKEV) > 1e-6 {
			t.Errorf("priority(CVE-KEV) = %v, want %v", pr.RiskRemoved, wantKEV)
		}
	}
	if res.Priorities[0].ExposureID != "CVE-KEV" {
		t.Errorf("Priorities[0] = %s, want CVE-KEV", res.Priorities[0].ExposureID)
	}
	items := res.Plan.Items
	if len(items) == 0 || items[len(items)-1].Remaining > 1e-9 {
		t.Fatalf("Plan = %+v, want a plan that removes all risk", res.Plan)
	}
	if !cuts(res.Paths[0], items[0].Key) || !cuts(res.Paths[1], items[0].Key) {
		t.Errorf("Plan[0] = %s, want the shared step removed first (best risk per effort)", items[0].Key)
	}
	if got := res.Plan.Budget(0); len(got.Items) != 0 {
		t.Errorf("Budget(0) = %d items, want 0", len(got.Items))
	}
	if got := res.Plan.Budget(1); len(got.Items) != 1 {
		t.Errorf("Budget(1) = %d items, want 1", len(got.Items))
	}
}

func TestReanalyze(t *testing.T) {
	t.Parallel()
	two := func(cut bool) *Input {
		a := groundTruth[0].in
		b := groundTruth[4].in
		in := &Input{Assets: append(slices.Clone(a.Assets), b.Assets...), Relations: append(slices.Clone(a.Relations), b.Relations...),
			Weaknesses: append(slices.Clone(a.Weaknesses), b.Weaknesses...), Jewels: append(slices.Clone(a.Jewels), b.Jewels...)}
		if cut {
			in.Relations = slices.DeleteFunc(in.Relations, func(r model.Relation) bool { return r.Type == model.RelConnectsTo })
		}
		return in
	}
	prev, err := Analyze(two(false), Options{})
	if err != nil {
		t.Fatal(err)
	}
	_, same, err := Reanalyze(prev, two(false), Options{})
	if err != nil {
		t.Fatal(err)
	}
	if same.Recomputed != 0 || same.Reused != 2 || len(same.Opened)+len(same.Closed) != 0 {
		t.Errorf("Reanalyze(unchanged) = %+v, want 0 recomputed, 2 reused, no change", same)
	}
	next, d, err := Reanalyze(prev, two(true), Options{})
	if err != nil {
		t.Fatal(err)
	}
	var sqli []string
	for _, p := range prev.Paths {
		if p.Jewel == "orders" {
			sqli = append(sqli, p.ID)
		}
	}
	slices.Sort(sqli)
	if d.Recomputed != 1 || d.Reused != 1 || !slices.Equal(d.Closed, sqli) || len(d.Opened) != 0 {
		t.Errorf("Reanalyze(connects-to removed) = %+v, want 1 recomputed, 1 reused, closed %v", d, sqli)
	}
	if len(next.Paths) != len(prev.Paths)-len(sqli) {
		t.Errorf("Reanalyze() paths = %d, want %d", len(next.Paths), len(prev.Paths)-len(sqli))
	}
}

func TestJSONContract(t *testing.T) {
	t.Parallel()
	in := groundTruth[4].in
	res, err := Analyze(&in, Options{})
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := WriteJSON(&buf, res.Paths[:1]); err != nil {
		t.Fatal(err)
	}
	var got []map[string]any
	if err := json.Unmarshal(buf.Bytes(), &got); err != nil {
		t.Fatal(err)
	}
	keys := func(m map[string]any) []string {
		var k []string
		for x := range m {
			k = append(k, x)
		}
		slices.Sort(k)
		return k
	}
	if diff := cmp.Diff(keys(got[0]), []string{"entry", "id", "likelihood", "risk", "steps", "target", "validated"}); diff != "" {
		t.Errorf("WriteJSON() path keys (-got +want):\n%s", diff)
	}
	step := got[0]["steps"].([]any)[0].(map[string]any)
	if diff := cmp.Diff(keys(step), []string{"asset", "capability", "evidence", "exposure_ids", "from", "probability", "rule", "to", "weakness"}); diff != "" {
		t.Errorf("WriteJSON() step keys (-got +want):\n%s", diff)
	}
	if step["from"] != "network:api" || step["to"] != "read:orders" {
		t.Errorf("WriteJSON() step = %v -> %v, want network:api -> read:orders", step["from"], step["to"])
	}
	if got[0]["validated"] != false {
		t.Errorf("WriteJSON() validated = %v, want false (a SAST finding without evidence)", got[0]["validated"])
	}
}

func TestRenderEscapes(t *testing.T) {
	t.Parallel()
	evil := "x\"];\nevil[label=\"pwn\\"
	in := &Input{
		Assets: []model.Asset{asset(evil, model.KindDatastore, LabelPublic, "true")},
		Jewels: []Jewel{{Asset: evil, Value: 5}},
	}
	res, err := Analyze(in, Options{})
	if err != nil || len(res.Paths) != 1 {
		t.Fatalf("Analyze() = %v, %v, want one path", res, err)
	}
	var dot, mer bytes.Buffer
	if err := WriteDOT(&dot, res.Paths); err != nil {
		t.Fatal(err)
	}
	if err := WriteMermaid(&mer, res.Paths); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(dot.String(), "evil[label=\"pwn") || strings.Count(dot.String(), "\n") != 6 {
		t.Errorf("WriteDOT() = %q, want the key quoted on one line", dot.String())
	}
	if strings.ContainsAny(strings.ReplaceAll(strings.ReplaceAll(mer.String(), "[\"", ""), "\"]", ""), "[]") || strings.Count(mer.String(), "\n") != 4 {
		t.Errorf("WriteMermaid() = %q, want the key entity-escaped", mer.String())
	}
}

func TestSynthesizeDeterministic(t *testing.T) {
	t.Parallel()
	cfg := SynthConfig{Seed: 7, Apps: 20, WeaknessesPerImage: 10}
	a, b := Synthesize(cfg), Synthesize(cfg)
	if diff := cmp.Diff(a, b); diff != "" {
		t.Fatalf("Synthesize() twice (-first +second):\n%s", diff)
	}
	ra, err := Analyze(a, Options{})
	if err != nil {
		t.Fatal(err)
	}
	rb, _ := Analyze(b, Options{Workers: 1})
	ids := func(r *Result) []string {
		var s []string
		for _, p := range r.Paths {
			s = append(s, p.ID)
		}
		return s
	}
	if diff := cmp.Diff(ids(ra), ids(rb)); diff != "" || len(ra.Paths) == 0 {
		t.Errorf("Analyze() path ids differ between runs or none (-first +second):\n%s", diff)
	}
	if diff := cmp.Diff(ra.Plan, rb.Plan); diff != "" {
		t.Errorf("Analyze() plans differ between runs (-first +second):\n%s", diff)
	}
}

func TestAnalyzeErrors(t *testing.T) {
	t.Parallel()
	if _, err := Analyze(nil, Options{}); err == nil {
		t.Errorf("Analyze(nil) error = nil, want an error")
	}
	if _, err := Analyze(&Input{Jewels: []Jewel{{Asset: "x", Value: 11}}}, Options{}); err == nil {
		t.Errorf("Analyze(value 11) error = nil, want an error")
	}
}

func TestInternalNetworkEntry(t *testing.T) {
	t.Parallel()
	in := &Input{
		Assets:     []model.Asset{asset("api", model.KindWorkload), asset("orders", model.KindDatastore)},
		Relations:  []model.Relation{rel("api", model.RelConnectsTo, "orders")},
		Weaknesses: []Weakness{weak("sqli-1", "api", model.FindingCode, effect.Write)},
		Jewels:     []Jewel{{Asset: "orders", Value: 10}},
	}
	res, err := Analyze(in, Options{})
	if err != nil || len(res.Paths) != 0 {
		t.Fatalf("Analyze(internet only, nothing exposed) = %d paths, %v; want none", len(res.Paths), err)
	}
	in.Entries = []Entry{{Kind: EntryInternalNetwork}}
	res, err = Analyze(in, Options{})
	if err != nil || len(res.Paths) == 0 {
		t.Fatalf("Analyze(internal-network) = no path, %v; want one", err)
	}
	if got := res.Paths[0].Entry; got != "network:api" && got != "network:orders" {
		t.Errorf("Analyze(internal-network) entry = %s, want network:api or network:orders", got)
	}
}

// TestNoReuseSameResult checks that an analysis that does not hash its
// components (Options.NoReuse) finds what one that does finds, and that a
// Reanalyze from its result recomputes every component.
func TestNoReuseSameResult(t *testing.T) {
	t.Parallel()
	in := Synthesize(SynthConfig{Seed: 3, Apps: 40, WeaknessesPerImage: 30})
	want, err := Analyze(in, Options{})
	if err != nil {
		t.Fatal(err)
	}
	got, err := Analyze(in, Options{NoReuse: true})
	if err != nil {
		t.Fatal(err)
	}
	if len(want.Paths) == 0 {
		t.Fatal("Analyze(synthetic estate) found no path, want some to compare")
	}
	if diff := cmp.Diff(got, want, cmpopts.IgnoreUnexported(Result{}, Path{}, Step{})); diff != "" {
		t.Errorf("Analyze(NoReuse) differs (-got +want):\n%s", diff)
	}
	_, d, err := Reanalyze(got, in, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if d.Reused != 0 || d.Recomputed == 0 || len(d.Opened)+len(d.Closed) != 0 {
		t.Errorf("Reanalyze(NoReuse result, same input) = %+v, want every component recomputed, no change", d)
	}
}
