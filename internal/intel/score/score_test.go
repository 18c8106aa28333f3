package score_test

import (
	"strings"
	"testing"

	"github.com/ctem-dev/ctem/internal/intel/epss"
	"github.com/ctem-dev/ctem/internal/intel/kev"
	"github.com/ctem-dev/ctem/internal/intel/score"
	"github.com/ctem-dev/ctem/internal/intel/ssvc"
	"github.com/ctem-dev/ctem/internal/model"
)

func intel(t *testing.T) score.Intel {
	t.Helper()
	k, err := kev.Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	e, err := epss.Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	return score.Intel{KEV: k, EPSS: e}
}

// spring4shell is CVE-2022-22965 as Trivy reports it (testdata of the
// trivy parser: spring4shell-jre11).
func spring4shell() (model.Exposure, []model.Finding) {
	x := model.Exposure{ID: "x1", Kind: model.FindingVulnerability, RuleID: "CVE-2022-22965", VulnIDs: []string{"CVE-2022-22965"},
		CWEs: []string{"CWE-94"}, Severity: model.SeverityCritical, Status: model.StatusOpen, Asset: "image:shop/api"}
	f := model.Finding{CVSS: []model.CVSS{{Source: "nvd", Vector: "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H", Score: 9.8}}}
	return x, []model.Finding{f}
}

func TestKnownExploitedScoresHighAndExplains(t *testing.T) {
	t.Parallel()
	x, fs := spring4shell()
	a := score.Assess(x, fs, nil, score.Context{InternetExposed: true, Via: "k8s:prod/shop/Service/lb", Service: "orders", Criticality: "critical"}, intel(t))
	if a.KEV == nil || a.EPSS == nil {
		t.Fatalf("KEV %v, EPSS %v: CVE-2022-22965 is in both snapshots", a.KEV, a.EPSS)
	}
	if a.Score < 90 {
		t.Errorf("score = %v, want >= 90 for a KEV RCE on an internet-facing critical service", a.Score)
	}
	sum := a.Summary()
	for _, want := range []string{"in KEV since 2022-04-04", "EPSS 0.", "percentile", "effect exec", "internet-exposed through k8s:prod/shop/Service/lb", "service orders (critical)", "CVSS 9.8"} {
		if !strings.Contains(sum, want) {
			t.Errorf("summary %q lacks %q", sum, want)
		}
	}
	if a.SSVC.Inputs.Exploitation != ssvc.ExploitationActive || a.SSVC.Decision != ssvc.Act {
		t.Errorf("SSVC = %+v, want active exploitation and Act", a.SSVC)
	}
}

func TestFactorsMoveTheScore(t *testing.T) {
	t.Parallel()
	in := intel(t)
	x, fs := spring4shell()
	exposed := score.Assess(x, fs, nil, score.Context{InternetExposed: true, Criticality: "critical"}, in).Score
	internal := score.Assess(x, fs, nil, score.Context{Criticality: "critical"}, in).Score
	low := score.Assess(x, fs, nil, score.Context{InternetExposed: true, Criticality: "low"}, in).Score
	if !(exposed > internal && exposed > low) {
		t.Errorf("exposed %v, internal %v, low criticality %v: exposure and criticality must raise the score", exposed, internal, low)
	}
	// The same weakness without exploit data ranks far below.
	y := x
	y.VulnIDs, y.RuleID = []string{"CVE-2099-0001"}, "CVE-2099-0001"
	if s := score.Assess(y, fs, nil, score.Context{InternetExposed: true, Criticality: "critical"}, in).Score; s >= exposed {
		t.Errorf("unknown CVE scores %v, KEV one %v", s, exposed)
	}
	// Evidence that the code is only required, not imported, lowers it.
	req := score.Assess(y, fs, []model.Evidence{{Kind: model.EvidenceRequiredOnly, Source: "govulncheck"}}, score.Context{InternetExposed: true}, in)
	plain := score.Assess(y, fs, nil, score.Context{InternetExposed: true}, in)
	if req.Score >= plain.Score {
		t.Errorf("required-only %v >= no evidence %v", req.Score, plain.Score)
	}
	// VEX not affected: zero.
	x.Status = model.StatusNotAffected
	if s := score.Assess(x, fs, nil, score.Context{InternetExposed: true}, in).Score; s != 0 {
		t.Errorf("not affected scores %v, want 0", s)
	}
}

func TestCrownJewelDrivesBusinessWeight(t *testing.T) {
	t.Parallel()
	x := model.Exposure{ID: "s", Kind: model.FindingSecret, RuleID: "aws-access-key", Severity: model.SeverityHigh, Status: model.StatusOpen}
	a := score.Assess(x, nil, nil, score.Context{CrownJewel: 9}, score.Intel{})
	if a.Effect.Effect != "credential" || !strings.Contains(a.Summary(), "crown jewel (value 9)") {
		t.Errorf("secret on a jewel: effect %s, summary %q", a.Effect.Effect, a.Summary())
	}
}

// TestJoinsByAlias: a finding that names the GHSA first still joins KEV
// and EPSS through its CVE alias.
func TestJoinsByAlias(t *testing.T) {
	t.Parallel()
	x, fs := spring4shell()
	x.VulnIDs = []string{"GHSA-36p3-wjmg-h94x", "CVE-2022-22965"}
	x.RuleID = "GHSA-36p3-wjmg-h94x"
	a := score.Assess(x, fs, nil, score.Context{}, intel(t))
	if a.KEV == nil || a.EPSS == nil || a.EPSS.CVE != "CVE-2022-22965" {
		t.Errorf("KEV %v, EPSS %+v: want both joined through the CVE alias", a.KEV, a.EPSS)
	}
}
