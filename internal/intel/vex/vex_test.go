package vex_test

import (
	"bytes"
	"encoding/json"
	"testing"
	"time"

	"github.com/ctem-dev/ctem/internal/intel/vex"
	"github.com/ctem-dev/ctem/internal/model"
)

func TestBuild(t *testing.T) {
	t.Parallel()
	xs := []model.Exposure{
		{ID: "a", Status: model.StatusNotAffected, VulnIDs: []string{"CVE-2024-1", "GHSA-aaaa-bbbb-cccc"}, Asset: "image:docker.io/library/nginx@sha256:ab", Package: model.Package{PURL: "pkg:deb/debian/zlib@1.2"}},
		{ID: "b", Status: model.StatusAccepted, RuleID: "G104", Asset: "repo:github.com/acme/app"},
		{ID: "c", Status: model.StatusOpen, VulnIDs: []string{"CVE-2024-2"}, Asset: "image:x"},
	}
	ev := map[string][]model.Evidence{"a": {{Kind: model.EvidenceVEXNotAffected, Detail: "not_affected: component_not_present"}}}
	d := vex.Build("sec@acme", time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC), xs, ev)
	if len(d.Statements) != 2 {
		t.Fatalf("Build: %d statements, want 2 (open exposures are skipped)", len(d.Statements))
	}
	s := d.Statements[0]
	if s.Status != "not_affected" || s.Justification != "component_not_present" || s.Vulnerability.Name != "CVE-2024-1" || len(s.Vulnerability.Aliases) != 1 {
		t.Errorf("statement 0 = %+v", s)
	}
	if got := s.Products[0].ID; got != "pkg:oci/nginx@sha256%3Aab?repository_url=docker.io/library/nginx" {
		t.Errorf("product = %s", got)
	}
	if d.Statements[1].Status != "affected" || d.Statements[1].ActionStatement == "" {
		t.Errorf("accepted statement = %+v", d.Statements[1])
	}
	// The same exposures give the same document id.
	if d2 := vex.Build("sec@acme", time.Now(), xs, ev); d2.ID != d.ID {
		t.Errorf("document id changed: %s, %s", d.ID, d2.ID)
	}
	var buf bytes.Buffer
	if err := vex.Write(&buf, d); err != nil {
		t.Fatal(err)
	}
	var back map[string]any
	if err := json.Unmarshal(buf.Bytes(), &back); err != nil || back["@context"] != vex.Context {
		t.Errorf("written document: %v, %v", back["@context"], err)
	}
}

func TestStatementOfEveryStatus(t *testing.T) {
	t.Parallel()
	tests := []struct {
		status                     model.Status
		want, just, impact, action string
	}{
		{model.StatusNotAffected, "not_affected", "", "Not affected, as recorded in ctem.", ""},
		{model.StatusFalsePositive, "not_affected", "", "False positive, as recorded in ctem.", ""},
		{model.StatusAccepted, "affected", "", "", "Risk accepted: no action planned while the exception holds."},
		{model.StatusFixed, "fixed", "", "", ""},
		{model.StatusOpen, "under_investigation", "", "", ""},
	}
	for _, tt := range tests {
		x := model.Exposure{ID: "a", Status: tt.status, VulnIDs: []string{"CVE-2024-1"}, Asset: "repo:github.com/acme/app"}
		s := vex.StatementOf(x, nil)
		if s.Status != tt.want || s.Justification != tt.just || s.ImpactStatement != tt.impact || s.ActionStatement != tt.action {
			t.Errorf("StatementOf(%s) = %s %q %q %q, want %s %q %q %q", tt.status, s.Status, s.Justification, s.ImpactStatement, s.ActionStatement,
				tt.want, tt.just, tt.impact, tt.action)
		}
	}
}
