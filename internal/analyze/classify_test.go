package analyze

import (
	"slices"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/ctem-dev/ctem/internal/estate"
	"github.com/ctem-dev/ctem/internal/estate/scope"
	"github.com/ctem-dev/ctem/internal/graph"
	"github.com/ctem-dev/ctem/internal/intel/effect"
	"github.com/ctem-dev/ctem/internal/model"
)

// TestClassifierAsClassify checks that the classifier's memory gives what
// effect.Classify gives, in an order where each input follows others of
// the same kind, rule and CWEs that a title, a tag or a vector would
// decide differently.
func TestClassifierAsClassify(t *testing.T) {
	t.Parallel()
	rce := "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H"
	dos := "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:N/I:N/A:H"
	ins := []effect.Input{
		{Kind: model.FindingVulnerability, Rule: "CVE-1", CWEs: []string{"CWE-94"}, Title: "a"},
		{Kind: model.FindingVulnerability, Rule: "CVE-1", CWEs: []string{"CWE-94"}, Title: "denial of service", CVSS: []string{dos}},
		{Kind: model.FindingVulnerability, Rule: "CVE-2", Title: "remote code execution"},
		{Kind: model.FindingVulnerability, Rule: "CVE-2", Title: "information disclosure"},
		{Kind: model.FindingVulnerability, Rule: "CVE-2", CVSS: []string{rce}},
		{Kind: model.FindingVulnerability, Rule: "CVE-2", CVSS: []string{dos}},
		{Kind: model.FindingVulnerability, Rule: "CVE-3", CWEs: []string{"CWE-1021"}, Title: "server-side request forgery"},
		{Kind: model.FindingVulnerability, Rule: "CVE-3", CWEs: []string{"CWE-1021"}, Title: "clickjacking"},
		{Kind: model.FindingMisconfig, Rule: "KSV001", Title: "privileged container"},
		{Kind: model.FindingMisconfig, Rule: "KSV001", Title: "nothing to say"},
		{Kind: model.FindingSecret, Rule: "aws-access-key-id", Title: "a"},
		{Kind: model.FindingCode, Rule: "go/sql-injection", CWEs: []string{"CWE-89"}, Tags: []string{"CWE-78"}},
		{Kind: model.FindingCode, Rule: "go/sql-injection", CWEs: []string{"CWE-89"}},
		{Kind: model.FindingVulnerability, Rule: "CVE-4", CWEs: []string{"CWE-400"}, CVSS: []string{rce}},
		{Kind: model.FindingVulnerability, Rule: "CVE-4", CWEs: []string{"CWE-400"}},
	}
	c := classifier{}
	for range 2 {
		for _, in := range ins {
			if diff := cmp.Diff(c.classify(in), effect.Classify(in)); diff != "" {
				t.Errorf("classifier.classify(%+v) differs from effect.Classify (-got +want):\n%s", in, diff)
			}
		}
	}
	if len(c) == 0 {
		t.Errorf("classifier kept no result; the test should have some its CWEs decide")
	}
}

// TestSortByID checks that sortByID puts weaknesses in id order, by
// number when every id is sixteen hexadecimal digits and by string when
// one is not.
func TestSortByID(t *testing.T) {
	t.Parallel()
	for _, ids := range [][]string{
		{"ffff000000000000", "0000000000000001", "a000000000000000", "0a00000000000000", "9fffffffffffffff", "0000000000000000"},
		{"ffff000000000000", "0000000000000001", "A000000000000000", "x", "9fffffffffffffff", "", "00000000000000001"},
		{},
	} {
		ws := make([]graph.Weakness, len(ids))
		for i, id := range ids {
			ws[i] = graph.Weakness{Exposure: model.Exposure{ID: id, RuleID: "r" + id}, EPSS: float64(i)}
		}
		sortByID(ws)
		want := slices.Clone(ids)
		slices.Sort(want)
		var got []string
		for _, w := range ws {
			got = append(got, w.Exposure.ID)
			if w.Exposure.RuleID != "r"+w.Exposure.ID || ids[int(w.EPSS)] != w.Exposure.ID {
				t.Errorf("sortByID moved %q apart from the rest of its weakness", w.Exposure.ID)
			}
		}
		if diff := cmp.Diff(got, want, cmpopts.EquateEmpty()); diff != "" {
			t.Errorf("sortByID(%q) order (-got +want):\n%s", ids, diff)
		}
	}
}

// TestComponents checks the connected components of an estate: the
// relations join assets whatever their direction, the internet joins
// nothing, and a key only a relation names is in its component.
func TestComponents(t *testing.T) {
	t.Parallel()
	assets := []model.Asset{
		{Key: "workload:a", Kind: model.AssetKind("workload")}, {Key: "db:a", Kind: model.AssetKind("datastore")},
		{Key: "workload:b", Kind: model.AssetKind("workload")}, {Key: "db:b", Kind: model.AssetKind("datastore")},
		{Key: "workload:c", Kind: model.AssetKind("workload")},
	}
	rels := []model.Relation{
		{From: "workload:a", To: "db:a", Type: model.RelationType("connects")},
		{From: "db:b", To: "workload:b", Type: model.RelationType("connects")},
		{From: "workload:b", To: "identity:only-here", Type: model.RelationType("uses-identity")},
		{From: estate.InternetKey, To: "workload:a", Type: model.RelationType("exposes")},
		{From: estate.InternetKey, To: "workload:b", Type: model.RelationType("exposes")},
	}
	es := estate.Build(assets, rels, scope.Default())
	comp := components(es)
	same := func(a, b string) bool {
		ca, oka := comp[es.Canonical(a)]
		cb, okb := comp[es.Canonical(b)]
		return oka && okb && ca == cb
	}
	for _, c := range []struct {
		a, b string
		want bool
	}{
		{"workload:a", "db:a", true},
		{"workload:b", "db:b", true},
		{"db:b", "identity:only-here", true},
		{"workload:a", "workload:b", false},
		{"workload:c", "workload:a", false},
		{"workload:c", "db:b", false},
	} {
		if got := same(c.a, c.b); got != c.want {
			t.Errorf("components: %s and %s together = %v, want %v", c.a, c.b, got, c.want)
		}
	}
}
