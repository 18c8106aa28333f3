package ssvc

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/ctem-dev/ctem/internal/intel/cvss"
	"github.com/ctem-dev/ctem/internal/intel/effect"
)

// published is CISA's decision table, transcribed row by row (in the
// table's order: E, A, TI, MWI, outcome) from CERT/CC's machine-readable
// copy of the CISA Coordinator tree v2.0.3
// (github.com/CERTCC/SSVC data/json/decision_tables/cisa/cisa_coordinator_2_0_3.json),
// which renders the tree of CISA's SSVC guide (November 2022). Keys: E
// N/P/A, A N/Y, TI P/T, MWI L/M/H; outcomes T, T*, AT (Attend), AC (Act).
const published = `
N N P L T
N N P M T
N N P H T
N N T L T
N N T M T
N N T H T*
N Y P L T
N Y P M T
N Y P H AT
N Y T L T
N Y T M T
N Y T H AT
P N P L T
P N P M T
P N P H T*
P N T L T
P N T M T*
P N T H AT
P Y P L T
P Y P M T
P Y P H AT
P Y T L T
P Y T M T*
P Y T H AT
A N P L T
A N P M T
A N P H AT
A N T L T
A N T M AT
A N T H AC
A Y P L AT
A Y P M AT
A Y P H AC
A Y T L AT
A Y T M AC
A Y T H AC
`

func TestDecideAllCombinations(t *testing.T) {
	t.Parallel()
	e := map[string]Exploitation{"N": ExploitationNone, "P": ExploitationPoC, "A": ExploitationActive}
	a := map[string]Automatable{"N": AutomatableNo, "Y": AutomatableYes}
	ti := map[string]TechnicalImpact{"P": TechnicalImpactPartial, "T": TechnicalImpactTotal}
	m := map[string]MissionWellbeing{"L": MissionLow, "M": MissionMedium, "H": MissionHigh}
	out := map[string]Decision{"T": Track, "T*": TrackStar, "AT": Attend, "AC": Act}
	seen := map[Inputs]bool{}
	for line := range strings.Lines(strings.TrimSpace(published)) {
		f := strings.Fields(line)
		in := Inputs{e[f[0]], a[f[1]], ti[f[2]], m[f[3]]}
		seen[in] = true
		got, err := Decide(in)
		if err != nil || got != out[f[4]] {
			t.Errorf("Decide(%+v) = %q, %v, want %q", in, got, err, out[f[4]])
		}
	}
	if len(seen) != 36 {
		t.Errorf("published table has %d distinct rows, want 36", len(seen))
	}
}

func TestDecideCaseAndErrors(t *testing.T) {
	t.Parallel()
	got, err := Decide(Inputs{"Active", "YES", " Total ", "High"})
	if err != nil || got != Act {
		t.Errorf("Decide(Active, YES, Total, High) = %q, %v, want Act", got, err)
	}
	tests := []struct {
		in   Inputs
		want string
	}{
		{Inputs{}, `exploitation "" is not one of none, poc, active`},
		{Inputs{"active", "maybe", "total", "high"}, `automatable "maybe" is not one of no, yes`},
		{Inputs{"active", "yes", "", "high"}, `technical_impact "" is not one of partial, total`},
		{Inputs{"active", "yes", "total", "critical"}, `mission_wellbeing "critical" is not one of low, medium, high`},
	}
	for _, tt := range tests {
		got, err := Decide(tt.in)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("Decide(%+v) = %q, %v, want error %q", tt.in, got, err, tt.want)
		}
	}
}

func TestDecisionRank(t *testing.T) {
	t.Parallel()
	for i, d := range []Decision{"", Track, TrackStar, Attend, Act} {
		if d.Rank() != i {
			t.Errorf("Decision(%q).Rank() = %d, want %d", d, d.Rank(), i)
		}
	}
}

func mustCVSS(tb testing.TB, s string) *cvss.Vector {
	tb.Helper()
	v, err := cvss.Parse(s)
	if err != nil {
		tb.Fatal(err)
	}
	return &v
}

