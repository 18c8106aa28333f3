package graph

import (
	"testing"

	"github.com/ctem-dev/ctem/internal/model"
)

// TestActionKey checks that the key collectActions tests a weakness's
// action by is the key of the action factAction gives it.
func TestActionKey(t *testing.T) {
	t.Parallel()
	for _, w := range []Weakness{
		{Exposure: model.Exposure{ID: "s1", Kind: model.FindingSecret, RuleID: "aws-key", Asset: "repo:a"}},
		{Exposure: model.Exposure{ID: "v1", Kind: model.FindingVulnerability, RuleID: "CVE-1", Asset: "image:a",
			Package: model.Package{Name: "openssl", Version: "1.0", FixedVersion: "1.1"}}},
		{Exposure: model.Exposure{ID: "m1", Kind: model.FindingMisconfig, RuleID: "KSV001", Asset: "workload:a"}},
		{Exposure: model.Exposure{ID: "c1", Kind: model.FindingCode, VulnIDs: []string{"CWE-89"}, Asset: "repo:a",
			Location: model.Location{Path: "main.go"}}},
		{Exposure: model.Exposure{ID: "c2", Kind: model.FindingCode, Asset: "repo:a"}, Action: "patch|repo:a|x", ActionTitle: "patch x"},
	} {
		key, _, _, _ := DefaultAction(&w)
		if w.Action != "" {
			key = w.Action
		}
		if got := actionKey(&w); got != key {
			t.Errorf("actionKey(%s) = %q, want %q", w.Exposure.ID, got, key)
		}
	}
}
