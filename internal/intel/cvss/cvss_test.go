package cvss

import (
	"bufio"
	"errors"
	"os"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/ctem-dev/ctem/internal/model"
)

type corpusVector struct {
	version Version
	vector  string
	score   float64
	where   string
}

// readCorpusVectors reads testdata/corpus_vectors.tsv: real vectors with
// the score the report that carried them gives (Trivy's V2Score, V3Score
// and V40Score, NVD's and CNAs' baseScore in CVE JSON 5 records).
func readCorpusVectors(tb testing.TB) []corpusVector {
	tb.Helper()
	f, err := os.Open("testdata/corpus_vectors.tsv")
	if err != nil {
		tb.Fatal(err)
	}
	defer f.Close()
	var out []corpusVector
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		cols := strings.Split(line, "\t")
		score, err := strconv.ParseFloat(cols[2], 64)
		if err != nil {
			tb.Fatalf("corpus_vectors.tsv: %q: %v", line, err)
		}
		out = append(out, corpusVector{Version(cols[0]), cols[1], score, strings.Join(cols[3:], " ")})
	}
	if err := sc.Err(); err != nil {
		tb.Fatal(err)
	}
	return out
}

func TestParseCorpusScores(t *testing.T) {
	t.Parallel()
	vectors := readCorpusVectors(t)
	seen := map[Version]int{}
	for _, c := range vectors {
		v, err := Parse(c.vector)
		if err != nil {
			t.Errorf("Parse(%q) error %v (from %s)", c.vector, err, c.where)
			continue
		}
		seen[v.Version]++
		if v.Version != c.version {
			t.Errorf("Parse(%q).Version = %q, want %q", c.vector, v.Version, c.version)
		}
		if v.Score != c.score {
			t.Errorf("Parse(%q).Score = %v, want %v (from %s)", c.vector, v.Score, c.score, c.where)
		}
	}
	for _, ver := range []Version{V2, V30, V31, V40} {
		if seen[ver] == 0 {
			t.Errorf("testdata has no %s vector", ver)
		}
	}
}

// TestParseSpecificationExamples checks vectors and scores from FIRST's
// CVSS v3.1 examples document (the scores are also NVD's) and v4.0 vectors
// whose scores FIRST's calculator gives.
func TestParseSpecificationExamples(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		vector string
		want   float64
	}{
		{"Heartbleed CVE-2014-0160", "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:N/A:N", 7.5},
		{"Shellshock CVE-2014-6271", "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H", 9.8},
		{"phpMyAdmin XSS CVE-2013-1937", "CVSS:3.1/AV:N/AC:L/PR:N/UI:R/S:C/C:L/I:L/A:N", 6.1},
		{"MySQL CVE-2013-0375", "CVSS:3.1/AV:N/AC:L/PR:L/UI:N/S:C/C:L/I:L/A:N", 6.4},
		{"v4 all high, no subsequent", "CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N", 9.3},
		{"v4 all high", "CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:H/SI:H/SA:H", 10},
		{"v4 no impact", "CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:N/VI:N/VA:N/SC:N/SI:N/SA:N", 0},
		{"v2 all complete", "AV:N/AC:L/Au:N/C:C/I:C/A:C", 10},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			v, err := Parse(tt.vector)
			if err != nil {
				t.Fatalf("Parse(%q) error %v", tt.vector, err)
			}
			if v.Score != tt.want {
				t.Errorf("Parse(%q).Score = %v, want %v", tt.vector, v.Score, tt.want)
			}
		})
	}
}