func TestDerive(t *testing.T) {
	t.Parallel()
	rce := mustCVSS(t, "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H")
	local := mustCVSS(t, "CVSS:3.1/AV:L/AC:L/PR:L/UI:N/S:U/C:H/I:N/A:N")
	v4 := mustCVSS(t, "CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:L/VI:L/VA:N/SC:N/SI:N/SA:N")
	tests := []struct {
		name string
		in   Facts
		want Derived
	}{
		{
			"KEV remote code execution on a critical asset",
			Facts{InKEV: true, EPSS: 0.9, HasEPSS: true, CVSS: rce, Effect: effect.Exec, Criticality: "critical"},
			Derived{
				Inputs{ExploitationActive, AutomatableYes, TechnicalImpactTotal, MissionHigh},
				Reasons{"in CISA's KEV catalog: exploited in the wild", "CVSS 3.1: network, no privileges, no user interaction", "effect exec gives control of the component", "asset criticality critical"},
				Act,
			},
		},
		{
			"public exploit, local, unknown criticality",
			Facts{PublicExploit: true, CVSS: local, Effect: effect.Read},
			Derived{
				Inputs{ExploitationPoC, AutomatableNo, TechnicalImpactPartial, MissionMedium},
				Reasons{"a public exploit is known", "CVSS 3.1: attack vector local, privileges low, user interaction none", "effect read gives limited control", "asset criticality unknown: assumed medium"},
				Track,
			},
		},
		{
			"EPSS at the threshold",
			Facts{EPSS: PoCEPSSThreshold, HasEPSS: true, CVSS: rce, Criticality: "Low"},
			Derived{
				Inputs{ExploitationPoC, AutomatableYes, TechnicalImpactTotal, MissionLow},
				Reasons{"EPSS 0.100 is at least 0.10", "CVSS 3.1: network, no privileges, no user interaction", "CVSS 3.1: high confidentiality, integrity and availability impact", "asset criticality low"},
				Track,
			},
		},
		{
			"EPSS below the threshold, v4, escape",
			Facts{EPSS: 0.0999, HasEPSS: true, CVSS: v4, Effect: effect.Escape, Criticality: "high"},
			Derived{
				Inputs{ExploitationNone, AutomatableYes, TechnicalImpactTotal, MissionHigh},
				Reasons{"not in KEV, no known exploit, EPSS 0.100 below 0.10", "CVSS 4.0: network, no privileges, no user interaction", "effect escape gives control of the component", "asset criticality high"},
				Attend,
			},
		},
		{
			"nothing known",
			Facts{},
			Derived{
				Inputs{ExploitationNone, AutomatableNo, TechnicalImpactPartial, MissionMedium},
				Reasons{"not in KEV, no known exploit, no EPSS score", "no CVSS vector to tell", "no sign of total control", "asset criticality unknown: assumed medium"},
				Track,
			},
		},
		{
			"overrides from CISA's ADP",
			Facts{CVSS: local, Criticality: "medium", Override: Inputs{Exploitation: ExploitationActive, Automatable: AutomatableYes}, OverrideReason: "CISA ADP"},
			Derived{
				Inputs{ExploitationActive, AutomatableYes, TechnicalImpactPartial, MissionMedium},
				Reasons{"CISA ADP", "CISA ADP", "no sign of total control", "asset criticality medium"},
				Attend,
			},
		},
		{
			"override with an unknown value",
			Facts{Override: Inputs{MissionWellbeing: "extreme"}},
			Derived{
				Inputs{ExploitationNone, AutomatableNo, TechnicalImpactPartial, "extreme"},
				Reasons{"not in KEV, no known exploit, no EPSS score", "no CVSS vector to tell", "no sign of total control", "set by override"},
				"",
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got := Derive(tt.in)
			if diff := cmp.Diff(got, tt.want); diff != "" {
				t.Errorf("Derive(%+v) (-got +want):\n%s", tt.in, diff)
			}
		})
	}
}

