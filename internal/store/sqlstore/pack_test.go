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

// TestExtraCVSS reads the CVSS field as unpackExtra does, and nothing
// from damaged fields.
func TestExtraCVSS(t *testing.T) {
	t.Parallel()
	for _, cvss := range []string{``, `[{"vector":"x"}]`, `a:b`} {
		in := model.Finding{ToolSeverity: "HIGH:1", Description: "d:2"}
		packed := packExtra(&in, cvss)
		var out model.Finding
		want, _ := unpackExtra(packed, &out)
		if got := extraCVSS(packed); got != want || got != cvss {
			t.Errorf("extraCVSS(%q) = %q, want %q", packed, got, cvss)
		}
	}
	for _, bad := range []string{"", "5:ab", "x:1", "-1:", "2:ab", "2:ab9:x"} {
		if got := extraCVSS(bad); got != "" {
			t.Errorf("extraCVSS(%q) = %q, want empty", bad, got)
		}
	}
}