func TestParseMetrics(t *testing.T) {
	t.Parallel()
	tests := []struct {
		vector string
		want   Vector
	}{
		{
			vector: " (AV:A/AC:M/Au:S/C:P/I:N/A:C) ",
			want: Vector{
				Version: V2, Text: "AV:A/AC:M/Au:S/C:P/I:N/A:C", Score: 5.8, Severity: model.SeverityMedium,
				AttackVector: Adjacent, AttackComplexity: Medium, AttackRequirements: None,
				PrivilegesRequired: Low, UserInteraction: InteractionNone,
				Impact: Impacts{Low, None, High},
			},
		},
		{
			vector: "CVSS:2.0/AV:N/AC:L/Au:M/C:C/I:C/A:C",
			want: Vector{
				Version: V2, Text: "AV:N/AC:L/Au:M/C:C/I:C/A:C", Score: 8.3, Severity: model.SeverityHigh,
				AttackVector: Network, AttackComplexity: Low, AttackRequirements: None,
				PrivilegesRequired: High, UserInteraction: InteractionNone,
				Impact: Impacts{High, High, High},
			},
		},
		{
			vector: "CVSS:3.0/AV:L/AC:L/PR:L/UI:N/S:C/C:N/I:H/A:N",
			want: Vector{
				Version: V30, Text: "CVSS:3.0/AV:L/AC:L/PR:L/UI:N/S:C/C:N/I:H/A:N", Score: 6.5, Severity: model.SeverityMedium,
				AttackVector: Local, AttackComplexity: Low, AttackRequirements: None,
				PrivilegesRequired: Low, UserInteraction: InteractionNone, ScopeChanged: true,
				Impact: Impacts{None, High, None},
			},
		},
		{
			vector: "CVSS:3.1/AV:P/AC:H/PR:H/UI:R/S:U/C:L/I:L/A:H",
			want: Vector{
				Version: V31, Text: "CVSS:3.1/AV:P/AC:H/PR:H/UI:R/S:U/C:L/I:L/A:H", Score: 4.9, Severity: model.SeverityMedium,
				AttackVector: Physical, AttackComplexity: High, AttackRequirements: None,
				PrivilegesRequired: High, UserInteraction: InteractionRequired,
				Impact: Impacts{Low, Low, High},
			},
		},
		{
			vector: "CVSS:4.0/AV:N/AC:L/AT:P/PR:L/UI:N/VC:N/VI:N/VA:H/SC:N/SI:N/SA:N/E:U",
			want: Vector{
				Version: V40, Text: "CVSS:4.0/AV:N/AC:L/AT:P/PR:L/UI:N/VC:N/VI:N/VA:H/SC:N/SI:N/SA:N/E:U", Score: 2.3, Severity: model.SeverityLow,
				Nomenclature: "CVSS-BT", AttackVector: Network, AttackComplexity: Low, AttackRequirements: High,
				PrivilegesRequired: Low, UserInteraction: InteractionNone,
				Impact: Impacts{None, None, High}, Subsequent: Impacts{None, None, None},
			},
		},
		{
			vector: "CVSS:4.0/AV:L/AC:L/AT:N/PR:N/UI:P/VC:H/VI:H/VA:H/SC:H/SI:H/SA:H/AU:N/RE:L",
			want: Vector{
				Version: V40, Text: "CVSS:4.0/AV:L/AC:L/AT:N/PR:N/UI:P/VC:H/VI:H/VA:H/SC:H/SI:H/SA:H/AU:N/RE:L", Score: 9.3, Severity: model.SeverityCritical,
				Nomenclature: "CVSS-B", AttackVector: Local, AttackComplexity: Low, AttackRequirements: None,
				PrivilegesRequired: None, UserInteraction: InteractionPassive, ScopeChanged: true,
				Impact: Impacts{High, High, High}, Subsequent: Impacts{High, High, High},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.vector, func(t *testing.T) {
			t.Parallel()
			got, err := Parse(tt.vector)
			if err != nil {
				t.Fatalf("Parse(%q) error %v", tt.vector, err)
			}
			if diff := cmp.Diff(got, tt.want); diff != "" {
				t.Errorf("Parse(%q) (-got +want):\n%s", tt.vector, diff)
			}
		})
	}
}

func TestRemoteUnauthenticated(t *testing.T) {
	t.Parallel()
	tests := []struct {
		vector string
		want   bool
	}{
		{"CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H", true},
		{"CVSS:3.1/AV:N/AC:H/PR:N/UI:N/S:U/C:H/I:H/A:H", true},
		{"CVSS:3.1/AV:N/AC:L/PR:L/UI:N/S:U/C:H/I:H/A:H", false},
		{"CVSS:3.1/AV:N/AC:L/PR:N/UI:R/S:U/C:H/I:H/A:H", false},
		{"CVSS:3.1/AV:A/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H", false},
		{"AV:N/AC:L/Au:N/C:P/I:P/A:P", true},
		{"AV:N/AC:L/Au:S/C:P/I:P/A:P", false},
		{"CVSS:4.0/AV:N/AC:L/AT:P/PR:N/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N", true},
		{"CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:A/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N", false},
	}
	for _, tt := range tests {
		v, err := Parse(tt.vector)
		if err != nil {
			t.Fatalf("Parse(%q) error %v", tt.vector, err)
		}
		if got := v.RemoteUnauthenticated(); got != tt.want {
			t.Errorf("Parse(%q).RemoteUnauthenticated() = %v, want %v", tt.vector, got, tt.want)
		}
	}
}

func TestParseErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		vector string
		want   error
	}{
		{"", ErrMalformed},
		{"   ", ErrMalformed},
		{"CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H", ErrMalformed},      // missing A
		{"CVSS:3.1/AV:X/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H", ErrMalformed},  // bad value
		{"CVSS:3.1/AV:N/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H", ErrMalformed}, // repeated
		{"CVSS:3.1/", ErrMalformed},
		{"CVSS:4.0/AV:N/AC:L", ErrMalformed},
		{"CVSS:4.0/AC:L/AV:N/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N", ErrMalformed}, // order
		{"AV:N/AC:L/Au:N/C:P/I:P", ErrMalformed},
		{"AV:N/AC:L/Au:N/C:P/I:P/A:P/", ErrMalformed},
		{"high", ErrMalformed},
		{"CVSS:5.0/AV:N", ErrUnsupportedVersion},
		{"CVSS:3.2/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H", ErrUnsupportedVersion},
		{strings.Repeat("AV:N/", 200), ErrMalformed},
	}
	for _, tt := range tests {
		got, err := Parse(tt.vector)
		if !errors.Is(err, tt.want) {
			t.Errorf("Parse(%q) = %+v, %v, want error %v", tt.vector, got, err, tt.want)
		}
		if _, ok := errors.AsType[*ParseError](err); !ok {
			t.Errorf("Parse(%q) error %T, want *ParseError", tt.vector, err)
		}
	}
}