func TestParseADP(t *testing.T) {
	t.Parallel()
	// The values CISA's ADP container holds in each file (testdata/SOURCES.tsv).
	tests := []struct {
		file string
		want Assessment
	}{
		{"CVE-2022-38028.json", Assessment{CVE: "CVE-2022-38028", Exploitation: ExploitationActive, Automatable: AutomatableNo, TechnicalImpact: TechnicalImpactTotal}},
		{"CVE-2016-3427.json", Assessment{CVE: "CVE-2016-3427", Exploitation: ExploitationActive, Automatable: AutomatableYes, TechnicalImpact: TechnicalImpactTotal}},
		{"CVE-2019-16229.json", Assessment{CVE: "CVE-2019-16229", Exploitation: ExploitationNone, Automatable: AutomatableNo, TechnicalImpact: TechnicalImpactPartial}},
		{"CVE-2020-15778.json", Assessment{CVE: "CVE-2020-15778", Exploitation: ExploitationPoC, Automatable: AutomatableNo, TechnicalImpact: TechnicalImpactTotal}},
		{"CVE-2022-27780.json", Assessment{CVE: "CVE-2022-27780", Exploitation: ExploitationPoC, Automatable: AutomatableYes, TechnicalImpact: TechnicalImpactPartial}},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			t.Parallel()
			b, err := os.ReadFile(filepath.Join("testdata", tt.file))
			if err != nil {
				t.Fatal(err)
			}
			got, err := ParseADP(bytes.NewReader(b))
			if err != nil {
				t.Fatalf("ParseADP(%s) error %v", tt.file, err)
			}
			if got.Provider != "CISA-ADP" || got.Role != "CISA Coordinator" || got.Version != "2.0.3" || got.Timestamp.IsZero() {
				t.Errorf("ParseADP(%s) = provider %q role %q version %q at %v, want CISA-ADP, CISA Coordinator, 2.0.3, a time", tt.file, got.Provider, got.Role, got.Version, got.Timestamp)
			}
			got.Provider, got.Role, got.Version, got.Timestamp = "", "", "", time.Time{}
			if diff := cmp.Diff(got, tt.want); diff != "" {
				t.Errorf("ParseADP(%s) (-got +want):\n%s", tt.file, diff)
			}
			// CISA assesses no Mission & Well-being: with ours the tree decides.
			in := got.Inputs()
			in.MissionWellbeing = MissionHigh
			if _, err := Decide(in); err != nil {
				t.Errorf("Decide(ParseADP(%s).Inputs()) error %v", tt.file, err)
			}
		})
	}
}

func TestParseADPErrors(t *testing.T) {
	t.Parallel()
	const ok = `{"cveMetadata":{"cveId":"CVE-2024-0001"},"containers":{"adp":[{"providerMetadata":{"shortName":"CISA-ADP"},"metrics":[{"other":{"type":"ssvc","content":{"timestamp":"2024-07-29T18:58:02.257329Z","options":[{"Exploitation":"none"},{"Automatable":"no"},{"Technical Impact":"partial"}],"role":"CISA Coordinator","version":"2.0.3"}}}]}]}}`
	got, err := ParseADP(strings.NewReader(ok))
	want := Assessment{CVE: "CVE-2024-0001", Provider: "CISA-ADP", Role: "CISA Coordinator", Version: "2.0.3", Timestamp: time.Date(2024, 7, 29, 18, 58, 2, 257329000, time.UTC), Exploitation: ExploitationNone, Automatable: AutomatableNo, TechnicalImpact: TechnicalImpactPartial}
	if diff := cmp.Diff(got, want); err != nil || diff != "" {
		t.Errorf("ParseADP(minimal) = %v (-got +want):\n%s", err, diff)
	}
	tests := []struct {
		name string
		in   string
		want error
	}{
		{"no adp", `{"cveMetadata":{"cveId":"CVE-2024-0001"},"containers":{"cna":{}}}`, ErrNoAssessment},
		{"adp without ssvc", `{"containers":{"adp":[{"metrics":[{"other":{"type":"kev","content":{}}},{"cvssV3_1":{}}]}]}}`, ErrNoAssessment},
		{"not json", `<html>`, ErrInvalid},
		{"truncated", ok[:len(ok)/2], ErrInvalid},
		{"bad exploitation", strings.Replace(ok, `"none"`, `"likely"`, 1), ErrInvalid},
		{"missing automatable", strings.Replace(ok, `{"Automatable":"no"},`, ``, 1), ErrInvalid},
		{"bad technical impact", strings.Replace(ok, `"partial"`, `"some"`, 1), ErrInvalid},
		{"bad timestamp", strings.Replace(ok, `2024-07-29T18:58:02.257329Z`, `yesterday`, 1), ErrInvalid},
		{"options not a list", strings.Replace(ok, `"options":[`, `"options":{"a":[`, 1), ErrInvalid},
	}
	for _, tt := range tests {
		got, err := ParseADP(strings.NewReader(tt.in))
		if !errors.Is(err, tt.want) {
			t.Errorf("ParseADP(%s) = %+v, %v, want error %v", tt.name, got, err, tt.want)
		}
	}
}

func FuzzParseADP(f *testing.F) {
	files, _ := filepath.Glob("testdata/*.json")
	for _, name := range files {
		b, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		a, err := ParseADP(bytes.NewReader(b))
		if err != nil {
			if !errors.Is(err, ErrInvalid) && !errors.Is(err, ErrNoAssessment) {
				t.Fatalf("ParseADP() error %v matches neither sentinel", err)
			}
			return
		}
		in := a.Inputs()
		in.MissionWellbeing = MissionLow
		if _, err := Decide(in); err != nil {
			t.Fatalf("ParseADP() = %+v, whose inputs Decide rejects: %v", a, err)
		}
	})
}
