package sqlstore

import (
	"testing"

	"github.com/ctem-dev/ctem/internal/model"
)

func TestPackExtraRoundTrip(t *testing.T) {
	t.Parallel()
	in := model.Finding{ToolSeverity: "HIGH", Description: "a:b:12:c\n", ToolStatus: "suppressed: inSource", ToolFingerprint: "fp:1",
		SecretHint: "…abcd", Pointer: "/Results/0", Location: model.Location{EndLine: 12, Column: 7}}
	var out model.Finding
	cvss, err := unpackExtra(packExtra(&in, `[{"vector":"x"}]`), &out)
	if err != nil || cvss != `[{"vector":"x"}]` {
		t.Fatalf("unpackExtra = %q, %v", cvss, err)
	}
	if out.ToolSeverity != in.ToolSeverity || out.Description != in.Description || out.ToolStatus != in.ToolStatus ||
		out.ToolFingerprint != in.ToolFingerprint || out.SecretHint != in.SecretHint || out.Pointer != in.Pointer ||
		out.Location.EndLine != 12 || out.Location.Column != 7 {
		t.Errorf("round trip = %+v, want %+v", out, in)
	}
	for _, bad := range []string{"", "5:ab", "x:1", "-1:", "3:abc9999999999999999999:"} {
		var f model.Finding
		if _, err := unpackExtra(bad, &f); err == nil {
			t.Errorf("unpackExtra(%q) succeeded", bad)
		}
	}
}
