package graph

import (
	"strings"
	"testing"

	"github.com/ctem-dev/ctem/internal/intel/effect"
	"github.com/ctem-dev/ctem/internal/model"
)

func TestPortAdmits(t *testing.T) {
	t.Parallel()
	tests := []struct {
		action, proto string
		port          int
		want          bool
	}{
		{"", "tcp", 3000, true},
		{"*", "tcp", 3000, true},
		{"tcp", "tcp", 3000, true},
		{"tcp/3000", "tcp", 3000, true},
		{"tcp/5000", "tcp", 3000, false},
		{"tcp/2000-4000", "tcp", 3000, true},
		{"tcp/4000-5000", "tcp", 3000, false},
		{"udp/3000", "tcp", 3000, false},
		{"icmp", "tcp", 3000, false},
		{"TCP/3000", "tcp", 3000, true},
	}
	for _, tt := range tests {
		if got := portAdmits(tt.action, tt.proto, tt.port); got != tt.want {
			t.Errorf("portAdmits(%q, %q, %d) = %v, want %v", tt.action, tt.proto, tt.port, got, tt.want)
		}
	}
}

// TestPortServesWeakness checks that a remote code execution on port 3000
// of a host (as Nmap and Nuclei key it) is reached through an exposure
// of port 3000, or of a range holding it, and runs code on the host, whose
// role is the jewel; its twin exposes port 5000 only and gives no path.
// A load balancer's target port decides likewise.
func TestPortServesWeakness(t *testing.T) {
	t.Parallel()
	h, p3000, p5000 := "host:10.0.0.5", "host:10.0.0.5:3000", "host:10.0.0.5:5000"
	in := func(rels ...model.Relation) *Input {
		return &Input{
			Assets: []model.Asset{asset(h, model.KindHost), asset(p3000, model.KindHost, "protocol", "tcp"), asset(p5000, model.KindHost, "protocol", "tcp"),
				asset("lb", model.KindLoadBalancer), asset("tg", model.KindResource), asset("role", model.KindIdentity), asset(InternetKey, model.KindNetwork)},
			Relations:  append([]model.Relation{rel(h, model.RelExposes, p3000), rel(h, model.RelExposes, p5000), rel(h, model.RelUsesIdentit, "role")}, rels...),
			Weaknesses: []Weakness{weak("rce", p3000, model.FindingVulnerability, effect.Exec)},
			Entries:    []Entry{{Kind: EntryInternet}},
			Jewels:     []Jewel{{Asset: "role", Value: 10}},
		}
	}
	tests := []struct {
		name     string
		pos, neg *Input
		want     string
	}{
		{"security group port", in(rel(InternetKey, model.RelExposes, h, "tcp/3000")), in(rel(InternetKey, model.RelExposes, h, "tcp/5000")), "network:host:10.0.0.5:3000 -[remote-code-execution]-> exec:host:10.0.0.5"},
		{"security group range", in(rel(InternetKey, model.RelExposes, h, "tcp/1024-65535")), in(rel(InternetKey, model.RelExposes, h, "tcp/22"), rel(InternetKey, model.RelExposes, h, "udp/3000")), "network:host:10.0.0.5:3000"},
		{"load balancer target port", in(rel(InternetKey, model.RelExposes, "lb", "tcp/443"), rel("lb", model.RelRoutesTo, "tg"), rel("tg", model.RelRoutesTo, h, "tcp/3000")),
			in(rel(InternetKey, model.RelExposes, "lb", "tcp/443"), rel("lb", model.RelRoutesTo, "tg"), rel("tg", model.RelRoutesTo, h, "tcp/5000")), "-[routing]-> network:host:10.0.0.5:3000"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			res, err := Analyze(tt.pos, Options{K: 5})
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, p := range res.Paths {
				got = append(got, pathText(p))
			}
			if len(got) == 0 || !strings.Contains(got[0], tt.want) {
				t.Errorf("Analyze(%s) paths = %v, want one through %s", tt.name, got, tt.want)
			}
			res, err = Analyze(tt.neg, Options{K: 5})
			if err != nil {
				t.Fatal(err)
			}
			for _, p := range res.Paths {
				t.Errorf("Analyze(%s twin) path %s, want none", tt.name, pathText(p))
			}
		})
	}
}

func pathText(p Path) string {
	var b strings.Builder
	b.WriteString(p.Entry)
	for _, s := range p.Steps {
		b.WriteString(" -[" + s.Rule + "]-> " + s.To)
	}
	return b.String()
}