func TestChoose(t *testing.T) {
	t.Parallel()
	const (
		v2   = "AV:N/AC:L/Au:N/C:P/I:P/A:P"
		v30  = "CVSS:3.0/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H"
		v31a = "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H"
		v31b = "CVSS:3.1/AV:N/AC:H/PR:N/UI:N/S:U/C:H/I:H/A:H"
		v40  = "CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N"
	)
	tests := []struct {
		name    string
		in      []model.CVSS
		want    model.CVSS
		wantWhy string
	}{
		{"none", nil, model.CVSS{}, "no CVSS vector given"},
		{
			"all malformed",
			[]model.CVSS{{Source: "nvd", Vector: "junk"}, {Vector: "CVSS:3.1/AV:N"}},
			model.CVSS{}, "none of the 2 CVSS vectors given is well formed",
		},
		{
			"v4 over v3.1 over v3.0 over v2",
			[]model.CVSS{{Source: "nvd", Vector: v2, Score: 7.5}, {Source: "nvd", Vector: v30, Score: 9.8}, {Source: "nvd", Vector: v31a, Score: 9.8}, {Source: "ghsa", Vector: v40, Score: 9.3}},
			model.CVSS{Source: "ghsa", Vector: v40, Score: 9.3}, "CVSS 4.0 from ghsa: newest version given",
		},
		{
			"v3.1 from NVD over v3.0 from the vendor",
			[]model.CVSS{{Source: "redhat", Vector: v30}, {Source: "nvd", Vector: v31a, Score: 9.8}},
			model.CVSS{Source: "nvd", Vector: v31a, Score: 9.8}, "CVSS 3.1 from nvd: newest version given",
		},
		{
			"vendor over NVD in one version",
			[]model.CVSS{{Source: "nvd", Vector: v31a, Score: 9.8}, {Source: "redhat", Vector: v31b, Score: 8.1}},
			model.CVSS{Source: "redhat", Vector: v31b, Score: 8.1}, "CVSS 3.1 from redhat: vendor's preferred over NVD's",
		},
		{
			"NVD in upper case is NVD",
			[]model.CVSS{{Source: "NVD", Vector: v31a}, {Source: "ubuntu", Vector: v31b}},
			model.CVSS{Source: "ubuntu", Vector: v31b, Score: 8.1}, "CVSS 3.1 from ubuntu: vendor's preferred over NVD's",
		},
		{
			"first of two vendors, score filled in",
			[]model.CVSS{{Source: "redhat", Vector: v31b}, {Source: "ghsa", Vector: v31a}, {Source: "nvd", Vector: v2}},
			model.CVSS{Source: "redhat", Vector: v31b, Score: 8.1}, "CVSS 3.1 from redhat: newest version given; first of its rank",
		},
		{
			"malformed newer vector ignored",
			[]model.CVSS{{Source: "ghsa", Vector: "CVSS:4.0/AV:N/junk"}, {Source: "nvd", Vector: v31a, Score: 9.8}},
			model.CVSS{Source: "nvd", Vector: v31a, Score: 9.8}, "CVSS 3.1 from nvd: 1 malformed vector(s) ignored",
		},
		{
			"no source",
			[]model.CVSS{{Vector: v2}},
			model.CVSS{Vector: v2, Score: 7.5}, "CVSS 2.0 from the tool",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, why := Choose(tt.in)
			if diff := cmp.Diff(got, tt.want); diff != "" {
				t.Errorf("Choose(%v) (-got +want):\n%s", tt.in, diff)
			}
			if why != tt.wantWhy {
				t.Errorf("Choose(%v) why = %q, want %q", tt.in, why, tt.wantWhy)
			}
		})
	}
}

func FuzzParse(f *testing.F) {
	for _, c := range readCorpusVectors(f) {
		f.Add(c.vector)
	}
	for _, s := range []string{"", "(AV:N/AC:L/Au:N/C:P/I:P/A:P)", "CVSS:3.1/", "CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N/E:A/CR:H/MAV:L/S:P/AU:Y/U:Red"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		v, err := Parse(s)
		if err != nil {
			if !errors.Is(err, ErrMalformed) && !errors.Is(err, ErrUnsupportedVersion) {
				t.Fatalf("Parse(%q) error %v matches neither sentinel", s, err)
			}
			return
		}
		if v.Score < 0 || v.Score > 10 {
			t.Fatalf("Parse(%q).Score = %v, want within [0, 10]", s, v.Score)
		}
		if v.Version.rank() == 0 || v.AttackVector == "" || v.PrivilegesRequired == "" || v.Severity == "" {
			t.Fatalf("Parse(%q) = %+v, want every metric set", s, v)
		}
		// The text that parsed parses again to the same result.
		again, err := Parse(v.Text)
		if err != nil || again != v {
			t.Fatalf("Parse(%q) = %+v, %v, want %+v", v.Text, again, err, v)
		}
	})
}
